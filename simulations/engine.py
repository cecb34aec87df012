"""Fast exact mini-batch contrastive losses in torch (CPU or GPU, float32 or float64).

The same losses as :mod:`theory.losses` (the oracle these are tested against), computed from the
logit matrix ``Z = U V^T / tau`` that is formed once per evaluation:

* a batch family's per-batch losses by *gathering* each batch's ``B x B`` logit block from ``Z``,
  in chunks bounded by a memory budget;
* the family objective ``sum_S w_S L(S) / sum_S w_S`` (weights, mixed sizes) through a custom
  autograd function that streams the batches of each one-size part (an all-``C(N,B)`` part is
  enumerated chunk by chunk, never materialised) and accumulates the exact gradient ``dL/dZ`` in
  one ``N x N`` buffer, so memory stays ``O(N^2 + budget)``;
* all pairs (``B = 2``) in closed form, ``O(N^2)``:
  ``L_pairs = sum_{i != j} [softplus(z_ij - z_ii) + softplus(z_ji - z_ii)] / (N (N-1))``;
* the all-batches family (or an all-``C(N,b)`` part of a mixture, e.g. the expectation of a
  ``DataLoader`` epoch) past the enumeration guard by the exact polynomial formula of
  :mod:`simulations.exact_all`;
* an unbiased sampled estimator (uniform batches or random partitions) with a standard error.

Numerics: the anchor term ``log sum_{j in S} exp(z_ij) - z_ii`` is computed as
``log sum_{j in S} exp(z_ij - z_ii)`` from ``exp(Z - diag)`` formed once (every sum is >= 1, so it
never underflows) whenever ``max(z_ij - z_ii)`` is safely below the overflow threshold of the dtype;
otherwise each batch uses log-sum-exp with its row maximum subtracted.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from theory._checks import check_int, check_tau
from theory.batches import Family, Part, combinations_range
from theory.objectives import Loss, as_loss, infonce_mode

from . import objectives as _objectives

from ._autograd import StreamedValue
from ._checks import check_embeddings, compute_dtype, exp_safe
from .limits import DEFAULT_MEMORY_BUDGET, STREAM_LIMIT
from .exact_all import all_batches_objective

#: Index arrays of all C(N,B) batches up to this many entries are cached between calls.
CACHE_LIMIT = 20_000_000
#: ... and their flattened B x B block positions up to this many entries (int64).
FLAT_CACHE_LIMIT = 2**24
#: Streamed chunks use at most this working set even under a larger budget: chunks this small reuse
#: freed heap memory, while larger ones are mapped afresh and page-faulted on every call (3x slower).
CHUNK_BYTES = 8 * 2**20
#: The one-hot matrix-product path is used when N <= MATMUL_RATIO * B (dense products beat gathers).
MATMUL_RATIO = 7
METHODS = ("auto", "enumerate", "pairwise", "formula")


def logits(U: torch.Tensor, V: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """``Z = U V^T / tau``."""
    return U @ V.T / check_tau(tau)


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
    """Row-major positions ``b_a * N + b_c`` of every batch's ``B x B`` logit block, shape ``(n, B, B)``."""
    return b[:, :, None] * N + b[:, None, :]


def batch_chunks(family: Family | Part, chunk: int, device, N: int | None = None):
    """Yield the batches of a uniform family (or of one part, with ``N``) as LongTensors of at most
    ``chunk`` rows on ``device``."""
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
    """Yield ``(flat_index blocks, weights or None)`` of the batches (cached for an all-batches part when small)."""
    part, N = _parts(family, N)
    if part is not None and part.stored is None and part.n_batches(N) * part.B**2 <= FLAT_CACHE_LIMIT:
        flat = _cached_flat(N, part.B, str(device))
        for s in range(0, flat.shape[0], chunk):
            yield flat[s:s + chunk], None
    else:
        for b, w in _weighted_chunks(family, chunk, device, N):
            yield flat_index(b, N), w


def _chunk_rows(B: int, itemsize: int, budget: int) -> int:
    return max(1, budget // (6 * B * B * itemsize + 16 * B))


class _Kernel:
    """Per-evaluation state for streaming batches through one logit matrix ``Z``.

    Three numeric paths, one interface (``accumulate`` a chunk of batches, then ``grad_Z``):

    * ``matmul`` (``exp(Z - diag)`` safe and ``N <= MATMUL_RATIO * B``): with the one-hot batch
      matrix ``X: (n, N)``, the row sums of every anchor are ``(X Er^T)[s, S_s]`` and the column
      sums ``(X Ec)[s, S_s]`` — dense matrix products instead of gathering ``n B^2`` entries;
      the gradient is two more products, ``(X / R)^T X`` and ``X^T (X / C)``;
    * ``gather`` (shift safe, large N): each batch's ``B x B`` block of ``exp(Z - diag)`` is gathered;
    * ``lse`` (huge logits, e.g. tiny tau): blocks of ``Z`` with log-sum-exp, row maximum subtracted.
    """

    def __init__(self, Z: torch.Tensor, loss: str, B: int, want_grad: bool):
        self.Z, self.loss, self.B, self.want = Z, loss, B, want_grad
        N = Z.shape[0]
        dg = Z.diagonal()
        Dr, Dc = Z - dg[:, None], Z - dg[None, :]            # z_ij - z_ii and z_ji - z_ii (as [j, i])
        self.shift = bool(torch.maximum(Dr.max(), Dc.max()) < exp_safe(Z.dtype, B))
        self.path = ("matmul" if N <= MATMUL_RATIO * B else "gather") if self.shift else "lse"
        if self.shift:
            self.Er = torch.exp(Dr)                           # Er[i, j] = exp(z_ij - z_ii)
            self.Ec = torch.exp(Dc) if loss == "symmetric" else None   # Ec[j, i] = exp(z_ji - z_ii)
        if self.path == "matmul":
            self.tables = self.Er.T if loss != "symmetric" else torch.cat([self.Er.T, self.Ec], dim=1)   # (N, N or 2N)
            if want_grad:
                self.gtab = torch.zeros(self.tables.shape[1], N, dtype=Z.dtype, device=Z.device)
        elif want_grad:
            self.gr = torch.zeros(N * N, dtype=Z.dtype, device=Z.device)
            self.gc = torch.zeros(N * N, dtype=Z.dtype, device=Z.device) if loss == "symmetric" else None

    def accumulate(self, b: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """Losses of the ``(n, B)`` batches ``b``, shape ``(n,)``; adds their gradient, times the batch
        weights ``w`` (``(n,)``, default 1), to the buffers."""
        if self.path == "matmul":
            return self._matmul(b, w=w)
        flat = flat_index(b, self.Z.shape[0])
        return self._blocks(flat, w)

    def accumulate_flat(self, flat: torch.Tensor, w: torch.Tensor | None = None) -> torch.Tensor:
        """As ``accumulate``, for batches given by their ``flat_index`` blocks (gather and lse paths)."""
        return self._blocks(flat, w)

    def _matmul(self, b, X=None, w=None):
        N = self.Z.shape[0]
        if X is None:
            X = torch.zeros(b.shape[0], N, dtype=self.Z.dtype, device=self.Z.device).scatter_(1, b, 1.0)
        # R[s, i] = sum_{c in S_s} exp(z_ic - z_ii) (rows);  C[s, a] = sum_{j in S_s} exp(z_ja - z_aa) (columns);
        # one product for both: X [Er^T | Ec]
        RC = X @ self.tables
        val = torch.log(RC[:, :N].gather(1, b)).mean(-1)
        if self.loss == "symmetric":
            val = val + torch.log(RC[:, N:].gather(1, b)).mean(-1)
        if self.want:                                       # d/dEr = (X/R)^T X,  d/dEc = X^T (X/C)
            Xw = X if w is None else X * w[:, None]
            self.gtab[:N] += (Xw / RC[:, :N]).T @ X
            if self.loss == "symmetric":
                self.gtab[N:] += (Xw / RC[:, N:]).T @ X
        return val

    def _add(self, buf, flat, blocks, w):
        buf.index_add_(0, flat.reshape(-1), (blocks if w is None else blocks * w[:, None, None]).reshape(-1))

    def _blocks(self, flat, w=None):
        if self.shift:
            Pr = self.Er.view(-1)[flat]                     # (n, a, c): exp(z_ac - z_aa)
            sr = Pr.sum(-1)
            val = torch.log(sr).mean(-1)
            if self.want:
                self._add(self.gr, flat, Pr / sr[..., None] - self._eye(), w)
            if self.loss == "symmetric":
                Pc = self.Ec.view(-1)[flat]                 # (n, a, c): exp(z_ac - z_cc)
                sc = Pc.sum(-2)
                val = val + torch.log(sc).mean(-1)
                if self.want:
                    self._add(self.gc, flat, Pc / sc[:, None, :] - self._eye(), w)
            return val
        zs = self.Z.reshape(-1)[flat]
        diag = zs.diagonal(dim1=-2, dim2=-1)
        lr = torch.logsumexp(zs, -1)
        val = (lr - diag).mean(-1)
        if self.want:
            self._add(self.gr, flat, torch.exp(zs - lr[..., None]) - self._eye(), w)
        if self.loss == "symmetric":
            lc = torch.logsumexp(zs, -2)
            val = val + (lc - diag).mean(-1)
            if self.want:
                self._add(self.gc, flat, torch.exp(zs - lc[:, None, :]) - self._eye(), w)
        return val

    def _eye(self):
        return torch.eye(self.B, dtype=self.Z.dtype, device=self.Z.device)

    def grad_Z(self) -> torch.Tensor:
        """Sum over the accumulated batches of ``dL(S)/dZ``, shape ``(N, N)``."""
        N = self.Z.shape[0]
        if self.path != "matmul":
            g = self.gr if self.gc is None else self.gr + self.gc
            return g.view(N, N) / self.B
        # chain rule through Er = exp(Z - diag(Z) 1^T) and Ec = exp(Z - 1 diag(Z)^T);
        # gtab rows 0..N-1 hold d/dEr, rows N..2N-1 hold (d/dEc)^T
        A = self.gtab[:N] * self.Er
        G = A - torch.diag(A.sum(1))
        if self.loss == "symmetric":
            Cg = self.gtab[N:].T * self.Ec
            G = G + Cg - torch.diag(Cg.sum(0))
        return G / self.B


class _StreamImpl:
    """The weighted mean loss ``sum_S w_S L(S) / sum_S w_S`` over the batches of one part of size
    ``B >= 2``, streamed (see :class:`simulations._autograd.StreamedValue`)."""

    def __init__(self, N: int, part: Part, loss: str, budget: int):
        self.N, self.part, self.loss, self.budget = N, part, loss, min(budget, CHUNK_BYTES)
        self.total = part.total_weight(N)

    def value_and_grad(self, Z, want):
        N, part = self.N, self.part
        kern = _Kernel(Z, self.loss, part.B, want)
        total = torch.zeros((), dtype=Z.dtype, device=Z.device)

        def add(val, w):
            return val.sum() if w is None else (val * w).sum()
        if kern.path == "matmul":
            rows = max(1, self.budget // (6 * N * Z.element_size()))
            if part.stored is None and part.n_batches(N) * N <= FLAT_CACHE_LIMIT:
                b_all, X_all = _cached_onehot(N, part.B, str(Z.device), Z.dtype)
                for s in range(0, b_all.shape[0], rows):
                    total = total + kern._matmul(b_all[s:s + rows], X_all[s:s + rows]).sum()
            else:
                for b, w in _weighted_chunks(part, rows, Z.device, N):
                    w = None if w is None else w.to(Z.dtype)
                    total = total + add(kern.accumulate(b, w), w)
        else:
            for flat, w in flat_chunks(part, _chunk_rows(part.B, Z.element_size(), self.budget), Z.device, N):
                w = None if w is None else w.to(Z.dtype)
                total = total + add(kern.accumulate_flat(flat, w), w)
        # an all-C(N,B) part has one common weight: its weighted mean is the plain mean
        n = part.n_batches(N) if part.stored is None else self.total
        return total / n, (kern.grad_Z() / n if want else None)

    def differentiable(self, Z):
        """Plain autograd: log-sum-exp of every gathered block (used for second derivatives only)."""
        total = torch.zeros((), dtype=Z.dtype, device=Z.device)
        part = self.part
        for flat, w in flat_chunks(part, _chunk_rows(part.B, Z.element_size(), self.budget), Z.device, self.N):
            zs = Z.reshape(-1)[flat]
            diag = zs.diagonal(dim1=-2, dim2=-1)
            val = (torch.logsumexp(zs, -1) - diag).mean(-1)
            if self.loss == "symmetric":
                val = val + (torch.logsumexp(zs, -2) - diag).mean(-1)
            total = total + (val.sum() if w is None else (val * w.to(Z.dtype)).sum())
        return total / (part.n_batches(self.N) if part.stored is None else self.total)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """Exact ``log(1 + e^x)`` (``torch.nn.functional.softplus`` returns ``x`` above 20, an error of
    ``e^{-20}`` that shows at small temperatures)."""
    return torch.logaddexp(x, torch.zeros((), dtype=x.dtype, device=x.device))


def pairwise_objective(Z: torch.Tensor, loss: str = "symmetric") -> torch.Tensor:
    """All-pairs (B = 2) objective from logits in O(N^2).

    ``sum_{i != j} [softplus(z_ij - z_ii) + softplus(z_ji - z_ii)] / (N (N-1))``; the one-sided loss
    keeps only the first term. (Each unordered pair is one batch with two anchors.)
    """
    N = Z.shape[0]
    dg = Z.diagonal()
    off = ~torch.eye(N, dtype=torch.bool, device=Z.device)
    R = softplus(Z - dg[:, None])          # anchor i as a row
    total = R[off].sum()
    if loss == "symmetric":
        total = total + softplus(Z.T - dg[:, None])[off].sum()
    return total / (N * (N - 1))


def pair_losses(Z: torch.Tensor, loss: str = "symmetric") -> torch.Tensor:
    """``(N, N)`` matrix of the pair losses ``L({i, j})`` (diagonal set to -inf)."""
    dg = Z.diagonal()
    R = softplus(Z - dg[:, None])
    P = (R + R.T) / 2
    if loss == "symmetric":
        C = softplus(Z.T - dg[:, None])
        P = P + (C + C.T) / 2
    return P.fill_diagonal_(-torch.inf)


def pair_loss_matrix(U: torch.Tensor, V: torch.Tensor, loss="symmetric", tau: float | None = None) -> torch.Tensor:
    """``(N, N)`` matrix of the pair losses ``L({i, j})`` of any loss (diagonal -inf), without gradient:
    InfoNCE's closed form (:func:`pair_losses`), otherwise the ``N(N-1)/2`` batches of size 2 scored
    by :func:`batch_losses`."""
    obj, mode, tau = resolve_loss(loss, tau)
    N = U.shape[0]
    with torch.no_grad():
        if mode is not None:
            return pair_losses(logits(U, V, tau), mode)
        iu = torch.triu_indices(N, N, 1, device=U.device)
        vals = batch_losses(U, V, iu.T.contiguous(), loss=obj, check=False)
        P = torch.full((N, N), -torch.inf, dtype=vals.dtype, device=U.device)
        P[iu[0], iu[1]] = vals
        P[iu[1], iu[0]] = vals
        return P


def check_batches(batches, N: int, device=None) -> torch.Tensor:
    """``(n, B)`` LongTensor of batches, validated: integer dtype (floats, bools and strings are refused,
    never truncated), ``n >= 1``, ``2 <= B <= N``, indices in ``[0, N)``, distinct within each batch.
    A uniform :class:`theory.Family` is accepted (its batches); a mixed-size one is refused here
    (:func:`batch_losses` takes it directly)."""
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
    if t.ndim != 2 or t.shape[0] < 1 or not 2 <= t.shape[1] <= N:
        raise ValueError(f"batches must have shape (n, B) with n >= 1 and 2 <= B <= N={N}, got {tuple(t.shape)}")
    t = t.to(device=device, dtype=torch.long)
    if t.min() < 0 or t.max() >= N:
        raise ValueError(f"batch indices must lie in [0, N={N}), got range [{int(t.min())}, {int(t.max())}]")
    srt = t.sort(dim=1).values
    if bool((srt[:, 1:] == srt[:, :-1]).any()):
        raise ValueError("each batch must hold distinct indices (a repeated index was found)")
    return t


def resolve_loss(loss, tau) -> tuple:
    """``(Loss object, InfoNCE mode or None, tau or None)`` from the ``loss=`` / ``tau=`` arguments of the
    engine (:func:`theory.objectives.as_loss`: a Loss object, or 'symmetric' / 'one_sided' at ``tau``)."""
    obj = as_loss(loss, tau)
    mode = infonce_mode(obj)
    return obj, mode, (obj.tau if mode is not None else None)


def batch_losses(U: torch.Tensor, V: torch.Tensor, batches, *, loss="symmetric", tau: float | None = None,
                 memory_budget: int = DEFAULT_MEMORY_BUDGET, check: bool = True) -> torch.Tensor:
    """Per-batch losses ``L(S)`` for an ``(n, B)`` index tensor or a Family (any sizes, in the family's
    order; a batch of size 1 has loss 0 under InfoNCE), differentiable; shape ``(n,)``.

    ``loss``: 'symmetric' / 'one_sided' (InfoNCE at ``tau``, default 1.0) or a
    :class:`theory.objectives.Loss` (``tau`` then stays None). Half-precision inputs are computed in
    float32 and the result is cast back. ``check=False`` skips the validation of ``U, V`` and
    ``batches`` (for callers that built them).
    """
    obj, loss, tau = resolve_loss(loss, tau)
    memory_budget = check_int("memory_budget", memory_budget, low=1)
    if isinstance(batches, Family) and not batches.is_uniform:
        if check:
            check_embeddings(U, V)
        if batches.N != U.shape[0]:
            raise ValueError(f"family is over N={batches.N} indices but U, V have N={U.shape[0]} rows")
        batches.sizes                                       # refuses above the enumeration limit
        out = []
        for p in batches.parts:
            if p.B < obj.min_batch:
                raise ValueError(f"loss {obj.name!r} needs batches of size >= {obj.min_batch}, the family has size {p.B}")
            b = torch.cat([c for c in batch_chunks(p, 10**6, U.device, batches.N)])
            if p.B == 1 and loss is not None:
                out.append(torch.zeros(p.n_batches(batches.N), dtype=U.dtype, device=U.device))
            elif loss is None:
                cd = compute_dtype(U.dtype)
                out.append(_objectives.batch_losses(obj, U.to(cd), V.to(cd), b, memory_budget).to(U.dtype))
            else:
                out.append(batch_losses(U, V, b, loss=loss, tau=tau, memory_budget=memory_budget, check=False))
        return torch.cat(out)
    if check:
        check_embeddings(U, V)
        batches = check_batches(batches, U.shape[0], U.device)
    elif isinstance(batches, Family):
        batches = torch.from_numpy(batches.batches).to(U.device)
    out_dtype = U.dtype
    cd = compute_dtype(out_dtype)
    if loss is None:
        if batches.shape[1] < obj.min_batch:
            raise ValueError(f"loss {obj.name!r} needs batches of size >= {obj.min_batch}, got B={batches.shape[1]}")
        return _objectives.batch_losses(obj, U.to(cd), V.to(cd), batches, memory_budget).to(out_dtype)
    Z = logits(U.to(cd), V.to(cd), tau)
    kern = _Kernel(Z, loss, batches.shape[1], want_grad=False)
    memory_budget = min(memory_budget, CHUNK_BYTES)
    if kern.path == "matmul":
        step = max(1, memory_budget // (6 * Z.shape[0] * Z.element_size()))
    else:
        step = _chunk_rows(batches.shape[1], Z.element_size(), memory_budget)
    return torch.cat([kern.accumulate(batches[s:s + step]) for s in range(0, batches.shape[0], step)]).to(out_dtype)


def family_objective(U: torch.Tensor, V: torch.Tensor, family: Family, *, loss="symmetric", tau: float | None = None,
                     method: str = "auto", memory_budget: int = DEFAULT_MEMORY_BUDGET, check: bool = True) -> torch.Tensor:
    """Exact family objective ``L_F(U, V) = sum_S w_S L(S) / sum_S w_S`` as a differentiable scalar tensor.

    Any family: weights, mixed sizes, mixtures of all-``C(N,b)`` families (e.g.
    ``Family.dataloader_expectation``). Each one-size part is computed on its own and the parts are
    combined with their total weights; batches of size 1 contribute 0.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d), unit-norm rows, any device/dtype
    family : theory.Family
    loss : {'symmetric', 'one_sided'} (InfoNCE at ``tau``, default 1.0) or a :class:`theory.objectives.Loss`
        The other losses (SigLIP, DCL, DHEL, KCL) run in :mod:`simulations.objectives`: streamed
        enumeration, and for the pair-sum losses (SigLIP, KCL) the exact ``O(N^2)`` closed form of an
        all-``C(N,b)`` part (what ``'auto'``, ``'pairwise'`` and ``'formula'`` pick there). DCL and DHEL
        have no closed form: above ``STREAM_LIMIT`` batches they are refused.
    tau : float > 0 or None
    method : {'auto', 'enumerate', 'pairwise', 'formula'}
        ``'auto'``: per part, the closed O(N^2) form for all pairs; enumeration (streamed) for stored
        batches and for all-``C(N,B)`` parts up to ``STREAM_LIMIT`` batches; the exact polynomial
        formula (:func:`simulations.exact_all.all_batches_objective`) above it. ``'pairwise'`` and
        ``'formula'`` force that method on every all-``C(N,b)`` part and need every part to be one
        (``'pairwise'``: all of size 2).
    memory_budget : int, bytes of working memory per chunk
    """
    obj, loss, tau = resolve_loss(loss, tau)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    small = [b for b in family.batch_sizes if b < obj.min_batch]
    if small:
        raise ValueError(f"loss {obj.name!r} needs batches of size >= {obj.min_batch}, the family has sizes {small}")
    if check:
        check_embeddings(U, V)
    N = family.N
    if N != U.shape[0]:
        raise ValueError(f"family is over N={family.N} indices but U, V have N={U.shape[0]} rows")
    lazy = [p for p in family.parts if p.stored is None]
    if method in ("pairwise", "formula") and len(lazy) < len([p for p in family.parts if p.B > 1]):
        raise ValueError(f"method={method!r} applies only to all-C(N,B) families (or mixtures of them), "
                         f"got kind={family.kind!r} with stored batches")
    memory_budget = check_int("memory_budget", memory_budget, low=1)
    if loss is None:
        return _other_loss_objective(obj, U, V, family, method, memory_budget)
    if method == "pairwise" and any(p.B != 2 for p in lazy):
        raise ValueError(f"method='pairwise' needs B = 2, got sizes {list(family.batch_sizes)}")
    memory_budget = check_int("memory_budget", memory_budget, low=1)
    out_dtype = U.dtype
    cd = compute_dtype(out_dtype)
    Z = None
    W = family.total_weight
    total = torch.zeros((), dtype=cd, device=U.device)
    parts = _grouped_parts(family)
    for p in parts:
        if p.B == 1:                                        # loss 0: only its weight counts
            continue
        m = method
        if p.stored is None and m == "auto":
            m = "pairwise" if p.B == 2 else "formula" if p.n_batches(N) > STREAM_LIMIT else "enumerate"
        if m == "formula":
            val = all_batches_objective(U, V, p.B, loss=loss, tau=tau, memory_budget=memory_budget, check=False).to(cd)
        else:
            Z = logits(U.to(cd), V.to(cd), tau) if Z is None else Z
            val = pairwise_objective(Z, loss) if m == "pairwise" else StreamedValue.apply(Z, _StreamImpl(N, p, loss, memory_budget))
        total = total + (val if len(parts) == 1 else val * (p.total_weight(N) / W))
    return total.to(out_dtype)


def _other_loss_objective(obj: Loss, U, V, family: Family, method: str, memory_budget: int) -> torch.Tensor:
    """Family objective of a non-InfoNCE loss (see :func:`family_objective`)."""
    if method in ("pairwise", "formula") and not _objectives.is_pair_sum(obj):
        raise ValueError(f"method={method!r} needs a closed form; loss {obj.name!r} has none (pair-sum losses: siglip, kcl)")
    if method == "pairwise" and any(p.B != 2 for p in family.parts):
        raise ValueError(f"method='pairwise' needs B = 2, got sizes {list(family.batch_sizes)}")
    out_dtype = U.dtype
    cd = compute_dtype(out_dtype)
    Uc, Vc = U.to(cd), V.to(cd)
    N, W = family.N, family.total_weight
    parts = _grouped_parts(family)
    total = torch.zeros((), dtype=cd, device=U.device)
    closed = _objectives.is_pair_sum(obj)
    for p in parts:
        m = "closed_form" if (p.stored is None and closed and method != "enumerate") else "enumerate"
        val = _objectives.part_objective(obj, Uc, Vc, p, N, m, _weighted_chunks, memory_budget)
        total = total + (val if len(parts) == 1 else val * (p.total_weight(N) / W))
    return total.to(out_dtype)


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


def sampled_objective(U: torch.Tensor, V: torch.Tensor, B: int, n_samples: int, *, scheme: str = "uniform",
                      loss="symmetric", tau: float | None = None, seed: int = 0) -> tuple[float, float]:
    """Unbiased estimate of the all-``C(N,B)`` objective and its standard error.

    ``scheme='uniform'``: the mean loss of ``n_samples`` independent uniform ``B``-subsets.
    ``scheme='partition'``: the mean, over ``n_samples`` uniform random partitions (B | N), of the
    partition objective — each block is marginally a uniform ``B``-subset, so this is unbiased too.
    """
    check_embeddings(U, V)
    obj, loss, tau = resolve_loss(loss, tau)
    if loss is None:
        loss, tau = obj, None
    N = U.shape[0]
    check_int("B", B, low=max(2, obj.min_batch), high=N)
    n_samples = check_int("n_samples", n_samples, low=2)
    if scheme not in ("uniform", "partition"):
        raise ValueError(f"scheme must be 'uniform' or 'partition', got {scheme!r}")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if scheme == "uniform":
            b = torch.argsort(torch.rand(n_samples, N, generator=g), dim=1)[:, :B]
            vals = batch_losses(U, V, b.to(U.device), loss=loss, tau=tau, check=False)
        else:
            if N % B:
                raise ValueError(f"scheme='partition' needs B to divide N; got N={N}, B={B}")
            perms = torch.argsort(torch.rand(n_samples, N, generator=g), dim=1).reshape(-1, B)
            vals = batch_losses(U, V, perms.to(U.device), loss=loss, tau=tau, check=False).reshape(n_samples, N // B).mean(1)
    vals = vals.double().cpu()
    return float(vals.mean()), float(vals.std(unbiased=True) / math.sqrt(n_samples))
