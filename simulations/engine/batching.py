"""Batch index streams for the engine: all-``C(N,B)`` batches enumerated in chunks (cached when small),
stored batches with their weights, flattened block positions, and validation of user batch tensors."""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from theory.batches import Family, Part, combinations_range

#: Index arrays of all C(N,B) batches up to this many entries are cached between calls.
CACHE_LIMIT = 20_000_000
#: ... and their flattened B x B block positions up to this many entries (int64).
FLAT_CACHE_LIMIT = 2**24
#: Streamed chunks use at most this working set even under a larger budget: chunks this small reuse
#: freed heap memory, while larger ones are mapped afresh and page-faulted on every call (3x slower).
CHUNK_BYTES = 8 * 2**20


@lru_cache(maxsize=8)
def _cached_combinations(N: int, B: int) -> np.ndarray:
    return combinations_range(N, B, 0, math.comb(N, B))


@lru_cache(maxsize=4)
def _cached_flat(N: int, B: int, device: str) -> torch.Tensor:
    b = torch.from_numpy(_cached_combinations(N, B)).to(device)
    return flat_index(b, N)


@lru_cache(maxsize=4)
def _cached_onehot(N: int, B: int, device: str, dtype: torch.dtype):
    b = torch.from_numpy(_cached_combinations(N, B)).to(device)
    return b, torch.zeros(b.shape[0], N, dtype=dtype, device=device).scatter_(1, b, 1.0)


def clear_caches() -> None:
    """Drop the cached batch index arrays (all-C(N,B) combinations, block positions, one-hot matrices)."""
    for f in (_cached_combinations, _cached_flat, _cached_onehot):
        f.cache_clear()


def flat_index(b: torch.Tensor, N: int) -> torch.Tensor:
    """Row-major positions ``b_a * N + b_c`` of every batch's ``B x B`` logit block, shape ``(n, B, B)``.

    Parameters
    ----------
    b : torch.Tensor, shape (n, B)
        Batches (int64).
    N : int
        Number of pairs.

    Returns
    -------
    torch.Tensor, shape (n, B, B)
    """
    return b[:, :, None] * N + b[:, None, :]


def batch_chunks(family: Family | Part, chunk: int, device, N: int | None = None):
    """Yield the batches of a uniform family (or of one part, with ``N``) as LongTensors of at most
    ``chunk`` rows on ``device``.

    Parameters
    ----------
    family : theory.Family or theory.batches.Part
    chunk : int
        Largest number of rows per chunk, >= 1.
    device : torch.device or str
    N : int or None, default=None
        Number of pairs (required for a part).

    Yields
    ------
    torch.Tensor, shape (n, B)
    """
    for b, _ in _weighted_chunks(family, chunk, device, N):
        yield b


def _parts(family: Family | Part, N: int | None):
    if isinstance(family, Part):
        return family, N
    family.B                                               # uniform only: raises for mixed sizes
    if len(family.parts) == 1:
        return family.parts[0], family.N
    return None, family.N


def _weighted_chunks(family: Family | Part, chunk: int, device, N: int | None = None):
    """``(batches, weights)`` tensors of one part (or of every part of a uniform family)."""
    part, N = _parts(family, N)
    if part is None:
        for p in family.parts:
            yield from _weighted_chunks(p, chunk, device, N)
        return
    if part.stored is None and part.n_batches(N) * part.B <= CACHE_LIMIT:
        allb = _cached_combinations(N, part.B)
        for s in range(0, allb.shape[0], chunk):
            b = torch.from_numpy(allb[s:s + chunk]).to(device)
            yield b, None
    else:
        for b, w in part.chunks(N, chunk):
            yield (torch.from_numpy(np.ascontiguousarray(b)).to(device),
                   None if part.stored is None else torch.from_numpy(np.ascontiguousarray(w)).to(device))


def flat_chunks(family: Family | Part, chunk: int, device, N: int | None = None):
    """Yield ``(flat_index blocks, weights or None)`` of the batches (cached for an all-batches part when small).

    Parameters
    ----------
    family : theory.Family or theory.batches.Part
    chunk : int
        Largest number of rows per chunk, >= 1.
    device : torch.device or str
    N : int or None, default=None
        Number of pairs (required for a part).

    Yields
    ------
    tuple
        ``(flat_index (n, B, B), weights (n,) or None)``.
    """
    part, N = _parts(family, N)
    if part is not None and part.stored is None and part.n_batches(N) * part.B**2 <= FLAT_CACHE_LIMIT:
        flat = _cached_flat(N, part.B, str(device))
        for s in range(0, flat.shape[0], chunk):
            yield flat[s:s + chunk], None
    else:
        for b, w in _weighted_chunks(family, chunk, device, N):
            yield flat_index(b, N), w





def check_batches(batches, N: int, device=None, min_size: int = 2) -> torch.Tensor:
    """``(n, B)`` LongTensor of batches, validated: integer dtype (floats, bools and strings are refused,
    never truncated), ``n >= 1``, ``max(2, min_size) <= B <= N``, indices in ``[0, N)``, distinct within each batch.
    A uniform :class:`theory.Family` is accepted (its batches); a mixed-size one is refused here
    (:func:`batch_losses` takes it directly).

    Parameters
    ----------
    batches : array_like or theory.Family
    N : int
        Number of pairs.
    device : torch.device or str, optional
    min_size : int, default=2
        Smallest batch size the loss accepts.

    Returns
    -------
    torch.Tensor, shape (n, B)

    Raises
    ------
    ValueError
        For any violation of the rules above.
    """
    if isinstance(batches, Family):
        if batches.N != N:
            raise ValueError(f"family is over N={batches.N} indices but U, V have N={N} rows")
        batches = batches.batches
    try:
        t = torch.as_tensor(batches)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"batches must be an (n, B) array of integer indices: {exc}") from None
    if t.dtype == torch.bool or t.is_floating_point() or t.is_complex():
        raise ValueError(f"batches must hold integer indices, got dtype {t.dtype} (no truncation or coercion)")
    low = max(2, min_size)
    if t.ndim != 2 or t.shape[0] < 1 or not low <= t.shape[1] <= N:
        raise ValueError(f"batches must have shape (n, B) with n >= 1 and {low} <= B <= N={N}, got {tuple(t.shape)}")
    t = t.to(device=device, dtype=torch.long)
    if t.min() < 0 or t.max() >= N:
        raise ValueError(f"batch indices must lie in [0, N={N}), got range [{int(t.min())}, {int(t.max())}]")
    srt = t.sort(dim=1).values
    if bool((srt[:, 1:] == srt[:, :-1]).any()):
        raise ValueError("each batch must hold distinct indices (a repeated index was found)")
    return t



def _grouped_parts(family: Family) -> list:
    """The family's parts with every stored part of one size merged (the objective does not depend on the
    order of the batches; interleaved sizes would otherwise cost one set of N x N work buffers per run)."""
    lazy = [p for p in family.parts if p.stored is None]
    by_size: dict = {}
    for p in family.parts:
        if p.stored is not None:
            by_size.setdefault(p.B, []).append(p)
    merged = [ps[0] if len(ps) == 1 else Part(B, np.concatenate([q.stored for q in ps]),
                                               np.concatenate([q.weights for q in ps])) for B, ps in by_size.items()]
    return lazy + merged

