"""Selection methods beyond the paper (matching, kmeans, jest, rho) and the SogCLR update: exact against brute force
and independent re-derivations, unbiased where they claim it, runnable through Config, simulate and the CLI, and
refused with exit 2 where they do not apply."""
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import theory as th
from helpers import unit_rows
from simulations.cli import main as cli_main
from simulations.engine import batch_values, objective, pair_loss_matrix
from simulations.runtime.simulate import simulate
from simulations.selection import make_selector
from simulations.selection.kmeans import kmeans_partition
from simulations.selection.learnability import Learnability, jest_select, rho_select
from simulations.selection.matching import matching_weight, max_loss_matching
from simulations.training.config import Config
from simulations.training.sogclr import SogCLR, sogclr_form
from theory import Family

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plot_plugin_margin_infonce.py"


def _perfect_matchings(items):
    if not items:
        yield []
        return
    a, rest = items[0], items[1:]
    for k, b in enumerate(rest):
        for m in _perfect_matchings(rest[:k] + rest[k + 1:]):
            yield [(a, b)] + m


def _brute_force_best(W):
    return max(sum(W[a, b] for a, b in m) for m in _perfect_matchings(list(range(W.shape[0]))))


@pytest.mark.parametrize("N", [2, 4, 6, 8, 10])
def test_matching_is_the_maximum_over_all_perfect_matchings(N):
    rng = np.random.default_rng(N)
    for trial in range(3):
        A = rng.standard_normal((N, N))
        W = A + A.T
        if trial == 2:
            W = np.round(W)                              # many ties
        pairs = max_loss_matching(W, generator=torch.Generator().manual_seed(trial))
        assert sorted(pairs.reshape(-1).tolist()) == list(range(N))
        assert matching_weight(W, pairs) == pytest.approx(_brute_force_best(W), abs=1e-12)


def test_matching_on_pair_losses_is_the_best_b2_partition_by_enumeration(loss):
    if loss.min_batch > 2:
        pytest.skip("needs B = 2 batches")
    N = 8
    U, V = torch.tensor(unit_rows(N, 3, 0)), torch.tensor(unit_rows(N, 3, 1))
    P = pair_loss_matrix(U, V, loss)
    pairs = max_loss_matching(P)
    best = max(float(batch_values(U, V, torch.tensor(m), loss).mean())
               for m in _perfect_matchings(list(range(N))))
    assert float(batch_values(U, V, pairs, loss).mean()) == pytest.approx(best, rel=1e-12)


def test_matching_ties_are_broken_by_the_seed_and_reproducible():
    W = np.ones((6, 6))
    a = [max_loss_matching(W, generator=torch.Generator().manual_seed(s)).tolist() for s in range(6)]
    b = [max_loss_matching(W, generator=torch.Generator().manual_seed(s)).tolist() for s in range(6)]
    assert a == b and len({str(x) for x in a}) > 1


def test_matching_refuses_odd_sizes_and_nan():
    with pytest.raises(ValueError, match="even"):
        max_loss_matching(np.ones((5, 5)))
    W = np.ones((4, 4))
    W[0, 1] = W[1, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        max_loss_matching(W)


def test_kmeans_batches_are_equal_clusters_and_recover_separated_groups():
    N, B, d = 12, 3, 4
    rng = np.random.default_rng(0)
    centres = th.normalize_rows(rng.standard_normal((N // B, d))) * 5
    groups = np.repeat(np.arange(N // B), B)
    perm = rng.permutation(N)
    X = centres[groups[perm]] + 0.01 * rng.standard_normal((N, d))
    U = torch.tensor(th.normalize_rows(X))
    part = kmeans_partition(U, U, B, generator=torch.Generator().manual_seed(1))
    assert part.shape == (N // B, B) and sorted(part.reshape(-1).tolist()) == list(range(N))
    for batch in part:
        assert len(set(groups[perm][batch.numpy()])) == 1
    again = kmeans_partition(U, U, B, generator=torch.Generator().manual_seed(1))
    assert torch.equal(part, again)


def _siglip_pair_terms(U, V, loss):
    """``b L(S) = sum_{i in S} D_i + sum_{i != j in S} O_ij`` for SigLIP, from its published formula."""
    x = (U @ V.T).numpy() / loss.tau + loss.bias
    softplus = lambda t: np.logaddexp(0, t)  # noqa: E731
    return softplus(-np.diag(x)), np.where(np.eye(len(x), dtype=bool), 0.0, softplus(x))


def test_jest_conditional_learnability_is_the_pairwise_row_column_sum_for_siglip():
    loss = th.make_loss("siglip", tau=0.5, bias=-1.0)
    N = 9
    U, V = torch.tensor(unit_rows(N, 3, 0)), torch.tensor(unit_rows(N, 3, 1))
    Ur, Vr = torch.tensor(unit_rows(N, 3, 2)), torch.tensor(unit_rows(N, 3, 3))
    D, O = _siglip_pair_terms(U, V, loss)
    Dr, Or = _siglip_pair_terms(Ur, Vr, loss)
    Ld, Lo = D - Dr, O - Or                                   # the pairwise learnability matrix (JEST)
    ell = Learnability(loss, (Ur, Vr))
    A = torch.tensor([1, 4, 6])
    rest = torch.tensor([0, 2, 3, 5, 7, 8])
    sets = torch.cat([A.expand(len(rest), 3), rest[:, None]], 1)
    got = ell(U, V, sets) - ell(U, V, A[None, :])[0]
    want = [Ld[c] + Lo[A, c].sum() + Lo[c, A].sum() for c in rest.tolist()]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-13)
    first = ell(U, V, torch.arange(N)[:, None])                   # the first chunk: JEST's diagonal
    np.testing.assert_allclose(first.numpy(), Ld, rtol=1e-12, atol=1e-13)
    # RHO: leave-one-out learnability in a super-batch = the pair's own terms and its interactions
    C = torch.arange(N)
    picked = rho_select(U, V, C, 3, ell)
    red = [Ld[i] + Lo[i, :].sum() + Lo[:, i].sum() for i in range(N)]
    assert sorted(picked.tolist()) == sorted(np.argsort(red)[-3:].tolist())


def test_jest_chooses_b_distinct_candidates_in_chunks():
    loss = th.make_loss("infonce")
    N = 10
    U, V = torch.tensor(unit_rows(N, 3, 0)), torch.tensor(unit_rows(N, 3, 1))
    ell = Learnability(loss)
    cand = torch.tensor([0, 2, 3, 5, 7, 8, 9, 1])
    b = jest_select(U, V, cand, 4, 2, ell, torch.Generator().manual_seed(0))
    assert len(set(b.tolist())) == 4 and set(b.tolist()) <= set(cand.tolist())
    assert ell.evals > 0


# ---------------------------------------------------------------- SogCLR


def _sogclr_numpy_infonce(U, V, batches, N, tau, gamma):
    """Independent re-derivation (Yuan et al. 2022 Algorithm 1, LibAUC's GCLoss form) for symmetric InfoNCE:
    d_ij = (s_ij - s_ii)/tau, g_i = mean_{j in S, j != i} exp(d_ij), u_i <- (1-gamma) u_i + gamma g_i (u_i = g_i at the
    first visit), gradient (1/B) sum_i f'(u_i) grad g_i with f(g) = log(1 + (N-1) g); both anchor directions (rows of
    U V^T: image anchors; columns: text anchors). Returns the gradients in (U, V) of each step at fixed U, V."""
    u = {"row": np.full(N, np.nan), "col": np.full(N, np.nan)}
    grads = []
    for S in batches:
        B = len(S)
        Z = U[S] @ V[S].T
        dZ = np.zeros((B, B))
        for kind, M in (("row", Z), ("col", Z.T)):
            dM = np.zeros((B, B))
            for a in range(B):
                i = S[a]
                e = np.array([np.exp((M[a, c] - M[a, a]) / tau) if c != a else 0.0 for c in range(B)])
                g = e.sum() / (B - 1)
                u[kind][i] = g if np.isnan(u[kind][i]) else (1 - gamma) * u[kind][i] + gamma * g
                w = (N - 1) / (1 + (N - 1) * u[kind][i]) * e / (B - 1) / tau / B
                dM[a] += w
                dM[a, a] -= w.sum()
            dZ += dM if kind == "row" else dM.T
        gU = np.zeros_like(U)
        gV = np.zeros_like(V)
        gU[S] = dZ @ V[S]
        gV[S] = dZ.T @ U[S]
        grads.append((gU, gV))
    return grads, u


def test_sogclr_update_matches_an_independent_numpy_rederivation():
    N, B, tau, gamma = 8, 3, 0.7, 0.6
    U, V = unit_rows(N, 5, 0), unit_rows(N, 5, 1)
    rng = np.random.default_rng(0)
    batches = [rng.choice(N, B, replace=False) for _ in range(12)]
    want, u = _sogclr_numpy_infonce(U, V, batches, N, tau, gamma)
    rule = SogCLR(th.make_loss("infonce", tau=tau), N, B, gamma)
    for S, (gU, gV) in zip(batches, want):
        Ut, Vt = torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)
        got = torch.autograd.grad(rule.surrogate(Ut, Vt, torch.tensor(S)[None, :]), (Ut, Vt))
        np.testing.assert_allclose(got[0].numpy(), gU, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(got[1].numpy(), gV, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(rule.u[0].numpy(), u["row"], rtol=1e-13)
    np.testing.assert_allclose(rule.u[1].numpy(), u["col"], rtol=1e-13)


def _grad(fn, U, V):
    Ut, Vt = torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)
    g = torch.autograd.grad(fn(Ut, Vt), (Ut, Vt))
    return np.concatenate([g[0].numpy().ravel(), g[1].numpy().ravel()])


@pytest.mark.parametrize("N,B", [(6, 2), (6, 3), (7, 4)])
def test_sogclr_expected_step_is_the_full_batch_gradient(loss, N, B):
    """Pair-sum losses: the reweighted batch gradient, averaged over all C(N,B) batches, is the full-batch gradient.
    Anchor losses: the same with the estimates u at their exact values g(w) (the moving average's fixed point)."""
    if B < loss.min_batch:
        pytest.skip("batch below the loss's min_batch")
    if loss.anchor_form(*(np.eye(3),) * 3) is None and not loss.has_pair_form:
        with pytest.raises(ValueError, match="sogclr"):    # neither form (SupCon: batch-dependent positives)
            SogCLR(loss, N, B, gamma=0.5)
        return
    U, V = unit_rows(N, 4, 0), unit_rows(N, 4, 1)
    full = _grad(lambda a, b: objective(a, b, Family.full(N), loss), U, V)
    rule = SogCLR(loss, N, B, gamma=1e-300)            # gamma ~ 0: u stays where it is set
    if rule.form == "anchor":
        Z, UU, VV = U @ V.T, U @ U.T, V @ V.T
        exact = [np.array([sum(np.exp(X[i, j]).sum() for j in range(N) if j != i) / (N - 1) for i in range(N)])
                 for X, _ in loss.anchor_form(Z, UU, VV)]
    steps = []
    for S in itertools.combinations(range(N), B):
        if rule.form == "anchor":
            rule.u = torch.tensor(np.array(exact))
        steps.append(_grad(lambda a, b: rule.surrogate(a, b, torch.tensor(S)[None, :]), U, V))
    np.testing.assert_allclose(np.mean(steps, 0), full, rtol=1e-10, atol=1e-12 * np.abs(full).max())
    if B < N - 1 and loss.name != "kcl":               # and the plain batch gradient is not (it is the all-C(N,B) one)
        plain = np.mean([_grad(lambda a, b: batch_values(a, b, torch.tensor([S]), loss).mean(), U, V)
                         for S in itertools.combinations(range(N), B)], 0)
        assert np.abs(plain - full).max() > 1e-6 * np.abs(full).max()


def test_anchor_form_reproduces_batch_losses(loss):
    N = 7
    U, V = unit_rows(N, 4, 0), unit_rows(N, 4, 1)
    terms = loss.anchor_form(U @ V.T, U @ U.T, V @ V.T)
    if terms is None:                                   # no anchor form: a pair-sum loss, or SogCLR refuses it
        if not loss.has_pair_form:
            with pytest.raises(ValueError, match="sogclr"):
                sogclr_form(loss)
        return
    for S in ([0, 2, 3, 6], [1, 5]):
        if len(S) < loss.min_batch:
            continue
        val = sum(np.log(eps + sum(np.exp(X[i, j]).sum() for j in S if j != i)) for X, eps in terms for i in S) / len(S)
        ref = float(batch_values(torch.tensor(U), torch.tensor(V), torch.tensor([S]), loss)[0])
        assert val == pytest.approx(ref, rel=1e-12)


def test_sogclr_reaches_the_siglip_full_batch_optimum_where_shuffle_does_not():
    loss = th.make_loss("siglip", tau=1.0, bias=0.0)
    opt = loss.closed_form_optimum(Family.full(6))["value"]
    assert opt == pytest.approx(2.8296, abs=1e-4)
    res = simulate(Config(N=6, d=11, B=3, methods=("shuffle", "sogclr"), steps=300, lr=0.5, loss="siglip",
                          log_every=300))
    final = {m: v["0"]["full_loss"] for m, v in res["summary"].items()}
    assert abs(final["sogclr"] - opt) < 0.01
    assert final["shuffle"] - opt > 0.1


# ---------------------------------------------------------------- through Config, simulate and the CLI


@pytest.mark.parametrize("name", ["infonce", "siglip", "dcl", "dhel", "kcl"])
def test_every_method_runs_through_config_and_simulate_and_logs_its_cost(name):
    cfg = Config(N=6, d=3, B=2, methods=("shuffle", "sogclr", "jest", "rho", "matching", "kmeans"), steps=3,
                 loss=name, reference_steps=5, jest_chunks=2, super_batch=4)
    rows = simulate(cfg)["rows"]
    last = {r["method"]: r for r in rows}
    for m, r in last.items():
        assert r["updates"] == 9 and math.isfinite(r["full_loss"])
        assert r["selection_seconds"] >= 0 and r["update_seconds"] > 0
    assert last["shuffle"]["selection_evals"] == 0 and last["kmeans"]["selection_evals"] == 0
    assert last["matching"]["selection_evals"] == 3 * 15
    assert last["jest"]["selection_evals"] > 0 and last["rho"]["selection_evals"] > 0


def test_the_cli_runs_the_new_methods(tmp_path, capsys):
    rc = cli_main(["simulate", "--N", "6", "--d", "3", "--B", "2", "--methods", "shuffle,sogclr,jest,rho,matching,kmeans",
                   "--epochs", "2", "--loss", "siglip", "--reference-steps", "3", "--out", str(tmp_path / "o"), "--json"])
    assert rc == 0
    assert "selection_evals" in (tmp_path / "o" / "metrics.csv").read_text().splitlines()[0]


@pytest.mark.parametrize("extra,msg", [
    (["--B", "3", "--methods", "matching"], "B = 2"),
    (["--B", "3", "--methods", "jest", "--jest-chunks", "2"], "jest_chunks"),
    (["--B", "3", "--methods", "rho", "--super-batch", "9"], "super_batch"),
    (["--B", "3", "--methods", "sogclr", "--sogclr-gamma", "1.5"], "sogclr_gamma"),
    (["--B", "3", "--methods", "jest", "--reference", "oracle"], "reference"),
    (["--B", "4", "--methods", "kmeans"], "divide"),
    (["--B", "3", "--methods", "sogclr", "--plugin", str(PLUGIN), "--loss", "margin_infonce"], "neither"),
])
def test_refusals_exit_2_saying_why(extra, msg, capsys):
    rc = cli_main(["simulate", "--N", "6", "--d", "3", "--epochs", "2", *extra])
    assert rc == 2
    assert msg in capsys.readouterr().err


def test_make_selector_refuses_matching_beyond_b2_and_bad_references():
    with pytest.raises(ValueError, match="B = 2"):
        make_selector("matching", 6, 3)
    with pytest.raises(ValueError, match="rows"):
        make_selector("jest", 6, 2, reference=(torch.tensor(unit_rows(5, 3, 0)), torch.tensor(unit_rows(5, 3, 1))))


# ---------------------------------------------------------------- similarities (Lee et al. 2025)


def test_positive_similarity_is_at_most_one_plus_negative_plus_one_over_n_minus_one():
    from simulations.claims.similarity_bound import similarities
    rng = np.random.default_rng(0)
    for n, d in ((3, 2), (5, 4), (9, 3)):
        for _ in range(50):
            U = th.normalize_rows(rng.standard_normal((n, d)))
            V = th.normalize_rows(U + rng.uniform(0, 1) * rng.standard_normal((n, d)))
            sp, neg = similarities(U, V)
            assert sp <= 1 + neg.mean() + 1 / (n - 1) + 1e-12
    E = th.normalize_rows(np.eye(4) - 0.25)                   # the simplex ETF of 4 points in R^4: equality
    sp, neg = similarities(E, E)
    assert sp == pytest.approx(1 + neg.mean() + 1 / 3, abs=1e-12)


def test_the_variance_bound_is_attained_by_its_extremal_configuration():
    """Within-batch negatives at -1/(B-1) and all others at 0 (batches of a simplex in mutually orthogonal
    subspaces) attain (N-B)/((N-1)^2 (B-1)) exactly."""
    from simulations.claims.similarity_bound import similarities, variance_bound
    N, B = 8, 4
    blocks = [th.normalize_rows(np.eye(B) - 1.0 / B) for _ in range(N // B)]
    U = np.zeros((N, N))
    for k, Bk in enumerate(blocks):
        U[k * B:(k + 1) * B, k * B:(k + 1) * B] = Bk
    _, neg = similarities(U, U)
    assert neg.var() == pytest.approx(variance_bound(N, B), rel=1e-12)


def test_a_resumed_sogclr_run_equals_the_uninterrupted_run(tmp_path):
    from simulations.training.loop import train_run, without_timings
    cfg = Config(N=6, d=3, B=3, methods=("sogclr",), steps=6, checkpoint_every=3, loss="infonce")
    full = train_run(cfg, "sogclr", 0)
    train_run(Config(**{**cfg.to_json(), "steps": 3}), "sogclr", 0, checkpoint=tmp_path / "c.ckpt")
    resumed = train_run(cfg, "sogclr", 0, checkpoint=tmp_path / "c.ckpt")
    assert np.array_equal(full["U"], resumed["U"])
    assert without_timings(full["rows"]) == without_timings(resumed["rows"])
