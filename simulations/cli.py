"""``minibatch-cl``: a thin command line over the Python API.

    minibatch-cl version
    minibatch-cl certify --N 7 --B 3 --family fano [--tau 1] [--loss symmetric] [--json]
    minibatch-cl certify --N 8 --B 4 --family all --loss siglip --tau 0.1 --bias -10   (also dcl, dhel, kcl --t --gamma)
    minibatch-cl claims [--only ID,ID] [--full] [--out DIR] [--scheduler local|sequential|tcp://H:P] [--workers K] [--json]
    minibatch-cl simulate --N 8 --d 16 --B 2 --methods full,all,fixed,shuffle,osgd,sc --steps 500 \\
                          --lr 0.5 --seeds 0,1,2 --device cpu --out runs/X [--resume] [--json]
    minibatch-cl figures --out DIR
    minibatch-cl reproduce [--quick | --full] [--device cpu] [--out DIR] [--report FILE] [--scheduler S] [--workers K] [--json]
    minibatch-cl sweep (--spec FILE | --kind certificate|simulation --N 4,6 --B 2,3 ...) --out DIR [--scheduler S] [--json]
    minibatch-cl bench {engine,certificates,exact_all,scheduler,gpu}

Every command with ``--json`` prints one JSON object on stdout. Bad arguments exit with status 2
and a message naming the parameter.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path


def _ints(s: str) -> tuple:
    try:
        return tuple(int(x) for x in s.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {s!r}") from None


def _floats(s: str) -> tuple:
    try:
        return tuple(float(x) for x in s.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {s!r}") from None


def _names(s: str) -> tuple:
    return tuple(x.strip() for x in s.split(",") if x.strip())


def _dump(obj) -> str:
    def default(o):
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return str(o)

    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o
    return json.dumps(clean(json.loads(json.dumps(obj, default=default))), indent=2)


def cmd_version(args):
    from theory import __version__
    print(_dump({"version": __version__}) if args.json else f"minibatch-cl {__version__}")


LOSS_CHOICES = ("symmetric", "one_sided", "siglip", "dcl", "dhel", "kcl")


def _add_loss_args(sp) -> None:
    sp.add_argument("--loss", default="symmetric", choices=LOSS_CHOICES,
                    help="InfoNCE (symmetric = CLIP, one_sided), siglip, dcl, dhel or kcl")
    sp.add_argument("--tau", type=float, default=None, help="temperature, default 1 (siglip: 1/t; Zhai et al. initialise "
                    "tau 0.1, bias -10)")
    sp.add_argument("--bias", type=float, default=None, help="siglip's bias (default 0)")
    sp.add_argument("--t", type=float, default=None, help="kcl's Gaussian kernel width t (default 2)")
    sp.add_argument("--gamma", type=float, default=None, help="kcl's uniformity weight (default 1)")
    sp.add_argument("--one-sided", action="store_true", help="dcl, dhel: the anchor-side term only")


def _loss_from_args(args):
    """The :class:`theory.objectives.Loss` named by the loss flags (ValueError for a flag the loss does not take)."""
    from theory.objectives import as_loss, make_loss
    extra = {k: getattr(args, k) for k in ("bias", "t", "gamma") if getattr(args, k) is not None}
    if args.loss in ("symmetric", "one_sided"):
        if extra or args.one_sided:
            bad = sorted(extra) + (["one-sided"] if args.one_sided else [])
            raise ValueError(f"--loss {args.loss} (InfoNCE) takes only --tau, got --{', --'.join(bad)}")
        return as_loss(args.loss, 1.0 if args.tau is None else args.tau)
    if args.tau is not None:
        extra["tau"] = args.tau
    if args.one_sided:
        extra["symmetric"] = False
    try:
        return make_loss(args.loss, **extra)
    except ValueError as exc:
        raise ValueError(f"--loss {args.loss}: {exc}") from None


def _cmd_certify_loss(args, fam, obj):
    """``certify`` for the losses beyond InfoNCE (:func:`theory.loss_claims.etf_check`)."""
    from theory.loss_claims import etf_check
    from theory.objectives import loss_label
    r = etf_check(args.N, fam, obj, solver=args.solver)
    c = r["certificate"]
    etf = {k: r[k] for k in ("etf_value", "excess", "etf_optimal", "decided_by")}
    extra = {"double_constant": r["double_constant"]} if "double_constant" in r else {}
    if args.json:
        print(_dump({**c.summary(), "etf": etf, **extra}))
        return
    for k, v in c.summary().items():
        print(f"{k:>15}: {v}")
    print("certified global optimum (relaxation)" if c.certified else "NOT certified: the status is not 'optimal'")
    verdict = {True: "a global minimizer", False: "NOT a minimizer", None: "undecided"}[etf["etf_optimal"]]
    print(f"{loss_label(obj)}: U = V = simplex ETF (d >= N-1) is {verdict}: L(ETF) - relaxation = {etf['excess']:.3g}")
    if extra:
        dc = extra["double_constant"]
        print(f"double-constant optimum: {dc['structure']} (lambda = {dc['lam']:.6g}, value {dc['value']:.10g}; "
              f"needs d >= {max(dc['rank'], 1)})")


def cmd_certify(args):
    from theory import Family, certify, make_family
    from theory.objectives import infonce_mode
    if args.family_file and not Path(args.family_file).is_file():
        raise ValueError(f"--family-file {args.family_file}: no such file")
    fam = Family.from_json(args.family_file) if args.family_file else make_family(args.family, args.N, args.B, seed=args.seed,
                                                                                   drop_last=args.drop_last)
    if fam.N != args.N:
        raise ValueError(f"--N {args.N} does not match the family's N = {fam.N}")
    obj = _loss_from_args(args)
    if infonce_mode(obj) is None:
        return _cmd_certify_loss(args, fam, obj)
    args.tau = obj.tau
    from theory.balance import critical_taus, is_balanced, pair_weight_spread
    from theory.certificates import etf_is_optimal
    c = certify(args.N, fam, loss=args.loss, tau=args.tau, solver=args.solver)
    crit = critical_taus(fam)
    balance = {"family": repr(fam), "balanced": is_balanced(fam, args.tau), "kappa_spread": pair_weight_spread(fam, args.tau),
               "critical_taus": crit}
    try:
        e = etf_is_optimal(args.N, fam, loss=args.loss, tau=args.tau)
        etf = {"etf_optimal": e["etf_optimal"], "decided_by": e["decided_by"], "gradient_ratio": e["gradient_ratio"],
               "c": e["c"], **({"dual_unique": e["dual"]["unique"]} if "dual" in e else {})}
    except ValueError as exc:                      # tau so small that the ETF's scale underflows: say so
        e = etf = {"etf_optimal": None, "decided_by": None, "reason": str(exc)}
    if args.json:
        print(_dump({**c.summary(), "etf": etf, "balance": balance}))
    else:
        for k, v in c.summary().items():
            print(f"{k:>15}: {v}")
        print(f"pair balance (weighted law): kappa spread {balance['kappa_spread']:.3g} at tau={args.tau:g} -> "
              f"{'balanced' if balance['balanced'] else 'unbalanced'}; balanced at tau = "
              + ("every tau" if crit == "all" else ", ".join(f"{t:.10g}" for t in crit) or "no tau"))
        print("certified global optimum (relaxation)" if c.certified else "NOT certified: the status is not 'optimal'")
        verdict = {True: "a global minimizer", False: "NOT a minimizer", None: "undecided"}[e["etf_optimal"]]
        print(f"U = V = simplex ETF (d >= N-1): {verdict} (decided by {e['decided_by']}; solver-free)"
              + (f": {e['reason']}" if "reason" in e else ""))


def _print_verdicts(verdicts):
    w = max(len(v.id) for v in verdicts)
    for v in verdicts:
        print(f"{v.id:<{w}}  {v.verdict:<12}  {v.statement[:90]}")


def cmd_claims(args):
    from .claims import check_ids, run_claims
    from .experiments import check_device
    check_device(args.device)
    only = check_ids(args.only) if args.only else None
    with _scheduler(args) as ex:
        verdicts = run_claims(only, size="full" if args.full else "quick", out=args.out, device=args.device,
                              progress=not args.json, workers=args.workers, scheduler=ex)
    if args.json:
        print(_dump({"verdicts": [v.to_json() for v in verdicts]}))
    else:
        _print_verdicts(verdicts)


def cmd_simulate(args):
    from dataclasses import fields

    from theory.objectives import infonce_mode
    from .experiments import Config, simulate
    obj = _loss_from_args(args)
    params = () if infonce_mode(obj) else tuple((f.name, getattr(obj, f.name)) for f in fields(obj) if f.name != "tau")
    cfg = Config(N=args.N, d=args.d, B=args.B, methods=args.methods, steps=args.steps, lr=args.lr, seeds=args.seeds,
                 tau=getattr(obj, "tau", 1.0), loss=args.loss, loss_params=params, device=args.device, dtype=args.dtype,
                 align=args.align,
                 log_every=args.log_every, osgd_candidates=args.osgd_candidates, osgd_top=args.osgd_top)
    with _scheduler(args) as ex:
        res = simulate(cfg, args.out, resume=args.resume, progress=not args.json, scheduler=ex)
    if args.json:
        print(_dump({"config": res["config"], "summary": res["summary"], "out": args.out}))
    else:
        print(f"{'method':<8} {'seed':>4} {'updates':>8} {'full_loss':>10} {'all_loss':>10} {'gram_dist':>10}")
        for m, seeds in res["summary"].items():
            for s, r in seeds.items():
                print(f"{m:<8} {s:>4} {r['updates']:>8} {r['full_loss']:>10.5f} {r['all_loss']:>10.5f} {r['gram_distance']:>10.4f}")
        if args.out:
            print(f"results in {args.out}")


def cmd_figures(args):
    from figures import draw_all
    paths = draw_all(args.out)
    print(_dump({"figures": [str(p) for p in paths]}) if args.json else "\n".join(map(str, paths)))


def cmd_reproduce(args):
    from .reproduce import reproduce
    with _scheduler(args) as ex:
        res = reproduce(args.out, mode="full" if args.full else "quick", device=args.device, progress=not args.json,
                        report=args.report, workers=args.workers, scheduler=ex)
    if args.json:
        print(_dump(res))


def _scheduler(args):
    """The --scheduler value, validated (and connected, for tcp://) before any work."""
    from .executor import make_executor
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    return make_executor(args.scheduler, args.workers)


def cmd_sweep(args):
    from .sweep import SweepSpec, run_sweep
    if args.spec:
        spec = SweepSpec.from_json(args.spec)
    else:
        flags = {k: getattr(args, k) for k in ("kind", "N", "B", "d", "tau", "loss", "bias", "kernel_t", "gamma", "family",
                                               "method", "lr", "seeds", "steps") if getattr(args, k) is not None}
        spec = SweepSpec(**flags, solver=not args.no_solver)
    with _scheduler(args) as ex:
        res = run_sweep(spec, args.out, scheduler=ex, progress=not args.json)
    if args.json:
        print(_dump({k: res[k] for k in ("spec", "n_tasks", "skipped", "seconds", "out")}))
    else:
        print(f"{res['n_tasks']} tasks ({len(res['skipped'])} grid points refused) in {res['seconds']:.1f} s; "
              f"table in {Path(args.out) / 'results.csv'}")


def cmd_bench(args):
    import runpy
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{args.name}.py"
    if not path.exists():
        raise ValueError(f"benchmark script {path} not found (benchmarks ship with the repository checkout)")
    if args.name == "gpu":
        import torch
        if not torch.cuda.is_available():
            raise ValueError("bench gpu needs a CUDA device; none is available on this machine")
    sys.argv = [str(path)]
    runpy.run_path(str(path), run_name="__main__")


def _scheduler_arg(sp, default="local"):
    sp.add_argument("--scheduler", default=default, help=f"where tasks run: local (a process pool), sequential (in this "
                    f"process) or tcp://HOST:PORT (a running dask.distributed scheduler); default {default}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minibatch-cl", description="Check the theory of mini-batch contrastive loss "
                                "and reproduce the synthetic experiments of Cho et al. (TMLR 2024).")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, fn, help):
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        sp.set_defaults(fn=fn)
        return sp

    add("version", cmd_version, "print the version")
    c = add("certify", cmd_certify, "global optimum of a family objective by convex relaxation")
    c.add_argument("--N", type=int, required=True)
    c.add_argument("--B", type=int, default=None)
    c.add_argument("--family", default="all", help="full, all, partition, random, fano, affine_plane, dataloader "
                   "(one seeded epoch), dataloader_expectation")
    c.add_argument("--family-file", default=None, help='JSON file {"N": .., "batches": [[..], ..], "weights": [..]} '
                   '(sizes may differ; weights optional)')
    c.add_argument("--drop-last", action="store_true", help="dataloader families: drop the short last batch")
    c.add_argument("--seed", type=int, default=None, help="seed of a random partition / random family")
    _add_loss_args(c)
    c.add_argument("--solver", default="auto", choices=["auto", "CLARABEL", "SCS"])
    c = add("claims", cmd_claims, "check every claim and print its verdict")
    c.add_argument("--only", type=_names, default=None, help="comma-separated claim ids")
    c.add_argument("--full", action="store_true", help="the full sizes of every claim (default: quick sizes)")
    c.add_argument("--device", default="cpu")
    c.add_argument("--out", default=None, help="keep the claims' results here (default: a temporary folder)")
    c.add_argument("--workers", type=int, default=None, help="local processes (default: one per core)")
    _scheduler_arg(c)
    s = add("simulate", cmd_simulate, "run the paper's synthetic optimisation experiments")
    s.add_argument("--N", type=int, required=True)
    s.add_argument("--d", type=int, required=True)
    s.add_argument("--B", type=int, default=2)
    s.add_argument("--methods", type=_names, default=("full", "all", "fixed", "shuffle", "osgd", "sc"))
    s.add_argument("--steps", type=int, default=500)
    s.add_argument("--lr", type=float, default=0.5)
    s.add_argument("--seeds", type=_ints, default=(0,))
    _add_loss_args(s)
    s.add_argument("--device", default="cpu")
    s.add_argument("--dtype", default="float64")
    s.add_argument("--align", default="epochs", help="epochs (authors' x-axis) or updates (equal update counts)")
    s.add_argument("--log-every", type=int, default=1)
    s.add_argument("--osgd-candidates", type=int, default=None)
    s.add_argument("--osgd-top", type=int, default=1)
    s.add_argument("--out", default=None)
    s.add_argument("--resume", action="store_true")
    s.add_argument("--workers", type=int, default=None, help="local processes (default: one per core)")
    _scheduler_arg(s, default="sequential")     # in process: mid-run checkpoints, so --resume continues a run
    f = add("figures", cmd_figures, "redraw every figure from the results of a reproduce run")
    f.add_argument("--out", default="reproduction")
    r = add("reproduce", cmd_reproduce, "run every claim, experiment and figure; write verdicts.json")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="small seeds/steps, under 10 minutes on 2 CPU cores (default)")
    g.add_argument("--full", action="store_true", help="the paper's sizes")
    r.add_argument("--device", default="cpu")
    r.add_argument("--out", default="reproduction")
    r.add_argument("--report", default=None, help="also write paper_reproduction.md here (figures copied beside it)")
    r.add_argument("--workers", type=int, default=None, help="local processes (default: one per core)")
    _scheduler_arg(r)
    sw = add("sweep", cmd_sweep, "a grid of certificate or simulation tasks on any scheduler; one tidy table")
    sw.add_argument("--spec", default=None, help="JSON spec file (keys: kind, N, B, d, tau, loss, bias, kernel_t, gamma, "
                    "family, method, lr, "
                    "seeds, steps, solver); flags are ignored when given")
    sw.add_argument("--kind", default=None, help="certificate (default) or simulation")
    for name, conv in (("N", _ints), ("B", _ints), ("d", _ints), ("tau", _floats), ("loss", _names), ("bias", _floats),
                       ("kernel_t", _floats), ("gamma", _floats), ("family", _names), ("method", _names), ("lr", _floats),
                       ("seeds", _ints)):
        sw.add_argument(f"--{name.replace('_', '-')}", dest=name, type=conv, default=None,
                        help="comma-separated values" + {"loss": " (symmetric, one_sided, siglip, dcl, dhel, kcl)",
                                                         "bias": " (siglip)", "kernel_t": " (kcl's t)",
                                                         "gamma": " (kcl)"}.get(name, ""))
    sw.add_argument("--steps", type=int, default=None)
    sw.add_argument("--no-solver", action="store_true", help="certificates: skip the convex relaxation")
    sw.add_argument("--out", required=True)
    sw.add_argument("--workers", type=int, default=None, help="local processes (default: one per core)")
    _scheduler_arg(sw)
    b = add("bench", cmd_bench, "run a benchmark script (engine, certificates, exact_all, gpu)")
    b.add_argument("name", choices=["engine", "certificates", "exact_all", "scheduler", "gpu"])
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.fn(args)
    except (ValueError, OSError) as exc:          # bad input, missing or unwritable files: exit 2, no traceback
        print(f"minibatch-cl {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:              # a run diverged: say so (exit 1), no traceback
        print(f"minibatch-cl {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:                      # Ctrl-C: finished tasks are on disk; say how to resume
        print(f"minibatch-cl {args.command}: interrupted; finished tasks are kept in the results folder, "
              "rerun the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
