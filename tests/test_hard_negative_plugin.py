"""The hard-negative loss of Robinson et al. (examples/plot_hard_negative_plugin.py), a plugin: it is InfoNCE at
beta = 0, tau_plus = 0; the numpy oracle, the torch engine and the complex-step gradient agree at beta > 0; its
floor binds at the ETF for tau_plus > 0 (the ETF then meets the elementary lower bound); bad parameters are refused
by name; it has no convex relaxation, so certify refuses it (CLI: exit 2)."""
from pathlib import Path

import numpy as np
import pytest
import torch

import simulations as sim
import theory as th
from helpers import unit_rows
from simulations.cli import main as cli_main
from theory import Family
from theory.losses import LOSSES

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plot_hard_negative_plugin.py"
FAMILIES = (Family.all(6, 3), Family.full(6), Family.random(6, 4, 5, seed=3))


@pytest.fixture(scope="module")
def make():
    assert "hard_negative" in th.load_plugin(PLUGIN) or "hard_negative" in LOSSES
    return lambda **p: th.make_loss("hard_negative", **p)


def _slow_reference(U, V, family, tau, beta, tau_plus):
    """Anchor by anchor with Python floats, straight from the published estimator (no logsumexp, no reuse)."""
    total = weight = 0.0
    for S, w in family.weighted_chunks(10**6):
        for batch, wb in zip(S, np.broadcast_to(w, (S.shape[0],))):
            for A, Bm in ((U, V), (V, U)):                 # rows: u_i against v_j; columns: v_i against u_j
                m = len(batch) - 1
                for i in batch:
                    pos = np.exp(A[i] @ Bm[i] / tau)
                    negs = [np.exp(A[i] @ Bm[j] / tau) for j in batch if j != i]
                    imp = [n ** beta for n in negs]
                    reweight = sum(a * n for a, n in zip(imp, negs)) / (sum(imp) / m)
                    Ng = max((reweight - tau_plus * m * pos) / (1 - tau_plus), m * np.exp(-1 / tau))
                    total += wb * -np.log(pos / (pos + Ng)) / len(batch)
            weight += wb
    return total / weight


def test_hard_negative_is_infonce_at_beta_0_and_tau_plus_0(make):
    U, V = unit_rows(6, 4, 0), unit_rows(6, 4, 1)
    Ut, Vt = torch.tensor(U), torch.tensor(V)
    for tau in (0.2, 1.0):
        hard, info = make(tau=tau, beta=0.0, tau_plus=0.0), th.make_loss("infonce", tau=tau)
        for fam in FAMILIES:
            want = th.objective(U, V, fam, info)
            assert abs(th.objective(U, V, fam, hard) - want) <= 1e-12 * abs(want)
            assert abs(float(sim.objective(Ut, Vt, fam, hard)) - want) <= 1e-12 * abs(want)


@pytest.mark.parametrize("beta,tau_plus", [(1.0, 0.0), (2.0, 0.1), (0.5, 0.3)])
def test_oracle_engine_and_a_slow_reference_agree_at_beta_above_0(make, beta, tau_plus):
    U, V = unit_rows(6, 4, 2), unit_rows(6, 4, 3)
    loss = make(tau=0.5, beta=beta, tau_plus=tau_plus)
    for fam in FAMILIES:
        want = _slow_reference(U, V, fam, 0.5, beta, tau_plus)
        assert abs(th.objective(U, V, fam, loss) - want) <= 1e-12 * abs(want)
        assert abs(float(sim.objective(torch.tensor(U), torch.tensor(V), fam, loss)) - want) <= 1e-12 * abs(want)
    assert th.objective(U, V, FAMILIES[1], loss) != th.objective(U, V, FAMILIES[1], make(tau=0.5, beta=0.0))


@pytest.mark.parametrize("beta,tau_plus", [(0.0, 0.0), (1.0, 0.0), (2.0, 0.1)])
def test_complex_step_gradient_equals_autograd_through_the_engine(make, beta, tau_plus):
    U, V = unit_rows(6, 4, 4), unit_rows(6, 4, 5)
    loss = make(tau=0.5, beta=beta, tau_plus=tau_plus)
    for fam in FAMILIES:
        Ut, Vt = torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)
        tU, tV = torch.autograd.grad(sim.objective(Ut, Vt, fam, loss), (Ut, Vt))
        gU, gV = th.gradient(U, V, fam, loss)
        scale = max(np.abs(tU.numpy()).max(), np.abs(tV.numpy()).max())
        assert max(np.abs(gU - tU.numpy()).max(), np.abs(gV - tV.numpy()).max()) <= 1e-11 * scale


def test_with_tau_plus_the_floor_binds_at_the_etf_which_meets_the_lower_bound(make):
    """At the ETF every negative logit is -1/((N-1) tau): for tau = 0.5, tau_plus = 0.1 the debiased estimate is
    below the floor m e^{-1/tau}, so each anchor term is log(1 + m e^{-2/tau}), the loss's lower bound on the sphere;
    the floor is a constant, so the gradient with respect to every negative inner product is exactly zero."""
    N, tau = 6, 0.5
    W = th.simplex_etf(N, N - 1)
    loss = make(tau=tau, beta=1.0, tau_plus=0.1)
    for fam, m in ((Family.all(N, 3), 2), (Family.full(N), N - 1)):
        bound = 2 * np.log1p(m * np.exp(-2 / tau))
        assert abs(th.objective(W, W, fam, loss) - bound) <= 1e-14 * bound
        Z = torch.tensor(W @ W.T, requires_grad=True)
        S = np.concatenate([S for S, _ in fam.weighted_chunks(10**6)])
        blocks = Z[torch.tensor(S)[:, :, None], torch.tensor(S)[:, None, :]]
        (gZ,) = torch.autograd.grad(loss.batch_losses(blocks, S).sum(), (Z,))
        off = ~np.eye(N, dtype=bool)
        assert np.all(gZ.numpy()[off] == 0) and np.all(np.diag(gZ.numpy()) < 0)
    # the bound is strict elsewhere
    U, V = unit_rows(N, N - 1, 6), unit_rows(N, N - 1, 7)
    assert th.objective(U, V, Family.full(N), loss) > 2 * np.log1p((N - 1) * np.exp(-2 / tau))


@pytest.mark.parametrize("param,value", [("tau", 0.0), ("tau", -1.0), ("tau", float("nan")), ("beta", -0.5),
                                         ("beta", float("inf")), ("tau_plus", 1.0), ("tau_plus", -0.1),
                                         ("tau_plus", True), ("beta", "1")])
def test_bad_parameters_are_refused_naming_the_parameter(make, param, value):
    with pytest.raises(ValueError, match=rf"'hard_negative': {param} must be"):
        make(**{param: value})


def test_certify_refuses_the_loss_it_cannot_relax_and_the_cli_exits_2(make, capsys):
    loss = make(tau=0.5, beta=1.0)
    with pytest.raises(ValueError, match="has no convex relaxation"):
        th.certify(Family.all(6, 3), loss)
    dec = th.etf_is_optimal(Family.all(6, 3), loss)          # stationary by symmetry, nothing more to decide with
    assert dec.optimal is None and dec.gradient_ratio < 1e-12
    assert cli_main(["certify", "--N", "6", "--B", "3", "--family", "all", "--plugin", str(PLUGIN),
                     "--loss", "hard_negative", "--loss-param", "beta=1"]) == 2
    assert "'hard_negative' has no convex relaxation" in capsys.readouterr().err


def test_etf_decision_names_an_exactly_zero_negative_gradient_not_an_underflow(make):
    loss = make(tau=0.5, beta=1.0, tau_plus=0.1)            # the floor binds at the ETF: negatives get no gradient
    with pytest.raises(ValueError, match="exactly zero on some covered pair"):
        th.etf_is_optimal(Family.full(6), loss)
    with pytest.raises(ValueError, match="underflows"):      # a genuine underflow is still called one
        th.etf_is_optimal(Family.full(6), th.make_loss("infonce", tau=1e-4))
