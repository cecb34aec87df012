"""Check functions of the claims that need the torch engine or training runs.

Same contract as :mod:`theory.claims`: each ``check_*`` returns a :class:`theory.claims.Verdict`
with ``id``, ``verdict``, ``numbers`` and ``detail``; the registry (:mod:`simulations.claims`)
adds statement, source, command, code, test and figure. Checks that train write their runs into
``out`` (``out/<claim>/tasks/*.json``, cached by content, so an interrupted check resumes) and a
tidy summary file that the figures draw from.

Every comparison between methods is *paired per seed* (the same initial vectors for every
method of a seed) and decided by a bootstrap interval of the median difference
(:func:`simulations.tasks.paired_comparison`); diverged runs (``FloatingPointError``) and runs that
never reach the target are counted, never dropped silently.
"""
from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import numpy as np
import torch

from theory import Family, etf_gram, family_loss, normalize_rows, optimum_all, regular_polygon
from theory.batches import uniform_partitions
from theory.configurations import best_relabelling
from theory.claims import Verdict, verdict_over_sweep

from .engine import batch_losses, family_objective, sampled_objective
from .io import read_json, write_csv, write_json
from .limits import STREAM_LIMIT
from .spectral import spectral_partition
from .tasks import paired_comparison, run_tasks
from .train import target_gram

#: Gram distance counted as "reached the target structure".
THRESHOLD = 0.1


# --------------------------------------------------------------------------- large N
def minimise_all_batches(N: int, B: int, d: int | None = None, *, seed: int = 0, max_iter: int = 400,
                         device: str = "cpu", tau: float = 1.0) -> dict:
    """Minimise the exact all-``C(N,B)`` objective over unit-norm ``U, V`` in ``R^d`` (default ``d = N``).

    L-BFGS with a strong-Wolfe line search on raw vectors (normalised inside the objective), from a
    seeded Gaussian start. Returns the final value, its gap to the closed form, the Gram distance
    of ``U V^T`` to the ETF Gram, the number of objective evaluations and the time.
    """
    d = N if d is None else d
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, N, d, generator=g, dtype=torch.float64).to(device).requires_grad_(True)
    fam = Family.all(N, B)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-12, tolerance_change=1e-15)
    evals = [0]

    def closure():
        opt.zero_grad()
        evals[0] += 1
        L = family_objective(x[0] / x[0].norm(dim=1, keepdim=True), x[1] / x[1].norm(dim=1, keepdim=True), fam,
                             tau=tau, check=False)
        L.backward()
        return L

    t0 = time.perf_counter()
    opt.step(closure)
    with torch.no_grad():
        U, V = x[0] / x[0].norm(dim=1, keepdim=True), x[1] / x[1].norm(dim=1, keepdim=True)
        value = float(family_objective(U, V, fam, tau=tau, check=False))
        Z = (U @ V.T).cpu().numpy()
    return {"N": N, "B": B, "d": d, "value": value, "closed_form": optimum_all(N, B, tau),
            "gap": value - optimum_all(N, B, tau), "gram_distance_to_etf": float(np.linalg.norm(Z - etf_gram(N))),
            "u_equals_v": float(np.abs(np.diag(Z) - 1).max()), "evaluations": evals[0],
            "method": "pairwise" if B == 2 else ("enumerate" if math.comb(N, B) <= STREAM_LIMIT else "formula"),
            "seconds": time.perf_counter() - t0}


def check_large_n_equivalence(out=None, *, grid=((64, 2), (64, 8), (128, 2), (256, 2)), not_run=(),
                              device: str = "cpu", progress: bool = False) -> Verdict:
    """L-BFGS on the exact all-C(N,B) objective (d = N) reaches the ETF with the closed-form value.

    Each (N, B) result is cached in ``out/large_n_equivalence/`` and reused on a rerun.
    """
    rows, holds = [], {}
    for N, B in grid:
        path = Path(out) / "large_n_equivalence" / f"N{N}_B{B}.json" if out is not None else None
        if path is not None and path.exists():
            rows.append(read_json(path))
        else:
            if progress:
                print(f"[claims] large_n_equivalence: minimising the exact all-C({N},{B}) objective ...", flush=True)
            rows.append(minimise_all_batches(N, B, device=device))
            if path is not None:
                write_json(path, rows[-1])
        r = rows[-1]
        holds[f"N={N},B={B}"] = abs(r["gap"]) < 1e-8 * max(1.0, r["closed_form"]) and r["gram_distance_to_etf"] < 1e-3
    verdict, _, bad = verdict_over_sweep(holds)
    return Verdict("large_n_equivalence", verdict, {"cases": rows, "sizes_not_run": [list(x) for x in not_run],
                                                   "failed_points": bad},
                   "L-BFGS from a Gaussian start, d = N, tau = 1, on the exact objective (pair form, streamed enumeration "
                   "or the polynomial formula). Success: |value - closed form| < 1e-8 and ||UV^T - G_ETF||_F < 1e-3."
                   + (f" Not run at this size: {[list(x) for x in not_run]} (on 2 CPU cores the formula takes about "
                      "12 s per value+gradient at N = 1024, B = 64, and L-BFGS needs hundreds: they belong to a GPU, "
                      "`minibatch-cl claims --only large_n_equivalence --full --device cuda`)."
                      if not_run else ""))


# --------------------------------------------------------------------------- reshuffled partitions
def _batch_gradient(U, V, batches: np.ndarray):
    Ut, Vt = U.clone().requires_grad_(True), V.clone().requires_grad_(True)
    L = batch_losses(Ut, Vt, torch.from_numpy(batches)).mean()
    gU, gV = torch.autograd.grad(L, (Ut, Vt))
    return torch.cat([gU.ravel(), gV.ravel()])


def check_shuffle_unbiased(*, sizes=((8, 2), (8, 4), (9, 3), (12, 3)), bias_sizes=((4, 2), (6, 2), (6, 3), (8, 2)),
                           d: int = 4, seed: int = 0, mc=(64, 8, 2000)) -> Verdict:
    """Reshuffled partitions: unbiased for the all-C(N,B) objective marginally (exact enumeration),
    not SGD with independent steps (the conditional expectation of the second step is biased)."""
    rng = np.random.default_rng(seed)
    exact_rows, holds = [], {}
    for N, B in sizes:
        U = torch.tensor(normalize_rows(rng.standard_normal((N, d))))
        V = torch.tensor(normalize_rows(rng.standard_normal((N, d))))
        means = [float(batch_losses(U, V, torch.from_numpy(p)).mean()) for p in uniform_partitions(N, B)]
        exact = float(family_objective(U, V, Family.all(N, B)))
        diff = float(np.mean(means)) - exact
        exact_rows.append({"N": N, "B": B, "partitions": len(means), "mean_over_partitions": float(np.mean(means)),
                           "all_batches_objective": exact, "difference": diff})
        holds[f"unbiased N={N},B={B}"] = abs(diff) <= 1e-13 * abs(exact)
    bias_rows = []
    for N, B in bias_sizes:
        U = torch.tensor(normalize_rows(rng.standard_normal((N, d))))
        V = torch.tensor(normalize_rows(rng.standard_normal((N, d))))
        g_all = _batch_gradient(U, V, Family.all(N, B).batches)
        worst, first = 0.0, None
        for S1 in Family.all(N, B).batches:              # given the epoch's first batch S1 ...
            rest = np.setdiff1d(np.arange(N), S1)
            second = np.array(list(itertools.combinations(rest, B)))   # ... the second is uniform over the rest
            g2 = torch.stack([_batch_gradient(U, V, t[None, :]) for t in second]).mean(0)
            rel = float((g2 - g_all).norm() / g_all.norm())
            if rel > worst:
                worst, first = rel, S1.tolist()
        bias_rows.append({"N": N, "B": B, "max_relative_bias": worst, "first_batch": first,
                          "all_batches_gradient_norm": float(g_all.norm())})
        holds[f"conditionally biased N={N},B={B}"] = worst > 1e-3
    N, B, n = mc
    U = torch.tensor(normalize_rows(rng.standard_normal((N, 6))))
    V = torch.tensor(normalize_rows(rng.standard_normal((N, 6))))
    exact = float(family_objective(U, V, Family.all(N, B)))
    est, se = sampled_objective(U, V, B, n, scheme="partition", seed=seed)
    verdict, _, bad = verdict_over_sweep(holds)
    return Verdict("shuffle_unbiased", verdict,
                   {"exact_enumeration": exact_rows, "conditional_bias": bias_rows, "failed_points": bad,
                    "monte_carlo_large_N": {"N": N, "B": B, "samples": n, "exact": exact, "estimate": est, "stderr": se,
                                            "z": (est - exact) / se}},
                   "Exact: the mean, over all uniform partitions (enumerated), of the mean block loss equals the "
                   "all-C(N,B) objective to rounding (relative 1e-13). Each block of a uniform partition is marginally a "
                   "uniform B-subset, so each reshuffled step is marginally unbiased. But given the epoch's first batch "
                   "S1, the second step's batch is uniform over the B-subsets of the rest, and its expected gradient "
                   "differs from the all-C(N,B) gradient (max over S1 of the relative difference, at one random point per "
                   "size): reshuffled-partition SGD is not SGD with independent unbiased steps. Large-N Monte-Carlo "
                   "(partition scheme, z-score vs the exact formula) is reported as a sanity check only.")


# --------------------------------------------------------------------------- Fig. 1(a)
#: Values read off the paper's Fig. 1(a) (the published figure, not our computation), with their
#: read-off precision: full batch ~1.539 -> ~1.737, all pairs ~1.463 -> ~1.963.
FIG1A_READOFF = {"full_min": 1.539, "full_max": 1.737, "pairs_min": 1.463, "pairs_max": 1.963}
FIG1A_READOFF_PRECISION = 0.003


def check_fig1a(out, *, n_angles: int = 721) -> Verdict:
    """Fig. 1(a): N = 10, d = 2, B = 2, regular 10-gon, ``u_1`` rotated; one-sided losses vs angle."""
    X = regular_polygon(10)
    full, pairs = Family.full(10), Family.all(10, 2)
    rows = []
    for th in np.linspace(-np.pi, np.pi, n_angles):
        U = X.copy()
        c, s = np.cos(th), np.sin(th)
        U[0] = [c * X[0, 0] - s * X[0, 1], s * X[0, 0] + c * X[0, 1]]
        rows.append({"angle": float(th), "full_batch": family_loss(U, X, full, loss="one_sided"),
                     "all_pairs": family_loss(U, X, pairs, loss="one_sided", reduction="per_anchor"),
                     "all_pairs_mean": family_loss(U, X, pairs, loss="one_sided")})
    write_csv(Path(out) / "fig1a.csv", rows)
    got = {}
    for col, key in (("full_batch", "full"), ("all_pairs", "pairs"), ("all_pairs_mean", "pairs_mean")):
        v = [r[col] for r in rows]
        got[f"{key}_min"], got[f"{key}_max"] = min(v), max(v)
        got[f"{key}_argmin_angle"] = rows[int(np.argmin(v))]["angle"]
    holds = {k: abs(got[k] - ref) <= FIG1A_READOFF_PRECISION for k, ref in FIG1A_READOFF.items()}
    holds["minimal at the unrotated position (full)"] = abs(got["full_argmin_angle"]) < 1e-9
    holds["minimal at the unrotated position (pairs)"] = abs(got["pairs_argmin_angle"]) < 1e-9
    mean_conv = {k: abs(got[k.replace("pairs", "pairs_mean")] - FIG1A_READOFF[k]) <= FIG1A_READOFF_PRECISION
                 for k in ("pairs_min", "pairs_max")}
    verdict, _, bad = verdict_over_sweep(holds)
    return Verdict("fig1a_rotation", verdict,
                   {"measured": got, "paper_readoff": FIG1A_READOFF, "readoff_precision": FIG1A_READOFF_PRECISION,
                    "differences": {k: got[k] - v for k, v in FIG1A_READOFF.items()},
                    "mean_over_batches_convention_matches": mean_conv, "angles": n_angles, "failed_points": bad},
                   f"Compared with values read off the published figure (precision +-{FIG1A_READOFF_PRECISION}): one-sided "
                   "loss; all pairs normalised per anchor, (1/N) sum_S L(S) — the mean-over-batches convention (the "
                   "toolkit's default objective) gives values 4.5x smaller and does not match the figure. Angles: "
                   f"{n_angles} points on [-pi, pi]. The figure moves one point only: it cannot show that the two "
                   "objectives share their minimizers in d = 2, and they need not (claim low_dimension_counterexample).")


# --------------------------------------------------------------------------- OSGD toy
TOY_ANGLES = (10.0, -10.0, 190.0, 170.0)


def check_osgd_toy(out, *, lrs=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0), seeds=tuple(range(20)), max_steps: int = 1000,
                   workers: int = 1, scheduler=None, device: str = "cpu", progress: bool = False) -> Verdict:
    """N = 4, d = 2, B = 2 toy (u = v at +-10 deg around +-e_1): updates until the Gram distance to the
    square is <= THRESHOLD, for OSGD, shuffle and replace, swept over the learning rate."""
    methods = ("osgd", "shuffle", "replace")
    base = dict(N=4, d=2, B=2, steps=max_steps, init="angles", init_angles_deg=TOY_ANGLES, target="cross_polytope",
                stop_distance=THRESHOLD, device=device, checkpoint_every=10**6)
    tasks = [dict(base, methods=(m,), lr=lr, seeds=(s,)) for lr in lrs for m in methods for s in seeds]
    res = run_tasks(tasks, Path(out) / "osgd_toy", scheduler=scheduler, workers=workers, progress=progress)
    by = {(t["methods"][0], t["lr"], t["seeds"][0]): r for t, r in zip(tasks, res)}
    max_updates = 2 * max_steps
    tidy, per_lr, holds = [], {}, {}
    for lr in lrs:
        counts = {}
        vals = {}
        for m in methods:
            rs = [by[(m, lr, s)] for s in seeds]
            vals[m] = np.array([math.inf if r["status"] == "diverged" or r["reached_at"] is None else r["reached_at"]
                                for r in rs], float)
            counts[m] = {"reached": int(np.isfinite(vals[m]).sum()), "never_reached": sum(r["status"] == "ok" and r["reached_at"] is None for r in rs),
                         "diverged": sum(r["status"] == "diverged" for r in rs),
                         "median_updates": float(np.median(vals[m])) if np.isfinite(np.median(vals[m])) else None,
                         "seed_spread": float(np.ptp(vals[m][np.isfinite(vals[m])])) if np.isfinite(vals[m]).any() else None}
            tidy += [{"lr": lr, "method": m, "seed": s, "status": r["status"], "updates_to_target": r["reached_at"]}
                     for s, r in zip(seeds, rs)]
        comp = {m: paired_comparison(vals["osgd"], vals[m], seed=int(lr * 1000)) for m in ("shuffle", "replace")}
        per_lr[f"{lr:g}"] = {"methods": counts, "osgd_minus": comp}
        for m in ("shuffle", "replace"):
            holds[f"lr={lr:g} vs {m}"] = comp[m]["decision"] == "a<b"
    write_csv(Path(out) / "osgd_toy.csv", tidy)
    write_json(Path(out) / "osgd_toy.json", {"lrs": list(lrs), "seeds": len(seeds), "angles_deg": TOY_ANGLES,
                                            "threshold": THRESHOLD, "max_updates": max_updates, "per_lr": per_lr})
    verdict, ok, bad = verdict_over_sweep(holds)
    osgd_fixed = all(r["methods"]["osgd"]["seed_spread"] in (0.0, None) for r in per_lr.values())
    return Verdict("osgd_toy", verdict,
                   {"per_lr": per_lr, "holds_for": ok, "fails_for": bad, "seeds": len(seeds), "max_updates": max_updates,
                    "threshold": THRESHOLD},
                   f"Updates until the Gram distance to the square is <= {THRESHOLD} (relabelling-invariant), {len(seeds)} "
                   f"seeds per learning rate, at most {max_updates} updates (never reached = censored, counted). Paired per "
                   "seed: median of (OSGD - other) with a 95% bootstrap interval; OSGD is faster where the whole interval "
                   "is below 0. "
                   + ("OSGD is deterministic from this start (every seed gives the same count); the seeds drive the SGD "
                      "orders. " if osgd_fixed else "OSGD's counts vary with the seed (seed_spread). ")
                   + "tau = 1 (the paper's), not swept. Where the verdict is qualified it holds only at the learning rates "
                   "in holds_for.")


# --------------------------------------------------------------------------- convergence
SETTINGS = ((4, 2), (4, 8), (8, 4), (8, 16), (16, 8), (16, 32))
COMPARED = ("osgd", "sc", "shuffle", "fixed")


def check_convergence(out, *, settings=SETTINGS, lrs=(0.05, 0.2, 1.0), seeds=tuple(range(20)), steps: int = 100,
                      log_every: int = 5, reference_lr: float = 0.5, workers: int = 1, scheduler=None,
                      device: str = "cpu", progress: bool = False) -> Verdict:
    """OSGD and SC vs reshuffled SGD at equal update counts (B = 2), swept over (N, d) and the learning
    rate; the fixed partition's distance to the target counted per seed."""
    common = dict(B=2, steps=steps, log_every=log_every, align="updates", device=device, checkpoint_every=10**6)
    tasks = [dict(common, N=N, d=d, methods=(m,), lr=lr, seeds=(s,)) for N, d in settings for lr in lrs
             for m in COMPARED for s in seeds]
    ref = [dict(common, N=N, d=d, methods=(m,), lr=reference_lr, seeds=(s,)) for N, d in settings
           for m in ("full", "all") for s in seeds[:3]]
    res = run_tasks(tasks + ref, Path(out) / "convergence", scheduler=scheduler, workers=workers, progress=progress)
    by = {(t["N"], t["d"], t["methods"][0], t["lr"], t["seeds"][0]): r for t, r in zip(tasks + ref, res)}
    curves, summary, holds = [], {}, {}
    for t, r in zip(tasks + ref, res):
        curves += [{"N": t["N"], "d": t["d"], "method": t["methods"][0], "lr": t["lr"], "seed": t["seeds"][0],
                    "updates": u, "gram_distance": g} for u, g in zip(r["updates"], r["gram_distance"])]
    for N, d in settings:
        target = "ETF" if d >= N - 1 else "cross-polytope"
        for lr in lrs:
            key = f"N={N},d={d},lr={lr:g}"
            logd = {}
            counts = {}
            for m in COMPARED:
                rs = [by[(N, d, m, lr, s)] for s in seeds]
                logd[m] = np.array([math.inf if r["status"] == "diverged" else math.log10(max(r["final_distance"], 1e-300))
                                    for r in rs])
                counts[m] = {"diverged": sum(r["status"] == "diverged" for r in rs),
                             "median_final_distance": float(10 ** np.median(logd[m])) if np.isfinite(np.median(logd[m])) else None,
                             "reached_0.1": sum(r["status"] == "ok" and r["final_distance"] <= THRESHOLD for r in rs),
                             "within_0.5": sum(r["status"] == "ok" and r["final_distance"] <= 0.5 for r in rs),
                             "updates": rs[0]["final_updates"] if rs[0]["status"] == "ok" else None}
            comp = {m: paired_comparison(logd[m], logd["shuffle"], seed=N * 100 + d) for m in ("osgd", "sc")}
            summary[key] = {"target": target, "methods": counts, "log10_distance_minus_shuffle": comp}
            for m in ("osgd", "sc"):
                holds[f"{key}: {m} closer than shuffle"] = comp[m]["decision"] == "a<b"
            if d >= N - 1:
                holds[f"{key}: fixed stays > 0.5 away"] = counts["fixed"]["within_0.5"] == 0
    write_csv(Path(out) / "convergence.csv", curves)
    write_json(Path(out) / "heatmaps.json", _heatmap_panels(by, settings, lrs, seeds[0], reference_lr))
    write_json(Path(out) / "convergence.json", {"settings": [list(x) for x in settings], "lrs": list(lrs),
                                               "seeds": len(seeds), "steps": steps, "reference_lr": reference_lr,
                                               "summary": summary})
    verdict, ok, bad = verdict_over_sweep(holds)
    fixed_low_d = {k: v["methods"]["fixed"]["within_0.5"] for k, v in summary.items() if v["target"] == "cross-polytope"}
    return Verdict("osgd_sc_converge_faster", verdict,
                   {"summary": summary, "holds_for": ok, "fails_for": bad, "seeds": len(seeds), "steps": steps,
                    "lrs": list(lrs), "fixed_partition_within_0.5_at_d=N/2": fixed_low_d},
                   f"B = 2; {steps} logged steps of N/B updates for every method (align='updates': equal update counts, "
                   f"so the x-axis convention does not enter the comparison); {len(seeds)} seeds, learning rates "
                   f"{list(lrs)}. Metric: Gram distance to the target (ETF if d >= N-1, cross-polytope if d = N/2), "
                   "minimised over relabellings, at the end. Paired per seed (same initial vectors): median of "
                   "log10(distance of OSGD or SC) - log10(distance of shuffle) with a 95% bootstrap interval; 'closer' "
                   "where the whole interval is below 0. Fixed partition: at d >= N-1 it cannot converge to the ETF (its "
                   "minimizers are block configurations, claim partition_suboptimal), counted as staying > 0.5 away; at "
                   "d = N/2 the number of seeds ending within 0.5 of the cross-polytope is listed (seed-dependent, not a "
                   "'never'). full/all GD curves at lr 0.5 are drawn for reference only. tau = 1 (the paper's), not swept.")


def _heatmap_panels(by, settings, lrs, seed, reference_lr) -> list[dict]:
    """U V^T at the end of one seed per method, relabelled to best match the target, for the N = 8 settings
    (else the first two): the compared methods at the swept lr closest to ``reference_lr``, full/all at it."""
    chosen = [s for s in settings if s[0] == 8] or list(settings[:2])
    lr = min(lrs, key=lambda x: abs(np.log(x / reference_lr)))
    panels = []
    for N, d in chosen:
        T = target_gram(N, d)
        mats = []
        for m, m_lr in [(m, lr) for m in COMPARED] + [("full", reference_lr), ("all", reference_lr)]:
            r = by[(N, d, m, m_lr, seed)]
            if r["status"] != "ok":
                mats.append({"method": m, "lr": m_lr, "status": r["status"], "Z": None})
                continue
            Z = np.array(r["final_Z"])
            p = best_relabelling(Z, T) if T is not None else np.arange(N)
            mats.append({"method": m, "lr": m_lr, "status": "ok", "Z": Z[np.ix_(p, p)].tolist(),
                         "gram_distance": r["final_distance"], "updates": r["final_updates"],
                         "converged": r["final_distance"] <= THRESHOLD})
        panels.append({"N": N, "d": d, "seed": seed, "target": None if T is None else T.tolist(), "matrices": mats})
    return panels


# --------------------------------------------------------------------------- SC quality
def exact_max_partition(U, V, B: int):
    """Maximum-loss partition into N/B batches of B by an integer program over all C(N,B) batches."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    N = U.shape[0]
    S = Family.all(N, B).batches
    vals = batch_losses(U, V, torch.from_numpy(S)).numpy()
    A = np.zeros((N, S.shape[0]))
    A[S.T, np.arange(S.shape[0])[None, :]] = 1
    r = milp(c=-vals, constraints=LinearConstraint(A, 1, 1), integrality=np.ones(S.shape[0]), bounds=Bounds(0, 1))
    if r.status != 0:
        raise RuntimeError(f"max-loss partition integer program failed: {r.message}")
    return float(vals[np.round(r.x) == 1].mean())


def check_sc_quality(out, *, sizes=((12, 2), (16, 4)), ds=(4, 16), trials: int = 10) -> Verdict:
    """(SC - random) / (exact - random) for the maximum-loss partition, random Gaussian embeddings in each d."""
    rows = []
    for d in ds:
        for N, B in sizes:
            for trial in range(trials):
                rng = np.random.default_rng([1000 * N + trial, d])
                U = torch.tensor(normalize_rows(rng.standard_normal((N, d))))
                V = torch.tensor(normalize_rows(rng.standard_normal((N, d))))
                exact = exact_max_partition(U, V, B)
                random_mean = float(family_objective(U, V, Family.all(N, B)))   # E[random partition] = all-batches objective
                sc = float(batch_losses(U, V, spectral_partition(U, V, B, seed=trial)).mean())
                rows.append({"N": N, "B": B, "d": d, "trial": trial, "exact": exact, "sc": sc, "random": random_mean,
                             "ratio": (sc - random_mean) / (exact - random_mean)})
    write_csv(Path(out) / "sc_quality.csv", rows)
    per, holds = {}, {}
    for d in ds:
        for N, B in sizes:
            r = np.array([x["ratio"] for x in rows if x["N"] == N and x["B"] == B and x["d"] == d])
            key = f"N={N},B={B},d={d}"
            per[key] = {"median_ratio": float(np.median(r)), "min_ratio": float(r.min()),
                        "fraction_above_random": float((r > 0).mean()), "trials": int(r.size)}
            holds[key] = bool((r > 0).mean() >= 0.9 and np.median(r) >= 0.5)
    verdict, ok, bad = verdict_over_sweep(holds)
    return Verdict("sc_finds_high_loss_batches", verdict, {"per_size": per, "ds": list(ds), "holds_for": ok, "fails_for": bad},
                   "Ratio (SC - random) / (exact - random): 1 = the exact maximum-loss partition (integer program over "
                   "all C(N,B) batches), 0 = a random partition's expected loss (= the all-batches objective, exactly). "
                   f"Random Gaussian embeddings in d = {list(ds)}, tau = 1. Holds at a size when SC beats random in >= 90% "
                   "of trials and the median ratio is >= 0.5.")


def real_data_verdict() -> Verdict:
    return Verdict("real_data", "not reproducible here", {},
                   "Out of scope: minibatch-cl optimises embeddings directly (no encoder), and this machine has no data "
                   "sets or GPU. The selectors can drive an encoder's loader (simulations.SelectorSampler).")
