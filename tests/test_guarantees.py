"""Soundness of the guarantees, each against an independent measurement (not only its effect on one example):
the LP bound's rigour correction, the precision of SigLIP's double-constant root, and the spectral affinity's
zero diagonal. A guarantee weakened by a one-line change fails here."""
import numpy as np
import pytest
import torch
from scipy.special import eval_gegenbauer

from helpers import unit_rows
from simulations.engine import sc_affinity
from simulations.selection.spectral import spectral_embedding
from theory.energy import gegenbauer, lp_energy_bound
from theory.siglip import _slope, siglip_optimum


def _second_derivative_at_one(k: int, d: int) -> float:
    """``P_k''(1)`` of the normalised Gegenbauer polynomial ``C_k^lam / C_k^lam(1)``, ``lam = (d-2)/2`` (d >= 3), from
    ``(C_k^lam)'' = 4 lam (lam + 1) C_{k-2}^{lam+2}`` and scipy's values (independent of theory.energy)."""
    lam = (d - 2) / 2
    if k < 2:
        return 0.0
    return 4 * lam * (lam + 1) * eval_gegenbauer(k - 2, lam + 2, 1.0) / eval_gegenbauer(k, lam, 1.0)


@pytest.mark.parametrize("N,d,t,degree,check_grid", [(6, 3, 2.0, 12, 101), (6, 4, 1.0, 10, 51), (8, 3, 0.5, 14, 21)])
def test_lp_correction_covers_phi_between_check_points_by_the_taylor_bound(N, d, t, degree, check_grid):
    """delta >= max over the check grid of phi + (sum_k a_k P_k''(1) + max|f''|) g^2 / 8 (the bound on phi between
    grid points, |P_k''| <= P_k''(1)), recomputed here; and the true maximum of phi on a 100x finer grid stays below
    delta."""
    f = lambda s: np.exp(-2 * t * (1 - s))                 # noqa: E731
    f2 = 4 * t * t
    r = lp_energy_bound(N, d, f, f2, degree, check_grid=check_grid)
    a = r["coefficients"]
    g = 2.0 / (check_grid - 1)
    grid = np.linspace(-1, 1, check_grid)
    phi_grid = float((a @ gegenbauer(degree, d, grid) - f(grid)).max())
    K = sum(a[k] * _second_derivative_at_one(k, d) for k in range(2, degree + 1)) + f2
    taylor = max(0.0, phi_grid) + K * g * g / 8
    assert taylor <= r["delta"] <= 1.01 * taylor + 1e-12
    fine = np.linspace(-1, 1, 100 * (check_grid - 1) + 1)
    assert float((a @ gegenbauer(degree, d, fine) - f(fine)).max()) <= r["delta"]


@pytest.mark.parametrize("N,tau,bias,w", [(6, 1.0, 0.0, 1.0), (8, 0.3, 1.0, 1.0), (6, 1.0, 0.0, 0.4), (10, 3.0, -1.0, 0.7)])
def test_siglip_interior_root_is_located_to_rounding(N, tau, bias, w):
    """The slope changes sign within 1e-12 of lambda* (a root found to 1e-6 fails this)."""
    opt = siglip_optimum(N, tau, bias, w=w)
    assert opt["structure"] == "interior"
    lam = opt["lam"]
    assert _slope(N, lam - 1e-12, tau, bias, w) < 0 < _slope(N, lam + 1e-12, tau, bias, w)


@pytest.mark.parametrize("loss", ["infonce", "siglip"])
def test_spectral_embedding_uses_the_affinity_without_its_diagonal(loss):
    """An independent numpy computation of the normalised-Laplacian embedding with W_ii = 0 spans the same space."""
    N, B = 12, 3
    U, V = unit_rows(N, 4, 0), unit_rows(N, 4, 1)
    Ut, Vt = torch.tensor(U), torch.tensor(V)
    A = sc_affinity(Ut, Vt, B, loss).numpy().copy()
    np.fill_diagonal(A, -np.inf)
    W = np.exp(A - A[np.isfinite(A)].max())
    Dm = 1 / np.sqrt(W.sum(1))
    _, vecs = np.linalg.eigh(Dm[:, None] * W * Dm[None, :])
    X = vecs[:, -N // B:]
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = spectral_embedding(Ut, Vt, B, loss).numpy()
    # the same rows up to an orthogonal map of the k-dimensional eigenspace: equal Gram matrices
    assert np.abs(X @ X.T - Y @ Y.T).max() < 1e-10
