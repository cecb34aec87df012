r"""DHEL: decoupled hyperspherical energy loss (uniformity within the anchor's own modality).

For a batch ``S`` of size ``b``:

.. math::

    L(S) = \frac{1}{b} \sum_{i \in S} \Big[-\frac{u_i \cdot v_i}{\tau}
        + \log \sum_{j \in S, j \ne i} e^{u_i \cdot u_j / \tau}\Big]

plus, when symmetric, the same with ``v``-anchored uniformity ``v_i . v_j``. Convex in
``M = [U; V][U; V]^T`` (not in ``Z`` alone).

References
----------
Koromilas, Bouritsas, Giannakopoulos, Nicolaou, Panagakis, "Bridging Mini-Batch and Asymptotic Analysis in
Contrastive Learning: From InfoNCE to Kernel-Based Losses", ICML 2024 (arXiv 2405.18045), DHEL's definition.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import ops
from .base import Loss, check_bool, check_tau, register_loss, set_field
from .dcl import lse_without_diagonal


@register_loss("dhel")
@dataclass(frozen=True)
class DHEL(Loss):
    r"""Decoupled hyperspherical energy loss.

    Parameters
    ----------
    tau : float, default=1.0
        Temperature, > 0.
    symmetric : bool, default=True
        Add the v-anchored term (uniformity of ``V``).

    Notes
    -----
    For a batch ``S`` of size ``b``:

    .. math::

        L(S) = \frac{1}{b} \sum_{i \in S} \Big[-\frac{u_i^T v_i}{\tau}
            + \log \sum_{j \in S, j \ne i} e^{u_i^T u_j / \tau}\Big]

    plus, when symmetric, the same with the ``v``-anchored uniformity.

    References
    ----------
    Koromilas, Bouritsas, Giannakopoulos, Nicolaou & Panagakis, ICML 2024 (arXiv 2405.18045).
    """

    tau: float = 1.0
    symmetric: bool = True
    min_batch: ClassVar[int] = 2

    def __post_init__(self):
        set_field(self, "tau", check_tau(self.tau))
        set_field(self, "symmetric", check_bool("symmetric", self.symmetric))

    @property
    def needs_self_grams(self) -> bool:
        return True

    def anchor_form(self, Z, UU=None, VV=None):
        """DHEL as a mean of per-anchor log-sum-exps (see :meth:`theory.losses.Loss.anchor_form`).

        With ``z_ii = u_i^T v_i / tau``, the anchor term ``log sum_{j != i} e^{u_i^T u_j / tau} - z_ii`` is
        ``log sum_{j != i} e^{X[i, j]}`` with ``X[i, j] = u_i^T u_j / tau - z_ii`` (``m = 1``) and ``eps = 0``; the
        symmetric loss adds ``X[i, j] = v_i^T v_j / tau - z_ii``.

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (N, N)
            ``U V^T`` (only its diagonal is read).
        UU, VV : numpy.ndarray or torch.Tensor, shape (N, N)
            ``U U^T`` and ``V V^T`` (required; ``VV`` is read only when ``symmetric``).

        Returns
        -------
        tuple
            ``((X_u, 0.0),)``, and ``(X_v, 0.0)`` appended when ``symmetric``; each ``X`` of the type of ``Z``, shape
            ``(N, N, 1)``.

        References
        ----------
        Koromilas, Bouritsas, Giannakopoulos, Nicolaou & Panagakis, ICML 2024 (arXiv 2405.18045), DHEL's definition.
        """
        d = ops.namespace(Z).diagonal(Z)[:, None, None] / self.tau
        terms = [(UU[:, :, None] / self.tau - d, 0.0)]
        if self.symmetric:
            terms.append((VV[:, :, None] / self.tau - d, 0.0))
        return tuple(terms)

    def batch_losses(self, Z, idx, UU=None, VV=None):
        xp = ops.namespace(Z)
        d = xp.diagonal(Z) / self.tau
        out = xp.mean(lse_without_diagonal(xp, UU / self.tau) - d, -1)
        if self.symmetric:
            out = out + xp.mean(lse_without_diagonal(xp, VV / self.tau) - d, -1)
        return out

    def cvx_family_loss(self, Z, UU, VV, family):
        """The family objective as a DCP-convex cvxpy expression of the blocks of ``M`` (see
        :meth:`theory.losses.Loss.cvx_family_loss`): log-sum-exps of the self Grams, minus the positive term.

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
        for S, w in family.weighted_chunks(10**6):
            total = total + _cvx.mean_lse(_cvx.anchor_entries(UU, S, include_self=False), w, S.shape[1], self.tau)
            if self.symmetric:
                total = total + _cvx.mean_lse(_cvx.anchor_entries(VV, S, include_self=False), w, S.shape[1], self.tau)
        total = total - (2 if self.symmetric else 1) * _cvx.positive_term(Z, family, self.tau)
        return total / family.total_weight
