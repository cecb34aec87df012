"""Losses beyond InfoNCE (theory.objectives): each against a per-batch loop written from its
definition, the exact pair-sum objectives against enumeration, and the batch-size identities."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import unit_rows
from theory import Family, family_loss
from theory.objectives import (
    DCL, DHEL, KCL, LOSS_CLASSES, InfoNCE, SigLIP, all_batches_pair_sum, loss_batch_losses, loss_family_objective,
    make_loss, pair_sum_objective,
)

LOSSES = [InfoNCE(0.5), InfoNCE(0.7, symmetric=False), SigLIP(0.3, -2.0), DCL(0.5), DCL(0.8, symmetric=False),
          DHEL(0.5), DHEL(0.6, symmetric=False), KCL(2.0, 1.0), KCL(0.5, 3.0)]


def _loop_loss(loss, U, V, S):
    """One batch, written term by term from the definition in the module docstring (no shared code)."""
    S = list(S)
    b = len(S)
    dot = lambda x, y: float(np.dot(x, y))  # noqa: E731
    if isinstance(loss, SigLIP):
        return sum(math.log1p(math.exp(-(1 if i == j else -1) * (dot(U[i], V[j]) / loss.tau + loss.bias)))
                   for i in S for j in S) / b
    if isinstance(loss, KCL):
        k = lambda x, y: math.exp(-loss.t * float(np.sum((x - y) ** 2)))  # noqa: E731
        pairs = [(i, j) for i in S for j in S if i != j]
        return (-sum(k(U[i], V[i]) for i in S) / b
                + loss.gamma * sum(k(U[i], U[j]) + k(V[i], V[j]) for i, j in pairs) / (b * (b - 1)))
    total = 0.0
    sides = [(U, V)] + ([(V, U)] if loss.symmetric else [])
    for A, C in sides:                          # anchors from A; positives and negatives from C (or A for DHEL)
        for i in S:
            pos = dot(A[i], C[i]) / loss.tau
            if isinstance(loss, InfoNCE):
                den = [dot(A[i], C[j]) / loss.tau for j in S]
            elif isinstance(loss, DCL):
                den = [dot(A[i], C[j]) / loss.tau for j in S if j != i]
            else:                               # DHEL: the anchor's own modality
                den = [dot(A[i], A[j]) / loss.tau for j in S if j != i]
            m = max(den)
            total += (m + math.log(sum(math.exp(x - m) for x in den)) - pos) / b
    return total


@pytest.mark.parametrize("loss", LOSSES, ids=repr)
def test_every_loss_equals_its_definition_batch_by_batch(loss):
    U, V = unit_rows(7, 4, 0), unit_rows(7, 4, 1)
    fam = Family.from_batches([[0, 1, 2], [3, 4, 5, 6], [1, 6], [0, 2, 4, 5, 6]], 7, weights=[1.0, 2.0, 0.5, 1.5])
    got = loss_batch_losses(loss, U, V, fam)
    want = [_loop_loss(loss, U, V, S) for S in fam.batch_list()]
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    W = fam.weights
    assert loss_family_objective(loss, U, V, fam) == pytest.approx(float(np.dot(W, want) / W.sum()), rel=1e-12)


def test_infonce_object_is_the_existing_oracle():
    U, V = unit_rows(8, 3, 2), unit_rows(8, 3, 3)
    fam = Family.all(8, 3)
    for sym, name in ((True, "symmetric"), (False, "one_sided")):
        assert loss_family_objective(InfoNCE(0.4, sym), U, V, fam) == pytest.approx(
            family_loss(U, V, fam, loss=name, tau=0.4), rel=1e-13)


@settings(max_examples=25)
@given(st.integers(3, 9), st.integers(0, 2**31), st.sampled_from(["siglip", "kcl"]), st.data())
def test_pair_sum_objective_equals_enumeration_on_weighted_mixed_families(N, seed, name, data):
    U, V = unit_rows(N, 3, seed), unit_rows(N, 3, seed + 1)
    loss = SigLIP(0.5, -1.0) if name == "siglip" else KCL(1.5, 2.0)
    B = data.draw(st.integers(2, N))
    fams = [Family.all(N, B), Family.random(N, B, 4, seed=seed),
            Family.mixture([Family.all(N, 2), Family.all(N, B)], [0.3, 0.7])]
    for fam in fams:
        assert pair_sum_objective(loss, U, V, fam) == pytest.approx(loss_family_objective(loss, U, V, fam), rel=1e-12)
    assert all_batches_pair_sum(loss, U, V, B) == pytest.approx(loss_family_objective(loss, U, V, Family.all(N, B)),
                                                                rel=1e-12)


@settings(max_examples=25)
@given(st.integers(3, 9), st.integers(0, 2**31), st.floats(0.1, 5.0), st.floats(0.1, 5.0))
def test_kcl_expected_batch_loss_does_not_depend_on_the_batch_size(N, seed, t, gamma):
    """Koromilas et al.: the mean KCL loss over all batches of size B is the full-batch loss, every B."""
    U, V = unit_rows(N, 4, seed), unit_rows(N, 4, seed + 1)
    loss = KCL(t, gamma)
    full = loss_family_objective(loss, U, V, Family.full(N))
    for B in range(2, N + 1):
        assert loss_family_objective(loss, U, V, Family.all(N, B)) == pytest.approx(full, rel=1e-12, abs=1e-14)


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
        assert loss_family_objective(SigLIP(tau, bias), U, V, Family.all(N, B)) == pytest.approx(want, rel=1e-12)


def test_losses_refuse_bad_parameters_and_batches_too_small():
    with pytest.raises(ValueError, match="tau"):
        SigLIP(tau=0.0)
    with pytest.raises(ValueError, match="bias"):
        SigLIP(bias=float("nan"))
    with pytest.raises(ValueError, match="gamma"):
        KCL(gamma=-1.0)
    with pytest.raises(ValueError, match="symmetric"):
        DCL(symmetric="yes")
    with pytest.raises(ValueError, match="loss must be one of"):
        make_loss("triplet")
    with pytest.raises(ValueError, match="unknown"):
        make_loss("siglip", temperature=0.1)
    assert make_loss("siglip", tau=0.1, bias=-10) == SigLIP(0.1, -10.0)
    assert set(LOSS_CLASSES) == {"infonce", "siglip", "dcl", "dhel", "kcl"}
    U = unit_rows(4, 3, 0)
    with pytest.raises(ValueError, match="size >= 2"):
        loss_family_objective(DCL(), U, U, Family.from_batches([[0], [1, 2, 3]], 4, kind="dataloader"))
    with pytest.raises(ValueError, match="not a sum over pairs"):
        pair_sum_objective(DCL(), U, U, Family.all(4, 2))
