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
from ._blocks import _block_losses, _check_family, logsumexp  # noqa: F401  (public via theory.losses)
from .batches import Family

REDUCTIONS = ("mean", "per_anchor")
#: Batches per vectorised block (bounds the ``(n, B, B)`` temporaries).
_CHUNK = 4096


def logits(U, V, tau: float = 1.0) -> np.ndarray:
    """``Z = U V^T / tau``, shape ``(N, N)``; validates U, V (unit rows) and tau."""
    U, V = check_pair(U, V)
    return U @ V.T / check_tau(tau)


def batch_loss_from_logits(zs: np.ndarray, loss: str = "symmetric") -> float:
    """Loss of one batch from its ``(B, B)`` logit block ``zs[a, b] = z_{S_a S_b}``."""
    d = np.diag(zs)
    out = np.mean(logsumexp(zs, axis=1) - d)
    if loss == "symmetric":
        out += np.mean(logsumexp(zs, axis=0) - d)
    return float(out)


def _resolve(loss, tau):
    """``(mode, tau)`` for InfoNCE (``mode`` in 'symmetric'/'one_sided'), or ``(Loss, None)`` for any other
    loss (:func:`theory.objectives.as_loss` validates both forms)."""
    from .objectives import as_loss, infonce_mode
    obj = as_loss(loss, tau)
    mode = infonce_mode(obj)
    return (obj, None) if mode is None else (mode, obj.tau)


def batch_losses(U, V, family: Family, *, loss="symmetric", tau: float | None = None) -> np.ndarray:
    """Per-batch losses ``L(S)`` for every ``S`` in ``family``, shape ``(n_batches,)``.

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit-norm rows (``theory.normalize_rows`` makes them so).
    family : Family
        Over the same N. ``Family.all`` is enumerated (refused above ``ENUMERATION_LIMIT``).
    loss : {'symmetric', 'one_sided'} or a :class:`theory.objectives.Loss` (SigLIP, DCL, DHEL, KCL, InfoNCE)
    tau : float > 0, InfoNCE's temperature for the string forms (default 1.0); None with a Loss object
    """
    loss, tau = _resolve(loss, tau)
    if tau is None:
        from .objectives import loss_batch_losses
        return loss_batch_losses(loss, U, V, family)
    Z = logits(U, V, tau)
    family = _check_family(family, Z.shape[0])
    return np.concatenate([_block_losses(Z, S, loss) for S, _ in family.weighted_chunks(_CHUNK)])


def family_loss(U, V, family: Family, *, loss="symmetric", tau: float | None = None, reduction: str = "mean") -> float:
    """Family objective ``L_F(U, V) = sum_S w_S L(S) / sum_S w_S`` (unweighted: ``(1/|F|) sum_S L(S)``).

    ``reduction='per_anchor'`` gives instead ``(1/N) sum_S w_S L(S)`` — the normalisation of the
    paper's Figure 1(a), where every anchor's loss is summed over the batches holding it and
    divided by N (equal to ``mean`` times ``sum_S w_S / N``).

    ``loss``: 'symmetric' / 'one_sided' (InfoNCE at temperature ``tau``, default 1.0) or any
    :class:`theory.objectives.Loss` (then ``tau`` stays None: it is a parameter of the object).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    loss, tau = _resolve(loss, tau)
    if tau is None:
        from .objectives import loss_family_objective
        val = loss_family_objective(loss, U, V, family)
        return val if reduction == "mean" else val * family.total_weight / family.N
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
