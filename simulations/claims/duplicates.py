"""Claim duplicates: InfoNCE with duplicated (tied) pairs. The full-batch minimizer is the simplex ETF of the
items when every item has the same multiplicity and not otherwise; all C(N,B) batches share the full-batch
minimizer only in the equal case; a sampler that puts at most one copy of an item in a batch, uniformly over
items (m-per-class with items as classes, m = 1), restores the item ETF."""
from __future__ import annotations

import numpy as np

from theory import Family, InfoNCE, objective
from theory.certificates import certify
from theory.configurations import item_etf

from simulations.claims import LABELS, Claim
from simulations.claims._labels import shares_full, spread_about, stacked_gram
from simulations.claims._tables import count, extent, grouped, table
from simulations.claims._verdict import Verdict, solver_close, verdict_over_sweep


def ties_of(m) -> tuple:
    """``ties`` with item ``k`` repeated ``m[k]`` times, items in order: ``(3, 2, 1)`` gives ``(0, 0, 0, 1, 1, 2)``.

    Parameters
    ----------
    m : sequence of int
        ``m[k]``: the multiplicity of item ``k`` (each >= 1 for valid ties).

    Returns
    -------
    tuple of int
        Of length ``N = sum(m)``.
    """
    return tuple(int(k) for k in np.repeat(np.arange(len(m)), m))


def item_gram(M: np.ndarray, ties) -> list:
    """The items' inner products ``<u_k, u_l>`` (``k < l``) read from ``M`` at each item's first copy.

    With ``f_k`` the first pair of item ``k``, the entries ``M[f_k, f_l]`` of the ``U`` block, in the order
    ``(0, 1), (0, 2), ..., (1, 2), ...``.

    Parameters
    ----------
    M : ndarray, shape (2N, 2N)
        Stacked Gram ``[U; V][U; V]^T`` over the ``N`` pairs (a certificate's ``M``).
    ties : sequence of int
        ``ties[i]``: the item pair ``i`` is a copy of, items ``0 .. K-1`` each used.

    Returns
    -------
    list of float
        ``K (K - 1) / 2`` inner products.
    """
    first = [list(ties).index(k) for k in range(max(ties) + 1)]
    return [float(M[a, b]) for i, a in enumerate(first) for b in first[i + 1:]]


def check_duplicates(multiplicities=((2, 2, 2), (3, 2, 1), (4, 1, 1)), taus=(0.5, 1.0, 2.0), all_Bs=(2, 3, 4),
                     sampler_Bs=(2, 3), directions: int = 1) -> Verdict:
    """InfoNCE with duplicated pairs: where is the simplex ETF of the items optimal, and where does a family share
    the full-batch minimizer?

    For each multiplicity pattern and tau (InfoNCE, ties through :func:`theory.certify`): (1) is the full-batch
    minimizer the item ETF (certified value against the oracle at the ETF, uniqueness probe)? (2) does each
    all-C(N,B) family share the full-batch minimizer (:func:`simulations.claims._labels.shares_full`)? (3) is the
    item ETF the minimizer of the no-duplicates family and of m-per-class with items as classes, m = 1?
    The full batch holds when the item ETF is optimal exactly for equal multiplicities (and unique where it is);
    a sampler holds when the item ETF is its unique minimizer; an all-C(N,B) point records whether it shares.
    A relaxation that is not certified, or a probe that does not decide, leaves the point undecided.

    Parameters
    ----------
    multiplicities : tuple of tuple of int, default=((2, 2, 2), (3, 2, 1), (4, 1, 1))
        Multiplicity patterns (items' copy counts, :func:`ties_of`).
    taus : tuple of float, default=(0.5, 1.0, 2.0)
        Temperatures.
    all_Bs : tuple of int, default=(2, 3, 4)
        Batch sizes of the all-C(N,B) families (those ``< N``).
    sampler_Bs : tuple of int, default=(2, 3)
        Batch sizes of the no-duplicates and m-per-class families (those ``<= K``).
    directions : int, default=1
        Random directions of the uniqueness probe
        (:func:`simulations.claims._labels.spread_about`).

    Returns
    -------
    Verdict
        The claim's verdict with its numbers (every sweep point under ``cases``) and the reasoning.
    """
    rows, holds = [], {}
    for m in multiplicities:
        t = ties_of(m)
        N, K = len(t), len(m)
        W = item_etf(t)
        Mref = stacked_gram(W[list(t)])
        equal = len(set(m)) == 1
        for tau in taus:
            L = InfoNCE(tau)
            full = certify(Family.full(N), L, ties=t)
            fams = [("full", Family.full(N))] + [(f"all B={B}", Family.all(N, B)) for B in all_Bs if B < N] \
                + [(f"no_duplicates B={B}", Family.no_duplicates(t, B)) for B in sampler_Bs if B <= K] \
                + [(f"m_per_class(m=1) B={B}", Family.m_per_class(t, 1, B)) for B in sampler_Bs if B <= K]
            for name, fam in fams:
                c = full if name == "full" else certify(fam, L, ties=t)
                etf_value = objective(W, W, fam, L, ties=t)
                etf = bool(c.certified and solver_close(c.value, etf_value))
                unique, spread = spread_about(fam, L, Mref if etf else c.M, c.value, ties=t, directions=directions)
                r = {"multiplicities": list(m), "N": N, "K": K, "tau": tau, "family": name, "certificate": c.value,
                     "status": c.status, "etf_value": etf_value, "etf_excess": etf_value - c.value, "item_etf": etf,
                     "unique": unique, "spread": spread, "item_gram": item_gram(c.M, t), "rank": c.rank}
                label = f"m={'-'.join(map(str, m))},tau={tau:g},{name}"
                if name.startswith("all"):
                    d = shares_full(fam, L, ties=t, full=full)
                    r.update(shares=None if d["suboptimal"] is None else not d["suboptimal"],
                             gap_lower_bound=d["gap_lower_bound"])
                    holds[label + " shares"] = r["shares"]
                elif name == "full":
                    holds[label + " item ETF"] = None if not c.certified else bool(etf == equal and (unique or not etf))
                else:
                    holds[label + " item ETF"] = None if not c.certified or (etf and unique is None) else \
                        bool(etf and unique)
                rows.append(r)
    verdict, _, bad = verdict_over_sweep(holds)
    nodup = [r for r in rows if r["family"].startswith("no_duplicates")]
    nodup_etf = sorted({"-".join(map(str, r["multiplicities"])) + f" {r['family'].split()[-1]}" for r in nodup
                        if r["item_etf"]})
    nodup_not = sorted({"-".join(map(str, r["multiplicities"])) + f" {r['family'].split()[-1]}" for r in nodup
                        if not r["item_etf"]})
    ex = [r for r in rows if r["multiplicities"] == [3, 2, 1] and r["tau"] == 1.0 and r["family"] in ("full", "all B=3")]
    shown = "; ".join(f"{r['family']}: " + ", ".join(f"{x:.3f}" for x in r["item_gram"]) for r in ex)
    return Verdict("duplicates", verdict, {"cases": rows, "holds_for": [k for k, v in holds.items() if v],
                                           "fails_for": bad},
                   f"Swept multiplicities {[list(m) for m in multiplicities]}, tau in {list(taus)}. Full batch: the item "
                   "simplex ETF is the (unique, by the probe) minimizer exactly when the multiplicities are equal; "
                   "unequal multiplicities pull the items apart unevenly"
                   + (f" (items' inner products at m = 3-2-1, tau = 1: {shown})" if shown else "") + ". All C(N,B): "
                   "shares the full-batch minimizer for equal multiplicities and not for unequal ones (a certified "
                   "positive gap). Samplers: m-per-class with items as classes and m = 1 (uniform items, one copy each) "
                   "has the item ETF as its unique minimizer at every point (its objective is InfoNCE's all-C(K,B) over "
                   "the items, Cho et al. Thm. 4, arXiv v1), so it restores the de-duplicated optimum, not the full batch's with "
                   "duplicates. The no-duplicates family (uniform over duplicate-free batches) weights each set of "
                   "items by the product of their multiplicities: its minimizer is the item ETF at "
                   f"{nodup_etf or 'no point'} (per multiplicities and B; with B = K every batch holds every item) "
                   f"and not at {nodup_not or 'any point'}. Certified for d >= K - 1 (the item ETF's rank).")


def multiplicities(r) -> str:
    """A row's multiplicity pattern, e.g. ``'3-2-1'`` (a grouping key of :func:`duplicates_table`).

    Parameters
    ----------
    r : dict
        A row of the verdict's ``cases``, with key ``'multiplicities'``.

    Returns
    -------
    str
    """
    return "-".join(map(str, r["multiplicities"]))


def duplicates_table(v: dict) -> list[str]:
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
    head, body = grouped(rows, (multiplicities, "family"), [
        ("points", len), ("item ETF optimal", lambda g: count(r["item_etf"] for r in g)),
        ("unique", lambda g: count(r["unique"] for r in g)),
        ("ETF excess", lambda g: extent(r["etf_excess"] for r in g)),
        ("shares full batch", lambda g: count(r["shares"] for r in g) if "shares" in g[0] else "")])
    return ["Per multiplicity pattern and family (over tau): is the item ETF the certified minimizer, and does an "
            "all-C(N,B) family share the full-batch minimizer:", ""] + table(head, body)


CLAIM = Claim(
    "duplicates",
    "InfoNCE with duplicated pairs (tied embeddings): the full-batch minimizer is the simplex ETF of the distinct "
    "items only for equal multiplicities, all C(N,B) shares it only then, and one-copy-per-item sampling restores "
    "the item ETF.",
    "our derivation, certified", check_duplicates,
    ("tests/test_labels.py::test_tied_relaxation_agrees_with_an_independent_relaxation_over_items",
     "tests/test_labels.py::test_tied_full_batch_and_all_batches_reproduce_the_unequal_item_grams"),
    {"tiny": dict(multiplicities=((2, 2, 2), (3, 2, 1)), taus=(1.0,), all_Bs=(3,), sampler_Bs=(2,)),
     "quick": dict(taus=(0.5, 1.0), all_Bs=(2, 3)),
     "full": dict(multiplicities=((2, 2, 2), (3, 2, 1), (4, 1, 1), (3, 3), (2, 2, 2, 2), (4, 2, 1, 1), (3, 3, 2)),
                  taus=(0.25, 0.5, 1.0, 2.0, 5.0), all_Bs=(2, 3, 4, 6), sampler_Bs=(2, 3, 4), directions=2)},
    figure="labels_duplicates", section=LABELS, order=330, tables=duplicates_table, expected_tiny="qualified",
    expected_fails_tiny=("m=3-2-1,tau=1,all B=3 shares", "m=3-2-1,tau=1,no_duplicates B=2 item ETF"))
