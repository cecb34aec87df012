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
from .optima import optimum_all, optimum_full, optimum_partition

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
def families_up_to_relabelling(N: int, B: int):
    """Every non-empty set of B-subsets of [N], one per relabelling class (canonical = smallest bitmask)."""
    subsets = list(itertools.combinations(range(N), B))
    index = {s: k for k, s in enumerate(subsets)}
    m = len(subsets)
    masks = np.arange(1, 2**m, dtype=np.int64)
    canon = masks.copy()
    for p in itertools.permutations(range(N)):
        image = [index[tuple(sorted(p[i] for i in s))] for s in subsets]
        pm = np.zeros_like(masks)
        for k, t in enumerate(image):
            pm |= ((masks >> k) & 1) << t
        canon = np.minimum(canon, pm)
    for c in np.unique(canon):
        yield [list(subsets[k]) for k in range(m) if (c >> k) & 1]


def fano_plus_one_triple() -> Family:
    """The Fano plane plus the triple {0, 1, 3}: unbalanced (pair (0, 1) twice), ETF-optimality is an
    O(c) question (excess 7e-11 at tau = 0.05) that absolute tolerances get wrong."""
    return Family.from_batches(np.vstack([Family.fano().batches, [[0, 1, 3]]]), 7)


def check_pair_balance_law(exhaustive=((4, 2), (4, 3), (5, 2), (5, 3), (6, 2)), n_random: int = 40,
                           taus=(0.02, 0.05, 0.2, 1.0, 5.0), seed: int = 0, solver_taus=(1.0,)) -> Verdict:
    """Equal batch sizes, d >= N-1: the ETF minimises L_F iff F is pair-balanced (a 2-design, lambda >= 1).

    Every family is decided at every tau: "not optimal" by the Riemannian gradient at the ETF
    relative to ``||dL/dZ||`` (which is O(c/tau)), "optimal" by the analytic dual certificate.
    The solver's excess ``L_F(ETF) - p*`` is reported beside it at ``solver_taus`` for the named
    and design families, to show where solver accuracy would have sufficed.
    """
    rng = np.random.default_rng(seed)
    fams = []
    for N, B in exhaustive:
        fams += [("exhaustive", Family.from_batches(b, N)) for b in families_up_to_relabelling(N, B)]
    for _ in range(n_random):
        N = int(rng.integers(4, 10))
        B = int(rng.integers(2, N))
        fams.append(("random", Family.random(N, B, int(rng.integers(1, 3 * N)), seed=int(rng.integers(2**31)))))
    fano = Family.fano().batches
    designs = [Family.fano(), Family.affine_plane(3), Family.from_batches(np.vstack([fano, fano[:, ::-1]]), 7),
               Family.from_batches(np.vstack([fano, Family.all(7, 3).batches]), 7), Family.all(9, 4), Family.all(7, 2)]
    fams += [("design", f) for f in designs]
    fams.append(("named: Fano + {0,1,3}", fano_plus_one_triple()))
    keys = ("balanced_optimal", "balanced_not_optimal", "unbalanced_optimal", "unbalanced_not_optimal", "undecided")
    counts = {f"tau={t:g}": dict.fromkeys(keys, 0) for t in taus}
    decided_by: dict = {}
    named, solver = {}, []
    for src, f in fams:
        bal = f.is_pair_balanced()
        for tau in taus:
            r = etf_is_optimal(f.N, f, tau=tau)
            opt = r["etf_optimal"]
            key = "undecided" if opt is None else f"{'balanced' if bal else 'unbalanced'}_{'optimal' if opt else 'not_optimal'}"
            counts[f"tau={tau:g}"][key] += 1
            decided_by[r["decided_by"]] = decided_by.get(r["decided_by"], 0) + 1
            if src.startswith("named"):
                named[f"tau={tau:g}"] = {"etf_optimal": opt, "decided_by": r["decided_by"],
                                         "gradient_ratio": r["gradient_ratio"], "c": r["c"]}
        if src != "exhaustive" and src != "random":
            for tau in solver_taus:
                r = etf_is_optimal(f.N, f, tau=tau, solver_check=True)
                solver.append({"family": src if src.startswith("named") else repr(f), "tau": tau,
                               "etf_optimal": r["etf_optimal"], "solver_status": r["solver_status"],
                               "excess": r["excess"], "c": r["c"]})
    holds = {k: (None if v["undecided"] else v["balanced_not_optimal"] == 0 and v["unbalanced_optimal"] == 0)
             for k, v in counts.items()}
    verdict, _, bad = verdict_over_sweep(holds)
    return Verdict("pair_balance_law", verdict,
                   {"families": len(fams), "taus": list(taus), "counts": counts, "decided_by": decided_by,
                    "fano_plus_0_1_3": named, "solver_cross_check": solver, "failed_points": bad,
                    "exhaustive_sizes": [list(x) for x in exhaustive]},
                   "Proof (equal sizes). At U = V = ETF every logit inside a batch is equal, so dL/dZ_ij = -a n_ij (i != j) "
                   "with a > 0 and n_ij the co-occurrence counts, and dL/dZ has zero row sums. Only if: the Riemannian "
                   "gradient of u_i is the tangent part of -a sum_j n_ij w_j; the only linear relation among ETF vectors is "
                   "sum_j w_j = 0, so it vanishes iff n_ij is constant over j != i for every i, i.e. iff F is pair-balanced. "
                   "If: then dL/dZ = -a lambda N (I - J/N), and Y = (a lambda N / 2)[[I, -P], [-P, I]] (P = I - J/N) is PSD "
                   "with Y M* = 0: a dual certificate for the relaxation. Checked on every family of the sweep (exhaustive "
                   "up to relabelling for the listed sizes, random, designs, and the named unbalanced family) at every tau: "
                   "'not optimal' by the tangent gradient relative to ||dL/dZ|| (both O(c/tau)), 'optimal' by the dual "
                   "certificate (counts in decided_by). The Fano plane + {0,1,3} is not ETF-optimal at every tau; its "
                   "solver excess is O(c), below solver tolerance for small tau, which is why solver values do not decide. "
                   "The paper says a strict subset *may* be sub-optimal; this law sharpens it (all C(N,B) batches are "
                   "sufficient, not necessary: the Fano plane's 7 triples suffice).")


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
