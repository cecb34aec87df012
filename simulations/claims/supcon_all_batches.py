"""Claim supcon_all_batches: does the SupCon objective over all C(N,B) batches share the full-batch minimizer?
Balanced and imbalanced classes, with and without non-negative features, certified."""
from __future__ import annotations

from theory import Family, SupCon
from theory.certificates import certify

from simulations.claims import LABELS, Claim
from simulations.claims._labels import LABEL_SETS, shares_full, spread_about
from simulations.claims._tables import count, extent, grouped, table
from simulations.claims._verdict import Verdict, verdict_over_sweep


def check_supcon_all_batches(cases=((6, 2), (6, 3), (6, 4)), kinds=("balanced", "imbalanced"), taus=(0.5, 1.0, 2.0),
                             nonneg=(False, True), directions: int = 1) -> Verdict:
    """Does SupCon's all-C(N,B) objective share the full-batch minimizer (Cho et al. Thm. 4, arXiv v1's question for SupCon)?

    For each (N, B), class sizes, tau and feature cone (any, or M >= 0): is some minimizer of the all-C(N,B)
    objective a full-batch minimizer (:func:`simulations.claims._labels.shares_full`), and is the family's minimizer
    unique (spread probe about it, :func:`simulations.claims._labels.spread_about`)? A point holds when both; a gap
    test or probe that does not decide leaves it undecided.

    Parameters
    ----------
    cases : tuple of (N, B), default=((6, 2), (6, 3), (6, 4))
        Numbers of pairs (keys of :data:`simulations.claims._labels.LABEL_SETS`) and batch sizes.
    kinds : tuple of str, default=('balanced', 'imbalanced')
        Class sizes, as named in ``LABEL_SETS[N]``.
    taus : tuple of float, default=(0.5, 1.0, 2.0)
        Temperatures.
    nonneg : tuple of bool, default=(False, True)
        Feature cones swept: free features, and ``M >= 0`` entrywise (non-negative, e.g. ReLU, features).
    directions : int, default=1
        Random directions of the uniqueness probe.

    Returns
    -------
    Verdict
        The claim's verdict with its numbers (every sweep point under ``cases``) and the reasoning.

    Raises
    ------
    KeyError
        An ``N`` or a kind not in ``LABEL_SETS``.
    """
    rows, holds = [], {}
    for N, B in cases:
        fam = Family.all(N, B)
        for kind in kinds:
            y = LABEL_SETS[N][kind]
            for tau in taus:
                L = SupCon(y, tau)
                for nn in nonneg:
                    full = certify(Family.full(N), L, nonneg=nn)
                    d = shares_full(fam, L, nonneg=nn, full=full)
                    unique, spread = spread_about(fam, L, d["family_M"], d["family_value"], nonneg=nn,
                                                 directions=directions)
                    label = f"N={N},B={B},{kind},tau={tau:g}" + (",M>=0" if nn else "")
                    rows.append({"N": N, "B": B, "classes": kind, "labels": list(y), "tau": tau, "nonneg": nn,
                                 "shares": None if d["suboptimal"] is None else not d["suboptimal"],
                                 "gap_lower_bound": d["gap_lower_bound"],
                                 "full_minimizer_excess_on_family": d["full_minimizer_excess_on_family"],
                                 "margin": d["margin"], "family_value": d["family_value"], "full_value": d["full_value"],
                                 "unique": unique, "spread": spread})
                    holds[label] = None if d["suboptimal"] is None or (not d["suboptimal"] and unique is None) else \
                        bool(not d["suboptimal"] and unique)
    verdict, _, bad = verdict_over_sweep(holds)
    imb = [r for r in rows if r["classes"] != "balanced" and not r["nonneg"] and len(set(r["labels"])) >= 3]
    imb2 = [r for r in rows if r["classes"] != "balanced" and not r["nonneg"] and len(set(r["labels"])) == 2]
    two = ("" if not imb2 else
           f" With 2 imbalanced classes ({sorted({tuple(r['labels']) for r in imb2})}) the all-C(N,B) objective "
           f"shares the full-batch minimizer (the antipodal pair) at {sum(r['shares'] is True for r in imb2)} of "
           f"{len(imb2)} points.")
    return Verdict("supcon_all_batches", verdict, {"cases": rows, "holds_for": [k for k, v in holds.items() if v],
                                                   "fails_for": bad},
                   f"Swept (N, B) in {[list(c) for c in cases]}, classes {list(kinds)}, tau in {list(taus)}, features "
                   "free and M >= 0. Balanced classes: every all-C(N,B) objective shares the full-batch minimizer (class "
                   "collapse onto the simplex), unique by the probe. Imbalanced classes (C >= 3) without the sign "
                   "constraint: it "
                   "does not; every minimizer of the all-batches objective is full-batch sub-optimal by at least "
                   f"{min((r['gap_lower_bound'] for r in imb), default=float('nan')):.2e} (certified lower bound, "
                   "'gap_lower_bound'): the equivalence of all C(N,B) with the full batch (Cho et al., Thm. 4 of arXiv v1, for "
                   "InfoNCE) fails for SupCon with unequal classes, because a batch sees a class's share of positives "
                   "in proportions that depend on B." + two +
                   " With M >= 0 the orthogonal frame minimises both, balanced or not. "
                   "Certified for d >= the minimizer's rank (C - 1 free, C under M >= 0); below it the relaxation is "
                   "only a lower bound.")


def supcon_all_batches_table(v: dict) -> list[str]:
    """The claim's summary table in the report (the rows of its full sweep are in its CSV file).

    Parameters
    ----------
    v : dict
        The claim's verdict record (as in ``verdicts.json``).

    Returns
    -------
    list of str
        Markdown lines.
    """
    rows = v["numbers"]["cases"]
    head, body = grouped(rows, ("classes", "nonneg", "N", "B"), [
        ("points", len), ("shares the full-batch minimizer", lambda g: count(r["shares"] for r in g)),
        ("unique", lambda g: count(r["unique"] for r in g)),
        ("full-batch gap (lower bound)", lambda g: extent(r["gap_lower_bound"] for r in g))])
    return ["Per class sizes, feature cone (nonneg: M >= 0) and (N, B), over tau:", ""] + table(head, body)


CLAIM = Claim(
    "supcon_all_batches",
    "SupCon over all C(N,B) batches shares the full-batch minimizer (the paper's all-batches theorem, asked for the "
    "supervised contrastive loss), for balanced and imbalanced classes.",
    "Cho et al. Thm. 4, arXiv v1's question for SupCon; answer: certified here", check_supcon_all_batches,
    ("tests/test_labels.py::test_supcon_all_batches_shares_the_minimizer_only_for_balanced_classes",),
    {"tiny": dict(cases=((6, 3),), taus=(1.0,), nonneg=(False,)), "quick": {},
     "full": dict(cases=((4, 2), (4, 3), (6, 2), (6, 3), (6, 4), (8, 2), (8, 4), (8, 6)),
                  taus=(0.25, 0.5, 1.0, 2.0, 5.0),
                  directions=2)},
    section=LABELS, order=310, tables=supcon_all_batches_table,
    expected_tiny="qualified", expected_fails_tiny=("N=6,B=3,imbalanced,tau=1",))
