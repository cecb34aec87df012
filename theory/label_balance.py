r"""Balance laws with labels: when do weighted families keep the item ETF (duplicated pairs) or class collapse
(SupCon) optimal? The analogue of the weighted pair-balance law of :mod:`theory.balance`.

Let pairs fall into *groups* ``g = 0 .. K-1`` (the items of ``ties``, or the classes of ``labels``), and let
``n_S(g)`` count the members of group ``g`` in batch ``S``. With ``c = exp(-K / ((K-1) tau))`` and
``D_S(g) = n_S(g) + (|S| - n_S(g)) c`` define, for groups ``k != l``,

.. math:: A_{kl} = \frac{1}{\sum_S w_S} \sum_S \frac{w_S\, n_S(k)\, n_S(l)}{|S|\, D_S(k)}, \qquad
          \kappa = A + A^\top \ (\text{symmetric loss}), \quad \kappa = A \ (\text{one-sided}).

**Theorem (items; our derivation).** InfoNCE with ties ``t`` (items of multiplicities ``m_k``), ``d >= K-1``:
``U = V = `` the simplex ETF of the items is a global minimizer of ``L_F`` iff it is stationary iff ``kappa_kl``
is the same for all ``k != l``.

*Gradient.* At the item ETF every logit is ``1/tau`` within an item and ``-1/((K-1) tau)`` across, so a softmax
row of an anchor of item ``k`` in ``S`` puts ``1/D_S(k)`` on each copy of ``k`` and ``c/D_S(k)`` on every other
pair. Summing ``dL/dz_ij`` over the copies of the items ``k`` and ``l`` gives the items' cross-Gram gradient
``D_kl = (c/tau) kappa_kl`` for ``k != l`` (symmetric: the row term ``A_kl`` plus the column term ``A_lk``), and
each row (and each column) of the softmax-minus-positive sums to zero, so ``D_kk = -sum_{l != k} D_kl``.

*Only if.* The tangent gradient at ``u_k = w_k`` is ``sum_{l != k} D_kl (w_l + w_k/(K-1))``; the ``K-1`` vectors
``w_l + w_k/(K-1)`` have the one relation "their sum is 0", so it vanishes iff ``D_kl`` is constant in ``l``;
the same for ``v_l`` in ``k``; hence constant over all ``k != l`` (for the one-sided loss ``D = (c/tau) A`` must
be constant itself).

*If.* With ``D = delta (J - I) - (K-1) delta I`` (``delta = (c/tau) kappa``), ``y = K delta / 2`` on the diagonal
and ``Y = [[y I, D/2], [D/2, y I]]``: ``x^T Y x = (1/2) s^T (y I - D/2) s + (1/2) t^T (y I + D/2) t`` for
``s = a - b``, ``t = a + b``; ``y I + D/2 = (delta/2) J >= 0``, ``y I - D/2 = K delta I - (delta/2) J >= 0``, and
``Y M* = 0`` since the ETF's Gram has zero row sums. A dual certificate of the items' relaxation (the relaxation
with ties, :func:`theory.certify`), exact for ``d >= K - 1``.

For equal multiplicities and any family invariant under permuting the items, ``kappa`` is constant; for all
``C(K, B)`` item sets with one copy each (m-per-class with the items as classes, ``m = 1``) too, whatever the
multiplicities.

**Classes (SupCon), necessary condition only.** At class collapse onto the simplex of ``C`` classes
(``K = C``, groups = classes) the same computation gives the gradient of moving whole classes, so class collapse
is stationary among collapsed configurations iff ``kappa`` (with the classes as groups) is constant: a constant
``kappa`` is necessary for class collapse to be optimal. It is not sufficient: the within-class directions add
conditions (the class-mixed partition ``{0,2},{1,4},{3,5}`` of labels ``(0,0,1,1,2,2)`` has constant ``kappa`` and
an optimum below collapse); those are decided by the dual certificate at collapse
(:func:`simulations.claims.label_balance_law`), evidence of a law we do not state.

References
----------
Cho et al., "Mini-Batch Optimization of Contrastive Loss", TMLR 2024 (arXiv 2307.05906), Thm. 4-5 (the
unlabelled law this extends).
"""
from __future__ import annotations

import math

import numpy as np

from ._checks import check_tau
from .batches import Family
from .labels import check_labels, class_index

#: Relative spread of kappa below which a family counts as balanced (as :data:`theory.balance.BALANCE_REL_TOL`).
LABEL_BALANCE_REL_TOL = 1e-9


def group_pair_weights(family: Family, groups, tau: float, symmetric: bool = True) -> np.ndarray:
    """The ``(K, K)`` matrix ``kappa`` of the module docstring (zero diagonal) for the groups ``groups``.

    Parameters
    ----------
    family : Family
        Over ``N = len(groups)`` pairs; batches of size 1 (loss 0) are skipped.
    groups : sequence of int
        Each pair's group (items of ``ties``, or class labels; renumbered by first appearance).
    tau : float
        Temperature, > 0.
    symmetric : bool, default=True
        ``kappa = A + A^T`` (symmetric loss) or ``A`` (one-sided).

    Returns
    -------
    ndarray, shape (K, K)

    Raises
    ------
    ValueError
        ``groups`` not of length ``family.N``, fewer than 2 groups, or ``tau`` not > 0.
    """
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    g = class_index(check_labels(groups, family.N, name="groups"))
    K = int(g.max()) + 1
    if K < 2:
        raise ValueError(f"groups must name at least 2 groups, got {K}")
    c = math.exp(-K / ((K - 1) * check_tau(tau)))
    A = np.zeros((K, K))
    for S, w in family.weighted_chunks(10**5):
        b = S.shape[1]
        if b < 2:
            continue
        n = np.zeros((S.shape[0], K))
        np.add.at(n, (np.repeat(np.arange(S.shape[0]), b), g[S].ravel()), 1.0)
        Dk = n + (b - n) * c
        A += np.einsum("s,sk,sl->kl", w / b, n / Dk, n)
    A /= family.total_weight
    np.fill_diagonal(A, 0.0)
    return A + A.T if symmetric else A


def kappa_spread(kappa: np.ndarray) -> float:
    r"""Relative spread of the off-diagonal entries of ``kappa``: 0 exactly when they are all equal.

    .. math:: \operatorname{spread}(\kappa) = \frac{\max_{k \ne l} \kappa_{kl} - \min_{k \ne l} \kappa_{kl}}
              {\max_{k \ne l} \kappa_{kl}},

    and 0 when every off-diagonal entry is 0 (no two groups share a batch: the loss does not depend on how the
    groups are placed). The entries of :func:`group_pair_weights` are ``>= 0``, so the spread lies in ``[0, 1]``;
    a family counts as balanced when it is at most :data:`LABEL_BALANCE_REL_TOL`.

    Parameters
    ----------
    kappa : ndarray, shape (K, K)
        Pair weights of ``K >= 2`` groups, as :func:`group_pair_weights` returns (the diagonal is ignored).

    Returns
    -------
    float
        The relative spread (0: balanced).

    Raises
    ------
    ValueError
        ``kappa`` with fewer than 2 rows (no off-diagonal entry; from the empty reduction).
    """
    K = kappa.shape[0]
    off = kappa[~np.eye(K, dtype=bool)]
    return float((off.max() - off.min()) / off.max()) if off.max() > 0 else 0.0


def item_etf_balanced(family: Family, ties, tau: float, symmetric: bool = True) -> dict:
    """The item law: is the simplex ETF of the items optimal for InfoNCE with ``ties`` on ``family`` (``d >= K-1``)?

    Parameters
    ----------
    family : Family
    ties : sequence of int
    tau : float
    symmetric : bool, default=True

    Returns
    -------
    dict
        ``balanced`` (kappa constant within :data:`LABEL_BALANCE_REL_TOL`: the item ETF is optimal), ``spread``,
        ``kappa`` (as a list).
    """
    k = group_pair_weights(family, ties, tau, symmetric)
    s = kappa_spread(k)
    return {"balanced": bool(s <= LABEL_BALANCE_REL_TOL), "spread": s, "kappa": k.tolist()}


def class_collapse_necessary(family: Family, labels, tau: float, symmetric: bool = True) -> dict:
    """The necessary condition for class collapse onto the simplex to minimise SupCon on ``family``: the class
    ``kappa`` constant. ``necessary_holds`` False proves collapse is not optimal; True decides nothing.

    Parameters
    ----------
    family : Family
    labels : sequence of int
    tau : float
    symmetric : bool, default=True

    Returns
    -------
    dict
        ``necessary_holds``, ``spread``, ``kappa``.
    """
    k = group_pair_weights(family, labels, tau, symmetric)
    s = kappa_spread(k)
    return {"necessary_holds": bool(s <= LABEL_BALANCE_REL_TOL), "spread": s, "kappa": k.tolist()}
