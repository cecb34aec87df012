"""Batch-selection strategies behind one interface.

A selector decides, epoch by epoch, which objective each gradient update descends:

==========  =============================================================================  =============
name        each update                                                                    updates/epoch
==========  =============================================================================  =============
full        the full-batch loss                                                            1
all         the all-C(N,B) objective (exact; streamed, pairwise or formula)                1
fixed       one batch of a partition drawn once for the whole run                          N/B
shuffle     one batch of a fresh uniformly random partition each epoch (SGD w/o repl.)     N/B
replace     one uniformly random batch (SGD with replacement)                              N/B
dataloader  one batch of a reshuffled epoch cut into batches of B, the short last batch    ceil(N/B)
            kept (``DataLoader(shuffle=True, drop_last=False)``; any N, B)
osgd        the arg-max-loss batch over all C(N,B) at the current embeddings               N/B
            (or, with ``candidates=k``, the ``top`` highest of k random batches)
sc          one batch of the spectral-clustering partition, recomputed each epoch          N/B
matching    one pair of the maximum-loss perfect matching (B = 2, exact), each epoch       N/2
kmeans      one cluster of an equal-size k-means partition of ``[u_i, v_i]``, each         N/B
            epoch
jest        B of a uniform super-batch of ``super_batch``, chosen jointly by               N/B
            learnability, chunk by chunk (JEST)
rho         the B of a uniform super-batch with the highest reducible loss (RHO-LOSS)      N/B
==========  =============================================================================  =============

Each selector counts the batch losses it evaluates to choose (``selector.evals``; the selection cost the
training loop logs beside the updates).

``selector.epoch(embed)`` yields targets: a :class:`theory.Family` (``full``/``all``) or a
LongTensor ``(1, B)`` / ``(q, B)`` of batches whose mean loss is the update's objective.
``embed()`` returns the current ``(U, V)``; selectors that look at the embeddings call it when
they choose (``osgd``, ``jest``, ``rho``: before every update; ``sc``, ``matching``, ``kmeans``: once per epoch).

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
from simulations.selection.kmeans import kmeans_partition
from simulations.selection.learnability import Learnability, jest_select, rho_select
from simulations.selection.matching import max_loss_matching
from simulations.selection.spectral import spectral_partition
from simulations.selection import labels  # noqa: F401,E402  (class-aware batch samplers)

METHODS = ("full", "all", "fixed", "shuffle", "replace", "dataloader", "osgd", "sc", "matching", "kmeans", "jest", "rho")
PARTITION_METHODS = ("fixed", "shuffle", "sc", "matching", "kmeans")
SUPER_BATCH_METHODS = ("jest", "rho")


def osgd_batch(U: torch.Tensor, V: torch.Tensor, B: int, loss="infonce", *,
               memory_budget: int = DEFAULT_MEMORY_BUDGET) -> torch.Tensor:
    """The arg-max-loss batch over all ``C(N, B)`` batches, shape ``(B,)`` (exact; streamed), for any loss
    (a :class:`theory.Loss` or a registered name).

    ``B = 2`` uses the ``O(N^2)`` pair-loss matrix; otherwise every batch is scored chunk by chunk.
    Refuses (ValueError) more than ``OSGD_EXACT_LIMIT`` batches: use ``make_selector("osgd", ...,
    candidates=k)`` (the authors' sampled variant) there.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        Unit-norm rows.
    B : int
        Batch size, ``2 <= B <= N``.
    loss : Loss or str, default='infonce'
    memory_budget : int, default=268435456
        Bytes of scratch memory per chunk.

    Returns
    -------
    torch.Tensor, shape (B,)
        The batch's indices (int64).

    Raises
    ------
    ValueError
        If ``C(N, B)`` exceeds ``OSGD_EXACT_LIMIT``.
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
    """Base class: ``__init__`` only stores arguments; randomness comes from ``seed``.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).
    """

    name = "base"

    def __init__(self, N: int, B: int, *, seed: int = 0, loss="infonce"):
        self.N, self.B, self.seed, self.loss = N, B, seed, loss        # a Loss object or InfoNCE's string
        self._gen = None
        self.evals = 0                    # batch losses evaluated to choose (the selection cost)

    @property
    def generator(self) -> torch.Generator:
        if self._gen is None:
            self._gen = torch.Generator().manual_seed(self.seed)
        return self._gen

    def updates_per_epoch(self) -> int:
        """Number of gradient updates in one epoch.

        Returns
        -------
        int
        """
        return self.N // self.B

    @abstractmethod
    def epoch(self, embed):
        """Yield this epoch's update targets (a Family, or a LongTensor of batches).

        Parameters
        ----------
        embed : callable
            ``embed()`` returns the current ``(U, V)`` (unit-norm rows); called only by selectors that look at them.

        Yields
        ------
        theory.Family or torch.Tensor
        """

    def state(self) -> dict:
        """Serialisable state for checkpoints (the generator's state).

        Returns
        -------
        dict
        """
        return {"gen": self.generator.get_state()}

    def load_state(self, state: dict) -> None:
        """Restore the state saved by :meth:`state`.

        Parameters
        ----------
        state : dict
        """
        self.generator.set_state(state["gen"])

    def _random_partition(self) -> torch.Tensor:
        return torch.randperm(self.N, generator=self.generator).reshape(-1, self.B)


class Full(Selector):
    """The full batch: one update per epoch.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).
    """
    name = "full"

    def updates_per_epoch(self):
        return 1

    def epoch(self, embed):
        yield Family.full(self.N)


class AllBatches(Selector):
    """The exact all-``C(N, B)`` objective: one update per epoch.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).
    """
    name = "all"

    def updates_per_epoch(self):
        return 1

    def epoch(self, embed):
        yield Family.all(self.N, self.B)


class Fixed(Selector):
    """One random partition drawn once (from ``seed``) and kept for the run: ``N/B`` updates per epoch.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).
    """
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
    """A fresh uniformly random partition each epoch (SGD without replacement).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).
    """
    name = "shuffle"

    def epoch(self, embed):
        yield from (p[None, :] for p in self._random_partition())


class Replace(Selector):
    """``N/B`` independent uniformly random batches per epoch (SGD with replacement).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).
    """
    name = "replace"

    def epoch(self, embed):
        for _ in range(self.updates_per_epoch()):
            yield torch.randperm(self.N, generator=self.generator)[: self.B][None, :]


class DataLoaderEpochs(Selector):
    """Reshuffled epochs as ``DataLoader(range(N), batch_size=B, shuffle=True, drop_last=False)`` yields
    them: ``floor(N/B)`` batches of B and a last batch of ``N mod B`` (if nonzero; a single pair has
    loss 0 and its update is a zero step). The expected epoch objective is
    ``Family.dataloader_expectation(N, B)``.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N`` (need not divide ``N``).
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).
    """

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

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).
    candidates : int or None, default=None
        Batches scored per update (None: all ``C(N, B)``), >= 1.
    top : int, default=1
        Candidates stepped on per update, ``1 <= top <= candidates``.

    References
    ----------
    Kawaguchi & Lu, *Ordered SGD*, AISTATS 2020; Cho et al., TMLR 2024, Sec. 5.
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
            self.evals += math.comb(self.N, self.B)
            return osgd_batch(U, V, self.B, self.loss)[None, :]
        self.evals += self.candidates
        cand = torch.argsort(torch.rand(self.candidates, self.N, generator=self.generator), 1)[:, : self.B]
        with torch.no_grad():
            vals = batch_values(U, V, cand.to(U.device), self.loss, check=False)
        return cand[torch.topk(vals.cpu(), self.top).indices].to(U.device)


class Spectral(Selector):
    """Spectral clustering of the current embeddings into ``N/B`` equal-size batches, recomputed each epoch
    (:func:`simulations.selection.spectral.spectral_partition`).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss the selector scores batches with (``osgd``, ``sc``).

    References
    ----------
    Cho et al., TMLR 2024, Sec. 5.
    """
    name = "sc"

    def epoch(self, embed):
        U, V = embed()
        seed = int(torch.randint(2**31 - 1, (1,), generator=self.generator))
        part = spectral_partition(U.detach(), V.detach(), self.B, loss=self.loss, seed=seed)
        self.evals += self.N * (self.N - 1) // 2          # the affinity's pair terms
        yield from (p[None, :] for p in part)


class Matching(Selector):
    """``B = 2``: the pairs of the maximum-weight perfect matching on the pair losses ``L({i, j})``
    (:func:`simulations.selection.matching.max_loss_matching`, exact), recomputed each epoch, served in a
    seeded random order; ties broken by a seeded relabelling.

    The matching maximises ``sum_{{i, j} in M} L({i, j})``, hence the partition's mean batch loss
    ``(2/N) sum_{{i, j} in M} L({i, j})``: the exact maximum-loss partition into pairs. Each epoch counts
    ``N (N-1) / 2`` pair-loss evaluations.

    Parameters
    ----------
    N : int
        Number of pairs, even, >= 2.
    B : int
        Batch size; must be 2 (:func:`make_selector` refuses any other).
    seed : int, default=0
        Seed of the selector's torch generator (the tie-breaking relabelling and the serving order).
    loss : Loss or str, default='infonce'
        The loss whose pair values ``L({i, j})`` weight the matching.

    References
    ----------
    Edmonds, "Paths, trees, and flowers", Canad. J. Math. 17 (1965) (the blossom algorithm).
    """

    name = "matching"

    def epoch(self, embed):
        U, V = embed()
        P = pair_loss_matrix(U, V, self.loss)
        self.evals += self.N * (self.N - 1) // 2
        pairs = max_loss_matching(P, generator=self.generator).to(U.device)
        order = torch.randperm(len(pairs), generator=self.generator).to(U.device)
        yield from (p[None, :] for p in pairs[order])


class KMeans(Selector):
    """One cluster per batch: an equal-size k-means partition of the features ``[u_i, v_i]``
    (:func:`simulations.selection.kmeans.kmeans_partition`), recomputed each epoch (no loss evaluations).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        Stored for the common interface; k-means does not evaluate the loss.

    References
    ----------
    Hofstätter, Lin, Yang, Lin & Hanbury, *Efficiently Teaching an Effective Dense Retriever with Balanced Topic
    Aware Sampling*, SIGIR 2021.
    """

    name = "kmeans"

    def epoch(self, embed):
        U, V = embed()
        yield from (p[None, :] for p in kmeans_partition(U, V, self.B, generator=self.generator))


class _SuperBatch(Selector):
    def __init__(self, N, B, *, seed=0, loss="infonce", super_batch: int | None = None, chunks: int | None = None,
                 reference=None):
        super().__init__(N, B, seed=seed, loss=loss)
        self.super_batch = min(N, 2 * B) if super_batch is None else super_batch
        self.chunks = B if chunks is None else check_chunks(B, chunks)
        self.ell = Learnability(as_loss(loss), reference)

    def epoch(self, embed):
        for _ in range(self.updates_per_epoch()):
            U, V = embed()
            cand = torch.randperm(self.N, generator=self.generator)[: self.super_batch]
            before = self.ell.evals
            b = self._select(U, V, cand)
            self.evals += self.ell.evals - before
            yield b.to(U.device)[None, :]


class JEST(_SuperBatch):
    """JEST: ``B`` of a uniform super-batch chosen jointly by learnability in ``chunks`` chunks
    (:func:`simulations.selection.learnability.jest_select`).

    Before each update a super-batch ``C`` of ``super_batch`` pairs is drawn uniformly without replacement; the
    ``B`` pairs are then chosen in ``chunks`` chunks of ``B / chunks``, each sampled without replacement with
    probabilities ``softmax(ell(A + c) - ell(A))`` over the candidates ``c`` not yet chosen, ``A`` the pairs chosen
    so far and ``ell(A) = |A| (L(A; learner) - L(A; reference))`` the set learnability.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss of the learnability.
    super_batch : int or None, default=None
        Candidates drawn per update, ``B < super_batch <= N`` (None: ``min(N, 2B)``).
    chunks : int or None, default=None
        Chunks per selection, dividing ``B``. Must be given when the class is built directly;
        :func:`make_selector` validates it and turns None into ``B`` (one pair per chunk).
    reference : (torch.Tensor, torch.Tensor) or None, default=None
        The reference model's unit-norm ``(U_ref, V_ref)`` (None: reference loss 0).

    References
    ----------
    Evans, Parthasarathy, Merzic & Hénaff, *Data curation via joint example selection further accelerates multimodal
    learning*, NeurIPS 2024 (arXiv 2406.17711), Sec. 3 and Algorithm 1.
    """

    name = "jest"

    def _select(self, U, V, cand):
        return jest_select(U, V, cand, self.B, self.chunks, self.ell, self.generator)


class RHO(_SuperBatch):
    """RHO-LOSS: the ``B`` pairs of a uniform super-batch with the highest reducible (leave-one-out) loss
    (:func:`simulations.selection.learnability.rho_select`).

    Before each update a super-batch ``C`` of ``super_batch`` pairs is drawn uniformly without replacement; pair
    ``i`` scores ``ell(C) - ell(C - i)`` with ``ell(A) = |A| (L(A; learner) - L(A; reference))``, and the ``B``
    highest are kept (deterministic top-k).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    B : int
        Batch size, ``2 <= B <= N``.
    seed : int, default=0
        Seed of the selector's torch generator.
    loss : Loss or str, default='infonce'
        The loss of the learnability.
    super_batch : int or None, default=None
        Candidates drawn per update, ``B < super_batch <= N`` (None: ``min(N, 2B)``).
    chunks : int or None, default=None
        Not used (JEST's option; the class shares JEST's constructor).
    reference : (torch.Tensor, torch.Tensor) or None, default=None
        The reference model's unit-norm ``(U_ref, V_ref)`` (None: reference loss 0).

    References
    ----------
    Mindermann et al., *Prioritized Training on Points that are Learnable, Worth Learning, and Not Yet Learnt*,
    ICML 2022 (arXiv 2206.07137), eq. (3) and Algorithm 1.
    """

    name = "rho"

    def _select(self, U, V, cand):
        return rho_select(U, V, cand, self.B, self.ell)


_CLASSES = {c.name: c for c in (Full, AllBatches, Fixed, Shuffle, Replace, DataLoaderEpochs, OSGD, Spectral, Matching,
                                KMeans, JEST, RHO)}


def make_selector(method: str, N: int, B: int, *, seed: int = 0, loss="infonce",
                  candidates: int | None = None, top: int = 1, super_batch: int | None = None, chunks: int | None = None,
                  reference=None) -> Selector:
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
    super_batch : int, optional
        ``jest``/``rho``: candidates drawn per update, ``B < super_batch <= N`` (None: ``min(N, 2B)``).
    chunks : int, optional
        ``jest``: chunks per selection, dividing ``B`` (None: ``B``, one pair per chunk; with one chunk the
        choice rests on single pairs' learnability, which is 0 for losses without a positive-only term such as
        InfoNCE — a uniform choice).
    reference : (torch.Tensor, torch.Tensor), optional
        ``jest``/``rho``: the reference model's unit-norm ``(U_ref, V_ref)`` (None: reference loss 0);
        :func:`simulations.selection.learnability.reference_model` gives the toolkit's.

    Returns
    -------
    Selector

    Raises
    ------
    ValueError
        Unknown method, sizes out of range, ``matching`` with ``B != 2``, bad options.
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
    if method == "matching" and B != 2:
        raise ValueError(f"method 'matching' is the exact maximum-loss batching for B = 2 (a perfect matching); got B={B}")
    if method in SUPER_BATCH_METHODS:
        check_super_batch(N, B, super_batch)
        if method == "jest":
            chunks = B if chunks is None else check_chunks(B, chunks)
        if reference is not None:
            check_embeddings(*reference)
            if reference[0].shape[0] != N:
                raise ValueError(f"reference must have N={N} rows, got {reference[0].shape[0]}")
        return _CLASSES[method](N, B, seed=seed, loss=loss, super_batch=super_batch, chunks=chunks, reference=reference)
    return _CLASSES[method](N, B, seed=seed, loss=loss)


def check_super_batch(N: int, B: int, super_batch) -> int | None:
    """Validate ``super_batch`` of the ``jest``/``rho`` selectors.

    Parameters
    ----------
    N : int
        Number of pairs.
    B : int
        Batch size.
    super_batch : int or None
        Candidates per update, ``B < super_batch <= N``; None (the selectors' default ``min(N, 2B)``) needs
        ``B < N``.

    Returns
    -------
    int or None
        ``super_batch`` as an int, or None.

    Raises
    ------
    ValueError
        If ``super_batch`` is not an integer in ``[B + 1, N]`` (the message names it), or it is None and ``B = N``
        (no choice left).
    """
    if super_batch is None:
        if N == B:
            raise ValueError(f"methods 'jest'/'rho' choose B of a larger super-batch; B = N = {N} leaves no choice")
        return None
    return check_int("super_batch", super_batch, low=B + 1, high=N)


def check_chunks(B: int, chunks) -> int:
    """Validate JEST's ``chunks``.

    Parameters
    ----------
    B : int
        Batch size.
    chunks : int
        Chunks per selection, in ``[1, B]`` and dividing ``B``.

    Returns
    -------
    int
        ``chunks`` as an int.

    Raises
    ------
    ValueError
        If ``chunks`` is not an integer in ``[1, B]`` or does not divide ``B`` (the message names ``jest_chunks``).
    """
    chunks = check_int("jest_chunks", chunks, low=1, high=B)
    if B % chunks:
        raise ValueError(f"jest_chunks must divide B={B}, got {chunks}")
    return chunks


class SelectorSampler:
    """A ``torch.utils.data`` batch sampler over a selector: yields lists of ``B`` indices.

    ``embed`` returns the current ``(U, V)`` (unit-norm rows) for selectors that look at them.
    ``full`` yields ``[0..N-1]``; ``all`` yields every ``C(N, B)`` batch once per epoch.

    Parameters
    ----------
    selector : Selector
    embed : callable
        ``embed()`` returns the current ``(U, V)`` (unit-norm rows); called only by selectors that look at them.
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
