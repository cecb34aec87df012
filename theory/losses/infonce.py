r"""InfoNCE / CLIP (symmetric) and its one-sided form.

For a batch ``S`` of size ``b`` with logits ``z_ij = u_i . v_j / tau``:

.. math::

    L_u(S) = \frac{1}{b} \sum_{i \in S} \Big[\log \sum_{j \in S} e^{z_{ij}} - z_{ii}\Big],\qquad
    L_v(S) = \frac{1}{b} \sum_{i \in S} \Big[\log \sum_{j \in S} e^{z_{ji}} - z_{ii}\Big],

``L = L_u + L_v`` (symmetric, the default) or ``L_u`` (one-sided). A batch of size 1 has loss 0.
Convex in the cross-Gram ``Z`` (log-sum-exp of affine maps minus a linear term).

References
----------
Oord, Li, Vinyals, "Representation Learning with Contrastive Predictive Coding", arXiv 1807.03748, eq. (4).
Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021 (Fig. 3).
Cho et al., "Mini-Batch Optimization of Contrastive Loss", TMLR 2024, §2 (arXiv 2307.05906).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import ops
from .base import Loss, check_bool, check_tau, register_loss, set_field


@register_loss("infonce")
@dataclass(frozen=True)
class InfoNCE(Loss):
    r"""InfoNCE / CLIP loss.

    Parameters
    ----------
    tau : float, default=1.0
        Temperature, > 0.
    symmetric : bool, default=True
        Add the column (v-anchored) term (CLIP); False: the one-sided loss ``L_u``.

    Notes
    -----
    For a batch ``S`` of size ``b`` with ``z_ij = u_i^T v_j / tau``:

    .. math::

        L_u(S) = \frac{1}{b} \sum_{i \in S} \Big[\log \sum_{j \in S} e^{z_{ij}} - z_{ii}\Big],

    and ``L = L_u + L_v`` (``L_v`` the same over columns) or ``L_u`` alone (one-sided).

    References
    ----------
    Oord, Li & Vinyals, arXiv 1807.03748, eq. (4); Radford et al., ICML 2021; Cho et al., TMLR 2024, Sec. 2.
    """

    tau: float = 1.0
    symmetric: bool = True
    min_batch: ClassVar[int] = 1
    kernel: ClassVar[str] = "infonce"
    face_strictly_convex: ClassVar[bool] = True
    #: anchor_form's logits are (s_ij - s_ii)/tau: iSogCLR's robust form is LibAUC's bimodal ``GCLoss_v2`` objective
    #: (one temperature per sample and direction; no positive in the log-sum-exp, so not InfoNCE's objective).
    robust: ClassVar[bool] = True

    def __post_init__(self):
        set_field(self, "tau", check_tau(self.tau))
        set_field(self, "symmetric", check_bool("symmetric", self.symmetric))

    @property
    def mode(self) -> str:
        """'symmetric' or 'one_sided' (the label of the closed forms in :mod:`theory.optima`)."""
        return "symmetric" if self.symmetric else "one_sided"

    def batch_losses(self, Z, idx):
        xp = ops.namespace(Z)
        zs = Z / self.tau
        d = xp.diagonal(zs)
        out = xp.mean(xp.logsumexp(zs, -1) - d, -1)
        if self.symmetric:
            out = out + xp.mean(xp.logsumexp(zs, -2) - d, -1)
        return out

    def anchor_form(self, Z, UU=None, VV=None):
        """InfoNCE as a mean of per-anchor log-sum-exps (see :meth:`theory.losses.Loss.anchor_form`).

        With ``z_ij = u_i^T v_j / tau``, the anchor term ``log sum_j e^{z_ij} - z_ii = log(1 + sum_{j != i}
        e^{z_ij - z_ii})``: ``X[i, j] = z_ij - z_ii`` (rows) and, symmetric, ``X[i, j] = z_ji - z_ii`` (columns), each
        with ``m = 1`` and ``eps = 1`` (the positive's own ``e^0``).

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (N, N)
            ``U V^T``.
        UU, VV : numpy.ndarray or torch.Tensor, shape (N, N), optional
            Not used (InfoNCE has no self-Gram terms).

        Returns
        -------
        tuple
            ``((X_rows, 1.0),)``, and ``(X_cols, 1.0)`` appended when ``symmetric``; each ``X`` of the type of ``Z``,
            shape ``(N, N, 1)``.
        """
        xp = ops.namespace(Z)
        zs = Z / self.tau
        d = xp.diagonal(zs)
        terms = [((zs - d[:, None])[:, :, None], 1.0)]
        if self.symmetric:
            terms.append(((xp.transpose(zs) - d[:, None])[:, :, None], 1.0))
        return tuple(terms)

    def gram_gradients(self, Z, idx, UU=None, VV=None):
        """``dL(S)/dZ`` per block, each entry with its relative accuracy: the diagonal is written as
        ``-sum_{j != i} p_ij`` rather than ``p_ii - 1`` (the ETF decisions at small tau rely on it).

        With ``p_ij`` the softmax of row ``i`` of ``Z/tau``, the anchor term's derivative is ``(p_ij - [i = j]) / (b tau)``;
        the symmetric loss adds the column term's.

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (n, b, b)
            Gram blocks ``Z[a, c] = u_{S_a}^T v_{S_c}`` of ``n`` batches.
        idx : numpy.ndarray, shape (n, b)
            The batches' indices.
        UU, VV : same type as Z, shape (n, b, b), optional
            The self-Gram blocks (losses with ``needs_self_grams``).

        Returns
        -------
        tuple
            ``(gZ, None, None)``, ``gZ`` of shape ``(n, b, b)`` (numpy, float64).
        """
        zs = np.asarray(Z, dtype=np.float64) / self.tau
        b = zs.shape[-1]
        off = ~np.eye(b, dtype=bool)
        g = _softmax_minus_identity(zs - ops._Numpy.logsumexp(zs, 2)[:, :, None], off)
        if self.symmetric:
            zt = np.swapaxes(zs, 1, 2)
            g = g + np.swapaxes(_softmax_minus_identity(zt - ops._Numpy.logsumexp(zt, 2)[:, :, None], off), 1, 2)
        return g / (b * self.tau), None, None

    def closed_form_optimum(self, family) -> dict | None:
        """The full batch and all ``C(N,B)`` batches: the simplex ETF, value ``s log(1 + (B-1) c)`` with
        ``c = exp(-N/((N-1) tau))`` and ``s = 2`` (symmetric) or 1 (:mod:`theory.optima`); None otherwise.

        Parameters
        ----------
        family : Family

        Returns
        -------
        dict or None
            ``{"value", "structure": "etf", "exact": True}``.

        References
        ----------
        Cho et al., TMLR 2024, Thm. 1 (full batch) and Thm. 4 (all ``C(N, B)``, arXiv v1).
        """
        from ..optima import optimum_all
        if len(family.parts) != 1:
            return None
        p = family.parts[0]
        B = p.B
        if B < 2 or (p.stored is not None and not (p.stored.shape[0] == 1 and B == family.N)):
            return None
        return {"value": optimum_all(family.N, B, self.tau, loss=self.mode), "structure": "etf", "exact": True}

    def balance(self, family) -> dict:
        """The weighted pair-balance law (:mod:`theory.balance`): ``balanced`` (kappa constant at this tau),
        ``kappa_spread`` and ``critical_taus`` (the temperatures where the family is balanced, or 'all').

        Parameters
        ----------
        family : Family

        Returns
        -------
        dict
        """
        from ..balance import BALANCE_REL_TOL, critical_taus, pair_weight_spread
        spread = pair_weight_spread(family, self.tau)
        return {"balanced": spread <= BALANCE_REL_TOL, "kappa_spread": spread, "critical_taus": critical_taus(family)}

    def cvx_family_loss(self, Z, UU, VV, family):
        """The family objective as a DCP-convex cvxpy expression of the blocks of ``M`` (see
        :meth:`theory.losses.Loss.cvx_family_loss`): each anchor's log-sum-exp over its batch, weighted.

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
        total = _cvx.cross_lse(Z, family, self.tau, self.symmetric)
        total = total - (2 if self.symmetric else 1) * _cvx.positive_term(Z, family, self.tau)
        return total / family.total_weight


def _softmax_minus_identity(log_p: np.ndarray, off: np.ndarray) -> np.ndarray:
    """``softmax - I`` along the last axis from log-probabilities, the diagonal as ``-sum_{j != i} p_ij``."""
    P = np.where(off, np.exp(log_p), 0.0)
    return P - P.sum(axis=-1)[..., :, None] * np.eye(off.shape[0])
