"""Global optima of batch-family objectives by convex relaxation (THEORY.md §6).

Every objective of the toolkit is a convex function of the cross-Gram ``Z = U V^T``: a sum of
log-sum-exp terms minus a linear term. Stack ``W = [U; V]`` and let ``M = W W^T`` (``2N x 2N``):
``M`` is PSD with unit diagonal and rank ``<= d``, and ``Z = M[:N, N:]``. Dropping the rank bound
gives the convex program

.. math::

    p^\\star = \\min_{M \\succeq 0,\\ \\mathrm{diag}(M) = 1} L_F(M_{[:N, N:]}),

a lower bound on the objective in every dimension ``d``, and equal to the true optimum in any
``d >= rank(M^\\star)`` for a minimizer ``M^\\star`` (the simplex ETF has rank ``N-1``).

What a certificate proves: with an ``optimal`` solver status, ``p*`` is the global minimum of
the relaxation to the solver's tolerance (about 1e-8 for Clarabel, 1e-5..1e-6 for SCS), and the
embeddings recovered from ``M*`` attain it in ``d = rank``. What it does not prove: the optimum
for ``d < rank(M*)`` (the relaxation is then only a lower bound), or anything when the status
is not ``optimal``. It is a floating-point certificate, not an exact rational proof.

References
----------
Boyd & Vandenberghe, "Convex Optimization", §4.6 (SDP) and §3.1.5 (log-sum-exp).
Cho et al., TMLR 2024 (arXiv 2307.05906).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np

from ._checks import check_int, check_loss, check_positive_float, check_tau
from .batches import Family
from .configurations import simplex_etf
from .losses import family_loss, logit_gradient
from .optima import optimum_full

SOLVERS = ("auto", "CLARABEL", "SCS")
#: Largest N for which ``solver='auto'`` picks the interior-point solver Clarabel (its memory
#: grows quickly with the 2N x 2N PSD block); above it SCS (first-order, looser) is used.
CLARABEL_MAX_N = 32


@dataclass(frozen=True)
class Certificate:
    """Result of :func:`certify`.

    Attributes
    ----------
    value : float
        Optimal value of the relaxation (a lower bound on ``L_F`` in every ``d``; NaN on failure).
    status : str
        cvxpy status (``'optimal'``, ``'optimal_inaccurate'``, ``'user_limit'``, ...) or ``'solver_error'``.
    certified : bool
        True only for status ``'optimal'``.
    solver, solve_time, iterations
        Which solver ran, its wall time (s) and iteration count.
    rank : int
        Numerical rank of ``M`` (eigenvalues above ``1e-6 * max``).
    feasible_value : float
        ``L_F`` (theory oracle) at the unit-norm embeddings recovered from ``M`` in ``d = rank``:
        an upper bound on the optimum in that dimension. ``gap = feasible_value - value``.
    psd_violation, diag_violation : float
        ``max(0, -lambda_min(M))`` and ``max |diag(M) - 1|`` as returned by the solver.
    M : (2N, 2N) ndarray;  Z : (N, N) ndarray;  U, V : (N, rank) ndarrays
    """

    N: int
    family: str
    loss: str
    tau: float
    value: float
    status: str
    certified: bool
    solver: str
    solve_time: float
    iterations: int | None
    rank: int
    feasible_value: float
    gap: float
    psd_violation: float
    diag_violation: float
    M: np.ndarray = field(repr=False)
    Z: np.ndarray = field(repr=False)
    U: np.ndarray = field(repr=False)
    V: np.ndarray = field(repr=False)

    def __getitem__(self, key):  # record access: cert["value"]
        return getattr(self, key)

    def summary(self) -> dict:
        """JSON-ready scalars of the record."""
        keys = ("N", "family", "loss", "tau", "value", "status", "certified", "solver", "solve_time",
                "iterations", "rank", "feasible_value", "gap", "psd_violation", "diag_violation")
        return {k: getattr(self, k) for k in keys}


def _check_family(family, N: int) -> Family:
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family (e.g. Family.fano()), got {type(family).__name__} {family!r}")
    if family.N != N:
        raise ValueError(f"family is over N={family.N} indices, but N={N}")
    return family


def _anchor_indices(S: np.ndarray, include_self: bool):
    """For the ``(n, B)`` batches ``S``: the anchor of every (batch, position) ``(n B, 1)`` and the batch's
    members ``(n B, B)`` (``include_self``) or the other members ``(n B, B-1)``."""
    n, B = S.shape
    anchors = S.reshape(-1)[:, None]
    if include_self:
        return anchors, np.repeat(S, B, axis=0)
    others = np.stack([np.delete(S, k, axis=1) for k in range(B)], axis=1).reshape(n * B, B - 1)
    return anchors, others


def _lse_terms(X, family: Family, tau: float, *, include_self: bool, transpose: bool):
    """``sum_S w_S (1/|S|) sum_{a in S} log sum_{j in S (, j != a)} exp(X[a, j] / tau)`` (``X[j, a]`` when
    ``transpose``), a cvxpy expression, not yet divided by ``sum_S w_S``."""
    total = 0
    for S, w in family.weighted_chunks(10**6):                # (n, B) batches of one size, weights (n,)
        B = S.shape[1]
        if B == 1:
            continue
        a, m = _anchor_indices(S, include_self)
        a = a * np.ones((1, m.shape[1]), dtype=np.int64)
        entries = X[m, a] if transpose else X[a, m]
        total = total + (np.repeat(w, B) / B) @ cp.log_sum_exp(entries / tau, axis=1)
    return total


def _diag_weights(family: Family) -> np.ndarray:
    """``c_i = sum_{S ni i} w_S / |S|`` over the batches of size >= 2: the weight of ``z_ii`` in a loss whose
    batch terms are means over the anchors."""
    c = np.zeros(family.N)
    for S, w in family.weighted_chunks(10**6):
        if S.shape[1] > 1:
            c += np.bincount(S.ravel(), weights=np.repeat(w, S.shape[1]) / S.shape[1], minlength=family.N)
    return c


def family_objective_expr(Z, family: Family, *, loss="symmetric", tau: float | None = None, M=None,
                          aligned: bool = False):
    """cvxpy expression of ``L_F`` (``sum_S w_S L(S) / sum_S w_S``) on the relaxation.

    ``Z``: the cross-Gram block ``M[:N, N:]`` (an ``N x N`` affine expression); ``M``: the whole
    ``2N x 2N`` matrix, needed by the losses with a within-modality term (DHEL, KCL).

    Per loss (each a convex function of ``M``; the reasoning is in :mod:`theory.objectives`):

    * InfoNCE: row term of anchor ``a`` in ``S``: ``log_sum_exp(Z[a, S] / tau) - Z[a, a] / tau``; the
      column term uses ``Z[S, a]``; means over the anchors (batches of size 1 contribute 0).
    * DCL: the same with ``j != a`` in the log-sum-exp.
    * DHEL: ``log_sum_exp(M_uu[a, S minus a] / tau) - Z[a, a] / tau`` (and ``M_vv`` when symmetric).
    * SigLIP: the pair form ``sum_b [a_b sum_i C_b[i,i] softplus(-x_ii) + c_b sum_{i != j} C_b[i,j] softplus(x_ij)]``
      with ``x = Z / tau + bias`` and ``C_b`` the weighted co-occurrence of the batches of size ``b``.
    * KCL: alignment fixed at ``z_ii = 1`` (value ``-1``; valid only under that constraint, which the caller
      must add and confirm with ``aligned=True`` — :func:`certify` does; without it ValueError), uniformity
      ``gamma sum_b c_b sum_{i != j} C_b[i,j] (e^{-2t(1 - M_uu[i,j])} + e^{-2t(1 - M_vv[i,j])})``.
    """
    from .objectives import DCL, DHEL, KCL, SigLIP, as_loss, infonce_mode
    obj = as_loss(loss, tau)
    family.sizes                                              # refuses above the enumeration limit
    N = family.N
    mode = infonce_mode(obj)
    small = [b for b in family.batch_sizes if b < obj.min_batch]
    if small:
        raise ValueError(f"loss {obj.name!r} needs batches of size >= {obj.min_batch}, the family has sizes {small}")
    if isinstance(obj, (DHEL, KCL)) and M is None:
        raise ValueError(f"loss {obj.name!r} needs the whole relaxation matrix M (argument M)")
    if isinstance(obj, KCL) and not aligned:
        raise ValueError("KCL's relaxation holds only under the constraint diag(Z) = 1 (its concave alignment fixed at "
                         "u_i = v_i): add it and pass aligned=True (certify does)")
    if mode is not None or isinstance(obj, DCL):
        sym = obj.symmetric
        incl = mode is not None
        diag = cp.sum(cp.multiply(_diag_weights(family), cp.diag(Z))) / obj.tau
        total = _lse_terms(Z, family, obj.tau, include_self=incl, transpose=False) - diag
        if sym:
            total = total + _lse_terms(Z, family, obj.tau, include_self=incl, transpose=True) - diag
    elif isinstance(obj, DHEL):
        diag = cp.sum(cp.multiply(_diag_weights(family), cp.diag(Z))) / obj.tau
        total = _lse_terms(M[:N, :N], family, obj.tau, include_self=False, transpose=False) - diag
        if obj.symmetric:
            total = total + _lse_terms(M[N:, N:], family, obj.tau, include_self=False, transpose=False) - diag
    elif isinstance(obj, (SigLIP, KCL)):
        off = ~np.eye(N, dtype=bool)
        total = 0
        for part in family.parts:
            if part.B < obj.min_batch:
                continue
            C = part.cooccurrence(N, weighted=True)
            if isinstance(obj, SigLIP):
                x = Z / obj.tau + obj.bias
                total = total + (cp.sum(cp.multiply(np.diag(C) / part.B, cp.logistic(-cp.diag(x))))
                                 + cp.sum(cp.multiply(C * off / part.B, cp.logistic(x))))
            else:
                K = obj.gamma * C * off / (part.B * (part.B - 1))
                total = total + (cp.sum(cp.multiply(K, cp.exp(-2 * obj.t * (1 - M[:N, :N]))))
                                 + cp.sum(cp.multiply(K, cp.exp(-2 * obj.t * (1 - M[N:, N:])))))
        if isinstance(obj, KCL):
            return total / family.total_weight - 1.0
    else:
        raise ValueError(f"no relaxation is written for loss {obj.name!r}")
    return total / family.total_weight


#: ``solver='auto'`` tries these in turn until one reports ``optimal``: Clarabel at its default
#: tolerances (1e-8), Clarabel at 1e-7 (it sometimes stalls at 'optimal_inaccurate' on families
#: with many batches), then SCS (eps 1e-6). The record names the attempt that ran last.
AUTO_ATTEMPTS = (
    ("CLARABEL", {}),
    ("CLARABEL", {"tol_gap_abs": 1e-7, "tol_gap_rel": 1e-7, "tol_feas": 1e-7}),
    ("SCS", {"eps_abs": 1e-6, "eps_rel": 1e-6, "max_iters": 20000}),
)


def _solve(problem: cp.Problem, N: int, solver: str, solver_options: dict | None):
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver != "auto" or solver_options:
        name = solver if solver != "auto" else ("CLARABEL" if N <= CLARABEL_MAX_N else "SCS")
        attempts = [(name, solver_options or {})]
    else:
        attempts = [a for a in AUTO_ATTEMPTS if a[0] == "SCS" or N <= CLARABEL_MAX_N]
    t0 = time.perf_counter()
    for name, opts in attempts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)     # the status says it; no console noise
                problem.solve(solver=name, **opts)
            status = problem.status
        except cp.SolverError:
            status = "solver_error"
        if status == cp.OPTIMAL:
            break
    stats = problem.solver_stats
    iters = getattr(stats, "num_iters", None) if stats is not None else None
    label = name + ("" if not opts else " " + ",".join(f"{k}={v:g}" for k, v in opts.items()))
    return label, status, time.perf_counter() - t0, iters


def _relaxation(N: int, loss=None):
    """``M`` (PSD, unit diagonal), its cross block ``Z`` and the constraints; KCL adds ``diag(Z) = 1``
    (its concave alignment term is maximised by ``u_i = v_i`` whatever the rest, see :mod:`theory.objectives`)."""
    from .objectives import KCL
    M = cp.Variable((2 * N, 2 * N), PSD=True)
    cons = [cp.diag(M) == 1]
    if isinstance(loss, KCL):
        cons.append(cp.diag(M[:N, N:]) == 1)
    return M, M[:N, N:], cons


def _objective(Z, M, family, loss):
    return family_objective_expr(Z, family, loss=loss, M=M, aligned=True)    # _relaxation added KCL's constraint


def minimizer_spread(N: int, family: Family, loss, *, eps: float, directions: int = 1, seed: int = 0,
                     solver: str = "auto") -> dict:
    """How far the ``eps``-optimal set of the relaxation reaches from ``U = V = ETF``: for random symmetric
    ``C`` (``directions`` of them), minimise and maximise ``<C, M>`` over ``{M feasible, L_F(M) <= p* + eps}``
    and report the largest ``||M - M_ETF||_F / ||M_ETF||_F``. Small (about ``sqrt(eps / curvature)``) when the
    minimizer is the unique ETF Gram; of order one when a face of minimizers exists (e.g. DCL / DHEL on all
    pairs, whose objective is linear in the Gram). Returns ``{"spread", "statuses", "certified"}``."""
    from .objectives import as_loss
    obj = as_loss(loss)
    base = certify(N, family, loss=obj, solver=solver)
    W = simplex_etf(N, N - 1)
    Wst = np.vstack([W, W])
    Mstar = Wst @ Wst.T
    rng = np.random.default_rng(seed)
    spread, statuses = 0.0, [base.status]
    for _ in range(directions):
        C = rng.normal(size=(2 * N, 2 * N))
        C = (C + C.T) / 2
        for sense in (cp.Minimize, cp.Maximize):
            M, Z, cons = _relaxation(N, obj)
            cons.append(_objective(Z, M, family, obj) <= base.value + eps)
            prob = cp.Problem(sense(cp.sum(cp.multiply(C, M))), cons)
            _, status, _, _ = _solve(prob, N, solver, None)
            statuses.append(status)
            if status == cp.OPTIMAL and M.value is not None:
                spread = max(spread, float(np.linalg.norm(M.value - Mstar) / np.linalg.norm(Mstar)))
    return {"spread": spread, "statuses": statuses, "certified": all(s == cp.OPTIMAL for s in statuses)}


def recover_embeddings(M: np.ndarray, rel_tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, int]:
    """Unit-norm ``(U, V)`` of dimension ``rank(M)`` with ``[U; V][U; V]^T ~= M``, and that rank."""
    M = (M + M.T) / 2
    lam, Q = np.linalg.eigh(M)
    keep = lam > rel_tol * max(lam.max(), 1e-300)
    W = Q[:, keep] * np.sqrt(lam[keep])
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    N = M.shape[0] // 2
    return W[:N], W[N:], int(keep.sum())


def certify(N: int, family: Family, *, loss="symmetric", tau: float | None = None,
            solver: str = "auto", solver_options: dict | None = None) -> Certificate:
    """Global minimum of ``L_F`` over unit-norm embeddings in any dimension, by convex relaxation.

    Parameters
    ----------
    N : int
        Number of pairs; must equal ``family.N``.
    family : Family
    loss : {'symmetric', 'one_sided'} (InfoNCE) or a :class:`theory.objectives.Loss`
        Any loss of :mod:`theory.objectives` (SigLIP, DCL, DHEL, KCL): the relaxation of
        :func:`family_objective_expr`.
    tau : float > 0, InfoNCE's temperature with the string forms (default 1.0); None with a Loss object
    solver : {'auto', 'CLARABEL', 'SCS'}
        ``'auto'``: Clarabel for ``N <= CLARABEL_MAX_N``, SCS above.
    solver_options : dict, optional
        Passed to ``cvxpy.Problem.solve`` (e.g. ``{"max_iter": 1}`` to provoke a failure).

    Returns
    -------
    Certificate
        ``value`` and ``status``; only ``status == 'optimal'`` (``certified``) counts as proof.
    """
    from .objectives import as_loss, infonce_mode, loss_label
    N = check_int("N", N, low=2)
    _check_family(family, N)
    obj = as_loss(loss, tau)
    mode = infonce_mode(obj)
    M, Z, cons = _relaxation(N, obj)
    prob = cp.Problem(cp.Minimize(_objective(Z, M, family, obj)), cons)
    name, status, secs, iters = _solve(prob, N, solver, solver_options)
    Mv = M.value if M.value is not None else np.full((2 * N, 2 * N), np.nan)
    value = float(prob.value) if status not in ("solver_error",) and prob.value is not None and np.isfinite(prob.value) else float("nan")
    if np.all(np.isfinite(Mv)):
        U, V, rank = recover_embeddings(Mv)
        feas = family_loss(U, V, family, loss=obj)
        psd = float(max(0.0, -np.linalg.eigvalsh((Mv + Mv.T) / 2).min()))
        dviol = float(np.abs(np.diag(Mv) - 1).max())
    else:
        U = V = np.full((N, 0), np.nan)
        rank, feas, psd, dviol = 0, float("nan"), float("nan"), float("nan")
    return Certificate(N=N, family=repr(family), loss=mode if mode is not None else loss_label(obj),
                       tau=float(getattr(obj, "tau", float("nan"))), value=value, status=status,
                       certified=status == cp.OPTIMAL, solver=name, solve_time=secs, iterations=iters,
                       rank=rank, feasible_value=feas, gap=feas - value, psd_violation=psd,
                       diag_violation=dviol, M=Mv, Z=Mv[:N, N:], U=U, V=V)


def full_batch_gap(N: int, family: Family, eps=(1e-2, 1e-3, 1e-4), *, loss="symmetric",
                   tau: float | None = None, solver: str = "auto") -> dict:
    """How sub-optimal the family's minimizers are for the full-batch loss.

    Solves ``min L_full(Z)`` subject to ``L_F(Z) <= p*_F + eps`` for each ``eps`` and reports
    ``gap(eps) = min - optimum_full(N)``. ``gap -> 0`` as ``eps -> 0`` iff some minimizer of
    ``L_F`` is also full-batch optimal; a positive limit measures the loss of using ``F``. For InfoNCE
    the full-batch optimum is the closed form; for the other losses it is the certified value of the
    full-batch relaxation (``full_status`` says whether that solve was optimal).

    Returns
    -------
    dict with ``family_value``, ``full_optimum``, ``eps`` (list), ``gaps`` (list), ``statuses``, ``certified``.
    """
    eps = (eps,) if np.ndim(eps) == 0 else tuple(eps)
    if not eps:
        raise ValueError("eps must be a positive number or a non-empty sequence of them")
    eps = tuple(check_positive_float("eps", e) for e in eps)
    from .objectives import as_loss, infonce_mode
    obj = as_loss(loss, tau)
    mode = infonce_mode(obj)
    base = certify(N, family, loss=obj, solver=solver)
    if mode is not None:
        full_opt, full_status = optimum_full(N, obj.tau, loss=mode), "closed_form"
    else:
        fc = certify(N, Family.full(N), loss=obj, solver=solver)
        full_opt, full_status = fc.value, fc.status
    gaps, statuses = [], []
    for e in eps:
        M, Z, cons = _relaxation(N, obj)
        cons.append(_objective(Z, M, family, obj) <= base.value + e)
        prob = cp.Problem(cp.Minimize(_objective(Z, M, Family.full(N), obj)), cons)
        _, status, _, _ = _solve(prob, N, solver, None)
        statuses.append(status)
        gaps.append(float(prob.value) - full_opt if status == cp.OPTIMAL else float("nan"))
    return {"family_value": base.value, "family_status": base.status, "full_optimum": full_opt,
            "full_status": full_status, "eps": [float(e) for e in eps], "gaps": gaps, "statuses": statuses,
            "certified": base.certified and full_status in ("closed_form", cp.OPTIMAL)
            and all(s == cp.OPTIMAL for s in statuses)}


#: Relative tolerance of the ETF decisions: the tangent gradient, the dual certificate's
#: complementary slackness and its smallest eigenvalue are all compared with ``||dL/dZ||_F`` at
#: the ETF, which scales like ``c / tau`` with ``c = exp(-N/((N-1) tau))``. Rounding leaves
#: about 1e-15 of that scale; a genuinely unbalanced family leaves at least ~1e-4 of it.
ETF_REL_TOL = 1e-9
#: Below this ``c = exp(-N/((N-1) tau))`` the off-diagonal softmax weights at the ETF underflow
#: in float64 and no decision at the ETF is possible (tau below about N / ((N-1) 667)).
C_UNDERFLOW = 1e-290


def etf_scale(N: int, tau: float) -> float:
    """``c = exp(-N/((N-1) tau))``: the softmax weight of a negative at the ETF, relative to the positive.

    Every gradient at the ETF is ``O(c / tau)`` and every excess over the optimum ``O(c)``; a
    decision with an absolute tolerance is meaningless once ``c`` is below it (tau = 0.05, N = 7:
    c = 7e-11). Raises ValueError where ``c`` underflows.
    """
    N = check_int("N", N, low=2)
    tau = check_tau(tau)
    c = float(np.exp(-N / ((N - 1) * tau)))
    if c < C_UNDERFLOW:
        raise ValueError(f"tau={tau:g} is too small for N={N}: c = exp(-N/((N-1) tau)) underflows float64, so the "
                         f"gradient at the ETF is not representable; tau must exceed {N / ((N - 1) * -np.log(C_UNDERFLOW)):.3g}")
    return c


def etf_dual_certificate(family: Family, *, loss: str = "symmetric", tau: float = 1.0,
                         rel_tol: float = ETF_REL_TOL) -> dict:
    r"""Analytic dual certificate that ``U = V = ETF`` solves the convex relaxation (hence is a global
    minimizer of ``L_F`` for every ``d >= N-1``), independent of any solver's accuracy.

    With ``M* = [W; W][W; W]^T`` (``W`` the simplex ETF, ``(N, N-1)``) and ``D = dL_F/dZ`` at the
    ETF (``(N, N)``, from the oracle), the gradient of the relaxation's objective in ``M`` is
    ``grad = [[0, D/2], [D^T/2, 0]]``. Pick the diagonal multipliers ``y`` that minimise
    ``||(grad + Diag(y)) M*||_F`` (a least-squares problem per row) and set
    ``Y = grad + Diag(y)``. If ``Y >= 0`` and ``Y M* = 0`` then for every feasible ``M``
    (PSD, unit diagonal), by convexity

    .. math:: f(M) \ge f(M^*) + \langle \nabla f, M - M^* \rangle = f(M^*) + \langle Y, M \rangle \ge f(M^*).

    For a pair-balanced family ``D = -a N (I - J/N)`` with ``a > 0`` and ``Y = (aN/2)[[I, -P], [-P, I]]``
    (``P = I - J/N``). Both conditions are checked numerically relative to ``||D||_F`` (every entry
    of ``D`` is computed with relative accuracy, see :func:`theory.losses.logit_gradient`).

    Uniqueness (the equality case): any other optimum ``M'`` has ``<Y, M'> = 0``, so its range lies
    in ``null(Y)``; when ``rank(Y) = N + 1`` that null space is ``{(x, x) : 1^T x = 0}``, i.e.
    ``U' = V'`` with ``sum_i u_i = 0``, and on that face the objective is strictly convex in every
    entry ``Z_ij`` of a covered pair (a log-sum-exp with a fixed diagonal). If every pair is
    covered, the Gram ``U V^T`` of a minimizer is unique: the ETF's, up to a common orthogonal map.

    Returns
    -------
    dict with ``certified`` (bool), ``slackness`` (``||Y M*||_F / ||D||_F``), ``min_eig``
    (``lambda_min(Y) / ||D||_F``), ``rank_Y``, ``all_pairs_covered``, ``unique`` (bool),
    ``scale`` (``||D||_F``) and ``c``.

    References
    ----------
    Boyd & Vandenberghe, "Convex Optimization", §5.9 (generalized inequalities: dual certificates of SDPs).
    """
    check_loss(loss)
    tau = check_tau(tau)
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    rel_tol = check_positive_float("rel_tol", rel_tol)
    N = family.N
    c = etf_scale(N, tau)
    W = simplex_etf(N, N - 1)
    D = logit_gradient(W, W, family, loss=loss, tau=tau)
    scale = float(np.linalg.norm(D))
    Wst = np.vstack([W, W])
    Mstar = Wst @ Wst.T
    grad = np.zeros((2 * N, 2 * N))
    grad[:N, N:] = D / 2
    grad[N:, :N] = D.T / 2
    GM = grad @ Mstar
    y = -np.einsum("kl,kl->k", GM, Mstar) / np.einsum("kl,kl->k", Mstar, Mstar)
    Y = grad + np.diag(y)
    slack = float(np.linalg.norm(Y @ Mstar)) / scale
    lam = np.linalg.eigvalsh((Y + Y.T) / 2) / scale
    rank_Y = int(np.sum(lam > np.sqrt(rel_tol)))
    covered = bool(family.cooccurrence()[~np.eye(N, dtype=bool)].min() >= 1)
    certified = bool(slack <= rel_tol and lam[0] >= -rel_tol)
    return {"certified": certified, "slackness": slack, "min_eig": float(lam[0]), "rank_Y": rank_Y,
            "all_pairs_covered": covered, "unique": bool(certified and rank_Y == N + 1 and covered),
            "scale": scale, "c": c}


def etf_gradient_ratio(family: Family, *, loss: str = "symmetric", tau: float = 1.0) -> float:
    """``||grad_R L_F(ETF, ETF)||_F / ||dL_F/dZ||_F``: the Riemannian gradient at ``U = V = ETF``
    relative to the problem's own scale (both are ``O(c / tau)``). Zero iff the ETF is stationary;
    rounding leaves about 1e-15. Raises ValueError where ``c`` underflows (see :func:`etf_scale`)."""
    from .configurations import tangent_gradient_norm
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    etf_scale(family.N, tau)
    W = simplex_etf(family.N, family.N - 1)
    D = logit_gradient(W, W, family, loss=loss, tau=tau)
    return tangent_gradient_norm(W, W, family, loss=loss, tau=tau) / float(np.linalg.norm(D))


def etf_is_optimal(N: int, family: Family, *, loss: str = "symmetric", tau: float = 1.0,
                   rel_tol: float = ETF_REL_TOL, solver_check: bool = False, solver: str = "auto") -> dict:
    """Is ``U = V = simplex ETF`` a global minimizer of ``L_F`` (for ``d >= N-1``)? Decided without
    absolute tolerances.

    1. **Not optimal** if the Riemannian gradient at the ETF exceeds ``rel_tol`` relative to
       ``||dL/dZ||_F`` (:func:`etf_gradient_ratio`): a non-stationary point is not a minimizer.
    2. **Optimal** if the analytic dual certificate holds (:func:`etf_dual_certificate`).
    3. Otherwise undecided (``etf_optimal = None``): stationary but not certified.

    ``decided_by`` names the step that decided. ``solver_check=True`` also solves the relaxation
    (:func:`certify`) and reports ``excess = L_F(ETF) - p*`` and ``c`` for comparison; that number
    is *not* used to decide, since the excess of a non-optimal ETF is ``O(c)`` (7e-11 at N = 7,
    tau = 0.05), below any solver's tolerance.
    """
    N = check_int("N", N, low=2)
    _check_family(family, N)
    rel_tol = check_positive_float("rel_tol", rel_tol)
    ratio = etf_gradient_ratio(family, loss=loss, tau=tau)
    out = {"N": N, "family": repr(family), "loss": loss, "tau": float(tau), "c": etf_scale(N, tau),
           "gradient_ratio": ratio}
    if ratio > rel_tol:
        out.update(etf_optimal=False, decided_by="tangent_gradient")
    else:
        dual = etf_dual_certificate(family, loss=loss, tau=tau, rel_tol=rel_tol)
        out["dual"] = dual
        out.update(etf_optimal=True if dual["certified"] else None,
                   decided_by="dual_certificate" if dual["certified"] else None)
    if solver_check:
        cert = certify(N, family, loss=loss, tau=tau, solver=solver)
        W = simplex_etf(N, N - 1)
        out.update(solver_status=cert.status, solver_value=cert.value,
                   excess=family_loss(W, W, family, loss=loss, tau=tau) - cert.value)
    return out
