r"""Learnability-based selection: JEST (joint, chunk by chunk) and RHO-LOSS (per example).

Both score candidates by *learnability*, the learner's loss minus a reference model's loss, on a
super-batch ``C`` of ``s`` pairs drawn uniformly (without replacement) before each update, and keep
``B`` of them. The *reference model* is fixed embeddings ``(U_ref, V_ref)``;
:func:`reference_model` gives the toolkit's choice, stated: full-batch gradient descent
(``reference_steps`` plain steps at the run's ``lr``) from an independent Gaussian start — a model
trained on all the data with the objective the learner is after, as JEST's reference is pretrained
on curated data. With ``reference='none'`` the reference loss is 0 (pure hard-example selection).

Set learnability, sum-normalised so that a loss that is a sum over the set's terms adds up:
``ell(A) = |A| (L(A; learner) - L(A; reference))`` (``ell(A) = 0`` for ``|A| <`` the loss's
``min_batch``; a single pair's loss is its positive term: SigLIP's ``softplus(-x_ii)``, InfoNCE's 0).

**JEST** (Evans et al. 2024, Algorithm 1): the ``B`` pairs are chosen in ``chunks`` chunks of ``B /
chunks``; for each chunk, every candidate ``c`` not yet chosen gets its conditional learnability
``ell(A + c) - ell(A)`` given the chosen set ``A`` (for a pair-sum loss such as SigLIP this is the JEST
paper's ``diag + row + column`` sum of the pairwise learnability matrix), and the chunk is sampled
without replacement with probabilities ``softmax(scores)`` (Gumbel top-k with the selector's generator).
Filter ratio ``1 - B/s``.

**RHO-LOSS** (Mindermann et al. 2022): each candidate's reducible loss is its leave-one-out
learnability in the super-batch, ``ell(C) - ell(C - i)`` (for a pair-sum loss: the pair's own terms and its
interactions with the super-batch, learner minus reference), and the ``B`` highest are kept
(deterministic, as in the paper's top-k selection).

Every scored set counts as one batch-loss evaluation per model (the selection cost).

References
----------
Evans, Parthasarathy, Merzic, Hénaff, "Data curation via joint example selection further accelerates
multimodal learning" (JEST), NeurIPS 2024 (arXiv 2406.17711), §3 and Algorithm 1.
Mindermann et al., "Prioritized Training on Points that are Learnable, Worth Learning, and Not Yet
Learnt" (RHO-LOSS), ICML 2022 (arXiv 2206.07137), eq. (3) and Algorithm 1.
"""
from __future__ import annotations

import torch

from theory import Family

from simulations.engine import batch_values, objective

REFERENCES = ("fullbatch", "none")


def reference_model(N: int, d: int, loss, *, steps: int, lr: float, seed: int, dtype=torch.float64,
                    device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The reference embeddings: ``steps`` plain full-batch gradient steps ``x <- x - lr grad`` on raw
    Gaussian vectors (seeded by ``seed``), normalised rows.

    Parameters
    ----------
    N, d : int
        Pairs and dimension.
    loss : theory.Loss
    steps : int
        Full-batch gradient steps, >= 1.
    lr : float
        Step size, > 0.
    seed : int
        Seeds the Gaussian start.
    dtype : torch.dtype, default=torch.float64
    device : str, default='cpu'

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        ``(U_ref, V_ref)``, shape ``(N, d)`` each, unit rows.

    Raises
    ------
    FloatingPointError
        If the full-batch loss becomes non-finite (lower ``lr``).
    """
    g = torch.Generator().manual_seed(seed)
    xu = torch.randn(N, d, generator=g, dtype=dtype).to(device)
    xv = torch.randn(N, d, generator=g, dtype=dtype).to(device)
    fam = Family.full(N)
    for _ in range(steps):
        xu, xv = xu.detach().requires_grad_(True), xv.detach().requires_grad_(True)
        val = objective(xu / xu.norm(dim=1, keepdim=True), xv / xv.norm(dim=1, keepdim=True), fam, loss, check=False)
        if not bool(torch.isfinite(val)):
            raise FloatingPointError("reference model: the full-batch loss became non-finite; lower lr")
        gu, gv = torch.autograd.grad(val, (xu, xv))
        xu, xv = xu - lr * gu, xv - lr * gv
    xu, xv = xu.detach(), xv.detach()
    return xu / xu.norm(dim=1, keepdim=True), xv / xv.norm(dim=1, keepdim=True)


class Learnability:
    """``ell(A)`` for sets of equal size, learner minus reference, with an evaluation counter.

    Parameters
    ----------
    loss : theory.Loss
    reference : (torch.Tensor, torch.Tensor) or None
        The reference embeddings; None: reference loss 0.
    """

    def __init__(self, loss, reference=None):
        self.loss, self.reference, self.evals = loss, reference, 0

    def __call__(self, U, V, sets: torch.Tensor) -> torch.Tensor:
        """``ell`` of each row of ``sets`` (``(n, a)`` indices), shape ``(n,)``, float64 on the CPU."""
        n, a = sets.shape
        if a == 0 or a < self.loss.min_batch:
            return torch.zeros(n, dtype=torch.float64)
        with torch.no_grad():
            out = batch_values(U, V, sets.to(U.device), self.loss, check=False).double().cpu()
            self.evals += n
            if self.reference is not None:
                Ur, Vr = self.reference
                out = out - batch_values(Ur, Vr, sets.to(Ur.device), self.loss, check=False).double().cpu()
                self.evals += n
        if not bool(torch.isfinite(out).all()):
            raise FloatingPointError("learnability: a batch loss is non-finite; check tau and the embeddings")
        return a * out


def jest_select(U, V, candidates: torch.Tensor, B: int, chunks: int, ell: Learnability,
                generator: torch.Generator) -> torch.Tensor:
    """JEST's chunked joint selection (module docstring).

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        The learner's unit-norm embeddings.
    candidates : torch.Tensor, shape (s,)
        The super-batch (distinct indices).
    B : int
        Pairs to choose, ``B <= s``.
    chunks : int
        Chunks, dividing ``B``.
    ell : Learnability
    generator : torch.Generator
        Seeds the Gumbel top-k sampling.

    Returns
    -------
    torch.Tensor
        LongTensor ``(B,)`` of distinct candidates, in the order chosen.
    """
    chosen = candidates[:0]
    rest = candidates.clone()
    per = B // chunks
    for _ in range(chunks):
        base = ell(U, V, chosen[None, :])[0] if len(chosen) else torch.zeros((), dtype=torch.float64)
        sets = torch.cat([chosen.expand(len(rest), len(chosen)), rest[:, None]], 1)
        scores = ell(U, V, sets) - base
        unif = torch.rand(len(rest), generator=generator, dtype=torch.float64).clamp(min=1e-300)
        gumbel = -torch.log(-torch.log(unif))
        pick = torch.topk(scores + gumbel, per).indices
        chosen = torch.cat([chosen, rest[pick]])
        keep = torch.ones(len(rest), dtype=torch.bool)
        keep[pick] = False
        rest = rest[keep]
    return chosen


def rho_select(U, V, candidates: torch.Tensor, B: int, ell: Learnability) -> torch.Tensor:
    """RHO-LOSS: the ``B`` candidates of highest leave-one-out learnability ``ell(C) - ell(C - i)``.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
    candidates : torch.Tensor, shape (s,)
        The super-batch, ``s > B``.
    B : int
    ell : Learnability

    Returns
    -------
    torch.Tensor
        LongTensor ``(B,)``.
    """
    s = len(candidates)
    full = ell(U, V, candidates[None, :])[0]
    loo = torch.stack([torch.cat([candidates[:i], candidates[i + 1:]]) for i in range(s)])
    reducible = full - ell(U, V, loo)
    return candidates[torch.topk(reducible, B).indices]
