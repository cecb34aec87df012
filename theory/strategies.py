"""Hypothesis strategies for the toolkit's objects, usable in anyone's property tests.

Requires ``hypothesis`` (the ``test`` extra). Embeddings are drawn from a seed (Gaussian rows,
normalised), which keeps examples fast and reproducible.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, strategies as st

from ._checks import normalize_rows
from .batches import Family


def unit_rows(N: int, d: int, seed: int) -> np.ndarray:
    """``(N, d)`` Gaussian rows normalised to unit norm, from ``seed``.

    Parameters
    ----------
    N : int
        Number of rows.
    d : int
        Dimension, >= 1.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray, shape (N, d)
    """
    return normalize_rows(np.random.default_rng(seed).standard_normal((N, d)))


@st.composite
def sizes(draw, max_N: int = 12, min_N: int = 2):
    """``(N, B)`` with ``2 <= B <= N <= max_N``.

    Parameters
    ----------
    max_N : int, default=12
        Largest ``N``.
    min_N : int, default=2
        Smallest ``N``, >= 2.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
    """
    N = draw(st.integers(min_N, max_N))
    return N, draw(st.integers(2, N))


@st.composite
def embedding_pairs(draw, N: int, d: int | None = None, max_d: int = 16):
    """``(U, V)``, each ``(N, d)`` with unit rows; ``d`` drawn in ``[1, max_d]`` unless given.

    Parameters
    ----------
    N : int
        Number of rows.
    d : int or None, default=None
        The dimension; drawn when None.
    max_d : int, default=16
        Largest drawn dimension.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
    """
    d = draw(st.integers(1, max_d)) if d is None else d
    seed = draw(st.integers(0, 2**32 - 1))
    return unit_rows(N, d, seed), unit_rows(N, d, seed + 1)


def taus(low: float = 0.05, high: float = 5.0):
    """Temperatures, log-uniform in ``[low, high]``.

    Parameters
    ----------
    low, high : float, default=0.05, 5.0
        The range, ``0 < low < high``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
    """
    return st.floats(math.log(low), math.log(high)).map(math.exp)


@st.composite
def families(draw, N: int, B: int, max_batches: int = 20):
    """A family over ``(N, B)``: full, all, a random partition (if B | N) or random batches.

    Parameters
    ----------
    N : int
        Number of pairs.
    B : int
        Batch size.
    max_batches : int, default=20
        Largest number of random batches.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
    """
    kinds = ["all", "random"] + (["partition"] if N % B == 0 else []) + (["full"] if B == N else [])
    kind = draw(st.sampled_from(kinds))
    seed = draw(st.integers(0, 2**16))
    if kind == "full":
        return Family.full(N)
    if kind == "all":
        return Family.all(N, B)
    if kind == "partition":
        return Family.partition(N, B, seed=seed)
    return Family.random(N, B, draw(st.integers(1, max_batches)), seed=seed)


def _relabel(family: Family, perm) -> np.ndarray:
    return np.asarray(perm)[family.batches]


@st.composite
def pair_balanced_families(draw):
    """A pair-balanced family (every pair in the same number lambda >= 1 of batches), relabelled at random:
    all C(N,B) batches, the Fano plane, its complement (a 2-(7,4,2) design), AG(2,3), or a union of
    copies of one of them under independent relabellings (a union of 2-designs is a 2-design)."""
    kind = draw(st.sampled_from(["all", "fano", "fano_complement", "affine3"]))
    if kind == "all":
        N = draw(st.integers(3, 8))
        base = Family.from_batches(Family.all(N, draw(st.integers(2, N - 1))).batches, N)
    elif kind == "fano":
        base = Family.fano()
    elif kind == "fano_complement":
        base = Family.from_batches([sorted(set(range(7)) - set(b)) for b in Family.fano().batches.tolist()], 7)
    else:
        base = Family.affine_plane(3)
    copies = draw(st.integers(1, 3))
    seeds = draw(st.lists(st.integers(0, 2**16), min_size=copies, max_size=copies))
    parts = [_relabel(base, np.random.default_rng(s).permutation(base.N)) for s in seeds]
    return Family.from_batches(np.vstack(parts), base.N)


@st.composite
def unbalanced_families(draw, max_N: int = 9):
    """A family of equal-size random batches that is *not* pair-balanced (rejection-sampled).

    Parameters
    ----------
    max_N : int, default=9
        Largest ``N``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
    """
    N = draw(st.integers(3, max_N))
    B = draw(st.integers(2, N - 1))
    fam = Family.random(N, B, draw(st.integers(1, 3 * N)), seed=draw(st.integers(0, 2**31)))
    assume(not fam.is_pair_balanced())
    return fam


@st.composite
def weighted_families(draw, max_N: int = 8):
    """A weighted and/or mixed-size family: explicit batches of 1-3 sizes with random weights (log-uniform
    or integer repeats), a DataLoader epoch or its expectation, a union or a mixture of two families,
    or a family balanced at one drawn tau (:func:`theory.balance.balanced_at`).

    Parameters
    ----------
    max_N : int, default=8
        Largest ``N``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy
    """
    from .balance import balanced_at
    N = draw(st.integers(3, max_N))
    kind = draw(st.sampled_from(["explicit", "explicit", "dataloader", "expectation", "union", "mixture", "balanced_at"]))
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    if kind == "dataloader":
        return Family.dataloader_epoch(N, draw(st.integers(2, N)), drop_last=draw(st.booleans()), seed=seed)
    if kind == "expectation":
        return Family.dataloader_expectation(N, draw(st.integers(2, N)), drop_last=draw(st.booleans()))
    if kind in ("union", "mixture"):
        a = Family.all(N, draw(st.integers(2, N)))
        b = Family.random(N, draw(st.integers(2, N)), draw(st.integers(1, 2 * N)), seed=seed)
        return Family.union(a, b) if kind == "union" else Family.mixture([a, b], [draw(st.floats(0.1, 10)), 1.0])
    if kind == "balanced_at":
        trip = [np.sort(rng.permutation(N)[:3]) for _ in range(draw(st.integers(1, 2 * N)))]
        return balanced_at(trip, N, draw(taus(0.1, 5.0)))
    szs = draw(st.lists(st.integers(2, N), min_size=1, max_size=3, unique=True))
    n = draw(st.integers(1, 3 * N))
    rows = [np.sort(rng.permutation(N)[: int(rng.choice(szs))]) for _ in range(n)]
    w = np.exp(rng.uniform(-2, 2, n)) if draw(st.booleans()) else rng.integers(1, 4, n).astype(float)
    return Family.from_batches(rows, N, weights=w)
