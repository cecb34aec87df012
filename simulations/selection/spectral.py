"""Equal-size spectral clustering of the pairs: the paper's cheap finder of high-loss batches.

Affinity (Cho et al., §5), with ``z`` the logits:

.. math::

    a_{ij} = \\log(1 + (B-1) e^{z_{ij} - z_{ii}}) + \\log(1 + (B-1) e^{z_{ji} - z_{ii}}),\\qquad
    A = a + a^T,\\qquad W = e^{A}\\ (\\text{zero diagonal}).

For ``B = 2``, ``A_ij = 2 L({i, j})`` exactly. For the other losses (any :class:`theory.Loss` without an
engine kernel of its own) the affinity is that pair loss itself, ``A_ij = 2 L({i, j})``
(exact for ``B = 2``; for larger ``B`` a heuristic, as the InfoNCE form is). Then the normalised-Laplacian spectral embedding
(the ``k = N/B`` leading eigenvectors of ``D^{-1/2} W D^{-1/2}``, rows normalised as in Ng, Jordan
& Weiss), seeded k-means++ / Lloyd k-means, and equal-size clusters: each point is assigned to one
of ``B`` copies of each centre by an optimal assignment (``scipy.optimize.linear_sum_assignment``)
on squared distances. The output is always a partition into ``N/B`` batches of exactly ``B``.

References
----------
Ng, Jordan & Weiss, "On spectral clustering: analysis and an algorithm", NeurIPS 2001.
Cho et al., TMLR 2024, §5 (arXiv 2307.05906).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from theory._checks import check_int
from theory.losses import as_loss

from simulations.engine._tensor_checks import check_embeddings
from simulations.engine import sc_affinity


def kmeans(X: torch.Tensor, k: int, *, generator: torch.Generator, n_init: int = 3, iters: int = 100) -> torch.Tensor:
    """Lloyd k-means with k-means++ seeding; returns the best ``(k, dim)`` centres of ``n_init`` runs.

    Parameters
    ----------
    X : torch.Tensor, shape (n, dim)
        The points.
    k : int
        Number of centres, ``1 <= k <= n``.
    generator : torch.Generator
        The source of randomness.
    n_init : int, default=3
        Independent runs.
    iters : int, default=100
        Lloyd iterations per run.

    Returns
    -------
    torch.Tensor, shape (k, dim)
    """
    best, best_inertia = None, float("inf")
    N = X.shape[0]
    for _ in range(n_init):
        idx = [int(torch.randint(N, (1,), generator=generator))]
        d2 = ((X - X[idx[0]]) ** 2).sum(1)
        for _ in range(1, k):
            p = (d2 / d2.sum()).cpu().double()
            nxt = int(torch.multinomial(p, 1, generator=generator)) if float(p.sum()) > 0 else int(torch.randint(N, (1,), generator=generator))
            idx.append(nxt)
            d2 = torch.minimum(d2, ((X - X[nxt]) ** 2).sum(1))
        C = X[idx].clone()
        for _ in range(iters):
            lab = torch.cdist(X, C).argmin(1)
            newC = torch.zeros_like(C).index_add_(0, lab, X)
            cnt = torch.bincount(lab, minlength=k).to(X.dtype)
            empty = cnt == 0
            newC = torch.where(empty[:, None], C, newC / cnt.clamp(min=1)[:, None])
            if torch.allclose(newC, C, atol=1e-10):
                C = newC
                break
            C = newC
        inertia = float((torch.cdist(X, C).min(1).values ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = C, inertia
    return best


def spectral_embedding(U: torch.Tensor, V: torch.Tensor, B: int, loss="infonce") -> torch.Tensor:
    """The rows the clustering runs on: the ``k = N/B`` leading eigenvectors of ``D^{-1/2} W D^{-1/2}`` with
    ``W = exp(A - max A)`` and a zero diagonal (:func:`simulations.engine.sc_affinity`), rows normalised.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        Unit-norm rows.
    B : int
        Batch size, dividing N.
    loss : theory.Loss or str, default='infonce'

    Returns
    -------
    torch.Tensor, shape (N, N/B), float64
    """
    check_embeddings(U, V)
    loss = as_loss(loss)
    N = U.shape[0]
    B = check_int("B", B, low=2, high=N)
    if N % B:
        raise ValueError(f"spectral clustering needs B to divide N; got N={N}, B={B}")
    k = N // B
    with torch.no_grad():
        A = sc_affinity(U.double(), V.double(), B, loss)
        A.fill_diagonal_(-torch.inf)
        W = torch.exp(A - A.max())                                       # scale-free: the Laplacian is normalised
        dinv = W.sum(1).clamp(min=1e-300).rsqrt()
        S = dinv[:, None] * W * dinv[None, :]
        _, vecs = torch.linalg.eigh(S)
        X = vecs[:, -k:]
        return X / X.norm(dim=1, keepdim=True).clamp(min=1e-300)


def spectral_partition(U: torch.Tensor, V: torch.Tensor, B: int, loss="infonce", *, seed: int = 0,
                       n_init: int = 3) -> torch.Tensor:
    """Partition ``[0, N)`` into ``N/B`` batches of exactly ``B`` by equal-size spectral clustering.

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        Unit-norm rows.
    B : int
        Batch size, dividing N.
    loss : theory.Loss or str, default='infonce'
        InfoNCE: the paper's affinity; other losses: the pair loss ``2 L({i, j})``
        (:func:`simulations.engine.sc_affinity`).
    seed : int, default=0
    n_init : int, default=3
        k-means restarts, >= 1.

    Returns
    -------
    torch.Tensor
        LongTensor of shape (N/B, B) on the device of U; deterministic for a seed.
    """
    seed = check_int("seed", seed)
    n_init = check_int("n_init", n_init, low=1)
    X = spectral_embedding(U, V, B, loss)                  # validates U, V, B (and B | N)
    N, k = X.shape
    if k == 1:
        return torch.arange(N, device=U.device)[None, :]
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed)
        C = kmeans(X.cpu(), k, generator=g, n_init=n_init)
        cost = torch.cdist(X.cpu(), C) ** 2                              # (N, k)
    rows, cols = linear_sum_assignment(np.repeat(cost.numpy(), B, axis=1))   # column c -> centre c // B
    labels = np.empty(N, dtype=np.int64)
    labels[rows] = cols // B
    order = np.argsort(labels, kind="stable")
    return torch.from_numpy(order.reshape(k, B)).to(U.device)
