"""No silent wrong answer, no lost result: one test (or more) per failure mode of the reliability issue,
and the tests that catch the single-line mutations the suite once let through."""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from simulations.training.loop import without_timings
import torch

import theory as th
from helpers import unit_rows
from theory import Family, InfoNCE, etf_gram, gram_distance, tangent_gradient
from theory.certificates import certify, full_batch_gap, recover_embeddings
from simulations import (Config, SelectorSampler, all_batches_objective, batch_values, make_selector, objective,
                         osgd_batch, sampled_objective, simulate, spectral_partition)
from simulations.engine._tensor_checks import exp_safe
from simulations.engine._infonce import _Kernel
from simulations.cli import main as cli_main
from simulations.io import folder_lock, read_csv
from simulations.training.loop import metrics, target_gram, train_run


def _t(X, grad=False, dtype=torch.float64):
    return torch.tensor(X, dtype=dtype, requires_grad=grad)


# ---------------------------------------------------------------------- 1. the formula at small tau
@pytest.mark.parametrize("tau", [0.01, 0.0025, 0.002, 0.0015, 0.001])
def test_formula_is_accurate_against_enumeration_down_to_tau_1e3(tau):
    for N, B in ((8, 3), (12, 4)):
        U, V = unit_rows(N, 4, N), unit_rows(N, 4, N + 1)
        f = float(all_batches_objective(_t(U), _t(V), B, InfoNCE(tau)))
        e = float(objective(_t(U), _t(V), Family.all(N, B), InfoNCE(tau), method="enumerate"))
        assert math.isfinite(f) and abs(f - e) <= 1e-12 * abs(e)


def test_formula_gradient_is_finite_and_exact_at_small_tau():
    U, V = unit_rows(8, 3, 0), unit_rows(8, 3, 1)
    Ut, Vt = _t(U, True), _t(V, True)
    all_batches_objective(Ut, Vt, 3, InfoNCE(0.0015)).backward()
    gU, gV = th.gradient(U, V, Family.all(8, 3), InfoNCE(0.0015))
    assert np.abs(Ut.grad.numpy() - gU).max() <= 1e-9 * np.abs(gU).max()


def test_formula_refuses_instead_of_returning_nan_past_its_limit():
    U, V = unit_rows(40, 4, 0), unit_rows(40, 4, 1)
    with pytest.raises(ValueError, match="logit gaps"):
        objective(_t(U), _t(V), Family.all(40, 7), InfoNCE(1e-4))
    v = objective(_t(U), _t(V), Family.all(40, 7), InfoNCE(0.0025))       # the NaN case
    assert math.isfinite(float(v))


# ---------------------------------------------------------------------- 2. second derivatives
def _plain_objective(U, V, fam, tau=1.0, loss="symmetric"):
    Z = U @ V.T / tau
    b = torch.from_numpy(fam.batches)
    zs = Z[b[:, :, None], b[:, None, :]]
    d = zs.diagonal(dim1=-2, dim2=-1)
    out = (torch.logsumexp(zs, -1) - d).mean(-1)
    if loss == "symmetric":
        out = out + (torch.logsumexp(zs, -2) - d).mean(-1)
    return out.mean()


PATHS = {   # name -> (family, tau, method): every numeric path of the engine
    "matmul": (Family.all(6, 3), 1.0, "enumerate"),
    "gather": (Family.from_batches([[0, 1, 2], [2, 3, 4], [0, 4, 5], [1, 3, 5], [0, 2, 5]], 6), 0.5, "enumerate"),
    "lse": (Family.all(6, 3), 0.001, "enumerate"),
    "pairwise": (Family.all(6, 2), 1.0, "pairwise"),
    "formula": (Family.all(6, 3), 0.7, "formula"),
}


def _normalised(fn):
    return lambda xu, xv: fn(xu / xu.norm(dim=1, keepdim=True), xv / xv.norm(dim=1, keepdim=True))


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("symmetric", [True, False])
def test_gradcheck_and_gradgradcheck_on_every_path(path, symmetric):
    fam, tau, method = PATHS[path]
    loss = InfoNCE(tau, symmetric=symmetric)
    fn = _normalised(lambda U, V: objective(U, V, fam, loss, method=method, check=False))
    x = (_t(unit_rows(6, 3, 0), True), _t(unit_rows(6, 3, 1), True))
    assert torch.autograd.gradcheck(fn, x)
    assert torch.autograd.gradgradcheck(fn, x)


@pytest.mark.parametrize("path", list(PATHS))
def test_hessian_through_the_engine_equals_plain_autograd(path):
    fam, tau, method = PATHS[path]
    x = (_t(unit_rows(6, 3, 2), True), _t(unit_rows(6, 3, 3), True))
    H = torch.autograd.functional.hessian(_normalised(lambda U, V: objective(U, V, fam, InfoNCE(tau), method=method)), x)
    R = torch.autograd.functional.hessian(_normalised(lambda U, V: _plain_objective(U, V, fam, tau=tau)), x)
    scale = max(float(r.abs().max()) for row in R for r in row)
    assert scale > 0
    for hr, rr in zip(H, R):
        for h, r in zip(hr, rr):
            assert float((h - r).abs().max()) <= 1e-8 * scale


# ---------------------------------------------------------------------- 3. low precision
@pytest.mark.parametrize("dtype,rtol", [(torch.float32, 1e-5), (torch.float16, 2e-2), (torch.bfloat16, 5e-2)])
@pytest.mark.parametrize("tau", [1.0, 0.1, 0.01])
def test_low_precision_inputs_give_finite_accurate_values(dtype, rtol, tau):
    for fam in (Family.all(8, 3), Family.full(8), Family.all(8, 2), Family.all(30, 3)):
        U, V = unit_rows(fam.N, 4, 0), unit_rows(fam.N, 4, 1)
        Ut, Vt = _t(U, dtype=dtype), _t(V, dtype=dtype)
        ref = th.objective(Ut.double().numpy() / np.linalg.norm(Ut.double().numpy(), axis=1, keepdims=True),
                           Vt.double().numpy() / np.linalg.norm(Vt.double().numpy(), axis=1, keepdims=True), fam,
                           InfoNCE(tau))
        v = objective(Ut, Vt, fam, InfoNCE(tau))
        assert v.dtype == dtype and math.isfinite(float(v))
        assert abs(float(v) - ref) <= rtol * abs(ref) + 2 * rtol, (fam, float(v), ref)


def test_safe_exponent_limits_are_derived_from_the_dtype():
    for dt in (torch.float64, torch.float32):
        lim = exp_safe(dt, 8)
        assert math.isfinite(8 * math.exp(lim)) and lim == pytest.approx(math.log(torch.finfo(dt).max) - math.log(8) - 1)
        assert torch.isfinite(torch.exp(torch.tensor(lim, dtype=dt)) * 8)


def test_float32_uses_the_shift_path_up_to_its_limit_and_stays_accurate():
    # logit gaps of about 75 (between the old hand-set 60 and the derived ~84): shift path, finite, accurate
    U, V = unit_rows(8, 4, 5), unit_rows(8, 4, 6)
    tau = 2.0 / 75
    Z = _t(U, dtype=torch.float32) @ _t(V, dtype=torch.float32).T / tau       # the logits the engine forms
    assert _Kernel(Z, "symmetric", 3, False).shift
    v = float(objective(_t(U, dtype=torch.float32), _t(V, dtype=torch.float32), Family.all(8, 3), InfoNCE(tau)))
    assert abs(v - th.objective(U, V, Family.all(8, 3), InfoNCE(tau))) <= 1e-4 * abs(v)


def test_unsupported_dtypes_are_refused():
    U = torch.ones(4, 2, dtype=torch.int64)
    with pytest.raises(ValueError, match="floating-point"):
        objective(U, U, Family.full(4), "infonce")
    U64 = _t(unit_rows(4, 2, 0))
    with pytest.raises(ValueError, match="same dtype"):
        objective(U64, U64.float(), Family.full(4), "infonce")


# ---------------------------------------------------------------------- 4. validation of public functions
U6 = _t(unit_rows(6, 3, 0))
NAN6 = U6.clone()
NAN6[2] = float("nan")


@pytest.mark.parametrize("call,msg", [
    (lambda: batch_values(NAN6, U6, torch.tensor([[0, 1, 2]]), "infonce"), "finite"),
    (lambda: batch_values(U6, U6, torch.tensor([[0, 0, 2]]), "infonce"), "distinct"),
    (lambda: batch_values(U6, U6, torch.tensor([[0.5, 1.7, 3.0]]), "infonce"), "integer"),
    (lambda: batch_values(U6, U6, [[True, False]], "infonce"), "integer"),
    (lambda: batch_values(U6, U6, [["a", "b"]], "infonce"), "integer"),
    (lambda: batch_values(2 * U6, U6, torch.tensor([[0, 1]]), "infonce"), "unit norm"),
    (lambda: batch_values(U6, U6, torch.zeros(0, 2, dtype=torch.long), "infonce"), "n >= 1"),
    (lambda: batch_values(U6, U6, torch.tensor([[0, 1]]), th.make_loss("infonce", tau=0)), "tau"),
    (lambda: sampled_objective(NAN6, U6, 2, 10, "infonce"), "finite"),
    (lambda: sampled_objective(U6, U6, 2, 10, "bogus"), "loss"),
    (lambda: osgd_batch(NAN6, U6, 3), "finite"),
    (lambda: osgd_batch(U6, U6, 2, loss="bogus"), "loss"),
    (lambda: osgd_batch(_t(unit_rows(40, 3, 0)), _t(unit_rows(40, 3, 1)), 20), "osgd_batch scores all"),
    (lambda: spectral_partition(NAN6, U6, 2), "finite"),
    (lambda: spectral_partition(U6, U6, 2, n_init=0), "n_init"),
    (lambda: Family.from_batches([[0.5, 1.7, 3]], 8), "integer"),
    (lambda: Family.from_batches([[True, False, True]], 8), "integer"),
    (lambda: Family.from_batches([["0", "1"]], 8), "integer"),
    (lambda: make_selector("shuffle", 8, 2, loss=th.make_loss("infonce", tau=-1)), "tau"),
    (lambda: make_selector("osgd", 8, 2, loss="bogus"), "loss"),
    (lambda: make_selector("osgd", 40, 20), "candidates"),
    (lambda: certify("fano", "infonce"), "theory.Family"),
    (lambda: gram_distance(np.full((4, 4), np.nan), etf_gram(4)), "finite"),
    (lambda: Config(N=4, d=2, seeds=(0, 0)), "distinct"),
    (lambda: Config(N=4, d=2, seeds=(0.7,)), "seeds"),
    (lambda: Config(N=8, d=2, target="cross_polytope"), "N <= 2d"),
    (lambda: Config(N=8, d=4, target="etf"), "d >= N-1"),
])
def test_bad_input_raises_value_error_naming_the_parameter(call, msg):
    with pytest.raises(ValueError) as exc:
        call()
    assert msg in str(exc.value), str(exc.value)


def test_full_batch_gap_accepts_a_scalar_eps():
    g = full_batch_gap(Family.all(4, 2), "infonce", eps=1e-3)
    assert g.eps == (1e-3,) and len(g.gaps) == 1


def test_sampler_length_past_the_index_range_is_a_clear_error():
    sampler = SelectorSampler(make_selector("all", 200, 100), lambda: None)
    with pytest.raises(ValueError, match="len"):
        len(sampler)


# ---------------------------------------------------------------------- 5-7. results and the CLI
@pytest.mark.slow
def test_a_second_writer_of_a_results_folder_is_refused(tmp_path):
    cfg = Config(N=4, d=2, methods=("shuffle",), steps=2)
    with folder_lock(tmp_path / "run"):
        with pytest.raises(ValueError, match="another process"):
            simulate(cfg, tmp_path / "run")
        r = subprocess.run([sys.executable, "-m", "simulations.cli", "simulate", "--N", "4", "--d", "2", "--methods",
                            "shuffle", "--epochs", "2", "--out", str(tmp_path / "run")], capture_output=True, text=True)
        assert r.returncode == 2 and "another process" in r.stderr and "Traceback" not in r.stderr
    simulate(cfg, tmp_path / "run")                       # free again once the lock is released


def test_summary_json_is_strict_json_without_nan(tmp_path):
    simulate(Config(N=8, d=2, methods=("shuffle",), steps=2), tmp_path / "s")        # no target: distance undefined
    text = (tmp_path / "s" / "summary.json").read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["shuffle"]["0"]["gram_distance"] is None


@pytest.mark.parametrize("argv,msg", [
    (["certify", "--family-file", "/nonexistent/fam.json"], "no such file"),
    (["claims", "--only", "not_proportional", "--device", "bogus"], "device"),
    (["claims", "--only", "not_proportional", "--device", "cuda:0"], "CUDA"),
    (["simulate", "--N", "4", "--d", "2", "--epochs", "1", "--out", "FILE"], "not a folder"),
    (["simulate", "--N", "4", "--d", "2", "--epochs", "1", "--out", "/proc/forbidden/x"], ""),
])
def test_cli_errors_exit_2_with_a_message_and_no_traceback(argv, msg, tmp_path, capsys):
    if "cuda:0" in argv and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    f = tmp_path / "a_file"
    f.write_text("x")
    argv = [str(f) if a == "FILE" else a for a in argv]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and err.startswith("minibatch-cl")


# ---------------------------------------------------------------------- mutations the suite once missed
def test_one_sgd_step_moves_both_u_and_v_by_lr_times_their_gradients():
    cfg = Config(N=4, d=3, methods=("full",), steps=1, lr=0.3, seeds=(0,))
    res = train_run(cfg, "full", 0)
    g = torch.Generator().manual_seed(0)
    xu = torch.randn(4, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    xv = torch.randn(4, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    L = objective(xu / xu.norm(dim=1, keepdim=True), xv / xv.norm(dim=1, keepdim=True), Family.full(4), "infonce")
    gu, gv = torch.autograd.grad(L, (xu, xv))
    for x, gx, got in ((xu, gu, res["U"]), (xv, gv, res["V"])):
        new = (x - 0.3 * gx).detach()
        assert np.allclose(got, (new / new.norm(dim=1, keepdim=True)).numpy(), atol=1e-14)


def test_logged_gradient_norm_is_the_riemannian_norm_of_the_all_batches_objective():
    cfg = Config(N=6, d=3, B=3, methods=("shuffle",), steps=1, seeds=(0,))
    U, V = unit_rows(6, 3, 4), unit_rows(6, 3, 5)
    m = metrics(_t(U) * 2.0, _t(V) * 0.5, cfg, None)            # raw vectors of any norm
    gU, gV = tangent_gradient(U, V, Family.all(6, 3), "infonce")
    assert m["grad_norm"] == pytest.approx(float(np.sqrt((gU**2).sum() + (gV**2).sum())), rel=1e-12)


def test_tangent_gradients_are_orthogonal_to_their_own_rows_when_u_differs_from_v():
    U, V = unit_rows(7, 4, 0), unit_rows(7, 4, 1)
    gU, gV = tangent_gradient(U, V, Family.all(7, 3), "infonce")
    assert np.abs((gU * U).sum(1)).max() < 1e-14 and np.abs((gV * V).sum(1)).max() < 1e-14
    assert np.abs((gV * U).sum(1)).max() > 1e-3                # projecting V's gradient with U would fail above


def test_replacement_sampling_draws_fresh_batches():
    sel = make_selector("replace", 8, 2, seed=0)
    seen = {tuple(sorted(b[0].tolist())) for _ in range(50) for b in sel.epoch(lambda: None)}
    assert len(seen) >= 20                                    # of the 28 pairs, in 200 draws


def test_resumed_shuffle_run_equals_uninterrupted_run(tmp_path):
    cfg = Config(N=6, d=3, methods=("shuffle",), steps=6, seeds=(1,), checkpoint_every=3)
    full = train_run(cfg, "shuffle", 1)
    half = Config(**{**cfg.to_json(), "steps": 3})
    train_run(half, "shuffle", 1, checkpoint=tmp_path / "c.ckpt")
    resumed = train_run(cfg, "shuffle", 1, checkpoint=tmp_path / "c.ckpt")
    assert np.array_equal(full["U"], resumed["U"]) and without_timings(full["rows"]) == without_timings(resumed["rows"])


def test_align_updates_gives_gd_methods_n_over_b_updates_per_logged_step():
    res = simulate(Config(N=8, d=4, methods=("full", "all", "shuffle"), steps=3, align="updates"))
    last = {r["method"]: r["updates"] for r in res["rows"]}
    assert last == {"full": 12, "all": 12, "shuffle": 12}
    res = simulate(Config(N=8, d=4, methods=("full", "shuffle"), steps=3, align="epochs"))
    assert {r["method"]: r["updates"] for r in res["rows"]} == {"full": 3, "shuffle": 12}


def test_etf_is_the_target_from_d_equal_n_minus_1():
    assert np.array_equal(target_gram(5, 4), etf_gram(5))
    assert target_gram(5, 3) is None and target_gram(6, 3) is not None


def test_recovered_rank_counts_small_but_real_eigenvalues_and_not_rounding():
    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    for lam, rank in (([1, 1, 1, 1e-4, 0, 0, 0, 0], 4), ([1, 1, 1, 1e-9, 0, 0, 0, 0], 3)):
        M = Q @ np.diag(lam) @ Q.T
        assert recover_embeddings(M)[2] == rank


def test_metrics_csv_rows_match_the_summary(tmp_path):
    simulate(Config(N=4, d=8, methods=("osgd",), steps=3), tmp_path / "m")
    rows = read_csv(tmp_path / "m" / "metrics.csv")
    assert [r["updates"] for r in rows] == [0, 2, 4, 6]


def test_clear_caches_empties_the_engine_caches():
    from simulations import clear_caches
    from simulations.engine.batching import _cached_combinations
    objective(_t(unit_rows(9, 3, 0)), _t(unit_rows(9, 3, 1)), Family.all(9, 3), "infonce")
    assert _cached_combinations.cache_info().currsize > 0
    clear_caches()
    assert _cached_combinations.cache_info().currsize == 0


@pytest.mark.parametrize("call,msg", [
    (lambda: __import__("theory.local_search", fromlist=["x"]).minimize_family("fano", 2), "theory.Family"),
    (lambda: __import__("theory.certificates", fromlist=["x"]).etf_is_optimal(Family.fano(), "infonce", rel_tol=float("nan")),
     "rel_tol"),
    (lambda: __import__("theory.certificates", fromlist=["x"]).etf_dual_certificate(Family.fano(), "infonce", rel_tol=-1), "rel_tol"),
])
def test_new_public_functions_validate_their_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()
