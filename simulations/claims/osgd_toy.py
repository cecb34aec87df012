"""Claim osgd_toy: the paper's N = 4, d = 2 toy, Ordered SGD against SGD without and with replacement."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from simulations.io import write_csv, write_json
from simulations.runtime.tasks import paired_comparison, run_tasks
from simulations.claims import Claim
from simulations.claims._experiments import THRESHOLD
from simulations.claims._tables import fmt, table
from simulations.claims._verdict import Verdict, verdict_over_sweep

#: The runs' loss: symmetric InfoNCE at the paper's tau = 1 (Config fields).
LOSS = dict(loss="infonce", loss_params=(("tau", 1.0),))


TOY_ANGLES = (10.0, -10.0, 190.0, 170.0)


def check_osgd_toy(out, *, lrs=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0), seeds=tuple(range(20)), max_steps: int = 1000,
                   workers: int = 1, scheduler=None, device: str = "cpu", progress: bool = False) -> Verdict:
    """N = 4, d = 2, B = 2 toy (u = v at +-10 deg around +-e_1): updates until the Gram distance to the
    square is <= THRESHOLD, for OSGD, shuffle and replace, swept over the learning rate.

    Parameters
    ----------
    out : str or path-like
        The results folder (its task files are reused on a rerun).
    lrs : tuple of float, default=(0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
    seeds : tuple of int, default=range(20)
    max_steps : int, default=1000
        Updates before a run counts as "never reached".
    workers : int, default=1
        Local processes for the training tasks, >= 1.
    scheduler : str, distributed.Client or None, default=None
        Where the training tasks run (:func:`simulations.runtime.executor.make_executor`).
    device : str, default='cpu'
    progress : bool, default=False

    Returns
    -------
    Verdict
        The claim's verdict with its numbers (every sweep point) and the reasoning.

    References
    ----------
    Cho et al., TMLR 2024, Sec. 5.
    """
    methods = ("osgd", "shuffle", "replace")
    base = dict(N=4, d=2, B=2, steps=max_steps, init="angles", init_angles_deg=TOY_ANGLES, target="cross_polytope",
                stop_distance=THRESHOLD, device=device, checkpoint_every=10**6, **LOSS)
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


def osgd_toy_table(v: dict) -> list[str]:
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
    rows = []
    for lr, r in v["numbers"]["per_lr"].items():
        m = r["methods"]
        rows.append([lr] + [f"{fmt(m[x]['median_updates'])} ({m[x]['never_reached']} never, {m[x]['diverged']} div.)"
                            for x in ("osgd", "shuffle", "replace")]
                    + [f"{fmt(r['osgd_minus'][x]['median_difference'])} [{fmt(r['osgd_minus'][x]['ci'][0])}, "
                       f"{fmt(r['osgd_minus'][x]['ci'][1])}]" for x in ("shuffle", "replace")])
    return ["Median updates to the square (never reached, diverged) and the paired median difference OSGD - other "
            "with its 95% bootstrap interval:", ""] + table(
        ["lr", "OSGD", "shuffle", "replace", "OSGD - shuffle", "OSGD - replace"], rows)


CLAIM = Claim(
    "osgd_toy",
    "In the N = 4, d = 2 toy (u = v at +-10 degrees around +-e_1), Ordered SGD reaches the square in fewer "
    "updates than SGD without (shuffle) or with (replace) replacement.",
    "paper §5 (toy example; the paper's learning rate is not varied there)", check_osgd_toy,
    ("tests/test_claim_properties.py::test_paired_comparison_decides_only_when_the_interval_excludes_zero",),
    {"tiny": dict(lrs=(0.1, 1.0), seeds=(0, 1), max_steps=300), "quick": dict(lrs=(0.05, 0.1, 0.2, 0.5, 1.0),
     seeds=tuple(range(10)), max_steps=600), "full": dict(lrs=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
     seeds=tuple(range(20)), max_steps=2000)},
    figure="osgd_toy", order=110, tables=osgd_toy_table,
    expected_tiny="qualified",                    # OSGD first at lr 0.1, shuffle first at lr 1
    expected_fails_tiny=("lr=1 vs shuffle", "lr=1 vs replace"))
