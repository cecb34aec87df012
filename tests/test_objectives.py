"""Every built-in loss against a per-batch loop written from its published definition (no shared code), the
exact pair-sum objectives against enumeration, and the batch-size identities."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import simulations as sim
import theory as th
from helpers import unit_rows
from theory import DCL, DHEL, KCL, VRN, InfoNCE, SigLIP, Family, make_loss

LOSSES = [InfoNCE(0.5), InfoNCE(0.7, symmetric=False), SigLIP(0.3, -2.0), DCL(0.5), DCL(0.8, symmetric=False),
          DCL(0.5, negatives="cross"), DCL(0.8, symmetric=False, negatives="cross"),
          DHEL(0.5), DHEL(0.6, symmetric=False), KCL(2.0, 1.0), KCL(0.5, 3.0),
          VRN(InfoNCE(0.5), weight=3.0, n=7), VRN(DCL(0.5), weight=0.7, delta=-0.3, p=4)]


def _loop_loss(loss, U, V, S):
    """One batch, written term by term from the published definitions (no shared code)."""
    S = list(S)
    b = len(S)
    dot = lambda x, y: float(np.dot(x, y))  # noqa: E731
    if loss.name == "vrn":                      # Lee et al. 2025, Def. 5.7 (the authors' code): mean over i != j
        return _loop_loss(loss.base, U, V, S) + loss.weight * sum(
            (dot(U[i], V[j]) - loss.delta) ** loss.p for i in S for j in S if i != j) / (b * (b - 1))
    if loss.name == "siglip":                   # Zhai et al. 2023, eq. (1), normalised by the batch size
        return sum(math.log1p(math.exp(-(1 if i == j else -1) * (dot(U[i], V[j]) / loss.tau + loss.bias)))
                   for i in S for j in S) / b
    if loss.name == "kcl":                      # Koromilas et al. 2024, Gaussian kernel exp(-t ||x - y||^2)
        k = lambda x, y: math.exp(-loss.t * float(np.sum((x - y) ** 2)))  # noqa: E731
        pairs = [(i, j) for i in S for j in S if i != j]
        return (-sum(k(U[i], V[i]) for i in S) / b
                + loss.gamma * sum(k(U[i], U[j]) + k(V[i], V[j]) for i, j in pairs) / (b * (b - 1)))
    total = 0.0
    sides = [(U, V)] + ([(V, U)] if loss.symmetric else [])
    for A, C in sides:                          # anchors from A; positives from C
        for i in S:
            pos = dot(A[i], C[i]) / loss.tau
            if loss.name == "infonce":
                den = [dot(A[i], C[j]) / loss.tau for j in S]
            elif loss.name == "dcl":            # Yeh et al. 2022, eq. (6): both views of every other sample
                den = [dot(A[i], C[j]) / loss.tau for j in S if j != i]
                if loss.negatives == "both":
                    den += [dot(A[i], A[j]) / loss.tau for j in S if j != i]
            else:                               # DHEL: the anchor's own modality
                den = [dot(A[i], A[j]) / loss.tau for j in S if j != i]
            m = max(den)
            total += (m + math.log(sum(math.exp(x - m) for x in den)) - pos) / b
    return total


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
def test_every_loss_equals_its_definition_batch_by_batch(loss):
    U, V = unit_rows(7, 4, 0), unit_rows(7, 4, 1)
    fam = Family.from_batches([[0, 1, 2], [3, 4, 5, 6], [1, 6], [0, 2, 4, 5, 6]], 7, weights=[1.0, 2.0, 0.5, 1.5])
    got = th.batch_values(U, V, fam, loss)
    want = [_loop_loss(loss, U, V, S) for S in fam.batch_list()]
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    W = fam.weights
    assert th.objective(U, V, fam, loss) == pytest.approx(float(np.dot(W, want) / W.sum()), rel=1e-12)
    Ut, Vt = torch.tensor(U), torch.tensor(V)
    assert np.allclose(sim.batch_values(Ut, Vt, fam, loss).numpy(), want, rtol=1e-12, atol=1e-12)


def test_dcl_as_published_differs_from_the_cross_view_variant():
    """The same-view negatives matter: the two DCL forms are different functions (equal only if U U^T = U V^T)."""
    U, V = unit_rows(6, 3, 4), unit_rows(6, 3, 5)
    fam = Family.all(6, 3)
    both, cross = th.objective(U, V, fam, DCL(0.5)), th.objective(U, V, fam, DCL(0.5, negatives="cross"))
    assert abs(both - cross) > 1e-3
    assert th.objective(U, U, fam, DCL(0.5)) == pytest.approx(
        th.objective(U, U, fam, DCL(0.5, negatives="cross")) + 2 * math.log(2), rel=1e-12)   # U = V: each sum doubles


@settings(max_examples=25)
@given(st.integers(3, 9), st.integers(0, 2**31), st.sampled_from(["siglip", "kcl"]), st.data())
def test_pair_sum_objective_equals_enumeration_on_weighted_mixed_families(N, seed, name, data):
    """The engine's O(N^2) pair-form closed form of all-C(N,b) parts equals the oracle's enumeration."""
    U, V = unit_rows(N, 3, seed), unit_rows(N, 3, seed + 1)
    loss = SigLIP(0.5, -1.0) if name == "siglip" else KCL(1.5, 2.0)
    B = data.draw(st.integers(2, N - 1))                # Family.all(N, N) is the full batch (stored)
    fams = [Family.all(N, B), Family.mixture([Family.all(N, 2), Family.all(N, B)], [0.3, 0.7])]
    Ut, Vt = torch.tensor(U), torch.tensor(V)
    for fam in fams:
        closed = float(sim.objective(Ut, Vt, fam, loss, method="formula"))
        assert closed == pytest.approx(th.objective(U, V, fam, loss), rel=1e-12)


@settings(max_examples=25)
@given(st.integers(3, 9), st.integers(0, 2**31), st.floats(0.1, 5.0), st.floats(0.1, 5.0))
def test_kcl_expected_batch_loss_does_not_depend_on_the_batch_size(N, seed, t, gamma):
    """Koromilas et al.: the mean KCL loss over all batches of size B is the full-batch loss, every B."""
    U, V = unit_rows(N, 4, seed), unit_rows(N, 4, seed + 1)
    loss = KCL(t, gamma)
    full = th.objective(U, V, Family.full(N), loss)
    for B in range(2, N + 1):
        assert th.objective(U, V, Family.all(N, B), loss) == pytest.approx(full, rel=1e-12, abs=1e-14)


@settings(max_examples=25)
@given(st.integers(3, 9), st.integers(0, 2**31), st.floats(0.05, 2.0), st.floats(-10.0, 10.0))
def test_siglip_all_batches_is_the_full_batch_with_negatives_reweighted(N, seed, tau, bias):
    """All-C(N,B) SigLIP = (1/N)[sum of positive terms + (B-1)/(N-1) sum of negative terms]: not the full
    batch unless B = N (the normalisation 1/|S| over |S|^2 terms is what makes it a real question)."""
    U, V = unit_rows(N, 4, seed), unit_rows(N, 4, seed + 1)
    x = U @ V.T / tau + bias
    pos = np.logaddexp(0, -np.diag(x)).sum()
    neg = np.logaddexp(0, x).sum() - np.logaddexp(0, np.diag(x)).sum()
    for B in range(2, N + 1):
        want = (pos + (B - 1) / (N - 1) * neg) / N
        assert th.objective(U, V, Family.all(N, B), SigLIP(tau, bias)) == pytest.approx(want, rel=1e-12)


def test_losses_refuse_bad_parameters_and_batches_too_small():
    with pytest.raises(ValueError, match="tau"):
        SigLIP(tau=0.0)
    with pytest.raises(ValueError, match="bias"):
        SigLIP(bias=float("nan"))
    with pytest.raises(ValueError, match="gamma"):
        KCL(gamma=-1.0)
    with pytest.raises(ValueError, match="symmetric"):
        DCL(symmetric="yes")
    with pytest.raises(ValueError, match="negatives"):
        DCL(negatives="same")
    with pytest.raises(ValueError, match="loss must be one of"):
        make_loss("triplet")
    with pytest.raises(ValueError, match="unknown"):
        make_loss("siglip", temperature=0.1)
    assert make_loss("siglip", tau=0.1, bias=-10) == SigLIP(0.1, -10.0)
    assert {"infonce", "siglip", "dcl", "dhel", "kcl"} <= set(th.LOSSES)
    U = unit_rows(4, 3, 0)
    with pytest.raises(ValueError, match="size >= 2"):
        th.objective(U, U, Family.from_batches([[0], [1, 2, 3]], 4, kind="dataloader"), DCL())
    with pytest.raises(ValueError, match="needs a closed form"):
        sim.objective(torch.tensor(U), torch.tensor(U), Family.all(4, 2), DCL(), method="formula")
