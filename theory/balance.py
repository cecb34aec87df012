r"""The weighted pair-balance law: when is the simplex ETF optimal for a weighted, mixed-size family?

For batch weights ``w_S > 0``, any sizes, ``c = exp(-N/((N-1) tau))`` and ``d >= N-1``, define the
*pair weights*

.. math:: \kappa_{ij} = \frac{1}{\sum_S w_S} \sum_{S \ni i, j} \frac{w_S}{|S|\,(1 + (|S|-1) c)}, \qquad i \ne j.

**Theorem** (our derivation; checked by the claim ``pair_balance_law`` of :mod:`simulations.claims`).
``U = V = ETF`` minimises ``L_F`` (symmetric or one-sided InfoNCE) iff it is stationary iff ``kappa_ij`` is the same
for every pair ``i != j`` (then it is positive), and the minimizer is then unique up to a common
rotation.

*Gradient at the ETF.* Inside a batch S every logit gap is ``z_ij - z_ii = -N/((N-1) tau)``, so the
softmax weight of a negative is ``c / (1 + (|S|-1) c)`` and ``dL_F/dz_ij = s c kappa_ij`` for
``i != j`` (``s = 2`` symmetric, 1 one-sided), with zero row sums:
``dL_F/dZ = -s c Lap(kappa)`` (a weighted graph Laplacian; :func:`etf_logit_gradient`).

*Only if.* The Riemannian gradient at ``u_i = w_i`` is proportional to
``sum_{j != i} kappa_ij (w_j + w_i / (N-1))``; any ``N-1`` of the ETF vectors are linearly
independent (the only relation is ``sum_j w_j = 0``), so it vanishes iff ``kappa_ij`` is constant in
``j`` for each i, i.e. (kappa symmetric) constant over all pairs.

*If.* With ``kappa_ij = k > 0``, ``dL/dZ = -s c k N P`` (``P = I - J/N``) and
``Y = (s c k N / (2 tau)) [[I, -P], [-P, I]]`` equals the relaxation's gradient plus a diagonal; it
is PSD (eigenvalues 0, 1, 2 times the factor) and ``Y M* = 0`` for ``M* = [[G, G], [G, G]]``, ``G``
the ETF Gram (``P G = G``): a dual certificate (:func:`kappa_dual_certificate`). ``rank Y = N + 1``
and every pair covered give uniqueness (the equality case of
:func:`theory.certificates.etf_dual_certificate`).

With equal sizes ``kappa`` is proportional to the (weighted) pair count, so the law does not depend
on tau (the unweighted case is the 2-design law). With mixed sizes it does: balance holds at the
roots ``c`` of polynomial equations (:func:`critical_taus`).

References
----------
Cho et al., "Mini-Batch Optimization of Contrastive Loss", TMLR 2024 (arXiv 2307.05906), Thm. 4-5.
Boyd & Vandenberghe, "Convex Optimization", §5.9.
"""
from __future__ import annotations

import math

import numpy as np

from ._checks import check_positive_float, check_tau
from .batches import Family

#: Relative spread of kappa below which a family counts as balanced (rounding leaves ~1e-16).
BALANCE_REL_TOL = 1e-9


def _check(family) -> Family:
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    return family


def etf_c(N: int, tau: float) -> float:
    """``c = exp(-N/((N-1) tau))``, the softmax weight of a negative relative to the positive at the ETF.

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    tau : float
        Temperature, > 0.

    Returns
    -------
    float
        ``c`` in ``(0, 1)``.
    """
    return math.exp(-N / ((N - 1) * check_tau(tau)))


def size_cooccurrence(family: Family) -> dict:
    """``{b: C_b}``: for each batch size ``b >= 2``, the ``(N, N)`` sum of the weights of the batches of
    size b holding both i and j (zero diagonal).

    Parameters
    ----------
    family : Family

    Returns
    -------
    dict of int to numpy.ndarray
        ``{b: C_b}``, ``C_b`` of shape ``(N, N)``.
    """
    family = _check(family)
    out = {}
    for p in family.parts:
        if p.B >= 2:
            C = p.cooccurrence(family.N, weighted=True)
            np.fill_diagonal(C, 0.0)
            out[p.B] = out.get(p.B, 0.0) + C
    return out


def pair_weights(family: Family, tau: float) -> np.ndarray:
    """The kappa matrix ``(N, N)`` of the weighted pair-balance law (zero diagonal):
    ``kappa_ij = sum_{S containing i, j} w_S / (|S| (1 + (|S|-1) c)) / sum_S w_S``.

    Parameters
    ----------
    family : Family
    tau : float
        Temperature, > 0.

    Returns
    -------
    numpy.ndarray, shape (N, N)

    References
    ----------
    The law is this toolkit's derivation; it sharpens Cho et al., TMLR 2024, Thm. 5.
    """
    family = _check(family)
    c = etf_c(family.N, tau)
    K = np.zeros((family.N, family.N))
    for b, C in size_cooccurrence(family).items():
        K += C / (b * (1 + (b - 1) * c))
    return K / family.total_weight


def pair_weight_spread(family: Family, tau: float) -> float:
    """``(max - min) / max`` of ``kappa_ij`` over pairs ``i != j`` (0 for a balanced family; 1 if a pair is uncovered).

    Parameters
    ----------
    family : Family
    tau : float
        Temperature, > 0.

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    K = pair_weights(family, tau)
    off = K[~np.eye(family.N, dtype=bool)]
    return float((off.max() - off.min()) / off.max()) if off.max() > 0 else 1.0


def is_balanced(family: Family, tau: float, rel_tol: float = BALANCE_REL_TOL) -> bool:
    """The balance test of the weighted law: ``kappa_ij`` equal (to ``rel_tol`` relative) and positive for all pairs.

    Parameters
    ----------
    family : Family
    tau : float
        Temperature, > 0.
    rel_tol : float, default=1e-09
        Relative tolerance of the equality, > 0.

    Returns
    -------
    bool
    """
    rel_tol = check_positive_float("rel_tol", rel_tol)
    return pair_weight_spread(family, tau) <= rel_tol


def etf_logit_gradient(family: Family, tau: float = 1.0, symmetric: bool = True) -> np.ndarray:
    """Closed form of InfoNCE's ``dL_F/dZ`` at ``U = V = ETF`` (``Z = U V^T``), ``(N, N)``:
    ``(s c / tau) (kappa - Diag(kappa 1))`` with ``s = 2`` (symmetric) or 1 (one-sided).

    Parameters
    ----------
    family : Family
    tau : float, default=1.0
        Temperature, > 0.
    symmetric : bool, default=True

    Returns
    -------
    ndarray, shape (N, N)
        Compared with the oracle's ``theory.gram_gradient(W, W, family, InfoNCE(tau, symmetric)).Z`` in the tests.
    """
    tau = check_tau(tau)
    s = 2.0 if symmetric else 1.0
    K = pair_weights(_check(family), tau)
    return (s * etf_c(family.N, tau) / tau) * (K - np.diag(K.sum(1)))


def critical_taus(family: Family, rel_tol: float = 1e-9):
    """Temperatures at which the family is balanced: ``'all'`` if it is balanced at every tau (equal
    sizes and balanced counts, or a mixture of all-``C(N, b)`` families), else a sorted list (possibly empty).

    ``kappa_ij(c) prod_b (1 + (b-1) c) = sum_b (C_b[i, j] / b) prod_{b' != b} (1 + (b'-1) c)`` is a
    polynomial in ``c`` of degree < the number of sizes; balance at ``c`` means all pairs' polynomials
    agree there. The roots in ``(0, 1)`` of each pair's difference with a reference pair are
    intersected (checked relative to the polynomials' scale) and mapped to ``tau = -N / ((N-1) ln c)``.

    Parameters
    ----------
    family : Family
    rel_tol : float, default=1e-09
        Relative tolerance of the root check.

    Returns
    -------
    str or list of float
        ``'all'``, or the sorted temperatures.
    """
    family = _check(family)
    rel_tol = check_positive_float("rel_tol", rel_tol)
    N = family.N
    by_size = size_cooccurrence(family)
    sizes = sorted(by_size)
    if not sizes:
        return []
    iu = np.triu_indices(N, 1)
    polys = np.zeros((len(iu[0]), len(sizes)))               # coefficients in c, increasing degree
    P = np.polynomial.polynomial
    for a, b in enumerate(sizes):
        others = [1.0]
        for bb in sizes:
            if bb != b:
                others = P.polymul(others, [1.0, bb - 1.0])
        coef = np.zeros(len(sizes))
        coef[: len(others)] = others
        polys += np.outer(by_size[b][iu] / b, coef)
    scale = np.abs(polys).max()
    diff = polys - polys[0]
    if np.all(np.abs(diff) <= rel_tol * scale):
        return "all" if np.all(polys[:, 0] > 0) or np.all(polys.sum(1) > 0) else []
    roots = None
    for row in diff:
        if np.all(np.abs(row) <= rel_tol * scale):
            continue
        r = P.polyroots(np.trim_zeros(row, "b")) if np.any(row[1:]) else np.array([])
        r = {float(x.real) for x in np.atleast_1d(r) if abs(x.imag) < 1e-12 and 0 < x.real < 1}
        roots = r if roots is None else {x for x in roots if any(abs(x - y) <= 1e-9 * max(x, 1e-300) for y in r)}
        if not roots:
            return []
    taus = []
    for c in sorted(roots):
        vals = P.polyval(c, polys.T)
        if vals.max() > 0 and vals.max() - vals.min() <= 1e-8 * vals.max():
            taus.append(-N / ((N - 1) * math.log(c)))
    return sorted(taus)


# --------------------------------------------------------------------------- example families
def cyclic_triples_and_pairs(N: int = 5) -> Family:
    """Example (a): the cyclic triples ``{i, i+1, i+2}`` and the pairs ``{i, i+2}`` (mod N). For N = 5 every
    pair co-occurs twice and every point lies in 5 batches, yet kappa is not constant: the plain
    pair count misleads once sizes differ.

    Parameters
    ----------
    N : int, default=5
        Number of points, >= 5.

    Returns
    -------
    Family
    """
    trip = [[i, (i + 1) % N, (i + 2) % N] for i in range(N)]
    pairs = [[i, (i + 2) % N] for i in range(N)]
    return Family.from_batches(trip + pairs, N)


def tau_critical_example() -> Family:
    """Example (b): N = 4, batches {0,1,2} twice, {0,3}, {1,3}, {2,3}. Balanced exactly where
    ``2 / (3 (1 + 2c)) = 1 / (2 (1 + c))``, i.e. ``c = 1/2``, ``tau = 4 / (3 ln 2)``.

    Returns
    -------
    Family
        N = 4, five batches of weight 1.
    """
    return Family.from_batches([[0, 1, 2], [0, 1, 2], [0, 3], [1, 3], [2, 3]], 4)


def balanced_at(triples, N: int, tau: float, slack: float = 0.25) -> Family:
    """A family balanced at exactly ``tau`` (and generically at no other tau): the given triples
    (weight 1) plus every pair ``{i, j}`` with the weight that makes ``kappa`` constant,
    ``w_ij = 2 (1 + c) (k - n_ij / (3 (1 + 2c)))`` with ``k = (1 + slack) max_ij n_ij / (3 (1 + 2c))``
    (``n_ij`` the number of triples holding i and j).

    Parameters
    ----------
    triples : sequence of sequence of int
        Batches of size 3 on ``[0, N)``.
    N : int
        Number of points.
    tau : float
        The temperature to balance at, > 0.
    slack : float, default=0.25
        How far ``k`` lies above the smallest value that keeps every pair weight positive, > 0.

    Returns
    -------
    Family
        The triples (weight 1) and the weighted pairs.
    """
    c = etf_c(N, tau)
    trip = Family.from_batches(triples, N)
    if trip.batch_sizes != (3,):
        raise ValueError("triples must be batches of size 3")
    n = trip.cooccurrence().astype(float)
    k = (1 + check_positive_float("slack", slack)) * max(n[~np.eye(N, dtype=bool)].max(), 1.0) / (3 * (1 + 2 * c))
    iu = np.triu_indices(N, 1)
    w = 2 * (1 + c) * (k - n[iu] / (3 * (1 + 2 * c)))
    pairs = np.stack(iu, axis=1)
    return Family.from_batches([list(t) for t in trip.batches] + [list(p) for p in pairs], N,
                               weights=np.concatenate([np.ones(trip.n_batches), w]))
