"""cvxpy building blocks shared by the built-in losses' relaxations (vectorised over a family's batches)."""
from __future__ import annotations

import cvxpy as cp
import numpy as np


def anchor_entries(X, S: np.ndarray, *, include_self: bool, transpose: bool = False):
    """For the ``(n, b)`` batches ``S``: the cvxpy matrix ``(n b, m)`` whose row ``(s, a)`` holds ``X[S_a, S_c]``
    (``X[S_c, S_a]`` when ``transpose``) over the batch's members ``c`` (``m = b``) or the others (``m = b - 1``)."""
    n, b = S.shape
    anchors = S.reshape(-1)[:, None]
    if include_self:
        members = np.repeat(S, b, axis=0)
    else:
        members = np.stack([np.delete(S, k, axis=1) for k in range(b)], axis=1).reshape(n * b, b - 1)
    anchors = anchors * np.ones((1, members.shape[1]), dtype=np.int64)
    return X[members, anchors] if transpose else X[anchors, members]


def mean_lse(entries, w: np.ndarray, b: int, tau: float):
    """``sum_s w_s (1/b) sum_a log sum exp(entries[(s, a), :] / tau)``: ``entries`` one cvxpy matrix or a list of
    them (joined along the columns)."""
    if isinstance(entries, (list, tuple)):
        entries = cp.hstack(list(entries))
    return (np.repeat(w, b) / b) @ cp.log_sum_exp(entries / tau, axis=1)


def cross_lse(Z, family, tau: float, symmetric: bool):
    """The log-sum-exp part of the CLIP-style losses over a family (InfoNCE, SupCon): ``sum_S w_S (1/|S|)
    sum_{i in S} lse_{j in S} z_ij / tau``, plus the same over columns when ``symmetric`` (batches of one skipped)."""
    total = 0
    for S, w in family.weighted_chunks(10**6):
        if S.shape[1] > 1:
            total = total + mean_lse(anchor_entries(Z, S, include_self=True), w, S.shape[1], tau)
            if symmetric:
                total = total + mean_lse(anchor_entries(Z, S, include_self=True, transpose=True), w, S.shape[1], tau)
    return total


def diag_weights(family) -> np.ndarray:
    """``c_i = sum_{S ni i} w_S / |S|`` over batches of size >= 2: the weight of ``z_ii`` in a per-anchor mean."""
    c = np.zeros(family.N)
    for S, w in family.weighted_chunks(10**6):
        if S.shape[1] > 1:
            c += np.bincount(S.ravel(), weights=np.repeat(w, S.shape[1]) / S.shape[1], minlength=family.N)
    return c


def positive_term(Z, family, tau: float):
    """``sum_i c_i Z_ii / tau`` (see :func:`diag_weights`)."""
    return cp.sum(cp.multiply(diag_weights(family), cp.diag(Z))) / tau
