r"""Batch families: the sets of mini-batches a contrastive objective averages over.

A *batch* is a set ``S`` of distinct indices in ``[0, N)``; a *family* ``F`` is a list of batches
(repeats allowed, sizes may differ), each with a weight ``w_S > 0`` (1 unless given). The family
objective is the weighted mean of the per-batch mean losses (see :mod:`theory.losses`):

.. math:: L_F = \frac{\sum_{S \in F} w_S L(S)}{\sum_{S \in F} w_S}.

A ``DataLoader`` epoch weights each step (batch) 1, as SGD does; a batch of size 1 has loss 0 and
appears only where a sampler produces it (``drop_last=False`` with ``N mod B = 1``); explicit
families need sizes >= 2. Internally a family is a tuple of :class:`Part` s, each of one batch
size: stored batches with per-batch weights, or all ``C(N, B)`` batches (never materialised) with
one common weight. ``.B`` and a 2-D ``.batches`` exist only for uniform (one-size) families.

One type, :class:`Family`, covers every kind used by the paper and by the claims:

==========================  =====================================================
``Family.full(N)``          the single batch ``[N]`` (full-batch loss)
``Family.all(N, B)``        all ``C(N, B)`` batches, enumerated lazily
``Family.partition``        ``N/B`` disjoint batches (contiguous, or random)
``Family.from_batches``     an explicit list (also ``Family.from_json``)
``Family.random``           ``n`` uniform random batches (with a seed)
``Family.fano()``           the Fano plane, a 2-(7, 3, 1) design
``Family.affine_plane(q)``  AG(2, q) for prime q, a 2-(q^2, q, 1) design
==========================  =====================================================

References
----------
Cho et al., "Mini-Batch Optimization of Contrastive Loss", TMLR 2024 (arXiv 2307.05906).
"""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._checks import check_batch_size, check_int

#: Largest number of batches that ``Family.all(N, B).batches`` will materialise.
#: Above it the numpy oracle refuses; :func:`simulations.objective` streams
#: the enumeration or uses the exact polynomial-time formula instead.
ENUMERATION_LIMIT = 2_000_000


def combinations_range(N: int, B: int, start: int, stop: int) -> np.ndarray:
    """Batches number ``start`` to ``stop - 1`` of all ``C(N, B)`` subsets, shape ``(stop-start, B)``.

    Uses the combinatorial number system (colexicographic order): rank
    ``r = sum_k C(c_k, k+1)`` with ``c_0 < c_1 < ... < c_{B-1}``, decoded for all ranks
    at once with ``B`` vectorised searches. Chunks of any range can therefore be
    generated independently (streaming without materialising all batches).

    Parameters
    ----------
    N : int
        Number of pairs (indices ``0..N-1``), >= 2.
    B : int
        Batch size, ``1 <= B <= N``.
    start, stop : int
        The range of ranks, ``0 <= start <= stop <= C(N, B)``.

    Returns
    -------
    numpy.ndarray, shape (stop - start, B)
        int64, each row increasing.
    """
    total = math.comb(N, B)
    if not 0 <= start <= stop <= total:
        raise ValueError(f"need 0 <= start <= stop <= C({N},{B}) = {total}, got start={start}, stop={stop}")
    if total >= 2**62:
        raise ValueError(f"C({N},{B}) = {total} is too large to index with 64-bit ranks")
    r = np.arange(start, stop, dtype=np.int64)
    out = np.empty((stop - start, B), dtype=np.int64)
    c = np.arange(N, dtype=np.int64)
    for k in range(B, 0, -1):
        table = np.array([math.comb(int(x), k) for x in c], dtype=np.int64)  # nondecreasing in c
        ck = np.searchsorted(table, r, side="right") - 1
        out[:, k - 1] = ck
        r = r - table[ck]
    return out


def uniform_partitions(N: int, B: int):
    """Every partition of ``[0, N)`` into ``N/B`` unordered blocks of size ``B`` (as ``(N/B, B)`` arrays).

    There are ``N! / ((B!)^(N/B) (N/B)!)`` of them (105 for N = 8, B = 2).

    Parameters
    ----------
    N : int
        Number of pairs (indices ``0..N-1``), >= 2.
    B : int
        Block size; must divide ``N``.

    Yields
    ------
    numpy.ndarray, shape (N/B, B)
        One partition.
    """
    N, B = check_batch_size(N, B)
    if N % B:
        raise ValueError(f"a partition needs B to divide N; got N={N}, B={B}")

    def rec(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for others in itertools.combinations(rest, B - 1):
            left = tuple(x for x in rest if x not in others)
            for tail in rec(left):
                yield [(first, *others)] + tail
    for p in rec(tuple(range(N))):
        yield np.array(p, dtype=np.int64)


#: Kinds a sampler produces; only these may hold batches of size 1 (loss 0), also when read from JSON.
SAMPLER_KINDS = ("dataloader", "dataloader_expectation")
#: Every ``kind`` label (the JSON reader accepts only these).
#: Families built from labels or ties (:meth:`Family.no_duplicates` and the class-aware constructors).
LABEL_KINDS = ("no_duplicates", "m_per_class", "class_balanced", "class_pure", "batch_binding")
KINDS = ("full", "all", "partition", "explicit", "random", "fano", "affine_plane", "union", "mixture") + SAMPLER_KINDS \
    + LABEL_KINDS


def _check_weights(weights, n: int) -> np.ndarray:
    raw = np.asarray(weights)
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"weights must be numbers (not strings or booleans), got dtype {raw.dtype}")
    w = raw.astype(np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise ValueError(f"weights must have one entry per batch ({n}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        bad = np.flatnonzero(~(np.isfinite(w) & (w > 0)))
        raise ValueError(f"weights must be finite and > 0; entries {bad[:5].tolist()} are {w[bad[:5]].tolist()}")
    return w


@dataclass(frozen=True, eq=False)
class Part:
    """Batches of one size ``B``: ``stored`` (``(n, B)`` int64) with per-batch ``weights`` (``(n,)``),
    or, with ``stored=None``, all ``C(N, B)`` batches each of weight ``weights`` (a float).

    Parameters
    ----------
    B : int
        The batch size.
    stored : numpy.ndarray of shape (n, B), or None
        The batches, or None for all ``C(N, B)``.
    weights : numpy.ndarray of shape (n,), or float
        Per-batch weights, or the common weight of all ``C(N, B)`` batches.
    """

    B: int
    stored: np.ndarray | None
    weights: np.ndarray | float

    def n_batches(self, N: int) -> int:
        """Number of batches of the part.

        Parameters
        ----------
        N : int
            The family's number of pairs.

        Returns
        -------
        int
        """
        return math.comb(N, self.B) if self.stored is None else int(self.stored.shape[0])

    def total_weight(self, N: int) -> float:
        """``sum_S w_S`` over the part (``inf`` if it exceeds the float range, e.g. all C(1100, 550)).

        Parameters
        ----------
        N : int
            The family's number of pairs.

        Returns
        -------
        float
        """
        if self.stored is not None:
            return float(np.sum(self.weights))
        try:                                   # exact for C(N, B) < 2^53
            return float(self.weights) * math.comb(N, self.B)
        except OverflowError:
            return math.inf

    def batch_weights(self, N: int) -> np.ndarray:
        """The weight of every batch of the part, in order.

        Parameters
        ----------
        N : int
            The family's number of pairs.

        Returns
        -------
        numpy.ndarray, shape (n,)
        """
        if self.stored is None:
            return np.full(self.n_batches(N), float(self.weights))
        return self.weights

    def cooccurrence(self, N: int, weighted: bool = False) -> np.ndarray:
        """``(N, N)`` float: number (``weighted``: total weight) of this part's batches holding i and j.

        Parameters
        ----------
        N : int
            The family's number of pairs.
        weighted : bool, default=False
            Sum the weights instead of counting.

        Returns
        -------
        numpy.ndarray, shape (N, N)
        """
        if self.stored is None:
            w = float(self.weights) if weighted else 1.0
            return w * (math.comb(N - 2, self.B - 2) * (1 - np.eye(N)) + math.comb(N - 1, self.B - 1) * np.eye(N))
        X = np.zeros((self.stored.shape[0], N))
        np.put_along_axis(X, self.stored, 1.0, axis=1)
        return (X * (self.weights[:, None] if weighted else 1.0)).T @ X

    def scaled(self, a: float) -> "Part":
        """The same batches with every weight multiplied by ``a``.

        Parameters
        ----------
        a : float
            The factor, > 0.

        Returns
        -------
        Part
        """
        return Part(self.B, self.stored, self.weights * a)

    def chunks(self, N: int, size: int):
        """Yield ``(batches (n, B), weights (n,))`` in consecutive chunks of at most ``size`` rows.

        Parameters
        ----------
        N : int
            The family's number of pairs.
        size : int
            Largest number of rows per chunk, >= 1.

        Yields
        ------
        tuple of numpy.ndarray
            ``(batches (n, B), weights (n,))``.
        """
        n = self.n_batches(N)
        for start in range(0, n, size):
            stop = min(start + size, n)
            if self.stored is None:
                yield combinations_range(N, self.B, start, stop), np.full(stop - start, float(self.weights))
            else:
                yield self.stored[start:stop], self.weights[start:stop]


@dataclass(frozen=True, eq=False)
class Family:
    """A weighted family of batches over indices ``[0, N)``, of one size or of mixed sizes.

    Construct with the class methods; ``__init__`` only stores. ``kind`` is one of
    ``'full', 'all', 'partition', 'explicit', 'random', 'fano', 'affine_plane', 'dataloader',
    'dataloader_expectation', 'union', 'mixture'``. The batches are the concatenation of the
    ``parts`` in order; an all-``C(N, B)`` part is streamed (:meth:`chunks`), never stored.

    Attributes
    ----------
    N : int
    kind : str
    parts : tuple of Part
        The one-size parts, in order.
    """

    N: int
    kind: str
    parts: tuple = field(repr=False)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def _uniform(cls, N: int, kind: str, batches: np.ndarray, weights=None) -> "Family":
        n = batches.shape[0]
        w = np.ones(n) if weights is None else _check_weights(weights, n)
        return cls(N, kind, (Part(int(batches.shape[1]), batches, w),))

    @classmethod
    def full(cls, N: int) -> "Family":
        """The single batch ``[0, N)``: the full-batch loss.

        Parameters
        ----------
        N : int
            Number of pairs (indices ``0..N-1``), >= 2.

        Returns
        -------
        Family
            One batch of weight 1.
        """
        N = check_int("N", N, low=2)
        return cls._uniform(N, "full", np.arange(N, dtype=np.int64)[None, :])

    @classmethod
    def all(cls, N: int, B: int) -> "Family":
        """All ``C(N, B)`` batches (lazy: no enumeration at construction).

        Parameters
        ----------
        N : int
            Number of pairs (indices ``0..N-1``), >= 2.
        B : int
            Batch size, ``2 <= B <= N``.

        Returns
        -------
        Family
            Every ``B``-subset once, weight 1 each.

        Raises
        ------
        ValueError
            If ``B`` is out of range.
        """
        N, B = check_batch_size(N, B)
        if B == N:
            return cls.full(N)
        return cls(N, "all", (Part(B, None, 1.0),))

    @classmethod
    def partition(cls, N: int, B: int, seed: int | None = 0) -> "Family":
        """``N/B`` disjoint batches of size ``B``.

        ``seed=None`` gives the contiguous partition ``[0..B-1], [B..2B-1], ...``;
        an integer seed gives a uniformly random partition.

        Parameters
        ----------
        N : int
            Number of pairs (indices ``0..N-1``), >= 2.
        B : int
            Batch size; must divide ``N``.
        seed : int or None, default=0
            Seed of the random partition; None for the contiguous one.

        Returns
        -------
        Family

        Raises
        ------
        ValueError
            If ``B`` does not divide ``N`` or is out of range.
        """
        N, B = check_batch_size(N, B)
        if N % B:
            raise ValueError(f"a partition needs B to divide N; got N={N}, B={B} (N % B = {N % B}); "
                             "Family.dataloader_epoch(N, B, drop_last=False) keeps a short last batch")
        order = np.arange(N) if seed is None else np.random.default_rng(seed).permutation(N)
        return cls._uniform(N, "partition", order.reshape(N // B, B).astype(np.int64))

    @classmethod
    def from_batches(cls, batches, N: int, *, weights=None, kind: str = "explicit") -> "Family":
        """An explicit family: a list of batches (each a list of distinct indices in ``[0, N)``), sizes may differ.

        Parameters
        ----------
        batches : list of lists of int (ragged allowed), or an ``(n, B)`` integer array
        N : int
        weights : sequence of n finite numbers > 0, optional (default: all 1)
        kind : str, the label kept in ``kind`` (sampler kinds may hold batches of size 1)

        Returns
        -------
        Family

        Raises
        ------
        ValueError
            For an index outside ``[0, N)``, a repeated index in a batch, a batch of size < 2 (outside sampler kinds)
            or a weight that is not finite and > 0.
        """
        N = check_int("N", N, low=2)
        rows = cls._parse_rows(batches, N)
        w = np.ones(len(rows)) if weights is None else _check_weights(weights, len(rows))
        low = 1 if kind in SAMPLER_KINDS else 2
        sizes = np.array([r.size for r in rows])
        if sizes.min() < low or sizes.max() > N:
            k = int(np.flatnonzero((sizes < low) | (sizes > N))[0])
            raise ValueError(f"batch sizes must be in [{low}, N={N}]; batch {k} has size {sizes[k]} "
                             "(a batch of one pair has loss 0: only a sampler may produce it)")
        if kind == "partition" and not np.array_equal(np.sort(np.concatenate(rows)), np.arange(N)):
            raise ValueError("kind 'partition' needs batches that cover [0, N) exactly once")
        parts, start = [], 0
        for k in range(1, len(rows) + 1):             # one part per run of equal sizes: order is kept
            if k == len(rows) or sizes[k] != sizes[start]:
                parts.append(Part(int(sizes[start]), np.stack(rows[start:k]), w[start:k]))
                start = k
        return cls(N, kind, tuple(parts))

    @staticmethod
    def _parse_rows(batches, N: int) -> list:
        if isinstance(batches, np.ndarray) and batches.ndim == 2:
            seq = list(batches)
        elif isinstance(batches, (list, tuple)):
            seq = list(batches)
        else:
            raise ValueError(f"batches must be a list of integer lists or an (n, B) integer array, got {type(batches).__name__}")
        if not seq:
            raise ValueError("batches must be a non-empty list (an empty family has no objective)")
        rows = []
        for k, b in enumerate(seq):
            raw = np.asarray(b)
            if raw.ndim != 1 or raw.size == 0:
                raise ValueError(f"batch {k} must be a non-empty flat list of indices, got shape {raw.shape}")
            if raw.dtype.kind not in "iu":
                raise ValueError(f"batch {k} must hold integer indices, got dtype {raw.dtype} (floats, bools and "
                                 "strings are refused, never truncated); e.g. [[0, 1, 3], [1, 2]]")
            r = raw.astype(np.int64)
            if r.min() < 0 or r.max() >= N:
                raise ValueError(f"batch indices must lie in [0, N={N}); batch {k} has range [{r.min()}, {r.max()}]")
            if np.unique(r).size != r.size:
                raise ValueError(f"each batch must hold distinct indices; batch {k} = {r.tolist()} repeats one")
            rows.append(r)
        return rows

    @classmethod
    def from_json(cls, path) -> "Family":
        """Read a family written by :meth:`to_json`: ``{"N": 5, "batches": [[0, 1, 2], [0, 2]], "weights": [1, 0.5]}``
        (``weights`` optional) or ``{"N": 9, "parts": [{"B": 3, "all": true, "weight": 0.1}, {"batches": ...}]}``.

        Parameters
        ----------
        path : str or path-like
            The JSON file.

        Returns
        -------
        Family

        Raises
        ------
        ValueError
            If the file is missing, not JSON, or does not describe a valid family.
        """
        data = json.loads(Path(path).read_text())
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data, source: str = "family") -> "Family":
        """The inverse of :meth:`to_json` (a dict).

        Parameters
        ----------
        data : dict
            As written by :meth:`to_json`.
        source : str, default='family'
            What to call the data in error messages (e.g. the file name).

        Returns
        -------
        Family

        Raises
        ------
        ValueError
            If ``data`` does not describe a valid family.
        """
        if not isinstance(data, dict) or "N" not in data or ("batches" not in data and "parts" not in data):
            raise ValueError(f"{source}: expected a JSON object with keys 'N' and 'batches' (optional 'weights') "
                             "or 'N' and 'parts'")
        kind = data.get("kind", "explicit")
        if kind not in KINDS:
            raise ValueError(f"{source}: kind must be one of {KINDS}, got {kind!r}")
        if "batches" in data and "parts" in data:
            raise ValueError(f"{source}: give either 'batches' or 'parts', not both")
        if "batches" in data:
            return cls.from_batches(data["batches"], data["N"], weights=data.get("weights"), kind=kind)
        N = check_int("N", data["N"], low=2)
        parts = []
        for p in data["parts"]:
            if not isinstance(p, dict):
                raise ValueError(f"{source}: every part must be an object, got {p!r}")
            if p.get("all"):
                B = check_int("part B", p.get("B"), low=2, high=N)
                w = _check_weights(p.get("weight", 1.0), 1)[0]
                parts.append(Part(B, None, float(w)))
            else:
                parts += cls.from_batches(p.get("batches", []), N, weights=p.get("weights"), kind=kind).parts
        if not parts:
            raise ValueError(f"{source}: 'parts' must be non-empty")
        return cls(N, kind, tuple(parts))

    @classmethod
    def random(cls, N: int, B: int, n_batches: int, seed: int = 0) -> "Family":
        """``n_batches`` independent uniform random ``B``-subsets (repeats possible).

        Parameters
        ----------
        N : int
            Number of pairs (indices ``0..N-1``), >= 2.
        B : int
            Batch size, ``2 <= B <= N``.
        n_batches : int
            Number of batches, >= 1.
        seed : int, default=0
            Seed of ``numpy.random.default_rng``.

        Returns
        -------
        Family
        """
        N, B = check_batch_size(N, B)
        n_batches = check_int("n_batches", n_batches, low=1)
        rng = np.random.default_rng(seed)
        arr = np.argsort(rng.random((n_batches, N)), axis=1)[:, :B]
        return cls._uniform(N, "random", np.sort(arr, axis=1).astype(np.int64))

    @classmethod
    def fano(cls) -> "Family":
        """The Fano plane: 7 lines of 3 points on 7 points, every pair in exactly one line.

        Returns
        -------
        Family
            N = 7, B = 3, seven batches of weight 1 (a 2-(7, 3, 1) design: pair-balanced).
        """
        lines = [[(i + s) % 7 for s in (0, 1, 3)] for i in range(7)]  # difference set {0, 1, 3} mod 7
        return cls.from_batches(lines, 7, kind="fano")

    @classmethod
    def affine_plane(cls, q: int) -> "Family":
        """The affine plane AG(2, q), q prime: ``q^2`` points, ``q^2 + q`` lines of ``q`` points.

        Point ``(x, y)`` has index ``q x + y``. Lines are ``{y = m x + c}`` and ``{x = c}``;
        every pair of points lies on exactly one line (a 2-(q^2, q, 1) design).

        Parameters
        ----------
        q : int
            A prime.

        Returns
        -------
        Family
            N = q^2, B = q (a 2-(q^2, q, 1) design: pair-balanced).

        Raises
        ------
        ValueError
            If ``q`` is not a prime.
        """
        q = check_int("q", q, low=2)
        if any(q % p == 0 for p in range(2, int(q**0.5) + 1)):
            raise ValueError(f"q must be prime, got {q}")
        x = np.arange(q)
        lines = [q * x + (m * x + c) % q for m in range(q) for c in range(q)]
        lines += [q * c + x for c in range(q)]
        return cls.from_batches(lines, q * q, kind="affine_plane")

    @classmethod
    def dataloader_epoch(cls, N: int, B: int, *, drop_last: bool = False, seed: int = 0) -> "Family":
        """One shuffled epoch of ``DataLoader(range(N), batch_size=B, shuffle=True, drop_last=drop_last)``.

        A seeded uniform permutation cut into ``floor(N/B)`` batches of ``B``, plus (``drop_last=False``
        and ``r = N mod B > 0``) a last batch of the ``r`` left-over indices. Every step has weight 1,
        as in SGD. With ``r = 1`` the last batch is a single pair (loss 0, it still counts as a step).
        The permutation comes from ``numpy.random.default_rng(seed)``, not from torch's generator.

        Parameters
        ----------
        N : int
            Number of pairs (indices ``0..N-1``), >= 2.
        B : int
            Batch size, ``2 <= B <= N``.
        drop_last : bool, default=False
            Drop the short last batch.
        seed : int, default=0
            Seed of the permutation.

        Returns
        -------
        Family
        """
        N, B = check_batch_size(N, B)
        check_int("seed", seed)
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last must be True or False, got {drop_last!r}")
        q, r = divmod(N, B)
        perm = np.random.default_rng(seed).permutation(N).astype(np.int64)
        rows = list(perm[: q * B].reshape(q, B))
        if r and not drop_last:
            rows.append(perm[q * B:])
        return cls.from_batches(rows, N, kind="dataloader")

    @classmethod
    def dataloader_expectation(cls, N: int, B: int, *, drop_last: bool = False) -> "Family":
        """The exact expectation over shuffles of a :meth:`dataloader_epoch` objective.

        Each of the ``q = floor(N/B)`` full batches of a uniformly shuffled epoch is marginally a
        uniform ``B``-subset and the last one (``drop_last=False``, ``r = N mod B > 0``) a uniform
        ``r``-subset, so ``E[L_epoch] = (q L_all(B) + L_all(r)) / (q + 1)``: the mixture of all
        ``C(N, B)`` batches with total weight ``q`` and all ``C(N, r)`` with total weight 1 (for
        ``r = 1`` the N singletons, loss 0, weight ``1/N`` each).

        Parameters
        ----------
        N : int
            Number of pairs (indices ``0..N-1``), >= 2.
        B : int
            Batch size, ``2 <= B <= N``.
        drop_last : bool, default=False
            Drop the short last batch (then the expectation is the all-``C(N, B)`` family).

        Returns
        -------
        Family
        """
        N, B = check_batch_size(N, B)
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last must be True or False, got {drop_last!r}")
        q, r = divmod(N, B)
        comps = [(cls.all(N, B), float(q))]
        if r and not drop_last:
            last = cls.all(N, r) if r >= 2 else cls.from_batches(np.arange(N)[:, None], N, kind="dataloader_expectation")
            comps.append((last, 1.0))
        return cls.mixture([f for f, _ in comps], [w for _, w in comps], kind="dataloader_expectation")

    @classmethod
    def union(cls, *families: "Family", kind: str = "union") -> "Family":
        """All batches of the given families (same N), each keeping its weight.

        Parameters
        ----------
        *families : Family
            Families over the same ``N``.
        kind : str, default='union'
            The label of the result.

        Returns
        -------
        Family

        Raises
        ------
        ValueError
            If no family is given or their ``N`` differ.
        """
        if not families or not all(isinstance(f, Family) for f in families):
            raise ValueError("union needs one or more theory.Family objects")
        N = families[0].N
        if any(f.N != N for f in families):
            raise ValueError(f"union needs families over the same N, got {[f.N for f in families]}")
        return cls(N, kind, tuple(p for f in families for p in f.parts))

    @classmethod
    def mixture(cls, families, weights, *, kind: str = "mixture") -> "Family":
        """``sum_k a_k L_{F_k} / sum_k a_k``: each family's batch weights rescaled to total ``a_k``.

        Parameters
        ----------
        families : sequence of Family
            Families over the same ``N``.
        weights : sequence of float
            The ``a_k``, finite and > 0, one per family.
        kind : str, default='mixture'
            The label of the result.

        Returns
        -------
        Family

        Raises
        ------
        ValueError
            If the lengths differ, a weight is not finite and > 0, or the ``N`` differ.
        """
        families = list(families)
        if not families or not all(isinstance(f, Family) for f in families):
            raise ValueError("mixture needs a non-empty list of theory.Family objects")
        a = _check_weights(weights, len(families))
        if any(not math.isfinite(f.total_weight) for f in families):
            raise ValueError("mixture: a family's total weight overflows float64 (more than ~1e308 batches); "
                             "mix families of fewer batches")
        scaled = [cls(f.N, f.kind, tuple(p.scaled(ak / f.total_weight) for p in f.parts)) for f, ak in zip(families, a)]
        return cls.union(*scaled, kind=kind)

    # ------------------------------------------------------------------ labels and ties
    @classmethod
    def no_duplicates(cls, ties, B: int) -> "Family":
        """Every ``B``-subset holding no two copies of one item (``ties``, :mod:`theory.labels`), weight 1 each.

        Exactly the law of a uniform ``B``-subset conditioned on having no duplicate (the rejection sampler
        :class:`simulations.selection.labels.NoDuplicatesBatchSampler`). sentence-transformers'
        ``NoDuplicatesBatchSampler`` (a shuffled greedy fill) has the same support, not necessarily these weights.

        Parameters
        ----------
        ties : sequence of int
            ``ties[i]``: the item pair ``i`` copies (``N = len(ties)``).
        B : int
            Batch size, ``2 <= B <= K`` (the number of items).

        Returns
        -------
        Family
        """
        from .labels import check_ties
        t = check_ties(ties, len(ties))
        groups = [np.flatnonzero(t == k) for k in range(int(t.max()) + 1)]
        N, B = check_batch_size(len(t), B)
        if B > len(groups):
            raise ValueError(f"B must be at most the number of items K={len(groups)} for batches without duplicates, "
                             f"got B={B}")
        _check_count(sum(math.prod(len(groups[k]) for k in c) for c in itertools.combinations(range(len(groups)), B)))
        rows = [np.sort(np.array(r)) for c in itertools.combinations(range(len(groups)), B)
                for r in itertools.product(*(groups[k] for k in c))]
        return cls.from_batches(np.array(rows, dtype=np.int64), N, kind="no_duplicates")

    @classmethod
    def m_per_class(cls, labels, m: int, B: int, *, kind: str = "m_per_class") -> "Family":
        """The exact law of an m-per-class sampler: ``B/m`` distinct classes drawn uniformly among those with at
        least ``m`` pairs, then ``m`` pairs drawn uniformly without replacement from each.

        Every such batch is listed with its probability, ``1 / (C(E, B/m) prod_c C(n_c, m))`` (``E`` eligible
        classes, ``n_c`` the class sizes), as its weight. pytorch-metric-learning's ``MPerClassSampler`` has the
        same support (it also samples with replacement from classes smaller than ``m``, which this law excludes).

        Parameters
        ----------
        labels : sequence of int
            ``labels[i]``: the class of pair ``i`` (``N = len(labels)``).
        m : int
            Pairs per class in a batch, ``1 <= m``.
        B : int
            Batch size, a multiple of ``m``, ``2 <= B <= N``.
        kind : str, default='m_per_class'
            The label kept in ``kind`` (:meth:`class_balanced` and :meth:`class_pure` are this law).

        Returns
        -------
        Family
        """
        from .labels import check_labels, class_index
        c = class_index(check_labels(labels))
        N, B = check_batch_size(len(c), B)
        m = check_int("m", m, low=1, high=B)
        if B % m:
            raise ValueError(f"B must be a multiple of m; got B={B}, m={m}")
        k = B // m
        groups = [np.flatnonzero(c == j) for j in range(int(c.max()) + 1)]
        eligible = [g for g in groups if len(g) >= m]
        if len(eligible) < k:
            raise ValueError(f"m_per_class needs B/m = {k} classes of at least m={m} pairs; the labels have "
                             f"{len(eligible)} (class sizes {[len(g) for g in groups]})")
        combos = list(itertools.combinations(range(len(eligible)), k))
        _check_count(sum(math.prod(math.comb(len(eligible[j]), m) for j in cc) for cc in combos))
        rows, weights = [], []
        for cc in combos:
            w = 1.0 / (len(combos) * math.prod(math.comb(len(eligible[j]), m) for j in cc))
            for pick in itertools.product(*(itertools.combinations(eligible[j], m) for j in cc)):
                rows.append(np.sort(np.concatenate(pick)))
                weights.append(w)
        return cls.from_batches(np.array(rows, dtype=np.int64), N, weights=weights, kind=kind)

    @classmethod
    def class_balanced(cls, labels, B: int) -> "Family":
        """Every class in every batch with ``B/C`` pairs (``C`` classes): :meth:`m_per_class` with ``m = B/C``
        (its exact law: ``B/C`` pairs drawn uniformly from each class).

        Parameters
        ----------
        labels : sequence of int
        B : int
            A multiple of the number of classes ``C``, with every class of at least ``B/C`` pairs.

        Returns
        -------
        Family
        """
        from .labels import check_labels, class_sizes
        sizes = class_sizes(check_labels(labels))
        C = len(sizes)
        B = check_int("B", B, low=2)
        if B % C:
            raise ValueError(f"B must be a multiple of the number of classes C={C} for class-balanced batches, got B={B}")
        if min(sizes.values()) < B // C:
            raise ValueError(f"class_balanced needs every class to have at least B/C = {B // C} pairs, got class "
                             f"sizes {list(sizes.values())}")
        return cls.m_per_class(labels, B // C, B, kind="class_balanced")

    @classmethod
    def class_pure(cls, labels, B: int) -> "Family":
        """The exact law of a class-pure sampler: one class drawn uniformly among those with at least ``B`` pairs,
        then ``B`` of its pairs uniformly (:meth:`m_per_class` with ``m = B``).

        Parameters
        ----------
        labels : sequence of int
        B : int
            Batch size, ``2 <= B``, at most the largest class.

        Returns
        -------
        Family
        """
        return cls.m_per_class(labels, B, B, kind="class_pure")

    @classmethod
    def batch_binding(cls, family: "Family", bound) -> "Family":
        """Batch binding (Kini et al., ICLR 2024): the same few pairs ``bound`` added to every batch of ``family``.

        Each batch ``S`` becomes ``S | bound`` (sizes may grow by up to ``len(bound)``; a batch already holding
        some of them grows less) and keeps its weight.

        Parameters
        ----------
        family : Family
            Enumerable (at most :data:`ENUMERATION_LIMIT` batches).
        bound : sequence of int
            Distinct indices in ``[0, N)``, e.g. one pair per class.

        Returns
        -------
        Family

        References
        ----------
        Kini et al., "Symmetric Neural-Collapse Representations with Supervised Contrastive Loss: The Impact of
        ReLU and Batching", ICLR 2024 (batch binding).
        """
        if not isinstance(family, Family):
            raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
        bound = cls._parse_rows([list(bound)], family.N)[0]
        rows = [np.union1d(S, bound) for S in family.batch_list()]
        return cls.from_batches(rows, family.N, weights=family.weights, kind="batch_binding")

    # ------------------------------------------------------------------ access
    @property
    def n_batches(self) -> int:
        """Number of batches ``|F|`` (repeats counted)."""
        return sum(p.n_batches(self.N) for p in self.parts)

    @property
    def batch_sizes(self) -> tuple:
        """The distinct batch sizes, increasing."""
        return tuple(sorted({p.B for p in self.parts}))

    @property
    def is_uniform(self) -> bool:
        """True iff every batch has the same size."""
        return len(self.batch_sizes) == 1

    @property
    def B(self) -> int:
        """The batch size of a uniform family; ValueError for mixed sizes (see ``sizes``, ``batch_sizes``)."""
        if not self.is_uniform:
            raise ValueError(f"this family has mixed batch sizes {self.batch_sizes}: .B is defined only for one size; "
                             "use .sizes (per batch), .batch_sizes or .batch_list()")
        return self.parts[0].B

    @property
    def total_weight(self) -> float:
        """``sum_S w_S``."""
        return float(sum(p.total_weight(self.N) for p in self.parts))

    @property
    def is_weighted(self) -> bool:
        """True iff some batch weight differs from 1."""
        return any(np.any(np.asarray(p.weights) != 1.0) for p in self.parts)

    def _check_enumerable(self):
        if self.n_batches > ENUMERATION_LIMIT:
            raise ValueError(
                f"{self!r} has {self.n_batches} batches, more than the enumeration limit {ENUMERATION_LIMIT}; "
                "use simulations.objective (streamed or exact formula) or simulations.sampled_objective")

    @property
    def sizes(self) -> np.ndarray:
        """Per-batch sizes, shape ``(n_batches,)``."""
        self._check_enumerable()
        return np.concatenate([np.full(p.n_batches(self.N), p.B, dtype=np.int64) for p in self.parts])

    @property
    def weights(self) -> np.ndarray:
        """Per-batch weights ``w_S``, shape ``(n_batches,)`` (ones unless given)."""
        self._check_enumerable()
        return np.concatenate([p.batch_weights(self.N) for p in self.parts])

    @property
    def batches(self) -> np.ndarray:
        """All batches of a uniform family, shape ``(n_batches, B)``; refuses mixed sizes (see
        :meth:`batch_list`) and more than :data:`ENUMERATION_LIMIT` batches."""
        B = self.B
        self._check_enumerable()
        return np.concatenate([np.asarray(p.stored) if p.stored is not None else
                               combinations_range(self.N, B, 0, p.n_batches(self.N)) for p in self.parts]).reshape(-1, B)

    def batch_list(self) -> list:
        """All batches as a list of 1-D index arrays (the ragged view; any sizes).

        Returns
        -------
        list of numpy.ndarray
            One int64 index array per batch, in order.
        """
        self._check_enumerable()
        return [row for p in self.parts for b, _ in p.chunks(self.N, max(1, p.n_batches(self.N))) for row in b]

    def chunks(self, size: int):
        """Yield the batches of a uniform family in consecutive arrays of at most ``size`` rows (streams ``'all'``).

        Parameters
        ----------
        size : int
            Largest number of rows per chunk, >= 1.

        Yields
        ------
        numpy.ndarray, shape (n, B)
            Consecutive batches.

        Raises
        ------
        ValueError
            For a family of mixed sizes (use :meth:`weighted_chunks`).
        """
        self.B
        for b, _ in self.weighted_chunks(size):
            yield b

    def weighted_chunks(self, size: int):
        """Yield ``(batches (n, b), weights (n,))`` over every part in order, at most ``size`` rows each
        (the sizes ``b`` may change between chunks). Refuses more than :data:`ENUMERATION_LIMIT` batches
        (the engine streams larger families part by part).

        Parameters
        ----------
        size : int
            Largest number of rows per chunk, >= 1.

        Yields
        ------
        tuple of numpy.ndarray
            ``(batches (n, b), weights (n,))``.

        Raises
        ------
        ValueError
            If the family has more than :data:`ENUMERATION_LIMIT` batches.
        """
        size = check_int("size", size, low=1)
        self._check_enumerable()
        for p in self.parts:
            yield from p.chunks(self.N, size)

    def cooccurrence(self, weighted: bool = False) -> np.ndarray:
        """``(N, N)``: entry ``(i, j)`` = number of batches holding both i and j (diagonal: holding i);
        with ``weighted=True`` the sum of their weights ``w_S`` instead.

        Parameters
        ----------
        weighted : bool, default=False
            Sum the batch weights instead of counting batches.

        Returns
        -------
        numpy.ndarray, shape (N, N)
        """
        C = sum(p.cooccurrence(self.N, weighted) for p in self.parts)
        return C if weighted else np.rint(C).astype(np.int64)

    def is_pair_balanced(self) -> bool:
        """Equal batch sizes: True iff every pair ``i != j`` has the same positive total weight of batches
        holding both (unweighted: the same count ``lambda >= 1``, a 2-design). For mixed sizes the
        criterion depends on tau: use :func:`theory.balance.is_balanced`.

        Returns
        -------
        bool

        Raises
        ------
        ValueError
            For a family of mixed sizes.
        """
        if not self.is_uniform:
            raise ValueError(f"mixed batch sizes {self.batch_sizes}: pair balance depends on tau; "
                             "use theory.balance.is_balanced(family, tau)")
        C = self.cooccurrence(weighted=True)
        off = C[~np.eye(self.N, dtype=bool)]
        return bool(off.min() > 0 and off.max() - off.min() <= 1e-12 * off.max())

    def to_json(self) -> dict:
        """``{"N", "kind", "batches", ["weights"], ["B"]}`` when every batch is stored (``B`` for one size,
        ``weights`` when weighted), else ``{"N", "kind", "parts": [...]}``; read back by :meth:`from_dict`.

        Returns
        -------
        dict
            JSON-ready.
        """
        out = {"N": self.N, "kind": self.kind}
        if all(p.stored is not None for p in self.parts):
            if self.is_uniform:
                out["B"] = self.B
            out["batches"] = [r.tolist() for r in self.batch_list()]
            if self.is_weighted:
                out["weights"] = self.weights.tolist()
            return out
        out["parts"] = [{"B": p.B, "all": True, "weight": float(p.weights)} if p.stored is None else
                        {"B": p.B, "batches": p.stored.tolist(), "weights": np.asarray(p.weights).tolist()} for p in self.parts]
        return out

    def __repr__(self) -> str:
        size = f"B={self.parts[0].B}" if self.is_uniform else f"sizes={list(self.batch_sizes)}"
        w = ", weighted" if self.is_weighted else ""
        return f"Family(kind={self.kind!r}, N={self.N}, {size}, n_batches={self.n_batches}{w})"


def _check_count(n: int) -> None:
    """Refuse enumerating more than :data:`ENUMERATION_LIMIT` batches."""
    if n > ENUMERATION_LIMIT:
        raise ValueError(f"this family has {n} batches, more than the enumeration limit {ENUMERATION_LIMIT}")


def make_family(kind: str, N: int, B: int | None = None, *, seed: int | None = 0, n_batches: int | None = None,
                drop_last: bool = False) -> Family:
    """Build a family by name (used by the CLI): full, all, partition, random, fano, affine_plane,
    dataloader (one seeded epoch), dataloader_expectation.

    Parameters
    ----------
    kind : str
        One of the names above.
    N : int
        Number of pairs (indices ``0..N-1``), >= 2.
    B : int or None, default=None
        Batch size; required by every kind except ``full``, ``fano`` and ``affine_plane``.
    seed : int or None, default=0
        Seed of ``partition`` (None: contiguous), ``random`` and ``dataloader``.
    n_batches : int or None, default=None
        Number of batches of ``random`` (default ``N``).
    drop_last : bool, default=False
        ``dataloader`` kinds: drop the short last batch.

    Returns
    -------
    Family

    Raises
    ------
    ValueError
        For an unknown kind or a missing or invalid size.
    """
    kinds = ("full", "all", "partition", "random", "fano", "affine_plane", "dataloader", "dataloader_expectation")
    if kind == "full":
        return Family.full(N)
    if kind in ("all", "partition", "random", "dataloader", "dataloader_expectation") and B is None:
        raise ValueError(f"family {kind!r} needs a batch size B")
    if kind == "dataloader":
        return Family.dataloader_epoch(N, B, drop_last=drop_last, seed=0 if seed is None else seed)
    if kind == "dataloader_expectation":
        return Family.dataloader_expectation(N, B, drop_last=drop_last)
    if kind == "all":
        return Family.all(N, B)
    if kind == "partition":
        return Family.partition(N, B, seed=seed)
    if kind == "random":
        return Family.random(N, B, n_batches if n_batches is not None else N, seed=0 if seed is None else seed)
    if kind == "fano":
        fam = Family.fano()
    elif kind == "affine_plane":
        q = math.isqrt(N)
        if q * q != N:
            raise ValueError(f"affine_plane needs N = q^2 for a prime q, got N={N}")
        fam = Family.affine_plane(q)
    else:
        raise ValueError(f"family must be one of {kinds}, got {kind!r}")
    if fam.N != N or (B is not None and fam.B != B):
        raise ValueError(f"family {kind!r} has N={fam.N}, B={fam.B}; got N={N}, B={B}")
    return fam
