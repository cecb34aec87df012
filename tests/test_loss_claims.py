"""The three questions for SigLIP, DCL, DHEL and KCL: known answers (closed forms, realised embeddings, the
published thresholds) against the certificates, and decisions that can come out either way."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import DCL, DHEL, KCL, Family, SigLIP, normalize_rows, objective, regular_polygon, simplex_etf
from theory.certificates import certify
from theory.losses import ops
from simulations.claims._losses import shares_full_minimizer
from theory.siglip import (ccem_embeddings, ccem_value, constellation_margin, lee_thresholds, siglip_optimum,
                           threshold_from_slopes)

_softplus = ops.namespace(np.zeros(0)).softplus


@pytest.mark.parametrize("N,tau,bias,structure", [
    (5, 0.1, -10.0, "etf"), (6, 1.0, 0.0, "interior"), (6, 0.5, 1.5, "antipodal"), (8, 2.0, -1.0, "interior"),
    (4, 0.3, 3.0, "interior"), (3, 1.0, 0.0, "etf"),
])
def test_siglip_double_constant_optimum_is_certified(N, tau, bias, structure):
    loss = SigLIP(tau, bias)
    opt = siglip_optimum(N, tau, bias)
    assert opt["structure"] == structure
    U, V = ccem_embeddings(N, opt["lam"])               # realised in d = N: the oracle gives the closed-form value
    assert np.allclose(np.linalg.norm(U, axis=1), 1) and np.allclose(np.linalg.norm(V, axis=1), 1)
    assert abs(objective(U, V, Family.full(N), loss) - opt["value"]) < 1e-13
    c = certify(Family.full(N), loss)
    assert c.certified and abs(c.value - opt["value"]) <= 1e-7 + 1e-6 * abs(opt["value"])
    assert c.rank == opt["rank"] or structure == "etf"   # the ETF's face is flat at bias = -10: rank is numerical there
    W = simplex_etf(N, N - 1)
    etf_excess = objective(W, W, Family.full(N), loss) - c.value
    assert (etf_excess < 1e-7) == (structure == "etf")


def test_siglip_optimum_minimises_the_edge_and_its_slopes_decide():
    N, tau, bias = 7, 0.7, 0.5
    opt = siglip_optimum(N, tau, bias)
    grid = np.linspace(0, 1, 2001)
    vals = [ccem_value(N, x, tau, bias) for x in grid]
    assert opt["value"] <= min(vals) + 1e-12
    assert abs(grid[int(np.argmin(vals))] - opt["lam"]) <= 1e-3


@pytest.mark.parametrize("N", list(range(5, 41)))
def test_siglip_thresholds_equal_lee_chang_sohn(N):
    lee = lee_thresholds(N)                               # their closed forms, at their bias = t
    assert threshold_from_slopes(N, "etf") == pytest.approx(lee["etf_t"], rel=1e-10, abs=1e-12)
    assert threshold_from_slopes(N, "antipodal") == pytest.approx(lee["antipodal_t"], rel=1e-10, abs=1e-12)
    for t, structure in ((lee["etf_t"] * 1.01, "etf"), (lee["antipodal_t"] * 0.99, "antipodal")):
        assert siglip_optimum(N, 1 / t, -t)["structure"] == structure
    mid = 0.5 * (lee["etf_t"] + lee["antipodal_t"])
    assert siglip_optimum(N, 1 / mid, -mid)["structure"] == "interior"


@pytest.mark.parametrize("tau,bias,shares", [(1.0, -1.0, True), (1.0, 0.0, False), (0.3, 5.0, True)])
def test_siglip_all_batches_shares_the_minimizer_exactly_where_the_rule_says(tau, bias, shares):
    N, B = 6, 3
    full, allb = siglip_optimum(N, tau, bias), siglip_optimum(N, tau, bias, w=(B - 1) / (N - 1))
    assert (full["structure"] == "etf" or allb["structure"] == "antipodal") == shares
    dec = shares_full_minimizer(Family.all(N, B), SigLIP(tau, bias))
    assert dec["suboptimal"] is (not shares)


@pytest.mark.parametrize("loss", [DCL(0.3, negatives="cross"), DCL(1.0, symmetric=False, negatives="cross"), DCL(0.3),
                                  DCL(1.0, symmetric=False), DHEL(0.3), DHEL(2.0, symmetric=False),
                                  KCL(2.0, 1.0), KCL(8.0, 16.0)], ids=repr)
@pytest.mark.parametrize("fam", [Family.full(5), Family.all(5, 2), Family.all(5, 3)], ids=repr)
def test_decoupled_and_kernel_losses_are_minimised_by_the_etf(loss, fam):
    W = simplex_etf(5, 4)
    c = certify(fam, loss)
    etf = objective(W, W, fam, loss)
    assert c.certified and abs(c.value - etf) <= 1e-7 + 1e-6 * abs(etf)
    # a feasible point is never below the certified lower bound: the relaxation bounds every configuration
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    assert objective(X, X, fam, loss) >= c.value - 1e-8


@pytest.mark.parametrize("loss,suboptimal", [(DCL(0.5, negatives="cross"), True), (DCL(0.5), True), (KCL(2.0, 1.0), True),
                                             (SigLIP(1.0, 0.0), True), (SigLIP(0.3, 5.0), False)], ids=repr)
def test_partition_decision_is_certified_both_ways(loss, suboptimal):
    # SigLIP at tau = 0.3, bias = 5: the N = 8 and the B = 4 optima are both antipodal, so the global antipodal
    # configuration minimises every block at once: the partition loses nothing there.
    N, B = 8, 4
    dec = shares_full_minimizer(Family.partition(N, B, seed=None), loss)
    assert dec["suboptimal"] is suboptimal
    if suboptimal:
        assert dec["gap_lower_bound"] > dec["margin"]
    else:
        assert dec["full_minimizer_excess_on_family"] <= dec["margin"]
        assert siglip_optimum(N, 0.3, 5.0)["structure"] == siglip_optimum(B, 0.3, 5.0)["structure"] == "antipodal"


def test_kcl_relaxation_fixes_alignment_and_matches_a_direct_bound():
    # with u = v the KCL value is -1 + gamma * energy; the relaxation's value is -1 plus the convex energy minimum
    loss = KCL(2.0, 1.0)
    N = 4
    c = certify(Family.full(N), loss)
    energy = 2 * math.exp(-2 * 2.0 * (1 + 1 / (N - 1)))          # each pair's kernel at the ETF, two modalities
    assert abs(c.value - (-1 + energy)) <= 1e-7


@pytest.mark.parametrize("loss", [DCL(1.0, negatives="cross"), DHEL(0.5)], ids=repr)
def test_dcl_and_dhel_on_all_pairs_have_a_face_of_minimizers_beyond_the_etf(loss):
    # B = 2: each anchor's log-sum-exp has one term (DCL with cross-view negatives only), so the all-pairs
    # objective is linear in the Gram; the cross-polytope (u_i = v_i, sum_i u_i = 0) attains its minimum yet is
    # not full-batch optimal.
    from theory import cross_polytope
    from theory.certificates import minimizer_spread
    N = 4
    X, W = cross_polytope(N, 2), simplex_etf(N, N - 1)
    pairs, full = Family.all(N, 2), Family.full(N)
    assert objective(X, X, pairs, loss) == pytest.approx(objective(W, W, pairs, loss), abs=1e-12)
    assert objective(X, X, full, loss) > objective(W, W, full, loss) + 0.1
    assert minimizer_spread(pairs, loss, eps=1e-6)["spread"] > 0.3
    assert minimizer_spread(Family.all(N, 3), loss, eps=1e-6)["spread"] < 0.05


def test_cli_certify_takes_the_siglip_weight_from_the_family_not_its_label(tmp_path, capsys):
    import json
    from simulations.cli import main as cli_main
    f = tmp_path / "fam.json"
    f.write_text(json.dumps({"N": 6, "kind": "all", "batches": [[0, 1, 2], [3, 4, 5]]}))
    assert cli_main(["certify", "--N", "6", "--family-file", str(f), "--loss", "siglip", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "closed_form" not in out                        # a partition is not pair-balanced: no closed form claimed
    assert cli_main(["certify", "--N", "7", "--family", "fano", "--loss", "siglip", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["closed_form"]["w"] == pytest.approx(2 / 6) and abs(out["value"] - out["closed_form"]["value"]) < 1e-7


# --------------------------------------------------------------------------- SigLIP constellations (d < N-1)


@given(N=st.integers(2, 8), d=st.integers(2, 4), log10_T=st.floats(-1.0, 3.0), seed=st.integers(0, 2 ** 31 - 1),
       aligned=st.booleans())
def test_siglip_loss_is_squeezed_by_the_margin_at_any_temperature(N, d, log10_T, seed, aligned):
    """(2/N) sp(-Tm) <= L(T, b = -T r) <= N sp(-Tm) for every configuration, constellation or not."""
    rng = np.random.default_rng(seed)
    U = normalize_rows(rng.normal(size=(N, d)))
    V = U if aligned else normalize_rows(rng.normal(size=(N, d)))
    m, r = constellation_margin(U, V)
    T = 10.0 ** log10_T
    L = objective(U, V, Family.full(N), SigLIP(tau=1.0 / T, bias=-T * r))
    assert 2.0 / N * _softplus(-T * m) * (1 - 1e-12) <= L <= N * _softplus(-T * m) * (1 + 1e-12)


def test_siglip_loss_below_log2_over_n_forces_a_constellation():
    """A perturbed hexagon at T = 200 goes below log(2)/N and is a constellation; a code with a repeated point
    (margin <= 0) stays above 2 log(2)/N at every temperature and bias of a wide grid."""
    N = 6
    rng = np.random.default_rng(1)
    X = normalize_rows(regular_polygon(N) + 0.02 * rng.normal(size=(N, 2)))
    m, r = constellation_margin(X, X)
    L = objective(X, X, Family.full(N), SigLIP(tau=1.0 / 200, bias=-200 * r))
    assert m > 0 and L < math.log(2) / N
    Y = X.copy()
    Y[1] = Y[0]
    assert constellation_margin(Y, Y)[0] <= 0
    worst = min(objective(Y, Y, Family.full(N), SigLIP(tau=1.0 / T, bias=b * T))
                for T in (0.1, 1.0, 10.0, 1e3) for b in np.linspace(-1.5, 1.5, 31))
    assert worst >= 2 * math.log(2) / N * (1 - 1e-12)


def test_constellation_margin_rejects_bad_input():
    with pytest.raises(ValueError, match="U and V need N >= 2"):
        constellation_margin(np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="same shape"):
        constellation_margin(regular_polygon(4), regular_polygon(5))


def test_uniqueness_falls_back_to_the_wider_optimal_set_only_to_decide_unique(monkeypatch):
    """Probes at SPREAD_EPS that stop inaccurate decide nothing; the wider set (which contains it) may decide
    'unique' with a certified small spread, never 'face'."""
    import simulations.claims._losses as lc

    def fake(wide_spread):
        def spread(fam, loss, *, eps, seed=0):
            if eps == lc.SPREAD_EPS:
                return {"spread": 0.0, "statuses": ["optimal", "optimal_inaccurate"], "certified": False}
            return {"spread": wide_spread, "statuses": ["optimal"] * 3, "certified": True}
        return spread

    for wide, expected in ((0.004, True), (0.2, None), (1.4, None)):
        monkeypatch.setattr(lc, "minimizer_spread", fake(wide))
        assert lc.uniqueness(Family.full(4), DCL(tau=0.3))[0] is expected
