"""Contrastive (InfoNCE / CLIP) losses of batches and of batch families, in float64.

Conventions (THEORY.md §1). Embeddings ``U, V: (N, d)`` with unit-norm rows, logits
``z_ij = u_i . v_j / tau``. For a batch ``S`` with ``|S| = B``:

.. math::

    L_u(S) = \\frac{1}{B} \\sum_{i \\in S} \\Big[\\log \\sum_{j \\in S} e^{z_{ij}} - z_{ii}\\Big],\\qquad
    L_v(S) = \\frac{1}{B} \\sum_{i \\in S} \\Big[\\log \\sum_{j \\in S} e^{z_{ji}} - z_{ii}\\Big]

the one-sided loss is ``L_u(S)``, the symmetric (CLIP) loss is ``L(S) = L_u(S) + L_v(S)``, and the
objective of a family ``F`` with batch weights ``w_S > 0`` (1 unless given; sizes may differ) is
``L_F = sum_S w_S L(S) / sum_S w_S`` — for an unweighted family ``(1/|F|) sum_{S in F} L(S)``. A
batch of size 1 has ``L(S) = 0``.

This module is the *oracle*: the formulas applied block by block (batches gathered into
``(n, B, B)`` logit blocks), obvious rather than fast.
:mod:`simulations.engine` is the fast path and is tested against it.

References
----------
Cho et al., "Mini-Batch Optimization of Contrastive Loss", TMLR 2024, §2 (arXiv 2307.05906).
Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021.
"""
from __future__ import annotations

import numpy as np

from ._checks import check_loss, check_pair, check_tau
from .batches import Family

REDUCTIONS = ("mean", "per_anchor")
#: Batches per vectorised block (bounds the ``(n, B, B)`` temporaries).
_CHUNK = 4096


def logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """``log sum exp(x)`` along ``axis`` with the maximum subtracted first (never overflows)."""
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def logits(U, V, tau: float = 1.0) -> np.ndarray:
    """``Z = U V^T / tau``, shape ``(N, N)``; validates U, V (unit rows) and tau."""
    U, V = check_pair(U, V)
    return U @ V.T / check_tau(tau)


def _check_family(family: Family, N: int) -> Family:
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    if family.N != N:
        raise ValueError(f"family is over N={family.N} indices but U, V have N={N} rows")
    return family


def batch_loss_from_logits(zs: np.ndarray, loss: str = "symmetric") -> float:
    """Loss of one batch from its ``(B, B)`` logit block ``zs[a, b] = z_{S_a S_b}``."""
    d = np.diag(zs)
    out = np.mean(logsumexp(zs, axis=1) - d)
    if loss == "symmetric":
        out += np.mean(logsumexp(zs, axis=0) - d)
    return float(out)


def batch_losses(U, V, family: Family, *, loss: str = "symmetric", tau: float = 1.0) -> np.ndarray:
    """Per-batch losses ``L(S)`` for every ``S`` in ``family``, shape ``(n_batches,)``.

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit-norm rows (``theory.normalize_rows`` makes them so).
    family : Family
        Over the same N. ``Family.all`` is enumerated (refused above ``ENUMERATION_LIMIT``).
    loss : {'symmetric', 'one_sided'}
    tau : float > 0
    """
    check_loss(loss)
    Z = logits(U, V, tau)
    family = _check_family(family, Z.shape[0])
    return np.concatenate([_block_losses(Z, S, loss) for S, _ in family.weighted_chunks(_CHUNK)])


def _block_losses(Z: np.ndarray, S: np.ndarray, loss: str) -> np.ndarray:
    """Losses of the ``(n, b)`` batches ``S`` from the logits ``Z``, shape ``(n,)``."""
    zs = Z[S[:, :, None], S[:, None, :]]                          # (n, b, b) logit blocks
    d = np.diagonal(zs, axis1=1, axis2=2)
    val = np.mean(logsumexp(zs, axis=2) - d, axis=1)
    if loss == "symmetric":
        val = val + np.mean(logsumexp(zs, axis=1) - d, axis=1)
    return val


def family_loss(U, V, family: Family, *, loss: str = "symmetric", tau: float = 1.0, reduction: str = "mean") -> float:
    """Family objective ``L_F(U, V) = sum_S w_S L(S) / sum_S w_S`` (unweighted: ``(1/|F|) sum_S L(S)``).

    ``reduction='per_anchor'`` gives instead ``(1/N) sum_S w_S L(S)`` — the normalisation of the
    paper's Figure 1(a), where every anchor's loss is summed over the batches holding it and
    divided by N (equal to ``mean`` times ``sum_S w_S / N``).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    check_loss(loss)
    Z = logits(U, V, tau)
    family = _check_family(family, Z.shape[0])
    total = sum(float(np.dot(w, _block_losses(Z, S, loss))) for S, w in family.weighted_chunks(_CHUNK))
    return total / family.total_weight if reduction == "mean" else total / family.N


def logit_gradient(U, V, family: Family, *, loss: str = "symmetric", tau: float = 1.0) -> np.ndarray:
    """Gradient of ``L_F`` with respect to the cross-Gram ``G = U V^T``, shape ``(N, N)``.

    For a batch S of weight ``w_S`` and anchor i in S the row term contributes
    ``w_S (softmax_j z_{iS} - delta_ij) / (|S| tau sum_S w_S)`` at ``(i, j)``; the column term the
    same with the softmax taken over the column. Then ``dL/dU = grad V`` and ``dL/dV = grad^T U``.
    """
    check_loss(loss)
    tau = check_tau(tau)
    Z = logits(U, V, tau)
    family = _check_family(family, Z.shape[0])
    G = np.zeros_like(Z)
    for S, w in family.weighted_chunks(_CHUNK):
        B = S.shape[1]
        off = ~np.eye(B, dtype=bool)
        zs = Z[S[:, :, None], S[:, None, :]]                      # (n, B, B) logit blocks
        blocks = _softmax_minus_identity(zs - logsumexp(zs, axis=2)[:, :, None], off)
        if loss == "symmetric":
            zt = np.swapaxes(zs, 1, 2)
            blocks += np.swapaxes(_softmax_minus_identity(zt - logsumexp(zt, axis=2)[:, :, None], off), 1, 2)
        np.add.at(G, (S[:, :, None], S[:, None, :]), blocks * (w / B)[:, None, None])
    return G / (tau * family.total_weight)


def _softmax_minus_identity(log_p: np.ndarray, off: np.ndarray) -> np.ndarray:
    """``softmax - I`` along the last axis from log-probabilities ``(..., B, B)``, with the diagonal
    written as ``-sum_{j != i} p_ij`` rather than ``p_ii - 1``: every entry keeps its relative
    accuracy even when the off-diagonal probabilities are far below machine epsilon (small tau),
    which the stationarity test at the ETF relies on."""
    P = np.where(off, np.exp(log_p), 0.0)
    return P - P.sum(axis=-1)[..., :, None] * np.eye(off.shape[0])


def euclidean_gradient(U, V, family: Family, *, loss: str = "symmetric", tau: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(dL_F/dU, dL_F/dV)``, each ``(N, d)``, by the chain rule through ``G = U V^T``."""
    U, V = check_pair(U, V)
    G = logit_gradient(U, V, family, loss=loss, tau=tau)
    return G @ V, G.T @ U
