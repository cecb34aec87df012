"""iSogCLR (individual temperatures on the robust global contrastive objective) as an option of ``sogclr``: off, it
leaves SogCLR bit for bit unchanged; on, its expected step (with exact inner means) is the gradient of the full-batch
robust objective in the embeddings and in the temperatures (all C(N,B) batches against a float64 numpy reference
differentiated by the complex step); a short run lowers that objective with the temperatures in their bounds and
resumes exactly; losses without the structure, and out-of-range options, are refused (ValueError, CLI exit 2)."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar

import theory as th
from helpers import unit_rows
from simulations.cli import main as cli_main
from simulations.training.config import Config
from simulations.training.loop import train_run, without_timings
from simulations.training.sogclr import SogCLR, robust_objective, robust_profile

ROBUST_LOSSES = [("infonce", {"tau": 0.5}), ("infonce", {"tau": 0.4, "symmetric": False}),
                 ("dcl", {"tau": 0.5}), ("dcl", {"tau": 0.6, "negatives": "cross"})]


# ---------------------------------------------------------------- independent float64 references


def _differences(name, params, U, V):
    """The similarity differences h_i(j) = s_ij - s_ii of each anchor term, written out from the losses' definitions
    (InfoNCE: cross-view negatives, rows and columns; DCL 'both': both views of every other sample)."""
    S, UU, VV = U @ V.T, U @ U.T, V @ V.T
    N = len(U)
    both = name == "dcl" and params.get("negatives", "both") == "both"
    rows = np.array([[[S[i, j] - S[i, i]] + ([UU[i, j] - S[i, i]] if both else []) for j in range(N)]
                     for i in range(N)])
    if not params.get("symmetric", True):
        return [rows]
    cols = np.array([[[S[j, i] - S[i, i]] + ([VV[i, j] - S[i, i]] if both else []) for j in range(N)]
                     for i in range(N)])
    return [rows, cols]


def _phi_numpy(name, params, U, V, tau, rho):
    """Phi(U, V, tau) = (1/N) sum_k sum_i [tau_ki log mean_{j != i, m} exp(H_k[i, j, m] / tau_ki) + rho tau_ki]
    (no shift: analytic, so that the complex step differentiates it)."""
    N = len(U)
    total = 0
    for k, H in enumerate(_differences(name, params, U, V)):
        for i in range(N):
            vals = np.concatenate([H[i, j] for j in range(N) if j != i]) / tau[k, i]
            total = total + tau[k, i] * np.log(np.mean(np.exp(vals))) + rho * tau[k, i]
    return total / N


def _complex_step_gradient(f, x, h=1e-30):
    g = np.zeros(x.size)
    for a in range(x.size):
        xc = x.astype(complex).ravel()
        xc[a] += 1j * h
        g[a] = f(xc.reshape(x.shape)).imag / h
    return g


def _inner_means(name, params, U, V, tau):
    N = len(U)
    return np.array([[np.mean(np.concatenate([np.exp(H[i, j] / tau[k, i]) for j in range(N) if j != i]))
                      for i in range(N)] for k, H in enumerate(_differences(name, params, U, V))])


# ---------------------------------------------------------------- off: SogCLR unchanged


def _sogclr_before_isogclr(rule_u, loss, U, V, b, N, gamma):
    """SogCLR's anchor-form surrogate as it was before individual temperatures existed (the reference for the
    option-off path): returns (value, new u)."""
    Ub, Vb = U[b], V[b]
    Z = Ub @ Vb.T
    UU, VV = (Ub @ Ub.T, Vb @ Vb.T) if loss.needs_self_grams else (None, None)
    B = len(b)
    if loss.has_pair_form:
        D, O, coef = loss.pair_form(Z, UU, VV)
        a, c = coef(N)
        return a * N / B * D.sum() + c * N * (N - 1) / (B * (B - 1)) * O.sum(), rule_u
    terms = loss.anchor_form(Z, UU, VV)
    off = ~torch.eye(B, dtype=torch.bool)
    if rule_u is None:
        rule_u = torch.full((len(terms), N), float("nan"), dtype=U.dtype)
    total = 0.0
    for k, (X, eps) in enumerate(terms):
        ghat = (torch.exp(X).sum(-1) * off).sum(1) / (B - 1)
        g = ghat.detach()
        old = rule_u[k, b]
        new = torch.where(torch.isnan(old), g, (1 - gamma) * old + gamma * g)
        rule_u[k, b] = new
        total = total + ((N - 1) / (eps + (N - 1) * new) * ghat).sum()
    return total / B, rule_u


@pytest.mark.parametrize("name,params", [("infonce", {}), ("dcl", {}), ("dhel", {}), ("siglip", {})])
def test_fixed_temperatures_leave_the_sogclr_update_bitwise_unchanged(name, params):
    loss = th.make_loss(name, **params)
    N, B, gamma = 6, 3, 0.7
    rng = np.random.default_rng(3)
    U, V = torch.tensor(unit_rows(N, 4, 0)), torch.tensor(unit_rows(N, 4, 1))
    rule = SogCLR(loss, N, B, gamma, temperatures="fixed", rho=2.0, eta=0.5, beta=0.3, tau_min=0.01, tau_max=9.0)
    ref_u = None
    for _ in range(8):
        b = torch.tensor(rng.choice(N, B, replace=False))
        Ua, Va = U.clone().requires_grad_(True), V.clone().requires_grad_(True)
        got = torch.autograd.grad(rule.surrogate(Ua, Va, b[None, :]), (Ua, Va))
        Ub, Vb = U.clone().requires_grad_(True), V.clone().requires_grad_(True)
        val, ref_u = _sogclr_before_isogclr(ref_u, loss, Ub, Vb, b, N, gamma)
        want = torch.autograd.grad(val, (Ub, Vb))
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert rule.tau is None and set(rule.state()) == {"u"}
    if ref_u is not None:
        assert torch.equal(rule.u, ref_u)


def test_fixed_temperatures_leave_the_logged_rows_bitwise_unchanged():
    base = dict(N=6, d=3, B=3, methods=("shuffle", "sogclr"), steps=3, loss="dcl")
    plain = train_run(Config(**base), "sogclr", 0)["rows"]
    other = train_run(Config(**base, sogclr_temperatures="fixed", sogclr_rho=1.0, sogclr_eta=0.2, sogclr_beta=0.5,
                             sogclr_tau_min=0.01, sogclr_tau_max=5.0), "sogclr", 0)["rows"]
    assert without_timings(plain) == without_timings(other)
    assert not any(k.startswith("robust") for k in plain[-1])


# ---------------------------------------------------------------- the objective and the unbiased step


@pytest.mark.parametrize("name,params", ROBUST_LOSSES)
def test_robust_objective_matches_the_numpy_reference(name, params):
    loss = th.make_loss(name, **params)
    N = 6
    U, V = unit_rows(N, 4, 0), unit_rows(N, 4, 1)
    K = 2 if params.get("symmetric", True) else 1
    tau = np.random.default_rng(1).uniform(0.1, 0.9, (K, N))
    got = float(robust_objective(torch.tensor(U), torch.tensor(V), loss, torch.tensor(tau), rho=0.4))
    assert got == pytest.approx(_phi_numpy(name, params, U, V, tau, 0.4), rel=1e-13)


@pytest.mark.parametrize("rho", [0.0, 0.3, 6.0])
def test_robust_profile_is_the_minimum_over_the_temperatures(rho):
    """Against scipy's bounded scalar minimizer on each anchor's term of the numpy reference; rho = 6 exceeds every
    reachable KL (log(N-1) = log 5) so the minimizer is tau_min in closed form."""
    name, params = "infonce", {"tau": 0.5}
    loss = th.make_loss(name, **params)
    N, lo, hi = 6, 0.05, 0.7
    U, V = unit_rows(N, 4, 2), unit_rows(N, 4, 3)
    val, tau = robust_profile(torch.tensor(U), torch.tensor(V), loss, rho, lo, hi)
    assert bool(((tau >= lo) & (tau <= hi)).all())
    ref = 0.0
    for k in range(2):
        for i in range(N):
            def term(t, k=k, i=i):
                T = np.full((2, N), 0.5)
                T[k, i] = t
                H = _differences(name, params, U, V)[k]
                vals = np.concatenate([H[i, j] for j in range(N) if j != i]) / t
                return t * (np.log(np.mean(np.exp(vals - vals.max()))) + vals.max()) + rho * t
            r = minimize_scalar(term, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
            best = min(r.fun, term(lo), term(hi))
            assert term(float(tau[k, i])) <= best + 1e-12
            ref += best / N
    assert float(val) == pytest.approx(ref, rel=1e-10)
    if rho == 6.0:
        assert torch.equal(tau, torch.full_like(tau, lo))


@pytest.mark.parametrize("name,params", ROBUST_LOSSES)
@pytest.mark.parametrize("N,B", [(5, 2), (6, 3)])
def test_isogclr_expected_step_is_the_gradient_of_the_robust_objective(name, params, N, B):
    """With u at the exact inner means g_ki(w; tau) (gamma ~ 0 keeps it there), the average over all C(N,B) batches of
    the embeddings' direction m and of the temperatures' direction (1/B) sum_{i in S} G_ki e_ki equals grad Phi; beta = 1
    makes the stored gradient average the batch's G itself."""
    loss = th.make_loss(name, **params)
    rho = 0.3
    U, V = unit_rows(N, 3, 4), unit_rows(N, 3, 5)
    K = 2 if params.get("symmetric", True) else 1
    tau = np.random.default_rng(2).uniform(0.2, 0.9, (K, N))
    rule = SogCLR(loss, N, B, gamma=1e-300, temperatures="individual", rho=rho, eta=1.0, beta=1.0, tau_min=1e-3,
                  tau_max=1e3)
    exact = _inner_means(name, params, U, V, tau)
    dirs = []
    for S in itertools.combinations(range(N), B):
        rule.u, rule.tau, rule.grad_tau = torch.tensor(exact), torch.tensor(tau), torch.zeros(K, N, dtype=torch.float64)
        Ut, Vt = torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)
        gU, gV = torch.autograd.grad(rule.surrogate(Ut, Vt, torch.tensor(S)[None, :]), (Ut, Vt))
        dtau = np.zeros((K, N))
        dtau[:, list(S)] = rule.grad_tau[:, list(S)].numpy() / B
        dirs.append(np.concatenate([gU.numpy().ravel(), gV.numpy().ravel(), dtau.ravel()]))
    n = U.size
    want = np.concatenate([
        _complex_step_gradient(lambda x: _phi_numpy(name, params, x, V, tau, rho), U),
        _complex_step_gradient(lambda x: _phi_numpy(name, params, U, x, tau, rho), V),
        _complex_step_gradient(lambda x: _phi_numpy(name, params, U, V, x, rho), tau)])
    got = np.mean(dirs, 0)
    np.testing.assert_allclose(got[:2 * n], want[:2 * n], rtol=1e-10, atol=1e-12 * np.abs(want[:2 * n]).max())
    np.testing.assert_allclose(got[2 * n:], want[2 * n:], rtol=1e-10, atol=1e-12 * np.abs(want[2 * n:]).max())


def test_robust_form_is_the_anchor_form_times_the_temperature(loss):
    """Every loss that has the capability: its differences over its tau are its anchor_form's exponents."""
    N = 6
    U, V = unit_rows(N, 4, 0), unit_rows(N, 4, 1)
    form = loss.robust_form(U @ V.T, U @ U.T, V @ V.T)
    if form is None:
        return
    tau, terms = form
    anchors = loss.anchor_form(U @ V.T, U @ U.T, V @ V.T)
    assert len(terms) == len(anchors)
    off = ~np.eye(N, dtype=bool)
    for H, (X, _) in zip(terms, anchors):
        np.testing.assert_allclose((H / tau)[off], X[off], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- runs


def _cfg(**kw):
    base = dict(N=6, d=5, B=3, methods=("sogclr",), steps=30, lr=0.5, loss="infonce", loss_params=(("tau", 0.5),),
                log_every=30, sogclr_temperatures="individual", sogclr_eta=0.05, sogclr_tau_min=0.2,
                sogclr_tau_max=0.6)
    return Config(**{**base, **kw})


def test_a_short_isogclr_run_lowers_the_robust_objective_with_tau_in_its_bounds():
    res = train_run(_cfg(), "sogclr", 0)
    first, last = res["rows"][0], res["rows"][-1]
    assert last["robust_objective"] < first["robust_objective"]
    assert last["robust_profile"] < first["robust_profile"]
    assert last["robust_profile"] <= last["robust_objective"] + 1e-12
    tau = res["tau"]
    assert tau.shape == (2, 6) and np.all((tau >= 0.2) & (tau <= 0.6))
    assert np.abs(tau - 0.5).max() > 1e-3                      # the temperatures moved


def test_a_resumed_isogclr_run_restores_the_temperatures(tmp_path):
    cfg = _cfg(steps=6, checkpoint_every=3, log_every=1)
    full = train_run(cfg, "sogclr", 0)
    train_run(Config(**{**cfg.to_json(), "steps": 3}), "sogclr", 0, checkpoint=tmp_path / "c.ckpt")
    state = torch.load(tmp_path / "c.ckpt", weights_only=False)["rule"]
    assert set(state) == {"u", "tau", "grad_tau"} and not torch.all(state["tau"] == 0.5)
    resumed = train_run(cfg, "sogclr", 0, checkpoint=tmp_path / "c.ckpt")
    assert np.array_equal(full["tau"], resumed["tau"]) and np.array_equal(full["U"], resumed["U"])
    assert without_timings(full["rows"]) == without_timings(resumed["rows"])


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("kw,msg", [
    ({"loss": "siglip", "loss_params": ()}, "robust_form"),
    ({"loss": "dhel", "loss_params": (("tau", 0.5),)}, "robust_form"),
    ({"loss_params": (("tau", 1.0),)}, "sogclr_tau_min, sogclr_tau_max"),
    ({"sogclr_temperatures": "global"}, "sogclr_temperatures"),
    ({"sogclr_rho": -0.1}, "sogclr_rho"),
    ({"sogclr_eta": 0.0}, "sogclr_eta"),
    ({"sogclr_beta": 1.5}, "sogclr_beta"),
    ({"sogclr_tau_min": 0.7, "sogclr_tau_max": 0.6}, "sogclr_tau_min"),
    ({"sogclr_tau_max": math.inf}, "sogclr_tau_max"),
])
def test_config_refuses_what_isogclr_cannot_run(kw, msg):
    with pytest.raises(ValueError, match=msg.replace("[", r"\[")):
        _cfg(**kw)


@pytest.mark.parametrize("extra,msg", [
    (["--loss", "siglip"], "robust_form"),
    (["--loss", "dhel", "--tau", "0.5"], "robust_form"),
    ([], "sogclr_tau_max"),                                   # InfoNCE's default tau = 1 is above tau_max = 0.7
    (["--tau", "0.5", "--sogclr-rho", "-1"], "sogclr_rho"),
    (["--tau", "0.5", "--sogclr-eta", "0"], "sogclr_eta"),
    (["--tau", "0.5", "--sogclr-beta", "0"], "sogclr_beta"),
    (["--tau", "0.5", "--sogclr-tau-min", "0"], "sogclr_tau_min"),
])
def test_cli_refusals_exit_2_saying_why(extra, msg, capsys):
    rc = cli_main(["simulate", "--N", "6", "--d", "3", "--B", "3", "--epochs", "2", "--methods", "sogclr",
                   "--sogclr-temperatures", "individual", *extra])
    assert rc == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err


def test_cli_refuses_an_unknown_temperature_scheme(capsys):
    rc = cli_main(["simulate", "--N", "6", "--d", "3", "--B", "3", "--epochs", "2", "--methods", "sogclr",
                   "--sogclr-temperatures", "learned"])
    assert rc == 2 and "sogclr_temperatures" in capsys.readouterr().err


@pytest.mark.parametrize("symmetric", [True, False])
def test_the_etf_attains_the_robust_objectives_lower_bound(symmetric):
    """The proposition of docs/theory/selection.md (3.1): Phi >= K (rho tau_min - N/(N-1)) for InfoNCE's robust form,
    with equality at U = V = a simplex ETF; random configurations stay above it."""
    N, rho, lo, hi = 6, 0.3, 0.05, 0.7
    loss = th.make_loss("infonce", tau=0.5, symmetric=symmetric)
    K = 2 if symmetric else 1
    bound = K * (rho * lo - N / (N - 1))
    E = torch.tensor(th.simplex_etf(N, N - 1))
    val, tau = robust_profile(E, E, loss, rho, lo, hi)
    assert float(val) == pytest.approx(bound, abs=1e-12)
    for seed in range(20):
        U, V = torch.tensor(unit_rows(N, 5, seed)), torch.tensor(unit_rows(N, 5, seed + 100))
        assert float(robust_profile(U, V, loss, rho, lo, hi)[0]) > bound


# ---------------------------------------------------------------- LibAUC's GCLoss_v2 step, from its formulas


def _libauc_v2_run(U, V, batches, tau0, opts):
    """LibAUC ``GCLoss_v2(temperature_scheme='individual_learnable')`` written out in numpy from its formulas: per
    direction (image rows, text columns) a running shift ``b``, the estimate ``u`` stored shifted, ``gamma = 1`` on a
    batch whose ``u`` are all 0, the temperature gradient ``G = log u + rho + b - sum_j p_ij X_ij / (B-1)`` averaged
    with ``beta`` and a clipped step; the embeddings' gradient of ``(image_loss + text_loss) / 2``, each the batch mean
    of ``sum_j p_ij (s_ij - s_ii) / (B-1)`` with ``p`` constant. Returns per step (true-scale u, tau, tau-gradient
    average, dU, dV)."""
    N = len(U)
    u, b = np.zeros((2, N)), np.zeros((2, N))
    t, g = np.full((2, N), tau0), np.zeros((2, N))
    out = []
    for idx in batches:
        Ub, Vb = U[idx], V[idx]
        B = len(idx)
        S = Ub @ Vb.T
        H = [S - np.diag(S)[:, None], S.T - np.diag(S)[:, None]]
        P = []
        for k in range(2):
            X = H[k] / t[k, idx][:, None]
            old_b = b[k, idx].copy()
            new_b = np.maximum(X, old_b[:, None]).max(1)
            E = np.exp(X - new_b[:, None]) * (1 - np.eye(B))
            gam = 1.0 if u[k, idx].sum() == 0 else opts["gamma"]
            un = (1 - gam) * u[k, idx] * np.exp(old_b - new_b) + gam * E.sum(1) / (B - 1)
            b[k, idx], u[k, idx] = new_b, un
            P.append(E / un[:, None])
            G = np.log(un) + opts["rho"] + new_b - (P[k] * X).sum(1) / (B - 1)
            g[k, idx] = (1 - opts["beta"]) * g[k, idx] + opts["beta"] * G
            t[k, idx] = np.clip(t[k, idx] - opts["eta"] * g[k, idx], opts["tau_min"], opts["tau_max"])
        Pi, Pt = P
        dU, dV = np.zeros_like(U), np.zeros_like(V)     # d/dU, d/dV of (sum_ij Pi_ij H0_ij + sum_ij Pt_ij H1_ij)/(2B)
        dU[idx] = (Pi @ Vb - Pi.sum(1)[:, None] * Vb + Pt.T @ Vb - Pt.sum(1)[:, None] * Vb) / (2 * B)
        dV[idx] = (Pi.T @ Ub - Pi.sum(1)[:, None] * Ub + Pt @ Ub - Pt.sum(1)[:, None] * Ub) / (2 * B)
        out.append((u * np.exp(b), t.copy(), g.copy(), dU, dV))
    return out


@pytest.mark.parametrize("N,B", [(8, 4), (6, 2)])
def test_isogclr_is_libaucs_gcloss_v2_step_up_to_the_stated_lr_factor(N, B):
    opts = dict(gamma=0.9, rho=0.3, eta=0.05, beta=0.9, tau_min=0.05, tau_max=0.7)
    rng = np.random.default_rng(3)
    U, V = unit_rows(N, 4, seed=3), unit_rows(N, 4, seed=4)
    batches = [np.sort(p[a:a + B]) for p in (rng.permutation(N) for _ in range(3)) for a in range(0, N, B)]
    ref = _libauc_v2_run(U, V, batches, 0.5, opts)
    rule = SogCLR(th.make_loss("infonce", tau=0.5), N, B, temperatures="individual", **opts)
    for idx, (u, t, g, dU, dV) in zip(batches, ref):
        Ut, Vt = torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)
        gU, gV = torch.autograd.grad(rule.surrogate(Ut, Vt, torch.tensor(idx)[None, :]), (Ut, Vt))
        np.testing.assert_allclose((B - 1) / 2 * gU.numpy(), dU, atol=1e-13)
        np.testing.assert_allclose((B - 1) / 2 * gV.numpy(), dV, atol=1e-13)
        seen = ~np.isnan(rule.u.numpy())
        np.testing.assert_allclose(rule.u.numpy()[seen], u[seen], rtol=1e-12)
        np.testing.assert_allclose(rule.tau.numpy(), t, atol=1e-13)
        np.testing.assert_allclose(rule.grad_tau.numpy(), g, atol=1e-12)
