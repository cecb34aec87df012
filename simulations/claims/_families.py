"""Families of batches that several claims sweep: every family up to relabelling, and the unbalanced control."""
from __future__ import annotations

import itertools

import numpy as np

from theory import Family


def families_up_to_relabelling(N: int, sizes):
    """Every non-empty set of distinct batches of [N] with sizes in ``sizes`` (an int or a tuple), one
    per relabelling class (canonical = smallest bitmask over the N! relabellings)."""
    sizes = (sizes,) if np.ndim(sizes) == 0 else tuple(sizes)
    subsets = [s for b in sizes for s in itertools.combinations(range(N), b)]
    index = {s: k for k, s in enumerate(subsets)}
    m = len(subsets)
    if m > 24:
        raise ValueError(f"{m} candidate batches: 2^{m} families is too many to enumerate (at most 24 candidates)")
    masks = np.arange(1, 2**m, dtype=np.int64)
    canon = masks.copy()
    for p in itertools.permutations(range(N)):
        image = [index[tuple(sorted(p[i] for i in s))] for s in subsets]
        pm = np.zeros_like(masks)
        for k, t in enumerate(image):
            pm |= ((masks >> k) & 1) << t
        np.minimum(canon, pm, out=canon)
    for c in np.unique(canon):
        yield [list(subsets[k]) for k in range(m) if (c >> k) & 1]


def fano_plus_one_triple() -> Family:
    """The Fano plane plus the triple {0, 1, 3}: unbalanced (pair (0, 1) twice), ETF-optimality is an
    O(c) question for InfoNCE (excess 7e-11 at tau = 0.05) that absolute tolerances get wrong."""
    return Family.from_batches(np.vstack([Family.fano().batches, [[0, 1, 3]]]), 7)


def cyclic_triples_and_pairs() -> Family:
    """N = 5: the cyclic triples {i, i+1, i+2} and the pairs {i, i+2} (mod 5). Every pair co-occurs exactly
    twice, but the sizes are mixed: the DCL / DHEL / KCL pair weights ``sum_{S ∋ i,j} 1/(|S|(|S|-1))`` are 1/3
    (neighbours) and 2/3 (distance 2), SigLIP's ``sum_{S ∋ i,j} 1/|S|`` are 2/3 and 5/6, so equal pair counts
    alone do not make the ETF optimal (the boundary of the pair-balance law for mixed sizes)."""
    return Family.from_batches([[i, (i + 1) % 5, (i + 2) % 5] for i in range(5)] + [[i, (i + 2) % 5] for i in range(5)], 5)
