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
    """The dual certificate at every sweep point (claims full_batch_etf, all_batches_etf)."""
    from simulations.claims._tables import table
    rows = v["numbers"]["cases"]
    keys = [k for k in ("N", "B", "tau", "dual_certified", "unique", "slackness", "min_eig", "etf_value", "closed_form")
            if k in rows[0]]
    return ["Dual certificate at every sweep point:", ""] + table(keys, [[r[k] for k in keys] for r in rows])
