"""Closed-form optimal values of the contrastive objectives (THEORY.md §3).

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
    """Minimum of the full-batch loss: ``2 log(1 + (N-1) exp(-N/((N-1) tau)))``, attained at the ETF."""
    N = check_int("N", N, low=2)
    tau = check_tau(tau)
    _check_d(d, N - 1, "the full batch")
    return _scale(loss) * math.log1p((N - 1) * math.exp(-N / ((N - 1) * tau)))


def optimum_all(N: int, B: int, tau: float = 1.0, *, loss: str = "symmetric", d: int | None = None) -> float:
    """Minimum of the all-``C(N,B)`` objective: ``2 log(1 + (B-1) exp(-N/((N-1) tau)))``, at the ETF."""
    N, B = check_batch_size(N, B)
    tau = check_tau(tau)
    _check_d(d, N - 1, "all C(N,B) batches")
    return _scale(loss) * math.log1p((B - 1) * math.exp(-N / ((N - 1) * tau)))


def optimum_partition(N: int, B: int, tau: float = 1.0, *, loss: str = "symmetric", d: int | None = None) -> float:
    """Minimum of a disjoint-partition objective: ``2 log(1 + (B-1) exp(-B/((B-1) tau)))``, at a block configuration."""
    N, B = check_batch_size(N, B)
    if N % B:
        raise ValueError(f"a partition needs B to divide N; got N={N}, B={B}")
    tau = check_tau(tau)
    _check_d(d, B - 1, "a partition")
    return _scale(loss) * math.log1p((B - 1) * math.exp(-B / ((B - 1) * tau)))


def cross_polytope_full_value(N: int, *, loss: str = "symmetric") -> float:
    """Full-batch loss of the cross-polytope (U = V, N = 2d, tau = 1): ``2 log(1 + (N-2)/e + 1/e^2)``."""
    N = check_int("N", N, low=2)
    if N % 2:
        raise ValueError(f"the cross-polytope value needs N even, got N={N}")
    return _scale(loss) * math.log(1 + (N - 2) / math.e + math.exp(-2))


def cross_polytope_all_pairs_value(N: int, *, loss: str = "symmetric") -> float:
    """All-pairs (B = 2) objective of the cross-polytope (tau = 1):
    ``2 [ (N-2)/(N-1) log(1 + 1/e) + 1/(N-1) log(1 + 1/e^2) ]``."""
    N = check_int("N", N, low=2)
    if N % 2:
        raise ValueError(f"the cross-polytope value needs N even, got N={N}")
    return _scale(loss) * ((N - 2) / (N - 1) * math.log1p(math.exp(-1)) + math.log1p(math.exp(-2)) / (N - 1))
