"""k-means batches: one cluster of similar pairs per batch (hard in-batch negatives by locality).

As in TAS-balanced sampling (Hofstätter et al., SIGIR 2021: a batch is drawn from one cluster of
similar queries), each batch is one cluster of the pairs' embeddings. The features of pair ``i`` are
``[u_i, v_i]`` (dimension ``2d``); the ``N/B`` centres come from seeded Lloyd k-means with k-means++
seeding (:func:`simulations.selection.spectral.kmeans`), then the *assignment rule*: the equal-size
assignment (every cluster exactly ``B`` pairs) minimising the total squared distance to the centres,
solved exactly as a linear assignment with every centre repeated ``B`` times. The batches are served in
a seeded random order.

References
----------
Hofstätter, Lin, Yang, Lin, Hanbury, "Efficiently Teaching an Effective Dense Retriever with Balanced
Topic Aware Sampling", SIGIR 2021.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from simulations.selection.spectral import kmeans


def kmeans_partition(U: torch.Tensor, V: torch.Tensor, B: int, *, generator: torch.Generator,
                     n_init: int = 3) -> torch.Tensor:
    """Partition ``[0, N)`` into ``N/B`` equal clusters of the features ``[u_i, v_i]`` (see the module docstring).

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
    B : int
        Batch size, dividing N.
    generator : torch.Generator
        Seeds k-means++ and the order of the batches.
    n_init : int, default=3
        k-means restarts.

    Returns
    -------
    torch.Tensor
        LongTensor ``(N/B, B)`` on the device of U.
    """
    N = U.shape[0]
    if N % B:
        raise ValueError(f"kmeans batches need B to divide N; got N={N}, B={B}")
    k = N // B
    X = torch.cat([U, V], 1).detach().cpu().double()
    if k == 1:
        return torch.arange(N, device=U.device)[None, :]
    C = kmeans(X, k, generator=generator, n_init=n_init)
    cost = (torch.cdist(X, C) ** 2).numpy()
    rows, cols = linear_sum_assignment(np.repeat(cost, B, axis=1))      # column c -> centre c // B
    labels = np.empty(N, dtype=np.int64)
    labels[rows] = cols // B
    part = np.argsort(labels, kind="stable").reshape(k, B)
    order = torch.randperm(k, generator=generator).numpy()
    return torch.from_numpy(part[order]).to(U.device)
