"""Lee et al.'s variance-reducing term (theory.losses.VRN): its value against the authors' formula written anew in
torch, its zero at the ETF, the ETF's optimality over all C(N,B) batches, the one-dimensional partition optimum
against the certified optimum, the generalised variance bound at its extremal Gram, and its parameters."""
import numpy as np
import pytest
import torch

import theory as th
from helpers import unit_rows
from theory import VRN, Family, InfoNCE


def _authors_vrn(z1, z2, index, delta, p):
    """The authors' ``vrn_loss_func`` (solo/losses/vrn.py), one device: normalise, all cross similarities, negatives
    where the indices differ, the mean of ``(similarity - delta)^p``."""
    z1 = torch.nn.functional.normalize(z1, dim=1)
    z2 = torch.nn.functional.normalize(z2, dim=1)
    similarity = torch.einsum("id, jd -> ij", z1, z2)
    neg_mask = index.unsqueeze(0).t() != index.unsqueeze(0)
    return (similarity[neg_mask] - delta).pow(p).mean()


@pytest.mark.parametrize("base,weight,target,p", [("infonce(tau=0.5)", 30.0, {"n": 50000}, 2),
                                                  ("siglip(tau=0.3, bias=-2)", 2.0, {"delta": -0.25}, 2),
                                                  ("dcl(tau=0.5)", 0.7, {"n": 5}, 4)])
def test_vrn_adds_the_authors_term_to_the_base_loss(base, weight, target, p):
    U, V = unit_rows(7, 4, 0), unit_rows(7, 4, 1)
    fam = Family.from_batches([[0, 1, 2], [3, 4, 5, 6], [1, 6]], 7)
    loss = th.make_loss("vrn", base=base, weight=weight, p=p, **target)
    delta = -1 / (target["n"] - 1) if "n" in target else target["delta"]
    got = th.batch_values(U, V, fam, loss) - th.batch_values(U, V, fam, loss.base)
    for S, g in zip(fam.batch_list(), got):
        ref = _authors_vrn(torch.tensor(U[S]), torch.tensor(V[S]), torch.tensor(S), delta, p).item()
        assert g == pytest.approx(weight * ref, rel=1e-12, abs=1e-14)


def test_vrn_is_zero_at_the_etf_with_the_authors_delta_and_positive_elsewhere():
    N = 7
    E = th.simplex_etf(N, N - 1)
    loss = VRN(InfoNCE(0.5), weight=30.0, n=N)
    for B in (2, 3, N):
        fam = Family.all(N, B)
        assert th.objective(E, E, fam, loss) == pytest.approx(th.objective(E, E, fam, loss.base), abs=1e-14)
    assert abs(loss.auxiliary((E @ E.T)[None])[0]) <= 1e-30
    rng = np.random.default_rng(0)
    for _ in range(20):
        U = th.normalize_rows(rng.standard_normal((N, 4)))
        assert loss.auxiliary((U @ U.T)[None])[0] > 0                    # d = 4 < N - 1: not the ETF
    # another target: the ETF's term is (-1/(N-1) - delta)^2, not 0
    other = VRN(InfoNCE(0.5), weight=1.0, delta=0.0)
    assert other.auxiliary((E @ E.T)[None])[0] == pytest.approx(1 / (N - 1) ** 2, rel=1e-12)


def test_the_etf_stays_optimal_over_all_batches_with_the_authors_delta_not_with_delta_zero():
    N, B, tau, w = 6, 3, 1.0, 30.0
    fam = Family.all(N, B)
    E = th.simplex_etf(N, N - 1)
    loss = VRN(InfoNCE(tau), weight=w, n=N)
    cert = th.certify(fam, loss)
    assert cert.certified
    assert th.objective(E, E, fam, loss) == pytest.approx(cert.value, abs=1e-7)
    assert loss.closed_form_optimum(fam)["value"] == pytest.approx(th.optimum_all(N, B, tau), rel=1e-15)
    assert th.etf_is_optimal(fam, loss).optimal is True
    zero = VRN(InfoNCE(tau), weight=w, delta=0.0)
    assert zero.closed_form_optimum(fam) is None
    dec = th.etf_is_optimal(fam, zero, solver_check=True)
    assert dec.optimal is False and dec.excess > 0.1


@pytest.mark.parametrize("N,B,tau,weight", [(6, 2, 0.5, 2.0), (6, 3, 1.0, 0.3), (8, 4, 0.5, 10.0)])
def test_the_one_dimensional_partition_optimum_is_the_certified_optimum(N, B, tau, weight):
    loss = VRN(InfoNCE(tau), weight=weight, n=N)
    opt = th.optimum_partition_vrn(N, B, tau, weight=weight, delta=loss.delta)
    cert = th.certify(Family.partition(N, B), loss)
    assert cert.certified
    assert cert.value == pytest.approx(opt["value"], abs=1e-7)
    s0 = -1 / (B - 1)
    assert opt["at_boundary"] == (weight <= opt["weight_threshold"])
    assert s0 <= opt["s"] < loss.delta
    if not opt["at_boundary"]:                                            # an interior minimizer: phi'(s*) = 0
        phi = lambda s: 2 * np.log1p((B - 1) * np.exp((s - 1) / tau)) + weight * (s - loss.delta) ** 2  # noqa: E731
        h = 1e-6
        assert abs(phi(opt["s"] + h) - phi(opt["s"] - h)) / (2 * h) <= 1e-6


def test_the_partition_optimum_moves_towards_the_authors_delta_as_the_weight_grows():
    N, B, tau = 8, 4, 1.0
    s = [th.optimum_partition_vrn(N, B, tau, weight=w, delta=-1 / (N - 1))["s"] for w in (0.0, 1.0, 3.0, 30.0, 3e4)]
    assert s[0] == s[1] == -1 / (B - 1)                                   # below the threshold (2.32 here)
    assert s[1] < s[2] < s[3] < s[4] < -1 / (N - 1)
    assert s[4] == pytest.approx(-1 / (N - 1), abs=1e-4)


def test_the_generalised_variance_bound_is_attained_by_its_extremal_gram():
    """``U = V`` with the within-batch negatives at ``s``, every other pair at ``m_c = (-1 - (B-1) s)/(N-B)`` (so
    ``sum u = 0``) attains ``q (1-q) ((-1 - (N-1) s)/(N-B))^2``."""
    from simulations.claims.similarity_bound import similarities, variance_bound
    N, B = 8, 4
    K = np.kron(np.eye(N // B), np.ones((B, B)))
    for s in (-1 / (B - 1), -0.25, -0.2, -1 / (N - 1)):
        mc = (-1 - (B - 1) * s) / (N - B)
        G = (1 - s) * np.eye(N) + (s - mc) * K + mc * np.ones((N, N))
        lam, Q = np.linalg.eigh(G)
        assert lam.min() >= -1e-12
        U = Q * np.sqrt(np.clip(lam, 0, None))
        _, neg = similarities(U, U)
        assert neg.var() == pytest.approx(variance_bound(N, B, s), rel=1e-9, abs=1e-15)
    assert variance_bound(N, B) == pytest.approx((N - B) / ((N - 1) ** 2 * (B - 1)), rel=1e-15)
    assert variance_bound(N, B, -1 / (N - 1)) == 0.0
    with pytest.raises(ValueError, match="s must be"):
        variance_bound(N, B, 0.0)


@pytest.mark.parametrize("kwargs,name", [({"weight": -1.0}, "weight"), ({"weight": float("nan")}, "weight"),
                                         ({"p": 3}, "p"), ({"p": 0}, "p"), ({"p": 2.0}, "p"),
                                         ({"n": 1}, "n"), ({"n": 2.5}, "n"), ({"delta": 1.5}, "delta"),
                                         ({"delta": float("inf")}, "delta"), ({"n": 8, "delta": 0.0}, "delta or n"),
                                         ({"base": "nope"}, "base"), ({"base": "infonce(tau=0)"}, "tau"),
                                         ({"base": 3}, "base")])
def test_parameter_errors_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        th.make_loss("vrn", **kwargs)


def test_the_partition_optimum_refuses_what_its_proof_does_not_cover():
    with pytest.raises(ValueError, match="delta"):
        th.optimum_partition_vrn(8, 4, weight=1.0, delta=-0.5)           # below -1/(B-1)
    with pytest.raises(ValueError, match="divide"):
        th.optimum_partition_vrn(8, 3, weight=1.0, delta=-1 / 7)
    with pytest.raises(ValueError, match="d >= 4"):
        th.optimum_partition_vrn(8, 4, weight=30.0, delta=-1 / 7, d=3)    # s* > -1/(B-1): needs d >= B


def test_a_loss_written_as_text_is_the_same_loss():
    loss = VRN("supcon(labels=(0, 0, 1, 1), tau=0.5)", weight=3.0, n=4)
    assert th.as_loss(loss.spec) == loss
    assert th.make_loss("vrn", **loss.params()) == loss
    nested = VRN(loss, weight=1.0, delta=-0.1, p=4)
    assert th.as_loss(nested.spec) == nested
    assert th.as_loss("vrn(base=dcl(tau=0.5; negatives=cross); weight=2; n=6)") == \
        VRN(th.DCL(0.5, negatives="cross"), weight=2.0, n=6)
    assert VRN(n=8) == VRN(n=8, delta=-1 / 7)                             # both given: accepted when they agree
    with pytest.raises(ValueError, match="name"):
        th.as_loss("infonce(tau=0.5")


def test_the_command_line_builds_vrn_and_refuses_a_base_parameter_given_to_it(capsys):
    from simulations.cli import main
    assert main(["certify", "--N", "6", "--B", "3", "--family", "all", "--loss", "vrn",
                 "--loss-param", "base=infonce(tau=0.5)", "--loss-param", "n=6", "--loss-param", "weight=5"]) == 0
    out = capsys.readouterr().out
    assert "vrn(base=infonce(tau=0.5, symmetric=True), weight=5, n=6, p=2)" in out and "dual_certificate" in out
    assert main(["certify", "--N", "6", "--B", "3", "--loss", "vrn", "--tau", "0.5"]) == 2
    assert "unknown ['tau']" in capsys.readouterr().err


def test_vrn_on_an_aligned_base_has_no_relaxation():
    """KCL's relaxation fixes u_i = v_i (its alignment is minimised there whatever the rest); the cross-view term can
    prefer u != v (delta = -1, N = 3: every u_i . v_j = -1 is reachable only with u != v), so VRN refuses it."""
    loss = VRN(th.KCL(), weight=1.0, delta=-1.0)
    assert not loss.has_relaxation and not loss.aligned
    with pytest.raises(ValueError, match="no convex relaxation"):
        th.certify(Family.full(3), loss)
    e = np.array([[1.0, 0.0]])
    U, V = np.vstack([e, e, e]), np.vstack([-e, -e, -e])                  # every cross similarity -1: term 0
    E = th.simplex_etf(3, 2)
    assert loss.auxiliary((U @ V.T)[None])[0] == 0.0 < loss.auxiliary((E @ E.T)[None])[0]
