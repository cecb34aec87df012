"""paper_reproduction.md and summary.md from ``verdicts.json`` (plain text, no computation).

The report opens with the verdict table; then one short section per claim: its statement, its source, its
verdict with the reasoning (and, where it holds only in part, the points where it holds and fails), the command
that reruns it alone, links to its code and tests (from its :class:`~simulations.claims.Claim`), its key tables
(:meth:`Claim.table`, written by the claim's own module: a summary of at most ~30 rows) and its figure. The full
sweep of every claim is written beside the report, in ``figures/sweeps/``: ``<id>.json``, the claim's whole verdict record
(every number), and ``<id>.csv``, its per-point table (:func:`simulations.claims._tables.sweep_records`); each
section links both.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from simulations.claims._tables import MAX_LABELS, SWEEP_DIR, generic_table, label_list, sweep_files, sweep_records
from simulations.io import read_json, write_csv, write_json, write_text

SECTION_INTRO = {
    "Beyond InfoNCE: SigLIP, DCL, DHEL, KCL": (
        "The paper's three questions — what minimises the full batch, does the all-C(N,B) family share it, does a "
        "fixed partition break it — asked for the losses of `theory/losses/` (exact forms in their docstrings): "
        "SigLIP (Zhai et al. 2023; per batch (1/|S|) sum_{i,j in S} softplus(-y_ij (z_ij/tau + bias))), DCL (Yeh et al. "
        "2022; as published, with both views of every other sample as negatives, eq. 6, and the cross-view-only "
        "variant), DHEL and KCL (Koromilas et al. 2024). Every value is certified (`minibatch-cl certify --loss ...`) and "
        "compared with an independently derived value; uniqueness of a minimizer is probed numerically, and proven where "
        "the theory notes prove it. The published results reproduced are Lee, Chang & Sohn (AISTATS 2024) for SigLIP's "
        "optimum and Koromilas et al. (ICML 2024) for the batch-level minimizers of DHEL and KCL and for KCL's "
        "independence of the batch size; their comparison of batch-level with asymptotic (N -> infinity) minimizers "
        "is related work, not a statement about all-C(N,B) families. Convention: our `tau` is SigLIP's 1/t and our `bias` is SigLIP's b; Lee et al. write the bias with the opposite sign (their b = -bias). "
        "Lee et al.'s thresholds were compared with the formulas printed in the authors' public code (the paper's text "
        "was not accessible from this machine); Koromilas et al.'s KCL doubles the alignment term and DHEL weights its "
        "two energy terms against one alignment term — rescalings that leave every minimizer below unchanged. Below "
        "d = N-1 (the last two claims) the relaxation only bounds: KCL's minimum is certified there by the LP bound on "
        "pair energies (`theory/energy.py`) at Cohn & Kumar's universally optimal codes, and SigLIP with trainable "
        "temperature and bias is checked against Bangachev et al.'s (NeurIPS 2025) constellations, whose definitions "
        "were taken from the abstract and the authors' public code (the paper's theorems were not accessible here); "
        "for DCL and DHEL no low-dimensional result is claimed."),
}
VERDICT_WORDS = ("confirmed (holds at every point of its sweep) / qualified (holds only in the stated range; the "
                 "failing points are listed) / refuted / inconclusive / not reproducible here")


def _link(target: str, report_dir: Path, repo_root: Path) -> str:
    """``path::name`` as a markdown link to the file, relative to the report."""
    path = target.split("::")[0]
    rel = os.path.relpath(repo_root / path, report_dir)
    return f"[`{target}`]({Path(rel).as_posix()})"


def _public(text: str) -> str:
    """A declaration's text without notes on how it was developed (``(issue: ...)``)."""
    return re.sub(r"\s*\(issue: [^)]*\)", "", text)


def summary_table(verdicts: list[dict], mode: str) -> str:
    """The verdict table (``summary.md``).

    Parameters
    ----------
    verdicts : list of dict
    mode : str

    Returns
    -------
    str
    """
    lines = [f"# minibatch-cl reproduce --{mode}", "", "| claim | verdict | statement |", "|---|---|---|"]
    lines += [f"| {v['id']} | {v['verdict']} | {v['statement']} |" for v in verdicts]
    return "\n".join(lines) + "\n"


def _value(x) -> str:
    """A setting: runs of consecutive integers as ``[a..b]``."""
    if isinstance(x, (tuple, list, range)):
        x = list(x)
        if len(x) > 4 and all(isinstance(i, int) and not isinstance(i, bool) for i in x) \
                and x == list(range(x[0], x[0] + len(x))):
            return f"[{x[0]}..{x[-1]}]"
        return str(x)
    return str(x)


def _settings_line(claim_id: str, mode: str, device: str) -> list[str]:
    """The sizes the claim ran at, as declared by the claim (the check's defaults where empty)."""
    import inspect
    from simulations.claims import CLAIMS
    c = CLAIMS.get(claim_id)
    if c is None:
        return []
    kw = c.settings(mode, device)
    defaults = {k: p.default for k, p in inspect.signature(c.check).parameters.items()
                if p.default is not inspect.Parameter.empty and k not in ("out", "device", "progress", "workers")}
    shown = {**defaults, **kw}
    if not shown:
        return []
    return [f"- **Sizes ({mode}).** " + "; ".join(f"{k} = {_value(v)}" for k, v in shown.items())]


def write_sweep(v: dict, report_dir: Path) -> tuple[str, str, str, int]:
    """The claim's full sweep beside the report: its verdict record as JSON and (where its numbers hold a
    per-point table) that table as CSV. Returns the JSON's and the CSV's paths relative to the report's folder
    ('' for no CSV), the key of ``numbers`` the table comes from and its row count.

    Parameters
    ----------
    v : dict
        The verdict record.
    report_dir : pathlib.Path

    Returns
    -------
    tuple
    """
    js, cs = sweep_files(v["id"])
    write_json(report_dir / js, v)
    key, rows = sweep_records(v["numbers"])
    if not rows:
        (report_dir / cs).unlink(missing_ok=True)
        return js, "", key, 0
    cols = list(dict.fromkeys(k for r in rows for k in r))
    write_csv(report_dir / cs, [{k: r.get(k, "") for k in cols} for r in rows])
    return js, cs, key, len(rows)


def _n_points(n: int) -> str:
    return f"{n} point" + ("" if n == 1 else "s")


def _points(v: dict, js: str) -> list[str]:
    """Where a claim fails (every point, merged; or counted and pointed to) and, if it holds only in part,
    where it holds."""
    n = v["numbers"]
    fails = n.get("fails_for") or n.get("failed_points") or []
    holds = n.get("holds_for") or []
    where = f"[{js}]({js})"
    out = []
    if fails:
        out += [f"*Fails for ({_n_points(len(fails))}):* "
                + label_list(fails, f"{where} (`numbers.{'fails_for' if n.get('fails_for') else 'failed_points'}`)",
                             limit=MAX_LABELS), ""]
    if holds and v["verdict"] != "confirmed":                  # confirmed: every point holds
        out += [f"*Holds for ({_n_points(len(holds))}):* " + label_list(holds, f"{where} (`numbers.holds_for`)",
                                                                     limit=MAX_LABELS // 2), ""]
    return out


def _section(v: dict, c, report: Path, mode: str, device: str) -> list[str]:
    from simulations.claims import REPO_ROOT
    js, cs, key, n_rows = write_sweep(v, report.parent)
    lines = [f"## {v['id']}", "", f"**Claim.** {v['statement']}", "", f"**Source.** {_public(v['source'])}", "",
             f"**Verdict: {v['verdict']}.** {v['detail']}", ""]
    lines += _points(v, js)
    if v["command"]:
        lines += [f"- **Command.** `{v['command']}`"]
    lines += _settings_line(v["id"], mode, device)
    lines += [f"- **Code.** {_link(v['code'], report.parent, REPO_ROOT)}",
              "- **Tests.** " + ", ".join(_link(t, report.parent, REPO_ROOT) for t in v["test"].split(" ; ") if t)]
    sweep = f"- **Full sweep.** [{js}]({js}) (the verdict record: every number)"
    if cs:
        sweep += f", [{cs}]({cs}) (" + (f"`{key}`, " if key else "") + f"{n_rows} rows)"
    lines += [sweep, ""]
    lines += (c.table(v) if c is not None and c.tables is not None else generic_table(v["numbers"]))
    if v["figure"]:
        lines += [f"![{v['id']}](figures/output/{v['figure']}.png)", ""]
        if v["figure"] == "convergence":
            lines += ["![convergence sweep](figures/output/convergence_sweep.png)", "",
                      "![heatmaps](figures/output/heatmaps.png)", ""]
    return lines


def _shown_command(command: str, out: Path) -> str:
    """The command as a reader would type it: a results folder outside the repository by its name only."""
    from simulations.claims import REPO_ROOT
    out = Path(out)
    if not out.is_absolute() or str(out) not in command:
        return command
    try:
        shown = out.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        shown = out.name
    return command.replace(str(out), shown)


def write_report(out: Path, report: Path, mode: str, command: str, device: str = "cpu") -> None:
    """paper_reproduction.md from ``out/verdicts.json``; figures copied to ``<report dir>/figures/output``, each
    claim's full sweep written to ``<report dir>/figures/sweeps/`` (:func:`write_sweep`).

    Parameters
    ----------
    out : pathlib.Path
        The reproduce results folder.
    report : pathlib.Path
        The report's path.
    mode : str
    command : str
        The command printed at the top.
    device : str, default='cpu'
    """
    from simulations.claims import CLAIMS
    verdicts = read_json(Path(out) / "verdicts.json")
    report = Path(report)
    figdir = report.parent / "figures" / "output"
    figdir.mkdir(parents=True, exist_ok=True)
    (report.parent / SWEEP_DIR).mkdir(parents=True, exist_ok=True)
    for f in (Path(out) / "figures").glob("*.*"):
        shutil.copy2(f, figdir / f.name)
    lines = ["# Reproduction of *Mini-Batch Optimization of Contrastive Loss* (Cho et al., TMLR 2024)", "",
             f"Generated by `{_shown_command(command, out)}` — every number below comes from that command; each "
             f"claim's own command reruns it alone at the same size. Verdicts: {VERDICT_WORDS}. 'Source' says what the "
             "paper states (section or figure) or marks the statement as our derivation. Each section summarises its "
             "sweep; the full sweep of every claim (its verdict record as JSON, its per-point table as CSV) is in "
             "`figures/sweeps/`, linked from the section.", "",
             "| claim | verdict | source |", "|---|---|---|"]
    lines += [f"| [{v['id']}](#{v['id'].replace('_', '-')}) | {v['verdict']} | {_public(v['source'])} |" for v in verdicts]
    lines.append("")
    section = ""
    for v in verdicts:
        c = CLAIMS.get(v["id"])
        if c is not None and c.section != section:
            section = c.section
            lines += [f"# {section}", ""] + ([SECTION_INTRO[section], ""] if section in SECTION_INTRO else [])
        lines += _section(v, c, report, mode, device)
    write_text(report, "\n".join(lines))
