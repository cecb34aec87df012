"""Certificates (convex relaxation) and the claim checks."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from helpers import unit_rows
from theory import Family, certify, family_loss, optimum_all, optimum_full, optimum_partition
from theory.certificates import etf_is_optimal, full_batch_gap
from theory.claims import Verdict, families_up_to_relabelling, verdict_over_sweep


@pytest.mark.parametrize("N", [3, 5, 8])
def test_full_batch_certificate_equals_closed_form(N):
    c = certify(N, Family.full(N))
    assert c.certified and c["status"] == "optimal"
    assert abs(c.value - optimum_full(N)) < 1e-6 and c.rank == N - 1


@pytest.mark.parametrize("N,B", [(4, 2), (6, 3), (8, 4), (8, 2)])
def test_all_batches_certificate_equals_closed_form(N, B):
    c = certify(N, Family.all(N, B))
    assert c.certified and abs(c.value - optimum_all(N, B)) < 1e-6


@pytest.mark.parametrize("N,B", [(6, 2), (6, 3), (8, 4)])
def test_partition_certificate_equals_partition_closed_form(N, B):
    c = certify(N, Family.partition(N, B, seed=1))
    assert c.certified and abs(c.value - optimum_partition(N, B)) < 1e-6


def test_one_sided_certificate_is_half_the_symmetric_optimum():
    c = certify(5, Family.full(5), loss="one_sided", tau=0.5)
    assert c.certified and abs(c.value - optimum_full(5, 0.5) / 2) < 1e-6


@settings(max_examples=8)
@given(st.integers(0, 2**31), st.integers(4, 6), st.integers(1, 6))
def test_certificate_is_never_above_random_feasible_configurations(seed, N, d):
    fam = Family.random(N, 2, 2 * N, seed=seed)
    c = certify(N, fam)
    assert c.certified
    for k in range(5):
        U, V = unit_rows(N, d, seed + 2 * k), unit_rows(N, d, seed + 2 * k + 1)
        assert c.value <= family_loss(U, V, fam) + 1e-7


def test_pair_balance_law_holds_on_fano_and_fails_on_partition_and_four_cycle():
    assert etf_is_optimal(7, Family.fano())["etf_optimal"]
    assert not etf_is_optimal(8, Family.partition(8, 2))["etf_optimal"]
    cycle = Family.from_batches([[0, 1], [1, 2], [2, 3], [3, 0]], N=4)
    r = etf_is_optimal(4, cycle, solver_check=True)
    assert r["etf_optimal"] is False and r["decided_by"] == "tangent_gradient"
    assert r["solver_status"] == "optimal" and r["excess"] > 1e-3       # at tau = 1 the solver agrees


def test_solver_failure_is_reported_as_not_certified():
    c = certify(8, Family.full(8), solver_options={"max_iter": 1})
    assert not c.certified and c.status != "optimal"


def test_full_batch_gap_vanishes_for_all_batches_and_not_for_partition():
    assert max(abs(g) for g in full_batch_gap(6, Family.all(6, 2), eps=(1e-4,))["gaps"]) < 1e-5
    assert min(full_batch_gap(6, Family.partition(6, 2), eps=(1e-4,))["gaps"]) > 1e-2


def test_relabelling_classes_are_counted_correctly():
    # graphs on 4 vertices up to isomorphism (non-empty): 10; on 5 vertices: 33 (OEIS A000088 minus the empty graph)
    assert len(list(families_up_to_relabelling(4, 2))) == 10
    assert len(list(families_up_to_relabelling(5, 2))) == 33


def test_verdict_follows_the_sweep():
    assert verdict_over_sweep({"a": True, "b": True})[0] == "confirmed"
    assert verdict_over_sweep({"a": True, "b": False}) == ("qualified", ["a"], ["b"])
    assert verdict_over_sweep({"a": False})[0] == "refuted"
    assert verdict_over_sweep({"a": True, "b": None})[0] == "inconclusive"
    assert verdict_over_sweep({"a": False, "b": None})[0] == "refuted"
    with pytest.raises(ValueError, match="verdict"):
        Verdict("x", "maybe")


def test_verdict_counts_numpy_bools_and_refuses_other_types():
    """A numpy bool (e.g. from ``x <= tol`` on a numpy float) is neither ``True`` nor ``False`` under ``is``;
    it once made sweep points vanish from both lists and a claim read 'confirmed' on fewer points."""
    assert verdict_over_sweep({"a": np.bool_(True), "b": np.float64(1.0) <= 0.5}) == ("qualified", ["a"], ["b"])
    with pytest.raises(TypeError, match="True, False or None"):
        verdict_over_sweep({"a": 1.0})
