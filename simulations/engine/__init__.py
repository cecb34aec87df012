"""The torch engine's front: exact family objectives, per-batch values and estimators for every registered loss
(CPU or GPU, float32 or float64, differentiable).

The same quantities as :mod:`theory` (the float64 oracle they are tested against), computed from the Gram
matrices formed once per evaluation: ``Z = U V^T`` (every loss) and, for losses that need them
(:attr:`theory.Loss.needs_self_grams`), ``U U^T`` and ``V V^T``, stacked as ``T: (k, N, N)``.

* **generic path** (any loss, including a plugin's): every batch's ``b x b`` blocks are *gathered* from
  ``T`` and passed to the loss's own :meth:`~theory.Loss.batch_losses`. A family objective streams the
  batches of each one-size part through :class:`simulations.engine._autograd.StreamedValue`: each chunk's gradient
  with respect to its gathered blocks (plain autograd on a detached leaf) is scattered into one ``(k, N, N)``
  buffer, so memory stays ``O(N^2 + budget)`` and no graph over the chunks is kept;
* **pair-sum losses** (:meth:`~theory.Loss.pair_form`: SigLIP, KCL): ``L(S) = a_b sum_{i in S} D_i +
  c_b sum_{i != j in S} O_ij``, so an all-``C(N,B)`` part has the exact ``O(N^2)`` closed form
  ``a_B (B/N) sum_i D_i + c_B B(B-1)/(N(N-1)) sum_{i != j} O_ij`` at any N;
* **a faster kernel** where the loss names one (:attr:`~theory.Loss.kernel`; InfoNCE's, in
  :mod:`simulations.engine._infonce`: matmul / gather paths, all pairs in ``O(N^2)``, and the exact polynomial
  formula of :mod:`simulations.engine.exact_all` for all-``C(N,B)`` parts past the streaming limit).

A loss with none of these refuses an all-``C(N,B)`` part above ``STREAM_LIMIT`` batches (use
:func:`sampled_objective`).
"""
from __future__ import annotations

import math

import torch

from theory._checks import check_int
from theory.batches import Family, Part
from theory.labels import check_ties
from theory.losses import Loss, as_loss, evaluate

from simulations.engine import _infonce
from simulations.engine._autograd import StreamedValue
from simulations.engine._tensor_checks import check_embeddings, compute_dtype
from simulations.engine.batching import CHUNK_BYTES, _grouped_parts, _weighted_chunks, batch_chunks, check_batches, clear_caches  # noqa: F401
from simulations.engine.limits import DEFAULT_MEMORY_BUDGET, STREAM_LIMIT

#: Engine kernels by the name a loss declares in ``Loss.kernel``.
KERNELS = {"infonce": _infonce.KERNEL}
OBJECTIVE_METHODS = ("auto", "enumerate", "pairwise", "formula")


def _kernel(loss: Loss):
    if loss.kernel is None:
        return None
    if loss.kernel not in KERNELS:
        raise ValueError(f"loss {loss.name!r} names the engine kernel {loss.kernel!r}, which is not one of {sorted(KERNELS)}")
    return KERNELS[loss.kernel]


def grams(loss: Loss, U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """``T = [U V^T, U U^T, V V^T]`` (``(3, N, N)``), or only ``U V^T`` (``(1, N, N)``) when the loss needs no more.

    Parameters
    ----------
    loss : Loss
    U, V : torch.Tensor, shape (N, d)

    Returns
    -------
    torch.Tensor
    """
    if loss.needs_self_grams:
        return torch.stack([U @ V.T, U @ U.T, V @ V.T])
    return (U @ V.T)[None]


def _gather(T: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(k, n, B, B)`` blocks ``T[:, S, S]`` of the ``(n, B)`` batches ``b``."""
    N = T.shape[-1]
    flat = b[:, :, None] * N + b[:, None, :]
    return T.reshape(T.shape[0], -1)[:, flat]


def _rows(k: int, B: int, itemsize: int, budget: int = CHUNK_BYTES) -> int:
    return max(1, min(budget, CHUNK_BYTES) // (8 * k * B * B * itemsize))


def _block_values(loss: Loss, blocks: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return evaluate(loss, blocks[0], b, *blocks[1:])


class _GenericStream:
    """The weighted mean loss of one part's batches from the stacked Grams ``T`` (see module docstring)."""

    def __init__(self, loss: Loss, N: int, part: Part, budget: int):
        self.loss, self.N, self.part, self.budget = loss, N, part, budget
        # an all-C(N,B) part's chunks come unweighted (one common weight): its weighted mean is the plain mean
        self.total = part.n_batches(N) if part.stored is None else part.total_weight(N)

    def _chunks(self, T):
        rows = _rows(T.shape[0], self.part.B, T.element_size(), self.budget)
        return _weighted_chunks(self.part, rows, T.device, self.N)

    def value_and_grad(self, T, want):
        total = torch.zeros((), dtype=T.dtype, device=T.device)
        G = torch.zeros_like(T).reshape(T.shape[0], -1) if want else None
        N = self.N
        for b, w in self._chunks(T):
            flat = b[:, :, None] * N + b[:, None, :]
            blocks = T.reshape(T.shape[0], -1)[:, flat]
            w = None if w is None else w.to(T.dtype)
            if not want:
                v = _block_values(self.loss, blocks, b)
                total = total + (v.sum() if w is None else (v * w).sum())
                continue
            with torch.enable_grad():
                leaf = blocks.detach().requires_grad_(True)
                v = _block_values(self.loss, leaf, b)
                s = v.sum() if w is None else (v * w).sum()
                (g,) = torch.autograd.grad(s, leaf)
            total = total + s.detach()
            G.index_add_(1, flat.reshape(-1), g.reshape(T.shape[0], -1))
        return total / self.total, (G.reshape(T.shape) / self.total if want else None)

    def differentiable(self, T):
        total = torch.zeros((), dtype=T.dtype, device=T.device)
        for b, w in self._chunks(T):
            v = _block_values(self.loss, _gather(T, b), b)
            total = total + (v.sum() if w is None else (v * w.to(T.dtype)).sum())
        return total / self.total


def _pair_sum_all(loss: Loss, T: torch.Tensor, N: int, B: int):
    """Exact all-``C(N,B)`` objective of a pair-sum loss from the full Grams, or None if the loss has no pair form."""
    form = loss.pair_form(T[0], *T[1:]) if loss.needs_self_grams else loss.pair_form(T[0])
    if form is None:
        return None
    D, O, coef = form
    a, c = coef(B)
    out = a * B / N * D.sum()
    if B > 1:
        out = out + c * B * (B - 1) / (N * (N - 1)) * O.sum()
    return out


def _expand_ties(U: torch.Tensor, V: torch.Tensor, N: int, ties):
    """One row per item expanded to one per pair (:mod:`theory.labels`); autograd sums each item's pairs."""
    if ties is None:
        return U, V
    t = torch.from_numpy(check_ties(ties, N, U.shape[0])).to(U.device)
    return U[t], V[t]


def _check_family_loss(family, loss, method: str):
    """The loss (from a name or a Loss) after checking ``method`` and that ``family`` is a Family whose batches the
    loss is defined on (ValueError naming what is wrong)."""
    loss = as_loss(loss)
    if method not in OBJECTIVE_METHODS:
        raise ValueError(f"method must be one of {OBJECTIVE_METHODS}, got {method!r}")
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    small = [b for b in family.batch_sizes if b < loss.min_batch]
    if small:
        raise ValueError(f"loss {loss.name!r} needs batches of size >= {loss.min_batch}, the family has sizes {small}")
    return loss


def objective(U: torch.Tensor, V: torch.Tensor, family: Family, loss, *, method: str = "auto",
              memory_budget: int = DEFAULT_MEMORY_BUDGET, check: bool = True, ties=None) -> torch.Tensor:
    """Exact family objective ``L_F(U, V) = sum_S w_S L(S) / sum_S w_S`` as a differentiable scalar tensor.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        Unit-norm rows, any device; float64, float32 (half precisions are computed in float32 and cast back).
    family : theory.Family
        Any weights and sizes, mixtures of all-``C(N,b)`` families (e.g. ``Family.dataloader_expectation``);
        each one-size part is computed on its own and the parts combined with their total weights.
    loss : theory.Loss or str
        A loss object or a registered name.
    method : {'auto', 'enumerate', 'pairwise', 'formula'}, default='auto'
        ``'auto'``: per all-``C(N,b)`` part, the loss's fastest exact form (a kernel's closed forms and formula,
        a pair-sum closed form), enumeration (streamed) otherwise. ``'enumerate'`` always streams the batches;
        ``'pairwise'`` (B = 2) and ``'formula'`` force a closed form and need every part to be all-``C(N,b)``.
    memory_budget : int, default=DEFAULT_MEMORY_BUDGET
        Bytes of working memory per chunk, >= 1.
    check : bool, default=True
        Validate ``U`` and ``V`` (False for callers that built them).
    ties : sequence of int, optional
        Duplicated pairs: ``ties[i]`` is the item pair ``i`` copies (:mod:`theory.labels`); ``U``, ``V`` then have
        one row per item (fewer variables), pair ``i`` using row ``ties[i]``.

    Returns
    -------
    torch.Tensor
        A 0-d tensor of ``U``'s dtype.

    Raises
    ------
    ValueError
        Bad input; batches smaller than the loss's ``min_batch``; a method the loss or family cannot use; an
        all-``C(N,B)`` part above ``STREAM_LIMIT`` batches for a loss with no closed form.
    """
    loss = _check_family_loss(family, loss, method)
    if check:
        check_embeddings(U, V)
    N = family.N
    U, V = _expand_ties(U, V, N, ties)
    if N != U.shape[0]:
        raise ValueError(f"family is over N={family.N} indices but U, V have N={U.shape[0]} rows")
    lazy = [p for p in family.parts if p.stored is None]
    if method in ("pairwise", "formula") and len(lazy) < len([p for p in family.parts if p.B > 1]):
        raise ValueError(f"method={method!r} applies only to all-C(N,B) families (or mixtures of them), "
                         f"got kind={family.kind!r} with stored batches")
    memory_budget = check_int("memory_budget", memory_budget, low=1)
    kernel = _kernel(loss)
    if kernel is not None:
        return kernel.objective(U, V, family, loss, method, memory_budget)
    if method == "pairwise" and any(p.B != 2 for p in family.parts):
        raise ValueError(f"method='pairwise' needs B = 2, got sizes {list(family.batch_sizes)}")
    out_dtype = U.dtype
    cd = compute_dtype(out_dtype)
    return gram_objective(grams(loss, U.to(cd), V.to(cd)), family, loss, method=method,
                          memory_budget=memory_budget).to(out_dtype)


def gram_objective(T: torch.Tensor, family: Family, loss, *, method: str = "auto",
                   memory_budget: int = DEFAULT_MEMORY_BUDGET) -> torch.Tensor:
    """The family objective as a differentiable function of the Gram stack ``T`` of :func:`grams` (the generic
    path of :func:`objective`: pair-sum closed forms and streamed batches; no loss kernel).

    ``T`` need not come from embeddings: any ``(k, N, N)`` stack (``k = 3`` for losses with
    :attr:`~theory.Loss.needs_self_grams`, else 1) is read as ``[Z, U U^T, V V^T]``, so the gradient with respect
    to ``T`` is the gradient with respect to the Gram matrices (:class:`theory.GramGradient`).

    Parameters
    ----------
    T : torch.Tensor, shape (k, N, N)
        float32 or float64.
    family : theory.Family
    loss : theory.Loss or str
    method : {'auto', 'enumerate', 'pairwise', 'formula'}, default='auto'
        As in :func:`objective` (``'pairwise'`` and ``'formula'`` force the pair-sum closed form).
    memory_budget : int, default=DEFAULT_MEMORY_BUDGET

    Returns
    -------
    torch.Tensor
        A 0-d tensor of ``T``'s dtype.

    Raises
    ------
    ValueError
        ``T`` of the wrong shape or dtype; a family over another N; a closed form the loss does not have; an
        all-``C(N,B)`` part above ``STREAM_LIMIT`` batches for a loss with no closed form.
    """
    loss = _check_family_loss(family, loss, method)
    k = 3 if loss.needs_self_grams else 1
    N = family.N
    if not isinstance(T, torch.Tensor) or tuple(T.shape) != (k, N, N) or T.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"T must be a float32 or float64 tensor of shape ({k}, {N}, {N}) for loss {loss.name!r} and "
                         f"N = {N}, got {getattr(T, 'shape', type(T).__name__)}")
    cd = T.dtype
    W = family.total_weight
    parts = _grouped_parts(family)
    total = torch.zeros((), dtype=cd, device=T.device)
    for p in parts:
        val = None
        if p.stored is None and method != "enumerate":
            val = _pair_sum_all(loss, T, N, p.B)
            if val is None and method in ("pairwise", "formula"):
                raise ValueError(f"method={method!r} needs a closed form; loss {loss.name!r} has none (no pair_form)")
        if val is None:
            if p.stored is None and p.n_batches(N) > STREAM_LIMIT:
                raise ValueError(f"loss {loss.name!r}: the all-C(N={N}, B={p.B}) part has {p.n_batches(N):.3g} batches, "
                                 f"above the streaming limit {STREAM_LIMIT:.0e}, and this loss has no closed form; use "
                                 "simulations.sampled_objective (an unbiased estimate with its standard error)")
            val = StreamedValue.apply(T, _GenericStream(loss, N, p, memory_budget))
        total = total + (val if len(parts) == 1 else val * (p.total_weight(N) / W))
    return total


def batch_values(U: torch.Tensor, V: torch.Tensor, batches, loss, *, memory_budget: int = DEFAULT_MEMORY_BUDGET,
                 check: bool = True, ties=None) -> torch.Tensor:
    """Per-batch losses ``L(S)``, differentiable.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        Unit-norm rows.
    batches : torch.Tensor or array_like of int, shape (n, B), or theory.Family
        Index batches, or a family of any sizes (its batches in :meth:`theory.Family.batch_list` order).
    loss : theory.Loss or str
    memory_budget : int, default=DEFAULT_MEMORY_BUDGET
    check : bool, default=True
        Validate ``U``, ``V`` and ``batches``.
    ties : sequence of int, optional
        As in :func:`objective` (one row per item; the batches index pairs, ``len(ties)`` of them).

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    loss = as_loss(loss)
    if ties is not None:
        if check:
            check_embeddings(U, V)
        U, V = _expand_ties(U, V, len(ties), ties)
    memory_budget = check_int("memory_budget", memory_budget, low=1)
    if isinstance(batches, Family) and not batches.is_uniform:
        if check:
            check_embeddings(U, V)
        if batches.N != U.shape[0]:
            raise ValueError(f"family is over N={batches.N} indices but U, V have N={U.shape[0]} rows")
        batches.sizes                                       # refuses above the enumeration limit
        return torch.cat([batch_values(U, V, torch.cat(list(batch_chunks(p, 10**6, U.device, batches.N))), loss,
                                       memory_budget=memory_budget, check=False) for p in batches.parts])
    if check:
        check_embeddings(U, V)
        batches = check_batches(batches, U.shape[0], U.device, min_size=loss.min_batch)
    elif isinstance(batches, Family):
        batches = torch.from_numpy(batches.batches).to(U.device)
    if batches.shape[1] < loss.min_batch:
        raise ValueError(f"loss {loss.name!r} needs batches of size >= {loss.min_batch}, got B={batches.shape[1]}")
    kernel = _kernel(loss)
    if kernel is not None:
        return kernel.batch_values(U, V, batches, loss, memory_budget)
    cd = compute_dtype(U.dtype)
    T = grams(loss, U.to(cd), V.to(cd))
    step = _rows(T.shape[0], batches.shape[1], T.element_size(), memory_budget)
    return torch.cat([_block_values(loss, _gather(T, batches[s:s + step]), batches[s:s + step])
                      for s in range(0, batches.shape[0], step)]).to(U.dtype)


def pair_loss_matrix(U: torch.Tensor, V: torch.Tensor, loss) -> torch.Tensor:
    """``(N, N)`` matrix of the pair losses ``L({i, j})`` (diagonal ``-inf``), without gradient.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
    loss : theory.Loss or str

    Returns
    -------
    torch.Tensor, shape (N, N)
    """
    loss = as_loss(loss)
    N = U.shape[0]
    kernel = _kernel(loss)
    with torch.no_grad():
        if kernel is not None:
            return kernel.pair_matrix(U, V, loss)
        iu = torch.triu_indices(N, N, 1, device=U.device)
        vals = batch_values(U, V, iu.T.contiguous(), loss, check=False)
        P = torch.full((N, N), -torch.inf, dtype=vals.dtype, device=U.device)
        P[iu[0], iu[1]] = vals
        P[iu[1], iu[0]] = vals
        return P


def sc_affinity(U: torch.Tensor, V: torch.Tensor, B: int, loss) -> torch.Tensor:
    """Spectral-clustering affinity ``(N, N)``: the loss kernel's own (InfoNCE: the paper's
    ``a_ij = log(1 + (B-1) e^{z_ij - z_ii}) + log(1 + (B-1) e^{z_ji - z_ii})``, ``A = a + a^T``), otherwise
    the pair loss ``2 L({i, j})`` (exact for B = 2).

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
    B : int
        Batch size, >= 2.
    loss : theory.Loss or str

    Returns
    -------
    torch.Tensor, shape (N, N)
    """
    loss = as_loss(loss)
    kernel = _kernel(loss)
    with torch.no_grad():
        if kernel is not None:
            return kernel.affinity(U, V, B, loss)
        return 2 * pair_loss_matrix(U, V, loss)


def sampled_objective(U: torch.Tensor, V: torch.Tensor, B: int, n_samples: int, loss, *, scheme: str = "uniform",
                      seed: int = 0) -> tuple[float, float]:
    """Unbiased estimate of the all-``C(N,B)`` objective and its standard error.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
    B : int
        Batch size, ``max(2, loss.min_batch) <= B <= N``.
    n_samples : int, >= 2
    loss : theory.Loss or str
    scheme : {'uniform', 'partition'}, default='uniform'
        ``'uniform'``: the mean loss of ``n_samples`` independent uniform ``B``-subsets. ``'partition'``: the
        mean, over ``n_samples`` uniform random partitions (B | N), of the partition objective; each block is
        marginally a uniform ``B``-subset, so this is unbiased too.
    seed : int, default=0

    Returns
    -------
    (float, float)
        The estimate and its standard error.
    """
    check_embeddings(U, V)
    loss = as_loss(loss)
    N = U.shape[0]
    check_int("B", B, low=max(2, loss.min_batch), high=N)
    n_samples = check_int("n_samples", n_samples, low=2)
    if scheme not in ("uniform", "partition"):
        raise ValueError(f"scheme must be 'uniform' or 'partition', got {scheme!r}")
    g = torch.Generator().manual_seed(check_int("seed", seed))
    with torch.no_grad():
        if scheme == "uniform":
            b = torch.argsort(torch.rand(n_samples, N, generator=g), dim=1)[:, :B]
            vals = batch_values(U, V, b.to(U.device), loss, check=False)
        else:
            if N % B:
                raise ValueError(f"scheme='partition' needs B to divide N; got N={N}, B={B}")
            perms = torch.argsort(torch.rand(n_samples, N, generator=g), dim=1).reshape(-1, B)
            vals = batch_values(U, V, perms.to(U.device), loss, check=False).reshape(n_samples, N // B).mean(1)
    vals = vals.double().cpu()
    return float(vals.mean()), float(vals.std(unbiased=True) / math.sqrt(n_samples))
