"""The losses beyond InfoNCE (SigLIP, DCL, DHEL, KCL) in torch: per-batch losses and exact family objectives.

The same losses as :mod:`theory.objectives` (the float64 oracle these are tested against), computed
from the Gram matrices formed once per evaluation: ``Z = U V^T`` (every loss) and ``U U^T``, ``V V^T``
(DHEL, KCL). Stacked as ``T: (3, N, N)``, every batch's ``b x b`` blocks are *gathered* from ``T``:

* per-batch losses: gathered in chunks bounded by a memory budget;
* a family objective ``sum_S w_S L(S) / sum_S w_S``: the batches of each one-size part are streamed
  through :class:`simulations._autograd.StreamedValue`; each chunk's gradient with respect to its
  gathered blocks (plain autograd on a detached leaf) is scattered into one ``(3, N, N)`` buffer, so
  memory stays ``O(N^2 + budget)`` and no graph over the chunks is kept;
* pair-sum losses (SigLIP, KCL): ``L(S) = a_b sum_{i in S} D_i + c_b sum_{i != j in S} O_ij``, so an
  all-``C(N,B)`` part has the exact ``O(N^2)`` closed form of :func:`theory.objectives.all_batches_pair_sum`
  (any N, differentiable);
* DCL and DHEL have no closed form here: an all-``C(N,B)`` part above ``STREAM_LIMIT`` batches is refused
  (use :func:`simulations.engine.sampled_objective`).

InfoNCE objects are routed to :mod:`simulations.engine`'s own kernels (the matmul / gather / lse paths
and the exact polynomial formula), never through this module.
"""
from __future__ import annotations

import torch

from theory.batches import Part
from theory.objectives import DCL, DHEL, KCL, Loss, SigLIP

from ._autograd import StreamedValue
from .limits import STREAM_LIMIT

#: Working set of one streamed chunk (bytes): ``n b^2`` gathered entries and their temporaries.
CHUNK_BYTES = 8 * 2**20


def _softplus(x: torch.Tensor) -> torch.Tensor:
    return torch.logaddexp(x, torch.zeros((), dtype=x.dtype, device=x.device))


def _lse_off_diagonal(G: torch.Tensor) -> torch.Tensor:
    """``log sum_{j != i} exp(G_ij)`` over the last axis of ``(n, b, b)`` blocks (row maximum subtracted)."""
    b = G.shape[-1]
    eye = torch.eye(b, dtype=torch.bool, device=G.device)
    return torch.logsumexp(G.masked_fill(eye, -torch.inf), dim=-1)


def needs_self_grams(loss: Loss) -> bool:
    """True when the loss uses ``U U^T`` and ``V V^T`` (a within-modality term: DHEL, KCL)."""
    return isinstance(loss, (DHEL, KCL))


def is_pair_sum(loss: Loss) -> bool:
    """True for the losses with an exact O(N^2) all-C(N,B) form (:func:`pair_form`): SigLIP, KCL."""
    return isinstance(loss, (SigLIP, KCL))


def grams(loss: Loss, U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """``T = [U V^T, U U^T, V V^T]`` (``(3, N, N)``), or only ``U V^T`` (``(1, N, N)``) when the loss needs no more."""
    if needs_self_grams(loss):
        return torch.stack([U @ V.T, U @ U.T, V @ V.T])
    return (U @ V.T)[None]


def block_losses(loss: Loss, blocks: torch.Tensor) -> torch.Tensor:
    """Losses of ``n`` batches of size ``b`` from their gathered Gram blocks ``(k, n, b, b)``
    (``blocks[0]``: ``u_i . v_j``; ``blocks[1], blocks[2]``: ``u_i . u_j``, ``v_i . v_j``), shape ``(n,)``.
    The formulas are those of :mod:`theory.objectives`."""
    Zb = blocks[0]
    b = Zb.shape[-1]
    d = Zb.diagonal(dim1=-2, dim2=-1)
    if isinstance(loss, SigLIP):
        x = Zb / loss.tau + loss.bias
        y = 2.0 * torch.eye(b, dtype=Zb.dtype, device=Zb.device) - 1.0
        return _softplus(-y * x).sum(dim=(-2, -1)) / b
    if isinstance(loss, DCL):
        Zs = Zb / loss.tau
        out = (_lse_off_diagonal(Zs) - d / loss.tau).mean(-1)
        if loss.symmetric:
            out = out + (_lse_off_diagonal(Zs.transpose(-2, -1)) - d / loss.tau).mean(-1)
        return out
    if isinstance(loss, DHEL):
        out = (_lse_off_diagonal(blocks[1] / loss.tau) - d / loss.tau).mean(-1)
        if loss.symmetric:
            out = out + (_lse_off_diagonal(blocks[2] / loss.tau) - d / loss.tau).mean(-1)
        return out
    if isinstance(loss, KCL):
        off = ~torch.eye(b, dtype=torch.bool, device=Zb.device)
        k = lambda G: torch.exp(-2.0 * loss.t * (1.0 - G))         # noqa: E731
        unif = (k(blocks[1]) * off).sum(dim=(-2, -1)) + (k(blocks[2]) * off).sum(dim=(-2, -1))
        return -k(d).mean(-1) + loss.gamma * unif / (b * (b - 1))
    raise ValueError(f"no torch implementation for loss {loss.name!r} (InfoNCE runs in simulations.engine)")


def _gather(T: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(k, n, B, B)`` blocks ``T[:, S, S]`` of the ``(n, B)`` batches ``b``."""
    N = T.shape[-1]
    flat = b[:, :, None] * N + b[:, None, :]
    return T.reshape(T.shape[0], -1)[:, flat]


def _chunk_rows(k: int, B: int, itemsize: int, budget: int = CHUNK_BYTES) -> int:
    return max(1, min(budget, CHUNK_BYTES) // (8 * k * B * B * itemsize))


def batch_losses(loss: Loss, U: torch.Tensor, V: torch.Tensor, batches: torch.Tensor,
                 budget: int = CHUNK_BYTES) -> torch.Tensor:
    """Differentiable losses of the ``(n, B)`` batches (validated by the caller), shape ``(n,)``."""
    T = grams(loss, U, V)
    step = _chunk_rows(T.shape[0], batches.shape[1], T.element_size(), budget)
    return torch.cat([block_losses(loss, _gather(T, batches[s:s + step])) for s in range(0, batches.shape[0], step)])


class _StreamImpl:
    """The weighted mean loss of one part's batches from the stacked Grams ``T`` (see module docstring)."""

    def __init__(self, loss: Loss, N: int, part: Part, chunks, budget: int = CHUNK_BYTES):
        self.loss, self.N, self.part, self.chunks, self.budget = loss, N, part, chunks, budget
        # an all-C(N,B) part's chunks come unweighted (one common weight): its weighted mean is the plain mean
        self.total = part.n_batches(N) if part.stored is None else part.total_weight(N)

    def _rows(self, T):
        return _chunk_rows(T.shape[0], self.part.B, T.element_size(), self.budget)

    def value_and_grad(self, T, want):
        total = torch.zeros((), dtype=T.dtype, device=T.device)
        G = torch.zeros_like(T).reshape(T.shape[0], -1) if want else None
        N = self.N
        for b, w in self.chunks(self.part, self._rows(T), T.device, N):
            flat = b[:, :, None] * N + b[:, None, :]
            blocks = T.reshape(T.shape[0], -1)[:, flat]
            w = None if w is None else w.to(T.dtype)
            if not want:
                v = block_losses(self.loss, blocks)
                total = total + (v.sum() if w is None else (v * w).sum())
                continue
            with torch.enable_grad():
                leaf = blocks.detach().requires_grad_(True)
                v = block_losses(self.loss, leaf)
                s = v.sum() if w is None else (v * w).sum()
                (g,) = torch.autograd.grad(s, leaf)
            total = total + s.detach()
            G.index_add_(1, flat.reshape(-1), g.reshape(T.shape[0], -1))
        n = self.total
        return total / n, (G.reshape(T.shape) / n if want else None)

    def differentiable(self, T):
        total = torch.zeros((), dtype=T.dtype, device=T.device)
        for b, w in self.chunks(self.part, self._rows(T), T.device, self.N):
            v = block_losses(self.loss, _gather(T, b))
            total = total + (v.sum() if w is None else (v * w.to(T.dtype)).sum())
        return total / self.total


def pair_form(loss: Loss, U: torch.Tensor, V: torch.Tensor):
    """Torch version of :meth:`theory.objectives.Loss.pair_form`: ``(D: (N,), O: (N, N) zero diagonal, coef)``."""
    N = U.shape[0]
    off = ~torch.eye(N, dtype=torch.bool, device=U.device)
    if isinstance(loss, SigLIP):
        x = U @ V.T / loss.tau + loss.bias
        return _softplus(-x.diagonal()), _softplus(x) * off, lambda b: (1.0 / b, 1.0 / b)
    if isinstance(loss, KCL):
        k = lambda G: torch.exp(-2.0 * loss.t * (1.0 - G))         # noqa: E731
        O = loss.gamma * (k(U @ U.T) + k(V @ V.T)) * off
        return -k((U * V).sum(1)), O, lambda b: (1.0 / b, 1.0 / (b * (b - 1)))
    return None


def all_batches_pair_sum(loss: Loss, U: torch.Tensor, V: torch.Tensor, B: int) -> torch.Tensor:
    """Exact all-``C(N,B)`` objective of a pair-sum loss, ``O(N^2)``, differentiable:
    ``a_B (B/N) sum_i D_i + c_B B(B-1)/(N(N-1)) sum_{i != j} O_ij``."""
    N = U.shape[0]
    D, O, coef = pair_form(loss, U, V)
    a, c = coef(B)
    out = a * B / N * D.sum()
    if B > 1:
        out = out + c * B * (B - 1) / (N * (N - 1)) * O.sum()
    return out


def part_objective(loss: Loss, U, V, part: Part, N: int, method: str, chunks, budget: int = CHUNK_BYTES):
    """Weighted mean loss of one part (``method`` already resolved: 'closed_form' or 'enumerate')."""
    if method == "closed_form":
        return all_batches_pair_sum(loss, U, V, part.B)
    if part.stored is None and part.n_batches(N) > STREAM_LIMIT:
        raise ValueError(f"loss {loss.name!r}: the all-C(N={N}, B={part.B}) part has {part.n_batches(N):.3g} batches, above "
                         f"the streaming limit {STREAM_LIMIT:.0e}, and this loss has no closed form; use "
                         "simulations.sampled_objective (an unbiased estimate with its standard error)")
    return StreamedValue.apply(grams(loss, U, V), _StreamImpl(loss, N, part, chunks, budget))
