"""Check functions of the theory claims (THEORY.md §3-§6): closed forms, certificates, evidence.

Each ``check_*`` computes its numbers from closed forms, the loss oracle, convex certificates (the
solver-free dual certificate of :func:`theory.certificates.etf_dual_certificate` for every
decision about the ETF) and, where no certificate exists (``d < N-1``), multi-start local search
(:mod:`theory.local_search`, *evidence*, worded so). Every check sweeps the settings its
statement could depend on (tau, d, the family) and returns a :class:`Verdict` whose ``numbers``
hold the sweep and whose ``verdict`` is

* ``confirmed``: holds at every point of the sweep;
* ``qualified``: holds only in a stated range (``numbers["holds_for"]``), shown by the points
  where it fails;
* ``refuted``: fails at every point; ``inconclusive``: a certificate could not decide.

The statement, source, command, code and test of each claim are declared once, in the claim
registry :mod:`simulations.claims` (``theory`` stays free of torch); the registry fills those
fields of the verdict.

References
----------
Cho et al., "Mini-Batch Optimization of Contrastive Loss", TMLR 2024 (arXiv 2307.05906).
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np

from ._checks import normalize_rows
from .batches import Family
from .certificates import certify, etf_dual_certificate, etf_is_optimal, full_batch_gap
from .configurations import cross_polytope, regular_polygon, simplex_etf, tangent_gradient, tangent_gradient_norm
from .local_search import minimize_family
from .losses import batch_losses, euclidean_gradient, family_loss
from .optima import optimum_all, optimum_all_mixture, optimum_full, optimum_partition

VERDICTS = ("confirmed", "qualified", "refuted", "inconclusive", "not reproducible here")
#: Agreement of a solver's value with a closed form. Interior-point solvers stop on an *absolute*
#: duality gap (Clarabel: 1e-8), so the cross-check allows ``SOLVER_ATOL + SOLVER_RTOL |value|``.
#: Solver values are cross-checks only; no decision about the ETF rests on them.
SOLVER_ATOL, SOLVER_RTOL = 1e-7, 1e-6
#: Temperatures every tau-dependent theory claim sweeps (0.05 makes c = exp(-N/((N-1) tau)) ~ 1e-10).
TAUS = (0.05, 0.2, 1.0, 5.0)


@dataclass
class Verdict:
    """One claim's result. A check fills ``id``, ``verdict``, ``numbers``, ``detail``; the claim
    registry (:mod:`simulations.claims`) fills ``statement``, ``source``, ``command``, ``code``,
    ``test`` and ``figure`` from the claim's declaration."""

    id: str
    verdict: str
    numbers: dict = field(default_factory=dict)
    detail: str = ""
    statement: str = ""
    source: str = ""
    command: str = ""
    code: str = ""
    test: str = ""
    figure: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_json(self) -> dict:
        return asdict(self)


def verdict_over_sweep(holds: dict, what: str = "") -> tuple[str, list, list]:
    """``confirmed`` if every sweep point holds, ``refuted`` if none does, else ``qualified``.

    ``holds`` maps a sweep-point label to True / False (None = undecided: ``inconclusive``
    unless some point already fails). Returns ``(verdict, points that hold, points that fail)``.
    """
    bad_type = {k: type(v).__name__ for k, v in holds.items() if not (v is None or isinstance(v, (bool, np.bool_)))}
    if bad_type:
        raise TypeError(f"sweep points must hold True, False or None, got {bad_type}")
    holds = {k: (None if v is None else bool(v)) for k, v in holds.items()}   # numpy bools would match neither
    ok = [k for k, v in holds.items() if v is True]
    bad = [k for k, v in holds.items() if v is False]
    if any(v is None for v in holds.values()) and not bad:
        return "inconclusive", ok, bad
    return ("confirmed" if not bad else "refuted" if not ok else "qualified"), ok, bad


def _solver_close(a: float, b: float) -> bool:
    return abs(a - b) <= SOLVER_ATOL + SOLVER_RTOL * abs(b)


def _value_close(a: float, b: float, tau: float) -> bool:
    """Oracle value vs closed form: the oracle subtracts logits of size ~1/tau, so rounding is ~1e-16/tau."""
    return abs(a - b) <= 1e-13 / tau + 1e-12 * abs(b)


def _etf_record(family: Family, tau: float, loss: str = "symmetric") -> dict:
    d = etf_dual_certificate(family, tau=tau, loss=loss)
    return {"tau": tau, "dual_certified": d["certified"], "unique": d["unique"], "slackness": d["slackness"],
            "min_eig": d["min_eig"], "rank_Y": d["rank_Y"]}


# --------------------------------------------------------------------------- full batch
def check_full_batch_etf(Ns=range(3, 17), taus=TAUS, solver_Ns=(3, 5, 8, 12, 16)) -> Verdict:
    """For d >= N-1, U = V = ETF is the unique (up to rotation) full-batch minimizer, value ``optimum_full``.

    Decided for every ``N`` and ``tau`` by the analytic dual certificate (solver-free); the
    solver's optimum is compared with the closed form at tau = 1 for ``solver_Ns``, and the one-sided
    loss at N = 6.
    """
    rows, holds = [], {}
    for N in Ns:
        W = simplex_etf(N, N - 1)
        for tau in taus:
            r = _etf_record(Family.full(N), tau)
            r.update(N=N, etf_value=family_loss(W, W, Family.full(N), tau=tau), closed_form=optimum_full(N, tau))
            rows.append(r)
            holds[f"N={N},tau={tau:g}"] = r["dual_certified"] and r["unique"] and _value_close(r["etf_value"], r["closed_form"], tau)
    solver = []
    for N in solver_Ns:
        c = certify(N, Family.full(N))
        solver.append({"N": N, "certificate": c.value, "closed_form": optimum_full(N), "status": c.status, "rank": c.rank})
        holds[f"solver N={N}"] = None if not c.certified else _solver_close(c.value, optimum_full(N))
    one = certify(6, Family.full(6), loss="one_sided")
    holds["solver one-sided N=6"] = None if not one.certified else _solver_close(one.value, optimum_full(6, loss="one_sided"))
    verdict, _, bad = verdict_over_sweep(holds)
    return Verdict("full_batch_etf", verdict,
                   {"cases": rows, "solver": solver, "one_sided_N6": {"certificate": one.value,
                                                                     "closed_form": optimum_full(6, loss="one_sided")},
                    "taus": list(taus), "failed_points": bad},
                   f"Swept N = {min(Ns)}..{max(Ns)} x tau in {list(taus)}: at every point the analytic dual certificate "
                   "(PSD, complementary slackness, relative to ||dL/dZ||) proves the ETF optimal for the relaxation, and "
                   "rank(Y) = N+1 with every pair covered makes the Gram unique (U = V = ETF up to a common rotation). "
                   "Clarabel's optimum equals the closed form at tau = 1 (a solver-dependent cross-check).")


# --------------------------------------------------------------------------- all C(N,B)
def check_all_batches_etf(cases=((4, 2), (6, 2), (6, 3), (8, 2), (8, 4), (10, 3), (12, 4)), taus=TAUS,
                          solver_cases=((6, 3), (8, 4), (12, 4))) -> Verdict:
    """All-C(N,B): the same unique minimizer as the full batch (the ETF), value ``optimum_all``."""
    rows, holds, solver = [], {}, []
    for N, B in cases:
        fam = Family.all(N, B)
        W = simplex_etf(N, N - 1)
        for tau in taus:
            losses = batch_losses(W, W, fam, tau=tau)
            r = _etf_record(fam, tau)
            r.update(N=N, B=B, etf_value=float(losses.mean()), closed_form=optimum_all(N, B, tau),
                     etf_batch_loss_spread=float(np.ptp(losses)))
            rows.append(r)
            holds[f"N={N},B={B},tau={tau:g}"] = (r["dual_certified"] and r["unique"]
                                                 and _value_close(r["etf_value"], r["closed_form"], tau))
    for N, B in solver_cases:
        c = certify(N, Family.all(N, B))
        gap = full_batch_gap(N, Family.all(N, B), eps=(1e-4,))
        solver.append({"N": N, "B": B, "certificate": c.value, "closed_form": optimum_all(N, B), "status": c.status,
                       "full_batch_gap_eps1e-4": gap["gaps"][0]})
        holds[f"solver N={N},B={B}"] = None if not (c.certified and gap["certified"]) else (
            _solver_close(c.value, optimum_all(N, B)) and abs(gap["gaps"][0]) < 1e-5)
    verdict, _, bad = verdict_over_sweep(holds)
    return Verdict("all_batches_etf", verdict, {"cases": rows, "solver": solver, "taus": list(taus), "failed_points": bad},
                   "At every (N, B, tau) the dual certificate proves the ETF optimal for the all-C(N,B) objective and, by "
                   "its equality case (rank(Y) = N+1, every pair covered), the *unique* minimizing Gram: the same minimizer "
                   "as the full batch, not merely a shared one. The ETF gives every batch the same loss (spread reported), "
                   "so it also minimises the largest batch loss. Solver cross-check at tau = 1: Clarabel's optimum = closed "
                   "form, and minimising the full-batch loss over the 1e-4-optimal set of the family leaves no gap.")


# --------------------------------------------------------------------------- not proportional
def check_not_proportional(N: int = 8, Bs=(2, 4), n: int = 50, d: int = 4, seed: int = 0) -> Verdict:
    """The full-batch and all-C(N,B) objectives are not functions of one another.

    If ``L_full = h(L_all)`` for some function ``h``, their gradients would be parallel at every
    point. Reported: the range of the ratio ``L_full / L_all`` and the largest angle between the
    Riemannian gradients over random configurations, with ``B = N`` as the negative control
    (identical objectives: ratio 1, angle 0), which shows the test can fail.
    """
    rng = np.random.default_rng(seed)
    configs = [(normalize_rows(rng.standard_normal((N, d))), normalize_rows(rng.standard_normal((N, d)))) for _ in range(n)]
    full = Family.full(N)

    def stats(B):
        fam = Family.all(N, B)
        ratios, angles = [], []
        for U, V in configs:
            ratios.append(family_loss(U, V, full) / family_loss(U, V, fam))
            g1 = np.concatenate([x.ravel() for x in tangent_gradient(U, V, full)])
            g2 = np.concatenate([x.ravel() for x in tangent_gradient(U, V, fam)])
            cos = np.clip(g1 @ g2 / (np.linalg.norm(g1) * np.linalg.norm(g2)), -1, 1)
            angles.append(float(np.degrees(np.arccos(cos))))
        return {"ratio_min": float(min(ratios)), "ratio_max": float(max(ratios)), "max_gradient_angle_deg": max(angles),
                "median_gradient_angle_deg": float(np.median(angles))}
    out = {f"B={B}": stats(B) for B in Bs}
    control = stats(N)
    holds = {k: v["ratio_max"] - v["ratio_min"] > 1e-6 * v["ratio_max"] and v["max_gradient_angle_deg"] > 1.0
             for k, v in out.items()}
    control_ok = control["ratio_max"] - control["ratio_min"] < 1e-12 and control["max_gradient_angle_deg"] < 1e-4
    verdict, _, bad = verdict_over_sweep(holds)
    if not control_ok:
        verdict = "inconclusive"
    return Verdict("not_proportional", verdict, {"N": N, "d": d, "configurations": n, **out, f"control_B=N={N}": control,
                                                 "failed_points": bad},
                   f"Over {n} random unit-norm configurations (d = {d}) the ratio full/all varies and the Riemannian "
                   "gradients of the two objectives point in different directions (angles reported), so neither objective "
                   "is a function of the other; the control B = N gives ratio 1 and angle 0 as it must.")


# --------------------------------------------------------------------------- partition
def _antipodal_pairs_map(N: int) -> np.ndarray:
    """``E: (N, N/2)`` with ``u_{2k} = y_k``, ``u_{2k+1} = -y_k``: the B = 2 contiguous partition's optimal set."""
    E = np.zeros((N, N // 2))
    for k in range(N // 2):
        E[2 * k, k], E[2 * k + 1, k] = 1.0, -1.0
    return E


def check_partition_suboptimal(cases=((8, 2), (8, 4), (12, 3)), d_sweep_N: int = 8, d_sweep=(4, 5, 6, 7),
                               starts: int = 8, taus=(0.2, 1.0)) -> Verdict:
    """A fixed partition's minimizers are full-batch sub-optimal — for d >= N-1 (certificates), and
    in lower d only where the local-search evidence says so.

    d >= N-1: the partition's certified optimum equals the block closed form, the ETF is not
    stationary (gradient relative to its scale), and minimising the full-batch loss over the
    partition's eps-optimal set leaves a positive gap. d < N-1, B = 2 (no certificate: evidence):
    the partition's optimal set is "each batch an antipodal pair, U = V"; the best full-batch loss on
    that set is compared with the best full-batch loss in R^d, both from ``starts`` L-BFGS starts.
    """
    rows, holds = [], {}
    for N, B in cases:
        P = Family.partition(N, B, seed=None)
        for tau in taus:
            c = certify(N, P, tau=tau)
            e = etf_is_optimal(N, P, tau=tau)
            full = etf_dual_certificate(Family.full(N), tau=tau)
            g = full_batch_gap(N, P, eps=(1e-3, 1e-4), tau=tau)
            rows.append({"N": N, "B": B, "tau": tau, "certificate": c.value, "closed_form": optimum_partition(N, B, tau),
                         "etf_gradient_ratio": e["gradient_ratio"], "full_batch_minimizer_unique": full["unique"],
                         "full_batch_gap": dict(zip(map(str, g["eps"]), g["gaps"])),
                         "full_batch_optimum": optimum_full(N, tau), "status": c.status})
            # Decided solver-free: the full batch's minimizer is unique (the ETF Gram) and the ETF is not
            # stationary for the partition, so no partition minimizer is full-batch optimal. The solver's
            # value and gap are cross-checks (the gap is O(c) and below solver resolution at small tau).
            decided = e["etf_optimal"] is False and full["unique"]
            holds[f"N={N},B={B},tau={tau:g},d>=N-1"] = None if not c.certified else (
                decided and _solver_close(c.value, optimum_partition(N, B, tau)))
    N = d_sweep_N
    E = _antipodal_pairs_map(N)
    low_d = []
    for d in d_sweep:
        best = minimize_family(Family.full(N), d, starts=starts, seed=100 * d)
        on_set = minimize_family(Family.full(N), d, starts=starts, seed=100 * d + 50, tie="linear", E=E)
        gap = on_set["best_value"] - best["best_value"]
        low_d.append({"N": N, "B": 2, "d": d, "full_best": best["best_value"], "full_best_on_partition_optimal_set":
                      on_set["best_value"], "gap": gap, "starts": starts})
        holds[f"N={N},B=2,d={d} (evidence)"] = bool(gap > 1e-6)
    X = cross_polytope(N, N // 2)
    verdict, ok, bad = verdict_over_sweep(holds)
    return Verdict("partition_suboptimal", verdict,
                   {"cases": rows, "low_dimension": low_d, "cross_polytope_full_value": family_loss(X, X, Family.full(N)),
                    "cross_polytope_partition_value": family_loss(X, X, Family.partition(N, 2, seed=None)),
                    "partition_optimum": optimum_partition(N, 2), "holds_for": ok, "fails_for": bad},
                   "d >= N-1 (every case and tau, solver-free): the full batch's minimizer is unique (the ETF Gram, dual "
                   "certificate) and the ETF is not stationary for the partition (gradient relative to its scale), so no "
                   "minimizer of the partition is full-batch optimal; the solver's optimum equals the block closed form. "
                   "The full-batch gap over the partition's eps-optimal set (solver) is reported: it is O(c), so at small "
                   "tau it is below the solver's resolution and is not used to decide. Lower d, N = 8, B = 2 "
                   "(evidence from multi-start L-BFGS, not a certificate): at d = N/2 = 4 the cross-polytope lies in the "
                   "partition's optimal set (antipodal pairs) and attains the best full-batch loss found, so there the "
                   "partition's minimizers include a full-batch minimizer and the claim fails; it holds again from d = 5. "
                   "The paper's own statement (a strict subset *may* be sub-optimal) is existential and is confirmed; the "
                   "general reading 'a fixed partition is sub-optimal' holds only in the range listed.")


# --------------------------------------------------------------------------- pair balance
def families_up_to_relabelling(N: int, sizes):
    """Every non-empty set of distinct batches of [N] with sizes in ``sizes`` (an int or a tuple), one
    per relabelling class (canonical = smallest bitmask over the N! relabellings)."""
    sizes = (sizes,) if np.ndim(sizes) == 0 else tuple(sizes)
    subsets = [s for b in sizes for s in itertools.combinations(range(N), b)]
    index = {s: k for k, s in enumerate(subsets)}
    m = len(subsets)
    if m > 24:
        raise ValueError(f"{m} candidate batches: 2^{m} families is too many to enumerate (at most 24 candidates)")
    masks = np.arange(1, 2**m, dtype=np.int64)
    canon = masks.copy()
    for p in itertools.permutations(range(N)):
        image = [index[tuple(sorted(p[i] for i in s))] for s in subsets]
        pm = np.zeros_like(masks)
        for k, t in enumerate(image):
            pm |= ((masks >> k) & 1) << t
        np.minimum(canon, pm, out=canon)
    for c in np.unique(canon):
        yield [list(subsets[k]) for k in range(m) if (c >> k) & 1]


def fano_plus_one_triple() -> Family:
    """The Fano plane plus the triple {0, 1, 3}: unbalanced (pair (0, 1) twice), ETF-optimality is an
    O(c) question (excess 7e-11 at tau = 0.05) that absolute tolerances get wrong."""
    return Family.from_batches(np.vstack([Family.fano().batches, [[0, 1, 3]]]), 7)


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
    examples; each at every tau and loss. The balance test (kappa, a formula) is compared with the
    decision from the oracle (tangent gradient, else the generic dual certificate), both at relative
    tolerance ``rel_tol``; the margins on both sides are reported.
    """
    from .balance import (balanced_at, critical_taus, cyclic_triples_and_pairs, is_balanced, kappa_dual_certificate,
                          pair_weight_spread, tau_critical_example)
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
            r = etf_is_optimal(f.N, f, tau=tau, loss=loss, rel_tol=rel_tol)
            opt = r["etf_optimal"]
            key = "undecided" if opt is None else f"{'balanced' if bal else 'unbalanced'}_{'optimal' if opt else 'not_optimal'}"
            counts[f"{loss}, tau={tau:g}"][key] += 1
            m = margins
            if bal:
                m["balanced_max_spread"] = max(m["balanced_max_spread"], spread)
                kc = kappa_dual_certificate(f, loss=loss, tau=tau, rel_tol=rel_tol)
                kappa_cert["checked"] += 1
                kappa_cert["failed"] += not kc["certified"]
                kappa_cert["max_offdiag_mismatch"] = max(kappa_cert["max_offdiag_mismatch"], kc["offdiag_mismatch"])
                kappa_cert["max_slackness"] = max(kappa_cert["max_slackness"], kc["slackness"])
                kappa_cert["min_eig"] = min(kappa_cert["min_eig"], kc["min_eig"])
            else:
                m["unbalanced_min_spread"] = min(m["unbalanced_min_spread"], spread)
            if opt:
                m["optimal_max_gradient_ratio"] = max(m["optimal_max_gradient_ratio"], r["gradient_ratio"])
            elif opt is False:
                m["not_optimal_min_gradient_ratio"] = min(m["not_optimal_min_gradient_ratio"], r["gradient_ratio"])
            if opt is None or bool(opt) != bal:
                disagreements.append({"family": repr(f), "batches": [b.tolist() for b in f.batch_list()][:40],
                                      "loss": loss, "tau": tau, "balanced": bal, "etf_optimal": opt,
                                      "spread": spread, "gradient_ratio": r["gradient_ratio"]})
    # the critical temperature: found by the toolkit, optimal exactly there and not at tau*(1 +- 1e-3)
    crit = []
    for t_star, f in critical + [(4 / (3 * np.log(2)), example_b)]:
        found = critical_taus(f)          # 'all' when the triples alone are already balanced (then so is f)
        near = found == "all" or any(abs(t - t_star) <= 1e-9 * t_star for t in found)
        at = {dt: etf_is_optimal(f.N, f, tau=t_star * (1 + dt), rel_tol=rel_tol)["etf_optimal"] for dt in (-1e-3, 0.0, 1e-3)}
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
                                       "etf_optimal": etf_is_optimal(5, example_a, tau=t, rel_tol=rel_tol)["etf_optimal"]}
                         for t in taus}},
        "b": {"critical_tau": b_found, "closed_form_4_over_3ln2": t_b,
              "relative_error": abs(b_found[0] - t_b) / t_b if b_found and b_found != "all" else None}}
    solver = []
    for name, f, t in [("example (a)", example_a, 1.0), ("example (b)", example_b, 1.0), ("example (b)", example_b, t_b),
                       ("Fano + {0,1,3}", fano_plus_one_triple(), 1.0)] + \
            [(n, f, t) for n, f in _balanced_mixtures()[:2] for t in solver_taus]:
        r = etf_is_optimal(f.N, f, tau=t, solver_check=True, rel_tol=rel_tol)
        W = simplex_etf(f.N, f.N - 1)
        solver.append({"family": name, "tau": t, "etf_optimal": r["etf_optimal"], "solver_status": r["solver_status"],
                       "relaxation": r["solver_value"], "etf_value": family_loss(W, W, f, tau=t), "excess": r["excess"]})
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
        r = etf_is_optimal(f.N, f, tau=t, solver_check=True, rel_tol=rel_tol)
        scatter.append({"source": src, "tau": t, "spread": pair_weight_spread(f, t), "excess": r["excess"],
                        "status": r["solver_status"], "etf_optimal": r["etf_optimal"]})
    from .balance import pair_weights
    sweep_b = []
    for t in np.sort(np.append(np.geomspace(0.5, 5.0, n_tau), t_b)) if n_tau else []:
        r = etf_is_optimal(4, example_b, tau=float(t), solver_check=True, rel_tol=rel_tol)
        K = pair_weights(example_b, float(t))
        sweep_b.append({"tau": float(t), "kappa_01_minus_kappa_03": float(K[0, 1] - K[0, 3]), "excess": r["excess"],
                        "gradient_ratio": r["gradient_ratio"], "status": r["solver_status"], "etf_optimal": r["etf_optimal"]})
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


def _epoch_average_by_enumeration(U, V, N: int, B: int, loss: str, tau: float) -> float:
    """Mean over all N! shuffles of one ``drop_last=False`` epoch's objective (mean loss of its steps),
    from a table of every subset's loss: the definition, no symmetry argument."""
    q, r = divmod(N, B)
    table = {}
    for b in {B, r} - {0}:
        fam = Family.from_batches([list(t) for t in itertools.combinations(range(N), b)], N, kind="dataloader")
        table.update(zip(map(tuple, (np.sort(x) for x in fam.batch_list())), batch_losses(U, V, fam, loss=loss, tau=tau)))
    total, count = 0.0, 0
    for perm in itertools.permutations(range(N)):
        steps = [tuple(sorted(perm[k * B:(k + 1) * B])) for k in range(q)] + ([tuple(sorted(perm[q * B:]))] if r else [])
        total += sum(table[s_] for s_ in steps) / len(steps)
        count += 1
    return total / count


def check_dataloader_epochs(cases=((5, 2), (7, 3), (6, 4), (7, 2), (10, 4), (9, 4)), taus=TAUS,
                            losses=("symmetric", "one_sided"), enumerate_N: int = 7, seed: int = 0,
                            gap_taus=(1.0,)) -> Verdict:
    """Reshuffled ``DataLoader`` epochs with a short last batch (``drop_last=False``, N mod B != 0)
    keep the ETF optimal in expectation; one fixed such epoch does not.

    Expectation: :meth:`Family.dataloader_expectation` (all C(N,B) with weight q plus all C(N,r) with
    weight 1), checked against the average over all N! shuffles (for N <= ``enumerate_N``), balanced
    at every tau (kappa), the ETF certified (dual certificate) with value equal to the closed form
    :func:`theory.optima.optimum_all_mixture`. Fixed epoch: the ETF is not stationary; the gap is the
    ETF's excess over the family's optimum and the full-batch gap of its minimizers (solver, at
    ``gap_taus``, a measurement).
    """
    from .balance import critical_taus
    rng = np.random.default_rng(seed)
    rows, holds = [], {}
    for N, B in cases:
        q, r = divmod(N, B)
        if r == 0:
            raise ValueError(f"case (N={N}, B={B}): B divides N, there is no short last batch")
        E = Family.dataloader_expectation(N, B)
        F = Family.dataloader_epoch(N, B, seed=seed)
        W = simplex_etf(N, N - 1)
        exact = None
        if N <= enumerate_N:
            U = normalize_rows(rng.standard_normal((N, 3)))
            V = normalize_rows(rng.standard_normal((N, 3)))
            enum = _epoch_average_by_enumeration(U, V, N, B, "symmetric", 0.5)
            formula = family_loss(U, V, E, tau=0.5)
            exact = abs(enum - formula) / abs(enum)
        row = {"N": N, "B": B, "last_batch": r, "expectation_balanced_every_tau": critical_taus(E) == "all",
               "expectation_vs_all_shuffles_rel_diff": exact, "fixed_epoch": [b.tolist() for b in F.batch_list()],
               "by_point": []}
        for loss in losses:
            for tau in taus:
                e = etf_is_optimal(N, E, tau=tau, loss=loss)
                f = etf_is_optimal(N, F, tau=tau, loss=loss)
                val, closed = family_loss(W, W, E, tau=tau, loss=loss), optimum_all_mixture(E, tau, loss=loss)
                point = {"loss": loss, "tau": tau, "expectation_etf_optimal": e["etf_optimal"],
                         "expectation_unique": bool(e.get("dual", {}).get("unique")), "etf_value": val,
                         "closed_form": closed, "fixed_epoch_etf_optimal": f["etf_optimal"],
                         "fixed_epoch_gradient_ratio": f["gradient_ratio"]}
                row["by_point"].append(point)
                holds[f"N={N},B={B},{loss},tau={tau:g}"] = (
                    e["etf_optimal"] is True and point["expectation_unique"] and _value_close(val, closed, tau)
                    and f["etf_optimal"] is False and row["expectation_balanced_every_tau"]
                    and (exact is None or exact <= 1e-12))
        gaps = []
        for tau in gap_taus:
            cert = certify(N, F, tau=tau)
            g = full_batch_gap(N, F, eps=(1e-3, 1e-4), tau=tau)
            gaps.append({"tau": tau, "fixed_epoch_optimum": cert.value, "status": cert.status,
                         "etf_value": family_loss(W, W, F, tau=tau), "etf_excess": family_loss(W, W, F, tau=tau) - cert.value,
                         "full_batch_gap": dict(zip(map(str, g["eps"]), g["gaps"]))})
        row["fixed_epoch_gap"] = gaps
        rows.append(row)
    verdict, ok, bad = verdict_over_sweep(holds)
    return Verdict("dataloader_epochs", verdict, {"cases": rows, "taus": list(taus), "losses": list(losses),
                                                  "points": len(holds), "holds_for": ok, "fails_for": bad},
                   "Expectation: each full batch of a uniformly shuffled epoch is marginally a uniform B-subset and the "
                   "short last batch a uniform r-subset, so E[L_epoch] = (q L_all(B) + L_all(r))/(q+1) — checked against "
                   "the average over all N! shuffles (relative difference in the table, N <= 7). This mixture of "
                   "all-C(N,b) families has constant kappa at every tau (weighted law), so the ETF is its unique minimizer "
                   "(dual certificate at every tau and loss), with value sum_b W_b 2 log(1+(b-1)c)/sum_b W_b (closed form; "
                   "an r = 1 last batch is one pair, loss 0, and only dilutes). A fixed epoch (one seeded shuffle, "
                   "drop_last=False) is never balanced — pairs split across batches have kappa 0 — so the ETF is not "
                   "stationary for it (gradient ratio), and its minimizers are full-batch sub-optimal (solver gap, "
                   "measured at tau = 1).")


# --------------------------------------------------------------------------- d < N-1
def _angle_hessian_min_eig(theta: np.ndarray, fam: Family, h: float = 1e-5) -> float:
    """Smallest eigenvalue of the Hessian of L_F in the angles (d = 2), with the common rotation projected out.

    The common rotation (all angles + t) leaves L_F invariant, so its direction ``1/sqrt(n)`` is a
    null direction; the Hessian is restricted to the orthogonal complement of it explicitly.
    """
    def grad(th):
        N = fam.N
        X = np.stack([np.cos(th), np.sin(th)], 1)
        gU, gV = euclidean_gradient(X[:N], X[N:], fam)
        G = np.vstack([gU, gV])
        return G[:, 1] * np.cos(th) - G[:, 0] * np.sin(th)
    n = theta.size
    H = np.zeros((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        H[:, k] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    H = (H + H.T) / 2
    Q = np.linalg.qr(np.column_stack([np.ones(n), np.eye(n)[:, : n - 1]]))[0][:, 1:]   # basis of 1-perp
    return float(np.linalg.eigvalsh(Q.T @ H @ Q)[0])


def check_low_dimension_counterexample(starts: int = 10, coincidence_N: int = 8, coincidence_d=(4, 5, 6)) -> Verdict:
    """In d < N-1 the full-batch and all-C(N,B) minimizers *can* differ (N = 10, d = 2, B = 2); they need not
    (N = 8, B = 2, d = 4..6). Local search and Hessians: evidence, not certificates."""
    full, pairs = Family.full(10), Family.all(10, 2)
    confs = {"regular_10gon": regular_polygon(10), "doubled_pentagon": regular_polygon(5, repeat=2)}
    nums = {}
    for name, X in confs.items():
        th = np.arctan2(X[:, 1], X[:, 0])
        theta = np.concatenate([th, th])
        nums[name] = {"full_batch": family_loss(X, X, full), "all_pairs": family_loss(X, X, pairs),
                      "grad_norm_full": tangent_gradient_norm(X, X, full), "grad_norm_pairs": tangent_gradient_norm(X, X, pairs),
                      "hessian_min_eig_full": _angle_hessian_min_eig(theta, full),
                      "hessian_min_eig_pairs": _angle_hessian_min_eig(theta, pairs)}
    search = {"full_batch": minimize_family(full, 2, starts=starts, seed=1), "all_pairs": minimize_family(pairs, 2, starts=starts, seed=2)}
    best = {k: {"best_value": v["best_value"], "values_sorted": sorted(v["values"]), "starts": starts} for k, v in search.items()}
    a, b = nums["regular_10gon"], nums["doubled_pentagon"]
    differ = (a["full_batch"] < b["full_batch"] and b["all_pairs"] < a["all_pairs"]
              and a["hessian_min_eig_full"] > 0 and b["hessian_min_eig_pairs"] > 0
              and abs(search["full_batch"]["best_value"] - a["full_batch"]) < 1e-7
              and abs(search["all_pairs"]["best_value"] - b["all_pairs"]) < 1e-7)
    coincide = []
    for d in coincidence_d:
        f = minimize_family(Family.full(coincidence_N), d, starts=starts, seed=300 + d)
        p = minimize_family(Family.all(coincidence_N, 2), d, starts=starts, seed=400 + d)
        full_at_p = family_loss(p["U"], p["V"], Family.full(coincidence_N))
        coincide.append({"N": coincidence_N, "B": 2, "d": d, "full_best": f["best_value"],
                         "full_value_at_all_pairs_best": full_at_p, "difference": full_at_p - f["best_value"]})
    return Verdict("low_dimension_counterexample", "confirmed" if differ else "refuted",
                   {**nums, "local_search": best, "coincidence": coincide},
                   "N = 10, d = 2, B = 2: the regular 10-gon has the lower full-batch loss and the doubled pentagon the lower "
                   "all-pairs loss; each is a strict local minimum (smallest Hessian eigenvalue in the angles, common "
                   "rotation projected out, > 0) of its own objective and the other's is a saddle, and multi-start L-BFGS "
                   "finds nothing better than them. So the minimizers can differ when d < N-1. They need not: at N = 8, "
                   "B = 2, d = 4, 5, 6 the all-pairs minimizer found is also the best full-batch configuration found "
                   "(differences listed). All of this is computational evidence (local search + second-order checks): the "
                   "convex relaxation cannot certify ranks below N-1.")
