"""InfoNCE's closed forms on the numpy oracle (the theory notes, section :ref:`theory-infonce-closed-forms`): closed
forms, lower bounds, invariances."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from helpers import assert_close, random_rotation, unit_rows
import theory as th
from theory import (Family, InfoNCE, block_configuration, cross_polytope, cross_polytope_all_pairs_value,
                    cross_polytope_full_value, optimum_all, optimum_full, optimum_partition, simplex_etf)
from theory.strategies import families, sizes, taus


@given(sizes(max_N=12), taus(), st.integers(0, 3))
def test_closed_forms_equal_loss_at_their_configurations(NB, tau, extra_d):
    N, B = NB
    W = simplex_etf(N, N - 1 + extra_d, seed=extra_d)
    assert_close(th.objective(W, W, Family.full(N), InfoNCE(tau)), optimum_full(N, tau), 1e-10, "full")
    assert_close(th.objective(W, W, Family.all(N, B), InfoNCE(tau)), optimum_all(N, B, tau), 1e-10, "all")
    assert_close(th.objective(W, W, Family.all(N, B), InfoNCE(tau, symmetric=False)),
                 optimum_all(N, B, tau, loss="one_sided"), 1e-10, "all one-sided")
    if N % B == 0:
        P = Family.partition(N, B, seed=extra_d)
        X = block_configuration(P, B - 1 + extra_d, seed=extra_d)
        assert_close(th.objective(X, X, P, InfoNCE(tau)), optimum_partition(N, B, tau), 1e-10, "partition")


@pytest.mark.parametrize("N", [4, 8, 16])
def test_cross_polytope_values_match_closed_forms(N):
    X = cross_polytope(N, N // 2, seed=1)
    assert_close(th.objective(X, X, Family.full(N), InfoNCE(1.0)), cross_polytope_full_value(N), 1e-12, "full")
    assert_close(th.objective(X, X, Family.all(N, 2), InfoNCE(1.0)), cross_polytope_all_pairs_value(N), 1e-12, "pairs")


def test_closed_forms_give_the_example_values_of_the_theory_notes():
    # independently stated to 6 decimals in the theory notes, section :ref:`theory-infonce-closed-forms`
    for val, ref in [(optimum_full(4), 1.165315), (optimum_full(8), 2.346416), (optimum_full(16), 3.636902),
                     (optimum_all(8, 2), 0.553606), (optimum_all(8, 4), 1.342539), (optimum_partition(10, 2), 0.253856)]:
        assert abs(val - ref) < 1e-6


@given(sizes(max_N=10), st.integers(1, 12), st.integers(0, 2**31), taus())
def test_closed_forms_are_lower_bounds_in_every_dimension(NB, d, seed, tau):
    N, B = NB
    U, V = unit_rows(N, d, seed), unit_rows(N, d, seed + 1)
    assert th.objective(U, V, Family.full(N), InfoNCE(tau)) >= optimum_full(N, tau) - 1e-12
    assert th.objective(U, V, Family.all(N, B), InfoNCE(tau)) >= optimum_all(N, B, tau) - 1e-12
    if N % B == 0:
        assert th.objective(U, V, Family.partition(N, B, seed=seed), InfoNCE(tau)) >= optimum_partition(N, B, tau) - 1e-12


@given(sizes(max_N=9), st.integers(1, 8), st.integers(0, 2**31), taus(), st.data())
def test_loss_is_invariant_to_relabelling_rotation_and_swap(NB, d, seed, tau, data):
    N, B = NB
    fam = data.draw(families(N, B))
    U, V = unit_rows(N, d, seed), unit_rows(N, d, seed + 1)
    ref = th.objective(U, V, fam, InfoNCE(tau))
    perm = np.random.default_rng(seed).permutation(N)
    inv = np.argsort(perm)
    relabelled = Family.from_batches(inv[fam.batches], N)      # batch S -> perm^{-1}(S)
    assert_close(th.objective(U[perm], V[perm], relabelled, InfoNCE(tau)), ref, 1e-10, "relabel")
    Q = random_rotation(d, seed)
    assert_close(th.objective(U @ Q, V @ Q, fam, InfoNCE(tau)), ref, 1e-10, "rotation")
    assert_close(th.objective(V, U, fam, InfoNCE(tau)), ref, 1e-10, "swap U, V")


@given(sizes(max_N=10), st.integers(0, 2**31), st.data())
def test_family_loss_is_mean_of_batch_losses_and_finite_at_tiny_tau(NB, seed, data):
    N, B = NB
    fam = data.draw(families(N, B))
    U, V = unit_rows(N, 3, seed), unit_rows(N, 3, seed + 1)
    for tau in (1e-3, 0.7):
        losses = th.batch_values(U, V, fam, InfoNCE(tau))
        assert losses.shape == (fam.n_batches,) and np.all(np.isfinite(losses))
        assert_close(th.objective(U, V, fam, InfoNCE(tau)), losses.mean(), 1e-13 * max(1.0, abs(losses.mean())), "mean")
    assert_close(th.objective(U, V, fam, InfoNCE(1.0), reduction="per_anchor"), th.batch_values(U, V, fam, InfoNCE(1.0)).sum() / N, 1e-12, "per anchor")


@given(sizes(max_N=7), st.integers(0, 2**31), taus(0.2, 3), st.sampled_from(["symmetric", "one_sided"]))
def test_gradient_matches_finite_differences(NB, seed, tau, loss):
    N, B = NB
    fam = Family.all(N, B)
    U, V = unit_rows(N, 3, seed), unit_rows(N, 3, seed + 1)
    obj = InfoNCE(tau, symmetric=loss == "symmetric")
    gU, gV = th.gradient(U, V, fam, obj)
    # the loss depends on U, V only through Z = U V^T: differentiate along random directions of Z
    rng = np.random.default_rng(seed)
    dU, dV = rng.standard_normal(U.shape), rng.standard_normal(V.shape)
    h = 1e-6

    def block_loss(zs):                                       # written from the definition, no shared code
        d = np.diag(zs)
        rows = np.log(np.exp(zs).sum(1)) - d
        return np.mean(rows) + (np.mean(np.log(np.exp(zs).sum(0)) - d) if loss == "symmetric" else 0.0)

    def f(t):
        Z = (U + t * dU) @ (V + t * dV).T / tau
        return np.mean([block_loss(Z[np.ix_(S, S)]) for S in fam.batches])

    fd = (f(h) - f(-h)) / (2 * h)
    assert abs(fd - (np.sum(gU * dU) + np.sum(gV * dV))) < 1e-6 * max(1.0, abs(fd))
