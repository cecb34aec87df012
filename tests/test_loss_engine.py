"""The torch engine for the losses beyond InfoNCE: equal to the float64 oracle for every loss and family kind
(value and gradient), the exact pair-sum closed form beyond enumeration, selection, training and the CLI."""
import math

import numpy as np
import pytest
import torch

from theory import Family, family_loss, normalize_rows
from theory import batch_losses as oracle_batch_losses
from theory.objectives import DCL, DHEL, KCL, InfoNCE, SigLIP, all_batches_pair_sum, as_loss, make_loss
from simulations import Config, batch_losses, family_objective, osgd_batch, sampled_objective, simulate, spectral_partition
from simulations.cli import main as cli_main
from simulations.engine import pair_loss_matrix

LOSSES = [SigLIP(0.3, -2.0), SigLIP(0.1, -10.0), DCL(0.5), DCL(0.8, symmetric=False), DHEL(0.5),
          DHEL(0.6, symmetric=False), KCL(2.0, 1.0), KCL(0.5, 3.0)]
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
        total = total + (batch_losses(Ut, Vt, b, loss=loss, check=False) * w).sum()   # size-1 batches too
    return total / fam.total_weight


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
@pytest.mark.parametrize("kind", list(_families()))
def test_engine_equals_the_oracle_for_every_loss_and_family_kind(loss, kind):
    fam = _families()[kind]
    if min(fam.batch_sizes) < loss.min_batch:
        pytest.skip("family has batches below the loss's minimum size")
    U, V, Ut, Vt = _tensors(3)
    want = family_loss(U, V, fam, loss=loss)
    ref = _plain(loss, Ut, Vt, fam)
    gref = torch.autograd.grad(ref, (Ut, Vt))
    for method in ("auto", "enumerate"):
        val = family_objective(Ut, Vt, fam, loss=loss, method=method)
        assert abs(float(val) - want) <= 1e-13 * max(1.0, abs(want)), (method, float(val), want)
        g = torch.autograd.grad(val, (Ut, Vt))
        scale = max(1.0, max(float(x.abs().max()) for x in gref))
        assert max(float((a - b).abs().max()) for a, b in zip(g, gref)) <= 1e-12 * scale, method


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
def test_batch_losses_equal_the_oracle_batch_by_batch(loss):
    U, V, Ut, Vt = _tensors(5)
    fam = Family.random(N, 4, 9, seed=2)
    got = batch_losses(Ut, Vt, torch.from_numpy(fam.batches), loss=loss).detach().numpy()
    np.testing.assert_allclose(got, oracle_batch_losses(U, V, fam, loss=loss), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("loss", [SigLIP(0.2, -3.0), KCL(1.0, 2.0)], ids=repr)
def test_pair_sum_closed_form_in_torch_equals_the_oracle_beyond_enumeration(loss):
    n, B = 400, 50                                   # C(400, 50) ~ 1e63 batches: enumeration is impossible
    rng = np.random.default_rng(0)
    U, V = normalize_rows(rng.normal(size=(n, 8))), normalize_rows(rng.normal(size=(n, 8)))
    got = family_objective(torch.tensor(U), torch.tensor(V), Family.all(n, B), loss=loss)
    want = all_batches_pair_sum(loss, U, V, B)
    assert abs(float(got) - want) <= 1e-12 * max(1.0, abs(want))
    est, se = sampled_objective(torch.tensor(U), torch.tensor(V), B, 400, loss=loss, seed=1)
    assert abs(est - want) <= 5 * se                 # an unbiased estimate agrees within 5 standard errors


def test_losses_without_closed_form_refuse_all_batches_beyond_streaming():
    U, V, _, _ = _tensors(0)
    n = 60
    Ut = torch.tensor(normalize_rows(np.random.default_rng(1).normal(size=(n, 3))))
    with pytest.raises(ValueError, match="streaming limit"):
        family_objective(Ut, Ut, Family.all(n, 10), loss=DCL(0.5))
    with pytest.raises(ValueError, match="closed form"):
        family_objective(Ut, Ut, Family.all(n, 2), loss=DHEL(0.5), method="formula")


def test_second_derivatives_of_the_streamed_objective_are_exact():
    U, V, Ut, Vt = _tensors(7)
    fam = Family.all(N, 3)
    loss = DHEL(0.4)
    x = torch.cat([Ut, Vt]).detach().requires_grad_(True)

    def f(x, fn):
        return fn(x[:N], x[N:])
    H = torch.autograd.functional.hessian(lambda x: f(x, lambda a, b: family_objective(a, b, fam, loss=loss, method="enumerate")), x)
    Href = torch.autograd.functional.hessian(lambda x: f(x, lambda a, b: _plain(loss, a, b, fam)), x)
    assert float((H - Href).abs().max()) <= 1e-11 * max(1.0, float(Href.abs().max()))


def test_loss_objects_and_strings_do_not_mix_silently():
    U, V, Ut, Vt = _tensors(0)
    with pytest.raises(ValueError, match="tau"):
        family_objective(Ut, Vt, Family.full(N), loss=SigLIP(0.1, -10.0), tau=0.5)
    with pytest.raises(ValueError, match="tau"):
        family_loss(U, V, Family.full(N), loss=DCL(0.5), tau=0.5)
    with pytest.raises(ValueError, match="loss must be"):
        as_loss("clip")
    with pytest.raises(ValueError, match="size >= 2"):
        family_objective(Ut, Vt, Family.dataloader_expectation(N, 3), loss=KCL())       # has batches of size 1
    assert float(family_objective(Ut, Vt, Family.all(N, 3), loss="symmetric", tau=0.5)) == pytest.approx(
        float(family_objective(Ut, Vt, Family.all(N, 3), loss=InfoNCE(0.5))), rel=1e-14)


@pytest.mark.parametrize("loss", [SigLIP(0.3, 1.0), DCL(0.5), KCL(2.0, 1.0)], ids=repr)
@pytest.mark.parametrize("B", [2, 3])
def test_osgd_batch_is_the_argmax_of_the_oracle_for_every_loss(loss, B):
    U, V, Ut, Vt = _tensors(11)
    fam = Family.all(N, B)
    vals = oracle_batch_losses(U, V, fam, loss=loss)
    got = sorted(osgd_batch(Ut.detach(), Vt.detach(), B, loss=loss).tolist())
    assert got == sorted(fam.batches[int(np.argmax(vals))].tolist())


@pytest.mark.parametrize("loss", [SigLIP(0.3, 1.0), DHEL(0.5), KCL(2.0, 1.0)], ids=repr)
def test_pair_loss_affinity_is_the_pair_loss_and_spectral_partition_is_a_partition(loss):
    U, V, Ut, Vt = _tensors(13)
    P = pair_loss_matrix(Ut.detach(), Vt.detach(), loss)
    want = oracle_batch_losses(U, V, Family.all(N, 2), loss=loss)
    got = np.array([float(P[i, j]) for i, j in Family.all(N, 2).batches])
    np.testing.assert_allclose(got, want, rtol=1e-13)
    n = 8
    X = torch.tensor(normalize_rows(np.random.default_rng(2).normal(size=(n, 3))))
    part = spectral_partition(X, X, 2, loss=loss, seed=0)
    assert sorted(part.reshape(-1).tolist()) == list(range(n))


def test_simulate_trains_siglip_and_kcl_and_lowers_their_loss(tmp_path):
    for name, params in (("siglip", (("bias", -1.0),)), ("kcl", (("gamma", 1.0), ("t", 2.0)))):
        cfg = Config(N=4, d=4, B=2, methods=("all", "osgd", "sc", "shuffle"), steps=15, lr=0.2, seeds=(0,),
                     tau=0.5 if name == "siglip" else 1.0, loss=name, loss_params=params, checkpoint_every=100)
        res = simulate(cfg, tmp_path / name)
        rows = [r for r in res["rows"] if r["method"] == "all"]
        assert rows[-1]["all_loss"] < rows[0]["all_loss"]
        assert Config.from_json(cfg.to_json()) == cfg


def test_config_and_cli_refuse_bad_loss_settings(capsys):
    with pytest.raises(ValueError, match="loss must be one of"):
        Config(N=4, d=4, loss="clip")
    with pytest.raises(ValueError, match="no temperature"):
        Config(N=4, d=4, loss="kcl", tau=0.5)
    with pytest.raises(ValueError, match="takes no loss_params"):
        Config(N=4, d=4, loss="symmetric", loss_params=(("bias", 1.0),))
    with pytest.raises(ValueError, match="unknown"):
        Config(N=4, d=4, loss="siglip", loss_params=(("gamma", 1.0),))
    for argv in (["certify", "--N", "4", "--loss", "kcl", "--tau", "0.5"],
                 ["certify", "--N", "4", "--loss", "symmetric", "--bias", "1"],
                 ["simulate", "--N", "4", "--d", "4", "--loss", "siglip", "--tau", "0"]):
        assert cli_main(argv) == 2
        err = capsys.readouterr().err
        assert "error" in err and "Traceback" not in err


def test_cli_certify_siglip_reports_the_double_constant_optimum(capsys):
    assert cli_main(["certify", "--N", "6", "--B", "3", "--family", "all", "--loss", "siglip", "--tau", "1", "--bias", "0",
                     "--json"]) == 0
    import json
    out = json.loads(capsys.readouterr().out)
    assert out["certified"] and out["double_constant"]["structure"] == "interior"
    assert abs(out["value"] - out["double_constant"]["value"]) < 1e-7
    assert out["etf"]["etf_optimal"] is False
    assert math.isfinite(out["etf"]["excess"]) and out["etf"]["excess"] > 1e-3
    assert make_loss("siglip") == SigLIP(1.0, 0.0) == Config(N=4, d=4, loss="siglip").objective()   # one default


def test_config_refuses_loss_settings_that_would_fail_mid_run():
    with pytest.raises(ValueError, match="last batch of 1"):
        Config(N=7, d=7, B=3, methods=("dataloader",), loss="dcl")
    with pytest.raises(ValueError, match="streaming limit"):
        Config(N=40, d=40, B=8, methods=("shuffle",), loss="dhel")
    Config(N=40, d=40, B=8, methods=("shuffle",), loss="kcl")            # closed form: fine at any size


def test_siglip_runs_are_measured_against_siglip_optimum_not_the_etf():
    from simulations.train import target_gram
    from theory.siglip import siglip_optimum
    T = target_gram(6, 6, "auto", SigLIP(1.0, 0.0))
    opt = siglip_optimum(6, 1.0, 0.0)
    assert opt["structure"] == "interior" and T[0, 0] == pytest.approx(opt["alpha"]) and T[0, 1] == pytest.approx(opt["beta"])
    assert target_gram(6, 5, "auto", SigLIP(1.0, 0.0)) is None               # interior optimum needs d >= N
    assert np.allclose(target_gram(6, 5, "auto", SigLIP(0.1, -10.0)), target_gram(6, 5, "auto"))   # ETF regime


def test_sweep_grids_every_loss_over_its_own_parameters(tmp_path):
    from simulations.sweep import SweepSpec, run_sweep
    spec = SweepSpec(N=(5,), B=(3,), family=("all",), loss=("siglip", "kcl", "dcl"), tau=(1.0,), bias=(-1.0, 0.0),
                     kernel_t=(2.0,), gamma=(1.0, 16.0))
    assert len(spec.tasks()[0]) == 2 + 2 + 1                 # siglip x bias, kcl x gamma (no tau), dcl x tau
    res = run_sweep(spec, tmp_path / "s", scheduler="sequential")
    by = {(r["loss"], r.get("bias"), r.get("gamma")): r for r in res["rows"]}
    assert by[("siglip", 0.0, None)]["structure"] == "interior" and by[("siglip", 0.0, None)]["etf_optimal"] is False
    assert by[("siglip", -1.0, None)]["etf_optimal"] is True
    assert abs(by[("siglip", 0.0, None)]["value"] - by[("siglip", 0.0, None)]["closed_form"]) < 1e-7
    assert all(by[("kcl", None, g)]["etf_optimal"] for g in (1.0, 16.0)) and by[("dcl", None, None)]["etf_optimal"]
    with pytest.raises(ValueError, match="loss must hold names"):
        SweepSpec(loss=("clip",))
    with pytest.raises(ValueError, match="bias"):
        SweepSpec(loss=("siglip",), bias=(float("nan"),))
    with pytest.raises(ValueError, match="silently ignored"):
        SweepSpec(loss=("symmetric",), bias=(-10.0,))
    with pytest.raises(ValueError, match="silently ignored"):
        SweepSpec(loss=("kcl",), tau=(0.5,))
