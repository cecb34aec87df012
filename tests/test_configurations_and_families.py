"""Configurations, families, stationarity and input validation."""
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from helpers import unit_rows
from theory import (ENUMERATION_LIMIT, Family, batch_values, cross_polytope, etf_gram, gram_distance, make_loss,
                    normalize_rows, objective, optimum_all, optimum_full, optimum_partition, regular_polygon,
                    simplex_etf, tangent_gradient_norm)
from theory.batches import combinations_range, make_family


@given(st.integers(2, 20), st.integers(0, 5), st.integers(0, 100))
def test_simplex_etf_has_unit_rows_and_equal_negative_inner_products(N, extra, seed):
    W = simplex_etf(N, N - 1 + extra, seed=seed)
    assert np.allclose(W @ W.T, etf_gram(N), atol=1e-12)


def test_cross_polytope_gram_is_pairs_of_antipodes():
    X = cross_polytope(6, 3)
    G = np.eye(6)
    for k in range(3):
        G[2 * k, 2 * k + 1] = G[2 * k + 1, 2 * k] = -1
    assert np.allclose(X @ X.T, G)


@pytest.mark.parametrize("N,B", [(6, 2), (6, 3), (8, 4), (9, 3), (7, 7), (10, 5)])
def test_at_the_etf_every_batch_has_the_same_loss(N, B):
    W = simplex_etf(N, N + 1, seed=3)
    losses = batch_values(W, W, Family.all(N, B), "infonce")
    assert np.ptp(losses) < 1e-12 and abs(losses[0] - optimum_all(N, B)) < 1e-12


def test_tangent_gradient_vanishes_at_etf_for_all_batches_and_fano_not_for_partition():
    W = simplex_etf(8, 9, seed=0)
    for B in (2, 3, 4, 8):
        assert tangent_gradient_norm(W, W, Family.all(8, B), "infonce") < 1e-12
    W7 = simplex_etf(7, 6, seed=1)
    assert tangent_gradient_norm(W7, W7, Family.fano(), "infonce") < 1e-12
    assert tangent_gradient_norm(W, W, Family.partition(8, 2), "infonce") > 1e-2
    # and a random point is not stationary for the full batch
    U = unit_rows(8, 9, 0)
    assert tangent_gradient_norm(U, U, Family.full(8), "infonce") > 1e-2


@pytest.mark.parametrize("N,B", [(5, 2), (7, 3), (10, 4), (12, 6)])
def test_combinations_range_enumerates_every_subset_once(N, B):
    got = combinations_range(N, B, 0, math.comb(N, B))
    assert {tuple(np.sort(r)) for r in got} == set(itertools.combinations(range(N), B))
    mid = math.comb(N, B) // 3
    assert np.array_equal(np.vstack([combinations_range(N, B, 0, mid), combinations_range(N, B, mid, math.comb(N, B))]), got)


def test_designs_are_pair_balanced_and_partitions_are_not():
    assert Family.fano().is_pair_balanced()
    for q in (2, 3, 5):
        A = Family.affine_plane(q)
        assert A.N == q * q and A.n_batches == q * q + q and A.is_pair_balanced()
    assert Family.all(7, 3).is_pair_balanced()
    assert not Family.partition(8, 2).is_pair_balanced()
    cyc = Family.from_batches([[0, 1], [1, 2], [2, 3], [3, 0]], N=4)
    assert not cyc.is_pair_balanced()
    C = Family.all(7, 3).cooccurrence()
    assert np.array_equal(C, Family.from_batches(Family.all(7, 3).batches, 7).cooccurrence())


def test_partition_covers_every_index_once_and_is_seeded():
    P = Family.partition(12, 3, seed=5)
    assert sorted(P.batches.ravel().tolist()) == list(range(12))
    assert np.array_equal(P.batches, Family.partition(12, 3, seed=5).batches)
    assert np.array_equal(Family.partition(6, 2, seed=None).batches, [[0, 1], [2, 3], [4, 5]])


def test_family_json_roundtrip(tmp_path):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(Family.fano().to_json()))
    assert np.array_equal(Family.from_json(p).batches, Family.fano().batches)


def test_gram_distance_is_invariant_to_relabelling():
    rng = np.random.default_rng(0)
    for N, target in [(6, cross_polytope(6, 3)), (12, cross_polytope(12, 6)), (10, simplex_etf(10, 9))]:
        T = target @ target.T
        perm = rng.permutation(N)
        X = target[perm]
        assert gram_distance(X @ X.T, T) < 1e-9
        Y = normalize_rows(X + 0.05 * rng.standard_normal(X.shape))
        # distance to the labelled target can only be larger than the minimum over relabellings
        assert gram_distance(Y @ Y.T, T) <= np.linalg.norm(Y @ Y.T - T[np.ix_(perm, perm)]) + 1e-12
        assert gram_distance(Y @ Y.T, T) > 0


def test_pairing_distance_enumeration_and_integer_program_agree_with_brute_force():
    rng = np.random.default_rng(1)
    from theory.configurations import _pairing_distance, perfect_matchings
    assert [len(perfect_matchings(n)) for n in (2, 4, 6, 8)] == [1, 3, 15, 105]      # (N-1)!!
    for N in (6, 8):
        X = cross_polytope(N, N // 2)
        T = X @ X.T
        perms = np.array(list(itertools.permutations(range(N))))
        for _ in range(3):
            Y = normalize_rows(rng.standard_normal((N, 3)))
            Z = Y @ Y.T + 0.1 * rng.standard_normal((N, N))         # not symmetric: Z_ij + Z_ji matters
            brute = min(np.linalg.norm(Z - T[np.ix_(p, p)]) for p in perms)
            assert abs(_pairing_distance(Z, T, "enumerate") - brute) < 1e-9
            assert abs(_pairing_distance(Z, T, "milp") - brute) < 1e-9


def test_regular_polygon_and_doubled_pentagon_values_of_theory_md():
    full, pairs = Family.full(10), Family.all(10, 2)
    X, Y = regular_polygon(10), regular_polygon(5, repeat=2)
    L = lambda A, F: objective(A, A, F, "infonce")  # noqa: E731
    assert abs(L(X, full) - 3.076999) < 1e-6 and abs(L(X, pairs) - 0.650065) < 1e-6
    assert abs(L(Y, full) - 3.077856) < 1e-6 and abs(L(Y, pairs) - 0.649935) < 1e-6


# ---------------------------------------------------------------------- bad input
U4 = unit_rows(4, 3, 0)


@pytest.mark.parametrize("call,param", [
    (lambda: Family.all(4, 5), "B"),
    (lambda: Family.all(4, 1), "B"),
    (lambda: Family.partition(7, 2), "N % B"),
    (lambda: simplex_etf(5, 0), "d"),
    (lambda: simplex_etf(5, 3), "d >= N-1"),
    (lambda: cross_polytope(9, 4), "N <= 2d"),
    (lambda: objective(U4, U4, Family.full(4), make_loss("infonce", tau=0)), "tau"),
    (lambda: objective(U4, U4, Family.full(4), make_loss("infonce", tau=float("nan"))), "tau"),
    (lambda: objective(U4, U4, Family.full(4), make_loss("infonce", tau=float("inf"))), "tau"),
    (lambda: objective(2 * U4, U4, Family.full(4), "infonce"), "unit norm"),
    (lambda: objective(U4 * np.nan, U4, Family.full(4), "infonce"), "finite"),
    (lambda: normalize_rows(np.zeros((3, 2))), "zero rows"),
    (lambda: Family.from_batches([[0, 4]], N=4), "[0, N=4)"),
    (lambda: Family.from_batches([[0, -1]], N=4), "[0, N=4)"),
    (lambda: Family.from_batches([[0, 0]], N=4), "distinct"),
    (lambda: Family.all(40, 20).batches, "enumeration limit"),
    (lambda: make_family("nope", 4, 2), "family must be one of"),
    (lambda: objective(U4, U4, Family.full(4), "two_sided"), "one of the registered names"),
    (lambda: objective(U4, U4, Family.full(5), "infonce"), "N=5"),
    (lambda: optimum_full(8, d=3), "d >= 7"),
    (lambda: optimum_partition(9, 2), "N % B" if False else "divide"),
    (lambda: optimum_all(8, 9), "B"),
    (lambda: Family.affine_plane(4), "prime"),
])
def test_bad_input_raises_value_error_naming_the_parameter(call, param):
    with pytest.raises(ValueError, match=None) as exc:
        call()
    assert param in str(exc.value), str(exc.value)


def test_enumeration_limit_is_documented_and_lazy():
    F = Family.all(40, 20)                    # construction is free
    assert F.n_batches == math.comb(40, 20) > ENUMERATION_LIMIT


@pytest.mark.slow
def test_theory_never_imports_torch_or_simulations():
    import subprocess
    import sys
    code = ("import importlib, pkgutil, sys, theory; "                 # every module of the package
            "[importlib.import_module(m.name) for m in pkgutil.walk_packages(theory.__path__, 'theory.')]; "
            "bad = [m for m in ('torch', 'simulations') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
