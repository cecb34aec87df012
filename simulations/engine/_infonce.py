"""InfoNCE's fast engine kernel (the loss declares ``kernel = 'infonce'``; :mod:`simulations.engine` finds it
in ``KERNELS``): the matmul / gather / lse streaming paths, all pairs in closed form and the exact polynomial
formula for all ``C(N,B)`` batches, and the paper's spectral-clustering affinity.

Numerics: the anchor term ``log sum_{j in S} exp(z_ij) - z_ii`` is computed as
``log sum_{j in S} exp(z_ij - z_ii)`` from ``exp(Z - diag)`` formed once (every sum is >= 1, so it
never underflows) whenever ``max(z_ij - z_ii)`` is safely below the overflow threshold of the dtype;
otherwise each batch uses log-sum-exp with its row maximum subtracted.
"""
from __future__ import annotations

import torch

from theory.batches import Family, Part

from simulations.engine._autograd import StreamedValue
from simulations.engine._tensor_checks import compute_dtype, exp_safe
from simulations.engine.batching import (CHUNK_BYTES, FLAT_CACHE_LIMIT, _cached_onehot, _grouped_parts, _weighted_chunks, flat_chunks,
                       flat_index)
from simulations.engine.exact_all import all_batches_objective
from simulations.engine.limits import STREAM_LIMIT

#: The one-hot matrix-product path is used when N <= MATMUL_RATIO * B (dense products beat gathers).
MATMUL_RATIO = 7


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
    ``B >= 2``, streamed (see :class:`simulations.engine._autograd.StreamedValue`)."""

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



def affinity(U: torch.Tensor, V: torch.Tensor, B: int, tau: float) -> torch.Tensor:
    """The paper's spectral-clustering affinity ``A = a + a^T`` with
    ``a_ij = log(1 + (B-1) e^{z_ij - z_ii}) + log(1 + (B-1) e^{z_ji - z_ii})`` (diagonal included as computed)."""
    Z = U @ V.T / tau
    dg = Z.diagonal()
    c = torch.log(torch.tensor(float(B - 1), dtype=Z.dtype, device=Z.device))
    a = softplus(Z - dg[:, None] + c) + softplus(Z.T - dg[:, None] + c)     # log(1 + (B-1) e^x) = softplus(x + log(B-1))
    return a + a.T


class InfoNCEKernel:
    """The engine's entry points for InfoNCE (see :mod:`simulations.engine` for their contracts)."""

    def objective(self, U, V, family: Family, loss, method: str, memory_budget: int) -> torch.Tensor:
        N = family.N
        lazy = [p for p in family.parts if p.stored is None]
        if method == "pairwise" and any(p.B != 2 for p in lazy):
            raise ValueError(f"method='pairwise' needs B = 2, got sizes {list(family.batch_sizes)}")
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
                val = all_batches_objective(U, V, p.B, loss, memory_budget=memory_budget, check=False).to(cd)
            else:
                Z = U.to(cd) @ V.to(cd).T / loss.tau if Z is None else Z
                val = (pairwise_objective(Z, loss.mode) if m == "pairwise"
                       else StreamedValue.apply(Z, _StreamImpl(N, p, loss.mode, memory_budget)))
            total = total + (val if len(parts) == 1 else val * (p.total_weight(N) / W))
        return total.to(out_dtype)

    def batch_values(self, U, V, batches: torch.Tensor, loss, memory_budget: int) -> torch.Tensor:
        out_dtype = U.dtype
        if batches.shape[1] == 1:
            return torch.zeros(batches.shape[0], dtype=out_dtype, device=U.device)
        cd = compute_dtype(out_dtype)
        Z = U.to(cd) @ V.to(cd).T / loss.tau
        kern = _Kernel(Z, loss.mode, batches.shape[1], want_grad=False)
        memory_budget = min(memory_budget, CHUNK_BYTES)
        if kern.path == "matmul":
            step = max(1, memory_budget // (6 * Z.shape[0] * Z.element_size()))
        else:
            step = _chunk_rows(batches.shape[1], Z.element_size(), memory_budget)
        return torch.cat([kern.accumulate(batches[s:s + step]) for s in range(0, batches.shape[0], step)]).to(out_dtype)

    def pair_matrix(self, U, V, loss) -> torch.Tensor:
        return pair_losses(U @ V.T / loss.tau, loss.mode)

    def affinity(self, U, V, B: int, loss) -> torch.Tensor:
        return affinity(U, V, B, loss.tau)


KERNEL = InfoNCEKernel()
