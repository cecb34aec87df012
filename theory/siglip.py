"""SigLIP's optimum in closed form: the double-constant reduction, its thresholds, any weight of the negatives.

A family whose SigLIP objective is (up to a constant factor) the weighted full batch

.. math::

    L_w(Z) = \\frac{1}{N}\\Big[\\sum_i \\mathrm{sp}\\big(-(z_{ii}/\\tau + b)\\big)
             + w \\sum_{i \\ne j} \\mathrm{sp}\\big(z_{ij}/\\tau + b\\big)\\Big],\\qquad \\mathrm{sp}(x) = \\log(1 + e^x),

covers the full batch (``w = 1``), the all-``C(N,B)`` family (``w = (B-1)/(N-1)``, :mod:`theory.losses.siglip`)
every weighted 2-design of one batch size ``b`` (``w = (b-1)/(N-1)``) and every mixture of all-``C(N,b)``
families (``w = (E_W[b] - 1)/(N-1)``, the weight-averaged batch size); in general exactly the families whose
``sum_{S ∋ i} w_S/|S|`` and ``sum_{S ∋ i,j} w_S/|S|`` are constant (:func:`family_negative_weight`; equal pair
counts do not suffice when sizes are mixed).

Reduction (our derivation of Lee, Chang & Sohn's double-constant embedding model). ``L_w`` is convex in
``Z`` and invariant when one permutation acts on the rows of ``U`` and ``V``; averaging a minimizer of the
relaxation (``M = [U; V][U; V]^T`` PSD, unit diagonal) over all permutations keeps it feasible and does not
raise ``L_w``, so a minimizer has ``z_ii = alpha``, ``z_ij = beta``. Such a ``Z`` is realisable iff
``|alpha + (N-1) beta| + (N-1) |alpha - beta| <= N`` (the two eigen-blocks of the averaged ``M``). ``L_w``
decreases in ``alpha`` and increases in ``beta``, so the minimum lies on the edge from the simplex ETF
``(1, -1/(N-1))`` (``lambda = 0``, rank ``N-1``) to the antipodal point ``(-1, -1)`` (``lambda = 1``:
every ``u_i = e``, every ``v_i = -e``, rank 1):

.. math::

    \\alpha(\\lambda) = 1 - 2\\lambda,\\qquad \\beta(\\lambda) = -\\frac{1}{N-1} - \\lambda\\frac{N-2}{N-1},

realised in ``d = N`` for ``0 < lambda < 1`` by ``u_i = (delta w_i, s)``, ``v_i = (delta w_i, -s)``,
``delta^2 = 1 - lambda``, ``s^2 = lambda`` (``w_i`` the simplex ETF). ``g(lambda) = N L_w / N`` is convex with

.. math::

    \\tau g'(\\lambda) = 2\\sigma\\big(-\\alpha/\\tau - b\\big) - w (N-2) \\sigma\\big(\\beta/\\tau + b\\big),

increasing in ``lambda``. Hence the ETF is optimal iff ``2 sigma(-1/tau - b) >= w (N-2) sigma(b - 1/((N-1) tau))``
and the antipodal point iff ``2 sigma(1/tau - b) <= w (N-2) sigma(b - 1/tau)``; in between ``g'(lambda*) = 0``.
(``N = 2``: the ETF always.) In Lee et al.'s notation (inverse temperature ``t = 1/tau``, their bias
``b_L = -b``) with ``b_L = t`` and ``w = 1`` these read ``t >= ((N-1)/N) log(N-3)`` (ETF) and
``t <= (1/2) log((N-2)/2)`` (antipodal).

References
----------
Lee, Chang, Sohn, "Analysis of Using Sigmoid Loss for Contrastive Learning", AISTATS 2024 (arXiv 2402.12613).
Zhai, Mustafa, Kolesnikov, Beyer, "Sigmoid Loss for Language Image Pre-Training", ICCV 2023.
Bangachev, Bresler, Noman, Polyanskiy, "Global Minimizers of Sigmoid Contrastive Loss", NeurIPS 2025 (arXiv 2509.18552):
constellations, trainable temperature and relative bias (:func:`constellation_margin`).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from ._checks import check_int, check_tau
from .configurations import simplex_etf

STRUCTURES = ("etf", "interior", "antipodal")


def trivial_bound(tau: float, bias: float) -> float:
    """``sp(-(1/tau + b))``: the positive terms alone at ``z_ii = 1`` — a lower bound on every SigLIP family
    objective. A certificate's value is informative only well above it (claims use it as the resolution scale).

    Parameters
    ----------
    tau : float
        Temperature, > 0.
    bias : float
        SigLIP's bias ``b``.

    Returns
    -------
    float
    """
    return float(np.logaddexp(0, -(1.0 / check_tau(tau) + bias)))


def _check_w(w) -> float:
    if isinstance(w, bool) or not isinstance(w, (int, float, np.floating)) or not (0 < w <= 1):
        raise ValueError(f"w (the weight of a negative pair) must be in (0, 1], got {w!r}")
    return float(w)


def ccem_point(N: int, lam: float) -> tuple[float, float]:
    """``(alpha, beta)``: positive and negative inner products at ``lambda`` in ``[0, 1]`` on the ETF-antipodal edge.

    With ``lambda = 0`` the ETF (``alpha = 1``, ``beta = -1/(N-1)``), with ``lambda = 1`` the antipodal point
    (``alpha = -1``, ``beta = -1``): ``alpha = 1 - 2 lambda``, ``beta = -1/(N-1) - lambda (N-2)/(N-1)``.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    lam : float
        Position on the edge, in ``[0, 1]``.

    Returns
    -------
    tuple of float
        ``(alpha, beta)``.

    Raises
    ------
    ValueError
        If ``lam`` is outside ``[0, 1]``.
    """
    N = check_int("N", N, low=2)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam!r}")
    return 1.0 - 2.0 * lam, -1.0 / (N - 1) - lam * (N - 2) / (N - 1)


def ccem_embeddings(N: int, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm ``U, V: (N, N)`` with ``u_i^T v_i = alpha(lambda)``, ``u_i^T v_j = beta(lambda)`` (``N >= 2``).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    lam : float
        Position on the ETF-antipodal edge, in ``[0, 1]``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(U, V)``, each ``(N, N)``.
    """
    N = check_int("N", N, low=2)
    ccem_point(N, lam)
    W = np.hstack([simplex_etf(N, N - 1), np.zeros((N, 1))])
    e = np.zeros(N)
    e[-1] = 1.0
    delta, s = math.sqrt(1.0 - lam), math.sqrt(lam)
    return delta * W + s * e, delta * W - s * e


def ccem_value(N: int, lam: float, tau: float, bias: float, w: float = 1.0) -> float:
    """``L_w`` at the double-constant point ``lambda``: ``sp(-(alpha/tau + b)) + w (N-1) sp(beta/tau + b)``.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    lam : float
        Position on the ETF-antipodal edge, in ``[0, 1]``.
    tau : float
        Temperature, > 0.
    bias : float
        SigLIP's bias.
    w : float, default=1.0
        Weight of the negatives (1: the full batch; ``(B-1)/(N-1)``: all ``C(N, B)`` batches).

    Returns
    -------
    float
    """
    a, b = ccem_point(N, lam)
    tau = check_tau(tau)
    return float(np.logaddexp(0, -(a / tau + bias)) + _check_w(w) * (N - 1) * np.logaddexp(0, b / tau + bias))


def _slope(N, lam, tau, bias, w):
    """``tau g'(lambda)`` (module docstring)."""
    a, b = ccem_point(N, lam)
    return 2.0 * expit(-a / tau - bias) - w * (N - 2) * expit(b / tau + bias)


def siglip_optimum(N: int, tau: float, bias: float, w: float = 1.0) -> dict:
    """Minimum of ``L_w`` over unit-norm embeddings in ``d >= N`` (``d >= N-1`` when it is the ETF).

    Returns
    -------
    dict with ``lam`` (``lambda*``), ``alpha``, ``beta``, ``value``, ``structure`` (one of ``STRUCTURES``),
    ``rank`` (of ``[U; V][U; V]^T`` at the optimum: ``N-1``, ``N`` or 1) and the two slopes ``slope_etf``
    (``tau g'(0)``, >= 0 iff the ETF is optimal) and ``slope_antipodal`` (``tau g'(1)``, <= 0 iff antipodal).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    tau : float
        Temperature, > 0.
    bias : float
        SigLIP's bias.
    w : float, default=1.0
        Weight of the negatives, > 0.

    References
    ----------
    Lee, Chang & Sohn, *Analysis of Using Sigmoid Loss for Contrastive Learning*, AISTATS 2024 (arXiv 2402.12613).
    """
    N = check_int("N", N, low=2)
    tau = check_tau(tau)
    if not math.isfinite(bias):
        raise ValueError(f"bias must be a finite number, got {bias!r}")
    w = _check_w(w)
    s0, s1 = _slope(N, 0.0, tau, bias, w), _slope(N, 1.0, tau, bias, w)
    if s0 >= 0:
        lam, structure, rank = 0.0, "etf", N - 1
    elif s1 <= 0:
        lam, structure, rank = 1.0, "antipodal", 1
    else:
        lam = brentq(lambda x: _slope(N, x, tau, bias, w), 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
        structure, rank = "interior", N
    a, b = ccem_point(N, lam)
    return {"lam": lam, "alpha": a, "beta": b, "value": ccem_value(N, lam, tau, bias, w), "structure": structure,
            "rank": rank, "slope_etf": s0, "slope_antipodal": s1}


def family_negative_weight(family) -> float | None:
    """``w`` such that the family's SigLIP objective is exactly ``L_w`` (module docstring), or None.

    The family objective is ``(1/W) sum_b (1/b) [sum_i C_b[i,i] D_i + sum_{i != j} C_b[i,j] O_ij]``
    (``C_b``: weighted co-occurrence of the batches of size ``b``, ``W = sum_S w_S``); with
    ``K = sum_b C_b / b``, ``sum_i K_ii = W`` always, so it equals ``L_w`` iff ``K`` has a constant diagonal
    and a constant off-diagonal, and then ``w = K_ij / K_ii``. Decided from the family's structure, never
    from its ``kind`` label (relative tolerance 1e-12).

    Parameters
    ----------
    family : Family

    Returns
    -------
    float or None
    """
    N = family.N
    K = sum(p.cooccurrence(N, weighted=True) / p.B for p in family.parts)
    d = np.diag(K)
    off = K[~np.eye(N, dtype=bool)]
    if np.ptp(d) > 1e-12 * d.max() or off.max() <= 0 or np.ptp(off) > 1e-12 * off.max():
        return None
    w = float(off.mean() / d.mean())
    return 1.0 if abs(w - 1.0) <= 1e-12 else w              # the full batch, up to rounding


def lee_thresholds(N: int) -> dict:
    """Lee, Chang & Sohn's thresholds on their inverse temperature ``t`` when their bias equals ``t``
    (``tau = 1/t``, our ``bias = -t``): ETF iff ``t >= ((N-1)/N) log(N-3)``, antipodal iff
    ``t <= (1/2) log((N-2)/2)`` (``N >= 4``; as printed in the authors' public code).

    Parameters
    ----------
    N : int
        Number of pairs, >= 4.

    Returns
    -------
    dict
        ``{"etf_t": ..., "antipodal_t": ...}`` (``etf_t = 0`` at ``N = 4``).

    References
    ----------
    Lee, Chang & Sohn, AISTATS 2024 (arXiv 2402.12613).
    """
    N = check_int("N", N, low=4)
    return {"etf_t": (N - 1) / N * math.log(N - 3) if N > 4 else 0.0,
            "antipodal_t": 0.5 * math.log((N - 2) / 2)}


def threshold_from_slopes(N: int, structure: str, w: float = 1.0) -> float | None:
    """The ``t`` (= ``1/tau``, with bias ``-t``) where the slope condition of ``structure`` ('etf' / 'antipodal')
    changes sign, by root-finding (independent of :func:`lee_thresholds`); None if it has one sign on
    ``t`` in ``(1e-9, 1e6)``.

    Parameters
    ----------
    N : int
        Number of pairs, >= 3.
    structure : {'etf', 'antipodal'}
        Which slope condition.
    w : float, default=1.0
        Weight of the negatives, > 0.

    Returns
    -------
    float or None
    """
    N = check_int("N", N, low=3)
    if structure not in ("etf", "antipodal"):
        raise ValueError(f"structure must be 'etf' or 'antipodal', got {structure!r}")
    w = _check_w(w)
    lam = 0.0 if structure == "etf" else 1.0
    f = lambda t: _slope(N, lam, 1.0 / t, -t, w)               # noqa: E731
    lo, hi = 1e-9, 1.0
    while np.sign(f(hi)) == np.sign(f(lo)):
        hi *= 2.0
        if hi > 1e6:
            return None
    return brentq(f, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)


def constellation_margin(U, V) -> tuple[float, float]:
    r"""Margin and relative bias of ``(U, V)``: ``m = (min_i z_ii - max_{i != j} z_ij) / 2`` and
    ``r = (min_i z_ii + max_{i != j} z_ij) / 2`` (``z = U V^T``; ``U, V: (N, d)`` unit rows, ``N >= 2``).

    ``(U, V)`` is a constellation (Bangachev, Bresler, Noman & Polyanskiy 2025) iff ``m > 0``: every positive
    pair lies above the relative bias ``r`` by ``m`` and every negative pair below it by ``m``. With inverse
    temperature ``T = 1/tau`` and bias ``b = -T r``, every full-batch term of SigLIP is
    ``sp(-T y_ij (z_ij - r)) <= sp(-T m)`` and the two extreme pairs equal it, so (our derivation)

    .. math::

        \frac{2}{N}\,\mathrm{sp}(-T m) \le L_{\mathrm{full}} \le N\,\mathrm{sp}(-T m):

    ``L -> 0`` as ``T -> infinity`` iff ``m > 0``, at the rate ``-log(L)/T -> m``. Conversely, if
    ``L_full < log(2)/N`` at some ``(tau, b)`` then every term is below ``sp(0) = log 2``, every logit has the
    right sign, and ``(U, V)`` is a constellation around ``r = -b tau`` (this needs ``T = 1/tau > 0``, which
    :class:`theory.SigLIP` enforces: with a negative T every sign flips).

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit-norm rows, ``N >= 2``.

    Returns
    -------
    tuple of float
        ``(m, r)``.

    References
    ----------
    Bangachev, Bresler, Noman & Polyanskiy, NeurIPS 2025 (arXiv 2509.18552).
    """
    from ._checks import check_pair
    U, V = check_pair(U, V)
    if U.shape[0] < 2:
        raise ValueError(f"U and V need N >= 2 rows (pairs) for a margin, got N = {U.shape[0]}")
    Z = U @ V.T
    pos = float(np.diag(Z).min())
    neg = float(Z[~np.eye(Z.shape[0], dtype=bool)].max())
    return (pos - neg) / 2.0, (pos + neg) / 2.0
