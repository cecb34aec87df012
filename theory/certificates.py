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
from .losses import family_loss
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


def family_objective_expr(Z, family: Family, *, loss: str = "symmetric", tau: float = 1.0):
    """cvxpy expression of ``L_F`` as a function of the cross-Gram ``Z`` (an ``N x N`` affine expression).

    Row term of anchor ``a`` in batch ``S``: ``log_sum_exp(Z[S_a, S] / tau) - Z[S_a, S_a] / tau``;
    the column term uses ``Z[S, S_a]``. Averaged over anchors and batches as in :mod:`theory.losses`.
    """
    check_loss(loss)
    tau = check_tau(tau)
    S = family.batches                                   # (n, B)
    n, B = S.shape
    rows = np.repeat(S, B, axis=0)                        # anchor a of batch b -> row n*B
    anchors = S.reshape(-1)[:, None] * np.ones((1, B), dtype=np.int64)
    counts = np.bincount(S.ravel(), minlength=family.N).astype(float)
    diag_term = cp.sum(cp.multiply(counts, cp.diag(Z))) / tau
    total = cp.sum(cp.log_sum_exp(Z[anchors, rows] / tau, axis=1)) - diag_term
    if loss == "symmetric":
        total = total + cp.sum(cp.log_sum_exp(Z[rows, anchors] / tau, axis=1)) - diag_term
    return total / (n * B)


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


def _relaxation(N: int):
    M = cp.Variable((2 * N, 2 * N), PSD=True)
    return M, M[:N, N:], [cp.diag(M) == 1]


def recover_embeddings(M: np.ndarray, rel_tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray, int]:
    """Unit-norm ``(U, V)`` of dimension ``rank(M)`` with ``[U; V][U; V]^T ~= M``, and that rank."""
    M = (M + M.T) / 2
    lam, Q = np.linalg.eigh(M)
    keep = lam > rel_tol * max(lam.max(), 1e-300)
    W = Q[:, keep] * np.sqrt(lam[keep])
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    N = M.shape[0] // 2
    return W[:N], W[N:], int(keep.sum())


def certify(N: int, family: Family, *, loss: str = "symmetric", tau: float = 1.0,
            solver: str = "auto", solver_options: dict | None = None) -> Certificate:
    """Global minimum of ``L_F`` over unit-norm embeddings in any dimension, by convex relaxation.

    Parameters
    ----------
    N : int
        Number of pairs; must equal ``family.N``.
    family : Family
    loss : {'symmetric', 'one_sided'}
    tau : float > 0
    solver : {'auto', 'CLARABEL', 'SCS'}
        ``'auto'``: Clarabel for ``N <= CLARABEL_MAX_N``, SCS above.
    solver_options : dict, optional
        Passed to ``cvxpy.Problem.solve`` (e.g. ``{"max_iter": 1}`` to provoke a failure).

    Returns
    -------
    Certificate
        ``value`` and ``status``; only ``status == 'optimal'`` (``certified``) counts as proof.
    """
    N = check_int("N", N, low=2)
    if family.N != N:
        raise ValueError(f"family is over N={family.N} indices, but N={N}")
    M, Z, cons = _relaxation(N)
    prob = cp.Problem(cp.Minimize(family_objective_expr(Z, family, loss=loss, tau=tau)), cons)
    name, status, secs, iters = _solve(prob, N, solver, solver_options)
    Mv = M.value if M.value is not None else np.full((2 * N, 2 * N), np.nan)
    value = float(prob.value) if status not in ("solver_error",) and prob.value is not None and np.isfinite(prob.value) else float("nan")
    if np.all(np.isfinite(Mv)):
        U, V, rank = recover_embeddings(Mv)
        feas = family_loss(U, V, family, loss=loss, tau=tau)
        psd = float(max(0.0, -np.linalg.eigvalsh((Mv + Mv.T) / 2).min()))
        dviol = float(np.abs(np.diag(Mv) - 1).max())
    else:
        U = V = np.full((N, 0), np.nan)
        rank, feas, psd, dviol = 0, float("nan"), float("nan"), float("nan")
    return Certificate(N=N, family=repr(family), loss=loss, tau=float(tau), value=value, status=status,
                       certified=status == cp.OPTIMAL, solver=name, solve_time=secs, iterations=iters,
                       rank=rank, feasible_value=feas, gap=feas - value, psd_violation=psd,
                       diag_violation=dviol, M=Mv, Z=Mv[:N, N:], U=U, V=V)


def full_batch_gap(N: int, family: Family, eps=(1e-2, 1e-3, 1e-4), *, loss: str = "symmetric",
                   tau: float = 1.0, solver: str = "auto") -> dict:
    """How sub-optimal the family's minimizers are for the full-batch loss.

    Solves ``min L_full(Z)`` subject to ``L_F(Z) <= p*_F + eps`` for each ``eps`` and reports
    ``gap(eps) = min - optimum_full(N)``. ``gap -> 0`` as ``eps -> 0`` iff some minimizer of
    ``L_F`` is also full-batch optimal; a positive limit measures the loss of using ``F``.

    Returns
    -------
    dict with ``family_value``, ``full_optimum``, ``eps`` (list), ``gaps`` (list), ``statuses``, ``certified``.
    """
    base = certify(N, family, loss=loss, tau=tau, solver=solver)
    full_opt = optimum_full(N, tau, loss=loss)
    gaps, statuses = [], []
    for e in eps:
        e = check_positive_float("eps", e)
        M, Z, cons = _relaxation(N)
        cons.append(family_objective_expr(Z, family, loss=loss, tau=tau) <= base.value + e)
        prob = cp.Problem(cp.Minimize(family_objective_expr(Z, Family.full(N), loss=loss, tau=tau)), cons)
        _, status, _, _ = _solve(prob, N, solver, None)
        statuses.append(status)
        gaps.append(float(prob.value) - full_opt if status == cp.OPTIMAL else float("nan"))
    return {"family_value": base.value, "family_status": base.status, "full_optimum": full_opt,
            "eps": [float(e) for e in eps], "gaps": gaps, "statuses": statuses,
            "certified": base.certified and all(s == cp.OPTIMAL for s in statuses)}


def etf_is_optimal(N: int, family: Family, *, loss: str = "symmetric", tau: float = 1.0, eps: float = 1e-4,
                   n_directions: int = 0, seed: int = 0, tol: float = 1e-6, solver: str = "auto") -> dict:
    """Is ``U = V = simplex ETF`` a global minimizer of ``L_F`` (for ``d >= N-1``)?

    Compares the certificate value ``p*`` with ``L_F(ETF)``: optimal iff certified and
    ``L_F(ETF) - p* <= tol * max(1, |p*|)``. The uniqueness probe (``n_directions > 0``) maximises
    ``<R, M>`` over the ``eps``-optimal set for random symmetric unit directions ``R`` (and
    ``R = -M_etf/||M_etf||``) and reports the largest excess ``<R, M> - <R, M_etf>``: a lower bound
    on how far eps-optimal points reach from the ETF's stacked Gram ``M_etf`` (small = unique).
    """
    cert = certify(N, family, loss=loss, tau=tau, solver=solver)
    W = simplex_etf(N, N - 1)
    etf_value = family_loss(W, W, family, loss=loss, tau=tau)
    excess = etf_value - cert.value
    out = {"N": N, "family": repr(family), "certified": cert.certified, "status": cert.status,
           "certificate_value": cert.value, "etf_value": etf_value, "excess": excess,
           "etf_optimal": bool(cert.certified and excess <= tol * max(1.0, abs(cert.value))),
           "probe_width": None}
    if n_directions:
        Wst = np.vstack([W, W])
        M_etf = Wst @ Wst.T
        rng = np.random.default_rng(seed)
        dirs = [-M_etf / np.linalg.norm(M_etf)]
        for _ in range(n_directions):
            R = rng.standard_normal((2 * N, 2 * N))
            R = (R + R.T) / 2
            dirs.append(R / np.linalg.norm(R))
        widths = []
        for R in dirs:
            M, Z, cons = _relaxation(N)
            cons.append(family_objective_expr(Z, family, loss=loss, tau=tau) <= cert.value + eps)
            prob = cp.Problem(cp.Maximize(cp.trace(R @ M)), cons)
            _, status, _, _ = _solve(prob, N, solver, None)
            widths.append(float(prob.value - np.sum(R * M_etf)) if status == cp.OPTIMAL else float("nan"))
        out["probe_width"] = float(np.nanmax(widths)) if not np.all(np.isnan(widths)) else float("nan")
    return out
