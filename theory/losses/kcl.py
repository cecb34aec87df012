r"""KCL: kernel contrastive loss with the Gaussian kernel ``k(x, y) = exp(-t ||x - y||^2) = exp(-2t (1 - x.y))``.

For a batch ``S`` of size ``b``:

.. math::

    L(S) = -\frac{1}{b} \sum_{i \in S} k(u_i, v_i)
        + \frac{\gamma}{b (b-1)} \sum_{i \ne j \in S} \big[k(u_i, u_j) + k(v_i, v_j)\big].

A sum over pairs (:meth:`KCL.pair_form`): its expected batch loss over all ``C(N,B)`` batches is the
full-batch loss for every ``B``. The alignment ``-k(u_i, v_i)`` is concave but minimised by
``u_i = v_i`` whatever the rest, so the relaxation fixes ``diag(Z) = 1`` (value ``-1``) and the
uniformity, convex in ``M``, is certified.

References
----------
Koromilas, Bouritsas, Giannakopoulos, Nicolaou, Panagakis, "Bridging Mini-Batch and Asymptotic Analysis in
Contrastive Learning: From InfoNCE to Kernel-Based Losses", ICML 2024 (arXiv 2405.18045), KCL's definition.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import ops
from .base import Loss, check_positive, register_loss, set_field


@register_loss("kcl")
@dataclass(frozen=True)
class KCL(Loss):
    r"""Kernel contrastive loss (Gaussian kernel).

    Parameters
    ----------
    t : float, default=2.0
        Kernel scale, > 0.
    gamma : float, default=1.0
        Weight of the uniformity term, > 0.

    Notes
    -----
    With ``k(x, y) = exp(-2t (1 - x^T y))``, for a batch ``S`` of size ``b``:

    .. math::

        L(S) = -\frac{1}{b} \sum_{i \in S} k(u_i, v_i)
            + \frac{\gamma}{b (b-1)} \sum_{i \ne j \in S} \big[k(u_i, u_j) + k(v_i, v_j)\big].

    References
    ----------
    Koromilas, Bouritsas, Giannakopoulos, Nicolaou & Panagakis, ICML 2024 (arXiv 2405.18045).
    """

    t: float = 2.0
    gamma: float = 1.0
    min_batch: ClassVar[int] = 2
    aligned: ClassVar[bool] = True

    def __post_init__(self):
        set_field(self, "t", check_positive("t", self.t))
        set_field(self, "gamma", check_positive("gamma", self.gamma))

    @property
    def needs_self_grams(self) -> bool:
        return True

    def _k(self, xp, G):
        return xp.exp(-2.0 * self.t * (1.0 - G))

    def batch_losses(self, Z, idx, UU=None, VV=None):
        xp = ops.namespace(Z)
        b = Z.shape[-1]
        eye = xp.eye(b, like=Z)
        unif = (xp.sum(xp.sum(xp.where(eye, 0.0, self._k(xp, UU)), -1), -1)
                + xp.sum(xp.sum(xp.where(eye, 0.0, self._k(xp, VV)), -1), -1))
        return -xp.mean(self._k(xp, xp.diagonal(Z)), -1) + self.gamma * unif / (b * (b - 1))

    def pair_form(self, Z, UU=None, VV=None):
        """KCL as a pair-sum loss: ``D_i = -k(u_i, v_i)``,
        ``O_ij = gamma (k(u_i, u_j) + k(v_i, v_j))``, ``a_b = 1/b`` and ``c_b = 1/(b (b-1))``.

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
        eye = xp.eye(Z.shape[-1], like=Z)
        O = xp.where(eye, 0.0, self.gamma * (self._k(xp, UU) + self._k(xp, VV)))
        return -self._k(xp, xp.diagonal(Z)), O, lambda b: (1.0 / b, 1.0 / (b * (b - 1)))

    def cvx_family_loss(self, Z, UU, VV, family):
        """The family objective as a DCP-convex cvxpy expression of the blocks of ``M`` (see
        :meth:`theory.losses.Loss.cvx_family_loss`) with ``u_i = v_i`` (the alignment fixed at -1).

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
        total = 0
        for part in family.parts:
            K = self.gamma * part.cooccurrence(N, weighted=True) * off / (part.B * (part.B - 1))
            total = total + (cp.sum(cp.multiply(K, cp.exp(-2 * self.t * (1 - UU))))
                             + cp.sum(cp.multiply(K, cp.exp(-2 * self.t * (1 - VV)))))
        return total / family.total_weight - 1.0          # the alignment, fixed at u_i = v_i (aligned)

    def trivial_bound(self) -> float:
        """The alignment alone at its best: -1.

        Returns
        -------
        float
        """
        return -1.0
