"""Weighted and mixed-size batch families: construction, every layer agrees on them, and the weighted
pair-balance law (theory/balance.py) with its examples (a) and (b) and the DataLoader claim."""
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import simulations
import theory as th
from helpers import unit_rows
from theory import Family, InfoNCE, simplex_etf
from theory.balance import (balanced_at, critical_taus, cyclic_triples_and_pairs, etf_logit_gradient, is_balanced,
                            pair_weights, tau_critical_example)
from theory.certificates import etf_is_optimal, kappa_dual_certificate
from theory.optima import optimum_all, optimum_all_mixture
from theory.strategies import taus, weighted_families
from simulations.claims.dataloader_epochs import _epoch_average_by_enumeration
from simulations.cli import main as cli_main
from simulations.selection import make_selector


def _t(X, grad=False):
    return torch.tensor(X, dtype=torch.float64, requires_grad=grad)


def _lse(A, axis):
    m = A.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(A - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def _batch_infonce(zs, symmetric=True):
    """InfoNCE of one batch from its ``(b, b)`` logit block ``zs = U_S V_S^T / tau``, from the definition: mean over
    rows of log-sum-exp minus the diagonal, plus the same over columns when symmetric (an independent reference)."""
    d = np.diag(zs)
    out = np.mean(_lse(zs, 1) - d)
    if symmetric:
        out += np.mean(_lse(zs, 0) - d)
    return float(out)


# ----------------------------------------------------------------------------- construction
@pytest.mark.parametrize("weights, match", [([1, 0, 1], "weights"), ([1, float("nan"), 1], "weights"),
                                            ([1, -2, 1], "weights"), ([1, 1], "one entry per batch")])
def test_bad_weights_are_refused_naming_the_weights(weights, match):
    with pytest.raises(ValueError, match=match):
        Family.from_batches([[0, 1, 2], [0, 3], [1, 3]], 4, weights=weights)


@pytest.mark.parametrize("batches, match", [([[0, 1, 2], [3]], "size"), ([[0, 1, 1]], "distinct"),
                                            ([[0, 1.0]], "integer"), ([], "non-empty"), ([[0, 5]], r"\[0, N=4\)")])
def test_bad_batches_are_refused(batches, match):
    with pytest.raises(ValueError, match=match):
        Family.from_batches(batches, 4)


def test_mixed_family_has_sizes_and_a_ragged_view_and_refuses_B():
    f = tau_critical_example()
    assert f.sizes.tolist() == [3, 3, 2, 2, 2] and f.batch_sizes == (2, 3) and not f.is_uniform
    assert [b.tolist() for b in f.batch_list()] == [[0, 1, 2], [0, 1, 2], [0, 3], [1, 3], [2, 3]]
    for attr in ("B", "batches"):
        with pytest.raises(ValueError, match="mixed batch sizes"):
            getattr(f, attr)
    with pytest.raises(ValueError, match="depends on tau"):
        f.is_pair_balanced()


@pytest.mark.parametrize("fam", [Family.from_batches([[0, 2], [1, 2, 3], [0, 1]], 4, weights=[0.5, 2.0, 1.0]),
                                 Family.dataloader_epoch(7, 3, seed=3), Family.dataloader_expectation(7, 3),
                                 Family.dataloader_expectation(10, 4), Family.fano(), Family.all(6, 3)])
def test_json_round_trip_keeps_batches_weights_and_order(fam, tmp_path):
    p = tmp_path / "f.json"
    p.write_text(json.dumps(fam.to_json()))
    g = Family.from_json(p)
    assert g.N == fam.N and g.n_batches == fam.n_batches and g.kind == fam.kind
    assert [b.tolist() for b in g.batch_list()] == [b.tolist() for b in fam.batch_list()]
    assert np.array_equal(g.weights, fam.weights)


def test_dataloader_epoch_is_a_seeded_shuffle_with_a_short_last_batch():
    f = Family.dataloader_epoch(10, 4, seed=1)
    assert f.sizes.tolist() == [4, 4, 2] and sorted(np.concatenate(f.batch_list()).tolist()) == list(range(10))
    assert [b.tolist() for b in f.batch_list()] == [b.tolist() for b in Family.dataloader_epoch(10, 4, seed=1).batch_list()]
    assert Family.dataloader_epoch(10, 4, drop_last=True, seed=1).sizes.tolist() == [4, 4]
    assert Family.dataloader_epoch(7, 3).sizes.tolist() == [3, 3, 1]      # a single pair: only a sampler makes it


def test_mixture_normalises_each_family_to_its_weight():
    m = Family.mixture([Family.all(6, 2), Family.all(6, 4)], [1.0, 3.0])
    assert math.isclose(m.total_weight, 4.0)
    U, V = unit_rows(6, 3, 0), unit_rows(6, 3, 1)
    L = InfoNCE(1.0)
    expect = (th.objective(U, V, Family.all(6, 2), L) + 3 * th.objective(U, V, Family.all(6, 4), L)) / 4
    assert abs(th.objective(U, V, m, L) - expect) < 1e-13


# ----------------------------------------------------------------------------- every layer agrees
def _slow_family_loss(U, V, fam, loss):
    """The definition: sum_S w_S L(S) / sum_S w_S, one batch at a time (size 1: loss 0)."""
    Z = U @ V.T / loss.tau
    vals = [0.0 if len(S) == 1 else _batch_infonce(Z[np.ix_(S, S)], loss.symmetric) for S in fam.batch_list()]
    return float(np.dot(fam.weights, vals) / fam.weights.sum())


@settings(max_examples=25)
@given(weighted_families(), st.integers(0, 2**31), taus(0.05, 5), st.sampled_from(["symmetric", "one_sided"]))
def test_oracle_and_engine_equal_the_definition_on_weighted_mixed_families(fam, seed, tau, loss):
    loss = InfoNCE(tau, symmetric=(loss == "symmetric"))
    U, V = unit_rows(fam.N, 4, seed), unit_rows(fam.N, 4, seed + 1)
    ref = _slow_family_loss(U, V, fam, loss)
    assert abs(th.objective(U, V, fam, loss) - ref) <= 1e-12 * max(1.0, abs(ref))
    Ut, Vt = _t(U, True), _t(V, True)
    val = simulations.objective(Ut, Vt, fam, loss)
    val.backward()
    assert abs(float(val.detach()) - ref) <= 1e-10 * max(1.0, abs(ref))
    gU, gV = th.gradient(U, V, fam, loss)
    scale = max(np.abs(gU).max(), np.abs(gV).max(), 1e-300)
    assert np.abs(Ut.grad.numpy() - gU).max() <= 1e-10 * scale and np.abs(Vt.grad.numpy() - gV).max() <= 1e-10 * scale
    per_batch = simulations.batch_values(_t(U), _t(V), fam, loss)
    ref_b = [0.0 if len(S) == 1 else _batch_infonce((U @ V.T / tau)[np.ix_(S, S)], loss.symmetric)
             for S in fam.batch_list()]
    assert np.allclose(per_batch.numpy(), ref_b, rtol=1e-10, atol=1e-12)


def test_oracle_gradient_matches_finite_differences_on_a_weighted_mixed_family():
    fam = Family.from_batches([[0, 1, 2], [2, 3], [0, 3, 4, 1], [1, 4]], 5, weights=[0.3, 2.0, 1.0, 0.7])
    U, V = unit_rows(5, 3, 4), unit_rows(5, 3, 5)
    G = th.gram_gradient(U, V, fam, InfoNCE(0.7)).Z
    Z = U @ V.T
    h = 1e-6
    for i, j in [(0, 1), (2, 3), (3, 3), (4, 1), (0, 4)]:
        def f(e):
            Zp = Z.copy()
            Zp[i, j] += e
            vals = [_batch_infonce(Zp[np.ix_(S, S)] / 0.7) for S in fam.batch_list()]
            return np.dot(fam.weights, vals) / fam.weights.sum()
        assert abs((f(h) - f(-h)) / (2 * h) - G[i, j]) < 1e-8


@pytest.mark.parametrize("N, B", [(10, 4), (9, 2), (64, 10)])
def test_engine_takes_the_formula_for_the_parts_of_a_dataloader_expectation(N, B):
    E = Family.dataloader_expectation(N, B)
    W = simplex_etf(N, N - 1)
    L = InfoNCE(0.5)
    val = float(simulations.objective(_t(W), _t(W), E, L))
    assert abs(val - optimum_all_mixture(E, 0.5)) < 1e-12
    if N <= 10:
        assert abs(float(simulations.objective(_t(W), _t(W), E, L, method="formula")) - val) < 1e-12
    with pytest.raises(ValueError, match="all-C\\(N,B\\) families"):
        simulations.objective(_t(W), _t(W), Family.dataloader_epoch(N, B), InfoNCE(1.0), method="formula")


def test_double_backward_through_a_weighted_family_is_exact():
    fam = Family.from_batches([[0, 1, 2], [2, 3], [1, 3]], 4, weights=[2.0, 1.0, 0.5])
    U = _t(unit_rows(4, 3, 0), True)
    V = _t(unit_rows(4, 3, 1))
    f = lambda X: simulations.objective(X, V, fam, InfoNCE(0.8), check=False)  # noqa: E731
    (g,) = torch.autograd.grad(f(U), U, create_graph=True)
    vec = torch.ones_like(U)
    (hv,) = torch.autograd.grad((g * vec).sum(), U)
    h = 1e-6
    Up = (U.detach() + h * vec).requires_grad_(True)
    Um = (U.detach() - h * vec).requires_grad_(True)
    (gp,) = torch.autograd.grad(f(Up), Up)
    (gm,) = torch.autograd.grad(f(Um), Um)
    assert torch.allclose(hv, (gp - gm) / (2 * h), atol=1e-7)


# ----------------------------------------------------------------------------- the weighted law
@settings(max_examples=40)
@given(weighted_families(), taus(0.05, 5), st.sampled_from(["symmetric", "one_sided"]))
def test_etf_gradient_is_minus_the_kappa_laplacian(fam, tau, loss):
    W = simplex_etf(fam.N, fam.N - 1)
    L = InfoNCE(tau, symmetric=(loss == "symmetric"))
    D = th.gram_gradient(W, W, fam, L).Z
    assert np.linalg.norm(D - etf_logit_gradient(fam, L.tau, L.symmetric)) <= 1e-12 * np.linalg.norm(D)


@settings(max_examples=40)
@given(weighted_families(), taus(0.05, 5), st.sampled_from(["symmetric", "one_sided"]))
def test_balance_test_agrees_with_the_oracle_decision_on_weighted_mixed_families(fam, tau, loss):
    L = InfoNCE(tau, symmetric=(loss == "symmetric"))
    r = etf_is_optimal(fam, L, rel_tol=1e-10)
    assert r.optimal is is_balanced(fam, tau, rel_tol=1e-10)
    if r.optimal:
        assert kappa_dual_certificate(fam, L.tau, L.symmetric)["certified"]


@settings(max_examples=20)
@given(st.integers(4, 8), taus(0.1, 5.0), st.integers(0, 2**31))
def test_a_family_balanced_at_tau_star_is_optimal_only_there(N, t_star, seed):
    rng = np.random.default_rng(seed)
    fam = balanced_at([np.sort(rng.permutation(N)[:3]) for _ in range(int(rng.integers(1, 2 * N)))], N, t_star)
    found = critical_taus(fam)
    assert etf_is_optimal(fam, InfoNCE(t_star)).optimal is True
    if found == "all":                     # the triples were balanced already: then every pair weight is equal
        assert np.ptp(fam.weights[fam.sizes == 2]) <= 1e-12 * fam.weights.max()
        assert etf_is_optimal(fam, InfoNCE(t_star * 1.01)).optimal is True
    else:
        assert any(abs(t - t_star) <= 1e-9 * t_star for t in found)
        assert etf_is_optimal(fam, InfoNCE(t_star * 1.01)).optimal is False


def test_example_a_pair_counts_mislead():
    fam = cyclic_triples_and_pairs(5)
    C = fam.cooccurrence()
    assert set(C[~np.eye(5, dtype=bool)].tolist()) == {2} and set(np.diag(C).tolist()) == {5}
    assert critical_taus(fam) == []
    r = etf_is_optimal(fam, InfoNCE(1.0), solver_check=True)
    assert r.optimal is False and r.certificate.status == "optimal"
    W = simplex_etf(5, 4)
    # the independent SDP (6 digits): relaxation 0.694405 < ETF 0.704920
    assert abs(r.certificate.value - 0.694405) < 2e-6 and abs(th.objective(W, W, fam, InfoNCE(1.0)) - 0.704920) < 1e-6


def test_example_b_is_optimal_exactly_at_its_critical_tau():
    fam = tau_critical_example()
    t_star = 4 / (3 * math.log(2))                     # c = 1/2, derived by hand
    (found,) = critical_taus(fam)
    assert abs(found - t_star) <= 1e-12 * t_star
    at = etf_is_optimal(fam, InfoNCE(t_star))
    assert at.optimal is True and at.dual["unique"] and at.gradient_ratio < 1e-14
    K = pair_weights(fam, t_star)
    assert np.ptp(K[~np.eye(4, dtype=bool)]) < 1e-15
    r = etf_is_optimal(fam, InfoNCE(1.0), solver_check=True)
    assert r.optimal is False and abs(r.excess - 2.8e-4) < 1e-5     # the excess, 2 digits


def test_equal_sizes_the_weighted_law_is_the_two_design_law_for_every_tau():
    for fam in (Family.fano(), Family.affine_plane(3), Family.partition(6, 2), Family.random(6, 3, 7, seed=2)):
        crit = critical_taus(fam)
        assert (crit == "all") is fam.is_pair_balanced() and (crit == "all" or crit == [])


# ----------------------------------------------------------------------------- DataLoader epochs
@pytest.mark.parametrize("N, B", [(5, 2), (6, 4), (5, 3)])
def test_dataloader_expectation_is_the_average_over_all_shuffles(N, B):
    U, V = unit_rows(N, 3, 7), unit_rows(N, 3, 8)
    enum = _epoch_average_by_enumeration(U, V, N, B, InfoNCE(0.5))
    assert abs(th.objective(U, V, Family.dataloader_expectation(N, B), InfoNCE(0.5)) - enum) <= 1e-13 * abs(enum)


@pytest.mark.parametrize("N, B", [(7, 3), (10, 4), (9, 2)])
def test_dataloader_expectation_etf_value_matches_the_mixture_closed_form(N, B):
    E = Family.dataloader_expectation(N, B)
    W = simplex_etf(N, N - 1)
    q, r = divmod(N, B)
    by_hand = (q * optimum_all(N, B, 0.3) + (optimum_all(N, r, 0.3) if r >= 2 else 0.0)) / (q + 1)
    assert abs(optimum_all_mixture(E, 0.3) - by_hand) < 1e-14
    assert abs(th.objective(W, W, E, InfoNCE(0.3)) - by_hand) < 1e-12
    assert etf_is_optimal(E, InfoNCE(0.3)).optimal is True
    assert etf_is_optimal(Family.dataloader_epoch(N, B), InfoNCE(0.3)).optimal is False
    with pytest.raises(ValueError, match="stored part"):
        optimum_all_mixture(Family.dataloader_epoch(N, B), 0.3)


def test_dataloader_selector_yields_a_reshuffled_epoch_with_the_short_batch():
    sel = make_selector("dataloader", 7, 3, seed=0)
    e1, e2 = [b.tolist() for b in sel.epoch(None)], [b.tolist() for b in sel.epoch(None)]
    assert [len(b[0]) for b in e1] == [3, 3, 1] and sorted(sum((b[0] for b in e1), [])) == list(range(7)) and e1 != e2
    assert sel.updates_per_epoch() == 3


def test_certify_cli_reads_weights_and_reports_the_balance(tmp_path, capsys):
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"N": 4, "batches": [[0, 1, 2], [0, 3], [1, 3], [2, 3]], "weights": [2, 1, 1, 1]}))
    t_star = 4 / (3 * math.log(2))
    assert cli_main(["certify", "--N", "4", "--family-file", str(p), "--tau", repr(t_star), "--json"]) in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert out["etf"]["etf_optimal"] is True and out["balance"]["balanced"] and abs(out["balance"]["critical_taus"][0] - t_star) < 1e-9
    # --N is no longer needed with --family-file: the same report without it
    assert cli_main(["certify", "--family-file", str(p), "--tau", repr(t_star), "--json"]) in (0, None)
    again = json.loads(capsys.readouterr().out)
    assert again["etf"]["etf_optimal"] is True and again["balance"] == out["balance"]
    p.write_text(json.dumps({"N": 4, "batches": [[0, 1, 2], [0, 3]], "weights": [1, 0]}))
    assert cli_main(["certify", "--N", "4", "--family-file", str(p)]) == 2
    assert "weights must be finite and > 0" in capsys.readouterr().err


@pytest.mark.parametrize("data, match", [({"N": 4, "kind": "partition", "batches": [[0, 1], [1, 2]]}, "cover"),
                                         ({"N": 4, "kind": "banana", "batches": [[0, 1]]}, "kind must be one of"),
                                         ({"N": 4, "batches": [[0, 1]], "parts": []}, "not both"),
                                         ({"N": 4, "batches": [[0, 1], [2, 3]], "weights": [True, True]}, "numbers"),
                                         ({"N": 4, "batches": [[0, 1], [2, 3]], "weights": ["1", "2"]}, "numbers")])
def test_family_json_is_validated_not_trusted(data, match):
    with pytest.raises(ValueError, match=match):
        Family.from_dict(data)


def test_total_weight_of_a_huge_lazy_family_is_inf_and_mixing_it_is_refused():
    big = Family.all(1100, 550)
    assert big.total_weight == math.inf
    with pytest.raises(ValueError, match="overflows"):
        Family.mixture([big, Family.all(1100, 2)], [1.0, 1.0])


def test_interleaved_sizes_give_the_same_objective_as_grouped_sizes():
    rows = [[0, 1, 2], [3, 4], [1, 2, 3], [0, 4], [2, 3, 4], [1, 4]]
    w = [1.0, 2.0, 0.5, 1.5, 1.0, 3.0]
    inter = Family.from_batches(rows, 5, weights=w)
    grouped = Family.from_batches(rows[0::2] + rows[1::2], 5, weights=w[0::2] + w[1::2])
    assert len(inter.parts) == 6 and len(grouped.parts) == 2
    U, V = _t(unit_rows(5, 3, 0)), _t(unit_rows(5, 3, 1))
    L = InfoNCE(1.0)
    assert abs(float(simulations.objective(U, V, inter, L)) - float(simulations.objective(U, V, grouped, L))) < 1e-14


@pytest.mark.parametrize("call", [lambda: critical_taus(tau_critical_example(), rel_tol=float("nan")),
                                  lambda: is_balanced(tau_critical_example(), 1.0, rel_tol=-1.0),
                                  lambda: pair_weights(tau_critical_example(), float("nan")),
                                  lambda: pair_weights([[0, 1]], 1.0)])
def test_balance_functions_refuse_bad_input(call):
    with pytest.raises(ValueError):
        call()
