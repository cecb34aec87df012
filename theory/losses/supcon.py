r"""Supervised contrastive loss (SupCon, Khosla et al. 2020, ``L_out``) in the CLIP-style two-modality form.

Each pair ``i`` carries a class label ``y_i``. For a batch ``S`` of size ``b`` with logits
``z_ij = u_i . v_j / tau`` and, for an anchor ``i``, the positives ``P_S(i) = {p in S : y_p = y_i}``
(``i`` itself included: ``v_i`` is the other view of ``u_i``):

.. math::

    L_u(S) = \frac{1}{b} \sum_{i \in S} \Big[\log \sum_{j \in S} e^{z_{ij}}
             - \frac{1}{|P_S(i)|} \sum_{p \in P_S(i)} z_{ip}\Big],\qquad
    L_v(S) = \frac{1}{b} \sum_{j \in S} \Big[\log \sum_{i \in S} e^{z_{ij}}
             - \frac{1}{|P_S(j)|} \sum_{p \in P_S(j)} z_{pj}\Big],

``L = L_u + L_v`` (symmetric, the default) or ``L_u`` (one-sided). This is Khosla et al.'s eq. (2),
``L^sup_out = sum_i -1/|P(i)| sum_{p in P(i)} log(exp(z_i . z_p / tau) / sum_{a in A(i)} exp(z_i . z_a / tau))``,
with the anchor's candidates ``A(i)`` taken in the other modality (all of ``v_S``, so ``v_i`` is a positive and
no term is excluded) and averaged rather than summed over anchors (the normalisation of
:class:`~theory.losses.InfoNCE`, to which SupCon reduces when all labels differ). Khosla et al.'s
single-modality form (``2b`` views in one modality, ``A(i)`` every view but the anchor) is not this loss.
A batch of size 1 has loss 0. Convex in the cross Gram ``Z`` (log-sum-exp of affine maps minus a mean of
linear terms), so the relaxation of :func:`theory.certify` is exact in ``d >= rank``.

References
----------
Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020 (arXiv 2004.11362), eq. (2).
Graf, Hofer, Niethammer, Kwitt, "Dissecting Supervised Contrastive Learning", ICML 2021 (class collapse).
Kini et al., "Symmetric Neural-Collapse Representations with Supervised Contrastive Loss: The Impact of ReLU
and Batching", ICLR 2024.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import ops
from .base import Loss, check_bool, check_tau, register_loss, set_field


@register_loss("supcon")
@dataclass(frozen=True)
class SupCon(Loss):
    """Supervised contrastive loss (CLIP-style, symmetric or one-sided) with class labels.

    Parameters
    ----------
    labels : sequence of int
        ``labels[i]``: the class of pair ``i`` (stored as a tuple of ints). A family over ``N`` pairs uses
        ``labels[0 .. N-1]``; an index past the end is refused (ValueError naming ``labels``).
    tau : float, default=1.0
        Temperature, > 0.
    symmetric : bool, default=True
        Add the column (v-anchored) term; False: the one-sided loss ``L_u``.

    Raises
    ------
    ValueError
        ``labels`` not a non-empty 1-D sequence of integers; ``tau`` not a finite number > 0.
    """

    labels: tuple
    tau: float = 1.0
    symmetric: bool = True
    min_batch: ClassVar[int] = 1

    def __post_init__(self):
        from ..labels import check_labels
        set_field(self, "labels", check_labels(self.labels))
        set_field(self, "tau", check_tau(self.tau))
        set_field(self, "symmetric", check_bool("symmetric", self.symmetric))

    def _labels_of(self, idx):
        """The ``(n, b)`` labels of the batches ``idx`` (numpy or torch, as ``idx``)."""
        n_labels = len(self.labels)
        if ops.is_torch(idx):
            torch = sys.modules["torch"]
            if idx.numel() and int(idx.max()) >= n_labels:
                raise ValueError(f"labels has {n_labels} entries but a batch holds index {int(idx.max())}")
            return torch.as_tensor(self.labels, device=idx.device)[idx]
        idx = np.asarray(idx)
        if idx.size and int(idx.max()) >= n_labels:
            raise ValueError(f"labels has {n_labels} entries but a batch holds index {int(idx.max())}")
        return np.asarray(self.labels, dtype=np.int64)[idx]

    def positives(self, idx):
        """Same-class masks of the batches ``idx``: ``P[s, a, c] = (y_{S_a} == y_{S_c})``.

        Row ``a`` of ``P[s]`` marks the positives ``P_S(i)`` of the anchor ``i = S_a`` in batch ``S = idx[s]``
        (the anchor itself included, so ``P[s, a, a]`` is True and ``|P_S(i)| >= 1``); the mask is symmetric.

        Parameters
        ----------
        idx : ndarray or torch.Tensor of int, shape (n, b)
            ``n`` batches of size ``b``, each row the pair indices of one batch.

        Returns
        -------
        ndarray or torch.Tensor of bool, shape (n, b, b)
            Of the same kind (and, for torch, on the same device) as ``idx``.

        Raises
        ------
        ValueError
            An index of ``idx`` past the end of ``labels``.
        """
        y = self._labels_of(idx)
        return y[..., :, None] == y[..., None, :]

    def batch_losses(self, Z, idx):
        xp = ops.namespace(Z)
        P = self.positives(idx)
        cnt = P.sum(-1)                              # |P_S(i)| >= 1 (the anchor itself); P is symmetric
        zs = Z / self.tau
        zero = xp.full_like(zs, 0.0)
        out = xp.mean(xp.logsumexp(zs, -1) - xp.sum(xp.where(P, zs, zero), -1) / cnt, -1)
        if self.symmetric:
            out = out + xp.mean(xp.logsumexp(zs, -2) - xp.sum(xp.where(P, zs, zero), -2) / cnt, -1)
        return out

    def positive_weights(self, family) -> np.ndarray:
        r"""Weights of the positive logits in the family's (unnormalised) objective.

        .. math:: C_{ip} = \sum_{S \ni i, p,\ |S| \ge 2} \frac{w_S}{|S|\, |P_S(i)|} \quad (y_p = y_i),
                  \qquad C_{ip} = 0 \quad (y_p \ne y_i),

        the weight of ``z_ip`` in the row term's positive mean ``sum_S w_S L_u(S)``; the column term's is ``C^T``,
        so the positive part of ``sum_S w_S L(S)`` is ``-sum_ip (C + C^T)_ip z_ip`` (symmetric) or
        ``-sum_ip C_ip z_ip`` (one-sided). Batches of size 1 (loss 0) are skipped; the weights ``w_S`` are not
        divided by ``family.total_weight``.

        Parameters
        ----------
        family : Family
            Over ``N`` pairs with ``N <= len(labels)``.

        Returns
        -------
        ndarray, shape (N, N)
            ``C`` (non-negative, zero across classes).

        Raises
        ------
        ValueError
            A batch index past the end of ``labels``.
        """
        C = np.zeros((family.N, family.N))
        for S, w in family.weighted_chunks(10**6):
            b = S.shape[1]
            if b < 2:
                continue
            P = self.positives(S)
            coef = w[:, None, None] * P / (b * P.sum(-1)[:, :, None])
            np.add.at(C, (S[:, :, None], S[:, None, :]), coef)
        return C

    def cvx_family_loss(self, Z, UU, VV, family):
        import cvxpy as cp

        from . import _cvx
        self._labels_of(np.array([family.N - 1]))         # every index has a label
        total = _cvx.cross_lse(Z, family, self.tau, self.symmetric)
        C = self.positive_weights(family)
        total = total - cp.sum(cp.multiply(C + C.T if self.symmetric else C, Z)) / self.tau
        return total / family.total_weight
