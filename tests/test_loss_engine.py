"""The loss protocol's shared checks, run on every registered loss by the ``loss`` fixture (tests/conftest.py): the
torch engine equals the float64 oracle for every family kind (value and gradient, first and second order, the
numpy gradient included), every device and dtype; then selection, training, the CLI and sweeps for each loss."""
import json
import math

import numpy as np
import pytest
import torch

import simulations as sim
import theory as th
from simulations import Config, osgd_batch, sampled_objective, simulate, spectral_partition
from simulations.cli import main as cli_main
from theory import DCL, DHEL, KCL, Family, InfoNCE, SigLIP, as_loss, make_loss, normalize_rows

N = 7


def _families():
    return {
        "full": Family.full(N),
        "all B=2": Family.all(N, 2),
        "all B=3": Family.all(N, 3),
        "partition": Family.from_batches([[0, 1, 2], [3, 4], [5, 6]], N=N),
        "random": Family.random(N, 3, 5, seed=1),
        "weighted mixed": Family.from_batches([[0, 1, 2], [3, 4], [5, 6, 0, 1], [2, 5]], N=N, weights=[1.0, 2.5, 0.5, 1.0]),
        "mixture of all": Family.mixture([Family.all(N, 2), Family.all(N, 4)], [1.0, 3.0]),
        "dataloader expectation": Family.dataloader_expectation(N, 3),
    }


def _tensors(seed, d=3):
    rng = np.random.default_rng(seed)
    U, V = normalize_rows(rng.normal(size=(N, d))), normalize_rows(rng.normal(size=(N, d)))
    return U, V, torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)


def _plain(loss, Ut, Vt, fam):
    """The family objective by plain autograd through the per-batch losses (no streaming, no closed form)."""
    total = 0.0
    for p in fam.parts:
        b = torch.from_numpy(np.concatenate([c for c, _ in p.chunks(fam.N, 10**6)]))
        w = torch.from_numpy(np.concatenate([w for _, w in p.chunks(fam.N, 10**6)]))
        total = total + (sim.batch_values(Ut, Vt, b, loss, check=False) * w).sum()   # size-1 batches too
    return total / fam.total_weight


@pytest.mark.parametrize("kind", list(_families()))
def test_engine_equals_the_oracle_for_every_loss_and_family_kind(loss, kind):
    """Value (1e-12 relative, float64) and gradient: the streamed engine, its closed forms and the numpy oracle's
    gradient (analytic or complex step) against plain autograd through the per-batch losses."""
    fam = _families()[kind]
    if min(fam.batch_sizes) < loss.min_batch:
        pytest.skip("family has batches below the loss's minimum size")
    U, V, Ut, Vt = _tensors(3)
    want = th.objective(U, V, fam, loss)
    ref = _plain(loss, Ut, Vt, fam)
    gref = torch.autograd.grad(ref, (Ut, Vt))
    scale = max(1.0, max(float(x.abs().max()) for x in gref))
    for method in ("auto", "enumerate"):
        val = sim.objective(Ut, Vt, fam, loss, method=method)
        assert abs(float(val) - want) <= 1e-12 * max(1.0, abs(want)), (method, float(val), want)
        g = torch.autograd.grad(val, (Ut, Vt))
        assert max(float((a - b).abs().max()) for a, b in zip(g, gref)) <= 1e-12 * scale, method
    gU, gV = th.gradient(U, V, fam, loss)
    assert max(np.abs(gU - gref[0].numpy()).max(), np.abs(gV - gref[1].numpy()).max()) <= 1e-11 * scale


def test_batch_values_equal_the_oracle_batch_by_batch(loss):
    U, V, Ut, Vt = _tensors(5)
    fam = Family.random(N, 4, 9, seed=2)
    got = sim.batch_values(Ut, Vt, torch.from_numpy(fam.batches), loss).detach().numpy()
    np.testing.assert_allclose(got, th.batch_values(U, V, fam, loss), rtol=1e-13, atol=1e-14)


def test_gradcheck_first_and_second_order(loss):
    """torch.autograd.gradcheck / gradgradcheck of the engine's family objective (streamed, with a closed form
    where the loss has one) against finite differences."""
    _, _, Ut, Vt = _tensors(9)
    for fam in (Family.all(N, 3), Family.random(N, 3, 4, seed=3)):
        def f(a, b):
            return sim.objective(a, b, fam, loss, check=False)
        assert torch.autograd.gradcheck(f, (Ut, Vt), eps=1e-6, atol=1e-7, rtol=1e-5)
        assert torch.autograd.gradgradcheck(f, (Ut, Vt), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_every_device_and_dtype_agrees_with_the_float64_oracle(loss, device_dtype):
    device, dtype = device_dtype
    U, V, _, _ = _tensors(4)
    fam = Family.random(N, 3, 6, seed=5)
    want = th.objective(U, V, fam, loss)
    Ut = torch.tensor(U, dtype=dtype, device=device, requires_grad=True)
    Vt = torch.tensor(V, dtype=dtype, device=device)
    val = sim.objective(Ut, Vt, fam, loss)
    assert val.dtype == dtype and val.device.type == device
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    assert abs(float(val) - want) <= tol * max(1.0, abs(want))
    (g,) = torch.autograd.grad(val, Ut)
    assert g.dtype == dtype and bool(torch.isfinite(g).all())


def _pair_sum_all_batches(loss, U, V, B):
    """Independent reference: E_S L(S) over all C(N,B) batches of a pair-sum loss, written from the definitions
    (each positive term has weight 1/N, each ordered negative pair B(B-1)/(N(N-1)) times the batch coefficient)."""
    n = U.shape[0]
    Z = U @ V.T
    if loss.name == "siglip":
        x = Z / loss.tau + loss.bias
        pos = np.logaddexp(0, -np.diag(x)).sum()
        neg = np.logaddexp(0, x).sum() - np.logaddexp(0, np.diag(x)).sum()
        return (pos + (B - 1) / (n - 1) * neg) / n
    k = lambda G: np.exp(-2 * loss.t * (1 - G))  # noqa: E731
    off = ~np.eye(n, dtype=bool)
    return -k(np.diag(Z)).mean() + loss.gamma * ((k(U @ U.T) + k(V @ V.T))[off]).sum() / (n * (n - 1))


@pytest.mark.parametrize("loss", [SigLIP(0.2, -3.0), KCL(1.0, 2.0)], ids=lambda x: x.label)
def test_pair_sum_closed_form_in_torch_equals_the_oracle_beyond_enumeration(loss):
    n, B = 400, 50                                   # C(400, 50) ~ 1e63 batches: enumeration is impossible
    rng = np.random.default_rng(0)
    U, V = normalize_rows(rng.normal(size=(n, 8))), normalize_rows(rng.normal(size=(n, 8)))
    got = sim.objective(torch.tensor(U), torch.tensor(V), Family.all(n, B), loss)
    want = _pair_sum_all_batches(loss, U, V, B)
    assert abs(float(got) - want) <= 1e-12 * max(1.0, abs(want))
    est, se = sampled_objective(torch.tensor(U), torch.tensor(V), B, 400, loss, seed=1)
    assert abs(est - want) <= 5 * se                 # an unbiased estimate agrees within 5 standard errors


def test_losses_without_closed_form_refuse_all_batches_beyond_streaming():
    U, V, _, _ = _tensors(0)
    n = 60
    Ut = torch.tensor(normalize_rows(np.random.default_rng(1).normal(size=(n, 3))))
    with pytest.raises(ValueError, match="streaming limit"):
        sim.objective(Ut, Ut, Family.all(n, 10), DCL(0.5))
    with pytest.raises(ValueError, match="closed form"):
        sim.objective(Ut, Ut, Family.all(n, 2), DHEL(0.5), method="formula")


def test_second_derivatives_of_the_streamed_objective_are_exact():
    U, V, Ut, Vt = _tensors(7)
    fam = Family.all(N, 3)
    loss = DHEL(0.4)
    x = torch.cat([Ut, Vt]).detach().requires_grad_(True)

    def f(x, fn):
        return fn(x[:N], x[N:])
    H = torch.autograd.functional.hessian(lambda x: f(x, lambda a, b: sim.objective(a, b, fam, loss, method="enumerate")), x)
    Href = torch.autograd.functional.hessian(lambda x: f(x, lambda a, b: _plain(loss, a, b, fam)), x)
    assert float((H - Href).abs().max()) <= 1e-11 * max(1.0, float(Href.abs().max()))


def test_a_loss_is_an_object_or_a_registered_name_and_nothing_else():
    U, V, Ut, Vt = _tensors(0)
    for bad in ("clip", "symmetric", 0.5, None, SigLIP):
        with pytest.raises(ValueError, match="loss must be"):
            as_loss(bad)
        with pytest.raises(ValueError, match="loss must be"):
            th.objective(U, V, Family.full(N), bad)
    with pytest.raises(ValueError, match="size >= 2"):
        sim.objective(Ut, Vt, Family.dataloader_expectation(N, 3), KCL())       # has batches of size 1
    assert float(sim.objective(Ut, Vt, Family.all(N, 3), "infonce")) == pytest.approx(
        float(sim.objective(Ut, Vt, Family.all(N, 3), InfoNCE(1.0))), rel=1e-14)
    assert th.objective(U, V, Family.all(N, 3), "siglip") == th.objective(U, V, Family.all(N, 3), SigLIP())


@pytest.mark.parametrize("B", [2, 3])
def test_osgd_batch_is_the_argmax_of_the_oracle_for_every_loss(loss, B):
    U, V, Ut, Vt = _tensors(11)
    fam = Family.all(N, B)
    vals = th.batch_values(U, V, fam, loss)
    got = sorted(osgd_batch(Ut.detach(), Vt.detach(), B, loss).tolist())
    assert got == sorted(fam.batches[int(np.argmax(vals))].tolist())


def test_pair_loss_matrix_is_the_pair_loss_and_spectral_partition_is_a_partition(loss):
    U, V, Ut, Vt = _tensors(13)
    P = sim.pair_loss_matrix(Ut.detach(), Vt.detach(), loss)
    want = th.batch_values(U, V, Family.all(N, 2), loss)
    got = np.array([float(P[i, j]) for i, j in Family.all(N, 2).batches])
    np.testing.assert_allclose(got, want, rtol=1e-13)
    n = 8
    X = torch.tensor(normalize_rows(np.random.default_rng(2).normal(size=(n, 3))))
    part = spectral_partition(X, X, 2, loss, seed=0)
    assert sorted(part.reshape(-1).tolist()) == list(range(n))


def test_simulate_trains_siglip_and_kcl_and_lowers_their_loss(tmp_path):
    for name, params in (("siglip", (("bias", -1.0), ("tau", 0.5))), ("kcl", (("gamma", 1.0), ("t", 2.0)))):
        cfg = Config(N=4, d=4, B=2, methods=("all", "osgd", "sc", "shuffle"), steps=15, lr=0.2, seeds=(0,),
                     loss=name, loss_params=params, checkpoint_every=100)
        res = simulate(cfg, tmp_path / name)
        rows = [r for r in res["rows"] if r["method"] == "all"]
        assert rows[-1]["all_loss"] < rows[0]["all_loss"]
        assert Config.from_json(cfg.to_json()) == cfg


def test_config_and_cli_refuse_bad_loss_settings(capsys):
    with pytest.raises(ValueError, match="loss must be one of"):
        Config(N=4, d=4, loss="clip")
    with pytest.raises(ValueError, match="unknown"):
        Config(N=4, d=4, loss="kcl", loss_params=(("tau", 0.5),))
    with pytest.raises(ValueError, match="unknown"):
        Config(N=4, d=4, loss="infonce", loss_params=(("bias", 1.0),))
    with pytest.raises(ValueError, match="unknown"):
        Config(N=4, d=4, loss="siglip", loss_params=(("gamma", 1.0),))
    assert Config(N=4, d=4, loss="infonce").objective() == InfoNCE()      # the default loss by its registered name
    for argv in (["certify", "--N", "4", "--loss", "kcl", "--tau", "0.5"],
                 ["certify", "--N", "4", "--loss", "infonce", "--bias", "1"],
                 ["certify", "--N", "4", "--loss", "clip"],
                 ["simulate", "--N", "4", "--d", "4", "--loss", "siglip", "--tau", "0"]):
        assert cli_main(argv) == 2
        err = capsys.readouterr().err
        assert "error" in err and "Traceback" not in err


def test_cli_certify_siglip_reports_the_double_constant_optimum(capsys):
    assert cli_main(["certify", "--N", "6", "--B", "3", "--family", "all", "--loss", "siglip", "--tau", "1", "--bias", "0",
                     "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["certified"] and out["closed_form"]["structure"] == "interior"
    assert abs(out["value"] - out["closed_form"]["value"]) < 1e-7
    assert out["etf"]["etf_optimal"] is False and out["etf"]["decided_by"] == "dual_infeasible"
    assert math.isfinite(out["etf"]["excess"]) and out["etf"]["excess"] > 1e-3
    assert make_loss("siglip") == SigLIP(1.0, 0.0) == Config(N=4, d=4, loss="siglip").objective()   # one default


def test_config_refuses_loss_settings_that_would_fail_mid_run():
    with pytest.raises(ValueError, match="last batch of 1"):
        Config(N=7, d=7, B=3, methods=("dataloader",), loss="dcl")
    with pytest.raises(ValueError, match="streaming limit"):
        Config(N=40, d=40, B=8, methods=("shuffle",), loss="dhel")
    Config(N=40, d=40, B=8, methods=("shuffle",), loss="kcl")            # closed form: fine at any size


def test_siglip_runs_are_measured_against_siglip_optimum_not_the_etf():
    from simulations.training.loop import target_gram
    from theory.siglip import siglip_optimum
    T = target_gram(6, 6, "auto", SigLIP(1.0, 0.0))
    opt = siglip_optimum(6, 1.0, 0.0)
    assert opt["structure"] == "interior" and T[0, 0] == pytest.approx(opt["alpha"]) and T[0, 1] == pytest.approx(opt["beta"])
    assert target_gram(6, 5, "auto", SigLIP(1.0, 0.0)) is None               # interior optimum needs d >= N
    assert np.allclose(target_gram(6, 5, "auto", SigLIP(0.1, -10.0)), target_gram(6, 5, "auto"))   # ETF regime


def test_sweep_grids_every_loss_over_its_own_parameters(tmp_path):
    from simulations.runtime.sweep import SweepSpec, run_sweep
    spec = SweepSpec(N=(5,), B=(3,), family=("all",), loss=("siglip", "kcl", "dcl"),
                     loss_params={"tau": (1.0,), "bias": (-1.0, 0.0), "t": (2.0,), "gamma": (1.0, 16.0)})
    assert len(spec.tasks()[0]) == 2 + 2 + 1                 # siglip x bias, kcl x gamma (no tau), dcl x tau
    res = run_sweep(spec, tmp_path / "s", scheduler="sequential")
    by = {(r["loss"], r.get("bias"), r.get("gamma")): r for r in res["rows"]}
    assert by[("siglip", 0.0, None)]["structure"] == "interior" and by[("siglip", 0.0, None)]["etf_optimal"] is False
    assert by[("siglip", -1.0, None)]["etf_optimal"] is True
    assert abs(by[("siglip", 0.0, None)]["value"] - by[("siglip", 0.0, None)]["closed_form"]) < 1e-7
    assert all(by[("kcl", None, g)]["etf_optimal"] for g in (1.0, 16.0)) and by[("dcl", None, None)]["etf_optimal"]
    with pytest.raises(ValueError, match="registered names"):
        SweepSpec(loss=("clip",))
    with pytest.raises(ValueError, match="bias"):
        SweepSpec(loss=("siglip",), loss_params={"bias": (float("nan"),)})
    with pytest.raises(ValueError, match="silently ignored"):
        SweepSpec(loss=("infonce",), loss_params={"bias": (-10.0,)})
    with pytest.raises(ValueError, match="silently ignored"):
        SweepSpec(loss=("kcl",), loss_params={"tau": (0.5,)})
