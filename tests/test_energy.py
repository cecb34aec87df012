"""The LP (Delsarte-Yudin) bound on pair energies: known answers (Cohn-Kumar's universally optimal codes),
a configuration where it is known not to be sharp, and its rigour between grid points."""
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import eval_chebyt, eval_gegenbauer

from theory import Family, normalize_rows, objective
from theory.configurations import cross_polytope, icosahedron, regular_polygon, simplex_etf
from theory.energy import gegenbauer, gegenbauer_derivatives_at_one, lp_energy_bound, pair_energy
from theory import KCL


def gaussian(t):
    return (lambda s: np.exp(-2.0 * t * (1.0 - s))), 4.0 * t * t


def inverse_quadratic(a):
    """``1 / (1 + a ||x - y||^2)``: completely monotone in the squared distance; ``f'' <= 8 a^2``."""
    return (lambda s: 1.0 / (1.0 + a * (2.0 - 2.0 * s))), 8.0 * a * a


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_gegenbauer_polynomials_equal_scipy_normalised_at_one(d):
    s = np.linspace(-1, 1, 41)
    P = gegenbauer(9, d, s)
    for k in range(10):
        ref = eval_chebyt(k, s) if d == 2 else eval_gegenbauer(k, (d - 2) / 2, s) / eval_gegenbauer(k, (d - 2) / 2, 1.0)
        np.testing.assert_allclose(P[k], ref, atol=1e-12)


@pytest.mark.parametrize("d", [2, 3, 6])
def test_gegenbauer_derivative_bounds_are_the_maxima_on_the_interval(d):
    s = np.linspace(-1, 1, 20001)
    h = s[1] - s[0]
    P = gegenbauer(8, d, s)
    d1, d2 = gegenbauer_derivatives_at_one(8, d)
    D1, D2 = np.gradient(P, h, axis=1), np.diff(P, 2, axis=1) / h ** 2
    np.testing.assert_allclose(D1[:, -1], d1, rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(D2[:, -1], d2, rtol=2e-2, atol=1e-3)       # one-sided second difference at 1 - h
    assert np.all(np.abs(D1).max(axis=1) <= d1 * (1 + 2e-3) + 1e-6)
    assert np.all(np.abs(D2).max(axis=1) <= d2 * (1 + 2e-3) + 1e-6)


CODES = [("pentagon", 2, regular_polygon(5)), ("octagon", 2, regular_polygon(8)), ("octahedron", 3, cross_polytope(6, 3)),
         ("icosahedron", 3, icosahedron()), ("cross-polytope 8", 4, cross_polytope(8, 4)), ("simplex 5", 4, simplex_etf(5, 4))]


@pytest.mark.parametrize("name,d,X", CODES, ids=[c[0] for c in CODES])
@pytest.mark.parametrize("potential", [gaussian(1.0), gaussian(2.0), inverse_quadratic(1.0)],
                         ids=["gauss t=1", "gauss t=2", "1/(1+r^2)"])
def test_lp_bound_is_sharp_at_universally_optimal_codes(name, d, X, potential):
    f, f2 = potential
    N = X.shape[0]
    G = X @ X.T
    r = lp_energy_bound(N, d, f, f2, degree=N, grid=20001, extra_points=G[~np.eye(N, dtype=bool)])
    E = pair_energy(X, f)
    assert r["bound"] <= E * (1 + 1e-12)
    assert (E - r["bound"]) / E <= 1e-6


def test_lp_bound_is_not_sharp_for_five_points_on_the_sphere():
    """No universally optimal 5-point code on S^2: the bound stays ~3% below the triangular bipyramid."""
    f, f2 = gaussian(1.0)
    X = np.array([[0, 0, 1], [0, 0, -1], [1, 0, 0], [-0.5, np.sqrt(3) / 2, 0], [-0.5, -np.sqrt(3) / 2, 0]])
    E = pair_energy(X, f)
    r = lp_energy_bound(5, 3, f, f2, degree=7, grid=20001)
    assert 0.02 < (E - r["bound"]) / E < 0.05


def test_lp_bound_stays_rigorous_when_the_grid_misses_the_violations():
    """With a 5-point LP grid the LP value itself exceeds the octagon's energy (h > f between grid points);
    the correction brings the bound back below."""
    f, f2 = gaussian(1.0)
    X = regular_polygon(8)
    r = lp_energy_bound(8, 2, f, f2, degree=8, grid=5)
    E = pair_energy(X, f)
    assert r["lp_value"] > E
    assert r["delta"] > 0 and r["bound"] < E


@lru_cache(maxsize=None)
def _bound(N, d, t):
    f, f2 = gaussian(t)
    return lp_energy_bound(N, d, f, f2, degree=N, grid=4001)["bound"]


@given(N=st.integers(3, 8), d=st.integers(2, 4), t=st.sampled_from([0.5, 2.0]), seed=st.integers(0, 2 ** 31 - 1),
       spread=st.floats(0.0, 1.0))
def test_lp_bound_never_exceeds_the_energy_of_any_code(N, d, t, seed, spread):
    rng = np.random.default_rng(seed)
    base = np.zeros((N, d))
    base[:, :2] = regular_polygon(N)
    X = normalize_rows(base + spread * rng.normal(size=(N, d)) + 1e-9)
    f, _ = gaussian(t)
    assert pair_energy(X, f) >= _bound(N, d, t) - 1e-12


def test_kcl_local_search_in_the_plane_finds_nothing_below_the_certified_minimum():
    """Independent evidence for claim kcl_low_dimension (d = 2, N = 5). KCL's alignment is maximised by u_i = v_i
    whatever the rest, so its minimum is -1 + 2 gamma min E / (N (N-1)): BFGS over the angles of one code
    (8 starts) reaches the pentagon's energy and never goes below the LP certificate; the oracle's KCL at
    U = V = the best code found equals that value."""
    N, L = 5, KCL(t=1.0, gamma=4.0)
    f, f2 = gaussian(1.0)
    bound = lp_energy_bound(N, 2, f, f2, degree=N, grid=20001)["bound"]
    polar = lambda a: np.stack([np.cos(a), np.sin(a)], 1)
    rng = np.random.default_rng(0)
    runs = [minimize(lambda a: pair_energy(polar(a), f), rng.uniform(0, 2 * np.pi, N), method="BFGS",
                     options={"gtol": 1e-10}) for _ in range(8)]
    best = min(runs, key=lambda r: r.fun)
    E_pentagon = pair_energy(regular_polygon(N), f)
    assert min(r.fun for r in runs) >= bound - 1e-12
    assert abs(best.fun - E_pentagon) <= 1e-9 * E_pentagon
    X = polar(best.x)
    kcl = objective(X, X, Family.full(N), L)
    assert abs(kcl - (-1.0 + 2.0 * L.gamma * E_pentagon / (N * (N - 1)))) <= 1e-8


@pytest.mark.parametrize("kwargs,match", [
    (dict(N=1), "N"), (dict(d=1), "d"), (dict(degree=0), "degree"), (dict(f2_max=float("nan")), "f2_max"),
    (dict(f=lambda s: np.full_like(s, np.nan)), "finite"), (dict(grid=2), "grid"),
    (dict(f2_max=1.0), "f2_max = 1 is below the curvature"), (dict(extra_points=[0.1, np.nan]), "extra_points"),
    (dict(f=2.0), "callable"), (dict(f=lambda s: 1.0), "same shape"),
])
def test_lp_bound_rejects_bad_input_naming_the_parameter(kwargs, match):
    f, f2 = gaussian(1.0)                                    # f'' <= 4 t^2 = 4: f2_max = 1 is too small
    args = dict(N=5, d=2, f=f, f2_max=f2, degree=5) | kwargs
    with pytest.raises(ValueError, match=match):
        lp_energy_bound(**args)


def test_pair_energy_rejects_rows_that_are_not_unit_vectors_and_scalar_potentials():
    with pytest.raises(ValueError, match="unit norm"):
        pair_energy(2.0 * regular_polygon(4), gaussian(1.0)[0])
    with pytest.raises(ValueError, match="same shape"):
        pair_energy(regular_polygon(4), lambda s: 1.0)


def test_gegenbauer_stays_finite_in_high_dimension():
    P = gegenbauer(200, 3000, np.linspace(-1, 1, 11))
    assert np.all(np.isfinite(P)) and np.all(np.abs(P) <= 1 + 1e-12)


@pytest.mark.parametrize("s", [[0.5, np.nan], [1.5], [[0.1, 0.2]]])
def test_gegenbauer_rejects_inner_products_outside_the_interval(s):
    with pytest.raises(ValueError, match="inner products in"):
        gegenbauer(3, 3, s)
