r"""Supervised contrastive loss (SupCon, Khosla et al. 2020, ``L_out``): the CLIP-style two-modality form and the
published single-pool form.

Each pair ``i`` carries a class label ``y_i``. For a batch ``S`` of size ``b`` with logits
``z_ij = u_i . v_j / tau`` and, for an anchor ``i``, the positives ``P_S(i) = {p in S : y_p = y_i}``
(``i`` itself included: ``v_i`` is the other view of ``u_i``), the cross form (``candidates='cross'``, the default)
is

.. math::

    L_u(S) = \frac{1}{b} \sum_{i \in S} \Big[\log \sum_{j \in S} e^{z_{ij}}
             - \frac{1}{|P_S(i)|} \sum_{p \in P_S(i)} z_{ip}\Big],\qquad
    L_v(S) = \frac{1}{b} \sum_{j \in S} \Big[\log \sum_{i \in S} e^{z_{ij}}
             - \frac{1}{|P_S(j)|} \sum_{p \in P_S(j)} z_{pj}\Big],

``L = L_u + L_v`` (symmetric, the default) or ``L_u`` (one-sided). This is Khosla et al.'s eq. (2),
``L^sup_out = sum_i -1/|P(i)| sum_{p in P(i)} log(exp(z_i . z_p / tau) / sum_{a in A(i)} exp(z_i . z_a / tau))``,
with the anchor's candidates ``A(i)`` taken in the other modality (all of ``v_S``, so ``v_i`` is a positive and
no term is excluded) and averaged rather than summed over anchors (the normalisation of
:class:`~theory.losses.InfoNCE`, to which SupCon reduces when all labels differ).

The pool form (``candidates='pool'``) is eq. (2) as published: the ``2b`` views ``x_1..x_2b = u_S, v_S`` form one
pool with the pairs' labels, and for an anchor ``a`` the candidates are ``A(a)`` = every view but ``a`` and the
positives ``P(a)`` = the views of ``A(a)`` of the anchor's class (the other view of its pair always among them,
``|P(a)| = 2 n_S(y_a) - 1`` with ``n_S(c)`` the pairs of class ``c`` in ``S``). With ``s_ac = x_a . x_c / tau``
and ``l(a) = log sum_{c in A(a)} e^{s_ac} - (1/|P(a)|) sum_{p in P(a)} s_ap``,

.. math::

    L_u(S) = \frac{1}{b} \sum_{a=1}^{b} \ell(a),\qquad L_v(S) = \frac{1}{b} \sum_{a=b+1}^{2b} \ell(a),

``L = L_u + L_v`` (Khosla et al.'s sum over the ``2b`` anchors divided by ``b``, twice the authors' code's mean;
with all labels distinct, twice SimCLR's NT-Xent, Chen et al. 2020 eq. (1) averaged over the ``2b`` anchors) or
``L_u`` (one-sided: the ``u``-anchors only, their candidates still the whole pool; the authors' code's
``contrast_mode='one'``). It uses the self Grams ``u_i . u_j`` and ``v_i . v_j``.

A batch of size 1 has loss 0 in both forms. Both are convex in the Gram of ``[U; V]`` (log-sum-exps of linear maps
minus linear terms; the cross form reads only its block ``Z``), so the relaxation of :func:`theory.certify` is exact
in ``d >= rank``. Full batch with ``C >= 2`` balanced classes of ``n`` pairs, the pool form's minimum is
``2 log(2n - 1 + 2n (C - 1) e^{-C / ((C - 1) tau)})``, attained at class collapse onto the regular simplex (proved
in the labels note, after Graf et al.).

References
----------
Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020 (arXiv 2004.11362), eq. (2); the authors' code
``SupConLoss`` (github.com/HobbitLong/SupContrast, ``losses.py``).
Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual Representations",
ICML 2020 (arXiv 2002.05709), eq. (1) (NT-Xent).
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

#: The candidate sets of :class:`SupCon`: the other modality (CLIP-style) or the pool of the batch's ``2b`` views.
CANDIDATES = ("cross", "pool")


@register_loss("supcon")
@dataclass(frozen=True)
class SupCon(Loss):
    r"""Supervised contrastive loss with class labels: CLIP-style (cross) or Khosla et al.'s single pool of views.

    Parameters
    ----------
    labels : sequence of int
        ``labels[i]``: the class of pair ``i`` (stored as a tuple of ints). A family over ``N`` pairs uses
        ``labels[0 .. N-1]``; an index past the end is refused (ValueError naming ``labels``).
    tau : float, default=1.0
        Temperature, > 0.
    symmetric : bool, default=True
        Add the ``v``-anchored term; False: the one-sided loss ``L_u`` (the ``u``-anchors only; in the pool form
        their candidates are still the whole pool).
    candidates : {'cross', 'pool'}, default='cross'
        ``'cross'``: an anchor's candidates are the other modality's ``b`` views (CLIP-style; its own pair's view
        is a positive); ``'pool'``: the batch's ``2b`` views form one pool and an anchor's candidates are every view
        but itself, its positives those of its class (Khosla et al., eq. 2, as published; uses the self Grams).

    Raises
    ------
    ValueError
        ``labels`` not a non-empty 1-D sequence of integers; ``tau`` not a finite number > 0; ``candidates`` not
        one of ``'cross'``, ``'pool'``.

    Notes
    -----
    Pool form, batch ``S`` of size ``b``, views ``x_1..x_2b = u_S, v_S``, ``s_ac = x_a . x_c / tau``,
    ``A(a) = {1..2b} \ {a}``, ``P(a) = {p in A(a) : y_p = y_a}``:

    .. math:: \ell(a) = \log \sum_{c \in A(a)} e^{s_{ac}} - \frac{1}{|P(a)|} \sum_{p \in P(a)} s_{ap},\qquad
              L(S) = \frac{1}{b} \sum_{a=1}^{2b} \ell(a)\ \text{(symmetric)},\quad
              \frac{1}{b} \sum_{a=1}^{b} \ell(a)\ \text{(one-sided)}.

    References
    ----------
    Khosla et al., *Supervised Contrastive Learning*, NeurIPS 2020 (arXiv 2004.11362), eq. (2).
    """

    labels: tuple
    tau: float = 1.0
    symmetric: bool = True
    candidates: str = "cross"
    min_batch: ClassVar[int] = 1

    def __post_init__(self):
        from ..labels import check_labels
        set_field(self, "labels", check_labels(self.labels))
        set_field(self, "tau", check_tau(self.tau))
        set_field(self, "symmetric", check_bool("symmetric", self.symmetric))
        if not isinstance(self.candidates, str) or self.candidates not in CANDIDATES:
            raise ValueError(f"candidates must be one of {CANDIDATES}, got {self.candidates!r}")

    @property
    def needs_self_grams(self) -> bool:
        return self.candidates == "pool"

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
        (the anchor itself included, so ``P[s, a, a]`` is True and ``|P_S(i)| >= 1``); the mask is symmetric. In
        the pool form the positives of the view ``u_i`` (or ``v_i``) are both views of the pairs this row marks,
        less the anchor itself.

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

    def batch_losses(self, Z, idx, UU=None, VV=None):
        xp = ops.namespace(Z)
        if self.candidates == "pool":
            return self._pool_losses(xp, Z, idx, UU, VV)
        P = self.positives(idx)
        cnt = P.sum(-1)                              # |P_S(i)| >= 1 (the anchor itself); P is symmetric
        zs = Z / self.tau
        zero = xp.full_like(zs, 0.0)
        out = xp.mean(xp.logsumexp(zs, -1) - xp.sum(xp.where(P, zs, zero), -1) / cnt, -1)
        if self.symmetric:
            out = out + xp.mean(xp.logsumexp(zs, -2) - xp.sum(xp.where(P, zs, zero), -2) / cnt, -1)
        return out

    def _pool_losses(self, xp, Z, idx, UU, VV):
        """The pool form: ``(n, 2b, 2b)`` Grams of the views ``u_S, v_S``, the anchor masked out of its candidates."""
        b = Z.shape[-1]
        G = xp.concat([xp.concat([UU, Z], -1), xp.concat([xp.transpose(Z), VV], -1)], -2) / self.tau
        same = self.positives(idx)
        same = ops.namespace(same).concat([same, same], -1)
        same = ops.namespace(same).concat([same, same], -2)      # same class in the pool (the anchor included)
        eye = xp.eye(2 * b, like=G)
        P = same & ~eye
        ell = xp.logsumexp(xp.where(eye, float("-inf"), G), -1) \
            - xp.sum(xp.where(P, G, xp.full_like(G, 0.0)), -1) / P.sum(-1)
        out = xp.mean(ell[..., :b], -1)
        if self.symmetric:
            out = out + xp.mean(ell[..., b:], -1)
        return out

    def positive_weights(self, family) -> np.ndarray:
        r"""Weights of the positive logits in the family's (unnormalised) objective.

        .. math:: C_{ip} = \sum_{S \ni i, p,\ |S| \ge 2} \frac{w_S}{|S|\, k_S(i)} \quad (y_p = y_i),
                  \qquad C_{ip} = 0 \quad (y_p \ne y_i),

        with ``k_S(i)`` the anchor's number of positives: ``|P_S(i)| = n_S(y_i)`` (cross form; ``n_S(c)`` the pairs
        of class ``c`` in ``S``) or ``2 n_S(y_i) - 1`` (pool form). Cross form: ``C_ip`` is the weight of ``z_ip``
        in the row term's positive mean ``sum_S w_S L_u(S)``; the column term's is ``C^T``, so the positive part of
        ``sum_S w_S L(S)`` is ``-sum_ip (C + C^T)_ip z_ip`` (symmetric) or ``-sum_ip C_ip z_ip`` (one-sided). Pool
        form: ``C_ip`` is also the weight of ``u_i . u_p`` (``p != i``) in the ``u``-anchors' positive means and of
        ``v_i . v_p`` in the ``v``-anchors'. Batches of size 1 (loss 0) are skipped; the weights ``w_S`` are not
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
            k = P.sum(-1) if self.candidates == "cross" else 2 * P.sum(-1) - 1
            coef = w[:, None, None] * P / (b * k[:, :, None])
            np.add.at(C, (S[:, :, None], S[:, None, :]), coef)
        return C

    def cvx_family_loss(self, Z, UU, VV, family):
        import cvxpy as cp

        from . import _cvx
        self._labels_of(np.array([family.N - 1]))         # every index has a label
        if self.candidates == "pool":
            return self._cvx_pool(Z, UU, VV, family) / family.total_weight
        total = _cvx.cross_lse(Z, family, self.tau, self.symmetric)
        C = self.positive_weights(family)
        total = total - cp.sum(cp.multiply(C + C.T if self.symmetric else C, Z)) / self.tau
        return total / family.total_weight

    def _cvx_pool(self, Z, UU, VV, family):
        """The pool form's unnormalised family objective on the blocks of ``M`` (batches of one skipped)."""
        import cvxpy as cp

        from . import _cvx
        total = 0
        for S, w in family.weighted_chunks(10**6):
            b = S.shape[1]
            if b < 2:
                continue
            rows = [_cvx.anchor_entries(UU, S, include_self=False), _cvx.anchor_entries(Z, S, include_self=True)]
            total = total + _cvx.mean_lse(rows, w, b, self.tau)
            if self.symmetric:
                cols = [_cvx.anchor_entries(Z, S, include_self=True, transpose=True),
                        _cvx.anchor_entries(VV, S, include_self=False)]
                total = total + _cvx.mean_lse(cols, w, b, self.tau)
        C = self.positive_weights(family)
        off = C - np.diag(np.diag(C))
        pos = cp.sum(cp.multiply(C + C.T if self.symmetric else C, Z)) + cp.sum(cp.multiply(off, UU))
        if self.symmetric:
            pos = pos + cp.sum(cp.multiply(off, VV))
        return total - pos / self.tau
