"""Closed-form optimal values of the InfoNCE objectives (Jensen bounds attained at the simplex ETF and its blocks).

With ``c(n) = exp(-n / ((n - 1) tau))`` (symmetric loss; the one-sided loss is exactly half):

==============================  =====================================  =========================
objective                       minimum                                attained when
==============================  =====================================  =========================
full batch                      ``2 log(1 + (N-1) c(N))``              d >= N-1, U = V = ETF
all C(N, B) batches             ``2 log(1 + (B-1) c(N))``              d >= N-1, U = V = ETF
disjoint partition, size B      ``2 log(1 + (B-1) c(B))``              d >= B-1, block config
==============================  =====================================  =========================

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
