"""Batch selection, spectral clustering, the training loop, experiments and the CLI."""
import json
import subprocess
import sys

import numpy as np
import pytest

from simulations.training.loop import without_timings
import torch

from helpers import unit_rows
from theory import Family, batch_values as oracle_losses, etf_gram
from simulations import Config, SelectorSampler, make_selector, osgd_batch, simulate, spectral_partition
from simulations.engine._infonce import affinity, pair_losses
from simulations.io import read_csv, read_json
from simulations.cli import main as cli_main
from simulations.engine import sc_affinity


@pytest.mark.parametrize("N,B", [(7, 2), (8, 3), (9, 4)])
def test_osgd_returns_the_true_argmax_batch(N, B):
    for seed in range(3):
        U, V = unit_rows(N, 3, seed), unit_rows(N, 3, seed + 10)
        losses = oracle_losses(U, V, Family.all(N, B), "infonce")
        best = Family.all(N, B).batches[int(np.argmax(losses))]
        got = osgd_batch(torch.tensor(U), torch.tensor(V), B)
        assert sorted(got.tolist()) == sorted(best.tolist())


@pytest.mark.parametrize("N,B", [(8, 2), (12, 3), (16, 4), (64, 8)])
def test_spectral_partition_is_a_valid_seeded_partition(N, B):
    U, V = torch.tensor(unit_rows(N, 5, 0)), torch.tensor(unit_rows(N, 5, 1))
    P = spectral_partition(U, V, B, seed=3)
    assert P.shape == (N // B, B) and sorted(P.flatten().tolist()) == list(range(N))
    assert torch.equal(P, spectral_partition(U, V, B, seed=3))


def test_spectral_affinity_for_pairs_is_twice_the_pair_loss():
    U, V = torch.tensor(unit_rows(10, 3, 0)), torch.tensor(unit_rows(10, 3, 1))
    A = affinity(U, V, 2, 1.0)
    P = pair_losses(U @ V.T, "symmetric")
    off = ~torch.eye(10, dtype=torch.bool)
    assert torch.allclose(A[off], 2 * P[off], atol=1e-12)
    assert torch.equal(sc_affinity(U, V, 2, "infonce"), A)          # the affinity spectral_partition uses


def test_spectral_partition_finds_planted_high_loss_batches():
    # pairs (2k, 2k+1) are placed at the same point: their pair loss is the largest possible
    N, B = 16, 2
    base = unit_rows(N // 2, 8, 0)
    U = torch.tensor(np.repeat(base, 2, axis=0))
    P = spectral_partition(U, U, B, seed=0)
    assert sorted(tuple(sorted(b)) for b in P.tolist()) == [(2 * k, 2 * k + 1) for k in range(N // 2)]


def test_every_selector_yields_the_right_number_of_valid_updates():
    N, B = 8, 2
    U, V = torch.tensor(unit_rows(N, 4, 0)), torch.tensor(unit_rows(N, 4, 1))
    for m in ("full", "all", "fixed", "shuffle", "replace", "osgd", "sc"):
        sel = make_selector(m, N, B, seed=0)
        targets = list(sel.epoch(lambda: (U, V)))
        assert len(targets) == sel.updates_per_epoch()
        for t in targets:
            if isinstance(t, Family):
                continue
            assert t.shape[1] == B and len(set(t.flatten().tolist())) == B
    osgd = make_selector("osgd", N, B, seed=0, candidates=5, top=2)
    assert all(t.shape == (2, B) for t in osgd.epoch(lambda: (U, V)))


def test_fixed_partition_is_fixed_and_shuffle_changes():
    fixed, shuf = make_selector("fixed", 8, 2, seed=0), make_selector("shuffle", 8, 2, seed=0)
    e = lambda: None  # noqa: E731
    a = [t.tolist() for t in fixed.epoch(e)]
    assert a == [t.tolist() for t in fixed.epoch(e)]
    assert [t.tolist() for t in shuf.epoch(e)] != [t.tolist() for t in shuf.epoch(e)]


def test_selector_works_as_a_torch_batch_sampler():
    N, B = 8, 2
    U, V = torch.tensor(unit_rows(N, 4, 0)), torch.tensor(unit_rows(N, 4, 1))
    data = torch.utils.data.TensorDataset(torch.arange(N))
    loader = torch.utils.data.DataLoader(data, batch_sampler=SelectorSampler(make_selector("sc", N, B), lambda: (U, V)))
    seen = sorted(i for (batch,) in loader for i in batch.tolist())
    assert seen == list(range(N)) and len(loader) == N // B


def test_same_seed_same_trajectory():
    cfg = Config(N=6, d=3, B=2, methods=("shuffle", "sc", "osgd"), steps=5, seeds=(3,))
    a, b = simulate(cfg), simulate(cfg)
    assert without_timings(a["rows"]) == without_timings(b["rows"])
    assert np.array_equal(a["final"]["shuffle_s3"]["U"], b["final"]["shuffle_s3"]["U"])


def test_full_batch_gd_reaches_the_etf_when_d_is_large():
    res = simulate(Config(N=4, d=8, B=2, methods=("full",), steps=400, lr=2.0, seeds=(0,)))
    U, V = res["final"]["full_s0"]["U"], res["final"]["full_s0"]["V"]
    assert np.linalg.norm(U @ V.T - etf_gram(4)) < 1e-3


def test_fixed_partition_drives_partner_inner_products_to_minus_one():
    res = simulate(Config(N=6, d=8, B=2, methods=("fixed",), steps=300, lr=2.0, seeds=(0,)))
    U, V = res["final"]["fixed_s0"]["U"], res["final"]["fixed_s0"]["V"]
    sel = make_selector("fixed", 6, 2, seed=0 + 7919)          # the run's partition
    part = [t[0].tolist() for t in sel.epoch(lambda: None)]
    for i, j in part:
        assert U[i] @ U[j] < -0.99 and V[i] @ V[j] < -0.99


def test_results_folder_is_complete_and_resumable(tmp_path):
    cfg = Config(N=4, d=2, B=2, methods=("shuffle", "osgd"), steps=4, seeds=(0, 1), checkpoint_every=2)
    out = tmp_path / "run"
    first = simulate(cfg, out)
    for f in ("config.json", "metrics.csv", "final_embeddings.npz", "summary.json"):
        assert (out / f).stat().st_size > 0
    assert read_json(out / "config.json")["N"] == 4
    rows = read_csv(out / "metrics.csv")
    assert len(rows) == 2 * 2 * 5 and {"full_loss", "all_loss", "gram_distance", "grad_norm", "updates"} <= set(rows[0])
    with pytest.raises(ValueError, match="resume"):
        simulate(cfg, out)
    again = simulate(cfg, out, resume=True)
    assert again["summary"] == first["summary"]
    # an interrupted run resumes from its checkpoint and ends where an uninterrupted run ends
    (out / "runs" / "osgd_s1.csv").unlink()
    from simulations.training.loop import train_run
    half = Config(**{**cfg.to_json(), "steps": 2})
    train_run(half, "osgd", 1, checkpoint=out / "runs" / "osgd_s1.ckpt")
    assert (out / "runs" / "osgd_s1.ckpt").exists()
    resumed = simulate(cfg, out, resume=True)
    assert resumed["summary"] == first["summary"]


@pytest.mark.parametrize("kwargs,msg", [
    (dict(N=4, d=2, B=5), "B"),
    (dict(N=5, d=2, B=2, methods=("fixed",)), "divide"),
    (dict(N=4, d=2, lr=0), "lr"),
    (dict(N=4, d=2, methods=("nope",)), "unknown method"),
    (dict(N=4, d=2, device="cuda"), "CUDA"),
    (dict(N=4, d=0), "d"),
    (dict(N=4, d=2, steps=0), "steps"),
    (dict(N=4, d=3, init="angles", init_angles_deg=(0, 1, 2, 3)), "d = 2"),
    (dict(N=256, d=2, B=32, methods=("osgd",)), "osgd_candidates"),
    (dict(N=8, d=2, B=2, osgd_candidates=10, osgd_top=11), "osgd_top"),
])
def test_bad_configs_fail_before_any_work(kwargs, msg):
    if msg == "CUDA" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError) as exc:
        Config(**kwargs)
    assert msg in str(exc.value)


def test_cli_certify_and_simulate_json(tmp_path, capsys):
    assert cli_main(["certify", "--N", "7", "--B", "3", "--family", "fano", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "optimal" and abs(out["value"] - 0.968314) < 1e-6
    assert cli_main(["simulate", "--N", "4", "--d", "2", "--methods", "full,shuffle", "--epochs", "3",
                     "--seeds", "0,1", "--out", str(tmp_path / "s"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["summary"]) == {"full", "shuffle"} and set(out["summary"]["full"]) == {"0", "1"}
    assert cli_main(["simulate", "--N", "5", "--d", "2", "--methods", "fixed", "--epochs", "1"]) == 2
    assert "divide" in capsys.readouterr().err
    assert cli_main(["claims", "--only", "not_proportional", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdicts"][0]["id"] == "not_proportional" and out["verdicts"][0]["verdict"] == "confirmed"


@pytest.mark.slow
def test_console_script_help_runs():
    r = subprocess.run([sys.executable, "-m", "simulations.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "reproduce" in r.stdout
