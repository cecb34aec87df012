r"""DCL: decoupled contrastive loss (the positive removed from the denominator).

As published (``negatives='both'``, the default), the anchor's negatives are *both* views of every
other sample: in two modalities, for a batch ``S`` of size ``b``, anchor ``u_i``:

.. math::

    \ell_u(i) = -\frac{u_i \cdot v_i}{\tau}
        + \log\Big(\sum_{j \in S, j \ne i} e^{u_i \cdot v_j / \tau} + \sum_{j \in S, j \ne i} e^{u_i \cdot u_j / \tau}\Big),

``L(S) = (1/b) sum_i [l_u(i) + l_v(i)]`` (symmetric; ``l_v`` mirrored with anchor ``v_i``: the
columns of ``Z`` and ``V V^T``) or ``(1/b) sum_i l_u(i)`` (one-sided). ``negatives='cross'`` keeps
only the cross-view negatives ``u_i . v_j`` (a variant, not Yeh et al.'s loss), convex in ``Z``; the
published form is convex in ``M = [U; V][U; V]^T``.

References
----------
Yeh, Hong, Hsu, Liu, Chen, LeCun, "Decoupled Contrastive Learning", ECCV 2022, eq. (6)
(arXiv 2110.06848).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import ops
from .base import Loss, check_bool, check_tau, register_loss, set_field

NEGATIVES = ("both", "cross")


def lse_without_diagonal(xp, G):
    """``log sum_{j != i} exp(G_ij)`` over the last axis of ``(n, b, b)`` blocks.

    Parameters
    ----------
    xp : namespace
        :func:`theory.losses.ops.namespace` of ``G``.
    G : numpy.ndarray or torch.Tensor, shape (n, b, b)

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (n, b)
    """
    return xp.logsumexp(_mask_diagonal(xp, G), -1)


def _mask_diagonal(xp, G):
    return xp.where(xp.eye(G.shape[-1], like=G), float("-inf"), G)


@register_loss("dcl")
@dataclass(frozen=True)
class DCL(Loss):
    r"""Decoupled contrastive loss.

    Parameters
    ----------
    tau : float, default=1.0
        Temperature, > 0.
    symmetric : bool, default=True
        Add the v-anchored term.
    negatives : {'both', 'cross'}, default='both'
        ``'both'``: both views of every other sample (Yeh et al., eq. 6); ``'cross'``: the other modality only.

    Notes
    -----
    For a batch ``S`` of size ``b``, anchor ``u_i`` (``negatives='both'``; ``'cross'`` drops the ``u_i^T u_j`` terms):

    .. math::

        \ell_u(i) = -\frac{u_i^T v_i}{\tau}
            + \log\Big(\sum_{j \in S, j \ne i} e^{u_i^T v_j / \tau} + \sum_{j \in S, j \ne i} e^{u_i^T u_j / \tau}\Big),

    and ``L(S) = (1/b) sum_i [l_u(i) + l_v(i)]`` (symmetric) or ``(1/b) sum_i l_u(i)``.

    References
    ----------
    Yeh, Hong, Hsu, Liu, Chen & LeCun, *Decoupled Contrastive Learning*, ECCV 2022, eq. (6) (arXiv 2110.06848).
    """

    tau: float = 1.0
    symmetric: bool = True
    negatives: str = "both"
    min_batch: ClassVar[int] = 2
    #: anchor_form's logits are similarity differences over tau: iSogCLR's robust form (``'both'``: the negative set of
    #: LibAUC's unimodal ``GCLoss_v1``; ``'cross'``: that of the bimodal ``GCLoss_v2``).
    robust: ClassVar[bool] = True

    def __post_init__(self):
        set_field(self, "tau", check_tau(self.tau))
        set_field(self, "symmetric", check_bool("symmetric", self.symmetric))
        if self.negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {self.negatives!r}")

    @property
    def needs_self_grams(self) -> bool:
        return self.negatives == "both"

    def batch_losses(self, Z, idx, UU=None, VV=None):
        xp = ops.namespace(Z)
        zs = Z / self.tau
        d = xp.diagonal(zs)
        zt = xp.transpose(zs)
        if self.negatives == "cross":
            out = xp.mean(lse_without_diagonal(xp, zs) - d, -1)
            if self.symmetric:
                out = out + xp.mean(lse_without_diagonal(xp, zt) - d, -1)
            return out
        rows = xp.concat([_mask_diagonal(xp, zs), _mask_diagonal(xp, UU / self.tau)], -1)
        out = xp.mean(xp.logsumexp(rows, -1) - d, -1)
        if self.symmetric:
            cols = xp.concat([_mask_diagonal(xp, zt), _mask_diagonal(xp, VV / self.tau)], -1)
            out = out + xp.mean(xp.logsumexp(cols, -1) - d, -1)
        return out

    def anchor_form(self, Z, UU=None, VV=None):
        """DCL as a mean of per-anchor log-sum-exps (see :meth:`theory.losses.Loss.anchor_form`).

        With ``z_ij = u_i^T v_j / tau``, the anchor term ``log sum_{j != i} [e^{z_ij} + e^{u_i^T u_j / tau}] - z_ii``
        (Yeh et al., eq. 6; ``negatives='cross'`` drops the ``u_i^T u_j`` terms) is
        ``log sum_{j != i} sum_m e^{X[i, j, m]}`` with ``X[i, j] = (z_ij - z_ii, u_i^T u_j / tau - z_ii)`` (``m = 2``;
        ``m = 1``, the first entry only, for ``'cross'``) and ``eps = 0``. The symmetric loss adds the column term,
        ``X[i, j] = (z_ji - z_ii, v_i^T v_j / tau - z_ii)``.

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (N, N)
            ``U V^T``.
        UU, VV : numpy.ndarray or torch.Tensor, shape (N, N), optional
            ``U U^T`` and ``V V^T``; required when ``negatives='both'`` (``VV`` only when ``symmetric``), not used
            for ``'cross'``.

        Returns
        -------
        tuple
            ``((X_rows, 0.0),)``, and ``(X_cols, 0.0)`` appended when ``symmetric``; each ``X`` of the type of ``Z``,
            shape ``(N, N, 2)`` (``'both'``) or ``(N, N, 1)`` (``'cross'``).

        References
        ----------
        Yeh, Hong, Hsu, Liu, Chen & LeCun, *Decoupled Contrastive Learning*, ECCV 2022, eq. (6).
        """
        xp = ops.namespace(Z)
        zs = Z / self.tau
        d = xp.diagonal(zs)[:, None, None]
        rows = [zs[:, :, None]] + ([UU[:, :, None] / self.tau] if self.negatives == "both" else [])
        terms = [(xp.concat(rows, -1) - d, 0.0)]
        if self.symmetric:
            cols = [xp.transpose(zs)[:, :, None]] + ([VV[:, :, None] / self.tau] if self.negatives == "both" else [])
            terms.append((xp.concat(cols, -1) - d, 0.0))
        return tuple(terms)

    def cvx_family_loss(self, Z, UU, VV, family):
        """The family objective as a DCP-convex cvxpy expression of the blocks of ``M`` (see
        :meth:`theory.losses.Loss.cvx_family_loss`): log-sum-exps over the negatives, minus the positive term.

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
        from . import _cvx
        total = 0
        both = self.negatives == "both"
        for S, w in family.weighted_chunks(10**6):
            b = S.shape[1]
            rows = [_cvx.anchor_entries(Z, S, include_self=False)]
            if both:
                rows.append(_cvx.anchor_entries(UU, S, include_self=False))
            total = total + _cvx.mean_lse(rows, w, b, self.tau)
            if self.symmetric:
                cols = [_cvx.anchor_entries(Z, S, include_self=False, transpose=True)]
                if both:
                    cols.append(_cvx.anchor_entries(VV, S, include_self=False))
                total = total + _cvx.mean_lse(cols, w, b, self.tau)
        total = total - (2 if self.symmetric else 1) * _cvx.positive_term(Z, family, self.tau)
        return total / family.total_weight
