"""Independent training runs as tasks: deterministic, cached by content, optionally in parallel.

A *task* is a JSON-able dict of parameters (a :class:`Config` for one method and one seed). Its
result is stored as ``<folder>/tasks/<key>.json`` where ``key`` hashes the parameters and the
package version, written atomically by the parent process only (one writer per folder). A sweep
that is interrupted resumes: finished tasks are read back, not rerun. ``workers > 1`` runs tasks
in a process pool, each worker with one torch thread, so the numbers do not depend on the
number of workers.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .io import read_json, write_json


def task_key(params: dict) -> str:
    """Content address of a task: sha256 of its canonical JSON and the package version."""
    from theory import __version__
    blob = json.dumps({"params": params, "version": __version__}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _init_worker():
    import torch
    torch.set_num_threads(1)


def training_task(params: dict) -> dict:
    """One training run: ``params`` are :class:`Config` fields with one method and one seed.

    Returns the logged curve (updates, Gram distance), the final distance, the first update count
    at which the distance was ``<= stop_distance`` (None if never) and ``status``: ``'ok'`` or
    ``'diverged'`` (the loss became non-finite: ``FloatingPointError``), never a silent number.
    """
    from .experiments import Config
    from .train import train_run
    cfg = Config(**params)
    (method,), (seed,) = cfg.methods, cfg.seeds
    out = {"params": params}
    try:
        res = train_run(cfg, method, seed)
    except FloatingPointError as exc:
        return {**out, "status": "diverged", "error": str(exc), "updates": [], "gram_distance": [],
                "final_distance": None, "final_updates": None, "reached_at": None, "final_Z": None}
    rows = res["rows"]
    dist = [r["gram_distance"] for r in rows]
    thr = cfg.stop_distance
    reached = next((r["updates"] for r in rows if thr is not None and r["gram_distance"] <= thr), None)
    return {**out, "status": "ok", "updates": [r["updates"] for r in rows], "gram_distance": dist,
            "final_distance": dist[-1], "final_updates": rows[-1]["updates"], "reached_at": reached,
            "final_Z": (res["U"] @ res["V"].T).tolist()}


def run_tasks(tasks: list[dict], folder: Path | None, *, fn=training_task, workers: int = 1,
              progress: bool = False) -> list[dict]:
    """Run ``fn`` on every task (in order of the returned list), reusing results cached in ``folder``."""
    results: dict[int, dict] = {}
    todo = []
    for i, t in enumerate(tasks):
        path = Path(folder) / "tasks" / f"{task_key(t)}.json" if folder is not None else None
        if path is not None and path.exists():
            results[i] = read_json(path)
        else:
            todo.append((i, t, path))
    if progress and todo:
        print(f"[tasks] {len(todo)} to run, {len(results)} cached, {workers} worker(s)", flush=True)

    def store(i, path, r):
        results[i] = r
        if path is not None:
            write_json(path, r)
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
            futures = [(i, path, pool.submit(fn, t)) for i, t, path in todo]
            for k, (i, path, f) in enumerate(futures):
                store(i, path, f.result())
                if progress and (k + 1) % 50 == 0:
                    print(f"[tasks] {k + 1}/{len(todo)}", flush=True)
    else:
        for i, t, path in todo:
            store(i, path, fn(t))
    return [results[i] for i in range(len(tasks))]


def default_workers() -> int:
    """One worker per available core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def paired_comparison(a, b, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Paired comparison of two methods over the same seeds: median of ``a_s - b_s`` and a
    percentile-bootstrap interval of that median (``n_boot`` resamples of the seeds).

    Values may be ``inf`` (e.g. "never reached", a right-censored count); a pair where both are
    ``inf`` counts as a tie (difference 0). ``decision`` is ``'a<b'`` if the whole interval is
    below 0, ``'a>b'`` if above, else ``'undecided'``.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"a and b must be equal-length 1-D sequences, got shapes {a.shape} and {b.shape}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("a and b must not hold NaN (count diverged runs separately)")
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    with np.errstate(invalid="ignore"):
        diff = np.where(both_inf, 0.0, a - b)
    rng = np.random.default_rng(seed)
    meds = np.median(diff[rng.integers(0, diff.size, (n_boot, diff.size))], axis=1)
    lo, hi = np.quantile(meds, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    med = float(np.median(diff))
    decision = "a<b" if hi < 0 else "a>b" if lo > 0 else "undecided"
    clean = lambda x: None if not math.isfinite(x) else float(x)  # noqa: E731  (JSON: no inf)
    return {"median_difference": clean(med), "ci": [clean(float(lo)), clean(float(hi))], "ci_level": level,
            "n": int(diff.size), "decision": decision,
            "ci_note": None if math.isfinite(lo) and math.isfinite(hi) else "an interval end is infinite (censored runs)"}
