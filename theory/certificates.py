"""Global optima of batch-family objectives by convex relaxation, and solver-free certificates at the ETF.

Stack ``W = [U; V]`` and let ``M = W W^T`` (``2N x 2N``): ``M`` is PSD with unit diagonal and rank
``<= d``, with blocks ``UU = M[:N, :N]``, ``Z = M[:N, N:]``, ``VV = M[N:, N:]``. Each loss writes its family
objective as a convex function of ``M`` (its ``cvx_family_loss``, checked by cvxpy's DCP rules): InfoNCE,
SigLIP and cross-view DCL are convex in ``Z`` alone (log-sum-exp and softplus of affine maps); DHEL and DCL as
published are convex in ``M`` (their negatives include ``UU`` and ``VV``); KCL's uniformity is convex in ``M``
and its concave alignment is fixed at its optimum ``u_i = v_i`` (``diag(Z) = 1``). Dropping the rank bound
gives the convex program

.. math::

    p^\\star = \\min_{M \\succeq 0,\\ \\mathrm{diag}(M) = 1} L_F(M),

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

from ._checks import check_positive_float
from .batches import ENUMERATION_LIMIT, Family
from .configurations import simplex_etf
from .front import gram_gradient, objective, tangent_of
from .balance import BALANCE_REL_TOL, etf_c, pair_weights
from ._records import Record
from .losses import Loss, as_loss, make_loss

SOLVERS = ("auto", "CLARABEL", "SCS")
#: Largest N for which ``solver='auto'`` picks the interior-point solver Clarabel (its memory
#: grows quickly with the 2N x 2N PSD block); above it SCS (first-order, looser) is used.
CLARABEL_MAX_N = 32


@dataclass(frozen=True)
class Certificate(Record):
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

    def summary(self) -> dict:
        """JSON-ready scalars of the record.

        Returns
        -------
        dict
            Scalars and strings only (no arrays).
        """
        keys = ("N", "family", "loss", "value", "status", "certified", "solver", "solve_time",
                "iterations", "rank", "feasible_value", "gap", "psd_violation", "diag_violation")
        return {k: getattr(self, k) for k in keys}


def _check_family(family) -> Family:
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family (e.g. Family.fano()), got {type(family).__name__} {family!r}")
    family._check_enumerable()
    return family


def _relaxed_loss(loss) -> Loss:
    loss = as_loss(loss)
    if not loss.has_relaxation:
        raise ValueError(f"loss {loss.name!r} has no convex relaxation (define cvx_batch_loss or cvx_family_loss)")
    return loss


def family_objective_expr(M, family: Family, loss):
    """cvxpy expression of ``L_F = sum_S w_S L(S) / sum_S w_S`` on the relaxation matrix ``M`` (``2N x 2N``),
    from the loss's :meth:`~theory.losses.Loss.cvx_family_loss` (blocks ``Z = M[:N, N:]``, ``UU = M[:N, :N]``,
    ``VV = M[N:, N:]``); the loss's :meth:`~theory.losses.Loss.cvx_constraints` must hold (see :func:`certify`).

    Parameters
    ----------
    M : cvxpy.Variable, shape (2N, 2N)
        The relaxation matrix (PSD, unit diagonal).
    family : Family
    loss : Loss or str

    Returns
    -------
    cvxpy.Expression
        A scalar DCP-convex expression.

    Raises
    ------
    ValueError
        If the family has a batch smaller than the loss's ``min_batch`` or the loss has no relaxation.
    """
    loss = _relaxed_loss(loss)
    family = _check_family(family)
    small = [b for b in family.batch_sizes if b < loss.min_batch]
    if small:
        raise ValueError(f"loss {loss.name!r} needs batches of size >= {loss.min_batch}, the family has sizes {small}")
    N = family.N
    expr = loss.cvx_family_loss(M[:N, N:], M[:N, :N], M[N:, N:], family)
    if expr is None:
        raise ValueError(f"loss {loss.name!r} has no convex relaxation (cvx_batch_loss returned None)")
    if not expr.is_convex():
        raise ValueError(f"loss {loss.name!r}: the relaxation is not convex by cvxpy's rules (DCP); it certifies nothing")
    return expr


#: ``solver='auto'`` tries these in turn until one reports ``optimal``: Clarabel at its default
#: tolerances (1e-8), Clarabel at 1e-7 (it sometimes stalls at 'optimal_inaccurate' on families
#: with many batches), then SCS (eps 1e-6). The record names the attempt that ran last.
AUTO_ATTEMPTS = (
    ("CLARABEL", {}),
    ("CLARABEL", {"tol_gap_abs": 1e-7, "tol_gap_rel": 1e-7, "tol_feas": 1e-7}),
    ("SCS", {"eps_abs": 1e-6, "eps_rel": 1e-6, "max_iters": 20000}),
)


#: The attempts of a uniqueness probe (:func:`minimizer_spread`) for ``N <= CLARABEL_MAX_N``: Clarabel only. The
#: probe's feasible set ``{L_F <= p* + eps}`` is a sliver of thickness ``eps`` around the minimizers (the
#: constraint's multiplier grows like ``1/sqrt(eps)``); where Clarabel ends 'optimal_inaccurate' on it, SCS at its
#: ``1e-6`` accuracy (the size of ``eps`` itself) cannot resolve the sliver either, and its 20000 iterations took
#: about a minute per probe. Such a probe stays uncertified (its caller decides what an undecided probe means).
PROBE_ATTEMPTS = tuple(a for a in AUTO_ATTEMPTS if a[0] == "CLARABEL")


def _solve(problem: cp.Problem, N: int, solver: str, solver_options: dict | None, auto=AUTO_ATTEMPTS):
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver != "auto" or solver_options:
        name = solver if solver != "auto" else ("CLARABEL" if N <= CLARABEL_MAX_N else "SCS")
        attempts = [(name, solver_options or {})]
    else:
        attempts = [a for a in auto if a[0] == "SCS" or N <= CLARABEL_MAX_N]
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


def _relaxation(N: int, loss: Loss, ties=None, nonneg: bool = False):
    """``M`` (PSD, unit diagonal) and its constraints; a loss with ``aligned`` adds ``diag(Z) = 1`` (its alignment
    term is minimised by ``u_i = v_i`` whatever the rest, so the relaxation fixes it there). ``nonneg`` adds
    ``M >= 0`` entrywise.

    ``ties`` (:mod:`theory.labels`) restricts ``M`` to the face ``{M_ij = M_{N+i, N+j} = 1 for tied i, j}``, written
    as ``M = P M_K P^T`` with ``M_K`` the ``2K x 2K`` matrix of the items (PSD, unit diagonal) and ``P`` the 0/1
    expansion of pairs to items: the same set as those linear equalities (a PSD matrix of unit diagonal with
    ``M_ij = 1`` has equal rows ``i`` and ``j``), parametrised so that the program keeps a strictly feasible point
    (with the equalities themselves, every feasible ``M`` is singular and interior-point solvers stall)."""
    if ties is None:
        M = cp.Variable((2 * N, 2 * N), PSD=True)
        base = M
    else:
        from .labels import check_ties
        t = check_ties(ties, N)
        K = int(t.max()) + 1
        E = np.zeros((N, K))
        E[np.arange(N), t] = 1.0
        P = np.block([[E, np.zeros((N, K))], [np.zeros((N, K)), E]])
        base = cp.Variable((2 * K, 2 * K), PSD=True)
        M = P @ base @ P.T
    cons = [cp.diag(base) == 1]
    if loss.aligned:
        n = base.shape[0] // 2
        cons.append(cp.diag(base[:n, n:]) == 1)
    if nonneg:
        cons.append(base >= 0)
    return M, cons


def _etf_gram(N: int) -> np.ndarray:
    W = np.vstack([simplex_etf(N, N - 1)] * 2)
    return W @ W.T


@dataclass(frozen=True)
class SpreadResult(Record):
    """Result of :func:`minimizer_spread`: ``spread`` (largest ``||M - M_ETF||_F / ||M_ETF||_F`` found), ``statuses``
    (every solve's) and ``certified`` (all ``optimal``).

    Parameters
    ----------
    spread : float
        The largest relative distance found.
    statuses : tuple of str
        The solver status of every solve.
    certified : bool
        True when every status is ``'optimal'``.
    """

    spread: float
    statuses: tuple
    certified: bool


def minimizer_spread(family: Family, loss, *, eps: float, directions: int = 1, seed: int = 0,
                     solver: str = "auto") -> SpreadResult:
    """How far the ``eps``-optimal set of the relaxation reaches from ``U = V = ETF``.

    For random symmetric ``C`` (``directions`` of them), minimise and maximise ``<C, M>`` over
    ``{M feasible, L_F(M) <= p* + eps}`` and report the largest ``||M - M_ETF||_F / ||M_ETF||_F``. Small (about
    ``sqrt(eps / curvature)``) when the minimizer is the unique ETF Gram; of order one when a face of minimizers
    exists (e.g. DCL / DHEL on all pairs, whose objective is linear in the Gram). Evidence, not proof: the
    spread is measured at the extreme points of random linear functionals. With ``solver='auto'`` a probe is
    solved by Clarabel alone up to ``CLARABEL_MAX_N`` (:data:`PROBE_ATTEMPTS`): a probe it ends inaccurate
    is reported uncertified, not handed to SCS, whose accuracy is that of ``eps`` itself.

    Parameters
    ----------
    family : Family
    loss : Loss or str
    eps : float
        Optimality slack, > 0.
    directions : int, default=1
    seed : int, default=0
    solver : {'auto', 'CLARABEL', 'SCS'}, default='auto'

    Returns
    -------
    SpreadResult
    """
    loss = _relaxed_loss(loss)
    eps = check_positive_float("eps", eps)
    base = certify(family, loss, solver=solver)
    N = family.N
    Mstar = _etf_gram(N)
    rng = np.random.default_rng(seed)
    spread, statuses = 0.0, [base.status]
    for _ in range(directions):
        C = rng.normal(size=(2 * N, 2 * N))
        C = (C + C.T) / 2
        for sense in (cp.Minimize, cp.Maximize):
            M, cons = _relaxation(N, loss)
            cons.append(family_objective_expr(M, family, loss) <= base.value + eps)
            prob = cp.Problem(sense(cp.sum(cp.multiply(C, M))), cons)
            _, status, _, _ = _solve(prob, N, solver, None, auto=PROBE_ATTEMPTS if N <= CLARABEL_MAX_N else AUTO_ATTEMPTS)
            statuses.append(status)
            if status == cp.OPTIMAL and M.value is not None:
                spread = max(spread, float(np.linalg.norm(M.value - Mstar) / np.linalg.norm(Mstar)))
    return SpreadResult(spread=spread, statuses=tuple(statuses), certified=all(s == cp.OPTIMAL for s in statuses))


def recover_embeddings(M: np.ndarray, rel_tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, int]:
    """Unit-norm ``(U, V)`` of dimension ``rank(M)`` with ``[U; V][U; V]^T ~= M``, and that rank.

    Parameters
    ----------
    M : ndarray, shape (2N, 2N)
    rel_tol : float, default=1e-6
        Eigenvalues above ``rel_tol * max`` count towards the rank.

    Returns
    -------
    (ndarray, ndarray, int)
    """
    M = (M + M.T) / 2
    lam, Q = np.linalg.eigh(M)
    keep = lam > rel_tol * max(lam.max(), 1e-300)
    W = Q[:, keep] * np.sqrt(lam[keep])
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    N = M.shape[0] // 2
    return W[:N], W[N:], int(keep.sum())


def certify(family: Family, loss, *, method: str = "auto", solver: str = "auto", solver_options: dict | None = None,
            rank: int | None = None, rel_tol: float | None = None, max_iter: int | None = None,
            seed: int | None = None, ties=None, nonneg: bool = False, grad_fn=None):
    r"""Global minimum of ``L_F`` over unit-norm embeddings in any dimension, by convex relaxation.

    .. math:: p^\star = \min_{M \succeq 0,\ \mathrm{diag}(M) = 1} L_F(M)

    with ``L_F`` the loss's relaxation (:meth:`~theory.losses.Loss.cvx_family_loss`) on the blocks of
    ``M = [U; V][U; V]^T``; a lower bound in every ``d``, the optimum in every ``d >= rank(M*)``.

    Parameters
    ----------
    family : Family
        Any weights and sizes (``N = family.N``).
    loss : Loss or str
        A loss with a relaxation (every built-in).
    solver : {'auto', 'CLARABEL', 'SCS'}, default='auto'
        ``'auto'``: Clarabel for ``N <= CLARABEL_MAX_N`` (then looser Clarabel, then SCS), SCS above.
    solver_options : dict, optional
        Passed to ``cvxpy.Problem.solve`` (e.g. ``{"max_iter": 1}`` to provoke a failure).
    method : {'auto', 'sdp', 'lowrank'}, default='auto'
        ``'sdp'``: the relaxation solved by cvxpy (this function's :class:`Certificate`). ``'lowrank'``: a
        low-rank factor with a checked KKT certificate (:func:`theory.lowrank.certify_lowrank`, a
        :class:`theory.lowrank.LowRankCertificate`). ``'auto'``: ``'sdp'`` for ``N < theory.lowrank.AUTO_MIN_N``
        (where the SDP is the faster, measured by ``benchmarks/lowrank.py``) and ``'lowrank'`` from there on;
        ``solver`` or ``solver_options`` given select ``'sdp'``, a low-rank option given selects ``'lowrank'``;
        a family above the enumeration limit selects ``'lowrank'`` (which then needs ``grad_fn``).
    rank, rel_tol, max_iter, seed : optional
        Options of :func:`theory.lowrank.certify_lowrank` (its defaults when None); only with ``'lowrank'``.
    ties : sequence of int, optional
        Duplicated pairs (:mod:`theory.labels`): ``ties[i]`` is the item pair ``i`` copies; the relaxation is
        restricted to ``M_ij = M_{N+i, N+j} = 1`` for tied ``i, j`` (``u_i = u_j``, ``v_i = v_j``), parametrised by
        the items' ``2K x 2K`` matrix (see ``_relaxation``). SDP only.
    nonneg : bool, default=False
        Non-negative features (ReLU): adds ``M >= 0`` entrywise (the doubly non-negative cone). A lower bound on
        the optimum over non-negative embeddings, equal to it when the minimizer found is completely positive
        (e.g. an orthogonal frame, ``M`` a 0/1 block matrix). SDP only.
    grad_fn : callable, optional
        The low-rank method's objective and Gram gradient (see :func:`theory.lowrank.certify_lowrank`; the
        engine's: :func:`simulations.certify`). It does not select the method: ``'auto'`` resolved to
        ``'sdp'`` does not use it, and ``method='sdp'`` refuses it.

    Returns
    -------
    Certificate or LowRankCertificate
        ``value`` and ``certified``. :class:`Certificate`: only ``status == 'optimal'`` counts as proof.
        :class:`~theory.lowrank.LowRankCertificate`: the KKT conditions hold to ``rel_tol`` and ``lower_bound``
        bounds the relaxation from below.

    Raises
    ------
    ValueError
        A family above the enumeration limit (for the SDP, or the low-rank method without ``grad_fn``), a loss
        without relaxation, an unknown solver or method, options of the other method (``grad_fn`` with
        ``method='sdp'``), ``ties`` or ``nonneg`` with ``method='lowrank'`` (the low-rank method has neither).
    """
    from . import lowrank
    from .losses.base import check_bool
    nonneg = check_bool("nonneg", nonneg)
    constrained = ties is not None or nonneg
    if constrained and method == "lowrank":
        raise ValueError("method='lowrank' honours neither ties nor nonneg; use method='sdp' (or 'auto')")
    methods = ("auto", "sdp", "lowrank")
    if method not in methods:
        raise ValueError(f"method must be one of {methods}, got {method!r}")
    lr_opts = {k: v for k, v in (("rank", rank), ("rel_tol", rel_tol), ("max_iter", max_iter), ("seed", seed))
               if v is not None}
    sdp_opts = solver != "auto" or solver_options is not None
    requested = method
    if method == "auto":
        if sdp_opts and lr_opts:
            raise ValueError(f"method='auto' got options of both methods: solver/solver_options and {sorted(lr_opts)}")
        if constrained and lr_opts:
            raise ValueError(f"ties and nonneg need method='sdp', which takes no {sorted(lr_opts)}")
        if not isinstance(family, Family):
            _check_family(family)
        method = ("sdp" if sdp_opts or constrained else "lowrank" if lr_opts else
                  "lowrank" if family.N >= lowrank.AUTO_MIN_N or family.n_batches > ENUMERATION_LIMIT else "sdp")
    if method == "lowrank":
        if sdp_opts:
            raise ValueError("method='lowrank' takes no solver or solver_options (they are the SDP's)")
        return lowrank.certify_lowrank(family, loss, grad_fn=grad_fn, **lr_opts)
    if grad_fn is not None and requested == "sdp":
        raise ValueError("method='sdp' takes no grad_fn (the low-rank method's gradient)")
    if lr_opts:
        raise ValueError(f"method='sdp' takes no low-rank options, got {sorted(lr_opts)}")
    loss = _relaxed_loss(loss)
    family = _check_family(family)
    N = family.N
    M, cons = _relaxation(N, loss, ties, nonneg)
    prob = cp.Problem(cp.Minimize(family_objective_expr(M, family, loss)), cons)
    name, status, secs, iters = _solve(prob, N, solver, solver_options)
    Mv = M.value if M.value is not None else np.full((2 * N, 2 * N), np.nan)
    value = float(prob.value) if status != "solver_error" and prob.value is not None and np.isfinite(prob.value) else float("nan")
    if np.all(np.isfinite(Mv)):
        U, V, rank = recover_embeddings(Mv)
        feas = objective(U, V, family, loss)
        psd = float(max(0.0, -np.linalg.eigvalsh((Mv + Mv.T) / 2).min()))
        dviol = float(np.abs(np.diag(Mv) - 1).max())
    else:
        U = V = np.full((N, 0), np.nan)
        rank, feas, psd, dviol = 0, float("nan"), float("nan"), float("nan")
    return Certificate(N=N, family=repr(family), loss=loss.label, value=value, status=status,
                       certified=status == cp.OPTIMAL, solver=name, solve_time=secs, iterations=iters,
                       rank=rank, feasible_value=feas, gap=feas - value, psd_violation=psd,
                       diag_violation=dviol, M=Mv, Z=Mv[:N, N:], U=U, V=V)


@dataclass(frozen=True)
class GapResult(Record):
    """Result of :func:`full_batch_gap`: the family's certified value and status, the full-batch optimum and its
    status (``'closed_form'`` or the solver's), and per ``eps`` the gap and the solve's status; ``certified`` when
    every solve is ``optimal``.

    Parameters
    ----------
    family_value : float
        The family's certified optimum.
    family_status : str
        Its solve's status.
    full_optimum : float
        The full-batch optimum.
    full_status : str
        ``'closed_form'`` or the solver's status.
    eps : tuple of float
        The tolerances of the family's eps-optimal set.
    gaps : tuple of float
        Per ``eps``: the smallest full-batch loss over the eps-optimal set minus the full-batch optimum.
    statuses : tuple of str
        Per ``eps``: the solve's status.
    certified : bool
        True when every solve is ``'optimal'``.
    """

    family_value: float
    family_status: str
    full_optimum: float
    full_status: str
    eps: tuple
    gaps: tuple
    statuses: tuple
    certified: bool


def full_batch_gap(family: Family, loss, eps=(1e-2, 1e-3, 1e-4), *, solver: str = "auto") -> GapResult:
    """How sub-optimal the family's minimizers are for the full-batch loss.

    Solves ``min L_full(M)`` subject to ``L_F(M) <= p*_F + eps`` for each ``eps`` and reports
    ``gap(eps) = min - p*_full``. ``gap -> 0`` as ``eps -> 0`` iff some minimizer of ``L_F`` is also
    full-batch optimal; a positive limit measures the loss of using ``F``. The full-batch optimum is the
    loss's closed form where it has one (:meth:`~theory.losses.Loss.closed_form_optimum` with
    ``exact=True``), else the certified value of the full-batch relaxation (``full_status``).

    Parameters
    ----------
    family : Family
    loss : Loss or str
    eps : float or sequence of float, default=(1e-2, 1e-3, 1e-4)
    solver : {'auto', 'CLARABEL', 'SCS'}, default='auto'

    Returns
    -------
    GapResult
    """
    eps = (eps,) if np.ndim(eps) == 0 else tuple(eps)
    if not eps:
        raise ValueError("eps must be a positive number or a non-empty sequence of them")
    eps = tuple(check_positive_float("eps", e) for e in eps)
    loss = _relaxed_loss(loss)
    family = _check_family(family)
    N = family.N
    base = certify(family, loss, solver=solver)
    full = Family.full(N)
    closed = loss.closed_form_optimum(full)
    if closed is not None and closed.get("exact"):
        full_opt, full_status = closed["value"], "closed_form"
    else:
        fc = certify(full, loss, solver=solver)
        full_opt, full_status = fc.value, fc.status
    gaps, statuses = [], []
    for e in eps:
        M, cons = _relaxation(N, loss)
        cons.append(family_objective_expr(M, family, loss) <= base.value + e)
        prob = cp.Problem(cp.Minimize(family_objective_expr(M, full, loss)), cons)
        _, status, _, _ = _solve(prob, N, solver, None)
        statuses.append(status)
        gaps.append(float(prob.value) - full_opt if status == cp.OPTIMAL else float("nan"))
    return GapResult(family_value=base.value, family_status=base.status, full_optimum=full_opt,
                     full_status=full_status, eps=tuple(float(e) for e in eps), gaps=tuple(gaps),
                     statuses=tuple(statuses), certified=bool(base.certified and full_status in ("closed_form", cp.OPTIMAL)
                                                              and all(s == cp.OPTIMAL for s in statuses)))


#: Relative tolerance of the ETF decisions: the tangent gradient, the dual certificate's complementary
#: slackness and its smallest eigenvalue are compared with the scale of the gradient at the ETF,
#: ``||(dL/dZ, dL/dUU, dL/dVV)||_F`` (for InfoNCE ``||dL/dZ||_F = O(c / tau)``, ``c = exp(-N/((N-1) tau))``). Rounding leaves about 1e-15 of that scale; a
#: genuinely unbalanced family leaves at least ~1e-4 of it.
ETF_REL_TOL = 1e-9
#: Gradient entries below this magnitude have underflowed float64: no decision at the ETF is possible.
UNDERFLOW = 1e-290


def etf_scale(N: int, tau: float) -> float:
    """InfoNCE's ``c = exp(-N/((N-1) tau))``: the softmax weight of a negative at the ETF, relative to the positive.

    Every InfoNCE gradient at the ETF is ``O(c / tau)`` and every excess over the optimum ``O(c)``.

    Parameters
    ----------
    N : int, >= 2
    tau : float, > 0

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Where ``c`` underflows float64.
    """
    from ._checks import check_int, check_tau
    N = check_int("N", N, low=2)
    tau = check_tau(tau)
    c = float(np.exp(-N / ((N - 1) * tau)))
    if c < UNDERFLOW:
        raise ValueError(f"tau={tau:g} is too small for N={N}: c = exp(-N/((N-1) tau)) underflows float64, so the "
                         f"gradient at the ETF is not representable; tau must exceed {N / ((N - 1) * -np.log(UNDERFLOW)):.3g}")
    return c


def _etf_gradient(family: Family, loss: Loss):
    """The Gram gradient at ``U = V = ETF``, the relaxation gradient ``G`` and the gradient's scale
    ``||(dL/dZ, dL/dUU, dL/dVV)||_F``; ValueError where it underflows, or where it is exactly zero on a covered pair
    while the gradient's scale is normal (the loss does not depend on that pair at the ETF: not an underflow)."""
    N = family.N
    W = simplex_etf(N, N - 1)
    g = gram_gradient(W, W, family, loss)
    G = g.relaxation_gradient()
    scale = float(np.sqrt(np.sum(g.Z ** 2) + np.sum(g.UU ** 2) + np.sum(g.VV ** 2)))
    off = ~np.eye(N, dtype=bool)
    covered = family.cooccurrence()[off] > 0
    pair = (np.abs(g.Z) + np.abs(g.Z.T) + np.abs(g.UU) + np.abs(g.UU.T) + np.abs(g.VV) + np.abs(g.VV.T))[off]
    if covered.any() and pair[covered].min() == 0.0 and scale > 1e-100:          # zero beside entries of normal size
        raise ValueError(f"loss {loss.label}: the gradient at the ETF is exactly zero on some covered pair (the loss "
                         "does not depend on that pair there, e.g. a floor or a clamp binds), so the dual certificate "
                         "cannot decide at the ETF")
    if not scale > 0 or (covered.any() and pair[covered].min() < UNDERFLOW):
        raise ValueError(f"loss {loss.label}: the gradient at the ETF underflows float64 on some covered pair "
                         "(temperature too small for a decision at the ETF)")
    return W, g, G, scale


@dataclass(frozen=True)
class DualCertificate(Record):
    """Result of :func:`etf_dual_certificate` (all numbers relative to the gradient's scale).

    Parameters
    ----------
    certified : bool
        ``Y`` is PSD and ``Y M* = 0`` within the tolerance (the ETF is a global minimizer of the relaxation).
    slackness : float
        ``||Y M*||_F``, relative.
    min_eig : float
        ``lambda_min(Y)``, relative.
    rank_Y : int
        Numerical rank of ``Y``.
    all_pairs_covered : bool
        Every pair ``i != j`` lies in some batch.
    unique : bool or None
        The minimizer's Gram is unique (``rank_Y = N + 1``, every pair covered, a face-strictly-convex loss);
        None where the loss does not decide it.
    scale : float
        ``||G||_F``, the gradient's scale.
    """

    certified: bool
    slackness: float
    min_eig: float
    rank_Y: int
    all_pairs_covered: bool
    unique: bool | None
    scale: float


def etf_dual_certificate(family: Family, loss, *, rel_tol: float = ETF_REL_TOL) -> DualCertificate:
    r"""Analytic dual certificate that ``U = V = ETF`` solves the convex relaxation (hence is a global
    minimizer of ``L_F`` for every ``d >= N-1``), independent of any solver's accuracy.

    With ``M* = [W; W][W; W]^T`` (``W`` the simplex ETF) and ``G`` the gradient of the relaxation's objective
    in ``M`` at ``M*`` (:meth:`theory.front.GramGradient.relaxation_gradient`), pick the diagonal multipliers
    ``y`` minimising ``||(G + Diag(y)) M*||_F`` (least squares per row) and set ``Y = G + Diag(y)``; a loss
    whose relaxation fixes ``diag(Z) = 1`` (``aligned``) adds ``t sum_i q_i q_i^T``, ``q_i = e_i - e_{N+i}``
    (multipliers of those constraints; ``M* q_i = 0``) with ``t = ||G||_F``. If ``Y >= 0`` and ``Y M* = 0``
    then for every feasible ``M``, by convexity,

    .. math:: f(M) \ge f(M^*) + \langle G, M - M^* \rangle = f(M^*) + \langle Y, M \rangle \ge f(M^*).

    Both conditions are checked relative to the gradient's scale. The relaxation is convex by cvxpy's DCP rules
    (:func:`family_objective_expr`), so the certificate applies to every loss with a relaxation.

    Uniqueness (InfoNCE, ``face_strictly_convex``): any other optimum ``M'`` has ``<Y, M'> = 0``, so its range
    lies in ``null(Y)``; when ``rank(Y) = N + 1`` that is ``{(x, x) : 1^T x = 0}`` (``U' = V'``,
    ``sum_i u_i = 0``), where the objective is strictly convex in every covered ``Z_ij``: with every pair
    covered the minimizer's Gram is the ETF's. Other losses: ``unique`` is None (not decided here).

    Parameters
    ----------
    family : Family
    loss : Loss or str
        A loss with a relaxation.
    rel_tol : float, default=ETF_REL_TOL

    Returns
    -------
    DualCertificate
        ``certified``, ``slackness`` (``||Y M*||_F`` relative to the gradient's scale), ``min_eig``
        (``lambda_min(Y)``, relative), ``rank_Y``, ``all_pairs_covered``, ``unique`` (bool, or None where the loss
        does not decide it), ``scale`` (the gradient's scale).

    References
    ----------
    Boyd & Vandenberghe, "Convex Optimization", §5.9 (generalized inequalities: dual certificates of SDPs).
    """
    loss = _relaxed_loss(loss)
    family = _check_family(family)
    rel_tol = check_positive_float("rel_tol", rel_tol)
    return _dual_at_etf(family, loss, _etf_gradient(family, loss), rel_tol)


def _dual_at_etf(family: Family, loss: Loss, grad, rel_tol: float) -> DualCertificate:
    """:func:`etf_dual_certificate` from the gradient at the ETF already computed (:func:`_etf_gradient`)."""
    N = family.N
    _, _, G, scale = grad
    Mstar = _etf_gram(N)
    GM = G @ Mstar
    y = -np.einsum("kl,kl->k", GM, Mstar) / np.einsum("kl,kl->k", Mstar, Mstar)
    Y = G + np.diag(y)
    if loss.aligned:
        Q = np.hstack([np.eye(N), -np.eye(N)])
        Y = Y + scale * Q.T @ Q
    slack = float(np.linalg.norm(Y @ Mstar)) / scale
    lam = np.linalg.eigvalsh((Y + Y.T) / 2) / scale
    rank_Y = int(np.sum(lam > np.sqrt(rel_tol)))
    covered = bool(family.cooccurrence()[~np.eye(N, dtype=bool)].min() >= 1)
    certified = bool(slack <= rel_tol and lam[0] >= -rel_tol)
    unique = bool(certified and rank_Y == N + 1 and covered) if loss.face_strictly_convex else None
    return DualCertificate(certified=certified, slackness=slack, min_eig=float(lam[0]), rank_Y=rank_Y,
                           all_pairs_covered=covered, unique=unique, scale=scale)


def etf_gradient_ratio(family: Family, loss) -> float:
    """``||grad_R L_F(ETF, ETF)||_F / ||G||_F``: the Riemannian gradient at ``U = V = ETF`` (on the product of
    spheres, ``d = N-1``) relative to the gradient's scale ``||(dL/dZ, dL/dUU, dL/dVV)||_F``. Zero iff the ETF is stationary; rounding
    leaves about 1e-15. ValueError where the gradient underflows.

    Parameters
    ----------
    family : Family
    loss : Loss or str

    Returns
    -------
    float
    """
    loss = as_loss(loss)
    return _ratio_at_etf(_etf_gradient(_check_family(family), loss))


def _ratio_at_etf(grad) -> float:
    """:func:`etf_gradient_ratio` from the gradient at the ETF already computed (:func:`_etf_gradient`)."""
    W, g, _, scale = grad
    dU, dV = g.embedding_gradient(W, W)
    return float(np.sqrt(np.sum(tangent_of(W, dU) ** 2) + np.sum(tangent_of(W, dV) ** 2))) / scale


@dataclass(frozen=True)
class ETFDecision(Record):
    """Result of :func:`etf_is_optimal`.

    Attributes
    ----------
    optimal : bool or None
        True: ``U = V = ETF`` is a global minimizer for every ``d >= N-1`` (dual certificate); False: it is not
        (not stationary in ``d = N-1``, or not a minimizer for ``d >= 2N``); None: undecided (or the loss has no
        relaxation).
    decided_by : str or None
        ``'tangent_gradient'``, ``'dual_certificate'``, ``'dual_infeasible'`` or None.
    gradient_ratio : float
        :func:`etf_gradient_ratio`.
    dual : dict or None
        :func:`etf_dual_certificate`'s record (when the ETF is stationary and the loss has a relaxation).
    etf_value : float
        ``L_F`` at the ETF (the oracle).
    certificate : Certificate or None
        With ``solver_check=True``: the relaxation solved (for comparison only; it decides nothing).
    excess : float or None
        ``etf_value - certificate.value`` with ``solver_check=True``.
    closed_form : dict or None
        The loss's closed-form optimum of the family, where it has one.
    """

    N: int
    family: str
    loss: str
    optimal: bool | None
    decided_by: str | None
    gradient_ratio: float
    etf_value: float
    dual: DualCertificate | None = None
    certificate: Certificate | None = field(default=None, repr=False)
    excess: float | None = None
    closed_form: dict | None = None

    def summary(self) -> dict:
        """JSON-ready scalars of the record.

        Returns
        -------
        dict
            Scalars and strings only (no arrays), with the solver's certificate's
            summary under ``certificate`` when there is one.
        """
        out = super().summary()
        if self.certificate is not None:
            out["certificate"] = self.certificate.summary()
        return out


def etf_is_optimal(family: Family, loss, *, rel_tol: float = ETF_REL_TOL, solver_check: bool = False,
                   solver: str = "auto") -> ETFDecision:
    """Is ``U = V = simplex ETF`` a global minimizer of ``L_F`` (for ``d >= N-1``)? One decision for every loss,
    without absolute tolerances.

    1. **Not optimal** if the Riemannian gradient at the ETF exceeds ``rel_tol`` relative to the gradient's scale
       (:func:`etf_gradient_ratio`): a non-stationary point is not a minimizer (``decided_by='tangent_gradient'``).
    2. **Optimal** if the analytic dual certificate of the relaxation holds (:func:`etf_dual_certificate`).
    3. **Not optimal** (``'dual_infeasible'``) if the ETF is stationary for the relaxation (slackness within
       ``rel_tol``: the multipliers ``y`` are then the only ones that can work, ``M*`` having no zero row) but
       ``Y = G + Diag(y)`` has an eigenvalue below ``-rel_tol ||G||_F``: no dual certificate exists, so the ETF
       does not solve the relaxation, which is exact for ``d >= 2N`` (every feasible ``M`` factors in ``2N``
       dimensions); a configuration of lower loss exists there. Not used for losses with ``aligned`` (their
       multipliers are not unique).
    4. Otherwise undecided (``optimal = None``).

    Parameters
    ----------
    family : Family
    loss : Loss or str
    rel_tol : float, default=ETF_REL_TOL
    solver_check : bool, default=False
        Also solve the relaxation (:func:`certify`) and report ``excess = L_F(ETF) - p*``; not used to decide
        (the excess of a non-optimal ETF can be below any solver's tolerance: ``O(c)`` for InfoNCE).
    solver : {'auto', 'CLARABEL', 'SCS'}, default='auto'

    Returns
    -------
    ETFDecision
    """
    loss = as_loss(loss)
    family = _check_family(family)
    rel_tol = check_positive_float("rel_tol", rel_tol)
    N = family.N
    grad = _etf_gradient(family, loss)                   # one gradient at the ETF for both tests
    W = grad[0]
    ratio = _ratio_at_etf(grad)
    dual = None
    if ratio > rel_tol:
        optimal, by = False, "tangent_gradient"
    elif loss.has_relaxation:
        dual = _dual_at_etf(family, loss, grad, rel_tol)
        if dual["certified"]:
            optimal, by = True, "dual_certificate"
        elif not loss.aligned and dual["slackness"] <= rel_tol and dual["min_eig"] < -rel_tol:
            optimal, by = False, "dual_infeasible"
        else:
            optimal, by = None, None
    else:
        optimal, by = None, None
    cert = excess = None
    etf_value = objective(W, W, family, loss)
    if solver_check:
        cert = certify(family, loss, solver=solver)
        excess = etf_value - cert.value
    return ETFDecision(N=N, family=repr(family), loss=loss.label, optimal=optimal, decided_by=by,
                       gradient_ratio=ratio, etf_value=etf_value, dual=dual, certificate=cert, excess=excess,
                       closed_form=loss.closed_form_optimum(family))


def kappa_dual_certificate(family: Family, tau: float = 1.0, symmetric: bool = True, *,
                           rel_tol: float = BALANCE_REL_TOL) -> "KappaCertificate":
    """The dual certificate of InfoNCE's weighted pair-balance law (:mod:`theory.balance`), built from kappa alone
    and checked against the oracle.

    For a balanced family (constant ``kappa = k``) sets ``Y = (s c k N / (2 tau)) [[I, -P], [-P, I]]``
    and checks, relative to ``||dL/dZ||_F`` from the *oracle* gradient ``D`` at the ETF
    (:func:`theory.gram_gradient`): ``Y - grad`` is diagonal (``grad = [[0, D/2], [D^T/2, 0]]``),
    ``Y >= 0`` and ``Y M* = 0``.

    Parameters
    ----------
    family : Family
    tau : float, default=1.0
    symmetric : bool, default=True
    rel_tol : float, default=BALANCE_REL_TOL

    Returns
    -------
    KappaCertificate
        ``balanced``, ``k``, ``offdiag_mismatch``, ``min_eig``, ``slackness`` (all relative),
        ``certified`` (balanced and every check within ``rel_tol``).
    """
    family = _check_family(family)
    loss = make_loss("infonce", tau=tau, symmetric=symmetric)
    N = family.N
    W = simplex_etf(N, N - 1)
    D = gram_gradient(W, W, family, loss).Z
    scale = float(np.linalg.norm(D))
    K = pair_weights(family, tau)
    off = K[~np.eye(N, dtype=bool)]
    balanced = bool(off.max() > 0 and (off.max() - off.min()) <= rel_tol * off.max())
    s = 2.0 if symmetric else 1.0
    k = float(off.mean())
    P = np.eye(N) - np.ones((N, N)) / N
    Y = (s * etf_c(N, tau) * k * N / (2 * tau)) * np.block([[np.eye(N), -P], [-P, np.eye(N)]])
    grad = np.block([[np.zeros((N, N)), D / 2], [D.T / 2, np.zeros((N, N))]])
    R = Y - grad
    mismatch = float(np.linalg.norm(R - np.diag(np.diag(R)))) / scale
    Wst = np.vstack([W, W])
    slack = float(np.linalg.norm(Y @ (Wst @ Wst.T))) / scale
    min_eig = float(np.linalg.eigvalsh(Y)[0]) / scale
    return KappaCertificate(balanced=balanced, k=k, offdiag_mismatch=mismatch, min_eig=min_eig, slackness=slack,
                            certified=bool(balanced and mismatch <= rel_tol and slack <= rel_tol and min_eig >= -rel_tol))


@dataclass(frozen=True)
class KappaCertificate(Record):
    """Result of :func:`kappa_dual_certificate` (numbers relative to ``||dL/dZ||_F`` at the ETF).

    Parameters
    ----------
    balanced : bool
        ``kappa_ij`` is constant over pairs.
    k : float
        Its mean value.
    offdiag_mismatch : float
        Relative mismatch between ``Y``'s off-diagonal blocks and the gradient's.
    min_eig : float
        ``lambda_min(Y)``, relative.
    slackness : float
        ``||Y M*||_F``, relative.
    certified : bool
        Balanced and every check within ``rel_tol``.
    """

    balanced: bool
    k: float
    offdiag_mismatch: float
    min_eig: float
    slackness: float
    certified: bool
