"""InfoNCE's batch blocks in float64: the primitives :mod:`theory.losses` (the InfoNCE oracle) and
:mod:`theory.objectives` (every loss) share, kept apart so that neither imports the other's module."""
from __future__ import annotations

import numpy as np

from .batches import Family


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """``log sum exp(x)`` along ``axis`` with the maximum subtracted first (never overflows)."""
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def _check_family(family: Family, N: int) -> Family:
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    if family.N != N:
        raise ValueError(f"family is over N={family.N} indices but U, V have N={N} rows")
    return family


def _block_losses(Z: np.ndarray, S: np.ndarray, loss: str) -> np.ndarray:
    """Losses of the ``(n, b)`` batches ``S`` from the logits ``Z``, shape ``(n,)``."""
    zs = Z[S[:, :, None], S[:, None, :]]                          # (n, b, b) logit blocks
    d = np.diagonal(zs, axis1=1, axis2=2)
    val = np.mean(logsumexp(zs, axis=2) - d, axis=1)
    if loss == "symmetric":
        val = val + np.mean(logsumexp(zs, axis=1) - d, axis=1)
    return val
