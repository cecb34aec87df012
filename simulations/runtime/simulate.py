"""Running a :class:`~simulations.training.Config`: every (method, seed) as a task, and its results folder.

``simulate(Config(...), out="runs/X")`` runs every (method, seed) and writes, atomically:

* ``config.json``          the config;
* ``metrics.csv``          one row per (method, seed, logged step): step, updates, the selection cost
                           (selection_evals, selection_seconds, update_seconds), full_loss,
                           all_loss, grad_norm, gram_distance;
* ``final_embeddings.npz`` ``{method}_s{seed}_U`` / ``_V`` arrays;
* ``summary.json``         final metrics per method and seed;
* ``runs/``                per-run results and checkpoints, used by ``resume=True``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from simulations.io import folder_lock, read_csv, read_json, write_csv, write_json, write_npz
from simulations.runtime.executor import Sequential, make_executor, run_isolated
from simulations.training.config import Config
from simulations.training.loop import train_run


def _run_name(method: str, seed: int) -> str:
    return f"{method}_s{seed}"


def simulation_run_task(params: dict) -> dict:
    """One (method, seed) run as a task: ``{"config": Config JSON, "method", "seed"}`` -> rows and final U, V.

    Parameters
    ----------
    params : dict

    Returns
    -------
    dict
        ``{"rows", "U", "V"}``.
    """
    from simulations.training.loop import train_run
    res = train_run(Config.from_json(params["config"]), params["method"], params["seed"])
    return {"rows": res["rows"], "U": res["U"].tolist(), "V": res["V"].tolist()}


def simulate(config: Config, out: str | Path | None = None, *, resume: bool = False, progress: bool = False,
             scheduler=None, workers: int | None = None) -> dict:
    """Run every (method, seed) of ``config``; write the results folder if ``out`` is given.

    ``resume=True`` keeps finished runs found in ``out/runs`` and continues unfinished ones from
    their checkpoints; the folder's config must then equal ``config``.

    ``scheduler``: ``None`` (without ``workers``) or ``'sequential'`` runs here, one run after another,
    with mid-run checkpoints; ``'local'`` (``workers`` processes), ``'tcp://HOST:PORT'`` or a ``distributed.Client``
    run the (method, seed) runs as independent tasks (:mod:`simulations.runtime.executor`) whose results this
    process writes as they arrive (resume is then per finished run). Every run uses one torch
    thread wherever it runs, so the numbers are the same for every scheduler.

    Returns
    -------
    dict with ``config``, ``rows`` (all metric rows), ``final`` ({run: {"U", "V"}}), ``summary``.

    Parameters
    ----------
    config : Config
    out : str or path-like, optional
        The results folder (None: nothing written).
    resume : bool, default=False
        Continue the runs found in ``out``.
    progress : bool, default=False
        Show progress bars.
    scheduler : str, distributed.Client or None, default=None
        Where the runs execute (see above).
    workers : int or None, default=None
        Local processes with ``scheduler='local'``.

    Raises
    ------
    ValueError
        If ``resume`` finds a different config in ``out``, or ``out`` is locked by another process.
    FloatingPointError
        If a run diverges.
    """
    ex = make_executor("sequential" if scheduler is None and workers is None else scheduler, workers)
    try:
        if out is None:
            return _simulate(config, None, resume, progress, ex)
        with folder_lock(out):
            return _simulate(config, Path(out), resume, progress, ex)
    finally:
        if ex is not scheduler:
            ex.close()


def _simulate(config: Config, out: Path | None, resume: bool, progress: bool, ex) -> dict:
    if out is not None:
        if (out / "config.json").exists() and resume and read_json(out / "config.json") != _jsonable(config):
            raise ValueError(f"{out} holds results of a different config; use another --out or drop --resume")
        if not resume and (out / "runs").exists() and any((out / "runs").iterdir()):
            raise ValueError(f"{out} already holds runs; pass resume=True (--resume) or choose another folder")
        write_json(out / "config.json", config.to_json())
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(config.methods) * len(config.seeds) * config.steps, desc="simulate", unit="step")
    runs = [(m, s) for m in config.methods for s in config.seeds]
    results = {}
    for method, seed in runs:
        name = _run_name(method, seed)
        done_csv = out / "runs" / f"{name}.csv" if out is not None else None
        if resume and done_csv is not None and done_csv.exists():
            res = {"rows": read_csv(done_csv)}
            with np.load(out / "runs" / f"{name}.npz") as z:
                res["U"], res["V"] = z["U"], z["V"]
            results[name] = res
            if bar is not None:
                bar.update(config.steps)

    def store(name, res):
        results[name] = res
        if out is not None:
            write_npz(out / "runs" / f"{name}.npz", U=res["U"], V=res["V"])
            write_csv(out / "runs" / f"{name}.csv", res["rows"])
            ckpt = out / "runs" / f"{name}.ckpt"
            if ckpt.exists():
                ckpt.unlink()
    todo = [(m, s) for m, s in runs if _run_name(m, s) not in results]
    if isinstance(ex, Sequential):
        for method, seed in todo:             # in process: mid-run checkpoints and a per-step progress bar
            ckpt = out / "runs" / f"{_run_name(method, seed)}.ckpt" if out is not None else None
            store(_run_name(method, seed), run_isolated(lambda p: train_run(config, *p, checkpoint=ckpt,
                                                                             progress=bar.update if bar else None),
                                                        (method, seed)))
    else:
        params = [{"config": config.to_json(), "method": m, "seed": s} for m, s in todo]
        for j, r in ex.run(simulation_run_task, params):
            store(_run_name(*todo[j]), {"rows": r["rows"], "U": np.asarray(r["U"]), "V": np.asarray(r["V"])})
            if bar is not None:
                bar.update(config.steps)
    rows, final = [], {}
    for method, seed in runs:
        res = results[_run_name(method, seed)]
        rows.extend(res["rows"])
        final[_run_name(method, seed)] = {"U": res["U"], "V": res["V"]}
    if bar is not None:
        bar.close()
    summary = summarize(rows)
    if out is not None:
        write_csv(out / "metrics.csv", rows)
        write_npz(out / "final_embeddings.npz", **{f"{k}_{x}": v[x] for k, v in final.items() for x in ("U", "V")})
        write_json(out / "summary.json", summary)
    return {"config": config.to_json(), "rows": rows, "final": final, "summary": summary}


def _jsonable(config: Config) -> dict:
    import json
    return json.loads(json.dumps(config.to_json()))


def summarize(rows: list[dict]) -> dict:
    """Final metrics per method and seed: ``{method: {seed: {...last row...}}}`` (with the selection's loss evaluations;
    the wall-clock columns stay in the rows, so that equal configs give equal summaries).

    Parameters
    ----------
    rows : list of dict
        The metric rows of every run.

    Returns
    -------
    dict
    """
    last = {}
    for r in rows:
        last[(r["method"], r["seed"])] = r
    out: dict = {}
    for (m, s), r in last.items():
        out.setdefault(m, {})[str(s)] = {k: r[k] for k in ("step", "updates", "full_loss", "all_loss", "grad_norm", "gram_distance",
                                                          "selection_evals", "robust_objective", "robust_profile", "robust_grad_norm")
                                          if k in r}
    return out
