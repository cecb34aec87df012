"""A loss defined outside the package (examples/plot_plugin_margin_infonce.py) works through every layer with no edit to the
package, and a wrong plugin is refused with a ValueError naming the loss and the problem (CLI: exit 2)."""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import simulations as sim
import theory as th
from helpers import unit_rows
from simulations.cli import main as cli_main
from theory import Family
from theory.losses import LOSSES, ops

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plot_plugin_margin_infonce.py"


@pytest.fixture
def registry():
    """Restore the loss registry after a test that registers losses."""
    before = dict(LOSSES)
    yield
    LOSSES.clear()
    LOSSES.update(before)


@pytest.fixture(scope="module")
def margin_loss():
    assert "margin_infonce" in th.load_plugin(PLUGIN) or "margin_infonce" in LOSSES
    return th.make_loss("margin_infonce", tau=0.5, margin=0.3)


def test_a_plugin_loss_gets_the_oracle_the_engine_and_equal_gradients(margin_loss):
    N = 7
    U, V = unit_rows(N, 4, 0), unit_rows(N, 4, 1)
    Ut, Vt = torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)
    for fam in (Family.all(N, 3), Family.random(N, 4, 6, seed=2), Family.mixture([Family.all(N, 2), Family.all(N, 4)], [1, 3])):
        want = th.objective(U, V, fam, margin_loss)
        got = sim.objective(Ut, Vt, fam, margin_loss)
        assert abs(float(got) - want) <= 1e-12 * abs(want)
        gU, gV = th.gradient(U, V, fam, margin_loss)                    # complex step: no gradient written
        tU, tV = torch.autograd.grad(got, (Ut, Vt))
        assert max(np.abs(gU - tU.numpy()).max(), np.abs(gV - tV.numpy()).max()) <= 1e-11


def test_a_plugin_loss_is_certified_and_its_etf_decided(margin_loss):
    fam = Family.all(6, 3)
    cert = th.certify(fam, margin_loss)
    W = th.simplex_etf(6, 5)
    assert cert.certified and cert.value <= th.objective(W, W, fam, margin_loss) + 1e-7
    dec = th.etf_is_optimal(fam, margin_loss, solver_check=True)
    assert dec.optimal is True and abs(dec.excess) < 1e-6                 # the relaxation agrees with the decision
    with pytest.raises(ValueError, match="margin"):
        th.make_loss("margin_infonce", margin=-1.0)


def test_cli_certify_and_sweep_take_a_plugin(tmp_path, capsys):
    assert cli_main(["certify", "--N", "5", "--B", "3", "--family", "all", "--plugin", str(PLUGIN),
                     "--loss", "margin_infonce", "--loss-param", "margin=0.2", "--tau", "0.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["certified"] and out["etf"]["etf_optimal"] is True and out["loss"].startswith("margin_infonce(")
    assert cli_main(["sweep", "--plugin", str(PLUGIN), "--loss", "margin_infonce", "--loss-param", "margin=0,0.5",
                     "--N", "5", "--B", "3", "--out", str(tmp_path / "s"), "--scheduler", "sequential", "--json"]) == 0
    rows = json.loads((tmp_path / "s" / "results.json").read_text())["rows"]
    assert sorted(r["margin"] for r in rows) == [0, 0.5] and all(r["etf_optimal"] for r in rows)
    assert cli_main(["certify", "--N", "5", "--plugin", str(tmp_path / "missing.py"), "--loss", "x"]) == 2


def _register(name, batch_losses, cls_name="Bad", **extra):
    ns = {"batch_losses": batch_losses, "__annotations__": {"tau": float}, "tau": 1.0, **extra}
    cls = dataclass(frozen=True)(type(cls_name, (th.Loss,), ns))
    return th.register_loss(name)(cls)


def test_a_wrong_plugin_is_refused_naming_the_loss_and_the_problem(registry):
    with pytest.raises(ValueError, match="'bad_shape'.*shape"):
        _register("bad_shape", lambda self, Z, idx: ops.namespace(Z).sum(Z, -1))          # (n, b), not (n,)
    with pytest.raises(ValueError, match="'bad_nan'.*NaN"):
        _register("bad_nan", lambda self, Z, idx: ops.namespace(Z).log(ops.namespace(Z).diagonal(Z) - 2)[..., 0])
    with pytest.raises(ValueError, match="already registered"):
        _register("infonce", lambda self, Z, idx: ops.namespace(Z).mean(ops.namespace(Z).diagonal(Z), -1))
    with pytest.raises(ValueError, match="frozen dataclass"):
        th.register_loss("not_a_dataclass")(type("Plain", (th.Loss,), {"batch_losses": lambda self, Z, idx: Z}))
    np_only = _register("numpy_only", lambda self, Z, idx: np.asarray(Z.detach() if hasattr(Z, "detach") else Z).mean((1, 2)))
    U = torch.tensor(unit_rows(5, 3, 0), requires_grad=True)
    with pytest.raises(ValueError, match="'numpy_only'.*torch input"):
        sim.objective(U, U, Family.all(5, 2), np_only())
    no_complex = _register("no_complex", lambda self, Z, idx: np.abs(Z).mean((1, 2)) if not hasattr(Z, "detach")
                           else Z.abs().mean((1, 2)))
    X = unit_rows(5, 3, 1)
    th.objective(X, X, Family.all(5, 2), no_complex())                   # the value is fine ...
    with pytest.raises(ValueError, match="'no_complex'"):
        th.gradient(X, X, Family.all(5, 2), no_complex())                # ... its derivative cannot be trusted
    with pytest.raises(ValueError, match="has no convex relaxation"):
        th.certify(Family.all(5, 2), no_complex())
    assert th.etf_is_optimal(Family.full(5), np_only()).optimal in (False, None)   # decided without a relaxation
