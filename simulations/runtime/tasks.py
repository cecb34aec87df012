"""Independent tasks (training runs, certificates, claims): deterministic, cached by content, run anywhere.

A *task* is a top-level function and a JSON-able dict of parameters. Its result is stored as
``<folder>/tasks/<key>.json`` where ``key`` hashes the function's name, the parameters and the
package's *code version* (a hash of every source file of ``theory`` and ``simulations``), so a code
change never reuses a stale result. Results are written atomically by the client only (one writer
per folder; workers need no shared filesystem). A sweep that is interrupted resumes: finished tasks
are read back, not rerun. Where the tasks run is the executor's business
(:mod:`simulations.runtime.executor`: ``sequential``, a ``local`` process pool, or a Dask cluster); every
task runs with one torch and one BLAS thread, so the numbers do not depend on where it ran.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from contextlib import closing
from pathlib import Path

import numpy as np

from simulations._code import code_version
from simulations.runtime.executor import default_workers, make_executor  # noqa: F401  (default_workers re-exported)
from simulations.io import read_json, write_json

def task_key(params: dict, fn=None) -> str:
    """Content address of a task: sha256 of the function's name, the parameters' canonical JSON and
    :func:`code_version`.

    Parameters
    ----------
    params : dict
        JSON-serialisable.
    fn : callable, optional
        The task's function (default :func:`training_task`).

    Returns
    -------
    str
        A hex digest.
    """
    name = None if fn is None else f"{fn.__module__}.{fn.__qualname__}"
    blob = json.dumps({"fn": name, "params": params, "code": code_version()}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def training_task(params: dict) -> dict:
    """One training run: ``params`` are :class:`Config` fields with one method and one seed.

    Returns the logged curve (updates, Gram distance), the final distance, the first update count
    at which the distance was ``<= stop_distance`` (None if never) and ``status``: ``'ok'`` or
    ``'diverged'`` (the loss became non-finite: ``FloatingPointError``), never a silent number.

    Parameters
    ----------
    params : dict

    Returns
    -------
    dict
    """
    from simulations.training.config import Config
    from simulations.training.loop import train_run
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


def run_tasks(tasks: list[dict], folder: Path | None, *, fn=training_task, scheduler=None, workers: int | None = None,
              progress: bool = False) -> list[dict]:
    """Run ``fn`` on every task (results in the order of ``tasks``), reusing results cached in ``folder``.

    ``scheduler``: ``'local'`` (default; ``workers`` processes, one per core unless given),
    ``'sequential'``, ``'tcp://HOST:PORT'``, a ``distributed.Client`` or an executor
    (:func:`simulations.runtime.executor.make_executor`). Each result is written to
    ``folder/tasks/<key>.json`` as soon as it arrives, by this process only; identical tasks run once.

    Parameters
    ----------
    tasks : list of dict
    folder : path-like or None
        The cache folder (None: no cache).
    fn : callable, default=training_task
    scheduler : str, distributed.Client, Executor or None, default=None
    workers : int or None, default=None
    progress : bool, default=False

    Returns
    -------
    list of dict
        One result per task.
    """
    keys = [task_key(t, fn) for t in tasks]
    results: dict[str, dict] = {}
    todo: dict[str, dict] = {}
    for k, t in zip(keys, tasks):
        path = Path(folder) / "tasks" / f"{k}.json" if folder is not None else None
        if k in results or k in todo:
            continue
        if path is not None and path.exists():
            results[k] = read_json(path)
        else:
            todo[k] = t
    if todo:
        ex = make_executor(scheduler, workers)
        if progress:
            print(f"[tasks] {len(todo)} to run, {len(results)} cached ({ex.name})", flush=True)
        order = list(todo)
        t0 = time.perf_counter()
        try:
            with closing(ex.run(fn, [todo[k] for k in order], keys=order)) as stream:   # an error closes it now
                for n, (j, r) in enumerate(stream, start=1):
                    k = order[j]
                    results[k] = r
                    if folder is not None:
                        write_json(Path(folder) / "tasks" / f"{k}.json", r)
                    if progress and (n == len(order) or n % max(1, len(order) // 20) == 0):
                        print(f"[tasks] {n}/{len(order)} done, {time.perf_counter() - t0:.1f} s", flush=True)
        finally:
            if ex is not scheduler:
                ex.close()
    return [results[k] for k in keys]


def paired_comparison(a, b, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict:
    """Paired comparison of two methods over the same seeds: median of ``a_s - b_s`` and a
    percentile-bootstrap interval of that median (``n_boot`` resamples of the seeds).

    Values may be ``inf`` (e.g. "never reached", a right-censored count); a pair where both are
    ``inf`` counts as a tie (difference 0). ``decision`` is ``'a<b'`` if the whole interval is
    below 0, ``'a>b'`` if above, else ``'undecided'``.

    Parameters
    ----------
    a, b : sequence of float
        One value per seed, paired.
    n_boot : int, default=2000
        Bootstrap resamples.
    seed : int, default=0
        Seed of the resampling.
    level : float, default=0.95
        Confidence level, in ``(0, 1)``.

    Returns
    -------
    dict
        ``median_difference``, ``ci`` (the interval), ``ci_level``, ``n``, ``decision``, ``ci_note``.
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
