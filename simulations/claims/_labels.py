"""Shared sweeps and certified decisions of the label claims (SupCon, duplicates, class-aware samplers).

Every decision comes from the convex relaxation of :func:`theory.certify` (with ``ties`` and ``nonneg`` where the
question has them), certified only with status ``optimal``:

* **value**: the certified optimum against ``L`` at a named configuration (class collapse onto the simplex, the
  orthogonal frame, the item ETF) from the oracle;
* **unique**: the spread of the ``eps``-optimal set about a reference Gram (random linear functionals minimised
  and maximised over it): evidence, as :func:`theory.certificates.minimizer_spread`;
* **shares the full-batch minimizer**: :func:`shares_full` (the full-batch gap of the family's ``eps``-optimal
  set, and the converse test at the full-batch minimizer), with the margins of :mod:`._losses`.
"""
from __future__ import annotations

import cvxpy as cp
import numpy as np

from theory import Family, objective
from theory.certificates import _relaxation, _solve, certify, family_objective_expr

from simulations.claims._losses import GAP_EPS, SPREAD_EPS, SPREAD_FACE, SPREAD_UNIQUE

#: Decision margin of the label claims' gap tests, relative to ``1 + |value|``: the relaxations of SupCon and of
#: tied InfoNCE over families of up to 70 batches come back from Clarabel with about 1e-6 of error (measured: shared
#: minimizers leave gaps <= 1.1e-6; the smallest unshared gap swept, SupCon at N = 6, B = 4, tau = 2, is 1.0e-4), so
#: the margin, 1e-5 (1 + |value|) ~ 4e-5 there, sits between them.
LABEL_MARGIN = 1e-5


def margin(value: float) -> float:
    """The decision margin of a relaxation value: ``LABEL_MARGIN (1 + |value|)``."""
    return LABEL_MARGIN * (1.0 + abs(value))

#: Label vectors swept by the SupCon claims: per N, balanced and imbalanced classes (a class of one included).
LABEL_SETS = {
    4: {"balanced": (0, 0, 1, 1), "imbalanced": (0, 0, 0, 1)},
    6: {"balanced": (0, 0, 1, 1, 2, 2), "imbalanced": (0, 0, 0, 1, 1, 2)},
    8: {"balanced": (0, 0, 1, 1, 2, 2, 3, 3), "imbalanced": (0, 0, 0, 0, 1, 1, 2, 3)},
    9: {"balanced": (0, 0, 0, 1, 1, 1, 2, 2, 2), "imbalanced": (0, 0, 0, 0, 0, 1, 1, 2, 2)},
}


def stacked_gram(U, V=None) -> np.ndarray:
    """``M = [U; V][U; V]^T`` (``V = U`` when omitted)."""
    W = np.vstack([U, U if V is None else V])
    return W @ W.T


def gram_gap(M, Mref) -> float:
    """``||M - Mref||_F / ||Mref||_F``."""
    return float(np.linalg.norm(M - Mref) / np.linalg.norm(Mref))


def spread_about(family: Family, loss, Mref, value: float, *, ties=None, nonneg: bool = False, eps: float = SPREAD_EPS,
                 directions: int = 2, seed: int = 0) -> tuple[bool | None, float]:
    """Is ``Mref`` the only minimizer of the relaxation? For ``directions`` random symmetric ``C``, minimise and
    maximise ``<C, M>`` over ``{M feasible, L_F(M) <= value + eps}`` and take the largest relative distance to
    ``Mref``: unique below ``SPREAD_UNIQUE``, a set of minimizers above ``SPREAD_FACE``, else (or a solve that is
    not 'optimal') undecided. Evidence, not proof. Returns ``(unique, spread)``."""
    for attempt in range(3):                         # a probe the solver cannot finish: try other directions
        unique, spread, ok = _spread(family, loss, Mref, value, ties, nonneg, eps, directions, seed + attempt)
        if ok or spread >= SPREAD_FACE:
            break
    if spread >= SPREAD_FACE:
        return False, spread
    return (True if ok and spread <= SPREAD_UNIQUE else None), spread


def _spread(family, loss, Mref, value, ties, nonneg, eps, directions, seed):
    N = family.N
    rng = np.random.default_rng(seed)
    spread, ok = 0.0, True
    for _ in range(directions):
        C = rng.normal(size=(2 * N, 2 * N))
        C = (C + C.T) / 2
        for sense in (cp.Minimize, cp.Maximize):
            M, cons = _relaxation(N, loss, ties, nonneg)
            cons.append(family_objective_expr(M, family, loss) <= value + eps)
            prob = cp.Problem(sense(cp.sum(cp.multiply(C, M))), cons)
            _, status, _, _ = _solve(prob, N, "auto", None)
            if status == cp.OPTIMAL and M.value is not None:
                spread = max(spread, gram_gap(M.value, Mref))
            else:
                ok = False
    return None, spread, ok


def shares_full(family: Family, loss, *, ties=None, nonneg: bool = False, full=None) -> dict:
    """Does some minimizer of ``family``'s objective minimise the full batch (under the same ``ties`` and
    ``nonneg``)? ``suboptimal``: True when the certified full-batch gap of the family's ``eps``-optimal set exceeds
    the margin (every family minimizer is full-batch sub-optimal by at least ``gap_lower_bound``); False when the
    full-batch minimizer attains the family's certified optimum within the margin; None otherwise."""
    N = family.N
    fc = full if full is not None else certify(Family.full(N), loss, ties=ties, nonneg=nonneg)
    Fc = certify(family, loss, ties=ties, nonneg=nonneg)
    gaps, statuses = [], []
    for e in GAP_EPS:
        M, cons = _relaxation(N, loss, ties, nonneg)
        cons.append(family_objective_expr(M, family, loss) <= Fc.value + e)
        prob = cp.Problem(cp.Minimize(family_objective_expr(M, Family.full(N), loss)), cons)
        _, status, _, _ = _solve(prob, N, "auto", None)
        statuses.append(status)
        gaps.append(float(prob.value) - fc.value if status == cp.OPTIMAL else float("nan"))
    good = [g for g, s in zip(gaps, statuses) if s == cp.OPTIMAL]
    lower = max(good) if good and fc.certified and Fc.certified else float("nan")
    attained = objective(fc.U, fc.V, family, loss) - Fc.value if fc.certified and Fc.certified else float("nan")
    m = margin(fc.value)
    yes, no = bool(lower > m), bool(attained <= m)
    return {"suboptimal": True if (yes and not no) else False if (no and not yes) else None,
            "gap_lower_bound": lower, "full_minimizer_excess_on_family": attained, "margin": m,
            "family_value": Fc.value, "full_value": fc.value, "family_status": Fc.status, "full_status": fc.status,
            "family_M": Fc.M}


def class_graph_condition(family: Family, labels) -> dict:
    """Our reading of Kini et al.'s batch conditions for a unique orthogonal frame: (a) within each class, the graph
    joining two members that share a batch is connected; (b) every two classes share some batch."""
    y = np.asarray(labels)
    C = family.cooccurrence() > 0
    classes = sorted(set(y.tolist()))
    connected = True
    for c in classes:
        members = np.flatnonzero(y == c)
        seen, todo = {int(members[0])}, [int(members[0])]
        while todo:
            i = todo.pop()
            for j in members:
                if int(j) not in seen and C[i, j]:
                    seen.add(int(j))
                    todo.append(int(j))
        connected &= len(seen) == len(members)
    meet = all(C[np.ix_(y == a, y == b)].any() for a in classes for b in classes if a < b)
    return {"classes_connected": bool(connected), "classes_meet": bool(meet), "condition": bool(connected and meet)}


#: Relative tolerance of the solver-free dual decisions (as :data:`theory.certificates.ETF_REL_TOL`).
DUAL_REL_TOL = 1e-9


def dual_decision(family: Family, loss, X: np.ndarray, *, ties=None, rel_tol: float = DUAL_REL_TOL) -> dict:
    """Solver-free decision: does ``U = V = X`` (rows per item when ``ties`` is given) solve the relaxation (with
    ``ties``)? The relaxation's gradient ``G`` at ``M* = [X; X][X; X]^T`` (from the oracle's exact Gram gradient,
    summed over each item's pairs with ties), the diagonal multipliers ``y`` of least squares for ``Y M* = 0``,
    ``Y = G + Diag(y)``: ``optimal`` True when ``||Y M*||`` and ``-lambda_min(Y)`` are below ``rel_tol ||G||``
    (a dual certificate: optimal for every ``d >= rank``); False when ``M*`` is not a KKT point (no ``y`` gives
    ``Y M* = 0``) or it is but ``Y`` has a negative eigenvalue (not optimal for the relaxation, exact in
    ``d >= 2K``); None when neither is clear."""
    from theory import gram_gradient
    N = family.N
    if ties is None:
        P = np.eye(2 * N)
        Xn = X
    else:
        t = np.asarray(ties)
        E = np.zeros((N, X.shape[0]))
        E[np.arange(N), t] = 1.0
        P = np.block([[E, np.zeros_like(E)], [np.zeros_like(E), E]])
        Xn = X[t]
    G = P.T @ gram_gradient(Xn, Xn, family, loss).relaxation_gradient() @ P
    Ms = stacked_gram(X)
    scale = float(np.linalg.norm(G))
    if scale == 0.0:                   # the objective does not depend on M here: every feasible point is optimal
        return {"optimal": True, "slackness": 0.0, "min_eig": 0.0, "scale": 0.0}
    GM = G @ Ms
    y = -np.einsum("kl,kl->k", GM, Ms) / np.einsum("kl,kl->k", Ms, Ms)
    Y = G + np.diag(y)
    slack = float(np.linalg.norm(Y @ Ms)) / scale
    lam = float(np.linalg.eigvalsh((Y + Y.T) / 2)[0]) / scale
    if slack <= rel_tol and lam >= -rel_tol:
        optimal = True
    elif slack > np.sqrt(rel_tol) or lam < -np.sqrt(rel_tol):
        optimal = False
    else:
        optimal = None
    return {"optimal": optimal, "slackness": slack, "min_eig": lam, "scale": scale}
