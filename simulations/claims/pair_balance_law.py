"""Claim pair_balance_law: the weighted pair-balance law of InfoNCE (:mod:`theory.balance`), checked over
every family up to relabelling, random weighted mixed-size families, families balanced at one temperature and the
named examples."""
from __future__ import annotations

import numpy as np

from theory import Family
from theory.balance import (balanced_at, critical_taus, cyclic_triples_and_pairs, is_balanced, pair_weight_spread,
                            pair_weights, tau_critical_example)
from theory.certificates import etf_is_optimal, kappa_dual_certificate

from simulations.claims import Claim
from simulations.claims._etf import infonce
from simulations.claims._families import families_up_to_relabelling, fano_plus_one_triple
from simulations.claims._tables import capped_table, fmt, table
from simulations.claims._verdict import TAUS, Verdict, verdict_over_sweep


def _random_weighted_family(rng) -> Family:
    """Random batches of 2 or 3 sizes on N in [4, 8], weights log-normal or integer repeats."""
    N = int(rng.integers(4, 9))
    sizes = sorted(set(int(b) for b in rng.integers(2, N, size=int(rng.integers(1, 4)))))
    rows = [np.sort(rng.permutation(N)[: int(rng.choice(sizes))]) for _ in range(int(rng.integers(2, 3 * N)))]
    w = np.exp(rng.normal(0, 1, len(rows))) if rng.random() < 0.5 else rng.integers(1, 4, len(rows)).astype(float)
    return Family.from_batches(rows, N, weights=w)


def _balanced_mixtures() -> list:
    """Mixed-size families balanced at every tau: mixtures of all-C(N,b) families and unions of designs."""
    return [("mixture all(6,2)+all(6,4), weights 1:3", Family.mixture([Family.all(6, 2), Family.all(6, 4)], [1.0, 3.0])),
            ("Fano + all pairs of 7", Family.union(Family.fano(), Family.all(7, 2))),
            ("AG(2,3) + all triples of 9 (weight 0.1 each)", Family.union(Family.affine_plane(3), Family.mixture(
                [Family.all(9, 3)], [8.4]))),
            ("dataloader expectation N=7, B=3", Family.dataloader_expectation(7, 3)),
            ("dataloader expectation N=10, B=4", Family.dataloader_expectation(10, 4))]


def check_pair_balance_law(exhaustive_N=(3, 4, 5), sizes=(2, 3), subsample: int = 1, exhaustive_uniform=(),
                           n_random: int = 100, n_critical: int = 20, taus=TAUS, losses=("symmetric", "one_sided"), seed: int = 0,
                           rel_tol: float = 1e-10, solver_taus=(1.0,), n_excess: int = 40, n_tau: int = 15) -> Verdict:
    """The weighted pair-balance law (:mod:`theory.balance`): for any weights and sizes, d >= N-1, tau
    and loss, ``U = V = ETF`` minimises ``L_F`` iff ``kappa_ij`` is constant over pairs.

    Sweep: every set of distinct batches with sizes in ``sizes`` on ``N in exhaustive_N`` up to
    relabelling (every ``subsample``-th class), random weighted mixed-size families, families balanced
    at a random critical tau (:func:`theory.balance.balanced_at`), balanced mixtures, the named
    examples; each at every tau and InfoNCE form in ``losses`` (``'symmetric'``, ``'one_sided'``:
    :attr:`theory.InfoNCE.mode`). The balance test (kappa, a formula) is compared with the
    decision from the oracle (tangent gradient, else the generic dual certificate), both at relative
    tolerance ``rel_tol``; the margins on both sides are reported.

    Parameters
    ----------
    exhaustive_N : tuple of int, default=(3, 4, 5)
    sizes : tuple of int, default=(2, 3)
    subsample : int, default=1
    exhaustive_uniform : tuple of (N, B), default=()
        Also every one-size family of these sizes up to relabelling.
    n_random : int, default=100
    n_critical : int, default=20
    taus : tuple of float, default=(0.05, 0.2, 1.0, 5.0)
        Temperatures swept.
    losses : tuple of str, default=('symmetric', 'one_sided')
    seed : int, default=0
    rel_tol : float, default=1e-10
    solver_taus : tuple of float, default=(1.0,)
    n_excess : int, default=40
        Families whose ETF excess is measured by the solver.
    n_tau : int, default=15
        Temperatures of the sweep of the critical-tau example.

    Returns
    -------
    Verdict
        The claim's verdict with its numbers (every sweep point) and the reasoning.
    """
    rng = np.random.default_rng(seed)
    fams = []
    for N in exhaustive_N:
        for k, b in enumerate(families_up_to_relabelling(N, sizes)):
            if k % subsample == 0:
                fams.append(("exhaustive", Family.from_batches(b, N)))
    for N, B in exhaustive_uniform:
        fams += [("exhaustive, one size", Family.from_batches(b, N)) for b in families_up_to_relabelling(N, B)]
    fams += [("random weighted", _random_weighted_family(rng)) for _ in range(n_random)]
    critical = []
    for _ in range(n_critical):
        N = int(rng.integers(4, 8))
        trip = [np.sort(rng.permutation(N)[:3]) for _ in range(int(rng.integers(1, 2 * N)))]
        t_star = float(np.exp(rng.uniform(np.log(0.2), np.log(5.0))))
        critical.append((t_star, balanced_at(trip, N, t_star, slack=float(rng.uniform(0.05, 1.0)))))
    fams += [("balanced at one tau", f) for _, f in critical]
    fams += [("balanced mixture", f) for _, f in _balanced_mixtures()]
    fams += [("design", f) for f in (Family.fano(), Family.affine_plane(3), Family.all(7, 2))]
    example_a, example_b = cyclic_triples_and_pairs(5), tau_critical_example()
    fams += [("example (a)", example_a), ("example (b)", example_b), ("Fano + {0,1,3}", fano_plus_one_triple())]
    keys = ("balanced_optimal", "balanced_not_optimal", "unbalanced_optimal", "unbalanced_not_optimal", "undecided")
    points = [(loss, tau) for loss in losses for tau in taus]
    counts = {f"{loss}, tau={tau:g}": dict.fromkeys(keys, 0) for loss, tau in points}
    margins = {"balanced_max_spread": 0.0, "unbalanced_min_spread": np.inf,
               "optimal_max_gradient_ratio": 0.0, "not_optimal_min_gradient_ratio": np.inf}
    kappa_cert = {"checked": 0, "failed": 0, "max_offdiag_mismatch": 0.0, "max_slackness": 0.0, "min_eig": np.inf}
    disagreements, by_source = [], {}
    for src, f in fams:
        by_source[src] = by_source.get(src, 0) + 1
        for loss, tau in points:
            spread = pair_weight_spread(f, tau)
            bal = spread <= rel_tol                            # is_balanced(f, tau, rel_tol), spread computed once
            L = infonce(loss, tau)
            r = etf_is_optimal(f, L, rel_tol=rel_tol)
            opt = r.optimal
            key = "undecided" if opt is None else f"{'balanced' if bal else 'unbalanced'}_{'optimal' if opt else 'not_optimal'}"
            counts[f"{loss}, tau={tau:g}"][key] += 1
            m = margins
            if bal:
                m["balanced_max_spread"] = max(m["balanced_max_spread"], spread)
                kc = kappa_dual_certificate(f, L.tau, L.symmetric, rel_tol=rel_tol)
                kappa_cert["checked"] += 1
                kappa_cert["failed"] += not kc["certified"]
                kappa_cert["max_offdiag_mismatch"] = max(kappa_cert["max_offdiag_mismatch"], kc["offdiag_mismatch"])
                kappa_cert["max_slackness"] = max(kappa_cert["max_slackness"], kc["slackness"])
                kappa_cert["min_eig"] = min(kappa_cert["min_eig"], kc["min_eig"])
            else:
                m["unbalanced_min_spread"] = min(m["unbalanced_min_spread"], spread)
            if opt:
                m["optimal_max_gradient_ratio"] = max(m["optimal_max_gradient_ratio"], r.gradient_ratio)
            elif opt is False:
                m["not_optimal_min_gradient_ratio"] = min(m["not_optimal_min_gradient_ratio"], r.gradient_ratio)
            if opt is None or bool(opt) != bal:
                disagreements.append({"family": repr(f), "batches": [b.tolist() for b in f.batch_list()][:40],
                                      "loss": loss, "tau": tau, "balanced": bal, "etf_optimal": opt,
                                      "spread": spread, "gradient_ratio": r.gradient_ratio})
    # the critical temperature: found by the toolkit, optimal exactly there and not at tau*(1 +- 1e-3)
    crit = []
    for t_star, f in critical + [(4 / (3 * np.log(2)), example_b)]:
        found = critical_taus(f)          # 'all' when the triples alone are already balanced (then so is f)
        near = found == "all" or any(abs(t - t_star) <= 1e-9 * t_star for t in found)
        at = {dt: etf_is_optimal(f, infonce("symmetric", t_star * (1 + dt)), rel_tol=rel_tol).optimal
              for dt in (-1e-3, 0.0, 1e-3)}
        crit.append({"family": repr(f), "tau_star": t_star, "found": found, "recovered": bool(near),
                     "optimal_at_tau_star": at[0.0], "optimal_at_tau_star_minus_0.1%": at[-1e-3],
                     "optimal_at_tau_star_plus_0.1%": at[1e-3]})
    crit_ok = all(c["recovered"] and c["optimal_at_tau_star"] is True
                  and c["optimal_at_tau_star_minus_0.1%"] is (c["found"] == "all")
                  and c["optimal_at_tau_star_plus_0.1%"] is (c["found"] == "all") for c in crit)
    t_b = 4 / (3 * np.log(2))
    b_found = critical_taus(example_b)
    examples = {
        "a": {"pair_counts": sorted(set(example_a.cooccurrence()[~np.eye(5, dtype=bool)].tolist())),
              "batches_per_point": sorted(set(np.diag(example_a.cooccurrence()).tolist())),
              "critical_taus": critical_taus(example_a),
              "by_tau": {f"tau={t:g}": {"spread": pair_weight_spread(example_a, t),
                                       "etf_optimal": etf_is_optimal(example_a, infonce("symmetric", t),
                                                                     rel_tol=rel_tol).optimal}
                         for t in taus}},
        "b": {"critical_tau": b_found, "closed_form_4_over_3ln2": t_b,
              "relative_error": abs(b_found[0] - t_b) / t_b if b_found and b_found != "all" else None}}
    solver = []
    for name, f, t in [("example (a)", example_a, 1.0), ("example (b)", example_b, 1.0), ("example (b)", example_b, t_b),
                       ("Fano + {0,1,3}", fano_plus_one_triple(), 1.0)] + \
            [(n, f, t) for n, f in _balanced_mixtures()[:2] for t in solver_taus]:
        r = etf_is_optimal(f, infonce("symmetric", t), solver_check=True, rel_tol=rel_tol)
        solver.append({"family": name, "tau": t, "etf_optimal": r.optimal, "solver_status": r.certificate.status,
                       "relaxation": r.certificate.value, "etf_value": r.etf_value, "excess": r.excess})
    # figure data: solver excess L_F(ETF) - p* against the spread of kappa (tau = 1), and example (b) over tau
    # (every family balanced at tau = 1, a spread-out sample of the others, and families balanced at a
    # random tau* evaluated at tau* and 2% and 20% above it, where the spread is small)
    at1 = [(src, f, 1.0, is_balanced(f, 1.0, rel_tol)) for src, f in fams]
    bal1 = [x[:3] for x in at1 if x[3]]
    unbal = [x[:3] for x in at1 if not x[3]]
    pick = bal1 + [unbal[k] for k in np.unique(np.linspace(0, len(unbal) - 1, n_excess).astype(int))] if n_excess else []
    pick += [("balanced at one tau", f, t * x) for t, f in critical[: n_excess // 10] for x in (1.0, 1.02, 1.2)]
    scatter = []
    for src, f, t in pick:
        r = etf_is_optimal(f, infonce("symmetric", t), solver_check=True, rel_tol=rel_tol)
        scatter.append({"source": src, "tau": t, "spread": pair_weight_spread(f, t), "excess": r.excess,
                        "status": r.certificate.status, "etf_optimal": r.optimal})
    sweep_b = []
    for t in np.sort(np.append(np.geomspace(0.5, 5.0, n_tau), t_b)) if n_tau else []:
        r = etf_is_optimal(example_b, infonce("symmetric", float(t)), solver_check=True, rel_tol=rel_tol)
        K = pair_weights(example_b, float(t))
        sweep_b.append({"tau": float(t), "kappa_01_minus_kappa_03": float(K[0, 1] - K[0, 3]), "excess": r.excess,
                        "gradient_ratio": r.gradient_ratio, "status": r.certificate.status, "etf_optimal": r.optimal})
    holds = {k: (None if v["undecided"] else v["balanced_not_optimal"] == 0 and v["unbalanced_optimal"] == 0)
             for k, v in counts.items()}
    holds["critical tau recovered, optimal only there"] = crit_ok
    holds["kappa dual certificate (the proof's Y) checks"] = kappa_cert["failed"] == 0
    verdict, _, bad = verdict_over_sweep(holds)
    return Verdict("pair_balance_law", verdict,
                   {"families": len(fams), "by_source": by_source, "taus": list(taus), "losses": list(losses),
                    "rel_tol": rel_tol, "counts": counts, "margins": margins, "kappa_certificate": kappa_cert,
                    "critical": crit, "examples": examples, "solver_cross_check": solver,
                    "disagreements": disagreements[:20], "n_disagreements": len(disagreements), "failed_points": bad,
                    "figure": {"excess_vs_spread": scatter, "example_b_over_tau": sweep_b},
                    "exhaustive": {"N": list(exhaustive_N), "sizes": list(sizes), "subsample": subsample,
                                   "one_size": [list(x) for x in exhaustive_uniform]}},
                   "Proof (weights w_S > 0, any sizes, c = exp(-N/((N-1) tau)), d >= N-1; theory/balance.py). At U = V = ETF "
                   "every logit gap inside a batch is -N/((N-1) tau), so a negative's softmax weight in a batch S is "
                   "c/(1+(|S|-1)c) and dL/dz_ij = s c kappa_ij (s = 2 symmetric, 1 one-sided) with zero row sums: "
                   "dL/dZ = -s c Lap(kappa). Only if: the Riemannian gradient of u_i is proportional to sum_{j != i} "
                   "kappa_ij (w_j + w_i/(N-1)); any N-1 ETF vectors are independent (the only relation is sum_j w_j = 0), "
                   "so it vanishes iff kappa_ij is constant in j for every i, i.e. constant over pairs. If: kappa = k gives "
                   "dL/dZ = -s c k N P (P = I - J/N) and Y = (s c k N / (2 tau)) [[I, -P], [-P, I]] = grad + Diag(y) is PSD "
                   "with Y M* = 0 (P G = G for the ETF Gram G): a dual certificate of the convex relaxation; rank Y = N+1 "
                   "and every pair covered give uniqueness. Checked: on every family, tau and loss of the sweep the balance "
                   "test (kappa) agrees with the oracle's decision (tangent gradient relative to ||dL/dZ||, else the generic "
                   "dual certificate), and the proof's Y is built from kappa alone and checked against the oracle gradient "
                   "(off-diagonal mismatch, PSD, complementary slackness). With equal sizes kappa is the weighted pair count "
                   "(tau-free; the 2-design law); with mixed sizes balance depends on tau: critical_taus finds the "
                   "temperatures (example (b): 4/(3 ln 2)), and families built to balance at a random tau* are optimal "
                   "there and not 0.1% away. Example (a): every pair co-occurs twice, yet kappa is not constant and the "
                   "ETF is not optimal at any tau — plain pair counts mislead once sizes differ.")


def pair_balance_table(v: dict) -> list[str]:
    """The claim's summary tables in the report (the rows of its full sweep are in its CSV file).

    Parameters
    ----------
    v : dict
        The claim's verdict record (as in ``verdicts.json``).

    Returns
    -------
    list of str
        Markdown lines.
    """
    n = v["numbers"]
    ex = n["examples"]
    crit = n["critical"]
    keys = ("recovered", "optimal_at_tau_star")
    off = ("optimal_at_tau_star_minus_0.1%", "optimal_at_tau_star_plus_0.1%")
    odd = [r for r in crit if not all(r[k] is True for k in keys) or any(r[k] is not False for k in off)]
    return (["Balance test (kappa) vs the oracle's decision, per loss and tau (families):", ""]
            + table(["loss, tau", "balanced & optimal", "balanced & not", "unbalanced & optimal", "unbalanced & not",
                     "undecided"],
                    [[k] + [c[x] for x in ("balanced_optimal", "balanced_not_optimal", "unbalanced_optimal",
                                            "unbalanced_not_optimal", "undecided")] for k, c in n["counts"].items()])
            + ["- Families by source: " + ", ".join(f"{k} {v}" for k, v in n["by_source"].items()) + ".",
               "- Margins (relative tolerance " + fmt(n["rel_tol"]) + "): " + ", ".join(
                   f"{k.replace('_', ' ')} {fmt(v)}" for k, v in n["margins"].items()) + ".",
               "- The proof's certificate Y built from kappa alone: " + ", ".join(
                   f"{k.replace('_', ' ')} {fmt(v)}" for k, v in n["kappa_certificate"].items()) + ".",
               f"- Example (a) (cyclic triples + pairs {{i, i+2}}, N = 5): pair counts {ex['a']['pair_counts']}, batches "
               f"per point {ex['a']['batches_per_point']}, critical taus {ex['a']['critical_taus']}; kappa spread and ETF "
               "optimal: " + "; ".join(f"{k} {fmt(r['spread'])}, {r['etf_optimal']}" for k, r in ex["a"]["by_tau"].items())
               + ".",
               f"- Example (b) ({{012, 012, 03, 13, 23}}, N = 4): critical tau found {', '.join(fmt(x) for x in ex['b']['critical_tau'])}"
               f", closed form 4/(3 ln 2) = {fmt(ex['b']['closed_form_4_over_3ln2'])}, relative error "
               f"{fmt(ex['b']['relative_error'])}.",
               f"- Families balanced at a random tau*: {len(crit)}; tau* found in {sum(r['recovered'] is True for r in crit)}, "
               f"ETF optimal at tau* in {sum(r['optimal_at_tau_star'] is True for r in crit)}, not optimal 0.1% below and "
               f"above in {sum(all(r[k] is False for k in off) for r in crit)}"
               + (f"; the exceptions: {'; '.join(r['family'] + ' at tau* ' + fmt(r['tau_star']) for r in odd[:10])}"
                  + (f" (and {len(odd) - 10} more)" if len(odd) > 10 else "") if odd else "") + ".",
               f"- Disagreements between the balance test and the oracle: {n['n_disagreements']}.", "",
               "Solver cross-check (reported, not used to decide):", ""]
            + capped_table(["family", "tau", "ETF optimal", "status", "relaxation", "ETF value", "excess"],
                           [[r["family"], r["tau"], r["etf_optimal"], r["solver_status"], r["relaxation"], r["etf_value"],
                             r["excess"]] for r in n["solver_cross_check"]], v["id"], limit=10))

CLAIM = Claim(
    "pair_balance_law",
    "(Our sharpening of the paper's statement that a strict subset may be sub-optimal.) Any batch weights w_S > 0, "
    "any batch sizes, any tau, symmetric or one-sided loss, d >= N-1: U = V = ETF minimises the family objective "
    "sum_S w_S L(S) / sum_S w_S iff kappa_ij = sum_{S containing i, j} w_S / (|S| (1 + (|S|-1) c)), "
    "c = exp(-N/((N-1) tau)), is the same for every pair. Equal sizes: iff every pair shares the same number "
    "of batches (a 2-design), for every tau; mixed sizes: the condition depends on tau and plain pair counts "
    "mislead.",
    "our derivation (theory/balance.py); sharpens paper Thm. 5", check_pair_balance_law,
    ("tests/test_claim_properties.py::test_pair_balanced_families_are_certified_etf_optimal_for_every_tau",
     "tests/test_claim_properties.py::test_pair_balanced_families_are_certified_and_unbalanced_are_not_stationary",
     "tests/test_claim_properties.py::test_fano_plus_one_triple_is_not_etf_optimal_at_small_tau",
     "tests/test_weighted_families.py::test_balance_test_agrees_with_the_oracle_decision_on_weighted_mixed_families",
     "tests/test_weighted_families.py::test_etf_gradient_is_minus_the_kappa_laplacian",
     "tests/test_weighted_families.py::test_example_a_pair_counts_mislead",
     "tests/test_weighted_families.py::test_example_b_is_optimal_exactly_at_its_critical_tau"),
    {"tiny": dict(exhaustive_N=(3, 4), n_random=10, n_critical=4, taus=(0.05, 1.0), n_excess=5, n_tau=4),
     "quick": dict(exhaustive_N=(3, 4, 5), subsample=10),
     "full": dict(exhaustive_N=(3, 4, 5), exhaustive_uniform=((6, 2), (6, 3)), n_random=500, n_critical=100,
                  n_excess=150, n_tau=30)},
    figure="pair_balance", order=50, tables=pair_balance_table, expected_tiny="confirmed")
