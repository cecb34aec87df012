"""Multi-start local minimisation of family objectives on products of spheres (numpy/scipy).

Where no certificate exists — dimensions ``d < N-1``, where the convex relaxation cannot certify
a rank below ``N-1`` — the toolkit's statements rest on *computational evidence*: many seeded
starts of L-BFGS, the best values found, and second-order checks. This module is that tool; its
results are evidence, never proofs, and the claims that use it say so.

Parametrisation: raw vectors ``x`` with ``u = x / ||x||``; the gradient in ``x`` is the
Riemannian gradient divided by ``||x||`` (chain rule through the normalisation), computed from the
oracle :func:`theory.gradient` (every registered loss).

References
----------
Nocedal & Wright, "Numerical Optimization", §7.2 (L-BFGS).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from ._checks import check_int
from .batches import Family
from .front import gradient, objective
from .losses import as_loss


def _normalise(X):
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return X / n, n


def _through_normalisation(G, Y, n):
    """Gradient w.r.t. raw rows ``x`` (``y = x/||x||``, ``n = ||x||``) from the gradient ``G`` w.r.t. ``y``."""
    return (G - np.sum(G * Y, axis=1, keepdims=True) * Y) / n


def minimize_family(family: Family, d: int, loss="infonce", *, starts: int = 20, seed: int = 0,
                    tie: str = "none", E=None, gtol: float = 1e-10, maxiter: int = 5000) -> dict:
    """Minimise ``L_F`` over unit-norm embeddings in ``R^d`` from ``starts`` seeded Gaussian starts.

    Parameters
    ----------
    family : Family
    d : int >= 1
    loss : Loss or str, default='infonce'
    starts : int >= 1
        Number of independent starts (start ``k`` uses seed ``seed + k``).
    tie : {'none', 'uv', 'linear'}
        ``'none'``: ``U, V`` free (``2N`` vectors). ``'uv'``: ``U = V``. ``'linear'``: ``U = V = E Y``
        with ``Y: (m, d)`` unit rows and ``E: (N, m)`` a fixed matrix whose rows have one entry
        ``+-1`` (e.g. antipodal pairs ``u_{2k+1} = -u_{2k}``).
    E : (N, m) array, only with ``tie='linear'``.

    Returns
    -------
    dict with ``best_value``, ``U``, ``V`` (the best configuration), ``values`` (one per start),
    ``grad_norms`` (Riemannian gradient norms at the ends; small = a stationary point reached) and
    ``converged`` (scipy's flag per start).
    """
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    loss = as_loss(loss)
    d = check_int("d", d, low=1)
    starts = check_int("starts", starts, low=1)
    N = family.N
    if tie not in ("none", "uv", "linear"):
        raise ValueError(f"tie must be 'none', 'uv' or 'linear', got {tie!r}")
    if tie == "linear":
        E = np.asarray(E, dtype=np.float64)
        if E.ndim != 2 or E.shape[0] != N or not np.all(np.sum(np.abs(E), axis=1) == 1):
            raise ValueError(f"E must be (N={N}, m) with exactly one entry +-1 per row, got shape {E.shape}")
    m = {"none": 2 * N, "uv": N, "linear": None if E is None else E.shape[1]}[tie]

    def embed(Y):
        if tie == "none":
            return Y[:N], Y[N:]
        X = Y if tie == "uv" else E @ Y
        return X, X

    def fun(x):
        Y, n = _normalise(x.reshape(m, d))
        U, V = embed(Y)
        gU, gV = gradient(U, V, family, loss)
        G = np.vstack([gU, gV]) if tie == "none" else (gU + gV if tie == "uv" else E.T @ (gU + gV))
        return objective(U, V, family, loss), _through_normalisation(G, Y, n).ravel()

    values, grads, conv, best = [], [], [], None
    for k in range(starts):
        x0 = np.random.default_rng(seed + k).standard_normal(m * d)
        r = minimize(fun, x0, jac=True, method="L-BFGS-B", options={"gtol": gtol, "ftol": 1e-15, "maxiter": maxiter})
        Y, n = _normalise(r.x.reshape(m, d))
        val, g = fun(Y.ravel())
        values.append(float(val))
        grads.append(float(np.linalg.norm(g)))
        conv.append(bool(r.success))
        if best is None or val < best[0]:
            best = (float(val), *embed(Y))
    if not np.all(np.isfinite(values)):
        raise FloatingPointError("a local search produced a non-finite objective value")
    return {"best_value": best[0], "U": best[1], "V": best[2], "values": values, "grad_norms": grads,
            "converged": conv}
