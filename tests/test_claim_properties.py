"""Property tests of the claims themselves: each asserts a claim's statement over the objects it
quantifies (families, embeddings, tau, d, seeds), drawn by the strategies of ``theory.strategies``."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from helpers import unit_rows
from theory import (Family, InfoNCE, block_configuration, objective, optimum_all, optimum_full, optimum_partition,
                    regular_polygon)
from theory.certificates import etf_dual_certificate, etf_gradient_ratio, etf_is_optimal, etf_scale
from theory.front import tangent_gradient
from theory.strategies import pair_balanced_families, sizes, taus, unbalanced_families
import simulations as sim
from theory.batches import uniform_partitions
from simulations.claims._families import fano_plus_one_triple
from simulations.claims.fig1a_rotation import FIG1A_READOFF, FIG1A_READOFF_PRECISION, check_fig1a
from simulations.claims.low_dimension_counterexample import _angle_hessian_min_eig
from simulations.runtime.tasks import paired_comparison


@settings(max_examples=25)
@given(pair_balanced_families(), taus(0.01, 5.0))
def test_pair_balanced_families_are_certified_etf_optimal_for_every_tau(fam, tau):
    r = etf_is_optimal(fam, InfoNCE(tau))
    assert r.optimal is True and r.decided_by == "dual_certificate" and r.dual["unique"]


@settings(max_examples=25)
@given(unbalanced_families(), taus(0.01, 5.0))
def test_pair_balanced_families_are_certified_and_unbalanced_are_not_stationary(fam, tau):
    r = etf_is_optimal(fam, InfoNCE(tau))
    assert r.optimal is False and r.decided_by == "tangent_gradient"
    assert r.gradient_ratio > 1e-6          # far above rounding (~1e-15) at every tau


@pytest.mark.parametrize("tau", [1.0, 0.1, 0.07, 0.05, 0.02, 0.01])
def test_fano_plus_one_triple_is_not_etf_optimal_at_small_tau(tau):
    fam = fano_plus_one_triple()
    r = etf_is_optimal(fam, InfoNCE(tau))
    assert r.optimal is False and r.decided_by == "tangent_gradient"
    # equal sizes: the ratio does not depend on tau (0.1535 relative to ||dL/dZ||_F)
    assert abs(r.gradient_ratio - 0.1535) < 1e-3
    assert etf_is_optimal(Family.fano(), InfoNCE(tau)).optimal is True


def test_solver_excess_of_the_unbalanced_family_is_below_solver_tolerance_at_small_tau():
    """Why solver values must not decide: at tau = 0.05 the excess is O(c) = O(1e-10)."""
    r = etf_is_optimal(fano_plus_one_triple(), InfoNCE(0.05), solver_check=True)
    assert r.optimal is False and abs(r.excess) < 1e-7 and etf_scale(7, 0.05) < 1e-10


def test_etf_decisions_refuse_a_tau_whose_scale_underflows():
    with pytest.raises(ValueError, match="underflows"):
        etf_gradient_ratio(Family.fano(), InfoNCE(1e-3))


@settings(max_examples=20)
@given(st.integers(2, 20), taus(0.01, 10.0), st.integers(0, 2**31))
def test_full_batch_etf_is_certified_unique_for_every_tau(N, tau, seed):
    d = etf_dual_certificate(Family.full(N), InfoNCE(tau))
    assert d["certified"] and d["unique"]
    U, V = unit_rows(N, N, seed), unit_rows(N, N, seed + 1)        # any configuration is no better
    assert objective(U, V, Family.full(N), InfoNCE(tau)) >= optimum_full(N, tau) - 1e-12


@settings(max_examples=20)
@given(sizes(max_N=9, min_N=3), taus(0.01, 10.0), st.integers(0, 2**31))
def test_all_batches_minimizer_is_the_unique_simplex_etf(NB, tau, seed):
    N, B = NB
    d = etf_dual_certificate(Family.all(N, B), InfoNCE(tau))
    assert d["certified"] and d["unique"]
    U, V = unit_rows(N, N, seed), unit_rows(N, N, seed + 1)
    assert objective(U, V, Family.all(N, B), InfoNCE(tau)) >= optimum_all(N, B, tau) - 1e-12


@settings(max_examples=20)
@given(st.integers(4, 8), st.integers(0, 2**31), st.data())
def test_full_and_all_batches_gradients_are_not_parallel(N, seed, data):
    B = data.draw(st.integers(2, N - 1))
    U, V = unit_rows(N, 4, seed), unit_rows(N, 4, seed + 1)
    g1 = np.concatenate([x.ravel() for x in tangent_gradient(U, V, Family.full(N), InfoNCE())])
    g2 = np.concatenate([x.ravel() for x in tangent_gradient(U, V, Family.all(N, B), InfoNCE())])
    cos = g1 @ g2 / (np.linalg.norm(g1) * np.linalg.norm(g2))
    assert cos < 1 - 1e-9
    g3 = np.concatenate([x.ravel() for x in tangent_gradient(U, V, Family.all(N, N), InfoNCE())])   # control: identical
    assert np.allclose(g1, g3, atol=1e-14)


@settings(max_examples=15)
@given(st.sampled_from([(4, 2), (6, 2), (6, 3), (8, 2), (8, 4), (9, 3), (12, 4)]), st.integers(0, 2**16), taus(0.01, 5.0))
def test_partition_etf_is_not_stationary_and_block_value_is_certified(NB, seed, tau):
    N, B = NB
    P = Family.partition(N, B, seed=seed)
    assert etf_gradient_ratio(P, InfoNCE(tau)) > 1e-3
    X = block_configuration(P, N)
    assert abs(objective(X, X, P, InfoNCE(tau)) - optimum_partition(N, B, tau)) <= 1e-13 / tau + 1e-12


def test_angle_hessian_ignores_the_common_rotation():
    """The 10-gon is a saddle of the all-pairs objective: the projected Hessian's smallest eigenvalue is
    negative (taking the second-smallest eigenvalue, as an index guess would, misses it)."""
    X = regular_polygon(10)
    th = np.arctan2(X[:, 1], X[:, 0])
    theta = np.concatenate([th, th])
    assert _angle_hessian_min_eig(theta, Family.all(10, 2)) < -1e-4
    assert _angle_hessian_min_eig(theta, Family.full(10)) > 1e-3


@settings(max_examples=15)
@given(st.sampled_from([(4, 2), (6, 2), (6, 3), (8, 2), (8, 4), (9, 3)]), st.integers(0, 2**31), taus(0.05, 5.0))
def test_mean_over_uniform_partitions_equals_all_batches_objective(NB, seed, tau):
    N, B = NB
    parts = list(uniform_partitions(N, B))
    assert len(parts) == math.factorial(N) // (math.factorial(B) ** (N // B) * math.factorial(N // B))
    U, V = torch.tensor(unit_rows(N, 3, seed)), torch.tensor(unit_rows(N, 3, seed + 1))
    mean = np.mean([float(sim.batch_values(U, V, torch.from_numpy(p), InfoNCE(tau)).mean()) for p in parts])
    exact = float(sim.objective(U, V, Family.all(N, B), InfoNCE(tau)))
    assert abs(mean - exact) <= 1e-12 * abs(exact)


def test_fig1a_values_are_within_readoff_precision(tmp_path):
    v = check_fig1a(tmp_path)
    for k, ref in FIG1A_READOFF.items():
        assert abs(v.numbers["measured"][k] - ref) <= FIG1A_READOFF_PRECISION, k
    # negative control: the mean-over-batches normalisation is not the figure's
    assert not any(v.numbers["mean_over_batches_convention_matches"].values())


@settings(max_examples=40)
@given(st.lists(st.floats(0, 1000), min_size=6, max_size=30), st.floats(1, 100), st.integers(0, 100))
def test_paired_comparison_decides_only_when_the_interval_excludes_zero(b, shift, seed):
    b = np.array(b)
    faster = paired_comparison(b - shift, b, seed=seed)
    assert faster["decision"] == "a<b" and faster["ci"][1] < 0
    assert paired_comparison(b, b - shift, seed=seed)["decision"] == "a>b"
    assert paired_comparison(b, b, seed=seed)["decision"] == "undecided"
    never = paired_comparison(b, np.full(b.size, np.inf), seed=seed)        # b never reached: a is faster
    assert never["decision"] == "a<b" and never["median_difference"] is None
    tie = paired_comparison(np.full(b.size, np.inf), np.full(b.size, np.inf), seed=seed)
    assert tie["decision"] == "undecided" and tie["median_difference"] == 0.0


def test_paired_comparison_refuses_nan_and_mismatched_lengths():
    with pytest.raises(ValueError, match="NaN"):
        paired_comparison([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="equal-length"):
        paired_comparison([1.0, 2.0], [1.0])


def test_paired_comparison_is_undecided_when_the_interval_straddles_zero():
    b = np.arange(8, dtype=float) * 10
    a = b + np.array([-1, -1, -1, -1, -1, 5, 5, 5], float)     # median difference < 0, but not robustly
    r = paired_comparison(a, b, seed=0)
    assert r["median_difference"] < 0 and r["ci"][0] < 0 < r["ci"][1] and r["decision"] == "undecided"


def test_dual_certificate_rejects_a_stationary_point_that_is_a_maximum(monkeypatch):
    """Complementary slackness alone is not enough: with the gradient's sign flipped (the ETF as a
    stationary point of -L_F, a maximum), Y M* = 0 still holds but Y is negative semidefinite."""
    import theory.certificates as tcert
    from theory.front import GramGradient
    real = tcert.gram_gradient

    def flipped(*a, **k):
        g = real(*a, **k)
        return GramGradient(-g.Z, -g.UU, -g.VV)
    monkeypatch.setattr(tcert, "gram_gradient", flipped)
    d = tcert.etf_dual_certificate(Family.fano(), InfoNCE(1.0))
    assert d["slackness"] < 1e-12 and d["min_eig"] < -0.1 and not d["certified"] and not d["unique"]
