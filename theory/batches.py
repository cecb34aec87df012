"""Batch families: the sets of mini-batches a contrastive objective averages over.

A *batch* is a set ``S`` of ``B`` distinct indices in ``[0, N)``; a *family* ``F`` is a
list of batches of one size ``B`` (repeats allowed). The family objective is
``L_F = (1/|F|) sum_{S in F} L(S)`` (see :mod:`theory.losses`).

One type, :class:`Family`, covers every kind used by the paper and by THEORY.md:

==================  =====================================================
``Family.full(N)``         the single batch ``[N]`` (full-batch loss)
``Family.all(N, B)``       all ``C(N, B)`` batches, enumerated lazily
``Family.partition``       ``N/B`` disjoint batches (contiguous, or random)
``Family.from_batches``    an explicit list (also ``Family.from_json``)
``Family.random``          ``n`` uniform random batches (with a seed)
``Family.fano()``          the Fano plane, a 2-(7, 3, 1) design
``Family.affine_plane(q)`` AG(2, q) for prime q, a 2-(q^2, q, 1) design
==================  =====================================================

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
#: Above it the numpy oracle refuses; :func:`simulations.family_objective` streams
#: the enumeration or uses the exact polynomial-time formula instead.
ENUMERATION_LIMIT = 2_000_000


def combinations_range(N: int, B: int, start: int, stop: int) -> np.ndarray:
    """Batches number ``start .. stop-1`` of all ``C(N, B)`` subsets, shape ``(stop-start, B)``.

    Uses the combinatorial number system (colexicographic order): rank
    ``r = sum_k C(c_k, k+1)`` with ``c_0 < c_1 < ... < c_{B-1}``, decoded for all ranks
    at once with ``B`` vectorised searches. Chunks of any range can therefore be
    generated independently (streaming without materialising all batches).
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


@dataclass(frozen=True, eq=False)
class Family:
    """A family of batches of equal size ``B`` over indices ``[0, N)``.

    Construct with the class methods; ``__init__`` only stores. ``kind`` is one of
    ``'full', 'all', 'partition', 'explicit', 'random', 'fano', 'affine_plane'``.
    For ``kind == 'all'`` the batches are not stored: ``n_batches = C(N, B)`` and
    :meth:`chunks` streams them.

    Attributes
    ----------
    N : int
    B : int
    kind : str
    stored : ndarray of int, shape (n_batches, B), or None for ``'all'``
    """

    N: int
    B: int
    kind: str
    stored: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def full(cls, N: int) -> "Family":
        """The single batch ``[0, N)``: the full-batch loss."""
        N = check_int("N", N, low=2)
        return cls(N, N, "full", np.arange(N, dtype=np.int64)[None, :])

    @classmethod
    def all(cls, N: int, B: int) -> "Family":
        """All ``C(N, B)`` batches (lazy: no enumeration at construction)."""
        N, B = check_batch_size(N, B)
        if B == N:
            return cls.full(N)
        return cls(N, B, "all", None)

    @classmethod
    def partition(cls, N: int, B: int, seed: int | None = 0) -> "Family":
        """``N/B`` disjoint batches of size ``B``.

        ``seed=None`` gives the contiguous partition ``[0..B-1], [B..2B-1], ...``;
        an integer seed gives a uniformly random partition.
        """
        N, B = check_batch_size(N, B)
        if N % B:
            raise ValueError(f"a partition needs B to divide N; got N={N}, B={B} (N % B = {N % B})")
        order = np.arange(N) if seed is None else np.random.default_rng(seed).permutation(N)
        return cls(N, B, "partition", order.reshape(N // B, B).astype(np.int64))

    @classmethod
    def from_batches(cls, batches, N: int, *, kind: str = "explicit") -> "Family":
        """An explicit family: a list of batches (each a list of distinct indices in ``[0, N)``)."""
        N = check_int("N", N, low=2)
        try:
            raw = np.asarray(batches)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"batches must be a list of equal-size integer lists: {exc}") from None
        if raw.dtype.kind not in "iu":
            raise ValueError(f"batches must hold integer indices, got dtype {raw.dtype} (floats, bools and strings are "
                             "refused, never truncated); e.g. [[0, 1, 3], [1, 2, 4]]")
        arr = raw.astype(np.int64)
        if arr.ndim != 2 or arr.shape[0] < 1:
            raise ValueError(f"batches must be a non-empty list of equal-size lists, got shape {arr.shape}")
        B = arr.shape[1]
        if not 2 <= B <= N:
            raise ValueError(f"batch size B must be in [2, N={N}], got {B}")
        if arr.min() < 0 or arr.max() >= N:
            raise ValueError(f"batch indices must lie in [0, N={N}), got range [{arr.min()}, {arr.max()}]")
        srt = np.sort(arr, axis=1)
        if np.any(srt[:, 1:] == srt[:, :-1]):
            raise ValueError("each batch must hold distinct indices")
        return cls(N, B, kind, arr)

    @classmethod
    def from_json(cls, path) -> "Family":
        """Read ``{"N": 7, "batches": [[0, 1, 2], ...]}`` from a JSON file."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or "N" not in data or "batches" not in data:
            raise ValueError(f"{path}: expected a JSON object with keys 'N' and 'batches'")
        return cls.from_batches(data["batches"], data["N"])

    @classmethod
    def random(cls, N: int, B: int, n_batches: int, seed: int = 0) -> "Family":
        """``n_batches`` independent uniform random ``B``-subsets (repeats possible)."""
        N, B = check_batch_size(N, B)
        n_batches = check_int("n_batches", n_batches, low=1)
        rng = np.random.default_rng(seed)
        arr = np.argsort(rng.random((n_batches, N)), axis=1)[:, :B]
        return cls(N, B, "random", np.sort(arr, axis=1).astype(np.int64))

    @classmethod
    def fano(cls) -> "Family":
        """The Fano plane: 7 lines of 3 points on 7 points, every pair in exactly one line."""
        lines = [[(i + s) % 7 for s in (0, 1, 3)] for i in range(7)]  # difference set {0, 1, 3} mod 7
        return cls.from_batches(lines, 7, kind="fano")

    @classmethod
    def affine_plane(cls, q: int) -> "Family":
        """The affine plane AG(2, q), q prime: ``q^2`` points, ``q^2 + q`` lines of ``q`` points.

        Point ``(x, y)`` has index ``q x + y``. Lines are ``{y = m x + c}`` and ``{x = c}``;
        every pair of points lies on exactly one line (a 2-(q^2, q, 1) design).
        """
        q = check_int("q", q, low=2)
        if any(q % p == 0 for p in range(2, int(q**0.5) + 1)):
            raise ValueError(f"q must be prime, got {q}")
        x = np.arange(q)
        lines = [q * x + (m * x + c) % q for m in range(q) for c in range(q)]
        lines += [q * c + x for c in range(q)]
        return cls.from_batches(lines, q * q, kind="affine_plane")

    # ------------------------------------------------------------------ access
    @property
    def n_batches(self) -> int:
        """Number of batches ``|F|``."""
        return math.comb(self.N, self.B) if self.stored is None else int(self.stored.shape[0])

    @property
    def batches(self) -> np.ndarray:
        """All batches, shape ``(n_batches, B)``; refuses above :data:`ENUMERATION_LIMIT`."""
        if self.stored is not None:
            return self.stored
        if self.n_batches > ENUMERATION_LIMIT:
            raise ValueError(
                f"C(N={self.N}, B={self.B}) = {self.n_batches} batches exceeds the enumeration limit "
                f"{ENUMERATION_LIMIT}; use simulations.family_objective (streamed or exact formula) "
                f"or a sampled estimator"
            )
        return combinations_range(self.N, self.B, 0, self.n_batches)

    def chunks(self, size: int):
        """Yield the batches in consecutive arrays of at most ``size`` rows (streams ``'all'``)."""
        size = check_int("size", size, low=1)
        for start in range(0, self.n_batches, size):
            stop = min(start + size, self.n_batches)
            yield self.stored[start:stop] if self.stored is not None else combinations_range(self.N, self.B, start, stop)

    def cooccurrence(self) -> np.ndarray:
        """``(N, N)`` counts: entry ``(i, j)`` = number of batches holding both i and j (diagonal: holding i)."""
        if self.kind == "all":
            C = np.full((self.N, self.N), math.comb(self.N - 2, self.B - 2), dtype=np.int64)
            np.fill_diagonal(C, math.comb(self.N - 1, self.B - 1))
            return C
        X = np.zeros((self.n_batches, self.N), dtype=np.int64)
        np.put_along_axis(X, self.batches, 1, axis=1)
        return X.T @ X

    def is_pair_balanced(self) -> bool:
        """True iff every pair ``i != j`` shares the same number ``lambda >= 1`` of batches (a 2-design)."""
        C = self.cooccurrence()
        off = C[~np.eye(self.N, dtype=bool)]
        return bool(off.min() >= 1 and off.min() == off.max())

    def to_json(self) -> dict:
        """``{"N", "B", "kind", "batches"}`` (``batches`` omitted for ``'all'``)."""
        out = {"N": self.N, "B": self.B, "kind": self.kind}
        if self.stored is not None:
            out["batches"] = self.stored.tolist()
        return out

    def __repr__(self) -> str:
        return f"Family(kind={self.kind!r}, N={self.N}, B={self.B}, n_batches={self.n_batches})"


def make_family(kind: str, N: int, B: int | None = None, *, seed: int | None = 0, n_batches: int | None = None) -> Family:
    """Build a family by name (used by the CLI): full, all, partition, random, fano, affine_plane."""
    kinds = ("full", "all", "partition", "random", "fano", "affine_plane")
    if kind == "full":
        return Family.full(N)
    if kind in ("all", "partition", "random") and B is None:
        raise ValueError(f"family {kind!r} needs a batch size B")
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
