"""Drawing functions (matplotlib, Agg backend), each drawing only from the files of a results folder.

This package reads plain files (CSV, JSON) and imports neither :mod:`simulations` nor torch, so the
layers point one way: ``simulations.claims.reproduce`` calls the figures, never the reverse.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

METHOD_STYLE = {"full": ("full batch (GD)", "k", "-"), "all": ("all C(N,B) (GD)", "0.45", "--"),
                "fixed": ("fixed partition", "tab:red", ":"), "shuffle": ("SGD (shuffle)", "tab:blue", "-"),
                "replace": ("SGD w/ replacement", "tab:cyan", "-."), "dataloader": ("DataLoader epochs (drop_last=False)", "tab:purple", "-"),
                "osgd": ("OSGD", "tab:green", "-"),
                "sc": ("SC", "tab:orange", "-"), "matching": ("max-loss matching (B = 2)", "tab:olive", "-"),
                "kmeans": ("k-means batches", "tab:brown", "-"), "jest": ("JEST", "tab:pink", "-"),
                "rho": ("RHO-LOSS", "tab:gray", "-"), "sogclr": ("SogCLR", "darkred", "-")}
_META = {"png": {}, "pdf": {"CreationDate": None}}    # reproducible files: no time stamp
plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7, "figure.dpi": 150})


def _read_json(path):
    return json.loads(Path(path).read_text())


def _read_csv(path) -> list[dict]:
    """Rows with numbers parsed (int, else float); empty cells -> None; other text kept."""
    def parse(v):
        if v == "":
            return None
        for f in (int, float):
            try:
                return f(v)
            except ValueError:
                pass
        return v
    with open(path, newline="") as f:
        return [{k: parse(v) for k, v in r.items()} for r in csv.DictReader(f)]


def _save(fig, out: Path, name: str) -> Path:
    d = Path(out) / "figures"
    d.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(d / f"{name}.{ext}", bbox_inches="tight", metadata=_META[ext])
    plt.close(fig)
    return d / f"{name}.png"


def _verdicts(out) -> dict:
    p = Path(out) / "verdicts.json"
    return {v["id"]: v for v in _read_json(p)} if p.exists() else {}


def fig1a(out) -> Path:
    """Paper Fig. 1(a): N = 10, d = 2, B = 2; u_1 rotated, one-sided full-batch vs all-pairs loss,
    with the values read off the published figure marked (when the verdict is present)."""
    rows = _read_csv(Path(out) / "fig1a.csv")
    th = np.array([r["angle"] for r in rows])
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    ax.plot(th, [r["full_batch"] for r in rows], label="full batch", color="k")
    ax.plot(th, [r["all_pairs"] for r in rows], label="all pairs (per-anchor norm.)", color="tab:blue")
    v = _verdicts(out).get("fig1a_rotation")
    if v:
        ro, prec = v["numbers"]["paper_readoff"], v["numbers"]["readoff_precision"]
        for k, col in (("full_min", "k"), ("full_max", "k"), ("pairs_min", "tab:blue"), ("pairs_max", "tab:blue")):
            ax.axhspan(ro[k] - prec, ro[k] + prec, color=col, alpha=0.15, lw=0)
        ax.plot([], [], color="0.6", lw=4, alpha=0.4, label=f"read off the paper (+-{prec})")
    ax.set_xlabel(r"rotation of $u_1$ [rad]")
    ax.set_ylabel("one-sided loss")
    ax.set_title("N = 10, d = 2, B = 2: regular 10-gon, $u_1$ rotated")
    ax.legend()
    return _save(fig, out, "fig1a_rotation")


def _settings(meta):
    return [tuple(s) for s in meta["settings"]]


def _closest(values, x):
    return min(values, key=lambda v: abs(np.log(v / x)))


def convergence(out) -> Path:
    """Gram distance to the target vs gradient updates at the swept learning rate closest to 0.5:
    median over seeds with the interquartile band; every method makes the same number of updates."""
    out = Path(out)
    meta = _read_json(out / "convergence.json")
    rows = _read_csv(out / "convergence.csv")
    lr = _closest(meta["lrs"], meta["reference_lr"])
    settings = _settings(meta)
    nrow = (len(settings) + 1) // 2
    fig, axes = plt.subplots(nrow, 2, figsize=(6.8, 2.1 * nrow), squeeze=False)
    for ax, (N, d) in zip(axes.ravel(), settings):
        low = np.inf
        for m in ("fixed", "shuffle", "osgd", "sc", "full", "all"):
            m_lr = lr if m not in ("full", "all") else meta["reference_lr"]
            rs = [r for r in rows if r["N"] == N and r["d"] == d and r["method"] == m and r["lr"] == m_lr]
            if not rs:
                continue
            seeds = sorted({r["seed"] for r in rs})
            upd = np.array([r["updates"] for r in rs if r["seed"] == seeds[0]])
            D = np.array([[r["gram_distance"] for r in rs if r["seed"] == s] for s in seeds
                          if sum(r["seed"] == s for r in rs) == upd.size])
            lab, col, ls = METHOD_STYLE[m]
            q1, med, q3 = np.quantile(D, [0.25, 0.5, 0.75], axis=0)
            ax.plot(upd, med, color=col, ls=ls, lw=1, label=f"{lab}" + ("" if m_lr == lr else f" (lr {m_lr:g})"))
            ax.fill_between(upd, q1, q3, color=col, alpha=0.15, lw=0)
            if m not in ("full", "all"):
                low = min(low, float(np.min(q1)))
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(low / 2, 1e-4))            # GD references may go to 1e-16: do not let them set the scale
        tgt = "ETF" if d >= N - 1 else "cross-polytope"
        ax.set_title(f"N={N}, d={d} (target {tgt}), B=2, lr={lr:g}, {meta['seeds']} seeds")
        ax.set_xlabel("gradient updates (equal for every method)")
        ax.set_ylabel(r"$\min_P \|Z^\star - Z\|_F$")
    for ax in axes.ravel()[len(settings):]:
        ax.axis("off")
    axes.ravel()[0].legend(ncol=2)
    fig.tight_layout()
    return _save(fig, out, "convergence")


def convergence_sweep(out) -> Path:
    """Final Gram distance vs learning rate, per method and setting (median over seeds)."""
    out = Path(out)
    meta = _read_json(out / "convergence.json")
    settings = _settings(meta)
    nrow = (len(settings) + 1) // 2
    fig, axes = plt.subplots(nrow, 2, figsize=(6.8, 2.1 * nrow), squeeze=False)
    for ax, (N, d) in zip(axes.ravel(), settings):
        for k, m in enumerate(("fixed", "shuffle", "osgd", "sc")):
            med, lrs = [], []
            for lr in meta["lrs"]:
                s = meta["summary"][f"N={N},d={d},lr={lr:g}"]["methods"][m]
                if s["median_final_distance"] is None:
                    continue
                lrs.append(lr * (1 + 0.04 * (k - 1.5)))
                med.append(s["median_final_distance"])
            lab, col, _ = METHOD_STYLE[m]
            ax.plot(lrs, med, "o-", color=col, label=lab, ms=3, lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"N={N}, d={d}: median final distance after {meta['steps']} epochs")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("Gram distance to target")
    for ax in axes.ravel()[len(settings):]:
        ax.axis("off")
    axes.ravel()[0].legend()
    fig.tight_layout()
    return _save(fig, out, "convergence_sweep")


def osgd_toy(out) -> Path:
    """Updates to reach the square (N = 4, d = 2) vs learning rate, per method: median and
    interquartile range over seeds of the runs that reached it; the count that never did is written above."""
    out = Path(out)
    meta = _read_json(out / "osgd_toy.json")
    rows = _read_csv(out / "osgd_toy.csv")
    fig, ax = plt.subplots(figsize=(3.6, 2.6))
    for k, m in enumerate(("osgd", "shuffle", "replace")):
        xs, med, lo, hi = [], [], [], []
        for lr in meta["lrs"]:
            v = np.array([r["updates_to_target"] for r in rows if r["lr"] == lr and r["method"] == m
                          and r["updates_to_target"] is not None], float)
            n_all = sum(r["lr"] == lr and r["method"] == m for r in rows)
            x = lr * (1 + 0.05 * (k - 1))
            if v.size:
                q1, q2, q3 = np.quantile(v, [0.25, 0.5, 0.75])
                xs.append(x)
                med.append(q2)
                lo.append(q2 - q1)
                hi.append(q3 - q2)
            if v.size < n_all:
                ax.annotate(f"{n_all - v.size}", (x, meta["max_updates"]), fontsize=5, ha="center",
                            color=METHOD_STYLE[m][1])
        lab, col, _ = METHOD_STYLE[m]
        ax.errorbar(xs, med, yerr=[lo, hi], color=col, marker="o", ms=3, lw=1, capsize=2, label=lab)
    ax.axhline(meta["max_updates"], color="0.5", lw=0.5, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("updates to reach the square")
    ax.set_title(f"N=4, d=2, B=2 toy: {meta['seeds']} seeds per point\n(numbers at the dotted cap: runs that never reached it)")
    ax.legend()
    fig.tight_layout()
    return _save(fig, out, "osgd_toy")


def heatmaps(out) -> Path:
    """U V^T at the end of one seed per method, relabelled to best match the target; panels that did
    not reach the target (distance > 0.1) say so."""
    panels = _read_json(Path(out) / "heatmaps.json")
    ncol = 1 + max(len(p["matrices"]) for p in panels)
    fig, axes = plt.subplots(len(panels), ncol, figsize=(1.3 * ncol, 1.5 * len(panels) + 0.3), squeeze=False)
    im = None
    for r, p in enumerate(panels):
        items = [("target", None, p["target"])] + [(m["method"], m, m["Z"]) for m in p["matrices"]]
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(items) or items[c][2] is None:
                ax.axis("off")
                continue
            name, m, M = items[c]
            im = ax.imshow(np.array(M), vmin=-1, vmax=1, cmap="RdBu_r")
            if m is None:
                ax.set_title("target", fontsize=6)
            else:
                note = "" if m["converged"] else "\nnot converged"
                ax.set_title(f"{METHOD_STYLE[name][0]}, lr {m['lr']:g}\ndist {m['gram_distance']:.2g}{note}", fontsize=5,
                             color="k" if m["converged"] else "tab:red")
            if c == 0:
                ax.set_ylabel(f"N={p['N']}, d={p['d']}, seed {p['seed']}")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label=r"$u_i \cdot v_j$ (relabelled)")
    return _save(fig, out, "heatmaps")


def sc_quality(out) -> Path:
    """Approximation ratio (SC - random) / (exact - random) of the maximum-loss partition."""
    rows = _read_csv(Path(out) / "sc_quality.csv")
    keys = sorted({(r["N"], r["B"], r["d"]) for r in rows})
    fig, ax = plt.subplots(figsize=(0.6 * len(keys) + 1.6, 2.4))
    data = [[r["ratio"] for r in rows if (r["N"], r["B"], r["d"]) == k] for k in keys]
    ax.boxplot(data, tick_labels=[f"N={n}\nB={b}\nd={d}" for n, b, d in keys])
    ax.axhline(1, color="k", lw=0.5)
    ax.axhline(0, color="k", lw=0.5, ls=":")
    ax.set_ylabel("(SC - random) / (exact - random)")
    ax.set_title("SC vs the exact max-loss partition (MILP)")
    fig.tight_layout()
    return _save(fig, out, "sc_quality")


def claims_tables(out) -> Path:
    """The pair-balance law per tau, the partition's low-dimension sweep and the d < N-1 counterexample."""
    verdicts = _verdicts(out)
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 5.4))
    for ax in axes:
        ax.axis("off")
    if "pair_balance_law" in verdicts:
        n = verdicts["pair_balance_law"]["numbers"]
        cells = [[k, c["balanced_optimal"], c["balanced_not_optimal"], c["unbalanced_optimal"], c["unbalanced_not_optimal"],
                  c["undecided"]] for k, c in n["counts"].items()]
        axes[0].table(cellText=cells, colLabels=["", "balanced: optimal", "balanced: not", "unbalanced: optimal",
                                                 "unbalanced: not", "undecided"], loc="center")
        axes[0].set_title(f"Weighted pair-balance law: {n['families']} families x {len(n['taus'])} tau x "
                          f"{len(n.get('losses', ['symmetric']))} losses ({verdicts['pair_balance_law']['verdict']})")
    if "partition_suboptimal" in verdicts:
        n = verdicts["partition_suboptimal"]["numbers"]
        cells = [[r["d"], f"{r['full_best']:.6f}", f"{r['full_best_on_partition_optimal_set']:.6f}", f"{r['gap']:+.2e}"]
                 for r in n["low_dimension"]]
        axes[1].table(cellText=cells, colLabels=["d", "best full-batch loss", "best on partition's optimal set", "gap"],
                      loc="center")
        axes[1].set_title(f"Fixed partition, N = {n['low_dimension'][0]['N']}, B = 2: full-batch gap vs d (local search "
                          "evidence)")
    if "low_dimension_counterexample" in verdicts:
        n = verdicts["low_dimension_counterexample"]["numbers"]
        rows = [[f"{n[k]['full_batch']:.6f}", f"{n[k]['all_pairs']:.6f}", f"{n[k]['hessian_min_eig_full']:+.1e}",
                 f"{n[k]['hessian_min_eig_pairs']:+.1e}"] for k in ("regular_10gon", "doubled_pentagon")]
        axes[2].table(cellText=rows, rowLabels=["10-gon", "doubled pentagon"],
                      colLabels=["full batch", "all pairs", "Hess. min (full)", "Hess. min (pairs)"], loc="center")
        axes[2].set_title("N = 10, d = 2, B = 2: the objectives prefer different configurations")
    return _save(fig, out, "claims_tables")


def pair_balance(out) -> Path:
    """The weighted pair-balance law: solver excess ``L_F(ETF) - p*`` against the spread of kappa over
    sampled families (tau = 1), and example (b) over tau: the signed kappa difference crosses zero at
    the critical tau, where the excess and the gradient at the ETF vanish."""
    verdicts = _verdicts(out)
    if "pair_balance_law" not in verdicts or "figure" not in verdicts["pair_balance_law"]["numbers"]:
        return None
    n = verdicts["pair_balance_law"]["numbers"]["figure"]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.2))
    ax = axes[0]
    pts = n["excess_vs_spread"]
    floor = 1e-9
    for opt, color, label in ((True, "tab:green", "ETF certified optimal"), (False, "tab:red", "ETF not optimal")):
        sel = [p for p in pts if p["etf_optimal"] is opt and p["excess"] is not None]
        ax.scatter([max(p["spread"], 1e-17) for p in sel], [max(p["excess"], floor) for p in sel], s=10, c=color, label=label)
    ax.axhline(floor, color="0.6", lw=0.8, ls=":")
    ax.set_xscale("log"), ax.set_yscale("log")
    ax.set_xlabel("spread of kappa, (max - min) / max  (1e-17: balanced)")
    ax.set_ylabel(f"L_F(ETF) - relaxation optimum (floor {floor:g})")
    ax.set_title("Excess vs spread of kappa (tau = 1; and tau*, 1.02 tau*, 1.2 tau*\nfor families balanced at one tau*)")
    ax.legend(loc="lower right")
    ax = axes[1]
    sw = n["example_b_over_tau"]
    t = [r["tau"] for r in sw]
    ax.plot(t, [r["kappa_01_minus_kappa_03"] for r in sw], "o-", ms=3, color="tab:blue", label="kappa_01 - kappa_03")
    ax.axhline(0, color="0.5", lw=0.8)
    tstar = 4 / (3 * np.log(2))
    ax.axvline(tstar, color="0.5", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks([0.5, 1, tstar, 5], ["0.5", "1", f"{tstar:.3f}", "5"])
    ax.set_xlabel("tau")
    ax.set_ylabel("kappa difference", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(t, [max(r["excess"], floor) for r in sw], "s-", ms=3, color="tab:red", label="excess (solver)")
    ax2.plot(t, [max(r["gradient_ratio"], 1e-17) for r in sw], "^-", ms=3, color="tab:purple", label="gradient ratio")
    ax2.set_yscale("log")
    ax2.legend(loc="upper right")
    ax.set_title(f"Example (b): optimal only at tau* = 4/(3 ln 2) = {tstar:.4f}")
    fig.tight_layout()
    return _save(fig, out, "pair_balance")


def siglip_map(out) -> Path:
    """SigLIP's verdict map over (inverse temperature t = 1/tau, bias), N = 8, from the closed form of
    theory/siglip.py: (a) where the full-batch optimum sits on the ETF-antipodal edge (lambda*), with Lee et
    al.'s line bias = -t and the certified sweep points; (b, c) where the all-C(8,B) minimizer is the full
    batch's, with the certified points of the claim siglip_all_batches."""
    verdicts = _verdicts(out)
    if "siglip_all_batches" not in verdicts or "map" not in verdicts["siglip_all_batches"]["numbers"]:
        return None
    m = verdicts["siglip_all_batches"]["numbers"]["map"]
    t, b = np.array(m["t"]), np.array(m["bias"])
    Bs = sorted(m["shares"], key=int)
    fig, axes = plt.subplots(1, 1 + len(Bs), figsize=(3.3 * (1 + len(Bs)), 3.0))
    ax = axes[0]
    im = ax.pcolormesh(t, b, np.array(m["lam"]), cmap="viridis", vmin=0, vmax=1, shading="nearest")
    fig.colorbar(im, ax=ax, label="lambda* (0 = ETF, 1 = antipodal)")
    ax.plot(t, -t, "w--", lw=0.9, label="bias = -t (Lee et al.'s b = t)")
    full = verdicts.get("siglip_full_batch", {}).get("numbers", {}).get("cases", [])
    pts = [r for r in full if r["N"] == m["N"]]
    mk = {"etf": ("o", "w"), "interior": ("s", "tab:orange"), "antipodal": ("^", "tab:red")}
    for st, (marker, color) in mk.items():
        sel = [r for r in pts if r["structure"] == st and r["status"] == "optimal"]
        ax.scatter([1 / r["tau"] for r in sel], [r["bias"] for r in sel], marker=marker, s=14, c=color,
                   edgecolors="k", linewidths=0.4, label=f"certified: {st}")
    ax.set_xscale("log"), ax.set_ylim(b.min(), b.max()), ax.set_xlim(t.min(), t.max())
    ax.set_xlabel("t = 1/tau"), ax.set_ylabel("bias")
    ax.set_title(f"(a) full batch, N = {m['N']}: optimum on the ETF-antipodal edge")
    ax.legend(loc="lower left", fontsize=5)
    cases = verdicts["siglip_all_batches"]["numbers"]["cases"]
    for ax, B in zip(axes[1:], Bs):
        ax.pcolormesh(t, b, np.array(m["shares"][B], dtype=float), cmap="RdYlGn", vmin=0, vmax=1, shading="nearest")
        sel = [r for r in cases if r["N"] == m["N"] and r["B"] == int(B)]
        for sh, marker in ((True, "o"), (False, "x")):
            q = [r for r in sel if r["shares"] is sh]
            ax.scatter([1 / r["tau"] for r in q], [r["bias"] for r in q], marker=marker, s=14, c="k", linewidths=0.8,
                       label=f"certified point: {'shares' if sh else 'differs'}")
        ax.set_xscale("log"), ax.set_ylim(b.min(), b.max()), ax.set_xlim(t.min(), t.max())
        ax.set_xlabel("t = 1/tau")
        ax.set_title(f"({'bc'[Bs.index(B)]}) all C({m['N']},{B}): green = shares the full-batch minimizer")
        ax.legend(loc="lower left", fontsize=5)
    fig.tight_layout()
    return _save(fig, out, "siglip_map")


def small_batches(out) -> Path | None:
    """Left: relative gap between the all-C(N,B) and full-batch gradients against B (median over a trajectory).
    Middle: final full-batch excess over the optimum of shuffled SGD and SogCLR at each sweep point. Right: SigLIP's
    full-batch excess against B: the all-C(N,B) minimizer's (closed form) and both methods' final excess."""
    v = _verdicts(out)
    bias, sog = v.get("minibatch_gradient_bias"), v.get("sogclr_full_batch")
    if bias is None and sog is None:
        return None
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(10.2, 2.9))
    if bias is not None:
        rows = bias["numbers"]["bias_summary"]
        for lab in sorted({r["loss"] for r in rows}):
            pts = sorted((r["B"], r["median_rel_gap"]) for r in rows if r["loss"] == lab)
            a.plot([p[0] for p in pts], [max(p[1], 1e-17) for p in pts], "o-", ms=3, label=lab)
        a.set_yscale("log")
        a.set_xlabel("B")
        a.set_ylabel("|grad L_all(B) - grad L_full| / |grad L_full|")
        a.set_title("mini-batch gradient bias (median along GD)")
        a.legend(fontsize=5)
    if sog is not None:
        pts = sog["numbers"]["points"]
        x = np.arange(len(pts))
        for k, (m, col) in enumerate((("shuffle", "tab:blue"), ("sogclr", "darkred"))):
            b.bar(x + (k - 0.5) * 0.4, [max(p[f"{m}_final"] - p["full_optimum"], 1e-6) for p in pts], 0.4,
                  color=col, label=METHOD_STYLE[m][0])
        b.scatter(x, [max(p["all_minimizer_full_value"] - p["full_optimum"], 1e-6) for p in pts], marker="_", s=80,
                  color="k", label="all-C(N,B) minimizer", zorder=3)
        b.set_xticks(x, [f"{p['loss'][:3]} N={p['N']}\nB={p['B']} s{p['seed']}" for p in pts], fontsize=4)
        b.set_yscale("log")
        b.set_ylabel("final full-batch loss - optimum")
        b.set_title("small batches and the full-batch optimum")
        b.legend(fontsize=5)
    sweeps = sog["numbers"].get("excess_vs_B", []) if sog is not None else []
    floor = 1e-7
    for k, ex in enumerate(sweeps):
        lab = f"tau={ex['tau']:g} N={ex['N']}"
        c.plot([q["B"] for q in ex["curve"]], [max(q["all_minimizer_excess"], floor) for q in ex["curve"]], "-",
               color="0.45", lw=1, label=f"all-C(N,B) minimizer ({lab})" if k == 0 else None)
        for m, mk in (("shuffle", "o"), ("sogclr", "s")):
            c.scatter([r["B"] for r in ex["runs"]], [max(r[f"{m}_excess"], floor) for r in ex["runs"]], marker=mk,
                      s=12, color=METHOD_STYLE[m][1], label=f"{METHOD_STYLE[m][0]}, {ex['steps']} epochs" if k == 0 else None,
                      zorder=3)
    if sweeps:
        c.set_yscale("log")
        c.set_xlabel("B")
        c.set_ylabel(f"full-batch excess (floor {floor:g})")
        c.set_title("SigLIP: full-batch excess vs B")
        c.legend(fontsize=5)
    else:
        c.axis("off")
    fig.tight_layout()
    return _save(fig, out, "small_batches")


def selection_convergence(out) -> Path | None:
    """Full-batch excess over the optimum against gradient updates (left) and against wall seconds, selection
    included (right), for the paper's selectors and the newer ones at B = 2: median over seeds, interquartile band."""
    sel = _verdicts(out).get("selection_comparison")
    trainings = [t for t in (sel or {}).get("numbers", {}).get("trainings", []) if "trajectory" in t]
    if not trainings:
        return None
    fig, axes = plt.subplots(len(trainings), 2, figsize=(7.2, 2.8 * len(trainings)), squeeze=False)
    for (a, b), tr in zip(axes, trainings):
        for m, t in tr["trajectory"].items():
            lab, col, ls = METHOD_STYLE[m]
            paper = m in ("shuffle", "osgd", "sc")
            kw = dict(color=col, ls="-" if paper else "--", lw=1.2 if paper else 1.0)
            med = np.maximum(t["median_excess"], 1e-12)
            a.plot(t["updates"], med, label=lab + ("" if paper else " (new)"), **kw)
            a.fill_between(t["updates"], np.maximum(t["q1_excess"], 1e-12), np.maximum(t["q3_excess"], 1e-12),
                           color=col, alpha=0.1, lw=0)
            b.plot(t["median_seconds"], med, **kw)
        for ax in (a, b):
            ax.set_yscale("log")
            ax.axhline(tr["eps"], color="k", lw=0.6, ls=":")
            ax.set_ylabel("full-batch loss - optimum")
        a.set_xlabel("gradient updates")
        b.set_xlabel("wall seconds (selection + update; this machine)")
        a.set_title(f"InfoNCE N={tr['N']} d={tr['d']} tau={tr['tau']:g} B=2 lr={tr['lr']:g}, {len(tr['seeds'])} seeds")
        b.set_title("at equal compute (dotted: eps)")
        a.legend(fontsize=5, ncol=2)
    fig.tight_layout()
    return _save(fig, out, "selection_convergence")


FIGURES = {"fig1a_rotation": (fig1a, "fig1a.csv"), "heatmaps": (heatmaps, "heatmaps.json"),
           "convergence": (convergence, "convergence.json"), "convergence_sweep": (convergence_sweep, "convergence.json"),
           "osgd_toy": (osgd_toy, "osgd_toy.json"), "sc_quality": (sc_quality, "sc_quality.csv"),
           "claims_tables": (claims_tables, "verdicts.json"), "pair_balance": (pair_balance, "verdicts.json"),
           "siglip_map": (siglip_map, "verdicts.json"), "small_batches": (small_batches, "verdicts.json"),
           "selection_convergence": (selection_convergence, "verdicts.json")}


def draw_all(out) -> list[Path]:
    """Draw every figure whose results exist under ``out``; returns the PNG paths.

    Raises ValueError if ``out`` does not exist or holds none of the results any figure needs.
    """
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"results folder {out} does not exist; run `minibatch-cl reproduce --out {out}` first")
    todo = [fn for fn, need in FIGURES.values() if (out / need).exists()]
    if not todo:
        raise ValueError(f"results folder {out} holds no results to draw (expected any of "
                         f"{sorted({need for _, need in FIGURES.values()})}); run `minibatch-cl reproduce --out {out}`")
    return [p for p in (fn(out) for fn in todo) if p is not None]
