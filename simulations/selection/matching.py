r"""Exact maximum-loss batching for ``B = 2``: a maximum-weight perfect matching on the pair losses.

For ``B = 2`` a partition of ``[0, N)`` into batches is a perfect matching of the complete graph on the
``N`` pairs, and the mean batch loss of the partition is ``(2/N) sum_{{i,j} in M} L({i, j})``. The
partition of highest total loss — the target the paper's spectral clustering approximates — is
therefore a maximum-weight perfect matching with weights ``P_ij = L({i, j})``
(:func:`simulations.engine.pair_loss_matrix`), solvable exactly in ``O(N^3)`` by Edmonds' blossom
algorithm (networkx's ``max_weight_matching(maxcardinality=True)``, Galil's implementation with integer-
exact comparisons up to floating point). Ties are broken by a seeded relabelling of the vertices.

References
----------
Edmonds, "Paths, trees, and flowers", Canad. J. Math. 17 (1965); Galil, "Efficient algorithms for finding
maximum matching in graphs", ACM Comput. Surv. 18 (1986).
"""
from __future__ import annotations

import itertools

import numpy as np
import torch


def max_loss_matching(P, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """The perfect matching of maximum total weight of the symmetric ``(N, N)`` matrix ``P`` (``N`` even).

    Parameters
    ----------
    P : torch.Tensor or ndarray, shape (N, N)
        Symmetric finite pair weights off the diagonal (the diagonal is ignored).
    generator : torch.Generator, optional
        Seeds the relabelling that breaks ties (None: the identity labelling).

    Returns
    -------
    torch.Tensor
        LongTensor ``(N/2, 2)``, each row sorted, rows in order of their first index.

    Raises
    ------
    ValueError
        If ``P`` is not square of even size, not symmetric, or has non-finite off-diagonal entries.
    """
    import networkx as nx
    W = P.detach().cpu().double().numpy() if isinstance(P, torch.Tensor) else np.asarray(P, dtype=np.float64)
    N = W.shape[0]
    if W.ndim != 2 or W.shape[1] != N or N % 2 or N < 2:
        raise ValueError(f"P must be a square matrix of even size >= 2, got shape {W.shape}")
    off = ~np.eye(N, dtype=bool)
    if not np.all(np.isfinite(W[off])):
        raise ValueError("P has non-finite off-diagonal entries (a pair loss is NaN or inf)")
    if not np.allclose(W[off], W.T[off], rtol=1e-9, atol=1e-12):
        raise ValueError("P must be symmetric (pair losses L({i, j}) = L({j, i}))")
    perm = (torch.randperm(N, generator=generator).numpy() if generator is not None else np.arange(N))
    G = nx.Graph()
    G.add_nodes_from(range(N))
    shift = W[off].min()                  # nonnegative weights: max_weight_matching maximises the sum as given
    for a, b in itertools.combinations(range(N), 2):
        i, j = perm[a], perm[b]
        G.add_edge(a, b, weight=float(W[i, j] - shift))
    M = nx.max_weight_matching(G, maxcardinality=True)
    pairs = sorted(tuple(sorted((int(perm[a]), int(perm[b])))) for a, b in M)
    if len(pairs) != N // 2:
        raise RuntimeError(f"max_weight_matching returned {len(pairs)} pairs for N={N}")   # pragma: no cover
    return torch.tensor(pairs, dtype=torch.long)


def matching_weight(P, pairs) -> float:
    """Total weight ``sum_{(i, j) in pairs} P[i, j]`` of a matching (float64).

    Parameters
    ----------
    P : torch.Tensor or ndarray, shape (N, N)
        Pair weights.
    pairs : array-like of int, shape (M, 2)
        The matching's pairs ``(i, j)``, e.g. the output of :func:`max_loss_matching`.

    Returns
    -------
    float
        ``sum_{(i, j) in pairs} P[i, j]``, summed in float64 (each row read once, as ``P[i, j]``).
    """
    W = P.detach().cpu().double().numpy() if isinstance(P, torch.Tensor) else np.asarray(P, dtype=np.float64)
    pairs = np.asarray(pairs)
    return float(W[pairs[:, 0], pairs[:, 1]].sum())
