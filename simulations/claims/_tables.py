"""Markdown tables of a verdict's key numbers (each claim module's ``table`` uses these).

A claim's report section is short: its tables summarise the sweep (rows grouped, extremes and margins shown,
failing points first) in at most :data:`MAX_ROWS` rows, and point to the full sweep that
:func:`simulations.claims.report.write_report` writes beside the report (:func:`sweep_files`: the verdict record
as JSON and its per-point table, :func:`sweep_records`, as CSV).
"""
from __future__ import annotations

import json
import math
import re

#: Table rows a claim's section shows, all its tables together (the rest is in its sweep files).
MAX_ROWS = 30
#: Point labels (after :func:`merge_labels`) a section lists per list; more: counted and pointed to.
MAX_LABELS = 40
#: The folder, beside the report, of the full sweeps.
SWEEP_DIR = "figures/sweeps"


def sweep_files(claim_id: str) -> tuple[str, str]:
    """The full sweep of a claim, relative to the report's folder: ``(JSON record, CSV per-point table)``."""
    return f"{SWEEP_DIR}/{claim_id}.json", f"{SWEEP_DIR}/{claim_id}.csv"


def fmt(x) -> str:
    """A cell: floats to 6 significant digits (3 in scientific notation when tiny or huge), None as 'never'."""
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1e-3 or abs(x) >= 1e4 else f"{x:.6g}"
    return "never" if x is None else str(x)


def _cell(x) -> str:
    return fmt(x).replace("|", "\\|")                  # a bar inside a cell would end it


def table(header, rows) -> list[str]:
    """A markdown table (header, separator, one line per row) and a blank line."""
    return ["| " + " | ".join(map(_cell, header)) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows] + [""]


def column_table(keys, rows, *, get=None) -> list[str]:
    """A table of the columns ``keys`` of the records ``rows`` (``get(row, key)``: default ``row[key]``)."""
    get = get or (lambda r, k: r[k])
    return table(keys, [[get(r, k) for k in keys] for r in rows])


def capped_table(header, rows, claim_id: str, *, limit: int = MAX_ROWS, what: str = "rows") -> list[str]:
    """:func:`table` of the first ``limit`` rows (order them: failing first), then how many more and where."""
    out = table(header, rows[:limit])
    if len(rows) > limit:
        out += [f"({len(rows) - limit} more {what}, {len(rows)} in all: every one in `{sweep_files(claim_id)[1]}`.)", ""]
    return out


# --- summaries --------------------------------------------------------------------------------------------------

def _finite(values):
    return [x for x in values if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)]


def largest(values):
    """The largest absolute value among the finite numbers of ``values`` ('n/a' if there is none)."""
    v = _finite(values)
    return max(abs(x) for x in v) if v else "n/a"


def smallest(values):
    """The smallest of the finite numbers of ``values`` ('n/a' if there is none)."""
    v = _finite(values)
    return min(v) if v else "n/a"


def extent(values) -> str:
    """``min..max`` of the finite numbers of ``values`` (one number when they agree; 'never' when none)."""
    v = _finite(values)
    if not v:
        return "never"
    lo, hi = fmt(min(v)), fmt(max(v))
    return lo if lo == hi else f"{lo}..{hi}"


def count(values, want=True) -> str:
    """``'k/n'``: how many of ``values`` are ``want`` (``is``-compared: True, False or None)."""
    values = list(values)
    return f"{sum(x is want for x in values)}/{len(values)}"


def span(values) -> str:
    """The distinct values in first-seen order: all of them when few, else ``min..max (k values)`` (numbers) or
    the first three and the count."""
    seen = list(dict.fromkeys(values))
    if len(seen) <= 4:
        return ", ".join(fmt(x) for x in seen)
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in seen):
        return f"{fmt(min(seen))}..{fmt(max(seen))} ({len(seen)} values)"
    return f"{', '.join(fmt(x) for x in seen[:3])}, ... ({len(seen)} values)"


def grouped(rows, by, columns) -> tuple[list, list]:
    """One row per distinct value of the keys ``by`` (first-seen order; a key may be a function of the record):
    the group's values of ``by``, then ``fn(group)`` for each ``(header, fn)`` in ``columns``.
    Returns ``(header, rows)`` for :func:`table`."""
    keys = [k if callable(k) else (lambda r, k=k: r[k]) for k in by]
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(k(r) for k in keys), []).append(r)
    names = [getattr(k, "__name__", "") if callable(k) else k for k in by]
    return names + [h for h, _ in columns], [list(k) + [fn(g) for _, fn in columns] for k, g in groups.items()]


def loss_kind(r) -> str:
    """A loss label without its parameters (``'dcl(tau=0.1, ...)'`` -> ``'dcl'``), with DCL's negatives kept."""
    label = str(r["loss"])
    kind = label.split("(")[0]
    m = re.search(r"negatives=(\w+)", label)
    return f"{kind} ({m.group(1)})" if m else kind


loss_kind.__name__ = "loss"


# --- point labels -----------------------------------------------------------------------------------------------

_VALUE = re.compile(r"(?<==)[^,;:()\s]+")


def _merge(labels) -> list[tuple[str, int]]:
    """:func:`merge_labels` with the number of points each merged label stands for."""
    items = []
    for lab in dict.fromkeys(map(str, labels)):
        vals = _VALUE.findall(lab)
        items.append((tuple(_VALUE.split(lab)), [(v,) for v in vals]))
    changed = True
    while changed:
        changed = False
        width = max((len(v) for _, v in items), default=0)
        for p in reversed(range(width)):
            merged: dict = {}
            for skel, vals in items:
                if p >= len(vals):
                    merged[(skel, tuple(vals), None)] = (skel, list(vals))
                    continue
                key = (skel, tuple(vals[:p]), tuple(vals[p + 1:]))
                if key in merged:
                    old = merged[key][1]
                    old[p] = old[p] + tuple(x for x in vals[p] if x not in old[p])
                    changed = True
                else:
                    merged[key] = (skel, list(vals))
            items = list(merged.values())
    out = []
    for skel, vals in items:
        text = skel[0]
        for v, s in zip(vals, skel[1:]):
            text += (v[0] if len(v) == 1 else "{" + ", ".join(v) + "}") + s
        out.append((text, math.prod(len(v) for v in vals)))
    return out


def merge_labels(labels) -> list[str]:
    """Point labels that differ in one value only merged into one: ``'N=6,tau=0.1'`` and ``'N=6,tau=1'`` ->
    ``'N=6,tau={0.1, 1}'`` (a value: what follows an ``=``). Exact: a merged label stands for every combination
    of its sets and for no other point. First-seen order."""
    return [t for t, _ in _merge(labels)]


def label_list(labels, where: str, *, limit: int = MAX_LABELS) -> str:
    """``labels`` merged (:func:`merge_labels`) and joined with '; ', at most ``limit`` of them; the points left
    out counted and pointed to (``where``: the file and key that list every one)."""
    merged = _merge(labels)
    text = "; ".join(t for t, _ in merged[:limit])
    if len(merged) > limit:
        text += f"; ... and {sum(n for _, n in merged[limit:])} more points, every one in {where}"
    return text


# --- the full sweep, flat ---------------------------------------------------------------------------------------

def _records(x) -> bool:
    return isinstance(x, list) and bool(x) and all(isinstance(r, dict) for r in x)


def _record_map(x) -> bool:
    return isinstance(x, dict) and bool(x) and all(isinstance(r, dict) for r in x.values())


def flat(record: dict, prefix: str = "") -> dict:
    """A record with nested mappings spread into ``a.b`` columns and lists written as JSON text."""
    out = {}
    for k, v in record.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat(v, key + "."))
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(v, default=str)
        else:
            out[key] = v
    return out


def sweep_records(numbers: dict) -> tuple[str, list[dict]]:
    """The per-point table of a verdict's ``numbers``, flat (:func:`flat`): ``cases`` where it is a list of
    records, else the longest such list, else the largest mapping point -> record (the point as column
    ``point``). Returns ``(its key, records)``; ``('', [])`` when the numbers hold no table."""
    if _records(numbers.get("cases")):
        return "cases", [flat(r) for r in numbers["cases"]]
    lists = [(len(v), k) for k, v in numbers.items() if _records(v)]
    if lists:
        k = max(lists)[1]
        return k, [flat(r) for r in numbers[k]]
    maps = [(len(v), k) for k, v in numbers.items() if _record_map(v)]
    if maps:
        k = max(maps)[1]
        return k, [{"point": p, **flat(r)} for p, r in numbers[k].items()]
    points = {k: v for k, v in numbers.items() if isinstance(v, dict) and v and not _record_map(v)}
    if len(points) >= 2 and all(all(not isinstance(x, (dict, list)) for x in v.values()) for v in points.values()):
        return "", [{"point": p, **r} for p, r in points.items()]
    return "", []


def generic_table(numbers: dict) -> list[str]:
    """For a claim without a table of its own: its scalar numbers in a line and its records of equal keys as a
    table (at most :data:`MAX_ROWS` rows)."""
    scalars = {k: v for k, v in numbers.items() if not isinstance(v, (dict, list))}
    out = [", ".join(f"{k} = {fmt(v)}" for k, v in scalars.items()) + ".", ""] if scalars else []
    rows = {k: v for k, v in numbers.items() if isinstance(v, dict) and v
            and all(not isinstance(x, (dict, list)) for x in v.values())}
    if rows:
        keys = list(dict.fromkeys(k for r in rows.values() for k in r))
        out += table(["point"] + keys, [[p] + [r.get(k, "") for k in keys] for p, r in list(rows.items())[:MAX_ROWS]])
    return out
