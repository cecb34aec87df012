"""Markdown tables of a verdict's key numbers (each claim module's ``table`` uses these)."""
from __future__ import annotations


def fmt(x) -> str:
    """A cell: floats to 6 significant digits (3 in scientific notation when tiny or huge), None as 'never'."""
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1e-3 or abs(x) >= 1e4 else f"{x:.6g}"
    return "never" if x is None else str(x)


def table(header, rows) -> list[str]:
    """A markdown table (header, separator, one line per row) and a blank line."""
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows] + [""]


def column_table(keys, rows, *, get=None) -> list[str]:
    """A table of the columns ``keys`` of the records ``rows`` (``get(row, key)``: default ``row[key]``)."""
    get = get or (lambda r, k: r[k])
    return table(keys, [[get(r, k) for k in keys] for r in rows])
