"""Claim supcon_partitions: SupCon under partitions and class-aware samplers, and batch binding. When does a family
restore the full-batch minimizer, and its uniqueness? With M >= 0, checked against Kini et al.'s batch conditions
(as we read them)."""
from __future__ import annotations

import numpy as np

from theory import Family, SupCon, objective
from theory.certificates import certify
from theory.configurations import class_collapse, orthogonal_frame

from simulations.claims import LABELS, Claim
from simulations.claims._labels import LABEL_SETS, class_graph_condition, shares_full, spread_about
from simulations.claims._tables import count, extent, grouped, table
from simulations.claims._verdict import Verdict, solver_close, verdict_over_sweep


def class_mixed_partition(labels, B: int) -> Family:
    """The pairs sorted by class and dealt round-robin into ``n = N // B`` batches.

    With ``o`` the pairs in (stable) class order, batch ``k`` is ``{o_k, o_{k+n}, o_{k+2n}, ...}``: consecutive
    members of a class land in different batches, so each batch holds as few same-class pairs as the class sizes
    allow. Labels ``(0, 0, 1, 1, 2, 2)`` with ``B = 2`` give ``{0, 3}, {1, 4}, {2, 5}``.

    Parameters
    ----------
    labels : sequence of int
        ``labels[i]``: the class of pair ``i``.
    B : int
        Batch size, >= 1, dividing ``N = len(labels)`` (otherwise the ``n`` batches differ in size and do not
        have size ``B``; ``B > N / 2`` gives the one batch ``[N]``).

    Returns
    -------
    Family
        A partition of ``[N]`` (``kind='partition'``).

    Raises
    ------
    ValueError
        ``B > N`` (no batch) or batches of one pair (``N // B = N``), refused by :meth:`theory.Family.from_batches`.
    """
    y = np.asarray(labels)
    order = np.argsort(y, kind="stable")
    n = len(y) // B
    return Family.from_batches([np.sort(order[k::n]) for k in range(n)], len(y), kind="partition")


def class_pure_partition(labels, B: int) -> Family | None:
    """Each class cut into consecutive batches of ``B`` pairs: every batch holds one class only.

    Parameters
    ----------
    labels : sequence of int
        ``labels[i]``: the class of pair ``i``.
    B : int
        Batch size, >= 2.

    Returns
    -------
    Family or None
        A partition of ``[N]`` (``kind='partition'``), classes in increasing order; None unless ``B`` divides every
        class size.

    Raises
    ------
    ValueError
        ``B = 1`` (batches of one pair, refused by :meth:`theory.Family.from_batches`).
    """
    y = np.asarray(labels)
    rows = []
    for c in sorted(set(y.tolist())):
        members = np.flatnonzero(y == c)
        if len(members) % B:
            return None
        rows += list(members.reshape(-1, B))
    return Family.from_batches(rows, len(y), kind="partition")


def families(labels, B: int) -> list:
    """The families swept for labels ``labels`` and batch size ``B``, each with its display name.

    In order: the class-mixed partition (:func:`class_mixed_partition`); the class-pure partition
    (:func:`class_pure_partition`, when ``B`` divides every class size); the exact laws of the class-aware
    samplers :meth:`theory.Family.class_pure` (when some class has ``>= B`` members),
    :meth:`theory.Family.m_per_class` with ``m = 2`` (``B`` even and ``>= B/2`` classes of ``>= 2`` members) and
    :meth:`theory.Family.class_balanced` (``C`` divides ``B`` and every class has ``>= B/C`` members); and batch
    binding (:meth:`theory.Family.batch_binding`: the last pair of each class added to every batch of the
    class-mixed partition).

    Parameters
    ----------
    labels : sequence of int
        ``labels[i]``: the class of pair ``i``, classes numbered ``0 .. C-1`` (as in
        :data:`simulations.claims._labels.LABEL_SETS`).
    B : int
        Batch size, dividing ``N = len(labels)``, with ``2 <= B <= N / 2``.

    Returns
    -------
    list of (str, Family)
    """
    y = np.asarray(labels)
    C = len(set(y.tolist()))
    out = [("class-mixed partition", class_mixed_partition(y, B))]
    pure = class_pure_partition(y, B)
    if pure is not None:
        out.append(("class-pure partition", pure))
    sizes = np.bincount(y)
    if sizes.max() >= B:
        out.append((f"class_pure B={B}", Family.class_pure(y, B)))
    if B % 2 == 0 and (sizes >= 2).sum() >= B // 2:
        out.append((f"m_per_class m=2 B={B}", Family.m_per_class(y, 2, B)))
    if B % C == 0 and sizes.min() >= B // C:
        out.append((f"class_balanced B={B}", Family.class_balanced(y, B)))
    bound = [int(np.flatnonzero(y == c)[-1]) for c in range(C)]
    out.append((f"batch_binding {bound}", Family.batch_binding(class_mixed_partition(y, B), bound)))
    return out


def check_supcon_partitions(Ns=(6,), kinds=("balanced", "imbalanced"), Bs=(2, 3), taus=(1.0,), nonneg=(False, True),
                            directions: int = 1) -> Verdict:
    """SupCon under partitions, class-aware samplers and batch binding: which families restore the full-batch
    minimizer as their unique minimizer?

    For each family of :func:`families`: the certified optimum, whether the full-batch minimizer is among its
    minimizers (:func:`simulations.claims._labels.shares_full`) and whether the family's minimizer is unique
    (probe); with ``M >= 0``, whether the orthogonal frame attains the optimum and whether uniqueness matches our
    reading of Kini et al.'s conditions (each class connected by co-occurrence, every two classes meeting in a
    batch, :func:`simulations.claims._labels.class_graph_condition`). A point holds when the family restores the
    full-batch minimizer as its unique minimizer; the agreement with the condition is reported, not part of the
    verdict. ``B`` not dividing ``N`` is skipped.

    Parameters
    ----------
    Ns : tuple of int, default=(6,)
        Numbers of pairs (keys of :data:`simulations.claims._labels.LABEL_SETS`).
    kinds : tuple of str, default=('balanced', 'imbalanced')
        Class sizes, as named in ``LABEL_SETS[N]``.
    Bs : tuple of int, default=(2, 3)
        Batch sizes.
    taus : tuple of float, default=(1.0,)
        Temperatures.
    nonneg : tuple of bool, default=(False, True)
        Feature cones swept: free features, and ``M >= 0`` entrywise.
    directions : int, default=1
        Random directions of the uniqueness probe (:func:`simulations.claims._labels.spread_about`).

    Returns
    -------
    Verdict
        The claim's verdict with its numbers (every sweep point under ``cases``, the condition's agreement under
        ``kini_condition_agrees`` and ``free_condition_agrees``) and the reasoning.

    Raises
    ------
    KeyError
        An ``N`` or a kind not in ``LABEL_SETS``.

    References
    ----------
    Kini et al., "Symmetric Neural-Collapse Representations with Supervised Contrastive Loss: The Impact of ReLU
    and Batching", ICLR 2024, Sec. 5 (batch conditions and batch binding, for the single-modality loss).
    """
    rows, holds, kini, free = [], {}, {}, {}
    for N in Ns:
        for kind in kinds:
            y = LABEL_SETS[N][kind]
            X, O = class_collapse(y), orthogonal_frame(y)
            for tau in taus:
                L = SupCon(y, tau)
                fulls = {nn: certify(Family.full(N), L, nonneg=nn) for nn in nonneg}
                for B in Bs:
                    if N % B:
                        continue
                    for name, fam in families(y, B):
                        cond = class_graph_condition(fam, y)
                        for nn in nonneg:
                            d = shares_full(fam, L, nonneg=nn, full=fulls[nn])
                            unique, spread = spread_about(fam, L, d["family_M"], d["family_value"], nonneg=nn,
                                                         directions=directions)
                            ref = O if nn else X
                            ref_value = objective(ref, ref, fam, L)
                            r = {"N": N, "classes": kind, "labels": list(y), "tau": tau, "B": B, "family": name,
                                 "nonneg": nn, "certificate": d["family_value"], "status": d["family_status"],
                                 "reference": "orthogonal frame" if nn else "simplex collapse",
                                 "reference_value": ref_value,
                                 "reference_optimal": bool(d["family_status"] == "optimal"
                                                           and solver_close(d["family_value"], ref_value)),
                                 "shares": None if d["suboptimal"] is None else not d["suboptimal"],
                                 "gap_lower_bound": d["gap_lower_bound"], "unique": unique, "spread": spread, **cond}
                            rows.append(r)
                            label = f"N={N},{kind},tau={tau:g},{name}" + (",M>=0" if nn else "")
                            holds[label] = None if r["shares"] is None or (r["shares"] and unique is None) else \
                                bool(r["shares"] and unique)
                            if nn and unique is not None:
                                kini[label] = bool(unique == cond["condition"])
                            if not nn and holds[label] is not None:
                                free[label] = bool(holds[label] == cond["condition"])
    verdict, _, bad = verdict_over_sweep(holds)
    example = [r for r in rows if r["labels"] == [0, 0, 1, 1, 2, 2] and r["family"] == "class-mixed partition"
             and r["tau"] == 1.0 and r["B"] == 2 and not r["nonneg"]]
    quoted = (f" The class-mixed partition of (0,0,1,1,2,2) at tau = 1, B = 2: optimum {example[0]['certificate']:.6f} "
              f"against {example[0]['reference_value']:.6f} at class collapse." if example else "")
    agree = sum(kini.values())
    return Verdict("supcon_partitions", verdict,
                   {"cases": rows, "holds_for": [k for k, v in holds.items() if v], "fails_for": bad,
                    "kini_condition_agrees": kini, "free_condition_agrees": free},
                   f"Swept N in {list(Ns)}, classes {list(kinds)}, B in {list(Bs)}, tau in {list(taus)}, free features "
                   "and M >= 0, over partitions, the class-aware samplers' exact laws and batch binding. Without the "
                   "sign constraint, whether a family restores the full-batch minimizer as its unique minimizer is "
                   "predicted by the condition (batches connect each class and join every two classes) at "
                   f"{sum(free.values())} of {len(free)} decided points ('free_condition_agrees'); the exceptions, "
                   f"{[k for k, v in free.items() if not v] or 'none'}, show it is neither necessary (one pair per "
                   "class in every batch collapses the classes by repulsion alone) nor sufficient (with imbalanced "
                   "classes batch binding gives a unique minimizer that is not the full batch's). The class-mixed "
                   "partition does not restore it (same-class pairs that never share a batch are not pulled "
                   "together)."
                   + quoted + " With M >= 0 the "
                   "orthogonal frame attains every family's optimum, but it is the unique minimizer only where the "
                   f"batches connect each class and join every two classes: uniqueness matches that condition at "
                   f"{agree} of {len(kini)} points ('kini_condition_agrees', the condition as we read Kini et al., "
                   "ICLR 2024, Sec. 5; their loss is the single-modality form, ours the two-modality one). Batch "
                   "binding meets the condition by construction.")


def supcon_partitions_table(v: dict) -> list[str]:
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
    head, body = grouped(rows, ("classes", "nonneg", "B", "family"), [
        ("points", len), ("reference optimal", lambda g: count(r["reference_optimal"] for r in g)),
        ("shares full batch", lambda g: count(r["shares"] for r in g)),
        ("unique", lambda g: count(r["unique"] for r in g)),
        ("condition (connected, classes meet)", lambda g: count(r["condition"] for r in g)),
        ("gap", lambda g: extent(r["gap_lower_bound"] for r in g))])
    return ["Per class sizes, feature cone (nonneg: M >= 0) and family (reference: simplex collapse, or the orthogonal "
            "frame under M >= 0):", ""] + table(head, body)


CLAIM = Claim(
    "supcon_partitions",
    "SupCon under partitions and class-aware samplers: a family restores the full-batch minimizer (and its "
    "uniqueness) when its batches connect each class and join every two classes, e.g. batch binding (Kini et al., "
    "ICLR 2024, for M >= 0); asked here also without the sign constraint.",
    "Kini et al. 2024 Sec. 5 (M >= 0); the free-feature case: certified here", check_supcon_partitions,
    ("tests/test_labels.py::test_supcon_partition_optimum_reproduces_the_class_mixed_gap",),
    {"tiny": dict(kinds=("balanced",), Bs=(2,), nonneg=(False,)), "quick": {},
     "full": dict(Ns=(6, 8), Bs=(2, 3, 4), taus=(0.5, 1.0, 2.0), directions=2)},
    figure="labels_partitions", section=LABELS, order=320, tables=supcon_partitions_table, expected_tiny="qualified")
