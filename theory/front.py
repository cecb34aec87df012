"""The oracle's front: a family objective, its per-batch values and its gradient, for every registered loss.

``objective(U, V, family, loss)`` is ``sum_S w_S L(S) / sum_S w_S`` over the family's batches,
enumerated block by block in float64 through the loss's own :meth:`~theory.losses.Loss.batch_losses`
(slow and obvious: the reference the torch engine of :mod:`simulations` is tested against). Families
above :data:`theory.ENUMERATION_LIMIT` batches are refused at once.

``gradient`` is exact: the loss's analytic :meth:`~theory.losses.Loss.gram_gradients` where it has one
(InfoNCE), otherwise the *complex step* through ``batch_losses``: for a real-analytic loss
``f(G + i h E) = f(G) + i h <grad f, E> + O(h^2)``, so ``Im f / h`` with ``h = 1e-20`` is the derivative
to rounding, with no cancellation. A loss whose ``batch_losses`` does not carry complex input through
(``abs``, ``.real``, float casts) is caught by a central-difference check on the first chunk and refused.

References
----------
Squire & Trapp, "Using Complex Variables to Estimate Derivatives of Real Functions", SIAM Review 40 (1998).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import check_pair
from .batches import Family
from .labels import check_ties
from .losses import Loss, as_loss, evaluate

REDUCTIONS = ("mean", "per_anchor")
#: Entries of the ``(n, b, b)`` blocks per vectorised chunk.
_CHUNK_ENTRIES = 2**22
#: Complex step and the relative tolerance of the central-difference check of complex-step gradients.
COMPLEX_STEP = 1e-20
FD_STEP, FD_RTOL = 1e-6, 1e-5


def _check(U, V, family, loss, ties=None):
    loss = as_loss(loss)
    U, V = check_pair(U, V)
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    if ties is not None:                                 # one row per item, expanded to one per pair
        t = check_ties(ties, family.N, U.shape[0])
        U, V = U[t], V[t]
    if family.N != U.shape[0]:
        raise ValueError(f"family is over N={family.N} indices but U, V have N={U.shape[0]} rows")
    family._check_enumerable()
    small = [b for b in family.batch_sizes if b < loss.min_batch]
    if small:
        raise ValueError(f"loss {loss.name!r} needs batches of size >= {loss.min_batch}, the family has sizes {small}")
    return U, V, family, loss


def _grams(loss: Loss, U, V, S):
    """The ``(n, b, b)`` Gram blocks of the batches ``S`` the loss takes: ``[Z]`` or ``[Z, UU, VV]``."""
    Us, Vs = U[S], V[S]
    out = [np.einsum("nad,nbd->nab", Us, Vs)]
    if loss.needs_self_grams:
        out += [np.einsum("nad,nbd->nab", Us, Us), np.einsum("nad,nbd->nab", Vs, Vs)]
    return out


def _chunks(family: Family, per_batch: int):
    for S, w in family.weighted_chunks(max(1, _CHUNK_ENTRIES // per_batch)):
        yield S, w


def batch_values(U, V, family: Family, loss, *, ties=None) -> np.ndarray:
    """Per-batch losses ``L(S)`` of every batch of ``family`` (in :meth:`Family.batch_list` order).

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit-norm rows (:func:`theory.normalize_rows`).
    family : Family
        Over the same N; refused above :data:`theory.ENUMERATION_LIMIT` batches.
    loss : Loss or str
        A loss object or a registered name.
    ties : sequence of int, optional
        ``ties[i]``: the item pair ``i`` copies (:mod:`theory.labels`); ``U``, ``V`` then have one row per item.

    Returns
    -------
    ndarray, shape (n_batches,)
    """
    U, V, family, loss = _check(U, V, family, loss, ties)
    return np.concatenate([_eval(loss, U, V, S) for S, _ in _chunks(family, 3 * max(family.batch_sizes) ** 2)])


def _eval(loss, U, V, S):
    g = _grams(loss, U, V, S)
    return evaluate(loss, g[0], S, *g[1:])


def objective(U, V, family: Family, loss, *, reduction: str = "mean", ties=None) -> float:
    """The family objective ``L_F(U, V) = sum_S w_S L(S) / sum_S w_S`` (exact, by enumeration).

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit-norm rows.
    family : Family
        Any weights and sizes; refused above :data:`theory.ENUMERATION_LIMIT` batches.
    loss : Loss or str
        A loss object or a registered name.
    reduction : {'mean', 'per_anchor'}, default='mean'
        ``'per_anchor'``: ``(1/N) sum_S w_S L(S)`` instead, the normalisation of Cho et al.'s Figure 1(a).
    ties : sequence of int, optional
        ``ties[i]``: the item pair ``i`` copies (duplicated pairs, :mod:`theory.labels`); ``U``, ``V`` then have
        one row per item (``K`` rows), pair ``i`` using row ``ties[i]``.

    Returns
    -------
    float
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    U, V, family, loss = _check(U, V, family, loss, ties)
    total = sum(float(np.dot(w, _eval(loss, U, V, S))) for S, w in _chunks(family, 3 * max(family.batch_sizes) ** 2))
    return total / family.total_weight if reduction == "mean" else total / family.N


@dataclass(frozen=True)
class GramGradient:
    """``dL_F`` with respect to the Gram matrices: ``Z = U V^T`` and (for losses with self Grams) ``U U^T``,
    ``V V^T`` (each ``(N, N)``, entries as the loss reads them, not symmetrised; ``UU``, ``VV`` zero otherwise).

    Parameters
    ----------
    Z, UU, VV : numpy.ndarray, shape (N, N)
        The gradient blocks.
    """

    Z: np.ndarray
    UU: np.ndarray
    VV: np.ndarray

    def embedding_gradient(self, U, V) -> tuple[np.ndarray, np.ndarray]:
        """``(dL/dU, dL/dV)`` by the chain rule.

        Parameters
        ----------
        U, V : array_like, shape (N, d)
            Unit-norm rows.

        Returns
        -------
        tuple of numpy.ndarray
            ``(dL/dU, dL/dV)``, each ``(N, d)``: ``dZ V + (dUU + dUU^T) U`` and ``dZ^T U + (dVV + dVV^T) V``.
        """
        return self.Z @ V + (self.UU + self.UU.T) @ U, self.Z.T @ U + (self.VV + self.VV.T) @ V

    def relaxation_gradient(self) -> np.ndarray:
        """The symmetric ``2N x 2N`` matrix ``G`` with ``dL = <G, dM>`` for ``M = [U; V][U; V]^T``.

        Returns
        -------
        numpy.ndarray, shape (2N, 2N)
        """
        N = self.Z.shape[0]
        G = np.zeros((2 * N, 2 * N))
        G[:N, :N] = (self.UU + self.UU.T) / 2
        G[N:, N:] = (self.VV + self.VV.T) / 2
        G[:N, N:] = self.Z / 2
        G[N:, :N] = self.Z.T / 2
        return G


def gram_gradient(U, V, family: Family, loss) -> GramGradient:
    """Exact gradient of the family objective with respect to the Gram matrices (see the module docstring).

    Parameters
    ----------
    U, V : array_like, shape (N, d)
    family : Family
    loss : Loss or str

    Returns
    -------
    GramGradient
    """
    U, V, family, loss = _check(U, V, family, loss)
    N = family.N
    k = 3 if loss.needs_self_grams else 1
    acc = [np.zeros((N, N)) for _ in range(3)]
    checked = False
    for S, w in _chunks(family, k * max(family.batch_sizes) ** 4):
        blocks = _grams(loss, U, V, S)
        g = loss.gram_gradients(blocks[0], S, *blocks[1:])
        if g is None:
            g = _complex_step(loss, blocks, S)
            if not checked:
                _difference_check(loss, blocks, S, g)
                checked = True
        for a, gb in zip(acc, g):
            if gb is not None:
                np.add.at(a, (S[:, :, None], S[:, None, :]), gb * w[:, None, None])
    for a in acc:
        if not np.all(np.isfinite(a)):
            raise ValueError(f"loss {loss.name!r}: the gradient is not finite at this configuration")
    W = family.total_weight
    return GramGradient(acc[0] / W, acc[1] / W, acc[2] / W)


def gradient(U, V, family: Family, loss, *, ties=None) -> tuple[np.ndarray, np.ndarray]:
    """``(dL_F/dU, dL_F/dV)``, each ``(N, d)``: the Euclidean gradient of the family objective.

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit-norm rows.
    family : Family
    loss : Loss or str
    ties : sequence of int, optional
        With ties ``U``, ``V`` have one row per item and the gradient is with respect to those ``K`` rows
        (the pairs' gradients summed per item, the chain rule of the expansion).

    Returns
    -------
    (ndarray, ndarray)
    """
    U, V = check_pair(U, V)
    if ties is None:
        return gram_gradient(U, V, family, loss).embedding_gradient(U, V)
    t = check_ties(ties, family.N if isinstance(family, Family) else U.shape[0], U.shape[0])
    gU, gV = gram_gradient(U[t], V[t], family, loss).embedding_gradient(U[t], V[t])
    out = np.zeros_like(U), np.zeros_like(V)
    np.add.at(out[0], t, gU)
    np.add.at(out[1], t, gV)
    return out


def _complex_step(loss: Loss, blocks: list, S: np.ndarray) -> list:
    """``d L(S) / d block`` of every entry of every block, ``Im L(G + i h E_kl) / h``."""
    n, b, _ = blocks[0].shape
    E = np.eye(b * b).reshape(b * b, b, b) * (1j * COMPLEX_STEP)
    rep = [np.repeat(B.astype(complex)[:, None], b * b, axis=1) for B in blocks]
    idx = np.repeat(S, b * b, axis=0)
    out = []
    for g in range(len(blocks)):
        args = [r + E[None] if j == g else r for j, r in enumerate(rep)]
        val = loss.batch_losses(*[a.reshape(n * b * b, b, b) for a in args[:1]], idx,
                                *[a.reshape(n * b * b, b, b) for a in args[1:]])
        if not np.iscomplexobj(val):
            raise ValueError(f"loss {loss.name!r}: batch_losses drops complex input (np.real, abs or a float cast), "
                             "so theory.gradient cannot differentiate it; use theory.losses.ops or define gram_gradients")
        out.append(np.imag(val).reshape(n, b, b) / COMPLEX_STEP)
    return out + [None] * (3 - len(out))


def _difference_check(loss: Loss, blocks: list, S: np.ndarray, g: list) -> None:
    """Central differences along a random direction must agree with the complex-step gradient."""
    rng = np.random.default_rng(0)
    P = [rng.standard_normal(B.shape) for B in blocks]

    def f(s):
        return float(np.sum(loss.batch_losses(*[B + s * p for B, p in zip(blocks[:1], P[:1])], S,
                                              *[B + s * p for B, p in zip(blocks[1:], P[1:])])))
    fd = (f(FD_STEP) - f(-FD_STEP)) / (2 * FD_STEP)
    cs = sum(float(np.sum(gb * p)) for gb, p in zip(g, P))
    f0 = abs(f(0.0))
    scale = sum(float(np.sum(np.abs(gb * p))) for gb, p in zip(g, P)) + 1e-8 * (f0 + 1.0)
    rounding = 100 * np.finfo(float).eps * (f0 + 1.0) / FD_STEP       # the difference quotient's own rounding
    if not abs(fd - cs) <= FD_RTOL * scale + rounding:
        raise ValueError(f"loss {loss.name!r}: the complex-step derivative ({cs:.6g}) disagrees with central differences "
                         f"({fd:.6g}); batch_losses is not complex-safe (define gram_gradients or use theory.losses.ops)")


def tangent_of(X: np.ndarray, G: np.ndarray) -> np.ndarray:
    """The tangent part ``g_i - (g_i^T x_i) x_i`` of each row of ``G`` at the unit rows of ``X``.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, d)
        Unit-norm rows (the points).
    G : numpy.ndarray, shape (N, d)
        Euclidean gradient rows.

    Returns
    -------
    numpy.ndarray, shape (N, d)
    """
    return G - np.sum(G * X, axis=1, keepdims=True) * X


def tangent_gradient(U, V, family: Family, loss, *, ties=None) -> tuple[np.ndarray, np.ndarray]:
    """Riemannian gradient of ``L_F`` on the product of unit spheres: ``g_i - <g_i, u_i> u_i`` per row.

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit-norm rows.
    family : Family
    loss : Loss or str
    ties : sequence of int, optional
        As in :func:`gradient` (one row per item).

    Returns
    -------
    (ndarray, ndarray)
    """
    U, V = check_pair(U, V)
    gU, gV = gradient(U, V, family, loss, ties=ties)
    return tangent_of(U, gU), tangent_of(V, gV)


def tangent_gradient_norm(U, V, family: Family, loss, *, ties=None) -> float:
    """Frobenius norm of the Riemannian gradient of ``L_F`` at ``(U, V)``: 0 at stationary points.

    Parameters
    ----------
    U, V : array_like, shape (N, d)
    family : Family
    loss : Loss or str
    ties : sequence of int, optional
        As in :func:`gradient` (one row per item).

    Returns
    -------
    float
    """
    gU, gV = tangent_gradient(U, V, family, loss, ties=ties)
    return float(np.sqrt(np.sum(gU**2) + np.sum(gV**2)))
