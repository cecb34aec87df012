"""InfoNCE at the simplex ETF, as the InfoNCE claims record it."""
from __future__ import annotations

from theory import Family, InfoNCE
from theory.certificates import etf_dual_certificate

#: InfoNCE's two forms as the claims name them (``InfoNCE.mode``).
MODES = ("symmetric", "one_sided")


def infonce(mode: str = "symmetric", tau: float = 1.0) -> InfoNCE:
    """InfoNCE at temperature ``tau``, symmetric (CLIP) or one-sided, by its ``mode``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return InfoNCE(tau, symmetric=mode == "symmetric")


def etf_record(family: Family, tau: float, mode: str = "symmetric") -> dict:
    """The analytic dual certificate at ``U = V = ETF`` (:func:`theory.certificates.etf_dual_certificate`)
    as a record: ``tau``, ``dual_certified``, ``unique``, ``slackness``, ``min_eig``, ``rank_Y``."""
    d = etf_dual_certificate(family, infonce(mode, tau))
    return {"tau": tau, "dual_certified": d["certified"], "unique": d["unique"], "slackness": d["slackness"],
            "min_eig": d["min_eig"], "rank_Y": d["rank_Y"]}


def dual_table(v: dict) -> list[str]:
    """The dual certificate over the sweep, grouped (by tau for the full batch, by (N, B) for the all-batches
    family), its failing points first; the solver's cross-check (claims full_batch_etf, all_batches_etf)."""
    from simulations.claims._tables import (capped_table, column_table, count, fmt, grouped, largest, smallest,
                                              span, table)
    n = v["numbers"]
    rows = n["cases"]
    by, other = (("N", "B"), "tau") if "B" in rows[0] else (("tau",), "N")
    cols = [(f"{other}", lambda g: span(r[other] for r in g)),
            ("certified & unique", lambda g: count(bool(r["dual_certified"] and r["unique"]) for r in g)),
            ("max abs. slackness", lambda g: largest(r["slackness"] for r in g)),
            ("min eigenvalue", lambda g: smallest(r["min_eig"] for r in g)),
            ("max abs. L(ETF) - closed form", lambda g: largest(r["etf_value"] - r["closed_form"] for r in g))]
    if "etf_batch_loss_spread" in rows[0]:
        cols.append(("max batch-loss spread at the ETF", lambda g: largest(r["etf_batch_loss_spread"] for r in g)))
    header, body = grouped(rows, by, cols)
    out = [f"Analytic dual certificate at U = V = ETF, {len(rows)} points grouped by {', '.join(by)} (slackness and "
           "eigenvalue relative to the gradient's norm):", ""] + table(header, body)
    bad = [r for r in rows if not (r["dual_certified"] and r["unique"])]
    if bad:
        keys = [k for k in ("N", "B", "tau", "dual_certified", "unique", "slackness", "min_eig") if k in rows[0]]
        out += ["Points where the certificate fails:", ""] + capped_table(keys, [[r[k] for k in keys] for r in bad],
                                                                         v["id"], limit=10, what="failing points")
    if n.get("solver"):
        out += ["Solver cross-check (Clarabel, tau = 1):", ""] + column_table(list(n["solver"][0]), n["solver"])
    if "one_sided_N6" in n:
        o = n["one_sided_N6"]
        out += [f"One-sided loss, N = 6: certificate {fmt(o['certificate'])}, closed form {fmt(o['closed_form'])}.", ""]
    return out
