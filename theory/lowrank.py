r"""Certificates of the convex relaxation at large N: Burer-Monteiro low rank and a checked KKT certificate.

The relaxation solved by :func:`theory.certify` is

.. math::

    p^\star = \min_{M \succeq 0,\ \mathrm{diag}(M) = 1\ (,\ \mathrm{diag}(Z) = 1)} f(M),

with ``f`` the family objective on the blocks of ``M = [U; V][U; V]^T`` (``Z = M[:N, N:]``; the constraint
``diag(Z) = 1`` only for losses with :attr:`~theory.losses.Loss.aligned`). The SDP solvers work on the
``N (2N + 1)`` entries of ``M`` (an interior-point iteration costs up to ``O(N^6)``): seconds at ``N = 32``,
minutes beyond ``N ~ 150``. Here ``M = Y Y^T`` with ``Y`` of ``2N x r`` unit rows (a product of spheres) and
``f(Y Y^T)`` is minimised over ``Y`` (Burer & Monteiro); an evaluation costs the oracle's Gram products,
``O(N^2 r)``.

Optimiser (Burer & Monteiro 2003; rank strategy after Boumal, Voroninski & Bandeira 2016 and Journee et al.
2010). Riemannian L-BFGS on the product of spheres (Huang, Gallivan & Absil 2015; Boumal 2023, §4 and §10): the
Riemannian gradient ``(I - y_i y_i^T) (2 G Y)_i`` row by row, the retraction ``Y -> rows of (Y + P)
normalised``, vector transport by projection onto the new tangent space, an Armijo backtracking line search
(:func:`_optimise`). Ranks: the first is the smallest ``r`` with ``r (r + 1) / 2 > m`` (``m`` equality
constraints), the bound above which second-order critical points of *linear* costs are optimal (Boumal et al.);
``f`` is not linear and its minimizer may have a larger rank (``N - 1`` for the simplex ETF), so this is a
starting point only. A rank-deficient second-order critical point of a convex ``f`` is optimal (Journee et al.);
short of that, the certificate below decides. At each rank the optimiser first runs to the residual
``rel_tol``; if then ``lambda_min(S) < -ESCALATE_FACTOR rel_tol ||G||`` (a Cholesky factorisation fails) the rank
is clearly too small, otherwise it runs on to ``rel_tol * OPT_TOL_FACTOR`` and the certificate is computed. A
failed certificate doubles the rank (up to the dimension of the PSD variable, where every feasible ``M``
factors) and extends the factor along the eigenvectors of the most negative eigenvalues of ``S``, directions of
second-order descent.

For losses with ``aligned`` the constraints ``diag(M) = 1`` and ``diag(Z) = 1`` give ``q_i^T M q_i = 0``
(``q_i = e_i - e_{N+i}``), hence ``M q_i = 0`` for a PSD ``M``: rows ``i`` and ``N + i`` of ``M`` agree and
``M = E X E^T`` with ``E = [I; I]`` and ``X`` (``N x N``) PSD with unit diagonal. The method then works on
``X = V V^T`` (``U = V``), with the reduced gradient ``H = E^T G E``.

The certificate (computed from ``M`` alone; nothing from the optimiser is trusted). Let ``G`` be the
relaxation gradient at ``M`` (:meth:`theory.front.GramGradient.relaxation_gradient`; ``H`` in the aligned
case, ``X`` then playing the part of ``M``, ``n = N`` instead of ``2N``), ``lambda_i = (G M)_ii`` and
``S = G - Diag(lambda)``. For every feasible ``M'`` (trace ``n``), by convexity of ``f`` in ``M``,

.. math::

    f(M') \ge f(M) + \langle G, M' - M\rangle
          = f(M) + \langle S, M'\rangle + \textstyle\sum_i \lambda_i - \langle G, M\rangle
          \ge f(M) + \big(\textstyle\sum_i \lambda_i - \langle G, M\rangle\big) - n \max(0, -\lambda_{\min}(S)),

using ``<Diag(lambda), M'> = sum_i lambda_i`` (unit diagonal) and ``<S, M'> >= lambda_min(S) tr(M')``. The
right-hand side is ``lower_bound``; it holds for any multipliers, and with ``lambda_i = (G M)_ii`` the bracket
is ``tr(G M) - <G, M> = 0`` up to rounding (it is evaluated with the explicit ``M``). ``gap = value -
lower_bound``. In the aligned case the identity ``<G, M' - M> = <H, X' - X>`` uses ``M' = E X' E^T``; the
alignment's own gradient (entries ``(i, N+i)`` of ``G``) pairs with ``diag(Z') - diag(Z) = 0`` and drops out,
which is why the concave alignment term of such losses (KCL) does not spoil the convexity argument: the
objective equals its convex relaxation on the feasible set. The certificate passes iff

``lambda_min(S) >= -rel_tol ||G||_F`` and ``||S Y||_F <= rel_tol ||G||_F ||Y||_F``

(``S Y`` is half the Riemannian gradient). It is a floating-point certificate: eigenvalues are computed
in float64 (absolute error about ``1e-16 ||S||``), not proved in exact arithmetic. Convexity of ``f`` in
``M`` is what makes the KKT conditions sufficient, so a loss must have a convex relaxation
(:attr:`~theory.losses.Loss.has_relaxation`); its value is taken through :func:`theory.objective`, which equals
the relaxation on factorisable ``M``.

Costs: one evaluation is :func:`theory.objective` plus :func:`theory.gram_gradient` (the batches' Gram blocks)
and four ``N x N`` by ``N x r`` products (:meth:`~theory.front.GramGradient.embedding_gradient`), ``8 N^2 r``
flops; each certificate one eigen-decomposition of the ``2N x 2N`` matrix ``S`` (``O(N^3)``, LAPACK's
``syevr`` for the few smallest eigenpairs).

References
----------
Burer & Monteiro, "A nonlinear programming algorithm for solving semidefinite programs via low-rank
factorization", Math. Program. 95 (2003).
Boumal, Voroninski & Bandeira, "The non-convex Burer-Monteiro approach works on smooth semidefinite programs",
NeurIPS 2016.
Journee, Bach, Absil & Sepulchre, "Low-rank optimization on the cone of positive semidefinite matrices",
SIAM J. Optim. 20 (2010) (rank escalation along negative eigenvectors of the dual matrix).
Huang, Gallivan & Absil, "A Broyden class of quasi-Newton methods for Riemannian optimization", SIAM J. Optim. 25
(2015) (Riemannian L-BFGS).
Boumal, "An Introduction to Optimization on Smooth Manifolds", Cambridge University Press (2023).
Hager & Zhang, "A new conjugate gradient method with guaranteed descent and an efficient line search",
SIAM J. Optim. 16 (2005) (the approximate Wolfe condition).
Boyd & Vandenberghe, "Convex Optimization", §5.5.3 (KKT conditions of convex problems).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

from ._checks import check_int, check_positive_float
from .batches import ENUMERATION_LIMIT, Family
from .front import GramGradient, gram_gradient, objective
from .losses import Loss, as_loss

#: Default relative tolerance of the KKT certificate (``lambda_min(S)`` and ``||S Y||`` against ``||G||_F``).
DEFAULT_REL_TOL = 1e-6
#: The optimiser stops at a relative residual of ``rel_tol * OPT_TOL_FACTOR`` (margin below the certificate's).
OPT_TOL_FACTOR = 1e-3
#: Default L-BFGS iterations per rank.
DEFAULT_MAX_ITER = 5000
#: L-BFGS memory (number of correction pairs).
LBFGS_MEMORY = 20
#: ``theory.certify(method='auto')`` uses this method from this N on. Measured with ``benchmarks/lowrank.py``
#: (InfoNCE tau = 0.5, B = N/4, 2 cores; SDP against this method, DataLoader epoch / random family): N = 16
#: 0.6 / 1.5 s against 0.02 / 0.4 s; N = 32 13.6 / 12.6 s against 0.09 / 2.9 s; N = 64 85 s (not certified) /
#: 11.9 s against 0.09 / 11.6 s. This method is faster from N = 16 on and by seconds from N = 32 on; above 32 the SDP
#: also passes from Clarabel to SCS (accuracy about 1e-6). Below 32 the SDP record is kept.
AUTO_MIN_N = 32
#: The rank grows at once when, at the residual ``rel_tol``, ``lambda_min(S) < -ESCALATE_FACTOR rel_tol ||G||``.
ESCALATE_FACTOR = 10.0
#: Eigenpairs computed for the rank escalation (the most negative ones seed the new columns).
ESCALATION_VECTORS = 8

GradFn = Callable[[np.ndarray, np.ndarray], "tuple[float, GramGradient]"]


@dataclass(frozen=True)
class LowRankCertificate:
    """Result of :func:`certify_lowrank` (or :func:`kkt_certificate` for a given factor).

    Attributes
    ----------
    N : int
    family : str
        ``repr`` of the family.
    loss : str
        The loss's label.
    value : float
        ``f(M)`` at ``M = Y Y^T``: the objective of unit-norm embeddings in dimension ``rank`` (an upper bound on
        the relaxation's optimum, and the optimum itself when certified, to within ``gap``).
    lower_bound : float
        ``f(M) + (sum_i lambda_i - <G, M>) - n max(0, -lambda_min(S))`` (module docstring): no feasible ``M'``
        has a lower value (up to rounding), certified or not.
    gap : float
        ``value - lower_bound``, >= 0 up to rounding.
    certified : bool
        ``min_eig_rel >= -rel_tol`` and ``residual_rel <= rel_tol``.
    rank : int
        Number of columns of ``Y``.
    Y : ndarray, shape (2N, rank)
        The factor, unit rows, ``M = Y Y^T`` (for aligned losses rows ``i`` and ``N + i`` are equal).
    lam : ndarray
        The multipliers ``lambda_i = (G M)_ii`` of ``diag(M) = 1``, shape ``(2N,)``; for aligned losses those of
        the reduced problem in ``X`` (shape ``(N,)``; they absorb the multipliers of ``diag(Z) = 1``).
    min_eig_rel : float
        ``lambda_min(S) / ||G||_F``.
    residual_rel : float
        ``||S Y||_F / (||G||_F ||Y||_F)``.
    scale : float
        ``||G||_F`` (``||H||_F`` for aligned losses).
    rel_tol : float
    iterations : int
        L-BFGS iterations over all ranks (0 for :func:`kkt_certificate`).
    evaluations : int
        Evaluations of the objective and its gradient (line-search trials and certificates included).
    seconds : float
        Wall time, certificates included.
    ranks_tried : tuple of int
    """

    N: int
    family: str
    loss: str
    value: float
    lower_bound: float
    gap: float
    certified: bool
    rank: int
    Y: np.ndarray = field(repr=False)
    lam: np.ndarray = field(repr=False)
    min_eig_rel: float
    residual_rel: float
    scale: float
    rel_tol: float
    iterations: int
    evaluations: int
    seconds: float
    ranks_tried: tuple

    def __getitem__(self, key):  # record access: cert["value"]
        return getattr(self, key)

    # ---- the fields of theory.certificates.Certificate that have a meaning here (callers read either record)
    @property
    def status(self) -> str:
        """``'kkt_certified'`` or ``'kkt_not_certified'``."""
        return "kkt_certified" if self.certified else "kkt_not_certified"

    @property
    def solver(self) -> str:
        """``'lowrank r=<rank>'``."""
        return f"lowrank r={self.rank}"

    @property
    def solve_time(self) -> float:
        """Same as ``seconds``."""
        return self.seconds

    @property
    def feasible_value(self) -> float:
        """Same as ``value`` (``Y`` is feasible in dimension ``rank``)."""
        return self.value

    @property
    def M(self) -> np.ndarray:
        """``Y Y^T``, shape ``(2N, 2N)``."""
        return self.Y @ self.Y.T

    @property
    def U(self) -> np.ndarray:
        """``Y[:N]``."""
        return self.Y[: self.N]

    @property
    def V(self) -> np.ndarray:
        """``Y[N:]``."""
        return self.Y[self.N:]

    @property
    def Z(self) -> np.ndarray:
        """``U V^T``, shape ``(N, N)``."""
        return self.U @ self.V.T

    def summary(self) -> dict:
        """JSON-ready scalars of the record.

        Returns
        -------
        dict
            Scalars and strings only (no arrays).
        """
        keys = ("N", "family", "loss", "value", "lower_bound", "gap", "certified", "rank", "min_eig_rel",
                "residual_rel", "scale", "rel_tol", "iterations", "evaluations", "seconds")
        out = {k: getattr(self, k) for k in keys}
        out["ranks_tried"] = list(self.ranks_tried)
        out["status"] = self.status
        return out


class _Problem:
    """The family objective as a function of the factor ``Y`` (``n x r``: ``2N`` rows, or ``N`` for aligned losses)."""

    def __init__(self, family: Family, loss: Loss, grad_fn: GradFn | None):
        self.family, self.loss, self.N = family, loss, family.N
        self.aligned = bool(loss.aligned)
        self.n = self.N if self.aligned else 2 * self.N
        if grad_fn is None:
            def grad_fn(U, V):
                return objective(U, V, family, loss), gram_gradient(U, V, family, loss)
        self.grad_fn = grad_fn
        self.evaluations = 0

    def split(self, Y):
        return (Y, Y) if self.aligned else (Y[: self.N], Y[self.N:])

    def stacked(self, Y):
        """The ``2N x r`` factor of ``M``."""
        return np.vstack([Y, Y]) if self.aligned else Y

    def evaluate(self, Y):
        """``(f, Euclidean gradient 2 G Y (2 H Y aligned), GramGradient, ||G||_F)`` at unit rows ``Y``."""
        U, V = self.split(Y)
        value, g = self.grad_fn(U, V)
        self.evaluations += 1
        value = float(value)
        if not isinstance(g, GramGradient):
            raise ValueError(f"grad_fn must return (value, theory.GramGradient), got {type(g).__name__}")
        if not (math.isfinite(value) and all(np.all(np.isfinite(a)) for a in (g.Z, g.UU, g.VV))):
            raise ValueError(f"loss {self.loss.label}: the objective or its gradient is not finite (NaN or inf) at the "
                             "current factor")
        dU, dV = g.embedding_gradient(U, V)
        egrad = dU + dV if self.aligned else np.vstack([dU, dV])
        return value, egrad, g, self.scale(g)

    def scale(self, g: GramGradient) -> float:
        """``||G||_F`` (``||H||_F`` for aligned losses); ``||(A + A^T)/2||^2 = (||A||^2 + <A, A^T>) / 2``."""
        def sym2(A):
            return (_dot(A, A) + _dot(A, A.T)) / 2 if A.any() else 0.0
        if self.aligned:
            return _norm((g.UU + g.UU.T + g.VV + g.VV.T + g.Z + g.Z.T) / 2)
        return math.sqrt(sym2(g.UU) + sym2(g.VV) + _dot(g.Z, g.Z) / 2)

    def gradient_matrix(self, g: GramGradient) -> np.ndarray:
        """``G`` (``2N x 2N``) or, for aligned losses, ``H = E^T G E`` (``N x N``)."""
        G = g.relaxation_gradient()
        if self.aligned:
            N = self.N
            G = G[:N, :N] + G[:N, N:] + G[N:, :N] + G[N:, N:]
        return (G + G.T) / 2


def _constraint_count(loss: Loss, N: int) -> int:
    return N if loss.aligned else 2 * N


def default_rank(loss, N: int) -> int:
    """The first rank tried: the smallest ``r`` with ``r (r + 1) / 2 > m`` (``m = 2N`` equality constraints, ``N`` for
    aligned losses in the reduced form), capped at the dimension of the PSD variable. For linear costs
    second-order critical points of this rank are optimal (Boumal et al.); for the nonlinear ``f`` here it is a
    starting rank, raised by :func:`certify_lowrank` while the certificate fails.

    Parameters
    ----------
    loss : Loss or str
    N : int

    Returns
    -------
    int

    References
    ----------
    Boumal, Voroninski & Bandeira, NeurIPS 2016, Theorem 2.
    """
    loss = as_loss(loss)
    N = check_int("N", N, low=1)
    m = _constraint_count(loss, N)
    r = int(math.floor((math.sqrt(8 * m + 1) - 1) / 2))
    while r * (r + 1) // 2 <= m:
        r += 1
    return min(r, m)


def _check_inputs(family, loss, grad_fn):
    loss = as_loss(loss)
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    if not loss.has_relaxation:
        raise ValueError(f"loss {loss.label}: the low-rank certificate needs a convex relaxation (KKT conditions are "
                         "sufficient only for a convex objective in M); define cvx_batch_loss or cvx_family_loss")
    if grad_fn is None and family.n_batches > ENUMERATION_LIMIT:
        raise ValueError(f"{family!r} has {family.n_batches} batches, more than the enumeration limit "
                         f"{ENUMERATION_LIMIT}: the low-rank method needs an enumerable family or a gradient callback "
                         "(grad_fn(U, V) -> (value, GramGradient); the engine's: simulations.certify)")
    if grad_fn is not None and not callable(grad_fn):
        raise ValueError(f"grad_fn must be callable (U, V) -> (value, GramGradient), got {grad_fn!r}")
    return family, loss


def _normalise(Y: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(Y, axis=1, keepdims=True)
    if not np.all(np.isfinite(Y)) or np.any(norms == 0):
        raise ValueError("the factor has non-finite or zero rows")
    return Y / norms


def _kkt(problem: _Problem, Y: np.ndarray, rel_tol: float, n_vectors: int = 1) -> dict:
    """The certificate at unit rows ``Y`` (``n x r``), from ``M = Y Y^T`` alone."""
    value, _, g, scale = problem.evaluate(Y)
    G = problem.gradient_matrix(g)
    GY = G @ Y
    lam = np.einsum("ir,ir->i", GY, Y)                     # (G M)_ii
    M = Y @ Y.T
    bracket = float(np.sum(lam) - np.vdot(G, M))            # tr(G M) - <G, M>: zero up to rounding
    SY = GY - lam[:, None] * Y
    S = G - np.diag(lam)
    k = min(max(1, n_vectors), S.shape[0])
    w, Q = scipy.linalg.eigh(S, subset_by_index=[0, k - 1], check_finite=True)
    lam_min = float(w[0])
    res = float(np.linalg.norm(SY))
    n = Y.shape[0]
    lower = value + bracket - n * max(0.0, -lam_min)
    if scale > 0:
        min_eig_rel, residual_rel = lam_min / scale, res / (scale * math.sqrt(n))
    else:                                                   # G = 0: M minimises the convex f
        min_eig_rel, residual_rel = 0.0, 0.0
    vals = (value, lower, min_eig_rel, residual_rel)
    if not all(math.isfinite(v) for v in vals) or not np.all(np.isfinite(lam)):
        raise ValueError(f"loss {problem.loss.label}: the certificate is not finite (NaN) at this factor")
    return {"value": value, "lower_bound": lower, "gap": value - lower, "lam": lam, "min_eig_rel": min_eig_rel,
            "residual_rel": residual_rel, "scale": scale,
            "certified": bool(min_eig_rel >= -rel_tol and residual_rel <= rel_tol),
            "neg_values": w, "neg_vectors": Q}


def _record(problem, Y, kkt, rel_tol, iterations, seconds, ranks) -> LowRankCertificate:
    Ys = problem.stacked(Y)
    return LowRankCertificate(N=problem.N, family=repr(problem.family), loss=problem.loss.label, value=kkt["value"],
                              lower_bound=kkt["lower_bound"], gap=kkt["gap"], certified=kkt["certified"],
                              rank=int(Y.shape[1]), Y=Ys, lam=kkt["lam"], min_eig_rel=kkt["min_eig_rel"],
                              residual_rel=kkt["residual_rel"], scale=kkt["scale"], rel_tol=rel_tol,
                              iterations=int(iterations), evaluations=problem.evaluations, seconds=float(seconds),
                              ranks_tried=tuple(ranks))


def kkt_certificate(family: Family, loss, Y, *, rel_tol: float = DEFAULT_REL_TOL,
                    grad_fn: GradFn | None = None) -> LowRankCertificate:
    """The KKT certificate of the relaxation at ``M = Y Y^T`` for a given factor (module docstring).

    Parameters
    ----------
    family : Family
        Enumerable (at most :data:`theory.ENUMERATION_LIMIT` batches) unless ``grad_fn`` is given.
    loss : Loss or str
        A loss with a convex relaxation.
    Y : array_like, shape (2N, r)
        Unit rows (``|norm - 1| <= 1e-6``; renormalised exactly); for aligned losses rows ``i`` and ``N + i`` must
        agree (``diag(Z) = 1``) to within ``1e-6``.
    rel_tol : float, default=DEFAULT_REL_TOL
    grad_fn : callable, optional
        ``grad_fn(U, V) -> (value, GramGradient)``: the objective and its Gram gradient (default: the oracle,
        :func:`theory.objective` and :func:`theory.gram_gradient`).

    Returns
    -------
    LowRankCertificate
        ``certified`` False (never an exception) when the conditions fail; ``iterations = 0``.

    Raises
    ------
    ValueError
        A loss without relaxation, a non-enumerable family without ``grad_fn``, a factor of the wrong shape, with
        non-unit or non-finite rows, an aligned loss with ``U != V``, or a NaN in the certificate.
    """
    t0 = time.perf_counter()
    family, loss = _check_inputs(family, loss, grad_fn)
    rel_tol = check_positive_float("rel_tol", rel_tol)
    problem = _Problem(family, loss, grad_fn)
    Y = np.asarray(Y, dtype=np.float64)
    N = family.N
    if Y.ndim != 2 or Y.shape[0] != 2 * N or Y.shape[1] < 1:
        raise ValueError(f"Y must have shape (2N, r) = ({2 * N}, r), got {Y.shape}")
    if not np.all(np.isfinite(Y)):
        raise ValueError("Y must be finite (no NaN or inf)")
    norms = np.linalg.norm(Y, axis=1)
    off = np.flatnonzero(np.abs(norms - 1) > 1e-6)
    if off.size:
        raise ValueError(f"Y must have unit rows (|norm - 1| <= 1e-6); rows {off[:5].tolist()} do not "
                         "(normalise them: theory.normalize_rows)")
    Y = Y / norms[:, None]
    if problem.aligned:
        if np.max(np.abs(Y[:N] - Y[N:])) > 1e-6:
            raise ValueError(f"loss {loss.label} fixes diag(Z) = 1: rows i and N + i of Y must be equal (U = V)")
        Y = _normalise((Y[:N] + Y[N:]) / 2)
    kkt = _kkt(problem, Y, rel_tol)
    return _record(problem, Y, kkt, rel_tol, 0, time.perf_counter() - t0, (Y.shape[1],))


def _dot(A: np.ndarray, B: np.ndarray) -> float:
    """``<A, B>`` of 2-D arrays by ``einsum``: no BLAS call, whose threads stall on a loaded machine."""
    return float(np.einsum("ij,ij->", A, B))


def _norm(A: np.ndarray) -> float:
    return math.sqrt(_dot(A, A))


def _tangent(Y: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Projection of ``A`` onto the tangent space of the product of spheres at unit rows ``Y``."""
    return A - np.einsum("ir,ir->i", A, Y)[:, None] * Y


def _optimise(problem: _Problem, Y: np.ndarray, target: float, max_iter: int):
    """Riemannian L-BFGS on the product of spheres; returns ``(unit-row Y, iterations)``.

    Retraction: row normalisation ``R_Y(P) = n(Y + P)``; vector transport: projection onto the new tangent
    space, applied to each memory pair once, when it is stored (the two-loop recursion then works in the
    ambient space and its result is projected onto the current tangent space, a descent direction or else the
    memory is dropped); the last ``LBFGS_MEMORY`` pairs with ``s^T y > 0``. Armijo backtracking from the unit
    step; close to the optimum, where the decrease ``O(|grad|^2)`` falls below the rounding of ``f``, a step that
    raises ``f`` by no more than ``4 eps |f|`` is accepted when the directional derivative there is at most
    ``0.8 |slope|`` (the approximate Wolfe condition of Hager & Zhang). Stops at the relative residual
    ``target`` (``||grad|| / (2 ||G||_F ||Y||_F) = ||S Y|| / (||G|| ||Y||)``), after ``max_iter`` iterations,
    or when no step is accepted from the steepest-descent direction.
    """
    n = Y.shape[0]
    eps = np.finfo(float).eps
    value, egrad, _, scale = problem.evaluate(Y)
    grad = _tangent(Y, egrad)
    memory = []                                     # (s, y, s.y)
    it = 0

    def residual(gr, sc):
        return _norm(gr) / (2 * sc * math.sqrt(n)) if sc > 0 else 0.0

    def steepest(gr):
        return -gr * min(1.0, 0.1 * math.sqrt(n) / max(_norm(gr), 1e-300))

    while it < max_iter and residual(grad, scale) > target:
        if memory:
            q = grad.copy()
            alphas = []
            for s_, y_, sy in reversed(memory):
                a = _dot(s_, q) / sy
                alphas.append(a)
                q -= a * y_
            s_, y_, sy = memory[-1]
            q *= sy / _dot(y_, y_)
            for (s_, y_, sy), a in zip(memory, reversed(alphas)):
                q += (a - _dot(y_, q) / sy) * s_
            P = -_tangent(Y, q)
        else:                                       # first step: about 0.1 per row
            P = steepest(grad)
        slope = _dot(P, grad)
        if not slope < 0:                           # not a descent direction: forget the memory
            memory, P = [], steepest(grad)
            slope = _dot(P, grad)
        t, accepted = 1.0, False
        for _ in range(40):
            Yn = _normalise(Y + t * P)
            vn, en, _, sn = problem.evaluate(Yn)
            if vn <= value + 1e-4 * t * slope:
                accepted = True
                break
            if vn <= value + 4 * eps * abs(value):
                gn = _tangent(Yn, en)
                if _dot(gn, P) <= -0.8 * slope:
                    accepted = True
                    break
            t *= 0.5
        it += 1
        if not accepted:
            if not memory:                          # steepest descent failed too: the rounding floor
                break
            memory = []
            continue
        gn = _tangent(Yn, en)
        s_ = _tangent(Yn, t * P)
        y_ = gn - _tangent(Yn, grad)
        sy = _dot(s_, y_)
        if sy > 1e-12 * _norm(s_) * _norm(y_):
            memory.append((s_, y_, sy))
            if len(memory) > LBFGS_MEMORY:
                memory.pop(0)
        Y, value, grad, scale = Yn, vn, gn, sn
    return Y, it


def _clearly_short(problem: _Problem, Y: np.ndarray, threshold: float) -> bool:
    """True when ``lambda_min(S) < -threshold ||G||_F`` at ``Y``: a Cholesky factorisation of
    ``S + threshold ||G||_F I`` fails (a third of the eigen-decomposition's cost)."""
    _, _, g, scale = problem.evaluate(Y)
    G = problem.gradient_matrix(g)
    lam = np.einsum("ir,ir->i", G @ Y, Y)
    A = G - np.diag(lam - threshold * scale)
    _, info = scipy.linalg.lapack.dpotrf(A, lower=1, overwrite_a=1, clean=0)
    return info > 0


def certify_lowrank(family: Family, loss, *, rank: int | None = None, rel_tol: float = DEFAULT_REL_TOL,
                    max_iter: int = DEFAULT_MAX_ITER, seed: int = 0, max_rank: int | None = None,
                    grad_fn: GradFn | None = None) -> LowRankCertificate:
    r"""Global minimum of the convex relaxation by a low-rank factor ``M = Y Y^T``, with a KKT certificate.

    Minimises ``f(Y Y^T)`` over ``Y`` with unit rows (Burer-Monteiro; Riemannian L-BFGS on the product of
    spheres) at ranks ``r0, 2 r0, 4 r0, ...`` up to ``max_rank``, and stops at the first rank whose
    certificate passes (module docstring). The relaxation's constraints are those of :func:`theory.certify`:
    ``diag(M) = 1``, and ``diag(Z) = 1`` (``U = V``) for losses with ``aligned``.

    Parameters
    ----------
    family : Family
        Enumerable (at most :data:`theory.ENUMERATION_LIMIT` batches) unless ``grad_fn`` is given.
    loss : Loss or str
        A loss with a convex relaxation (every built-in).
    rank : int, optional
        First rank ``r0`` (default :func:`default_rank`).
    rel_tol : float, default=DEFAULT_REL_TOL
        Relative tolerance of the certificate; the optimiser aims at ``rel_tol * OPT_TOL_FACTOR``.
    max_iter : int, default=DEFAULT_MAX_ITER
        L-BFGS iterations per rank (each one gradient evaluation, more when the line search backtracks).
    seed : int, default=0
        Seed of the random initial factor and of the columns added when the rank grows.
    max_rank : int, optional
        Largest rank tried (default: ``2N``, or ``N`` for aligned losses, where every feasible ``M`` factors).
    grad_fn : callable, optional
        ``grad_fn(U, V) -> (value, GramGradient)``, the objective and its Gram gradient at unit rows ``U, V``
        (default: :func:`theory.objective` and :func:`theory.gram_gradient`, exact by enumeration); a faster
        engine may supply them for families above the enumeration limit. The certificate is then as exact as
        the callback.

    Returns
    -------
    LowRankCertificate
        A failed certificate is reported (``certified=False`` with ``min_eig_rel`` and ``residual_rel``), not
        raised.

    Raises
    ------
    ValueError
        A loss without relaxation, a non-enumerable family without ``grad_fn``, invalid options, or NaN in the
        objective, its gradient or the certificate.

    References
    ----------
    Burer & Monteiro, Math. Program. 95 (2003); Boumal, Voroninski & Bandeira, NeurIPS 2016.
    """
    t0 = time.perf_counter()
    family, loss = _check_inputs(family, loss, grad_fn)
    rel_tol = check_positive_float("rel_tol", rel_tol)
    max_iter = check_int("max_iter", max_iter, low=1)
    seed = check_int("seed", seed)
    problem = _Problem(family, loss, grad_fn)
    n = problem.n
    max_rank = n if max_rank is None else check_int("max_rank", max_rank, low=1, high=n)
    r = default_rank(loss, family.N) if rank is None else check_int("rank", rank, low=1)
    r = min(r, max_rank)
    rng = np.random.default_rng(seed)
    Y = _normalise(rng.standard_normal((n, r)))
    target = rel_tol * OPT_TOL_FACTOR
    iterations, ranks = 0, []
    while True:
        ranks.append(r)
        more = r < max_rank
        its, short = 0, False
        if more:                                            # coarse: is this rank clearly too small?
            Y, its = _optimise(problem, Y, rel_tol, max_iter)
            short = _clearly_short(problem, Y, ESCALATE_FACTOR * rel_tol)
        if not short:
            Y, its2 = _optimise(problem, Y, target, max(1, max_iter - its))
            its += its2
        kkt = _kkt(problem, Y, rel_tol, n_vectors=ESCALATION_VECTORS if more else 1)
        iterations += its
        if kkt["certified"] or not more:
            break
        r_new = min(2 * r, max_rank)
        new = 1e-3 * rng.standard_normal((n, r_new - r)) / math.sqrt(r_new)
        neg = kkt["neg_vectors"][:, kkt["neg_values"] < 0][:, : r_new - r]
        new[:, : neg.shape[1]] += 0.3 * neg                 # second-order descent directions of the larger rank
        Y, r = _normalise(np.hstack([Y, new])), r_new
    return _record(problem, Y, kkt, rel_tol, iterations, time.perf_counter() - t0, ranks)
