"""``torch.utils.data`` batch samplers for labelled and duplicated pairs, each drawing exactly the law of its
:class:`theory.Family` constructor (tested against it by frequency):

==================================  ============================================  ====================================
sampler                             one batch                                     exact law
==================================  ============================================  ====================================
:class:`NoDuplicatesBatchSampler`   a uniform ``B``-subset, redrawn while it      :meth:`theory.Family.no_duplicates`
                                    holds two copies of one item
:class:`MPerClassBatchSampler`      ``B/m`` uniform classes (of ``>= m`` pairs),  :meth:`theory.Family.m_per_class`
                                    ``m`` uniform pairs of each
:class:`ClassBalancedBatchSampler`  every class, ``B/C`` uniform pairs of each    :meth:`theory.Family.class_balanced`
:class:`ClassPureBatchSampler`      one uniform class (of ``>= B`` pairs),        :meth:`theory.Family.class_pure`
                                    ``B`` uniform pairs of it
:class:`BatchBindingSampler`        another sampler's batch plus fixed pairs      :meth:`theory.Family.batch_binding`
==================================  ============================================  ====================================

Every sampler yields ``n_batches`` lists of indices per epoch (default ``ceil(N / B)``), independent draws from a
``torch.Generator`` seeded with ``seed`` (a new stream each epoch)::

    loader = torch.utils.data.DataLoader(pairs, batch_sampler=MPerClassBatchSampler(labels, m=2, B=8))
"""
from __future__ import annotations

from abc import ABC, abstractmethod
import math

import numpy as np
import torch

from theory._checks import check_batch_size, check_int
from theory.labels import check_labels, check_ties, class_index


class _Base(ABC):
    """Shared epoch logic: ``n_batches`` draws per epoch from a generator seeded ``seed + epoch``."""

    def __init__(self, N: int, B: int, n_batches: int | None, seed: int):
        self.N, self.B = check_batch_size(N, B)
        self.n_batches = math.ceil(self.N / self.B) if n_batches is None else check_int("n_batches", n_batches, low=1)
        self.seed = check_int("seed", seed)
        self._epoch = 0

    def __len__(self) -> int:
        return self.n_batches

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self._epoch)
        self._epoch += 1
        for _ in range(self.n_batches):
            yield sorted(int(i) for i in self._draw(g))

    @abstractmethod
    def _draw(self, g: torch.Generator):
        """One batch's indices, drawn with ``g``."""


def _choose(g: torch.Generator, n: int, k: int) -> torch.Tensor:
    """``k`` of ``range(n)`` uniformly without replacement."""
    return torch.randperm(n, generator=g)[:k]


class NoDuplicatesBatchSampler(_Base):
    """Uniform ``B``-subsets with no two copies of one item (rejection sampling; the law of
    :meth:`theory.Family.no_duplicates`).

    Parameters
    ----------
    ties : sequence of int
        ``ties[i]``: the item pair ``i`` copies.
    B : int
        Batch size, at most the number of items.
    n_batches : int, optional
        Batches per epoch (default ``ceil(N / B)``).
    seed : int, default=0
    """

    def __init__(self, ties, B: int, *, n_batches: int | None = None, seed: int = 0):
        self.ties = check_ties(ties, len(ties))
        super().__init__(len(self.ties), B, n_batches, seed)
        K = int(self.ties.max()) + 1
        if self.B > K:
            raise ValueError(f"B must be at most the number of items K={K}, got B={self.B}")

    def _draw(self, g):
        while True:
            S = _choose(g, self.N, self.B).numpy()
            if len(np.unique(self.ties[S])) == self.B:
                return S


class MPerClassBatchSampler(_Base):
    """``B/m`` classes drawn uniformly among those with at least ``m`` pairs, ``m`` pairs drawn uniformly from each
    (the law of :meth:`theory.Family.m_per_class`).

    Parameters
    ----------
    labels : sequence of int
    m : int
        Pairs per class, ``>= 1``, dividing ``B``.
    B : int
    n_batches : int, optional
    seed : int, default=0
    """

    def __init__(self, labels, m: int, B: int, *, n_batches: int | None = None, seed: int = 0):
        c = class_index(check_labels(labels))
        super().__init__(len(c), B, n_batches, seed)
        self.m = check_int("m", m, low=1, high=self.B)
        if self.B % self.m:
            raise ValueError(f"B must be a multiple of m; got B={self.B}, m={self.m}")
        self.groups = [np.flatnonzero(c == j) for j in range(int(c.max()) + 1)]
        self.eligible = [grp for grp in self.groups if len(grp) >= self.m]
        if len(self.eligible) < self.B // self.m:
            raise ValueError(f"B/m = {self.B // self.m} classes of at least m={self.m} pairs are needed; the labels "
                             f"have {len(self.eligible)}")

    def _draw(self, g):
        classes = _choose(g, len(self.eligible), self.B // self.m).tolist()
        return np.concatenate([self.eligible[j][_choose(g, len(self.eligible[j]), self.m).numpy()] for j in classes])


class ClassBalancedBatchSampler(MPerClassBatchSampler):
    """Every class in every batch, ``B/C`` pairs drawn uniformly from each (the law of
    :meth:`theory.Family.class_balanced`).

    Parameters
    ----------
    labels : sequence of int
    B : int
        A multiple of the number of classes ``C``.
    n_batches : int, optional
    seed : int, default=0
    """

    def __init__(self, labels, B: int, *, n_batches: int | None = None, seed: int = 0):
        C = int(class_index(check_labels(labels)).max()) + 1
        B = check_int("B", B, low=2)
        if B % C:
            raise ValueError(f"B must be a multiple of the number of classes C={C}, got B={B}")
        super().__init__(labels, B // C, B, n_batches=n_batches, seed=seed)
        if len(self.eligible) < C:
            raise ValueError(f"every class needs at least B/C = {B // C} pairs, got class sizes "
                             f"{[len(grp) for grp in self.groups]}")


class ClassPureBatchSampler(MPerClassBatchSampler):
    """One class drawn uniformly among those with at least ``B`` pairs, then ``B`` of its pairs (the law of
    :meth:`theory.Family.class_pure`).

    Parameters
    ----------
    labels : sequence of int
    B : int
    n_batches : int, optional
    seed : int, default=0
    """

    def __init__(self, labels, B: int, *, n_batches: int | None = None, seed: int = 0):
        super().__init__(labels, B, B, n_batches=n_batches, seed=seed)


class BatchBindingSampler:
    """Batch binding (Kini et al., ICLR 2024): every batch of ``sampler`` with the pairs ``bound`` added (the law of
    :meth:`theory.Family.batch_binding` of the sampler's family).

    Parameters
    ----------
    sampler : iterable of lists of int
        Any batch sampler (e.g. one of this module's).
    bound : sequence of int
        Distinct indices to add to every batch (e.g. one pair per class).
    """

    def __init__(self, sampler, bound):
        bound = [check_int("bound", b, low=0) for b in bound]
        if not bound or len(set(bound)) != len(bound):
            raise ValueError(f"bound must be a non-empty list of distinct indices, got {bound!r}")
        N = getattr(sampler, "N", None)
        if N is not None and max(bound) >= N:
            raise ValueError(f"bound indices must lie in [0, N={N}), got {bound!r}")
        self.sampler, self.bound = sampler, tuple(bound)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for S in self.sampler:
            yield sorted(set(S) | set(self.bound))
