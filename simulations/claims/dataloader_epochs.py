"""Claim dataloader_epochs: reshuffled DataLoader epochs with a short last batch keep the ETF optimal in
expectation; one fixed such epoch does not."""
from __future__ import annotations

import itertools

import numpy as np

from theory import Family, batch_values, normalize_rows, objective, simplex_etf
from theory.balance import critical_taus
from theory.certificates import certify, etf_is_optimal, full_batch_gap
from theory.optima import optimum_all_mixture

from simulations.claims import Claim
from simulations.claims._etf import infonce
from simulations.claims._tables import fmt, table
from simulations.claims._verdict import TAUS, Verdict, value_close, verdict_over_sweep


def _epoch_average_by_enumeration(U, V, N: int, B: int, loss) -> float:
    """Mean over all N! shuffles of one ``drop_last=False`` epoch's objective (mean loss of its steps),
    from a table of every subset's loss (``loss``: a :class:`theory.Loss` or a registered name): the
    definition, no symmetry argument."""
    q, r = divmod(N, B)
    table_ = {}
    for b in {B, r} - {0}:
        fam = Family.from_batches([list(t) for t in itertools.combinations(range(N), b)], N, kind="dataloader")
        table_.update(zip(map(tuple, (np.sort(x) for x in fam.batch_list())), batch_values(U, V, fam, loss)))
    total, count = 0.0, 0
    for perm in itertools.permutations(range(N)):
        steps = [tuple(sorted(perm[k * B:(k + 1) * B])) for k in range(q)] + ([tuple(sorted(perm[q * B:]))] if r else [])
        total += sum(table_[s_] for s_ in steps) / len(steps)
        count += 1
    return total / count


def check_dataloader_epochs(cases=((5, 2), (7, 3), (6, 4), (7, 2), (10, 4), (9, 4)), taus=TAUS,
                            losses=("symmetric", "one_sided"), enumerate_N: int = 7, seed: int = 0,
                            gap_taus=(1.0,)) -> Verdict:
    """Reshuffled ``DataLoader`` epochs with a short last batch (``drop_last=False``, N mod B != 0)
    keep the ETF optimal in expectation; one fixed such epoch does not.

    Expectation: :meth:`Family.dataloader_expectation` (all C(N,B) with weight q plus all C(N,r) with
    weight 1), checked against the average over all N! shuffles (for N <= ``enumerate_N``), balanced
    at every tau (kappa), the ETF certified (dual certificate) with value equal to the closed form
    :func:`theory.optima.optimum_all_mixture`. Fixed epoch: the ETF is not stationary; the gap is the
    ETF's excess over the family's optimum and the full-batch gap of its minimizers (solver, at
    ``gap_taus``, a measurement). ``losses``: InfoNCE's forms (``'symmetric'``, ``'one_sided'``).

    Parameters
    ----------
    cases : tuple of (N, B), default=((5, 2), (7, 3), (6, 4), (7, 2), (10, 4), (9, 4))
        Sizes with ``N mod B != 0``.
    taus : tuple of float, default=(0.05, 0.2, 1.0, 5.0)
        Temperatures swept.
    losses : tuple of str, default=('symmetric', 'one_sided')
    enumerate_N : int, default=7
    seed : int, default=0
        Seed of the fixed epochs.
    gap_taus : tuple of float, default=(1.0,)

    Returns
    -------
    Verdict
        The claim's verdict with its numbers (every sweep point) and the reasoning.
    """
    rng = np.random.default_rng(seed)
    rows, holds = [], {}
    for N, B in cases:
        q, r = divmod(N, B)
        if r == 0:
            raise ValueError(f"case (N={N}, B={B}): B divides N, there is no short last batch")
        E = Family.dataloader_expectation(N, B)
        F = Family.dataloader_epoch(N, B, seed=seed)
        W = simplex_etf(N, N - 1)
        exact = None
        if N <= enumerate_N:
            U = normalize_rows(rng.standard_normal((N, 3)))
            V = normalize_rows(rng.standard_normal((N, 3)))
            enum = _epoch_average_by_enumeration(U, V, N, B, infonce("symmetric", 0.5))
            formula = objective(U, V, E, infonce("symmetric", 0.5))
            exact = abs(enum - formula) / abs(enum)
        row = {"N": N, "B": B, "last_batch": r, "expectation_balanced_every_tau": critical_taus(E) == "all",
               "expectation_vs_all_shuffles_rel_diff": exact, "fixed_epoch": [b.tolist() for b in F.batch_list()],
               "by_point": []}
        for mode in losses:
            for tau in taus:
                L = infonce(mode, tau)
                e = etf_is_optimal(E, L)
                f = etf_is_optimal(F, L)
                val, closed = e.etf_value, optimum_all_mixture(E, tau, loss=L.mode)
                point = {"loss": mode, "tau": tau, "expectation_etf_optimal": e.optimal,
                         "expectation_unique": bool(e.dual is not None and e.dual.unique), "etf_value": val,
                         "closed_form": closed, "fixed_epoch_etf_optimal": f.optimal,
                         "fixed_epoch_gradient_ratio": f.gradient_ratio}
                row["by_point"].append(point)
                holds[f"N={N},B={B},{mode},tau={tau:g}"] = (
                    e.optimal is True and point["expectation_unique"] and value_close(val, closed, tau)
                    and f.optimal is False and row["expectation_balanced_every_tau"]
                    and (exact is None or exact <= 1e-12))
        gaps = []
        for tau in gap_taus:
            L = infonce("symmetric", tau)
            cert = certify(F, L)
            g = full_batch_gap(F, L, eps=(1e-3, 1e-4))
            etf_value = objective(W, W, F, L)
            gaps.append({"tau": tau, "fixed_epoch_optimum": cert.value, "status": cert.status,
                         "etf_value": etf_value, "etf_excess": etf_value - cert.value,
                         "full_batch_gap": dict(zip(map(str, g["eps"]), g["gaps"]))})
        row["fixed_epoch_gap"] = gaps
        rows.append(row)
    verdict, ok, bad = verdict_over_sweep(holds)
    return Verdict("dataloader_epochs", verdict, {"cases": rows, "taus": list(taus), "losses": list(losses),
                                                  "points": len(holds), "holds_for": ok, "fails_for": bad},
                   "Expectation: each full batch of a uniformly shuffled epoch is marginally a uniform B-subset and the "
                   "short last batch a uniform r-subset, so E[L_epoch] = (q L_all(B) + L_all(r))/(q+1) — checked against "
                   "the average over all N! shuffles (relative difference in the table, N <= 7). This mixture of "
                   "all-C(N,b) families has constant kappa at every tau (weighted law), so the ETF is its unique minimizer "
                   "(dual certificate at every tau and loss), with value sum_b W_b 2 log(1+(b-1)c)/sum_b W_b (closed form; "
                   "an r = 1 last batch is one pair, loss 0, and only dilutes). A fixed epoch (one seeded shuffle, "
                   "drop_last=False) is never balanced — pairs split across batches have kappa 0 — so the ETF is not "
                   "stationary for it (gradient ratio), and its minimizers are full-batch sub-optimal (solver gap, "
                   "measured at tau = 1).")


def dataloader_table(v: dict) -> list[str]:
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
    for c in v["numbers"]["cases"]:
        pts = c["by_point"]
        g = c["fixed_epoch_gap"][0] if c["fixed_epoch_gap"] else {}
        rows.append([c["N"], c["B"], c["last_batch"], c["expectation_vs_all_shuffles_rel_diff"],
                     all(p["expectation_etf_optimal"] is True and p["expectation_unique"] for p in pts),
                     max(abs(p["etf_value"] - p["closed_form"]) for p in pts),
                     all(p["fixed_epoch_etf_optimal"] is False for p in pts),
                     min(p["fixed_epoch_gradient_ratio"] for p in pts), g.get("etf_excess"),
                     ", ".join(fmt(x) for x in g.get("full_batch_gap", {}).values())])
    return table(["N", "B", "last batch", "expectation vs all N! shuffles (rel.)", "expectation: ETF unique optimum",
                  "max |ETF value - closed form|", "fixed epoch: ETF not optimal", "min gradient ratio",
                  "fixed epoch: ETF excess (tau 1)", "full-batch gap (eps 1e-3, 1e-4)"], rows)


CLAIM = Claim(
    "dataloader_epochs",
    "Reshuffled DataLoader epochs with a short last batch (drop_last=False, N mod B != 0) keep U = V = ETF the "
    "unique minimizer of the expected epoch objective for d >= N-1, at every tau; one fixed such epoch does not "
    "(its minimizers are full-batch sub-optimal).",
    "our derivation (weighted pair-balance law applied to samplers)", check_dataloader_epochs,
    ("tests/test_weighted_families.py::test_dataloader_expectation_is_the_average_over_all_shuffles",
     "tests/test_weighted_families.py::test_dataloader_expectation_etf_value_matches_the_mixture_closed_form"),
    {"tiny": dict(cases=((5, 2), (6, 4)), taus=(0.05, 1.0), losses=("symmetric",)), "quick": {},
     "full": dict(cases=((5, 2), (7, 3), (6, 4), (7, 2), (8, 3), (10, 4), (9, 4), (11, 4), (13, 5)), enumerate_N=8)},
    order=60, tables=dataloader_table, expected_tiny="confirmed")
