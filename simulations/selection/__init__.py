"""Batch-selection strategies behind one interface.

A selector decides, epoch by epoch, which objective each gradient update descends:

=========  ==========================================================================  ============
name       each update                                                                 updates/epoch
=========  ==========================================================================  ============
full       the full-batch loss                                                         1
all        the all-C(N,B) objective (exact; streamed, pairwise or formula)             1
fixed      one batch of a partition drawn once for the whole run                       N/B
shuffle    one batch of a fresh uniformly random partition each epoch (SGD w/o repl.)  N/B
replace    one uniformly random batch (SGD with replacement)                           N/B
dataloader one batch of a reshuffled epoch cut into batches of B, the short last batch  ceil(N/B)
           kept (``DataLoader(shuffle=True, drop_last=False)``; any N, B)
osgd       the arg-max-loss batch over all C(N,B) at the current embeddings            N/B
           (or, with ``candidates=k``, the ``top`` highest of k random batches)
sc         one batch of the spectral-clustering partition, recomputed each epoch      N/B
=========  ==========================================================================  ============

``selector.epoch(embed)`` yields targets: a :class:`theory.Family` (``full``/``all``) or a
LongTensor ``(1, B)`` / ``(q, B)`` of batches whose mean loss is the update's objective.
``embed()`` returns the current ``(U, V)``; selectors that look at the embeddings call it when
they choose (``osgd``: before every update; ``sc``: once per epoch).

Every selector is also a ``torch.utils.data`` batch sampler through :class:`SelectorSampler`::

    sampler = SelectorSampler(make_selector("sc", N, B, seed=0), embed=lambda: (f(x_u), g(x_v)))
    loader = torch.utils.data.DataLoader(pairs_dataset, batch_sampler=sampler)
    for batch in loader: ...        # each batch is B positive pairs chosen by spectral clustering
"""
from __future__ import annotations

import math
import sys
from abc import ABC, abstractmethod

import torch

from theory._checks import check_batch_size, check_int
from theory.batches import Family

from simulations.engine._tensor_checks import check_embeddings
from theory.losses import as_loss

from simulations.engine import batch_chunks, batch_values, pair_loss_matrix
from simulations.engine.limits import DEFAULT_MEMORY_BUDGET, OSGD_EXACT_LIMIT
from simulations.selection.spectral import spectral_partition
from simulations.selection import labels  # noqa: F401,E402  (class-aware batch samplers)

METHODS = ("full", "all", "fixed", "shuffle", "replace", "dataloader", "osgd", "sc")
PARTITION_METHODS = ("fixed", "shuffle", "sc")


def osgd_batch(U: torch.Tensor, V: torch.Tensor, B: int, loss="infonce", *,
               memory_budget: int = DEFAULT_MEMORY_BUDGET) -> torch.Tensor:
    """The arg-max-loss batch over all ``C(N, B)`` batches, shape ``(B,)`` (exact; streamed), for any loss
    (a :class:`theory.Loss` or a registered name).

    ``B = 2`` uses the ``O(N^2)`` pair-loss matrix; otherwise every batch is scored chunk by chunk.
    Refuses (ValueError) more than ``OSGD_EXACT_LIMIT`` batches: use ``make_selector("osgd", ...,
    candidates=k)`` (the authors' sampled variant) there.
    """
    check_embeddings(U, V)
    obj = as_loss(loss)
    memory_budget = check_int("memory_budget", memory_budget, low=1)
    N = U.shape[0]
    N, B = check_batch_size(N, B)
    if math.comb(N, B) > OSGD_EXACT_LIMIT:
        raise ValueError(f"osgd_batch scores all C(N={N}, B={B}) = {math.comb(N, B):.3g} batches, above the limit "
                         f"{OSGD_EXACT_LIMIT:.0e}; use the sampled variant (candidates=k)")
    with torch.no_grad():
        if B == 2:
            P = pair_loss_matrix(U, V, obj)
            k = int(torch.argmax(P))
            return torch.tensor(sorted((k // N, k % N)), device=U.device)
        fam = Family.all(N, B)
        best, best_b = -math.inf, None
        chunk = max(1, memory_budget // (8 * B * B * U.element_size()))
        for b in batch_chunks(fam, chunk, U.device):
            vals = batch_values(U, V, b, obj, memory_budget=memory_budget, check=False)
            i = int(torch.argmax(vals))
            if float(vals[i]) > best:
                best, best_b = float(vals[i]), b[i].clone()
        if best_b is None:
            raise FloatingPointError("osgd_batch: every batch loss is non-finite (NaN); check tau and the embeddings")
        return best_b


class Selector(ABC):
    """Base class: ``__init__`` only stores arguments; randomness comes from ``seed``."""

    name = "base"

    def __init__(self, N: int, B: int, *, seed: int = 0, loss="infonce"):
        self.N, self.B, self.seed, self.loss = N, B, seed, loss        # a Loss object or InfoNCE's string
        self._gen = None

    @property
    def generator(self) -> torch.Generator:
        if self._gen is None:
            self._gen = torch.Generator().manual_seed(self.seed)
        return self._gen

    def updates_per_epoch(self) -> int:
        return self.N // self.B

    @abstractmethod
    def epoch(self, embed):
        """Yield this epoch's update targets (a Family, or a LongTensor of batches)."""

    def state(self) -> dict:
        """Serialisable state for checkpoints (the generator's state)."""
        return {"gen": self.generator.get_state()}

    def load_state(self, state: dict) -> None:
        self.generator.set_state(state["gen"])

    def _random_partition(self) -> torch.Tensor:
        return torch.randperm(self.N, generator=self.generator).reshape(-1, self.B)


class Full(Selector):
    name = "full"

    def updates_per_epoch(self):
        return 1

    def epoch(self, embed):
        yield Family.full(self.N)


class AllBatches(Selector):
    name = "all"

    def updates_per_epoch(self):
        return 1

    def epoch(self, embed):
        yield Family.all(self.N, self.B)


class Fixed(Selector):
    name = "fixed"

    def epoch(self, embed):
        if not hasattr(self, "_partition"):
            self._partition = self._random_partition()
        yield from (p[None, :] for p in self._partition)

    def state(self):
        return {**super().state(), "partition": getattr(self, "_partition", None)}

    def load_state(self, state):
        super().load_state(state)
        if state.get("partition") is not None:
            self._partition = state["partition"]


class Shuffle(Selector):
    name = "shuffle"

    def epoch(self, embed):
        yield from (p[None, :] for p in self._random_partition())


class Replace(Selector):
    name = "replace"

    def epoch(self, embed):
        for _ in range(self.updates_per_epoch()):
            yield torch.randperm(self.N, generator=self.generator)[: self.B][None, :]


class DataLoaderEpochs(Selector):
    """Reshuffled epochs as ``DataLoader(range(N), batch_size=B, shuffle=True, drop_last=False)`` yields
    them: ``floor(N/B)`` batches of B and a last batch of ``N mod B`` (if nonzero; a single pair has
    loss 0 and its update is a zero step). The expected epoch objective is
    ``Family.dataloader_expectation(N, B)``."""

    name = "dataloader"

    def updates_per_epoch(self):
        return -(-self.N // self.B)

    def epoch(self, embed):
        perm = torch.randperm(self.N, generator=self.generator)
        for s in range(0, self.N, self.B):
            yield perm[s:s + self.B][None, :]


class OSGD(Selector):
    """Ordered SGD: the highest-loss batch at the current embeddings.

    ``candidates=None``: exact arg-max over all ``C(N, B)`` (any B). ``candidates=k``: the authors'
    variant — score ``k`` uniform random batches and take the ``top`` highest as one update.
    """

    name = "osgd"

    def __init__(self, N, B, *, seed=0, loss="infonce", candidates: int | None = None, top: int = 1):
        super().__init__(N, B, seed=seed, loss=loss)
        self.candidates, self.top = candidates, top

    def epoch(self, embed):
        for _ in range(self.updates_per_epoch()):
            U, V = embed()
            yield self._choose(U, V)        # never yield inside no_grad: it would leak into the caller

    def _choose(self, U, V):
        if self.candidates is None:
            return osgd_batch(U, V, self.B, self.loss)[None, :]
        cand = torch.argsort(torch.rand(self.candidates, self.N, generator=self.generator), 1)[:, : self.B]
        with torch.no_grad():
            vals = batch_values(U, V, cand.to(U.device), self.loss, check=False)
        return cand[torch.topk(vals.cpu(), self.top).indices].to(U.device)


class Spectral(Selector):
    name = "sc"

    def epoch(self, embed):
        U, V = embed()
        seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator))
        part = spectral_partition(U.detach(), V.detach(), self.B, loss=self.loss, seed=seed)
        yield from (p[None, :] for p in part)


_CLASSES = {c.name: c for c in (Full, AllBatches, Fixed, Shuffle, Replace, DataLoaderEpochs, OSGD, Spectral)}


def make_selector(method: str, N: int, B: int, *, seed: int = 0, loss="infonce",
                  candidates: int | None = None, top: int = 1) -> Selector:
    """Build a selector by name, validating sizes (partition methods need ``B | N``).

    Parameters
    ----------
    method : str
        One of ``METHODS``.
    N, B : int
        Pairs and batch size, ``2 <= B <= N``.
    seed : int, default=0
    loss : theory.Loss or str, default='infonce'
    candidates : int, optional
        OSGD's sampled variant: score this many uniform batches per update (None: all ``C(N,B)``).
    top : int, default=1
        OSGD's sampled variant: step on the ``top`` highest-loss candidates.

    Returns
    -------
    Selector
    """
    if method not in _CLASSES:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    N, B = check_batch_size(N, B)
    check_int("seed", seed)
    loss = as_loss(loss)
    if B < loss.min_batch:
        raise ValueError(f"loss {loss.name!r} needs batches of size >= {loss.min_batch}, got B={B}")
    if method in PARTITION_METHODS and N % B:
        raise ValueError(f"method {method!r} uses partitions and needs B to divide N; got N={N}, B={B}")
    if method == "osgd":
        if candidates is not None:
            check_int("osgd_candidates", candidates, low=1)
            check_int("osgd_top", top, low=1, high=candidates)
        elif math.comb(N, B) > OSGD_EXACT_LIMIT:
            raise ValueError(f"method 'osgd' scores all C(N={N}, B={B}) = {math.comb(N, B):.3g} batches per update "
                             f"(limit {OSGD_EXACT_LIMIT:.0e}); set candidates (--osgd-candidates K)")
        return OSGD(N, B, seed=seed, loss=loss, candidates=candidates, top=top)
    return _CLASSES[method](N, B, seed=seed, loss=loss)


class SelectorSampler:
    """A ``torch.utils.data`` batch sampler over a selector: yields lists of ``B`` indices.

    ``embed`` returns the current ``(U, V)`` (unit-norm rows) for selectors that look at them.
    ``full`` yields ``[0..N-1]``; ``all`` yields every ``C(N, B)`` batch once per epoch.
    """

    def __init__(self, selector: Selector, embed):
        self.selector, self.embed = selector, embed

    def __iter__(self):
        for target in self.selector.epoch(self.embed):
            if isinstance(target, Family):
                for b in batch_chunks(target, 4096, "cpu"):
                    yield from (row.tolist() for row in b)
            else:
                yield from (row.tolist() for row in target)

    def __len__(self):
        s = self.selector
        n = math.comb(s.N, s.B) if s.name == "all" else s.updates_per_epoch() * (s.top if s.name == "osgd" and s.candidates else 1)
        if n > sys.maxsize:
            raise ValueError(f"an epoch of selector {s.name!r} has {n:.3g} batches, more than len() can report "
                             f"({sys.maxsize}); iterate without len()")
        return n
