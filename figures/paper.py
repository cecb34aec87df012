"""Drawing functions (matplotlib, Agg backend). Sizes are for a one-column paper figure."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from simulations.io import read_csv, read_json  # noqa: E402

METHOD_STYLE = {"full": ("full batch (GD)", "k", "-"), "all": ("all C(N,B) (GD)", "0.45", "--"),
                "fixed": ("fixed partition", "tab:red", ":"), "shuffle": ("SGD (shuffle)", "tab:blue", "-"),
                "replace": ("SGD w/ replacement", "tab:cyan", "-."), "osgd": ("OSGD", "tab:green", "-"),
                "sc": ("SC", "tab:orange", "-")}
_META = {"png": {}, "pdf": {"CreationDate": None}}    # reproducible files: no time stamp
plt.rcParams.update({"font.size": 8, "axes.titlesize": 8, "legend.fontsize": 7, "figure.dpi": 150})


def _save(fig, out: Path, name: str) -> Path:
    d = Path(out) / "figures"
    d.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(d / f"{name}.{ext}", bbox_inches="tight", metadata=_META[ext])
    plt.close(fig)
    return d / f"{name}.png"


def fig1a(out) -> Path:
    """Paper Fig. 1(a): N = 10, d = 2, B = 2; u_1 rotated, one-sided full-batch vs all-pairs loss."""
    rows = read_csv(Path(out) / "fig1a.csv")
    th = np.array([r["angle"] for r in rows])
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    ax.plot(th, [r["full_batch"] for r in rows], label="full batch", color="k")
    ax.plot(th, [r["all_pairs"] for r in rows], label="all pairs (per-anchor norm.)", color="tab:blue")
    ax.set_xlabel(r"rotation of $u_1$ [rad]")
    ax.set_ylabel("one-sided loss")
    ax.set_title("N = 10, d = 2, B = 2: regular 10-gon, $u_1$ rotated")
    ax.legend()
    return _save(fig, out, "fig1a_rotation")


def heatmaps(out) -> Path:
    """Heatmaps of U V^T after optimisation, per method, for d = 2N and d = N/2, beside the target."""
    out = Path(out)
    folders = sorted(p for p in (out / "convergence").glob("N8_d*") if (p / "final_embeddings.npz").exists())
    if not folders:
        folders = sorted(p for p in (out / "convergence").glob("N*_d*") if (p / "final_embeddings.npz").exists())[:2]
    from simulations.train import target_gram
    panels = []
    for f in folders:
        cfg = read_json(f / "config.json")
        with np.load(f / "final_embeddings.npz") as z:
            mats = {m: z[f"{m}_s{cfg['seeds'][0]}_U"] @ z[f"{m}_s{cfg['seeds'][0]}_V"].T for m in cfg["methods"]}
        panels.append((cfg, mats, target_gram(cfg["N"], cfg["d"])))
    ncol = 1 + max(len(p[1]) for p in panels)
    fig, axes = plt.subplots(len(panels), ncol, figsize=(1.25 * ncol, 1.35 * len(panels) + 0.3), squeeze=False)
    for r, (cfg, mats, T) in enumerate(panels):
        items = [("target", T)] + list(mats.items())
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(items) or items[c][1] is None:
                ax.axis("off")
                continue
            name, M = items[c]
            im = ax.imshow(M, vmin=-1, vmax=1, cmap="RdBu_r")
            ax.set_title(name if name == "target" else METHOD_STYLE.get(name, (name,))[0], fontsize=6)
            if c == 0:
                ax.set_ylabel(f"N={cfg['N']}, d={cfg['d']}")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label=r"$u_i \cdot v_j$")
    d = out / "figures"
    d.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        fig.savefig(d / f"heatmaps.{ext}", bbox_inches="tight", metadata=_META[ext])
    plt.close(fig)
    return d / "heatmaps.png"


def convergence(out) -> Path:
    """Gram distance to the target vs gradient updates; mean over seeds with a min-max band."""
    out = Path(out)
    folders = sorted((out / "convergence").glob("N*_d*"), key=lambda p: tuple(int(x[1:]) for x in p.name.split("_")))
    folders = [f for f in folders if (f / "metrics.csv").exists()]
    ncol = 2
    nrow = (len(folders) + 1) // 2
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.8, 2.0 * nrow), squeeze=False)
    for ax, f in zip(axes.ravel(), folders):
        cfg = read_json(f / "config.json")
        rows = read_csv(f / "metrics.csv")
        for m in cfg["methods"]:
            rs = [r for r in rows if r["method"] == m]
            seeds = sorted({r["seed"] for r in rs})
            upd = np.array([r["updates"] for r in rs if r["seed"] == seeds[0]])
            D = np.array([[r["gram_distance"] for r in rs if r["seed"] == s] for s in seeds])
            lab, col, ls = METHOD_STYLE.get(m, (m, None, "-"))
            ax.plot(upd, D.mean(0), color=col, ls=ls, label=lab, lw=1)
            ax.fill_between(upd, D.min(0), D.max(0), color=col, alpha=0.15, lw=0)
        tgt = "ETF" if cfg["d"] >= cfg["N"] - 1 else "cross-polytope"
        ax.set_title(f"N={cfg['N']}, d={cfg['d']} (target: {tgt}), B={cfg['B']}, lr={cfg['lr']}")
        ax.set_xlabel("gradient updates")
        ax.set_ylabel(r"$\min_P \|Z^\star - Z\|_F$")
        ax.set_yscale("log")
    for ax in axes.ravel()[len(folders):]:
        ax.axis("off")
    axes.ravel()[0].legend(ncol=2)
    return _save(fig, out, "convergence")


def osgd_toy(out) -> Path:
    """Updates needed to reach the square (N = 4, d = 2), distribution over seeds, per method."""
    data = read_json(Path(out) / "osgd_toy.json")
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    names = list(data["updates_to_target"])
    vals = [[v if v is not None else np.nan for v in data["updates_to_target"][m]] for m in names]
    pos = np.arange(len(names))
    for p, v, m in zip(pos, vals, names):
        v = np.array(v, float)
        ok = v[np.isfinite(v)]
        ax.scatter(np.full(ok.size, p) + np.linspace(-0.15, 0.15, ok.size), ok, s=8, color=METHOD_STYLE.get(m, (m, "k"))[1])
        if ok.size:
            ax.hlines(np.median(ok), p - 0.3, p + 0.3, color="k", lw=1)
        if ok.size < v.size:
            ax.text(p, ax.get_ylim()[1] if ok.size else 1, f"{v.size - ok.size} never", ha="center", va="top", fontsize=6)
    ax.set_xticks(pos, [METHOD_STYLE.get(m, (m,))[0] for m in names], rotation=15)
    ax.set_ylabel("updates to reach the square")
    ax.set_title(f"N=4, d=2, B=2, lr={data['lr']}, {data['seeds']} seeds (bar: median)")
    return _save(fig, out, "osgd_toy")


def sc_quality(out) -> Path:
    """Approximation ratio (SC - random) / (exact - random) of the maximum-loss partition."""
    rows = read_csv(Path(out) / "sc_quality.csv")
    keys = sorted({(r["N"], r["B"]) for r in rows})
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    data = [[r["ratio"] for r in rows if (r["N"], r["B"]) == k] for k in keys]
    ax.boxplot(data, tick_labels=[f"N={n}\nB={b}" for n, b in keys])
    ax.axhline(1, color="k", lw=0.5)
    ax.axhline(0, color="k", lw=0.5, ls=":")
    ax.set_ylabel("(SC - random) / (exact - random)")
    ax.set_title("SC vs the exact max-loss partition (MILP)")
    return _save(fig, out, "sc_quality")


def claims_tables(out) -> Path:
    """The pair-balance law counts and the d < N-1 counterexample, as tables."""
    verdicts = {v["id"]: v for v in read_json(Path(out) / "verdicts.json")}
    fig, axes = plt.subplots(2, 1, figsize=(6.0, 3.6))
    for ax in axes:
        ax.axis("off")
    if "pair_balance_law" in verdicts:
        c = verdicts["pair_balance_law"]["numbers"]["counts"]
        axes[0].table(cellText=[[c["balanced_optimal"], c["balanced_not_optimal"]], [c["unbalanced_optimal"], c["unbalanced_not_optimal"]]],
                      rowLabels=["pair-balanced", "not balanced"], colLabels=["ETF optimal", "ETF not optimal"], loc="center")
        axes[0].set_title(f"Pair-balance law: {verdicts['pair_balance_law']['numbers']['families']} families "
                          f"({verdicts['pair_balance_law']['verdict']})")
    if "low_dimension_counterexample" in verdicts:
        n = verdicts["low_dimension_counterexample"]["numbers"]
        rows = [[f"{n[k]['full_batch']:.6f}", f"{n[k]['all_pairs']:.6f}", f"{n[k]['hessian_min_eig_full']:+.1e}",
                 f"{n[k]['hessian_min_eig_pairs']:+.1e}"] for k in ("regular_10gon", "doubled_pentagon")]
        axes[1].table(cellText=rows, rowLabels=["10-gon", "doubled pentagon"],
                      colLabels=["full batch", "all pairs", "Hess. min (full)", "Hess. min (pairs)"], loc="center")
        axes[1].set_title("N = 10, d = 2, B = 2: the objectives prefer different configurations")
    return _save(fig, out, "claims_tables")


FIGURES = {"fig1a_rotation": (fig1a, "fig1a.csv"), "heatmaps": (heatmaps, "convergence"),
           "convergence": (convergence, "convergence"), "osgd_toy": (osgd_toy, "osgd_toy.json"),
           "sc_quality": (sc_quality, "sc_quality.csv"), "claims_tables": (claims_tables, "verdicts.json")}


def draw_all(out) -> list[Path]:
    """Draw every figure whose results exist under ``out``; returns the PNG paths."""
    out = Path(out)
    if not out.exists():
        raise ValueError(f"results folder {out} does not exist; run `minibatch-cl reproduce --out {out}` first")
    return [fn(out) for fn, need in FIGURES.values() if (out / need).exists()]
