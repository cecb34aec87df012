r"""Balance laws with labels: when do weighted families keep the item ETF (duplicated pairs) or class collapse
(SupCon) optimal? The analogue of the weighted pair-balance law of :mod:`theory.balance`.

Let pairs fall into *groups* ``g = 0 .. K-1`` (the items of ``ties``, or the classes of ``labels``), and let
``n_S(g)`` count the members of group ``g`` in batch ``S``. With ``c = exp(-K / ((K-1) tau))`` and
``D_S(g) = n_S(g) + (|S| - n_S(g)) c`` define, for groups ``k != l``,

.. math:: A_{kl} = \frac{1}{\sum_S w_S} \sum_S \frac{w_S\, n_S(k)\, n_S(l)}{|S|\, D_S(k)}, \qquad
          \kappa = A + A^\top \ (\text{symmetric loss}), \quad \kappa = A \ (\text{one-sided}).

Let ``r_k = sum_{l != k} A_kl`` (the row sums of ``A``, not of ``kappa``) and ``f = 2`` for the symmetric loss,
``f = 1`` for the one-sided one. When ``kappa_kl = kappa0`` for all ``k != l``, define

.. math:: \sigma = \sum_k \frac{\kappa_0}{\kappa_0 + f\, r_k}
          \quad (\sigma = 0 \text{ when } \kappa_0 = 0).

**Theorem (items; our derivation).** InfoNCE with ties ``t`` (items of multiplicities ``m_k``), ``U = V = W`` the
simplex ETF of the items (``K - 1`` dimensions):

1. ``W`` is stationary (in every ``d >= K - 1``) iff ``kappa_kl`` is the same for all ``k != l``;
2. if ``kappa`` is constant and ``sigma <= 2``, ``W`` is a global minimizer of ``L_F`` for every ``d >= K - 1``;
3. if ``kappa`` is constant and ``sigma > 2``, ``W`` is not a minimizer in any ``d >= K``: a configuration of
   rank ``K`` (:func:`item_etf_descent`) has a lower objective.

So for ``d >= K``: ``W`` is optimal iff ``kappa`` is constant and ``sigma <= 2``. In ``d = K - 1`` both are
sufficient and a constant ``kappa`` is necessary; whether ``sigma <= 2`` is necessary there is not derived.
``sigma <= 2`` holds automatically for the one-sided loss (``sigma = 1``), when the row sums ``r_k`` are equal
(``sigma = 1``), and for ``K <= 7`` items (``sigma <= sum_{j<K} 1/(2j+1)``, 1.955 at ``K = 7``); it can fail
from ``K = 8`` on (the bound is 2.022 there), for the symmetric loss with unequal row sums.

*Gradient.* At the item ETF every logit is ``1/tau`` within an item and ``-1/((K-1) tau)`` across, so a softmax
row of an anchor of item ``k`` in ``S`` puts ``1/D_S(k)`` on each copy of ``k`` and ``c/D_S(k)`` on every other
pair; a softmax column of a candidate of item ``l`` puts ``1/D_S(l)`` on each anchor of ``l`` and ``c/D_S(l)`` on
the others. Summing ``dL/dz_ij`` over the copies of the items ``k`` and ``l`` gives the items' cross-Gram gradient
``D_kl = (c/tau) kappa_kl`` for ``k != l`` (symmetric: the row term ``A_kl`` plus the column term ``A_lk``). On the
diagonal, each term gives ``n_S(k)^2 / (|S| D_S(k)) - n_S(k)/|S| = -c n_S(k) (|S| - n_S(k)) / (|S| D_S(k))`` per
batch, that is ``-(c/tau) r_k`` after averaging, for the row term and for the column term alike: ``D_kk =
-(f c/tau) r_k``. (The rows of the row term sum to zero, the columns of the column term do, so for the symmetric
loss ``D_kk`` is not ``-sum_{l != k} D_kl`` unless the row and column sums of ``A`` agree.)

*Stationarity.* The tangent gradient at ``u_k = w_k`` is ``sum_{l != k} D_kl (w_l + w_k/(K-1))``; the ``K-1``
vectors ``w_l + w_k/(K-1)`` have the one relation "their sum is 0", so it vanishes iff ``D_kl`` is constant in
``l``; the same for ``v_l`` in ``k``; hence constant over all ``k != l`` (for the one-sided loss ``D = (c/tau) A``
must be constant itself).

*Certificate.* The relaxation with ties (:func:`theory.certify`) minimises a convex function of the items'
``2K x 2K`` matrix ``M`` over ``{M >= 0, diag M = 1}``, which ``M = I`` satisfies strictly, so ``M* = [W; W][W; W]^T``
is optimal iff some diagonal ``E_1, E_2`` make ``Y = [[E_1, D/2], [D^T/2, E_2]]`` PSD with ``Y M* = 0``. With
``kappa = kappa0`` constant, ``D = delta (J - I) + diag(D_kk)``, ``delta = (c/tau) kappa0``, symmetric. ``Y M* = 0``
says that ``E_i + D/2`` vanishes on ``1^perp`` (the ETF Gram is a multiple of ``I - J/K``); being symmetric it is
then a multiple of ``J``, which forces ``E_1 = E_2 = E = diag((delta - D_kk)/2)``: the only candidate. For
``x = (a, b)``, ``s = a - b``, ``t = a + b``: ``x^T Y x = (1/2) s^T (E - D/2) s + (1/2) t^T (E + D/2) t`` with
``E + D/2 = (delta/2) J >= 0`` and ``E - D/2 = diag(delta - D_kk) - (delta/2) J``, a positive diagonal minus a
rank-one matrix, PSD iff ``(delta/2) sum_k 1/(delta - D_kk) <= 1``, that is ``sigma <= 2``. Then ``Y`` certifies
``M*`` (exact in ``d >= rank M* = K - 1``): item 2. (``delta = 0``: no two items share a batch and the objective does
not depend on the items' placement.)

*Failure.* If ``sigma > 2`` the only candidate is not PSD, so ``M*`` does not solve the relaxation. Explicitly,
``s_k = 1/(delta - D_kk)`` gives ``s^T (E - D/2) s = (sum_k s_k) (1 - (delta/2) sum_k s_k) < 0``, and the unit rows
``u_k = (w_k, sqrt(eps) s_k / 2) / norm``, ``v_k = (w_k, -sqrt(eps) s_k / 2) / norm`` (``K`` dimensions) have
``L_F = L_F(W) + (eps/2) s^T (E - D/2) s + O(eps^2)``: the first-order change of the normalised
``M* + eps x x^T`` is ``eps x^T Y x`` because ``Y M* = 0``. Item 3.

*Automatic cases.* One-sided: ``A = kappa0`` off the diagonal, ``r_k = (K-1) kappa0``, ``sigma = 1``. Equal row
sums: ``sum_k r_k = kappa0 K (K-1)/2``, so ``r_k = kappa0 (K-1)/2`` and ``sigma = 1``. In general, for every set
``T`` of items ``sum_{k in T} r_k >= sum_{k != l in T} A_kl = kappa0 |T| (|T|-1)/2`` (as ``A_kl + A_lk = kappa0``),
with equality for all ``K`` items: ``r / kappa0`` is majorized by ``(0, 1, .., K-1)`` (a transitive tournament),
and ``sigma``, a sum of a convex function of each ``r_k``, is at most ``sum_{j<K} 1/(2j+1)`` (Karamata).

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

from ._checks import check_positive_float, check_tau
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
    r"""The item law: is the simplex ETF of the items optimal for InfoNCE with ``ties`` on ``family`` (``d >= K-1``)?

    The ETF is certified optimal (``balanced``) when ``kappa`` is constant (spread at most
    :data:`LABEL_BALANCE_REL_TOL`) and the certificate of the module docstring is PSD,

    .. math:: \sigma = \sum_k \frac{\kappa_0}{\kappa_0 + f\, r_k} \le 2,

    with ``kappa0`` the mean off-diagonal ``kappa``, ``r_k`` the row sums of ``A`` and ``f = 2`` (symmetric) or 1
    (one-sided). ``balanced`` False means: not stationary (``kappa`` not constant), or, when stationary, not a
    minimizer in any ``d >= K`` (:func:`item_etf_descent` gives a lower configuration).

    Parameters
    ----------
    family : Family
        Over ``N = len(ties)`` pairs.
    ties : sequence of int
        ``ties[i]``: the item pair ``i`` copies (items ``0 .. K-1``, ``K >= 2``).
    tau : float
        Temperature, > 0.
    symmetric : bool, default=True
        Symmetric InfoNCE (rows and columns) or the one-sided loss.

    Returns
    -------
    dict
        ``balanced`` (``stationary`` and ``psd_margin >= -2 LABEL_BALANCE_REL_TOL``: the item ETF is optimal),
        ``stationary`` (kappa constant), ``spread``, ``kappa`` (as a list), ``row_sums`` (``r_k``, as a list),
        ``psd_sum`` (``sigma``; None when not stationary) and ``psd_margin`` (``2 - sigma``: >= 0 exactly when the
        certificate is PSD; None when not stationary).

    Raises
    ------
    ValueError
        As :func:`group_pair_weights`.
    """
    A = group_pair_weights(family, ties, tau, symmetric=False)
    k = A + A.T if symmetric else A
    s = kappa_spread(k)
    stationary = bool(s <= LABEL_BALANCE_REL_TOL)
    psd_sum = _psd_sum(A, k, symmetric) if stationary else None
    margin = None if psd_sum is None else 2.0 - psd_sum
    balanced = bool(stationary and margin >= -2.0 * LABEL_BALANCE_REL_TOL)
    return {"balanced": balanced, "stationary": stationary, "spread": s, "kappa": k.tolist(),
            "row_sums": A.sum(axis=1).tolist(), "psd_sum": psd_sum, "psd_margin": margin}


def _psd_sum(A: np.ndarray, kappa: np.ndarray, symmetric: bool) -> float:
    """``sigma = sum_k kappa0 / (kappa0 + f r_k)`` (0 when ``kappa0 = 0``)."""
    K = A.shape[0]
    k0 = float(kappa[~np.eye(K, dtype=bool)].mean())
    if k0 == 0.0:
        return 0.0
    return float(np.sum(k0 / (k0 + (2.0 if symmetric else 1.0) * A.sum(axis=1))))


def item_etf_descent(family: Family, ties, tau: float, symmetric: bool = True, eps: float = 1e-2) -> dict:
    r"""A configuration below the item ETF where the item law says "stationary, not optimal" (``sigma > 2``).

    With ``delta_k = kappa0 + f r_k`` (module docstring) and ``s_k = (1/delta_k) / max_l (1/delta_l)``, the unit rows

    .. math:: u_k = \frac{(w_k, \sqrt{\varepsilon}\, s_k/2)}{\|\cdot\|}, \qquad
              v_k = \frac{(w_k, -\sqrt{\varepsilon}\, s_k/2)}{\|\cdot\|}

    (``w_k`` the item ETF, one added dimension: rank ``K``) have
    ``L_F(U, V) = L_F(W, W) + eps * slope + O(eps^2)`` with

    .. math:: \text{slope} = \frac{c}{2\tau}\Big(\sum_k \delta_k s_k^2 - \frac{\kappa_0}{2}\big(\sum_k s_k\big)^2\Big)
              < 0 \iff \sigma > 2 ,

    the certificate's quadratic form ``x^T Y x`` at ``x = (s/2, -s/2)``.

    Parameters
    ----------
    family : Family
        Over ``N = len(ties)`` pairs.
    ties : sequence of int
        ``ties[i]``: the item pair ``i`` copies.
    tau : float
        Temperature, > 0.
    symmetric : bool, default=True
        Symmetric InfoNCE or the one-sided loss.
    eps : float, default=1e-2
        Step, > 0 (the configuration is below the ETF for ``eps`` small enough; how small depends on the family).

    Returns
    -------
    dict
        ``U``, ``V`` (arrays of shape ``(K, K)``, one row per item, for ``theory.objective(..., ties=ties)``),
        ``slope`` (the predicted first-order change per unit ``eps``) and ``psd_sum`` (``sigma``).

    Raises
    ------
    ValueError
        ``eps`` not > 0; or the law does not say "stationary, not optimal" (``kappa`` not constant, or
        ``sigma <= 2``): then there is no such direction (the ETF is not stationary, or it is optimal).
    """
    from .configurations import item_etf
    eps = check_positive_float("eps", eps)
    law = item_etf_balanced(family, ties, tau, symmetric)
    if not law["stationary"] or law["balanced"]:
        raise ValueError("item_etf_descent needs a family where the item ETF is stationary and not certified "
                         f"(kappa constant and sigma > 2); here stationary={law['stationary']}, "
                         f"sigma={law['psd_sum']}")
    K = len(law["row_sums"])
    kap = np.asarray(law["kappa"])
    k0 = float(kap[~np.eye(K, dtype=bool)].mean())
    delta = k0 + (2.0 if symmetric else 1.0) * np.asarray(law["row_sums"])
    s = (1.0 / delta) / np.max(1.0 / delta)
    c = math.exp(-K / ((K - 1) * tau))
    slope = c / (2 * tau) * (float(np.sum(delta * s ** 2)) - k0 / 2 * float(np.sum(s)) ** 2)
    W = item_etf(ties)
    U = np.hstack([W, math.sqrt(eps) * s[:, None] / 2])
    V = np.hstack([W, -math.sqrt(eps) * s[:, None] / 2])
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    return {"U": U, "V": V, "slope": slope, "psd_sum": law["psd_sum"]}


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
