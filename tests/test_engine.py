"""The torch engine agrees with the numpy oracle; the exact formula agrees with enumeration."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import theory as th
from helpers import unit_rows
from theory import Family, InfoNCE, optimum_all, simplex_etf
from theory.strategies import families, sizes, taus
from simulations import all_batches_objective, batch_values, objective, sampled_objective
from simulations.engine._infonce import pair_losses


def _t(X, grad=False):
    return torch.tensor(X, dtype=torch.float64, requires_grad=grad)


@given(sizes(max_N=9), st.integers(0, 2**31), taus(0.05, 5), st.booleans(), st.data())
def test_engine_equals_oracle_value_and_gradient(NB, seed, tau, symmetric, data):
    N, B = NB
    fam = data.draw(families(N, B))
    loss = InfoNCE(tau, symmetric=symmetric)
    U, V = unit_rows(N, 4, seed), unit_rows(N, 4, seed + 1)
    Ut, Vt = _t(U, True), _t(V, True)
    val = objective(Ut, Vt, fam, loss)
    val.backward()
    assert abs(float(val.detach()) - th.objective(U, V, fam, loss)) < 1e-10
    gU, gV = th.gradient(U, V, fam, loss)
    assert np.abs(Ut.grad.numpy() - gU).max() < 1e-10 and np.abs(Vt.grad.numpy() - gV).max() < 1e-10


@pytest.mark.parametrize("fam", [Family.fano(), Family.affine_plane(3), Family.from_batches([[0, 1, 2], [2, 3, 4], [0, 4, 5]], 6)])
def test_engine_equals_oracle_on_designs_and_explicit_families(fam):
    U, V = unit_rows(fam.N, 3, 1), unit_rows(fam.N, 3, 2)
    Ut, Vt = _t(U, True), _t(V, True)
    val = objective(Ut, Vt, fam, InfoNCE(0.3))
    val.backward()
    assert abs(float(val.detach()) - th.objective(U, V, fam, InfoNCE(0.3))) < 1e-10
    gU, _ = th.gradient(U, V, fam, InfoNCE(0.3))
    assert np.abs(Ut.grad.numpy() - gU).max() < 1e-10


def test_engine_is_stable_at_tiny_temperature_and_uses_both_numeric_paths():
    U, V = unit_rows(10, 3, 0), unit_rows(10, 3, 1)
    for tau in (1e-3, 0.02, 1.0):                       # 1e-3: log-sum-exp path; others: shifted-exp path
        for fam in (Family.all(10, 4), Family.full(10)):
            v = objective(_t(U), _t(V), fam, InfoNCE(tau))
            assert math.isfinite(float(v)) and abs(float(v) - th.objective(U, V, fam, InfoNCE(tau))) < 1e-9 * max(1, abs(float(v)))


def test_streaming_in_small_chunks_equals_one_chunk():
    U, V = unit_rows(12, 5, 3), unit_rows(12, 5, 4)
    fam = Family.all(12, 5)
    a = objective(_t(U), _t(V), fam, "infonce", memory_budget=2000)
    b = objective(_t(U), _t(V), fam, "infonce")
    assert abs(float(a - b)) < 1e-12


def test_batch_values_match_oracle_and_pairwise_form():
    U, V = unit_rows(9, 3, 5), unit_rows(9, 3, 6)
    fam = Family.all(9, 2)
    assert np.allclose(batch_values(_t(U), _t(V), fam, "infonce").numpy(), th.batch_values(U, V, fam, "infonce"), atol=1e-12)
    P = pair_losses(_t(U) @ _t(V).T, "symmetric")
    assert np.allclose([float(P[i, j]) for i, j in fam.batches], th.batch_values(U, V, fam, "infonce"), atol=1e-12)
    assert abs(float(objective(_t(U), _t(V), fam, "infonce", method="pairwise")) - th.objective(U, V, fam, "infonce")) < 1e-12


@settings(max_examples=20)
@given(sizes(max_N=12), st.integers(0, 2**31), taus(0.1, 5), st.booleans())
def test_exact_formula_equals_enumeration(NB, seed, tau, symmetric):
    N, B = NB
    loss = InfoNCE(tau, symmetric=symmetric)
    U, V = unit_rows(N, 4, seed), unit_rows(N, 4, seed + 1)
    Ut, Vt = _t(U, True), _t(V, True)
    f = all_batches_objective(Ut, Vt, B, loss)
    f.backward()
    e = th.objective(U, V, Family.all(N, B), loss)
    assert abs(float(f.detach()) - e) < 1e-10
    gU, gV = th.gradient(U, V, Family.all(N, B), loss)
    assert np.abs(Ut.grad.numpy() - gU).max() < 1e-10 and np.abs(Vt.grad.numpy() - gV).max() < 1e-10


@pytest.mark.parametrize("N,B", [(64, 8), (128, 2), (512, 4), (200, 50)])
def test_exact_formula_at_the_etf_equals_closed_form(N, B):
    W = _t(simplex_etf(N, N - 1))
    assert abs(float(all_batches_objective(W, W, B)) - optimum_all(N, B)) < 1e-10


def test_formula_reduces_to_full_batch_and_pairwise_forms():
    U, V = unit_rows(20, 4, 7), unit_rows(20, 4, 8)
    full = objective(_t(U), _t(V), Family.full(20), "infonce")
    assert abs(float(all_batches_objective(_t(U), _t(V), 20)) - float(full)) < 1e-12
    pair = objective(_t(U), _t(V), Family.all(20, 2), "infonce", method="pairwise")
    assert abs(float(all_batches_objective(_t(U), _t(V), 2)) - float(pair)) < 1e-10


def test_auto_method_uses_the_formula_past_the_stream_limit():
    U, V = unit_rows(64, 6, 0), unit_rows(64, 6, 1)
    fam = Family.all(64, 8)                              # 4.4e9 batches: never enumerated
    auto = objective(_t(U), _t(V), fam, "infonce")
    assert abs(float(auto) - float(all_batches_objective(_t(U), _t(V), 8))) < 1e-14


def test_sampled_estimators_agree_with_exact_value_within_standard_errors():
    U, V = unit_rows(12, 4, 2), unit_rows(12, 4, 3)
    exact = th.objective(U, V, Family.all(12, 3), "infonce")
    for scheme in ("uniform", "partition"):
        est, se = sampled_objective(_t(U), _t(V), 3, 3000, "infonce", scheme=scheme, seed=1)
        assert se > 0 and abs(est - exact) < 5 * se


def test_float32_engine_is_close_to_oracle():
    U, V = unit_rows(10, 4, 0), unit_rows(10, 4, 1)
    v = objective(torch.tensor(U, dtype=torch.float32), torch.tensor(V, dtype=torch.float32), Family.all(10, 3), "infonce")
    assert v.dtype == torch.float32 and abs(float(v) - th.objective(U, V, Family.all(10, 3), "infonce")) < 1e-5


@pytest.mark.parametrize("call,msg", [
    (lambda U: objective(U * 2, U, Family.full(6), "infonce"), "unit norm"),
    (lambda U: objective(U, U, Family.full(7), "infonce"), "N=7"),
    (lambda U: objective(U, U, Family.full(6), "infonce", method="magic"), "method must be one of"),
    (lambda U: objective(U, U, Family.partition(6, 2), "infonce", method="formula"), "all-C(N,B)"),
    (lambda U: objective(U, U, Family.all(6, 3), "infonce", method="pairwise"), "B = 2"),
    (lambda U: batch_values(U, U, torch.tensor([[0, 6]]), "infonce"), "[0, N=6)"),
    (lambda U: sampled_objective(U, U, 4, 10, "infonce", scheme="partition"), "divide"),
    (lambda U: objective(U, U, Family.full(6), InfoNCE(-1.0)), "tau"),
])
def test_engine_bad_input_raises(call, msg):
    U = torch.tensor(unit_rows(6, 3, 0))
    with pytest.raises(ValueError) as exc:
        call(U)
    assert msg in str(exc.value)


@pytest.mark.parametrize("N,B,tau", [(40, 3, 0.5), (30, 4, 1.0), (12, 4, 0.7), (40, 3, 1e-3)])
def test_every_numeric_path_equals_the_oracle(N, B, tau):
    # N > 7B: gather path; N <= 7B: one-hot matmul path; tau = 1e-3: log-sum-exp path
    from simulations.engine._infonce import _Kernel
    fam = Family.random(N, B, 300, seed=N)
    U, V = unit_rows(N, 5, 0), unit_rows(N, 5, 1)
    Ut, Vt = _t(U, True), _t(V, True)
    path = _Kernel(Ut.detach() @ Vt.detach().T / tau, "symmetric", B, False).path
    assert path == ("lse" if tau < 0.01 else "gather" if N > 7 * B else "matmul")
    for symmetric in (True, False):
        loss = InfoNCE(tau, symmetric=symmetric)
        Ut.grad = Vt.grad = None
        val = objective(Ut, Vt, fam, loss)
        val.backward()
        ref = th.objective(U, V, fam, loss)
        assert abs(float(val.detach()) - ref) < 1e-10 * max(1.0, abs(ref))
        gU, gV = th.gradient(U, V, fam, loss)
        scale = max(1.0, np.abs(gU).max())
        assert np.abs(Ut.grad.numpy() - gU).max() < 1e-10 * scale and np.abs(Vt.grad.numpy() - gV).max() < 1e-10 * scale
        per = batch_values(_t(U), _t(V), fam, loss).numpy()
        assert np.allclose(per, th.batch_values(U, V, fam, loss), atol=1e-10 * max(1.0, abs(ref)))


def test_pairwise_form_is_exact_when_logit_gaps_exceed_twenty():
    # tau = 0.05 puts z_ij - z_ii near -40 and +40: an approximate softplus (linear above 20) is off by e^-20
    U, V = unit_rows(7, 3, 0), unit_rows(7, 3, 1)
    Ut, Vt = _t(U, True), _t(V, True)
    fam = Family.all(7, 2)
    val = objective(Ut, Vt, fam, InfoNCE(0.05), method="pairwise")
    val.backward()
    assert abs(float(val.detach()) - th.objective(U, V, fam, InfoNCE(0.05))) < 1e-12 * 40
    gU, gV = th.gradient(U, V, fam, InfoNCE(0.05))
    assert np.abs(Ut.grad.numpy() - gU).max() < 1e-11 and np.abs(Vt.grad.numpy() - gV).max() < 1e-11
