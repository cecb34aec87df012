"""Labels and ties: SupCon equals its definition and reduces to InfoNCE, the engine equals the oracle on labelled
and tied problems for every loss, certificates for SupCon, ties and M >= 0 through theory.certify against closed
forms and an independent relaxation over items, the class-aware families and samplers, and bad input."""
import itertools
import math

import cvxpy as cp
import numpy as np
import pytest
import torch

import simulations as sim
import theory as th
from simulations.selection.labels import (BatchBindingSampler, ClassBalancedBatchSampler, ClassPureBatchSampler,
                                          MPerClassBatchSampler, NoDuplicatesBatchSampler)
from theory import Family, InfoNCE, SupCon, normalize_rows
from theory.configurations import class_collapse, item_etf, orthogonal_frame
from theory.labels import tied_pairs

N = 7
TIES = (0, 1, 1, 2, 0, 3, 1)          # items 0..3 with multiplicities 2, 3, 1, 1


def _rows(n, d, seed):
    return normalize_rows(np.random.default_rng(seed).normal(size=(n, d)))


def _supcon_definition(U, V, S, y, tau, symmetric):
    """SupCon of one batch written from Khosla et al.'s eq. (2) in the two-modality form, with loops."""
    b = len(S)
    total = 0.0
    for i in S:
        for side in ((0, 1) if symmetric else (0,)):
            logits = [(U[i] @ V[j] if side == 0 else U[j] @ V[i]) / tau for j in S]
            pos = [k for k, j in enumerate(S) if y[j] == y[i]]
            total += -sum(logits[k] - math.log(sum(math.exp(x) for x in logits)) for k in pos) / len(pos)
    return total / b


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("labels", [(0, 0, 1, 1, 2, 2, 2), (5, 1, 5, 7, 1, 1, 9)])   # a class of one included
def test_supcon_equals_its_definition_batch_by_batch(labels, symmetric):
    U, V = _rows(N, 3, 0), _rows(N, 3, 1)
    loss = SupCon(labels, 0.7, symmetric)
    fam = Family.from_batches([[0, 1, 2], [3, 4, 5, 6], [0, 6], list(range(N))], N=N)
    got = th.batch_values(U, V, fam, loss)
    want = [_supcon_definition(U, V, list(S), labels, 0.7, symmetric) for S in fam.batch_list()]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_supcon_with_distinct_labels_is_infonce():
    U, V = _rows(N, 4, 2), _rows(N, 4, 3)
    for sym in (True, False):
        a = th.objective(U, V, Family.all(N, 3), SupCon(tuple(range(N)), 0.3, sym))
        assert a == pytest.approx(th.objective(U, V, Family.all(N, 3), InfoNCE(0.3, sym)), rel=1e-14)


def test_supcon_gradient_is_the_derivative_of_its_definition():
    """The oracle's gradient (complex step) and the engine's (autograd) against central differences of the
    loop definition, along random directions of U and V."""
    y = (0, 0, 1, 2, 2, 2, 1)
    U, V = _rows(N, 3, 4), _rows(N, 3, 5)
    fam = Family.all(N, 3)
    loss = SupCon(y, 0.5)
    gU, gV = th.gradient(U, V, fam, loss)
    Ut, Vt = torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)
    eU, eV = torch.autograd.grad(sim.objective(Ut, Vt, fam, loss), (Ut, Vt))
    np.testing.assert_allclose(eU.numpy(), gU, atol=1e-12)
    np.testing.assert_allclose(eV.numpy(), gV, atol=1e-12)

    def f(A, Bm):
        return np.mean([_supcon_definition(A, Bm, list(S), y, 0.5, True) for S in fam.batch_list()])
    rng = np.random.default_rng(0)
    for _ in range(2):
        dU, dV = rng.normal(size=U.shape), rng.normal(size=V.shape)
        h = 1e-6
        fd = (f(U + h * dU, V + h * dV) - f(U - h * dU, V - h * dV)) / (2 * h)
        assert fd == pytest.approx(np.sum(gU * dU) + np.sum(gV * dV), rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("fam", [Family.full(N), Family.all(N, 3), Family.from_batches([[0, 1, 2], [3, 4], [5, 6, 0, 1]],
                                                                                      N=N, weights=[1.0, 2.0, 0.5])],
                         ids=["full", "all3", "weighted_mixed"])
def test_engine_equals_the_oracle_on_tied_problems_for_every_loss(loss, fam):
    """Ties: one row of U and one of V per item (4 rows for 7 pairs). The oracle and the engine agree in value and
    gradient, both equal the untied objective at the expanded rows, and the gradient is that of the untied
    objective summed over each item's pairs (autograd through explicit indexing)."""
    if min(fam.batch_sizes) < loss.min_batch:
        pytest.skip("batches below the loss's minimum size")
    K = max(TIES) + 1
    U, V = _rows(K, 3, 6), _rows(K, 3, 7)
    t = np.array(TIES)
    val = th.objective(U, V, fam, loss, ties=TIES)
    assert val == pytest.approx(th.objective(U[t], V[t], fam, loss), rel=1e-14)
    Ut, Vt = torch.tensor(U, requires_grad=True), torch.tensor(V, requires_grad=True)
    got = sim.objective(Ut, Vt, fam, loss, ties=TIES)
    assert float(got.detach()) == pytest.approx(val, rel=1e-12)
    g = torch.autograd.grad(got, (Ut, Vt))
    ref = sim.objective(Ut[torch.tensor(t)], Vt[torch.tensor(t)], fam, loss, method="enumerate")
    gref = torch.autograd.grad(ref, (Ut, Vt))
    gU, gV = th.gradient(U, V, fam, loss, ties=TIES)
    scale = max(1.0, float(max(x.abs().max() for x in gref)))
    for a, b, c in zip(g, gref, (gU, gV)):
        assert float((a - b).abs().max()) <= 1e-12 * scale
        assert np.abs(c - b.numpy()).max() <= 1e-11 * scale
    vals = sim.batch_values(Ut, Vt, torch.from_numpy(Family.all(N, 3).batches), loss, ties=TIES)
    np.testing.assert_allclose(vals.detach().numpy(), th.batch_values(U, V, Family.all(N, 3), loss, ties=TIES), rtol=1e-12)


def test_engine_equals_the_oracle_on_labelled_problems_in_float32_and_float64():
    y = (3, 3, 1, 1, 1, 0, 2)
    U, V = _rows(N, 4, 8), _rows(N, 4, 9)
    for loss in (SupCon(y, 0.2), SupCon(y, 2.0, symmetric=False)):
        for fam in (Family.m_per_class(y, 2, 4), Family.batch_binding(Family.from_batches([[0, 2], [1, 3], [4, 6]], N=N), [0, 5])):
            want = th.objective(U, V, fam, loss)
            for dt, tol in ((torch.float64, 1e-12), (torch.float32, 2e-5)):
                got = sim.objective(torch.tensor(U, dtype=dt), torch.tensor(V, dtype=dt), fam, loss)
                assert abs(float(got) - want) <= tol * max(1.0, abs(want))


# ------------------------------------------------------------------ the pool form (Khosla et al.'s single pool)
def _khosla_pool_definition(U, V, S, y, tau, symmetric):
    """Khosla et al.'s eq. (2) on one batch, with loops: the 2b views u_S, v_S in one pool, A(a) every view but a,
    P(a) the views of A(a) of a's class; summed over the anchors (the u-anchors only when one-sided), divided by b."""
    views = [(U[i], y[i]) for i in S] + [(V[i], y[i]) for i in S]
    total = 0.0
    for a in range(len(S) if not symmetric else 2 * len(S)):
        xa, ya = views[a]
        A = [c for c in range(2 * len(S)) if c != a]
        P = [p for p in A if views[p][1] == ya]
        denom = sum(math.exp(xa @ views[c][0] / tau) for c in A)
        total += -sum(math.log(math.exp(xa @ views[p][0] / tau) / denom) for p in P) / len(P)
    return total / len(S)


def _nt_xent(U, V, S, tau):
    """SimCLR's NT-Xent (Chen et al. 2020, eq. (1) and the loss of their Algorithm 1): views z_{2k-1} = u_k,
    z_{2k} = v_k, sim the cosine similarity, l(i, j) = -log(exp(sim(z_i, z_j)/tau) / sum_{k != i} exp(sim(z_i, z_k)/tau)),
    L = 1/(2b) sum_k [l(2k-1, 2k) + l(2k, 2k-1)]."""
    z = [w for i in S for w in (U[i], V[i])]

    def sim(a, c):
        return a @ c / (np.linalg.norm(a) * np.linalg.norm(c))

    def ell(i, j):
        return -math.log(math.exp(sim(z[i], z[j]) / tau) / sum(math.exp(sim(z[i], z[k]) / tau)
                                                                for k in range(len(z)) if k != i))
    return sum(ell(2 * k, 2 * k + 1) + ell(2 * k + 1, 2 * k) for k in range(len(S))) / (2 * len(S))


_POOL_BATCHES = [[0, 1, 2], [3, 4, 5, 6], [0, 6], list(range(N))]


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("labels", [(0, 0, 1, 1, 2, 2, 2), (5, 1, 5, 7, 1, 1, 9)])   # a class of one included
def test_supcon_pool_equals_khosla_eq2_batch_by_batch(labels, symmetric):
    U, V = _rows(N, 3, 6), _rows(N, 3, 7)
    loss = SupCon(labels, 0.7, symmetric, candidates="pool")
    fam = Family.from_batches(_POOL_BATCHES, N=N)
    got = th.batch_values(U, V, fam, loss)
    want = [_khosla_pool_definition(U, V, list(S), labels, 0.7, symmetric) for S in fam.batch_list()]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    one = np.array([[4]])                                   # a batch of one: A(u_i) = P(u_i) = {v_i}, loss 0
    blocks = [(X[one] @ np.swapaxes(Y[one], 1, 2)) for X, Y in ((U, V), (U, U), (V, V))]
    assert loss.batch_losses(blocks[0], one, blocks[1], blocks[2]).tolist() == [0.0]
    Ut, Vt = torch.tensor(U), torch.tensor(V)
    eng = sim.objective(Ut, Vt, fam, loss)
    assert float(eng) == pytest.approx(th.objective(U, V, fam, loss), rel=1e-13)


def test_supcon_pool_with_distinct_labels_is_twice_simclr_nt_xent():
    """All labels distinct: P(a) is the other view of the anchor's pair, the pool form is NT-Xent; L = L_u + L_v sums
    the 2b anchors over b, twice SimCLR's mean over the 2b anchors."""
    U, V = _rows(N, 4, 8), _rows(N, 4, 9)
    loss = SupCon(tuple(range(N)), 0.3, candidates="pool")
    fam = Family.from_batches(_POOL_BATCHES, N=N)
    got = th.batch_values(U, V, fam, loss)
    np.testing.assert_allclose(got, [2 * _nt_xent(U, V, list(S), 0.3) for S in fam.batch_list()], rtol=1e-13)


def _pool_collapse_value(n, C, tau):
    """Full-batch pool SupCon at class collapse onto the simplex, C balanced classes of n pairs: each of the 2nC
    anchors has 2n - 1 positives at logit 1/tau and 2n(C - 1) negatives at -1/((C - 1) tau); L sums 2N anchors / N."""
    return 2 * (math.log((2 * n - 1) * math.exp(1 / tau) + 2 * n * (C - 1) * math.exp(-1 / ((C - 1) * tau))) - 1 / tau)


@pytest.mark.parametrize("n,C,tau", [(2, 3, 1.0), (2, 2, 0.5), (1, 5, 0.7), (3, 2, 1.0)])
def test_supcon_pool_full_batch_optimum_is_class_collapse_onto_the_simplex(n, C, tau):
    """Known answer (the labels note's theorem, after Graf et al. 2021): the certified optimum of the full-batch pool
    form is the value at class collapse onto the regular simplex (n = 1: SimCLR's full-batch bound), and the solver's
    Gram is the collapse Gram in all four blocks (u_i = v_i)."""
    y = tuple(np.repeat(np.arange(C), n))
    loss = SupCon(y, tau, candidates="pool")
    c = th.certify(Family.full(n * C), loss)
    assert c.certified
    assert c.value == pytest.approx(_pool_collapse_value(n, C, tau), abs=1e-6)
    X = class_collapse(y)
    G = X @ X.T
    assert max(np.abs(c.Z - G).max(), np.abs(c.M - np.block([[G, G], [G, G]])).max()) < 1e-3
    assert th.objective(X, X, Family.full(n * C), loss) == pytest.approx(_pool_collapse_value(n, C, tau), rel=1e-12)


def _pool_relaxation_reference(labels, batches, tau, symmetric):
    """An independent relaxation (not the package's): the pool form written anchor by anchor from eq. (2) on the
    2N x 2N PSD matrix of unit diagonal of the views (u_i at i, v_i at N + i), solved by Clarabel."""
    n = len(labels)
    M = cp.Variable((2 * n, 2 * n), PSD=True)
    total = 0
    for S in batches:
        views = list(S) + [n + i for i in S]
        for a in (views if symmetric else views[:len(S)]):
            A = [c for c in views if c != a]
            P = [p for p in A if labels[p % n] == labels[a % n]]
            total += (cp.log_sum_exp(cp.hstack([M[a, c] for c in A]) / tau)
                      - sum(M[a, p] for p in P) / (len(P) * tau)) / len(S)
    prob = cp.Problem(cp.Minimize(total / len(batches)), [cp.diag(M) == 1])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return prob.value


@pytest.mark.parametrize("labels,batches,symmetric", [
    ((0, 0, 1, 1, 2, 2), [[0, 2], [1, 4], [3, 5]], True),
    ((0, 0, 0, 1, 1, 2), [[0, 1, 3], [2, 4, 5], [0, 5], [1, 2, 3, 4]], True),
    ((0, 0, 0, 1, 1, 2), [[0, 1, 3], [2, 4, 5], [0, 5], [1, 2, 3, 4]], False)], ids=str)
def test_supcon_pool_certificates_agree_with_an_independent_relaxation_and_a_local_minimum(labels, batches, symmetric):
    """The certified value equals an independent relaxation of eq. (2), and L-BFGS on unit-norm U, V in d = 2N
    (torch autograd through the engine, a few random starts) reaches it from above."""
    fam = Family.from_batches(batches, N=len(labels))
    loss = SupCon(labels, 1.0, symmetric, candidates="pool")
    c = th.certify(fam, loss)
    assert c.certified
    assert c.value == pytest.approx(_pool_relaxation_reference(labels, batches, 1.0, symmetric), abs=2e-6)
    best = math.inf
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        X = torch.randn(2 * len(labels), 2 * len(labels), dtype=torch.float64, generator=g, requires_grad=True)
        opt = torch.optim.LBFGS([X], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            Y = X / X.norm(dim=1, keepdim=True)
            f = sim.objective(Y[:len(labels)], Y[len(labels):], fam, loss)
            f.backward()
            return f
        for _ in range(4):
            opt.step(closure)
        Y = (X / X.norm(dim=1, keepdim=True)).detach().numpy()
        best = min(best, th.objective(Y[:len(labels)], Y[len(labels):], fam, loss))
    assert best >= c.value - 1e-6 and best == pytest.approx(c.value, abs=1e-5)


def test_supcon_pool_needs_self_grams_and_keeps_the_cross_form():
    y = (0, 0, 1, 2, 2, 2, 1)
    assert SupCon(y, candidates="pool").needs_self_grams and not SupCon(y).needs_self_grams
    assert SupCon(y) == SupCon(y, candidates="cross") and th.as_loss(SupCon(y, candidates="pool").spec) == \
        SupCon(y, candidates="pool")
    for bad in ("both", "POOL", None, 1):
        with pytest.raises(ValueError, match="candidates must be one of"):
            SupCon(y, candidates=bad)
    with pytest.raises(ValueError, match="loss 'supcon': candidates"):
        th.make_loss("supcon", labels=y, candidates="views")


def test_the_command_line_certifies_the_pool_form(capsys):
    import json

    from simulations.cli import main as cli_main
    assert cli_main(["certify", "--N", "4", "--B", "2", "--family", "all", "--loss", "supcon",
                     "--loss-param", "labels=0,0,1,1", "--loss-param", "candidates=pool", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "candidates=pool" in out["loss"] and out["certified"]
    want = th.certify(Family.all(4, 2), SupCon((0, 0, 1, 1), candidates="pool"))
    assert out["value"] == pytest.approx(want.value, abs=1e-7)
    assert cli_main(["certify", "--N", "4", "--B", "2", "--loss", "supcon", "--loss-param", "labels=0,0,1,1",
                     "--loss-param", "candidates=views"]) == 2
    assert "candidates must be one of" in capsys.readouterr().err


# ------------------------------------------------------------------ certificates through theory.certify
def _collapse_value(n, C, tau, orthogonal=False):
    """Full-batch SupCon (symmetric) at class collapse, C balanced classes of n: each anchor's positives all have
    logit 1/tau and its N - n negatives -1/((C-1) tau) (simplex) or 0 (orthogonal frame)."""
    neg = 0.0 if orthogonal else -1.0 / (C - 1)
    return 2 * math.log(n + (C * n - n) * math.exp((neg - 1) / tau))


@pytest.mark.parametrize("n,C,tau", [(2, 3, 1.0), (2, 3, 0.5), (3, 2, 1.0), (2, 4, 0.7)])
def test_supcon_full_batch_optimum_is_class_collapse_onto_the_simplex(n, C, tau):
    """Known answer (Graf et al. 2021): the certified optimum equals the closed-form value at class collapse, the
    solver's Gram is the collapse Gram, and with M >= 0 (ReLU features) the optimum is the orthogonal frame's."""
    y = tuple(np.repeat(np.arange(C), n))
    loss = SupCon(y, tau)
    c = th.certify(Family.full(n * C), loss)
    assert c.certified
    assert c.value == pytest.approx(_collapse_value(n, C, tau), abs=1e-6)
    X = class_collapse(y)
    assert np.abs(c.Z - X @ X.T).max() < 1e-3
    cn = th.certify(Family.full(n * C), loss, nonneg=True)
    assert cn.certified and cn.value == pytest.approx(_collapse_value(n, C, tau, orthogonal=True), abs=1e-6)
    O = orthogonal_frame(y)
    assert th.objective(O, O, Family.full(n * C), loss) == pytest.approx(cn.value, abs=1e-6)
    assert cn.M.min() > -1e-7 and cn.value > c.value + 1e-2


def test_supcon_partition_optimum_reproduces_the_class_mixed_gap():
    """The class-mixed partition {0,2},{1,4},{3,5} at tau = 1: optimum 0.25386 below the 0.40283 of class
    collapse (the collapse value on two-point batches of distinct classes, 2 log(1 + e^{-3/2}))."""
    y = (0, 0, 1, 1, 2, 2)
    fam = Family.from_batches([[0, 2], [1, 4], [3, 5]], N=6)
    X = class_collapse(y)
    at_collapse = th.objective(X, X, fam, SupCon(y))
    assert at_collapse == pytest.approx(2 * math.log(1 + math.exp(-1.5)), rel=1e-12)
    c = th.certify(fam, SupCon(y))
    assert c.certified and c.value == pytest.approx(0.253856, abs=2e-6) and c.value < at_collapse - 0.1


def _item_relaxation(m, tau, B=None):
    """Independent relaxation over the K items (not the package's): the InfoNCE objective of pairs with
    multiplicities m, written per item, full batch (B=None) or all C(N, B) batches by enumeration of the pairs."""
    K = len(m)
    t = np.repeat(np.arange(K), m)
    Nn = len(t)
    M = cp.Variable((2 * K, 2 * K), PSD=True)
    Z = M[:K, K:]
    batches = [tuple(range(Nn))] if B is None else list(itertools.combinations(range(Nn), B))
    terms = []
    for S in batches:
        ti = t[list(S)]
        for i in ti:
            terms.append(cp.log_sum_exp(cp.hstack([Z[i, j] for j in ti]) / tau) - Z[i, i] / tau)
            terms.append(cp.log_sum_exp(cp.hstack([Z[j, i] for j in ti]) / tau) - Z[i, i] / tau)
    prob = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms)) / (len(batches) * len(batches[0]))), [cp.diag(M) == 1])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return prob.value, M.value[:K, :K]


@pytest.mark.parametrize("m,B", [((2, 2, 2), None), ((3, 2, 1), None), ((3, 2, 1), 3)])
def test_tied_relaxation_agrees_with_an_independent_relaxation_over_items(m, B):
    """certify(..., ties=...) on N pairs with equality constraints equals a separate program over K items; equal
    multiplicities give the item simplex ETF, unequal ones do not."""
    ties = tuple(np.repeat(np.arange(len(m)), m))
    Nn = len(ties)
    fam = Family.full(Nn) if B is None else Family.all(Nn, B)
    c = th.certify(fam, InfoNCE(1.0), ties=ties)
    value, G = _item_relaxation(m, 1.0, B)
    assert c.certified and c.value == pytest.approx(value, abs=1e-6)
    for i, j in tied_pairs(ties):                           # the face of the ties: u_i = u_j and v_i = v_j
        assert np.array_equal(c.M[i], c.M[j]) and np.array_equal(c.M[Nn + i], c.M[Nn + j])
        assert abs(c.M[i, j] - 1) < 1e-8 and abs(c.M[Nn + i, Nn + j] - 1) < 1e-8
    first = [ties.index(k) for k in range(len(m))]
    Gp = c.M[np.ix_(first, first)]
    assert np.abs(Gp - G).max() < 1e-3
    W = item_etf(ties)
    if len(set(m)) == 1:
        assert np.abs(Gp - W @ W.T).max() < 1e-3
        assert th.objective(W, W, fam, InfoNCE(1.0), ties=ties) == pytest.approx(c.value, abs=1e-6)
    else:
        assert np.abs(Gp - W @ W.T).max() > 0.1
        assert th.objective(W, W, fam, InfoNCE(1.0), ties=ties) > c.value + 1e-3


def test_tied_full_batch_and_all_batches_reproduce_the_unequal_item_grams():
    ties = (0, 0, 0, 1, 1, 2)
    first = [0, 3, 5]
    full = th.certify(Family.full(6), InfoNCE(1.0), ties=ties).M[np.ix_(first, first)]
    allb = th.certify(Family.all(6, 3), InfoNCE(1.0), ties=ties).M[np.ix_(first, first)]
    np.testing.assert_allclose([full[0, 1], full[0, 2], full[1, 2]], [-0.745, -0.462, -0.247], atol=6e-4)
    np.testing.assert_allclose([allb[0, 1], allb[0, 2], allb[1, 2]], [-0.792, -0.464, -0.173], atol=6e-4)


def test_ties_and_nonneg_need_the_sdp_and_are_validated():
    with pytest.raises(ValueError, match="lowrank"):
        th.certify(Family.full(6), "infonce", method="lowrank", ties=(0, 0, 1, 1, 2, 2))
    with pytest.raises(ValueError, match="lowrank"):
        th.certify(Family.full(6), "infonce", method="lowrank", nonneg=True)
    with pytest.raises(ValueError, match="nonneg"):
        th.certify(Family.full(6), "infonce", nonneg="yes")
    with pytest.raises(ValueError, match="ties"):
        th.certify(Family.full(6), "infonce", ties=(0, 0, 1, 1, 2))
    with pytest.raises(ValueError, match="ties"):
        th.certify(Family.full(6), "infonce", ties=(0, 0, 2, 2, 3, 3))          # item 1 unused
    assert th.certify(Family.full(40), "infonce", ties=tuple(np.arange(40) // 2), solver="SCS").solver.startswith("SCS")


def test_bad_labels_and_ties_raise_naming_the_parameter():
    assert SupCon("0,0,1,1").labels == (0, 0, 1, 1)                    # the command line's form
    for bad in ("0,a,1", [0.5, 1], [[0, 1]], [], [True, False], b"01"):
        with pytest.raises(ValueError, match="labels"):
            SupCon(bad)
    with pytest.raises(ValueError, match="labels"):
        th.make_loss("supcon")
    with pytest.raises(ValueError, match="tau"):
        SupCon((0, 1), tau=0.0)
    U = _rows(6, 3, 0)
    with pytest.raises(ValueError, match="labels has 4 entries"):
        th.objective(U, U, Family.full(6), SupCon((0, 0, 1, 1)))
    with pytest.raises(ValueError, match="labels has 4 entries"):
        th.certify(Family.full(6), SupCon((0, 0, 1, 1)))
    with pytest.raises(ValueError, match="ties"):
        th.objective(U[:3], U[:3], Family.full(6), "infonce", ties=(0, 0, 1, 1, 2))
    with pytest.raises(ValueError, match="rows"):
        th.objective(U[:2], U[:2], Family.full(6), "infonce", ties=(0, 0, 1, 1, 2, 2))
    with pytest.raises(ValueError, match="ties"):
        sim.objective(torch.tensor(U[:3]), torch.tensor(U[:3]), Family.full(6), "infonce", ties=(0, 0, 1, -1, 2, 2))


# ------------------------------------------------------------------ families and samplers
def test_class_aware_families_hold_the_batches_their_definitions_say():
    y = (0, 0, 0, 1, 1, 2, 2)
    t = (0, 0, 1, 1, 2, 3, 3)
    nd = Family.no_duplicates(t, 3)
    want = [S for S in itertools.combinations(range(N), 3) if len({t[i] for i in S}) == 3]
    assert sorted(tuple(map(int, S)) for S in nd.batch_list()) == want and not nd.is_weighted
    mp = Family.m_per_class(y, 2, 4)
    for S in mp.batch_list():
        counts = np.bincount(np.array(y)[S], minlength=3)
        assert sorted(counts.tolist()) == [0, 2, 2]
    assert mp.n_batches == 3 * 1 + 3 * 1 + 1 * 1 and mp.total_weight == pytest.approx(1.0)
    cb = Family.class_balanced(y, 3)
    assert cb.n_batches == 3 * 2 * 2 and all(sorted(np.array(y)[S].tolist()) == [0, 1, 2] for S in cb.batch_list())
    cp_ = Family.class_pure(y, 2)
    assert all(len(set(np.array(y)[S].tolist())) == 1 for S in cp_.batch_list()) and cp_.n_batches == 3 + 1 + 1
    bb = Family.batch_binding(Family.from_batches([[0, 3], [1, 5], [2, 6]], N=N),
                              [0, 5])
    assert [sorted(map(int, S)) for S in bb.batch_list()] == [[0, 3, 5], [0, 1, 5], [0, 2, 5, 6]]


@pytest.mark.parametrize("make", ["no_duplicates", "m_per_class", "class_balanced", "class_pure", "binding"])
def test_each_sampler_draws_the_law_of_its_family(make):
    """Empirical batch frequencies of 6000 draws within 5 standard errors of the family's weights."""
    y = (0, 0, 0, 1, 1, 2, 2)
    t = (0, 0, 1, 1, 2, 3, 3)
    n = 6000
    if make == "no_duplicates":
        s, fam = NoDuplicatesBatchSampler(t, 3, n_batches=n, seed=1), Family.no_duplicates(t, 3)
    elif make == "m_per_class":
        s, fam = MPerClassBatchSampler(y, 2, 4, n_batches=n, seed=1), Family.m_per_class(y, 2, 4)
    elif make == "class_balanced":
        s, fam = ClassBalancedBatchSampler(y, 3, n_batches=n, seed=1), Family.class_balanced(y, 3)
    elif make == "class_pure":
        s, fam = ClassPureBatchSampler(y, 2, n_batches=n, seed=1), Family.class_pure(y, 2)
    else:
        s = BatchBindingSampler(ClassPureBatchSampler(y, 2, n_batches=n, seed=1), [0, 3])
        fam = Family.batch_binding(Family.class_pure(y, 2), [0, 3])
    draws = list(s)
    assert len(draws) == len(s) == n
    p = {}
    for S, w in zip(fam.batch_list(), fam.weights / fam.total_weight):
        key = tuple(sorted(map(int, S)))
        p[key] = p.get(key, 0.0) + w
    freq = {}
    for S in draws:
        freq[tuple(S)] = freq.get(tuple(S), 0) + 1
    assert set(freq) <= set(p)
    for key, pk in p.items():
        assert abs(freq.get(key, 0) / n - pk) <= 5 * math.sqrt(pk * (1 - pk) / n) + 1e-12, key


def test_samplers_work_as_dataloader_batch_samplers():
    data = torch.arange(7)
    loader = torch.utils.data.DataLoader(data, batch_sampler=MPerClassBatchSampler((0, 0, 1, 1, 2, 2, 2), 2, 4, seed=3))
    batches = [b.tolist() for b in loader]
    assert len(batches) == 2 and all(len(b) == 4 for b in batches)


def test_bad_family_and_sampler_arguments_raise_naming_the_parameter():
    y = (0, 0, 1, 1, 2)
    with pytest.raises(ValueError, match="multiple of m"):
        Family.m_per_class(y, 2, 3)
    with pytest.raises(ValueError, match="classes of at least m"):
        Family.m_per_class((0, 0, 1, 2, 3), 2, 4)
    with pytest.raises(ValueError, match="multiple of the number of classes"):
        Family.class_balanced(y, 4)
    with pytest.raises(ValueError, match="every class"):
        Family.class_balanced(y, 6)
    with pytest.raises(ValueError, match="number of items"):
        Family.no_duplicates((0, 0, 1), 3)
    with pytest.raises(ValueError, match="labels"):
        Family.class_pure((0, 1.5, 1), 2)
    with pytest.raises(ValueError, match="batch indices"):
        Family.batch_binding(Family.full(4), [7])
    with pytest.raises(ValueError, match="multiple of m"):
        MPerClassBatchSampler(y, 2, 3)
    with pytest.raises(ValueError, match="bound"):
        BatchBindingSampler(ClassPureBatchSampler(y, 2), [0, 0])


# ------------------------------------------------------------------ claims and the balance law
def test_supcon_all_batches_shares_the_minimizer_only_for_balanced_classes():
    """Certified: all C(6,3) shares the full-batch minimizer for balanced classes; for imbalanced ones every
    minimizer of the family is full-batch sub-optimal by a certified margin; under M >= 0 both share it."""
    from simulations.claims._labels import shares_full
    fam = Family.all(6, 3)
    bal = shares_full(fam, SupCon((0, 0, 1, 1, 2, 2)))
    imb = shares_full(fam, SupCon((0, 0, 0, 1, 1, 2)))
    imb_nn = shares_full(fam, SupCon((0, 0, 0, 1, 1, 2)), nonneg=True)
    assert bal["suboptimal"] is False and imb_nn["suboptimal"] is False
    assert imb["suboptimal"] is True and imb["gap_lower_bound"] > 5e-4


@pytest.mark.parametrize("labels", [(0, 0, 0, 1), (0, 0, 0, 0, 1, 1)])
def test_two_unequal_classes_keep_the_antipodal_pair_in_full_and_all_batches(labels):
    """With 2 classes, however unequal, class collapse onto the antipodal pair (the 2-class simplex) attains the
    certified full-batch optimum, and every all-C(N,B) family shares the full-batch minimizer (certified): the
    imbalanced-class failures need 3 or more classes."""
    from simulations.claims._labels import shares_full
    N = len(labels)
    L = SupCon(labels, 1.0)
    X = class_collapse(labels)
    full = th.certify(Family.full(N), L)
    assert full.certified and th.objective(X, X, Family.full(N), L) == pytest.approx(full.value, abs=2e-6)
    assert np.allclose(X @ X.T, np.where(np.equal.outer(labels, labels), 1.0, -1.0))
    for B in (2, 3) if N == 4 else (3,):
        assert shares_full(Family.all(N, B), L, full=full)["suboptimal"] is False, B


def test_item_balance_law_agrees_with_the_dual_certificate():
    """The item law (kappa constant) against the solver-free dual decision of the tied relaxation, and its known
    cases: equal multiplicities and one-copy-per-item sampling balanced, unequal multiplicities on all C(N,B) not."""
    from simulations.claims._labels import dual_decision
    from theory.label_balance import group_pair_weights, item_etf_balanced
    t = (0, 0, 0, 1, 1, 2)
    W = item_etf(t)
    cases = [(Family.full(6), (0, 0, 1, 1, 2, 2), True), (Family.all(6, 3), (0, 0, 1, 1, 2, 2), True),
             (Family.full(6), t, False), (Family.all(6, 3), t, False), (Family.m_per_class(t, 1, 2), t, True),
             (Family.no_duplicates(t, 2), t, False)]
    for fam, ties, balanced in cases:
        for tau in (0.5, 2.0):
            assert item_etf_balanced(fam, ties, tau)["balanced"] is balanced, (fam, ties, tau)
            assert dual_decision(fam, InfoNCE(tau), item_etf(ties), ties=ties)["optimal"] is balanced, (fam, ties, tau)
    # kappa from its definition for the full batch: n = (3, 2, 1), |S| = 6
    tau, c = 1.0, math.exp(-3 / 2)
    n = np.array([3.0, 2.0, 1.0])
    D = n + (6 - n) * c
    want = np.outer(n / D, n) / 6
    want = want + want.T
    np.fill_diagonal(want, 0.0)
    np.testing.assert_allclose(group_pair_weights(Family.full(6), t, tau), want, rtol=1e-14)
    assert W.shape == (3, 2)


def _ordered_counterexample(m, tau):
    """Items with multiplicities m; for every k < l one batch holding one copy of k and all m_l copies of l, weighted
    by 1 / kappa_kl of the batch (closed form), written out here."""
    K = len(m)
    c = math.exp(-K / ((K - 1) * tau))
    start = np.concatenate([[0], np.cumsum(m)[:-1]])
    batches, weights = [], []
    for k in range(K):
        for l in range(k + 1, K):
            size, Dk, Dl = 1 + m[l], 1 + m[l] * c, m[l] + c        # D_S(g) = n_S(g) + (|S| - n_S(g)) c
            a_kl, a_lk = m[l] / (size * Dk), m[l] / (size * Dl)      # n_S(k) n_S(l) / (|S| D_S(.))
            batches.append([int(start[k])] + list(range(int(start[l]), int(start[l]) + m[l])))
            weights.append(1.0 / (a_kl + a_lk))
    ties = tuple(int(x) for x in np.repeat(np.arange(K), m))
    fam = Family.from_batches(batches, N=len(ties), weights=np.asarray(weights) * len(batches) / sum(weights))
    return fam, ties


def test_constant_kappa_is_not_sufficient_for_the_symmetric_item_etf():
    """K = 9 items, tau = 0.1, one copy of item 0, 48 of items 1-7, 500 of item 8 (N = 837), an ordered family with
    constant kappa: the item ETF is stationary (the oracle's tangent gradient vanishes), yet a rank-K configuration
    has a lower objective by the oracle, at the slope the certificate predicts; sigma > 2 and the law and the dual
    decision both say 'not optimal'. With K = 7 the same construction keeps sigma <= 2 and the ETF optimal."""
    from simulations.claims._labels import dual_decision
    from theory.label_balance import item_etf_balanced, item_etf_descent
    tau = 0.1
    m = (1,) + (48,) * 7 + (500,)
    K = len(m)
    fam, ties = _ordered_counterexample(m, tau)
    c = math.exp(-K / ((K - 1) * tau))
    # A in units of kappa0: A_kl + A_lk = 1, A_kl / A_lk = D(l) / D(k) for the batch of (k, l), k < l
    A = np.zeros((K, K))
    for k in range(K):
        for l in range(k + 1, K):
            rho = (m[l] + c) / (1 + m[l] * c)
            A[k, l], A[l, k] = rho / (1 + rho), 1 / (1 + rho)
    r = A.sum(axis=1)
    sigma = float(np.sum(1 / (1 + 2 * r)))
    assert sigma > 2.01
    law = item_etf_balanced(fam, ties, tau)
    assert law["stationary"] and law["spread"] < 1e-12
    assert law["balanced"] is False and law["psd_sum"] == pytest.approx(sigma, rel=1e-12)
    assert law["psd_margin"] == pytest.approx(2 - sigma, rel=1e-9)
    L = InfoNCE(tau)
    W = item_etf(ties)
    gU, gV = th.gradient(W, W, fam, L, ties=ties)
    assert th.tangent_gradient_norm(W, W, fam, L, ties=ties) < 1e-9 * np.linalg.norm(np.vstack([gU, gV]))
    assert dual_decision(fam, L, W, ties=ties)["optimal"] is False
    # the descent direction, built here: s_k = 1 / (kappa0 + 2 r_k), u gains +s/2, v gains -s/2 in a new dimension
    s = (1 / (1 + 2 * r)) / np.max(1 / (1 + 2 * r))
    k0 = float(np.mean(np.asarray(law["kappa"])[~np.eye(K, dtype=bool)]))   # kappa0 in the law's units
    slope = c / (2 * tau) * k0 * (float(np.sum((1 + 2 * r) * s ** 2)) - float(np.sum(s)) ** 2 / 2)
    W0 = np.hstack([W, np.zeros((K, 1))])
    v0 = th.objective(W0, W0, fam, L, ties=ties)
    for eps in (1e-2, 1e-3):
        U = normalize_rows(np.hstack([W, math.sqrt(eps) * s[:, None] / 2]))
        V = normalize_rows(np.hstack([W, -math.sqrt(eps) * s[:, None] / 2]))
        drop = th.objective(U, V, fam, L, ties=ties) - v0
        assert drop < -1e3 * 1e-15 * v0                                 # far above float64 rounding
        d = item_etf_descent(fam, ties, tau, eps=eps)
        np.testing.assert_allclose(d["U"], U, atol=1e-14)
        np.testing.assert_allclose(d["V"], V, atol=1e-14)
        assert d["slope"] == pytest.approx(slope, rel=1e-9)
    assert drop / 1e-3 == pytest.approx(slope, rel=0.03)               # first order: eps * x^T Y x
    # K = 7: sigma <= sum_{j<7} 1/(2j+1) < 2 whatever the family; the same construction is certified optimal
    fam7, ties7 = _ordered_counterexample((1,) + (48,) * 5 + (500,), tau)
    law7 = item_etf_balanced(fam7, ties7, tau)
    assert law7["balanced"] is True and 0 < law7["psd_margin"] < 0.1
    assert dual_decision(fam7, L, item_etf(ties7), ties=ties7)["optimal"] is True
    with pytest.raises(ValueError, match="stationary"):
        item_etf_descent(fam7, ties7, tau)
    with pytest.raises(ValueError, match="eps"):
        item_etf_descent(fam, ties, tau, eps=0.0)


@pytest.mark.parametrize("claim_id", ["supcon_full_batch", "supcon_all_batches", "supcon_partitions", "duplicates",
                                      "label_balance_law"])
def test_each_label_claim_gives_its_tiny_verdict(claim_id):
    from simulations.claims import CLAIMS
    c = CLAIMS[claim_id]
    v = c.run("tiny")
    assert v.verdict == c.expected_tiny, (v.verdict, v.numbers.get("fails_for"))
    if c.expected_fails_tiny:
        assert v.numbers["fails_for"] == list(c.expected_fails_tiny)


def _supcon_relaxation_reference(labels, batches, tau, nonneg=False):
    """An independent relaxation (not the package's): SupCon written anchor by anchor from its definition on a
    2N x 2N PSD matrix of unit diagonal (entrywise >= 0 with nonneg), solved by Clarabel."""
    n = len(labels)
    M = cp.Variable((2 * n, 2 * n), PSD=True)
    cons = [cp.diag(M) == 1] + ([M >= 0] if nonneg else [])
    total = 0
    for S in batches:
        for i in S:
            pos = [p for p in S if labels[p] == labels[i]]
            row = cp.hstack([M[i, n + j] for j in S])
            col = cp.hstack([M[j, n + i] for j in S])
            total += (cp.log_sum_exp(row / tau) - sum(M[i, n + p] for p in pos) / (len(pos) * tau)) / len(S)
            total += (cp.log_sum_exp(col / tau) - sum(M[p, n + i] for p in pos) / (len(pos) * tau)) / len(S)
    prob = cp.Problem(cp.Minimize(total / len(batches)), cons)
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return prob.value


@pytest.mark.parametrize("labels,fam,nonneg", [
    ((0, 0, 1, 1, 2, 2), Family.full(6), False), ((0, 0, 1, 1, 2, 2), Family.full(6), True),
    ((0, 0, 1, 1, 2, 2), Family.from_batches([[0, 2], [1, 4], [3, 5]], N=6), False),
    ((0, 0, 1, 1, 2, 2), Family.from_batches([[0, 2], [1, 4], [3, 5]], N=6), True),
    ((0, 0, 0, 1, 1, 2), Family.all(6, 3), False), ((0, 0, 0, 1, 1, 2), Family.full(6), False),
    ((0, 0, 0, 1, 1, 2), Family.no_duplicates((0, 0, 0, 1, 1, 2), 2), True)], ids=str)
def test_supcon_certificates_agree_with_an_independent_relaxation(labels, fam, nonneg):
    want = _supcon_relaxation_reference(labels, [list(map(int, S)) for S in fam.batch_list()], 1.0, nonneg)
    if fam.is_weighted:                               # the reference averages batches with equal weight
        pytest.skip("weighted family")
    c = th.certify(fam, SupCon(labels), nonneg=nonneg)
    assert c.certified and c.value == pytest.approx(want, abs=2e-6)


def test_certify_command_takes_ties_and_nonneg_and_matches_the_python_api(capsys):
    import json

    from simulations.cli import main as cli_main
    ties = (0, 0, 0, 1, 1, 2)
    assert cli_main(["certify", "--N", "6", "--B", "3", "--ties", ",".join(map(str, ties)), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"] == pytest.approx(th.certify(Family.all(6, 3), InfoNCE(1.0), ties=ties).value, abs=1e-7)
    assert out["etf"]["etf_optimal"] is None and "tied pairs coincide" in out["etf"]["reason"]
    assert "balance" not in out
    assert cli_main(["certify", "--N", "6", "--B", "3", "--nonneg", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["value"] == pytest.approx(th.certify(Family.all(6, 3), InfoNCE(1.0), nonneg=True).value, abs=1e-7)
    for bad, msg in ((["--ties", "0,x,1,1,2,2"], "--ties must be comma-separated integers"),
                     (["--ties", "0,0,1"], "ties must have length N=6"),
                     (["--nonneg", "--method", "lowrank"], "neither ties nor nonneg")):
        assert cli_main(["certify", "--N", "6", "--B", "3", *bad]) == 2
        assert msg in capsys.readouterr().err
