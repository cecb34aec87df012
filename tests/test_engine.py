"""The torch engine agrees with the numpy oracle; the exact formula agrees with enumeration."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from helpers import unit_rows
from theory import Family, euclidean_gradient, family_loss, optimum_all, simplex_etf
from theory.strategies import families, sizes, taus
from simulations import all_batches_objective, batch_losses, family_objective, sampled_objective
from simulations.engine import pair_losses


def _t(X, grad=False):
    return torch.tensor(X, dtype=torch.float64, requires_grad=grad)


@given(sizes(max_N=9), st.integers(0, 2**31), taus(0.05, 5), st.sampled_from(["symmetric", "one_sided"]), st.data())
def test_engine_equals_oracle_value_and_gradient(NB, seed, tau, loss, data):
    N, B = NB
    fam = data.draw(families(N, B))
    U, V = unit_rows(N, 4, seed), unit_rows(N, 4, seed + 1)
    Ut, Vt = _t(U, True), _t(V, True)
    val = family_objective(Ut, Vt, fam, loss=loss, tau=tau)
    val.backward()
    assert abs(float(val.detach()) - family_loss(U, V, fam, loss=loss, tau=tau)) < 1e-10
    gU, gV = euclidean_gradient(U, V, fam, loss=loss, tau=tau)
    assert np.abs(Ut.grad.numpy() - gU).max() < 1e-10 and np.abs(Vt.grad.numpy() - gV).max() < 1e-10


@pytest.mark.parametrize("fam", [Family.fano(), Family.affine_plane(3), Family.from_batches([[0, 1, 2], [2, 3, 4], [0, 4, 5]], 6)])
def test_engine_equals_oracle_on_designs_and_explicit_families(fam):
    U, V = unit_rows(fam.N, 3, 1), unit_rows(fam.N, 3, 2)
    Ut, Vt = _t(U, True), _t(V, True)
    val = family_objective(Ut, Vt, fam, tau=0.3)
    val.backward()
    assert abs(float(val.detach()) - family_loss(U, V, fam, tau=0.3)) < 1e-10
    gU, _ = euclidean_gradient(U, V, fam, tau=0.3)
    assert np.abs(Ut.grad.numpy() - gU).max() < 1e-10


def test_engine_is_stable_at_tiny_temperature_and_uses_both_numeric_paths():
    U, V = unit_rows(10, 3, 0), unit_rows(10, 3, 1)
    for tau in (1e-3, 0.02, 1.0):                       # 1e-3: log-sum-exp path; others: shifted-exp path
        for fam in (Family.all(10, 4), Family.full(10)):
            v = family_objective(_t(U), _t(V), fam, tau=tau)
            assert math.isfinite(float(v)) and abs(float(v) - family_loss(U, V, fam, tau=tau)) < 1e-9 * max(1, abs(float(v)))


def test_streaming_in_small_chunks_equals_one_chunk():
    U, V = unit_rows(12, 5, 3), unit_rows(12, 5, 4)
    fam = Family.all(12, 5)
    a = family_objective(_t(U), _t(V), fam, memory_budget=2000)
    b = family_objective(_t(U), _t(V), fam)
    assert abs(float(a - b)) < 1e-12


def test_batch_losses_match_oracle_and_pairwise_form():
    from theory import batch_losses as oracle
    U, V = unit_rows(9, 3, 5), unit_rows(9, 3, 6)
    fam = Family.all(9, 2)
    assert np.allclose(batch_losses(_t(U), _t(V), fam).numpy(), oracle(U, V, fam), atol=1e-12)
    P = pair_losses(_t(U) @ _t(V).T)
    assert np.allclose([float(P[i, j]) for i, j in fam.batches], oracle(U, V, fam), atol=1e-12)
    assert abs(float(family_objective(_t(U), _t(V), fam, method="pairwise")) - family_loss(U, V, fam)) < 1e-12


@settings(max_examples=20)
@given(sizes(max_N=12), st.integers(0, 2**31), taus(0.1, 5), st.sampled_from(["symmetric", "one_sided"]))
def test_exact_formula_equals_enumeration(NB, seed, tau, loss):
    N, B = NB
    U, V = unit_rows(N, 4, seed), unit_rows(N, 4, seed + 1)
    Ut, Vt = _t(U, True), _t(V, True)
    f = all_batches_objective(Ut, Vt, B, loss=loss, tau=tau)
    f.backward()
    e = family_loss(U, V, Family.all(N, B), loss=loss, tau=tau)
    assert abs(float(f.detach()) - e) < 1e-10
    gU, gV = euclidean_gradient(U, V, Family.all(N, B), loss=loss, tau=tau)
    assert np.abs(Ut.grad.numpy() - gU).max() < 1e-10 and np.abs(Vt.grad.numpy() - gV).max() < 1e-10


@pytest.mark.parametrize("N,B", [(64, 8), (128, 2), (512, 4), (200, 50)])
def test_exact_formula_at_the_etf_equals_closed_form(N, B):
    W = _t(simplex_etf(N, N - 1))
    assert abs(float(all_batches_objective(W, W, B)) - optimum_all(N, B)) < 1e-10


def test_formula_reduces_to_full_batch_and_pairwise_forms():
    U, V = unit_rows(20, 4, 7), unit_rows(20, 4, 8)
    full = family_objective(_t(U), _t(V), Family.full(20))
    assert abs(float(all_batches_objective(_t(U), _t(V), 20)) - float(full)) < 1e-12
    pair = family_objective(_t(U), _t(V), Family.all(20, 2), method="pairwise")
    assert abs(float(all_batches_objective(_t(U), _t(V), 2)) - float(pair)) < 1e-10


def test_auto_method_uses_the_formula_past_the_stream_limit():
    U, V = unit_rows(64, 6, 0), unit_rows(64, 6, 1)
    fam = Family.all(64, 8)                              # 4.4e9 batches: never enumerated
    auto = family_objective(_t(U), _t(V), fam)
    assert abs(float(auto) - float(all_batches_objective(_t(U), _t(V), 8))) < 1e-14


def test_sampled_estimators_agree_with_exact_value_within_standard_errors():
    U, V = unit_rows(12, 4, 2), unit_rows(12, 4, 3)
    exact = family_loss(U, V, Family.all(12, 3))
    for scheme in ("uniform", "partition"):
        est, se = sampled_objective(_t(U), _t(V), 3, 3000, scheme=scheme, seed=1)
        assert se > 0 and abs(est - exact) < 5 * se


def test_float32_engine_is_close_to_oracle():
    U, V = unit_rows(10, 4, 0), unit_rows(10, 4, 1)
    v = family_objective(torch.tensor(U, dtype=torch.float32), torch.tensor(V, dtype=torch.float32), Family.all(10, 3))
    assert v.dtype == torch.float32 and abs(float(v) - family_loss(U, V, Family.all(10, 3))) < 1e-5


@pytest.mark.parametrize("call,msg", [
    (lambda U: family_objective(U * 2, U, Family.full(6)), "unit norm"),
    (lambda U: family_objective(U, U, Family.full(7)), "N=7"),
    (lambda U: family_objective(U, U, Family.full(6), method="magic"), "method must be one of"),
    (lambda U: family_objective(U, U, Family.partition(6, 2), method="formula"), "all-C(N,B)"),
    (lambda U: family_objective(U, U, Family.all(6, 3), method="pairwise"), "B = 2"),
    (lambda U: batch_losses(U, U, torch.tensor([[0, 6]])), "[0, N=6)"),
    (lambda U: sampled_objective(U, U, 4, 10, scheme="partition"), "divide"),
    (lambda U: family_objective(U, U, Family.full(6), tau=-1.0), "tau"),
])
def test_engine_bad_input_raises(call, msg):
    U = torch.tensor(unit_rows(6, 3, 0))
    with pytest.raises(ValueError) as exc:
        call(U)
    assert msg in str(exc.value)


@pytest.mark.parametrize("N,B,tau", [(40, 3, 0.5), (30, 4, 1.0), (12, 4, 0.7), (40, 3, 1e-3)])
def test_every_numeric_path_equals_the_oracle(N, B, tau):
    # N > 7B: gather path; N <= 7B: one-hot matmul path; tau = 1e-3: log-sum-exp path
    from simulations.engine import _Kernel
    fam = Family.random(N, B, 300, seed=N)
    U, V = unit_rows(N, 5, 0), unit_rows(N, 5, 1)
    Ut, Vt = _t(U, True), _t(V, True)
    path = _Kernel(Ut.detach() @ Vt.detach().T / tau, "symmetric", B, False).path
    assert path == ("lse" if tau < 0.01 else "gather" if N > 7 * B else "matmul")
    for loss in ("symmetric", "one_sided"):
        Ut.grad = Vt.grad = None
        val = family_objective(Ut, Vt, fam, tau=tau, loss=loss)
        val.backward()
        ref = family_loss(U, V, fam, tau=tau, loss=loss)
        assert abs(float(val.detach()) - ref) < 1e-10 * max(1.0, abs(ref))
        gU, gV = euclidean_gradient(U, V, fam, tau=tau, loss=loss)
        scale = max(1.0, np.abs(gU).max())
        assert np.abs(Ut.grad.numpy() - gU).max() < 1e-10 * scale and np.abs(Vt.grad.numpy() - gV).max() < 1e-10 * scale
        per = batch_losses(_t(U), _t(V), fam, tau=tau, loss=loss).numpy()
        from theory import batch_losses as oracle
        assert np.allclose(per, oracle(U, V, fam, tau=tau, loss=loss), atol=1e-10 * max(1.0, abs(ref)))


def test_pairwise_form_is_exact_when_logit_gaps_exceed_twenty():
    # tau = 0.05 puts z_ij - z_ii near -40 and +40: an approximate softplus (linear above 20) is off by e^-20
    U, V = unit_rows(7, 3, 0), unit_rows(7, 3, 1)
    Ut, Vt = _t(U, True), _t(V, True)
    fam = Family.all(7, 2)
    val = family_objective(Ut, Vt, fam, tau=0.05, method="pairwise")
    val.backward()
    assert abs(float(val.detach()) - family_loss(U, V, fam, tau=0.05)) < 1e-12 * 40
    gU, gV = euclidean_gradient(U, V, fam, tau=0.05)
    assert np.abs(Ut.grad.numpy() - gU).max() < 1e-11 and np.abs(Vt.grad.numpy() - gV).max() < 1e-11
