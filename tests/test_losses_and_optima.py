"""Claims of THEORY.md §3 on the numpy oracle: closed forms, lower bounds, invariances."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from helpers import assert_close, random_rotation, unit_rows
from theory import (Family, batch_losses, block_configuration, cross_polytope, cross_polytope_all_pairs_value,
                    cross_polytope_full_value, euclidean_gradient, family_loss, optimum_all, optimum_full,
                    optimum_partition, simplex_etf)
from theory.strategies import families, sizes, taus


@given(sizes(max_N=12), taus(), st.integers(0, 3))
def test_closed_forms_equal_loss_at_their_configurations(NB, tau, extra_d):
    N, B = NB
    W = simplex_etf(N, N - 1 + extra_d, seed=extra_d)
    assert_close(family_loss(W, W, Family.full(N), tau=tau), optimum_full(N, tau), 1e-10, "full")
    assert_close(family_loss(W, W, Family.all(N, B), tau=tau), optimum_all(N, B, tau), 1e-10, "all")
    assert_close(family_loss(W, W, Family.all(N, B), tau=tau, loss="one_sided"),
                 optimum_all(N, B, tau, loss="one_sided"), 1e-10, "all one-sided")
    if N % B == 0:
        P = Family.partition(N, B, seed=extra_d)
        X = block_configuration(P, B - 1 + extra_d, seed=extra_d)
        assert_close(family_loss(X, X, P, tau=tau), optimum_partition(N, B, tau), 1e-10, "partition")


@pytest.mark.parametrize("N", [4, 8, 16])
def test_cross_polytope_values_match_closed_forms(N):
    X = cross_polytope(N, N // 2, seed=1)
    assert_close(family_loss(X, X, Family.full(N)), cross_polytope_full_value(N), 1e-12, "full")
    assert_close(family_loss(X, X, Family.all(N, 2)), cross_polytope_all_pairs_value(N), 1e-12, "pairs")


def test_theory_md_example_values():
    # independently stated to 6 decimals in THEORY.md §3
    for val, ref in [(optimum_full(4), 1.165315), (optimum_full(8), 2.346416), (optimum_full(16), 3.636902),
                     (optimum_all(8, 2), 0.553606), (optimum_all(8, 4), 1.342539), (optimum_partition(10, 2), 0.253856)]:
        assert abs(val - ref) < 1e-6


@given(sizes(max_N=10), st.integers(1, 12), st.integers(0, 2**31), taus())
def test_closed_forms_are_lower_bounds_in_every_dimension(NB, d, seed, tau):
    N, B = NB
    U, V = unit_rows(N, d, seed), unit_rows(N, d, seed + 1)
    assert family_loss(U, V, Family.full(N), tau=tau) >= optimum_full(N, tau) - 1e-12
    assert family_loss(U, V, Family.all(N, B), tau=tau) >= optimum_all(N, B, tau) - 1e-12
    if N % B == 0:
        assert family_loss(U, V, Family.partition(N, B, seed=seed), tau=tau) >= optimum_partition(N, B, tau) - 1e-12


@given(sizes(max_N=9), st.integers(1, 8), st.integers(0, 2**31), taus(), st.data())
def test_loss_is_invariant_to_relabelling_rotation_and_swap(NB, d, seed, tau, data):
    N, B = NB
    fam = data.draw(families(N, B))
    U, V = unit_rows(N, d, seed), unit_rows(N, d, seed + 1)
    ref = family_loss(U, V, fam, tau=tau)
    perm = np.random.default_rng(seed).permutation(N)
    inv = np.argsort(perm)
    relabelled = Family.from_batches(inv[fam.batches], N)      # batch S -> perm^{-1}(S)
    assert_close(family_loss(U[perm], V[perm], relabelled, tau=tau), ref, 1e-10, "relabel")
    Q = random_rotation(d, seed)
    assert_close(family_loss(U @ Q, V @ Q, fam, tau=tau), ref, 1e-10, "rotation")
    assert_close(family_loss(V, U, fam, tau=tau), ref, 1e-10, "swap U, V")


@given(sizes(max_N=10), st.integers(0, 2**31), st.data())
def test_family_loss_is_mean_of_batch_losses_and_finite_at_tiny_tau(NB, seed, data):
    N, B = NB
    fam = data.draw(families(N, B))
    U, V = unit_rows(N, 3, seed), unit_rows(N, 3, seed + 1)
    for tau in (1e-3, 0.7):
        losses = batch_losses(U, V, fam, tau=tau)
        assert losses.shape == (fam.n_batches,) and np.all(np.isfinite(losses))
        assert_close(family_loss(U, V, fam, tau=tau), losses.mean(), 1e-13 * max(1.0, abs(losses.mean())), "mean")
    assert_close(family_loss(U, V, fam, reduction="per_anchor"), batch_losses(U, V, fam).sum() / N, 1e-12, "per anchor")


@given(sizes(max_N=7), st.integers(0, 2**31), taus(0.2, 3), st.sampled_from(["symmetric", "one_sided"]))
def test_gradient_matches_finite_differences(NB, seed, tau, loss):
    N, B = NB
    fam = Family.all(N, B)
    U, V = unit_rows(N, 3, seed), unit_rows(N, 3, seed + 1)
    gU, gV = euclidean_gradient(U, V, fam, loss=loss, tau=tau)
    # the loss depends on U, V only through Z = U V^T: differentiate along random directions of Z
    from theory.losses import batch_loss_from_logits
    rng = np.random.default_rng(seed)
    dU, dV = rng.standard_normal(U.shape), rng.standard_normal(V.shape)
    h = 1e-6

    def f(t):
        Z = (U + t * dU) @ (V + t * dV).T / tau
        return np.mean([batch_loss_from_logits(Z[np.ix_(S, S)], loss) for S in fam.batches])

    fd = (f(h) - f(-h)) / (2 * h)
    assert abs(fd - (np.sum(gU * dU) + np.sum(gV * dV))) < 1e-6 * max(1.0, abs(fd))
