"""``minibatch-cl reproduce``: every claim, its figures and the report, in one run.

Writes into ``out``:

* ``verdicts.json``  one record per claim (id, statement, source, verdict, numbers, detail, command, code, test, figure);
* the claims' results: ``fig1a.csv``, ``osgd_toy.{csv,json}``, ``convergence.{csv,json}``, ``heatmaps.json``,
  ``sc_quality.csv``, ``large_n_equivalence/``, and the per-run task files (``*/tasks/*.json``, reused on a rerun);
* ``figures/``       PNG + PDF of every figure (drawn from the files above);
* ``summary.md``     the verdict table; with ``report=PATH`` also the full paper_reproduction.md.

Sizes: ``tiny`` (the test-suite's smoke size), ``quick`` (under 10 minutes on 2 CPU cores) and
``full`` (the sizes stated in each claim's declaration, :mod:`simulations.claims`).
"""
from __future__ import annotations

import time
from pathlib import Path

from simulations.training.config import check_device
from simulations.io import folder_lock, write_json, write_text
from simulations.claims.report import summary_table, write_report


def reproduce(out="reproduction", mode: str = "quick", device: str = "cpu", progress: bool = True,
              report: str | Path | None = None, workers: int | None = None, scheduler=None) -> dict:
    """Run every claim at size ``mode``, draw the figures, write the summary (and the report).

    ``scheduler`` / ``workers``: where the claims' tasks run (:func:`simulations.runtime.executor.make_executor`).

    Returns ``{"mode", "out", "seconds", "verdicts": [...], "figures": [...]}``.

    Parameters
    ----------
    out : str or path-like, default='reproduction'
    mode : {'tiny', 'quick', 'full'}, default='quick'
    device : str, default='cpu'
    progress : bool, default=True
    report : str or path-like, optional
    workers : int or None, default=None
    scheduler : str, distributed.Client or None, default=None

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        For an unknown mode or device, or a locked ``out``.
    """
    from simulations.claims import SIZES
    if mode not in SIZES:
        raise ValueError(f"mode must be one of {SIZES}, got {mode!r}")
    check_device(device)
    with folder_lock(out):
        return _reproduce(Path(out), mode, device, progress, report, workers, scheduler)


def _reproduce(out: Path, mode, device, progress, report, workers, scheduler=None) -> dict:
    from simulations.claims import CLAIMS, run_claims_unlocked
    t0 = time.perf_counter()
    verdicts = [v.to_json() for v in run_claims_unlocked(list(CLAIMS), size=mode, out=out, device=device,
                                                         progress=progress, workers=workers, scheduler=scheduler)]
    write_json(out / "verdicts.json", verdicts)
    from figures import draw_all
    figs = draw_all(out)
    summary = summary_table(verdicts, mode)
    write_text(out / "summary.md", summary)
    if report is not None:
        cmd = f"minibatch-cl reproduce --{mode} --out {out} --report {Path(report).name}"
        write_report(out, Path(report), mode, cmd + (f" --device {device}" if device != "cpu" else ""), device)
    if progress:
        print(summary)
    return {"mode": mode, "out": str(out), "seconds": time.perf_counter() - t0, "verdicts": verdicts,
            "figures": [str(f) for f in figs]}
