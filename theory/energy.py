"""Pair energies of spherical codes and their linear-programming lower bound (Delsarte-Yudin).

The certificate for dimensions ``d < N-1``, where the convex relaxation of :mod:`theory.certificates`
(rank-free) is only a lower bound. For a potential ``f`` on inner products and unit rows ``X: (N, d)``

.. math::

    E_f(X) = \\sum_{i \\ne j} f(\\langle x_i, x_j \\rangle).

**Bound.** Let ``P_k`` be the Gegenbauer polynomials of ``S^{d-1}`` normalised to ``P_k(1) = 1``
(Chebyshev ``T_k`` for ``d = 2``). Each is positive definite on the sphere (Schoenberg 1942):
``sum_{i,j} P_k(<x_i, x_j>) >= 0``. If ``h = sum_{k=0}^{D} a_k P_k`` with ``a_k >= 0`` for ``k >= 1`` and
``h <= f`` on ``[-1, 1]``, then

.. math::

    E_f(X) \\ge \\sum_{i \\ne j} h = \\sum_{i, j} h - N h(1) \\ge a_0 N^2 - N h(1)

for every ``N``-point code in ``S^{d-1}``. :func:`lp_energy_bound` maximises the right side by a linear
program over ``a`` (constraints ``h <= f`` on a grid), then makes the bound rigorous for the whole interval:
with ``phi = h - f``, ``|phi''| <= K`` and a uniform check grid of spacing ``g``, ``max phi <=
max_grid phi + K g^2 / 8``; the bound is lowered by ``delta (N^2 - N)`` for that ``delta >= 0``
(``h - delta <= f`` everywhere). ``K = sum_k a_k P_k''(1) + max |f''|`` uses ``|P_k''| <= P_k''(1)`` on
``[-1, 1]`` (derivatives of Gegenbauer polynomials are Gegenbauer polynomials; Markov for Chebyshev).
``delta`` also carries an allowance for the floating-point rounding of the evaluation
(``4 eps (D + 2) (|a_0| + sum a_k + max |f|)``); the result is a floating-point bound, not interval arithmetic.

**Where it is sharp.** Cohn & Kumar (2007): for a *universally optimal* code -- a spherical
``(2m-1)``-design with ``m`` distinct inner products other than 1 -- and a potential that is completely
monotone in the squared distance ``2 - 2s``, the bound with degree ``2m - 1`` equals the code's energy: the
code minimises ``E_f`` among all ``N``-point codes in ``S^{d-1}``. Examples: the regular ``N``-gon (``d = 2``,
every ``N``), the simplex (``N <= d + 1``), the cross-polytope (``N = 2d``), the icosahedron (``d = 3``,
``N = 12``). The Gaussian kernel ``exp(-t ||x - y||^2)`` is completely monotone in ``||x - y||^2``.

References
----------
Delsarte, Goethals, Seidel, "Spherical codes and designs", Geom. Dedicata 6 (1977).
Yudin, "Minimum potential energy of a point system of charges", Discrete Math. Appl. 3 (1993).
Cohn & Kumar, "Universally optimal distribution of points on spheres", J. AMS 20 (2007).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from ._checks import check_embedding, check_int, check_positive_float

#: Default LP grid and rigorous check grid on [-1, 1] (the check grid is evaluated CHUNK points at a time).
LP_GRID, CHECK_GRID, CHUNK = 4001, 2000001, 200000


def gegenbauer(D: int, d: int, s) -> np.ndarray:
    """``P_k(s)`` for ``k = 0..D``: Gegenbauer polynomials of ``S^{d-1}`` with ``P_k(1) = 1``.

    Parameters
    ----------
    D : int >= 0;  d : int >= 2;  s : array_like, shape (n,)

    Returns
    -------
    (D + 1, n) ndarray, from the recurrence of the normalised polynomials
    ``(k + d - 2) P_{k+1} = (2k + d - 2) s P_k - k P_{k-1}``, ``P_0 = 1``, ``P_1 = s`` (``d = 2``: Chebyshev
    ``T_k``). Values stay in ``[-1, 1]`` on the interval, so nothing overflows at large ``d`` or ``D``.
    """
    D = check_int("D", D, low=0)
    d = check_int("d", d, low=2)
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    if s.ndim != 1 or not np.all(np.isfinite(s)) or np.any(np.abs(s) > 1.0):
        raise ValueError("s must be a 1-D array of finite inner products in [-1, 1]")
    P = np.empty((D + 1, s.size))
    P[0] = 1.0
    if D >= 1:
        P[1] = s
    for k in range(1, D):
        P[k + 1] = ((2 * k + d - 2) * s * P[k] - k * P[k - 1]) / (k + d - 2)
    return P


def gegenbauer_derivatives_at_one(D: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """``(P_k'(1), P_k''(1))`` for ``k = 0..D`` (the maxima of ``|P_k'|``, ``|P_k''|`` on ``[-1, 1]``).

    From the Gegenbauer equation ``(1 - s^2) y'' - (2 lam + 1) s y' + k (k + 2 lam) y = 0`` at ``s = 1`` and its
    derivative: ``y'(1) = k (k + 2 lam) / (2 lam + 1)``, ``y''(1) = (k (k + 2 lam) - 2 lam - 1) y'(1) / (2 lam + 3)``.

    Parameters
    ----------
    D : int
        Highest degree, >= 0.
    d : int
        Dimension of the ambient space (``lam = (d - 2)/2``), >= 2.

    Returns
    -------
    tuple of numpy.ndarray
        ``(P'(1), P''(1))``, each of shape ``(D + 1,)``, for the Gegenbauer polynomials normalised to ``P_k(1) = 1``.
    """
    D = check_int("D", D, low=0)
    d = check_int("d", d, low=2)
    lam = (d - 2) / 2.0
    k = np.arange(D + 1, dtype=np.float64)
    e = k * (k + 2.0 * lam)
    d1 = e / (2.0 * lam + 1.0)
    return d1, (e - 2.0 * lam - 1.0) * d1 / (2.0 * lam + 3.0)


def _values(f, s: np.ndarray) -> np.ndarray:
    """``f(s)`` as a float array of the shape of ``s``; ValueError if ``f`` returns anything else or non-finite values."""
    fs = np.asarray(f(s), dtype=np.float64)
    if fs.shape != s.shape or not np.all(np.isfinite(fs)):
        raise ValueError("f must map an array of inner products in [-1, 1] to finite values of the same shape")
    return fs


def pair_energy(X, f) -> float:
    """``E_f(X) = sum_{i != j} f(<x_i, x_j>)`` for unit rows ``X: (N, d)`` and a vectorised ``f``.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, d)
        Unit rows.
    f : callable
        The potential, applied elementwise to an array of inner products.

    Returns
    -------
    float
    """
    X = check_embedding("X", X)
    G = np.clip(X @ X.T, -1.0, 1.0)
    return float(np.sum(_values(f, G[~np.eye(X.shape[0], dtype=bool)])))


def lp_energy_bound(N: int, d: int, f, f2_max: float, degree: int, *, grid: int = LP_GRID,
                    check_grid: int = CHECK_GRID, extra_points=()) -> dict:
    """Rigorous lower bound on ``min E_f`` over ``N``-point codes in ``S^{d-1}`` (module docstring).

    Parameters
    ----------
    N : int >= 2;  d : int >= 2;  degree : int >= 1 (``D``)
    f : callable, vectorised potential on ``[-1, 1]``
    f2_max : float > 0, an upper bound on ``|f''|`` over ``[-1, 1]`` (checked against the second differences of
        ``f`` on the check grid: a smaller measured curvature is required, else ValueError)
    grid, check_grid : sizes of the LP grid and the uniform check grid
    extra_points : inner products added to the LP grid (e.g. a candidate code's; constraints only)

    Returns
    -------
    dict with ``bound`` (rigorous), ``lp_value`` (before the correction), ``delta``, ``coefficients``,
    ``status`` ('optimal' or the solver's message). ValueError on bad input, RuntimeError if the LP fails.
    """
    N = check_int("N", N, low=2)
    d = check_int("d", d, low=2)
    degree = check_int("degree", degree, low=1, high=200)
    grid = check_int("grid", grid, low=3)
    check_grid = check_int("check_grid", check_grid, low=3)
    f2_max = check_positive_float("f2_max", f2_max)
    if not callable(f):
        raise ValueError(f"f must be a callable potential on [-1, 1], got {type(f).__name__}")
    extra = np.asarray(extra_points, dtype=np.float64).ravel()
    if not np.all(np.isfinite(extra)):
        raise ValueError("extra_points must be finite inner products")
    s = np.unique(np.concatenate([np.linspace(-1.0, 1.0, grid), np.clip(extra, -1.0, 1.0)]))
    fs = _values(f, s)
    P = gegenbauer(degree, d, s)
    # maximise a_0 (N^2 - N) - N sum_{k>=1} a_k  s.t.  sum_k a_k P_k(s) <= f(s);  a_0 free, a_k >= 0.
    # Each row is divided by |f(s)| (an equivalent constraint) so the solver's feasibility tolerance is relative.
    w = np.maximum(np.abs(fs), 1e-300 + 1e-12 * np.abs(fs).max())
    c = np.concatenate([[-(N * N - N)], np.full(degree, float(N))])
    res = linprog(c, A_ub=P.T / w[:, None], b_ub=fs / w, bounds=[(None, None)] + [(0.0, None)] * degree,
                  method="highs", options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
    if res.status != 0:
        raise RuntimeError(f"the LP bound did not solve (N={N}, d={d}, degree={degree}): {res.message}")
    a = np.asarray(res.x)
    a[1:] = np.maximum(a[1:], 0.0)
    lp_value = a[0] * (N * N - N) - N * a[1:].sum()
    t = np.linspace(-1.0, 1.0, check_grid)
    ft = _values(f, t)
    g = 2.0 / (check_grid - 1)
    eps = np.finfo(float).eps
    measured = float(np.abs(np.diff(ft, 2)).max()) / g ** 2
    if measured > f2_max * (1.0 + 1e-6) + 8.0 * eps * float(np.abs(ft).max()) / g ** 2:
        raise ValueError(f"f2_max = {f2_max:g} is below the curvature of f measured on the check grid ({measured:g}): "
                         "the bound would not be rigorous")
    phi_max = max(float((a @ gegenbauer(degree, d, t[i:i + CHUNK]) - ft[i:i + CHUNK]).max())
                  for i in range(0, check_grid, CHUNK))
    _, d2 = gegenbauer_derivatives_at_one(degree, d)
    rounding = 4.0 * eps * (degree + 2) * (abs(a[0]) + a[1:].sum() + float(np.abs(ft).max()))
    delta = max(0.0, phi_max) + (float(a[1:] @ d2[1:]) + f2_max) * g * g / 8.0 + rounding
    return {"bound": lp_value - delta * (N * N - N), "lp_value": lp_value, "delta": delta,
            "coefficients": a, "degree": degree, "status": "optimal"}
