r"""SigLIP: the pairwise sigmoid loss.

For a batch ``S`` of size ``b``, ``x_ij = u_i . v_j / tau + bias`` and labels ``y_ii = +1``,
``y_ij = -1`` (``i != j``):

.. math:: L(S) = \frac{1}{b} \sum_{i, j \in S} \log\big(1 + e^{-y_{ij} x_{ij}}\big),

``1/tau`` is SigLIP's scale ``t`` (fixed here) and ``bias`` its ``b``. A sum over pairs
(:meth:`SigLIP.pair_form`), convex in ``Z`` (softplus of affine maps). The closed-form optimum of a
family whose objective is the full batch with negatives weighted ``w`` is in :mod:`theory.siglip`.

References
----------
Zhai, Mustafa, Kolesnikov, Beyer, "Sigmoid Loss for Language Image Pre-Training", ICCV 2023, eq. (1)
(Algorithm 1 normalises by the batch size, as here).
Lee, Chang, Sohn, "Analysis of Using Sigmoid Loss for Contrastive Learning", AISTATS 2024 (arXiv 2402.12613).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import ops
from .base import Loss, check_finite, check_tau, register_loss, set_field


@register_loss("siglip")
@dataclass(frozen=True)
class SigLIP(Loss):
    r"""Sigmoid (SigLIP) loss.

    Parameters
    ----------
    tau : float, default=1.0
        Temperature ``1/t``, > 0 (Zhai et al. initialise ``t = 10``: ``tau = 0.1``).
    bias : float, default=0.0
        The logit bias ``b``, finite (Zhai et al. initialise ``-10``).

    Notes
    -----
    For a batch ``S`` of size ``b`` with ``x_ij = u_i^T v_j / tau + bias``, ``y_ii = 1`` and ``y_ij = -1`` otherwise:

    .. math:: L(S) = \frac{1}{b} \sum_{i, j \in S} \log\big(1 + e^{-y_{ij} x_{ij}}\big).

    References
    ----------
    Zhai, Mustafa, Kolesnikov & Beyer, ICCV 2023, eq. (1); Lee, Chang & Sohn, AISTATS 2024 (arXiv 2402.12613).
    """

    tau: float = 1.0
    bias: float = 0.0
    min_batch: ClassVar[int] = 1

    def __post_init__(self):
        set_field(self, "tau", check_tau(self.tau))
        set_field(self, "bias", check_finite("bias", self.bias))

    def batch_losses(self, Z, idx):
        xp = ops.namespace(Z)
        x = Z / self.tau + self.bias
        eye = xp.eye(Z.shape[-1], like=Z)
        return xp.sum(xp.sum(xp.where(eye, xp.softplus(-x), xp.softplus(x)), -1), -1) / Z.shape[-1]

    def pair_form(self, Z, UU=None, VV=None):
        """SigLIP as a pair-sum loss: ``D_i = softplus(-(z_ii/tau + bias))``,
        ``O_ij = softplus(z_ij/tau + bias)`` and ``a_b = c_b = 1/b``.

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (N, N)
            ``U V^T``.
        UU, VV : numpy.ndarray or torch.Tensor, shape (N, N), optional
            ``U U^T`` and ``V V^T`` (losses with self Grams).

        Returns
        -------
        tuple
            ``(D, O, coef)``: ``D`` of shape ``(N,)``, ``O`` of shape ``(N, N)`` with zero diagonal, and ``coef(b)``
            giving ``(a_b, c_b)``.
        """
        xp = ops.namespace(Z)
        x = Z / self.tau + self.bias
        O = xp.where(xp.eye(Z.shape[-1], like=Z), 0.0, xp.softplus(x))
        return xp.softplus(-xp.diagonal(x)), O, lambda b: (1.0 / b, 1.0 / b)

    def cvx_family_loss(self, Z, UU, VV, family):
        """The family objective as a DCP-convex cvxpy expression of the blocks of ``M`` (see
        :meth:`theory.losses.Loss.cvx_family_loss`): per part, the weighted co-occurrence times the logistic terms.

        Parameters
        ----------
        Z : cvxpy.Expression, shape (N, N)
            The block ``U V^T`` of the relaxation matrix ``M``.
        UU, VV : cvxpy.Expression, shape (N, N)
            The blocks ``U U^T`` and ``V V^T`` of ``M``.
        family : Family
            The batch family.

        Returns
        -------
        cvxpy.Expression
            A scalar expression, ``sum_S w_S L(S) / sum_S w_S``.
        """
        import cvxpy as cp
        N = family.N
        off = ~np.eye(N, dtype=bool)
        x = Z / self.tau + self.bias
        total = 0
        for part in family.parts:
            C = part.cooccurrence(N, weighted=True)
            total = total + (cp.sum(cp.multiply(np.diag(C) / part.B, cp.logistic(-cp.diag(x))))
                             + cp.sum(cp.multiply(C * off / part.B, cp.logistic(x))))
        return total / family.total_weight

    def trivial_bound(self) -> float:
        """The positive terms alone at their best, ``softplus(-(1/tau + bias))`` (every loss is above it).

        Returns
        -------
        float
        """
        from ..siglip import trivial_bound
        return trivial_bound(self.tau, self.bias)

    def closed_form_optimum(self, family) -> dict | None:
        """For a family whose objective is the full batch with negatives weighted ``w``
        (:func:`theory.siglip.family_negative_weight`): the double-constant optimum
        (:func:`theory.siglip.siglip_optimum`) with ``w``; None for other families.

        Parameters
        ----------
        family : Family

        Returns
        -------
        dict or None
            ``{"w", "structure", "lam", "alpha", "beta", "value", "rank"}``.
        """
        from ..siglip import family_negative_weight, siglip_optimum
        w = family_negative_weight(family)
        if w is None:
            return None
        opt = siglip_optimum(family.N, self.tau, self.bias, w=w)
        return {"w": w, **{k: opt[k] for k in ("structure", "lam", "alpha", "beta", "value", "rank")}}
