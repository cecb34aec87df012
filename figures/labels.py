"""Figures of the label claims (SupCon, duplicated pairs, class-aware samplers), drawn from ``verdicts.json``."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .paper import _save, _verdicts, plt


def labels_supcon(out) -> Path | None:
    """(a) Full batch: how far the regular simplex lies above SupCon's certified optimum, over tau, balanced and
    imbalanced classes (0: class collapse onto the simplex is optimal). (b) All C(N,B): the certified lower bound on
    the full-batch excess of every minimizer of the family, by B (nothing drawn where it is shared)."""
    v = _verdicts(out)
    if "supcon_full_batch" not in v:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(7.0, 2.8))
    ax = axes[0]
    rows = v["supcon_full_batch"]["numbers"]["cases"]
    for (N, kind), marker in zip(sorted({(r["N"], r["classes"]) for r in rows}), "osd^v<>"):
        g = sorted([r for r in rows if (r["N"], r["classes"]) == (N, kind)], key=lambda r: r["tau"])
        ax.plot([r["tau"] for r in g], [max(r["simplex_excess"], 1e-10) for r in g], marker + "-", ms=4,
                label=f"N={N}, {kind} {tuple(g[0]['labels'])}")
    ax.set_xscale("log"), ax.set_yscale("log")
    ax.set_xlabel("tau"), ax.set_ylabel("L(simplex collapse) - certified optimum")
    ax.set_title("(a) full batch: is the simplex optimal? (floor 1e-10 = yes)")
    ax.legend(fontsize=5)
    ax = axes[1]
    if "supcon_all_batches" in v:
        cases = [r for r in v["supcon_all_batches"]["numbers"]["cases"] if not r["nonneg"]]
        for (N, kind, tau), marker in zip(sorted({(r["N"], r["classes"], r["tau"]) for r in cases}), "osd^v<>ph*"):
            g = sorted([r for r in cases if (r["N"], r["classes"], r["tau"]) == (N, kind, tau)], key=lambda r: r["B"])
            ax.plot([r["B"] for r in g], [max(r["gap_lower_bound"], 1e-10) for r in g], marker + "-", ms=4,
                    label=f"N={N}, {kind}, tau={tau:g}")
        ax.set_yscale("log")
        ax.legend(fontsize=5)
    ax.set_xlabel("B"), ax.set_ylabel("certified full-batch gap (floor 1e-10)")
    ax.set_title("(b) all C(N,B): does it share the full-batch minimizer?")
    fig.tight_layout()
    return _save(fig, out, "labels_supcon")


def labels_duplicates(out) -> Path | None:
    """The items' inner products at the certified minimizer, per multiplicity pattern and family (tau = 1 where
    swept): the simplex ETF has all of them at -1/(K-1)."""
    v = _verdicts(out)
    if "duplicates" not in v:
        return None
    rows = v["duplicates"]["numbers"]["cases"]
    taus = sorted({r["tau"] for r in rows})
    tau = 1.0 if 1.0 in taus else taus[0]
    pats = sorted({tuple(r["multiplicities"]) for r in rows})
    fig, axes = plt.subplots(1, len(pats), figsize=(3.2 * len(pats), 2.8), squeeze=False)
    for ax, m in zip(axes[0], pats):
        g = [r for r in rows if tuple(r["multiplicities"]) == m and r["tau"] == tau]
        names = [r["family"] for r in g]
        G = np.array([r["item_gram"] for r in g])
        pairs = [f"u{a}.u{b}" for a in range(len(m)) for b in range(a + 1, len(m))]
        x = np.arange(len(names))
        w = 0.8 / max(1, G.shape[1])
        for k in range(G.shape[1]):
            ax.bar(x + k * w, G[:, k], w, label=pairs[k])
        ax.axhline(-1 / (len(m) - 1), color="k", lw=0.8, ls="--", label="item ETF")
        ax.set_xticks(x + 0.4 - w / 2, names, rotation=60, ha="right", fontsize=5)
        ax.set_title(f"multiplicities {m}, tau = {tau:g}")
        ax.legend(fontsize=5)
    axes[0][0].set_ylabel("items' inner products at the optimum")
    fig.tight_layout()
    return _save(fig, out, "labels_duplicates")


def labels_partitions(out) -> Path | None:
    """Per family (partitions, samplers, batch binding): does it restore the full-batch minimizer, is its minimizer
    unique, and does it meet the batch condition (each class connected, every two classes meeting)?"""
    v = _verdicts(out)
    if "supcon_partitions" not in v:
        return None
    rows = v["supcon_partitions"]["numbers"]["cases"]
    keys = sorted({(r["classes"], r["B"], r["family"]) for r in rows})
    cones = sorted({r["nonneg"] for r in rows})
    cols = [(nn, what) for nn in cones for what in ("shares", "unique", "condition")]
    A = np.full((len(keys), len(cols)), np.nan)
    for i, key in enumerate(keys):
        for j, (nn, what) in enumerate(cols):
            g = [r for r in rows if (r["classes"], r["B"], r["family"]) == key and r["nonneg"] == nn]
            vals = [r[what] for r in g if r[what] is not None]
            if vals:
                A[i, j] = float(np.mean(vals))
    fig, ax = plt.subplots(figsize=(4.5, 0.22 * len(keys) + 1.2))
    ax.imshow(A, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cols)), [f"{w}{' (M>=0)' if nn else ''}" for nn, w in cols], rotation=40, ha="right")
    ax.set_yticks(range(len(keys)), [f"{c}, B={b}: {f}" for c, b, f in keys], fontsize=5)
    ax.set_title("SupCon families: green = yes, red = no, white = undecided")
    fig.tight_layout()
    return _save(fig, out, "labels_partitions")


#: The label figures and the results file each needs (merged into :data:`figures.FIGURES`).
LABEL_FIGURES = {"labels_supcon": (labels_supcon, "verdicts.json"),
                 "labels_duplicates": (labels_duplicates, "verdicts.json"),
                 "labels_partitions": (labels_partitions, "verdicts.json")}
