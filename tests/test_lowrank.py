"""Low-rank (Burer-Monteiro) certificates: agreement with the SDP, the KKT certificate recomputed independently.

The independent recomputation differentiates the family objective as a function of the whole matrix ``M``
(the batches' Gram blocks read from ``M``, fed to the loss's ``batch_losses``) by central differences along
the symmetric directions ``e_k e_l^T + e_l e_k^T``; it shares no code with :mod:`theory.lowrank` or with
:func:`theory.gram_gradient`.
"""
import json
import math
import time
from dataclasses import dataclass

import numpy as np
import pytest

import theory as th
from theory import DCL, DHEL, KCL, Family, InfoNCE, Loss, SigLIP
from theory.certificates import Certificate, certify, etf_is_optimal
from theory.lowrank import AUTO_MIN_N, LowRankCertificate, certify_lowrank, kkt_certificate

LOSSES = [InfoNCE(0.5, True), InfoNCE(0.5, False), SigLIP(1.0, 0.0), SigLIP(0.3, -3.0),
          DCL(0.5, True, "both"), DCL(0.5, True, "cross"), DHEL(0.5, True), KCL(2.0, 1.0)]


def families():
    weighted = Family.from_batches([[0, 1, 2], [2, 3, 4, 5], [5, 6, 7, 8], [0, 4, 8], [1, 3, 6, 7]], 9,
                                   weights=[1.0, 2.0, 0.5, 1.5, 1.0])
    mixture = Family.mixture([Family.partition(8, 2, seed=0), Family.random(8, 4, 6, seed=1)], [1.0, 3.0])
    loader = Family.dataloader_epoch(10, 4, drop_last=False, seed=0)
    return {"weighted": weighted, "mixture": mixture, "dataloader": loader}


FAMILIES = families()


# ---------------------------------------------------------------- the independent recomputation
def objective_of_M(M, family, loss):
    """``sum_S w_S L(S) / sum_S w_S`` with the Gram blocks read from any symmetric ``M`` (2N x 2N)."""
    N = family.N
    total = 0.0
    for S, w in zip(family.batch_list(), family.weights):
        Z = M[np.ix_(S, S + N)][None]
        if loss.needs_self_grams:
            val = loss.batch_losses(Z, S[None], M[np.ix_(S, S)][None], M[np.ix_(S + N, S + N)][None])
        else:
            val = loss.batch_losses(Z, S[None])
        total += w * float(val[0])
    return total / family.total_weight


def fd_gradient(M, family, loss, h=1e-5):
    """``G`` with ``df = <G, dM>`` by central differences along ``e_k e_l^T + e_l e_k^T`` (``2 G_kl``) and
    ``e_k e_k^T`` (``G_kk``)."""
    n = M.shape[0]
    G = np.zeros((n, n))
    for k in range(n):
        for l in range(k, n):
            E = np.zeros((n, n))
            E[k, l] = E[l, k] = 1.0
            d = (objective_of_M(M + h * E, family, loss) - objective_of_M(M - h * E, family, loss)) / (2 * h)
            G[k, l] = G[l, k] = d if k == l else d / 2
    return G


def recomputed_kkt(Y, family, loss):
    """(value, lam, lambda_min(S)/||G||, ||S Y||/(||G|| ||Y||), lower bound) from ``M = Y Y^T`` alone."""
    N = family.N
    M = Y @ Y.T
    G = fd_gradient(M, family, loss)
    if loss.aligned:                      # M = E X E^T: the reduced gradient H = E^T G E acts on X = V V^T
        G = G[:N, :N] + G[:N, N:] + G[N:, :N] + G[N:, N:]
        Y = Y[N:]
        M = Y @ Y.T
    scale = np.linalg.norm(G)
    lam = np.diag(G @ M)
    S = G - np.diag(lam)
    lam_min = np.linalg.eigvalsh(S)[0]
    value = objective_of_M(Y @ Y.T if not loss.aligned else np.block([[M, M], [M, M]]), family, loss)
    lower = value + (lam.sum() - np.sum(G * M)) - M.shape[0] * max(0.0, -lam_min)
    return value, lam, lam_min / scale, np.linalg.norm(S @ Y) / (scale * np.linalg.norm(Y)), lower


def corrupt(Y, N, aligned, seed=0):
    Yc = th.normalize_rows(Y + 0.05 * np.random.default_rng(seed).standard_normal(Y.shape))
    if aligned:
        Yc[N:] = Yc[:N]
    return Yc


# ---------------------------------------------------------------- agreement with the SDP, the certificate
@pytest.mark.parametrize("fname", sorted(FAMILIES))
@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.label)
def test_lowrank_matches_sdp_and_the_certificate_is_recomputed(loss, fname):
    fam = FAMILIES[fname]
    N = fam.N
    sdp = certify(fam, loss, method="sdp")
    assert sdp.certified
    c = certify(fam, loss, method="lowrank")
    assert isinstance(c, LowRankCertificate) and c.certified, c
    tol = 1e-6 * max(1.0, abs(sdp.value))
    assert abs(c.value - sdp.value) <= tol
    assert c.lower_bound - 1e-7 * max(1.0, abs(sdp.value)) <= sdp.value <= c.value + 1e-7 * max(1.0, abs(sdp.value))
    assert -1e-12 <= c.gap <= 1e-6 * max(1.0, abs(c.value))
    assert c.Y.shape == (2 * N, c.rank) and np.allclose(np.linalg.norm(c.Y, axis=1), 1.0, atol=1e-12)
    if loss.aligned:
        assert np.array_equal(c.U, c.V)
    # the value and the certificate from M alone, by finite differences of the objective
    value, lam, min_eig, residual, lower = recomputed_kkt(c.Y, fam, loss)
    assert abs(value - c.value) <= 1e-12 * max(1.0, abs(value))
    assert abs(value - th.objective(c.U, c.V, fam, loss)) <= 1e-12 * max(1.0, abs(value))
    assert np.max(np.abs(lam - c.lam)) <= 1e-6 * c.scale
    assert min_eig >= -1e-5 and residual <= 1e-5
    assert abs(min_eig - c.min_eig_rel) <= 1e-6 and abs(residual - c.residual_rel) <= 1e-6
    assert abs(lower - c.lower_bound) <= 1e-6 * max(1.0, abs(value))
    # a corrupted factor fails, recomputed likewise, and its lower bound is still a lower bound
    Yc = corrupt(c.Y, N, loss.aligned)
    bad = kkt_certificate(fam, loss, Yc)
    assert not bad.certified and bad.iterations == 0
    assert max(bad.residual_rel, -bad.min_eig_rel) > 1e-5
    _, lam_c, min_eig_c, residual_c, lower_c = recomputed_kkt(Yc, fam, loss)
    assert max(residual_c, -min_eig_c) > 1e-5
    assert abs(min_eig_c - bad.min_eig_rel) <= 1e-6 and abs(residual_c - bad.residual_rel) <= 1e-6
    assert abs(lower_c - bad.lower_bound) <= 1e-6 * max(1.0, abs(value))
    assert bad.lower_bound <= sdp.value + 1e-7 * max(1.0, abs(sdp.value)) and bad.value >= sdp.value - tol


def test_siglip_regimes_of_the_grid():
    """The grid holds a SigLIP whose full-batch optimum is the ETF and one whose optimum is not."""
    assert etf_is_optimal(Family.full(8), SigLIP(0.3, -3.0)).optimal is True
    assert etf_is_optimal(Family.full(8), SigLIP(1.0, 0.0)).optimal is False
    for loss, etf in ((SigLIP(0.3, -3.0), True), (SigLIP(1.0, 0.0), False)):
        c = certify_lowrank(Family.full(8), loss)
        W = th.simplex_etf(8, 7)
        assert c.certified and (th.gram_distance(c.Z, W @ W.T) < 1e-3) is etf


def test_kkt_certificate_of_the_optimum_agrees_with_the_run():
    fam = FAMILIES["dataloader"]
    c = certify_lowrank(fam, InfoNCE(0.5))
    again = kkt_certificate(fam, InfoNCE(0.5), c.Y)
    assert again.certified and abs(again.value - c.value) <= 1e-14
    assert np.allclose(again.lam, c.lam, rtol=0, atol=1e-12 * c.scale)
    assert abs(again.min_eig_rel - c.min_eig_rel) <= 1e-12 and abs(again.residual_rel - c.residual_rel) <= 1e-12


# ---------------------------------------------------------------- the dispatch and the record
def test_certify_dispatch():
    small = Family.full(6)
    assert isinstance(certify(small, "infonce"), Certificate)                 # auto below AUTO_MIN_N: the SDP
    assert isinstance(certify(small, "infonce", method="sdp"), Certificate)
    assert isinstance(certify(small, "infonce", method="lowrank", seed=1), LowRankCertificate)
    assert isinstance(certify(small, "infonce", rel_tol=1e-7), LowRankCertificate)   # a low-rank option
    big = Family.dataloader_epoch(AUTO_MIN_N, 8, seed=0)
    c = certify(big, InfoNCE(0.5))
    assert isinstance(c, LowRankCertificate) and c.certified and c.status == "kkt_certified"
    with pytest.raises(ValueError, match="method"):
        certify(small, "infonce", method="newton")
    with pytest.raises(ValueError, match="low-rank options"):
        certify(small, "infonce", method="sdp", rank=3)
    with pytest.raises(ValueError, match="solver"):
        certify(small, "infonce", method="lowrank", solver="SCS")
    with pytest.raises(ValueError, match="both methods"):
        certify(small, "infonce", solver="SCS", rank=3)


def test_record_summary_is_json_and_options_are_used():
    fam = FAMILIES["weighted"]
    c = certify_lowrank(fam, InfoNCE(0.5), rank=2, rel_tol=1e-7, seed=3)
    s = c.summary()
    json.dumps(s)
    assert s["certified"] and s["rel_tol"] == 1e-7 and s["ranks_tried"][0] == 2 and c["value"] == c.value
    assert c.ranks_tried == tuple(sorted(c.ranks_tried)) and c.rank == c.ranks_tried[-1]
    assert c.evaluations >= c.iterations > 0 and c.seconds > 0 and "Y=" not in repr(c)


def test_a_failed_run_is_reported_not_raised():
    fam = FAMILIES["mixture"]
    c = certify_lowrank(fam, InfoNCE(0.5), rank=1, max_rank=1, max_iter=3)
    assert not c.certified and c.status == "kkt_not_certified" and c.ranks_tried == (1,)
    assert c.lower_bound <= certify(fam, InfoNCE(0.5), method="sdp").value + 1e-7


def test_grad_fn_callback_is_used():
    fam = FAMILIES["dataloader"]
    loss = InfoNCE(0.5)
    calls = []

    def grad_fn(U, V):
        calls.append(1)
        return th.objective(U, V, fam, loss), th.gram_gradient(U, V, fam, loss)
    c = certify_lowrank(fam, loss, grad_fn=grad_fn)
    assert c.certified and len(calls) == c.evaluations
    assert abs(c.value - certify_lowrank(fam, loss).value) <= 1e-9


@dataclass(frozen=True)
class _NoRelaxation(Loss):
    def batch_losses(self, Z, idx, UU=None, VV=None):
        return -Z.diagonal(axis1=1, axis2=2).mean(-1)


def test_refusals():
    with pytest.raises(ValueError, match="convex relaxation"):
        certify_lowrank(Family.full(5), _NoRelaxation())
    with pytest.raises(ValueError, match="gradient callback"):
        certify_lowrank(Family.all(40, 20), InfoNCE())
    full = Family.full(5)
    with pytest.raises(ValueError, match="not finite"):
        certify_lowrank(full, InfoNCE(), grad_fn=lambda U, V: (math.nan, th.gram_gradient(U, V, full, "infonce")))
    Y = th.normalize_rows(np.random.default_rng(0).standard_normal((10, 3)))
    with pytest.raises(ValueError, match="U = V"):
        kkt_certificate(Family.full(5), KCL(), Y)
    with pytest.raises(ValueError, match="unit rows"):
        kkt_certificate(Family.full(5), InfoNCE(), 2 * Y)
    with pytest.raises(ValueError, match="shape"):
        kkt_certificate(Family.full(5), InfoNCE(), Y[:9])


# ---------------------------------------------------------------- N = 1024
def infonce_gradient_from_definition(Z, family, tau):
    """``dL_F/dZ`` of symmetric InfoNCE: per batch ``(P + Q - 2 I) / (b tau)``, ``P`` the row softmax and ``Q`` the
    column softmax of ``Z_S / tau``; averaged over the batches (unit weights)."""
    out = np.zeros_like(Z)
    value = 0.0
    for S in family.batch_list():
        X = Z[np.ix_(S, S)] / tau
        b = len(S)
        P = np.exp(X - X.max(1, keepdims=True))
        P /= P.sum(1, keepdims=True)
        Q = np.exp(X - X.max(0, keepdims=True))
        Q /= Q.sum(0, keepdims=True)
        out[np.ix_(S, S)] += (P + Q - 2 * np.eye(b)) / (b * tau)
        lse_r = np.log(np.exp(X - X.max(1, keepdims=True)).sum(1)) + X.max(1)
        lse_c = np.log(np.exp(X - X.max(0, keepdims=True)).sum(0)) + X.max(0)
        value += (lse_r.sum() + lse_c.sum() - 2 * np.trace(X)) / b
    n = len(family.batch_list())
    return value / n, out / n


@pytest.mark.slow
def test_dataloader_epoch_1024_certified_in_minutes():
    N, B, tau = 1024, 64, 0.5
    fam = Family.dataloader_epoch(N, B, drop_last=False, seed=0)
    t0 = time.perf_counter()
    c = certify(fam, InfoNCE(tau), method="lowrank")
    seconds = time.perf_counter() - t0
    print(f"\nN={N}, B={B}, InfoNCE tau={tau}: certified={c.certified} in {seconds:.1f} s, rank {c.rank}, "
          f"{c.iterations} iterations, gap {c.gap:.2e}, min_eig_rel {c.min_eig_rel:.2e}, "
          f"residual_rel {c.residual_rel:.2e}")
    assert c.certified and seconds < 300
    # the KKT conditions recomputed from M alone, with InfoNCE's gradient written from its definition
    U, V = c.U, c.V
    value, gZ = infonce_gradient_from_definition(U @ V.T, fam, tau)
    assert abs(value - c.value) <= 1e-10 * value
    G = np.zeros((2 * N, 2 * N))
    G[:N, N:] = gZ / 2
    G[N:, :N] = gZ.T / 2
    M = c.Y @ c.Y.T
    lam = np.einsum("ij,ji->i", G, M)
    S = G - np.diag(lam)
    scale = np.linalg.norm(G)
    min_eig = np.linalg.eigvalsh(S)[0] / scale
    residual = np.linalg.norm(S @ c.Y) / (scale * np.linalg.norm(c.Y))
    print(f"recomputed: min_eig_rel {min_eig:.2e}, residual_rel {residual:.2e}")
    assert min_eig >= -c.rel_tol and residual <= c.rel_tol
    assert np.max(np.abs(lam - c.lam)) <= 1e-9 * scale
    lower = value - 2 * N * max(0.0, -min_eig * scale)
    assert abs(lower - c.lower_bound) <= 1e-8 * value
    # disjoint batches: each one's optimum is its own simplex ETF, the full-batch optimum of B points
    assert abs(c.value - th.optimum_full(B, tau)) <= 1e-8 and c.lower_bound <= th.optimum_full(B, tau) + 1e-12


# ---------------------------------------------------------------- the engine's gradient (any family size)
from scipy.special import expit  # noqa: E402

from simulations import certify as sim_certify  # noqa: E402
from simulations.engine.lowrank import engine_grad_fn, gram_value_and_gradient  # noqa: E402


@pytest.mark.parametrize("fname", sorted(FAMILIES) + ["all"])
@pytest.mark.parametrize("loss", LOSSES, ids=lambda l: l.label)
def test_engine_gram_gradient_equals_the_oracle(loss, fname):
    fam = FAMILIES.get(fname) or Family.all(9, 4)
    rng = np.random.default_rng(1)
    U = th.normalize_rows(rng.standard_normal((fam.N, 5)))
    V = U if loss.aligned else th.normalize_rows(rng.standard_normal((fam.N, 5)))
    value, g = gram_value_and_gradient(U, V, fam, loss)
    ref = th.gram_gradient(U, V, fam, loss)
    assert abs(value - th.objective(U, V, fam, loss)) <= 1e-13 * max(1.0, abs(value))
    scale = max(np.abs(ref.Z).max(), np.abs(ref.UU).max(), np.abs(ref.VV).max())
    for a, b in ((g.Z, ref.Z), (g.UU, ref.UU), (g.VV, ref.VV)):
        assert np.max(np.abs(a - b)) <= 1e-12 * scale


@pytest.mark.parametrize("loss", [InfoNCE(0.5), InfoNCE(0.5, False), SigLIP(0.3, -3.0)], ids=lambda l: l.label)
def test_engine_gram_gradient_past_the_streaming_limit_obeys_the_chain_rule(loss):
    """All C(26, 13) (10 million batches: InfoNCE's formula, SigLIP's pair form): the Gram gradient read off at
    ``U' = I, V' = Z^T`` (or the Gram stack) gives, by the chain rule, the engine's own autograd gradient in
    ``U`` and ``V`` at the embeddings, and the value is the engine's."""
    import torch
    import simulations as sim
    fam = Family.all(26, 13)
    assert fam.n_batches > 5_000_000
    rng = np.random.default_rng(2)
    U, V = (th.normalize_rows(rng.standard_normal((26, 6))) for _ in range(2))
    value, g = gram_value_and_gradient(U, V, fam, loss)
    Ut, Vt = (torch.tensor(X, requires_grad=True) for X in (U, V))
    val = sim.objective(Ut, Vt, fam, loss)
    dU, dV = torch.autograd.grad(val, (Ut, Vt))
    assert abs(value - float(val.detach())) <= 1e-13 * abs(value)
    eU, eV = g.embedding_gradient(U, V)
    scale = np.abs(dU.numpy()).max()
    assert np.max(np.abs(eU - dU.numpy())) <= 1e-11 * scale and np.max(np.abs(eV - dV.numpy())) <= 1e-11 * scale


@pytest.mark.parametrize("loss", [InfoNCE(0.5), SigLIP(1.0, 0.0), DCL(0.5, True, "both"), KCL(2.0, 1.0)],
                         ids=lambda l: l.label)
def test_engine_certificate_equals_the_oracle_certificate(loss):
    fam = FAMILIES["weighted"] if loss.needs_self_grams else FAMILIES["dataloader"]
    oracle = certify_lowrank(fam, loss)
    engine = sim_certify(fam, loss, method="lowrank", gradient="engine")
    assert oracle.certified and engine.certified
    assert abs(engine.value - oracle.value) <= 1e-10 * abs(oracle.value)
    # the certificate at one factor, from either gradient: value, multipliers and checks to rounding
    a, b = kkt_certificate(fam, loss, oracle.Y), kkt_certificate(fam, loss, oracle.Y, grad_fn=engine_grad_fn(fam, loss))
    assert abs(a.value - b.value) <= 1e-12 * abs(a.value)
    assert np.max(np.abs(a.lam - b.lam)) <= 1e-10 * a.scale
    assert abs(a.min_eig_rel - b.min_eig_rel) <= 1e-10 and abs(a.residual_rel - b.residual_rel) <= 1e-10


def test_simulations_certify_options():
    fam = FAMILIES["dataloader"]
    assert isinstance(sim_certify(Family.full(6), "infonce"), Certificate)        # auto: the SDP below AUTO_MIN_N
    with pytest.raises(ValueError, match="gradient"):
        sim_certify(fam, "infonce", gradient="numpy")
    with pytest.raises(ValueError, match="method='sdp' takes no gradient"):
        sim_certify(fam, "infonce", method="sdp", gradient="engine")
    with pytest.raises(ValueError, match="grad_fn"):
        certify(fam, "infonce", method="sdp", grad_fn=engine_grad_fn(fam, "infonce"))
    with pytest.raises(ValueError, match="enumeration limit"):
        sim_certify(Family.all(24, 12), "siglip", method="sdp")


def siglip_all_batches_from_definition(Z, N, B, tau, bias):
    """All-``C(N,B)`` SigLIP from its definition ``L(S) = (1/B) sum_{i,j in S} softplus(-y_ij x_ij)``: a pair
    ``(i, i)`` lies in a fraction ``B/N`` of the batches, an ordered pair ``i != j`` in ``B(B-1)/(N(N-1))``;
    returns the value and ``dL/dZ``."""
    x = Z / tau + bias
    off = ~np.eye(N, dtype=bool)
    p_d, p_o = B / N, B * (B - 1) / (N * (N - 1))
    value = (p_d * np.sum(np.logaddexp(0, -np.diag(x))) + p_o * np.sum(np.logaddexp(0, x)[off])) / B
    G = np.where(off, p_o * expit(x), -p_d * expit(-x)) / (B * tau)
    return value, G


def check_kkt_from_definition(c, value, gZ):
    """The KKT conditions of a loss of Z only at ``M = Y Y^T`` with ``G = [[0, gZ/2], [gZ^T/2, 0]]``."""
    N = c.N
    assert abs(value - c.value) <= 1e-12 * abs(value)
    G = np.zeros((2 * N, 2 * N))
    G[:N, N:] = gZ / 2
    G[N:, :N] = gZ.T / 2
    lam = np.einsum("ij,ji->i", G, c.Y @ c.Y.T)
    S = G - np.diag(lam)
    scale = np.linalg.norm(G)
    min_eig = np.linalg.eigvalsh(S)[0] / scale
    residual = np.linalg.norm(S @ c.Y) / (scale * np.linalg.norm(c.Y))
    assert min_eig >= -c.rel_tol and residual <= c.rel_tol
    assert np.max(np.abs(lam - c.lam)) <= 1e-10 * scale
    assert abs(scale - c.scale) <= 1e-12 * scale
    assert abs(value - 2 * N * max(0.0, -min_eig * scale) - c.lower_bound) <= 1e-9 * abs(value)


@pytest.mark.parametrize("N, B", [(24, 12), (64, 16)])
def test_all_batches_past_the_enumeration_limit_certified_and_recomputed(N, B):
    fam = Family.all(N, B)
    assert fam.n_batches > th.ENUMERATION_LIMIT
    loss = SigLIP(0.3, -3.0)
    c = sim_certify(fam, loss, method="lowrank")
    assert c.certified, c
    value, gZ = siglip_all_batches_from_definition(c.U @ c.V.T, N, B, loss.tau, loss.bias)
    check_kkt_from_definition(c, value, gZ)


@pytest.mark.slow
def test_infonce_all_batches_past_the_enumeration_limit_reaches_the_closed_form():
    """The engine's formula gradient certifies all ``C(36, 7)`` InfoNCE (8.3 million batches, past the streaming
    limit: the polynomial formula) at the closed-form optimum (Cho et al.: the simplex ETF,
    :func:`theory.optimum_all`)."""
    fam = Family.all(36, 7)
    assert fam.n_batches > 5_000_000
    c = sim_certify(fam, InfoNCE(0.5), method="lowrank")
    exact = th.optimum_all(36, 7, 0.5)
    assert c.certified and abs(c.value - exact) <= 1e-9 * exact and c.lower_bound <= exact + 1e-12


# ---------------------------------------------------------------- the fixed-epoch gap claim's closed forms
def test_fixed_epoch_gap_closed_form_matches_the_sdp_at_small_n():
    """The minimizers' full-batch gap of a fixed epoch (closed form of the claim fixed_epoch_gap_at_scale) is the
    limit of the SDP's constrained gap ``gap(eps)`` as ``eps -> 0``, approached from below."""
    from theory.certificates import full_batch_gap
    from simulations.claims.fixed_epoch_gap_at_scale import (block_orthogonal_minimizer, epoch_optimum,
                                                              minimizers_full_batch_gap)
    tau = 0.5
    for N, B in ((8, 4), (9, 4), (10, 4)):
        F = Family.dataloader_epoch(N, B, drop_last=False, seed=0)
        closed = minimizers_full_batch_gap(N, B, tau)
        g = full_batch_gap(F, InfoNCE(tau), eps=(1e-4, 1e-6))
        assert g.certified
        assert abs(g.family_value - epoch_optimum(N, B, tau)) <= 1e-6
        assert g.gaps[0] <= g.gaps[1] <= closed + 1e-7
        if N % B == 1:            # the singleton's free vector: gap(eps) approaches like sqrt(eps)
            assert closed - g.gaps[1] <= (closed - g.gaps[0]) / 5
        else:
            assert closed - g.gaps[1] <= 5e-6
        W = block_orthogonal_minimizer(F)
        assert abs(th.objective(W, W, F, InfoNCE(tau)) - epoch_optimum(N, B, tau)) <= 1e-12
        assert abs(th.objective(W, W, Family.full(N), InfoNCE(tau)) - th.optimum_full(N, tau) - closed) <= 1e-12
