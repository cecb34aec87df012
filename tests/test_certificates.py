"""Certificates: the convex relaxation against closed forms and feasible points, the solver-free ETF decision for
every loss against the solved relaxation, solver failures reported."""

import pytest
from hypothesis import given, settings, strategies as st

import theory as th
from helpers import unit_rows
from theory import Family, InfoNCE, certify, optimum_all, optimum_full, optimum_partition
from theory.certificates import etf_is_optimal, full_batch_gap


@pytest.mark.parametrize("N", [3, 5, 8])
def test_full_batch_certificate_equals_closed_form(N):
    c = certify(Family.full(N), "infonce")
    assert c.certified and c["status"] == "optimal"
    assert abs(c.value - optimum_full(N)) < 1e-6 and c.rank == N - 1


@pytest.mark.parametrize("N,B", [(4, 2), (6, 3), (8, 4), (8, 2)])
def test_all_batches_certificate_equals_closed_form(N, B):
    c = certify(Family.all(N, B), "infonce")
    assert c.certified and abs(c.value - optimum_all(N, B)) < 1e-6


@pytest.mark.parametrize("N,B", [(6, 2), (6, 3), (8, 4)])
def test_partition_certificate_equals_partition_closed_form(N, B):
    c = certify(Family.partition(N, B, seed=1), "infonce")
    assert c.certified and abs(c.value - optimum_partition(N, B)) < 1e-6


def test_one_sided_certificate_is_half_the_symmetric_optimum():
    c = certify(Family.full(5), InfoNCE(0.5, symmetric=False))
    assert c.certified and abs(c.value - optimum_full(5, 0.5) / 2) < 1e-6


@settings(max_examples=8)
@given(st.integers(0, 2**31), st.integers(4, 6), st.integers(1, 6))
def test_certificate_is_never_above_random_feasible_configurations(seed, N, d):
    fam = Family.random(N, 2, 2 * N, seed=seed)
    c = certify(fam, "infonce")
    assert c.certified
    for k in range(5):
        U, V = unit_rows(N, d, seed + 2 * k), unit_rows(N, d, seed + 2 * k + 1)
        assert c.value <= th.objective(U, V, fam, "infonce") + 1e-7


def test_pair_balance_law_holds_on_fano_and_fails_on_partition_and_four_cycle():
    assert etf_is_optimal(Family.fano(), "infonce").optimal
    assert not etf_is_optimal(Family.partition(8, 2), "infonce").optimal
    cycle = Family.from_batches([[0, 1], [1, 2], [2, 3], [3, 0]], N=4)
    r = etf_is_optimal(cycle, "infonce", solver_check=True)
    assert r.optimal is False and r.decided_by == "tangent_gradient"
    assert r.certificate.status == "optimal" and r.excess > 1e-3       # at tau = 1 the solver agrees


def test_solver_failure_is_reported_as_not_certified():
    c = certify(Family.full(8), "infonce", solver_options={"max_iter": 1})
    assert not c.certified and c.status != "optimal"


def test_full_batch_gap_vanishes_for_all_batches_and_not_for_partition():
    assert max(abs(g) for g in full_batch_gap(Family.all(6, 2), "infonce", eps=(1e-4,))["gaps"]) < 1e-5
    assert min(full_batch_gap(Family.partition(6, 2), "infonce", eps=(1e-4,))["gaps"]) > 1e-2


def test_every_loss_certificate_is_a_lower_bound_attained_where_the_etf_is_certified(loss):
    """For every registered loss: the relaxation's value never exceeds the loss of a feasible configuration, and the
    solver-free ETF decision agrees with the solved relaxation (known answer: the full batch's ETF, decided by the
    analytic dual certificate, equals the certified optimum; a non-optimal ETF lies above it)."""
    N = 5
    for fam in (Family.full(N), Family.from_batches([[0, 1, 2], [0, 3], [1, 3, 4], [2, 4]], N=N)):
        dec = etf_is_optimal(fam, loss, solver_check=True)
        c = dec.certificate
        assert c.certified
        tol = 1e-6 * (1 + abs(c.value))
        for k in range(3):
            U, V = unit_rows(N, 3, 7 * k), unit_rows(N, 3, 7 * k + 1)
            assert c.value <= th.objective(U, V, fam, loss) + tol
        assert c.value <= dec.etf_value + tol
        if dec.optimal:
            assert abs(dec.excess) <= tol, (dec.decided_by, dec.excess)
        elif dec.optimal is False:
            assert dec.excess > tol, (dec.decided_by, dec.excess)


def test_etf_decision_refuses_where_the_gradient_underflows():
    with pytest.raises(ValueError, match="underflows"):
        etf_is_optimal(Family.full(6), InfoNCE(1e-4))


def test_uniqueness_probe_is_not_handed_to_scs(monkeypatch):
    """A probe of the thin eps-optimal set that Clarabel ends inaccurate stays uncertified (SCS, at the accuracy of
    eps itself, is not tried), and a certified probe still measures a small spread at the unique ETF."""
    import cvxpy as cp
    from theory import DCL, Family
    from theory.certificates import minimizer_spread
    used = []
    solve = cp.Problem.solve

    def recording(self, *args, **kwargs):
        used.append(kwargs.get("solver"))
        return solve(self, *args, **kwargs)
    monkeypatch.setattr(cp.Problem, "solve", recording)
    r = minimizer_spread(Family.full(8), DCL(0.5), eps=1e-6, seed=0)
    assert used and "SCS" not in used
    assert r.certified == all(s == "optimal" for s in r.statuses)
    assert r.spread < 0.05
