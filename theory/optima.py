"""Closed-form optimal values of the InfoNCE objectives (Jensen bounds attained at the simplex ETF and its blocks).

With ``c(n) = exp(-n / ((n - 1) tau))`` (symmetric loss; the one-sided loss is exactly half):

==============================  =====================================  =========================
objective                       minimum                                attained when
==============================  =====================================  =========================
full batch                      ``2 log(1 + (N-1) c(N))``              d >= N-1, U = V = ETF
all C(N, B) batches             ``2 log(1 + (B-1) c(N))``              d >= N-1, U = V = ETF
disjoint partition, size B      ``2 log(1 + (B-1) c(B))``              d >= B-1, block config
==============================  =====================================  =========================

With Lee et al.'s variance-reducing term added (:class:`theory.losses.VRN`), the partition's optimum is a
one-dimensional convex problem in the within-batch similarity (:func:`optimum_partition_vrn`).

Each minimum is a *lower bound* for every d (the Jensen argument does not use d); it is
attained only under the stated condition, so passing ``d`` below it raises.

References
----------
Cho et al., TMLR 2024, Thm. 1-4 (arXiv 2307.05906); Lu & Steinerberger, ACHA 2022.
"""
from __future__ import annotations

import math

from ._checks import check_batch_size, check_int, check_loss, check_tau


def _scale(loss: str) -> float:
    return 2.0 if check_loss(loss) == "symmetric" else 1.0


def _check_d(d, need: int, what: str):
    if d is not None and check_int("d", d, low=1) < need:
        raise ValueError(f"the closed form for {what} is attained only for d >= {need}, got d={d}")


def optimum_full(N: int, tau: float = 1.0, *, loss: str = "symmetric", d: int | None = None) -> float:
    """Minimum of the full-batch loss: ``2 log(1 + (N-1) exp(-N/((N-1) tau)))``, attained at the ETF.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    tau : float, default=1.0
        Temperature, > 0.
    loss : {'symmetric', 'one_sided'}, default='symmetric'
        InfoNCE's form (the one-sided value is half the symmetric one).
    d : int or None, default=None
        The dimension, if given checked to be >= N - 1 (where the value is attained).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For ``N < 2``, ``tau <= 0``, or ``d < N - 1``.

    References
    ----------
    Cho et al., *Mini-Batch Optimization of Contrastive Loss*, TMLR 2024, Thm. 1.
    """
    N = check_int("N", N, low=2)
    tau = check_tau(tau)
    _check_d(d, N - 1, "the full batch")
    return _scale(loss) * math.log1p((N - 1) * math.exp(-N / ((N - 1) * tau)))


def optimum_all(N: int, B: int, tau: float = 1.0, *, loss: str = "symmetric", d: int | None = None) -> float:
    """Minimum of the all-``C(N,B)`` objective: ``2 log(1 + (B-1) exp(-N/((N-1) tau)))``, at the ETF.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    tau : float, default=1.0
        Temperature, > 0.
    loss : {'symmetric', 'one_sided'}, default='symmetric'
        InfoNCE's form (the one-sided value is half the symmetric one).
    d : int or None, default=None
        The dimension, if given checked to be >= N - 1 (where the value is attained).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For sizes out of range, ``tau <= 0``, or ``d < N - 1``.

    References
    ----------
    Cho et al., *Mini-Batch Optimization of Contrastive Loss*, TMLR 2024, Thm. 4 (arXiv v1).
    """
    N, B = check_batch_size(N, B)
    tau = check_tau(tau)
    _check_d(d, N - 1, "all C(N,B) batches")
    return _scale(loss) * math.log1p((B - 1) * math.exp(-N / ((N - 1) * tau)))


def optimum_partition(N: int, B: int, tau: float = 1.0, *, loss: str = "symmetric", d: int | None = None) -> float:
    """Minimum of a disjoint-partition objective: ``2 log(1 + (B-1) exp(-B/((B-1) tau)))``, at a block configuration.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, dividing ``N``.
    tau : float, default=1.0
        Temperature, > 0.
    loss : {'symmetric', 'one_sided'}, default='symmetric'
        InfoNCE's form (the one-sided value is half the symmetric one).
    d : int or None, default=None
        The dimension, if given checked to be >= B - 1 (where the value is attained).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``B`` does not divide ``N``, ``tau <= 0``, or ``d < B - 1``.

    References
    ----------
    Cho et al., *Mini-Batch Optimization of Contrastive Loss*, TMLR 2024, Thm. 5 (arXiv v1).
    """
    N, B = check_batch_size(N, B)
    if N % B:
        raise ValueError(f"a partition needs B to divide N; got N={N}, B={B}")
    tau = check_tau(tau)
    _check_d(d, B - 1, "a partition")
    return _scale(loss) * math.log1p((B - 1) * math.exp(-B / ((B - 1) * tau)))


def cross_polytope_full_value(N: int, *, loss: str = "symmetric") -> float:
    """Full-batch loss of the cross-polytope (U = V, N = 2d, tau = 1): ``2 log(1 + (N-2)/e + 1/e^2)``.

    Parameters
    ----------
    N : int
        Number of points, even, >= 2.
    loss : {'symmetric', 'one_sided'}, default='symmetric'
        InfoNCE's form (the one-sided value is half the symmetric one).

    Returns
    -------
    float
    """
    N = check_int("N", N, low=2)
    if N % 2:
        raise ValueError(f"the cross-polytope value needs N even, got N={N}")
    return _scale(loss) * math.log(1 + (N - 2) / math.e + math.exp(-2))


def cross_polytope_all_pairs_value(N: int, *, loss: str = "symmetric") -> float:
    """All-pairs (B = 2) objective of the cross-polytope (tau = 1):
    ``2 [ (N-2)/(N-1) log(1 + 1/e) + 1/(N-1) log(1 + 1/e^2) ]``.

    Parameters
    ----------
    N : int
        Number of points, even, >= 2.
    loss : {'symmetric', 'one_sided'}, default='symmetric'
        InfoNCE's form (the one-sided value is half the symmetric one).

    Returns
    -------
    float
    """
    N = check_int("N", N, low=2)
    if N % 2:
        raise ValueError(f"the cross-polytope value needs N even, got N={N}")
    return _scale(loss) * ((N - 2) / (N - 1) * math.log1p(math.exp(-1)) + math.log1p(math.exp(-2)) / (N - 1))


def optimum_all_mixture(family, tau: float = 1.0, *, loss: str = "symmetric", d: int | None = None) -> float:
    """Minimum of a weighted mixture of all-``C(N, b)`` families (any sizes b, e.g.
    ``Family.dataloader_expectation``): ``sum_b W_b 2 log(1 + (b-1) c(N)) / sum_b W_b``, at the ETF.

    ``W_b`` is the total weight of the all-``C(N, b)`` part; the full batch counts as the part
    ``b = N`` and a part of all N singletons as ``b = 1`` (value 0).

    Proof. Each part's objective is an all-``C(N, b)`` objective, bounded below by
    ``2 log(1 + (b-1) c(N))`` (Jensen) with equality at ``U = V = ETF`` for every b at
    once. A weighted sum of functions that share a minimizer is minimised there, with the weighted
    sum of their minima as value; it is unique (up to rotation) as soon as one part has ``b >= 2``.
    Parts of stored batches (other than the full batch and the N singletons) are refused: they are
    not all-``C(N, b)`` families.

    Parameters
    ----------
    family : Family
        A mixture of all-``C(N, b)`` parts (and possibly the full batch and the N singletons).
    tau : float, default=1.0
        Temperature, > 0.
    loss : {'symmetric', 'one_sided'}, default='symmetric'
        InfoNCE's form (the one-sided value is half the symmetric one).
    d : int or None, default=None
        The dimension, if given checked to be >= N - 1 (where the value is attained).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For a part of stored batches other than the full batch and the singletons, ``tau <= 0`` or ``d < N - 1``.
    """
    from .batches import Family
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    N = family.N
    tau = check_tau(tau)
    _check_d(d, N - 1, "a mixture of all-C(N,b) families")
    total, W = 0.0, family.total_weight
    for p in family.parts:
        st = p.stored
        w = p.total_weight(N)
        is_full = st is not None and p.B == N and st.shape[0] >= 1
        singles = st is not None and p.B == 1 and sorted(st[:, 0].tolist()) == list(range(N)) and \
            float(min(p.weights)) == float(max(p.weights))
        if st is not None and not (is_full or singles):
            raise ValueError(f"optimum_all_mixture needs every part to be all C(N, b) batches (or the full batch, or "
                             f"all N singletons with one weight); {family!r} has a stored part of size {p.B}")
        if p.B >= 2:
            total += w * _scale(loss) * math.log1p((p.B - 1) * math.exp(-N / ((N - 1) * tau)))
    return total / W


def optimum_partition_vrn(N: int, B: int, tau: float = 1.0, *, weight: float, delta: float, p: int = 2,
                          loss: str = "symmetric", d: int | None = None) -> dict:
    r"""Minimum of a disjoint-partition objective of InfoNCE plus ``weight`` times the variance-reducing term
    (:class:`theory.losses.VRN`): the one-dimensional problem in the within-batch negative similarity ``s``,

    .. math::

        \varphi(s) = k \log\big(1 + (B-1) e^{-(1-s)/\tau}\big) + \lambda (s - \delta)^p,\qquad
        s \in [-1/(B-1), 1],

    ``k = 2`` (symmetric) or 1 (one-sided), attained by ``u_i = v_i`` with every batch's Gram ``(1-s*) I + s* J``.
    ``varphi`` is convex; its minimizer ``s*`` is ``-1/(B-1)`` for ``weight`` up to ``weight_threshold`` (where
    ``varphi'(-1/(B-1)) = 0``) and moves into ``(-1/(B-1), delta)`` beyond it, towards ``delta`` as the weight grows.

    Proof (lower bound, every ``d``): for one batch let ``a`` be the mean of ``u_i . v_i`` and ``m`` the mean of
    ``u_i . v_j`` over ``i != j``. Jensen's inequality for ``exp`` within each anchor and the convexity of
    ``x -> log(1 + (B-1) e^x)`` across anchors give ``L_base >= k g(a - m)`` with ``g(x) = log(1 + (B-1)
    e^{-x/tau})``, decreasing; Jensen for ``x^p`` gives ``L_VRN >= (m - delta)^p``. Further ``a <= 1`` and
    ``(B-1)(a - m) = sum_i (u_i - ubar).(v_i - vbar) <= B`` (Cauchy-Schwarz), so ``a - m <= min(1 - m, B/(B-1))``.
    If ``m >= -1/(B-1)`` the batch's loss is at least ``varphi(m)``; if ``m < -1/(B-1) <= delta`` it is at least
    ``k g(B/(B-1)) + lambda (-1/(B-1) - delta)^p = varphi(-1/(B-1))``. The batches are independent, so the
    partition's objective is at least ``min varphi``, attained by the configuration above (which exists in
    ``d >= B``, in ``d >= B-1`` when ``s* = -1/(B-1)``).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, dividing ``N``.
    tau : float, default=1.0
        Temperature, > 0.
    weight : float
        The auxiliary term's weight ``lambda``, >= 0.
    delta : float
        The target similarity, in ``[-1/(B-1), 1]`` (the authors' ``-1/(N-1)`` is in range; below ``-1/(B-1)``
        the reduction's second case fails and the function refuses).
    p : int, default=2
        The exponent, an even integer >= 2.
    loss : {'symmetric', 'one_sided'}, default='symmetric'
        InfoNCE's form.
    d : int or None, default=None
        The dimension, if given checked to be one where the value is attained.

    Returns
    -------
    dict
        ``s`` (``s*``), ``value`` (``varphi(s*)``, the partition objective's minimum), ``infonce`` and ``auxiliary``
        (its two terms at ``s*``, the auxiliary without the weight), ``weight_threshold`` (``inf`` when ``delta =
        -1/(B-1)``), ``at_boundary`` (``s* = -1/(B-1)``) and ``exact`` (False: ``s*`` is a root, to ``1e-15``).

    Raises
    ------
    ValueError
        If ``B`` does not divide ``N``, a parameter is out of range, or ``d`` is below the attaining dimension.

    References
    ----------
    Cho et al., TMLR 2024, Thm. 5 (the partition without the term, arXiv v1); Lee, Lim, Lee & Sohn, ICML 2025
    (arXiv 2506.09781), Definition 5.7 (the term, as in :class:`theory.losses.VRN`).
    """
    from scipy.optimize import brentq

    from .losses.vrn import VRN
    N, B = check_batch_size(N, B)
    if N % B:
        raise ValueError(f"a partition needs B to divide N; got N={N}, B={B}")
    tau, k = check_tau(tau), _scale(loss)
    vrn = VRN(weight=weight, delta=delta, p=p)                          # validates the term's parameters
    lam, delta, p = vrn.weight, vrn.delta, vrn.p
    s0 = -1.0 / (B - 1)
    if delta < s0:
        raise ValueError(f"delta must be >= -1/(B-1) = {s0:.12g} for the one-dimensional reduction, got {delta!r}")

    def infonce(s):
        return k * math.log1p((B - 1) * math.exp((s - 1) / tau))

    def slope(s):
        t = (B - 1) * math.exp((s - 1) / tau)
        return k * t / (tau * (1 + t)) + lam * p * (s - delta) ** (p - 1)

    base_slope = slope(s0) - lam * p * (s0 - delta) ** (p - 1)          # the InfoNCE part of the slope at s0
    threshold = math.inf if delta == s0 else base_slope / (p * (delta - s0) ** (p - 1))
    s = s0 if slope(s0) >= 0 else brentq(slope, s0, delta, xtol=1e-15, rtol=4 * 2.3e-16, maxiter=500)
    at_boundary = s == s0
    _check_d(d, B - 1 if at_boundary else B, "a partition with the variance-reducing term")
    aux = (s - delta) ** p
    return {"s": s, "value": infonce(s) + lam * aux, "infonce": infonce(s), "auxiliary": aux,
            "weight_threshold": threshold, "at_boundary": at_boundary, "exact": False}
