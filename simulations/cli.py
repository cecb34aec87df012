"""``minibatch-cl``: a thin command line over the Python API.

::

    minibatch-cl version
    minibatch-cl certify --N 7 --B 3 --family fano [--loss infonce] [--tau 1] [--json]
    minibatch-cl certify --N 8 --B 4 --family all --loss siglip --tau 0.1 --bias -10   (also dcl, dhel, kcl --t --gamma)
    minibatch-cl certify --family-file F.json --plugin my_loss.py --loss my_loss --loss-param margin=0.2
    minibatch-cl claims [--only ID,ID] [--full] [--out DIR] [--scheduler local|sequential|tcp://H:P] [--workers K] [--json]
    minibatch-cl simulate --N 8 --d 16 --B 2 --methods full,all,fixed,shuffle,osgd,sc --epochs 500 \\
                          --lr 0.5 --seeds 0,1,2 --device cpu --out runs/X [--resume] [--json]
    minibatch-cl figures --out DIR
    minibatch-cl reproduce [--quick | --full] [--device cpu] [--out DIR] [--report FILE] [--scheduler S] [--workers K] [--json]
    minibatch-cl sweep (--spec FILE | --kind certificate|simulation --N 4,6 --B 2,3 ... --epochs E) --out DIR [--scheduler S] [--json]
    minibatch-cl bench {engine,certificates,exact_all,scheduler,lowrank,gpu}

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
    """``minibatch-cl version``: print the package version.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand.
    """
    from theory import __version__
    print(_dump({"version": __version__}) if args.json else f"minibatch-cl {__version__}")


def _literal(text: str):
    """A --loss-param value: true/false, a number, else the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _loss_param(text: str) -> tuple:
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def _add_loss_args(sp, sweep: bool = False) -> None:
    many = " (comma-separated values)" if sweep else ""
    sp.add_argument("--loss", type=_names if sweep else str, default=None,
                    help="registered loss name" + ("s" if sweep else "") + ": infonce (default; CLIP), siglip, dcl, dhel, "
                    "kcl, supcon (--loss-param labels=...), vrn (a base loss plus Lee et al.'s variance-reducing term: "
                    "--loss-param base=NAME(P=V; ...), weight, n or delta, p), or one registered by --plugin")
    sp.add_argument("--plugin", action="append", default=[], metavar="FILE",
                    help="a Python file that registers losses with theory.register_loss (repeatable); "
                    "default none")
    conv = _floats if sweep else float
    sp.add_argument("--tau", type=conv, default=None, help="temperature, > 0; default 1 (siglip: 1/t; Zhai et al. "
                    "initialise tau 0.1, bias -10)" + many)
    sp.add_argument("--bias", type=conv, default=None, help="siglip's bias, finite; default 0" + many)
    sp.add_argument("--t", "--kernel-t", dest="t", type=conv, default=None, help="kcl's Gaussian kernel width t, > 0; "
                    "default 2" + many)
    sp.add_argument("--gamma", type=conv, default=None, help="kcl's uniformity weight, > 0; default 1" + many)
    sp.add_argument("--one-sided", action="store_true", help="infonce, dcl, dhel: the anchor-side term only "
                    "(symmetric=False); default off (symmetric)")
    sp.add_argument("--negatives", default=None, choices=["both", "cross"], help="dcl: both views of every other sample "
                    "as negatives (Yeh et al. eq. 6) or the other modality only; default both")
    sp.add_argument("--loss-param", dest="loss_param", action="append", default=[], type=_loss_param,
                    metavar="NAME=VALUE", help="any other parameter of the loss (e.g. a plugin's margin=0.2; "
                    "repeatable; default none" + ("; comma-separated values" if sweep else "") + ")")


def _loss_params_from_args(args, sweep: bool = False) -> dict:
    params = {k: getattr(args, k) for k in ("tau", "bias", "t", "gamma") if getattr(args, k) is not None}
    if args.one_sided:
        params["symmetric"] = (False,) if sweep else False
    if args.negatives is not None:
        params["negatives"] = (args.negatives,) if sweep else args.negatives
    for name, value in args.loss_param:
        params[name] = tuple(_literal(v) for v in value.split(",")) if sweep else _literal(value)
    return params


def _loss_from_args(args):
    """The :class:`theory.Loss` named by the loss flags, after loading the plugins (ValueError, naming the loss, for a
    parameter it does not take or a value it refuses)."""
    from theory.losses import load_plugin, make_loss
    for path in args.plugin:
        load_plugin(path)
    return make_loss(args.loss or "infonce", **_loss_params_from_args(args))


def cmd_certify(args):
    """``minibatch-cl certify``: the family's certified optimum (:func:`theory.certify`) and the same facts for
    every loss: the objective at the ETF, its excess over the certified optimum, the solver-free ETF decision
    (:func:`theory.etf_is_optimal`), the rank and what it means, the closed form and the balance law where the loss
    has them.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand.

    Raises
    ------
    ValueError
        For invalid arguments (:func:`main` turns it into exit status 2).
    """
    from simulations.engine.lowrank import certify
    from theory import Family, make_family
    from theory.certificates import etf_is_optimal
    if args.family_file:
        if not Path(args.family_file).is_file():
            raise ValueError(f"--family-file {args.family_file}: no such file")
        fam = Family.from_json(args.family_file)
        given = [flag for flag, v in (("--B", args.B), ("--family", args.family), ("--seed", args.seed),
                                      ("--drop-last", args.drop_last or None)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} set with --family-file, which holds the batches: leave them out")
        if args.N is not None and fam.N != args.N:
            raise ValueError(f"--N {args.N} does not match the family file's N = {fam.N} (leave --N out: the file holds it)")
    else:
        if args.N is None:
            raise ValueError("--N is required unless --family-file is given")
        fam = make_family(args.family or "all", args.N, args.B, seed=args.seed, drop_last=args.drop_last)
    loss = _loss_from_args(args)
    face = {}
    if args.ties is not None:
        try:
            face["ties"] = tuple(int(x) for x in args.ties.split(","))
        except ValueError:
            raise ValueError(f"--ties must be comma-separated integers (the item each pair copies), got {args.ties!r}") \
                from None
    if args.nonneg:
        face["nonneg"] = True
    c = certify(fam, loss, method=args.method, **({} if args.method == "lowrank" else {"solver": args.solver}), **face)
    try:
        if face:
            raise ValueError("the simplex ETF is outside this relaxation (" + " and ".join(
                (["--ties: tied pairs coincide"] if "ties" in face else [])
                + (["--nonneg: its Gram has negative entries"] if args.nonneg else [])) + "), so it is not compared")
        e = etf_is_optimal(fam, loss)
        etf = {"etf_optimal": e.optimal, "decided_by": e.decided_by, "gradient_ratio": e.gradient_ratio,
               "etf_value": e.etf_value, "excess": e.etf_value - c.value,
               **({"dual_unique": e.dual["unique"]} if e.dual else {})}
        closed = e.closed_form
    except ValueError as exc:                      # no decision at the ETF (outside the relaxation, an underflow, a zero gradient): say so
        etf, closed = {"etf_optimal": None, "decided_by": None, "reason": str(exc)}, None
    balance = None if face else loss.balance(fam)          # the balance law is the untied, signed relaxation's
    if args.json:
        print(_dump({**c.summary(), "etf": etf, **({"closed_form": closed} if closed else {}),
                     **({"balance": balance} if balance is not None else {})}))
        return
    for k, v in c.summary().items():
        print(f"{k:>15}: {v}")
    print("certified global optimum of the relaxation (a lower bound in every d; the optimum in every d >= rank)"
          if c.certified else "NOT certified: the status is not 'optimal'")
    if "etf_value" in etf:
        print(f"{loss.label}: L(ETF) = {etf['etf_value']:.10g}, excess over the certified optimum {etf['excess']:.3g}")
    verdict = {True: "a global minimizer", False: "NOT a minimizer", None: "undecided"}[etf["etf_optimal"]]
    print(f"U = V = simplex ETF (d >= N-1): {verdict} (decided by {etf['decided_by']}; solver-free)"
          + (f": {etf['reason']}" if "reason" in etf else ""))
    if closed and "lam" in closed:
        print(f"closed form: {closed['structure']} (lambda = {closed['lam']:.6g}, value {closed['value']:.10g}; "
              f"needs d >= {max(closed['rank'], 1)})")
    elif closed:
        print(f"closed form: {closed.get('structure')} optimum, value {closed['value']:.10g}")
    if balance is not None:
        crit = balance["critical_taus"]
        print(f"pair balance (weighted law): kappa spread {balance['kappa_spread']:.3g} -> "
              f"{'balanced' if balance['balanced'] else 'unbalanced'}; balanced at tau = "
              + ("every tau" if crit == "all" else ", ".join(f"{t:.10g}" for t in crit) or "no tau"))


def _print_verdicts(verdicts):
    w = max(len(v.id) for v in verdicts)
    for v in verdicts:
        print(f"{v.id:<{w}}  {v.verdict:<12}  {v.statement[:90]}")


def cmd_claims(args):
    """``minibatch-cl claims``: run claims (:func:`simulations.claims.run_claims`) and print their verdicts.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand.

    Raises
    ------
    ValueError
        For invalid arguments (:func:`main` turns it into exit status 2).
    """
    from simulations.claims import check_ids, run_claims
    from simulations.training.config import check_device
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
    """``minibatch-cl simulate``: training runs (:func:`simulations.simulate`) and their final metrics.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand.

    Raises
    ------
    ValueError
        For invalid arguments (:func:`main` turns it into exit status 2).
    """
    from simulations.training.config import Config
    from simulations.runtime.simulate import simulate
    loss = _loss_from_args(args)
    cfg = Config(N=args.N, d=args.d, B=args.B, methods=args.methods, steps=args.epochs, lr=args.lr, seeds=args.seeds,
                 loss=loss.name, loss_params=tuple(_loss_params_from_args(args).items()), plugins=tuple(args.plugin),
                 device=args.device, dtype=args.dtype, align=args.align,
                 log_every=args.log_every, osgd_candidates=args.osgd_candidates, osgd_top=args.osgd_top,
                 sogclr_gamma=args.sogclr_gamma, sogclr_temperatures=args.sogclr_temperatures,
                 sogclr_rho=args.sogclr_rho, sogclr_eta=args.sogclr_eta, sogclr_beta=args.sogclr_beta,
                 sogclr_tau_min=args.sogclr_tau_min, sogclr_tau_max=args.sogclr_tau_max,
                 super_batch=args.super_batch, jest_chunks=args.jest_chunks,
                 reference=args.reference, reference_steps=args.reference_steps)
    with _scheduler(args) as ex:
        res = simulate(cfg, args.out, resume=args.resume, progress=not args.json, scheduler=ex)
    if args.json:
        print(_dump({"config": res["config"], "summary": res["summary"], "out": args.out}))
    else:
        robust = cfg.individual_temperatures
        print(f"{'method':<8} {'seed':>4} {'updates':>8} {'full_loss':>10} {'all_loss':>10} {'gram_dist':>10}"
              + (f" {'robust_obj':>11} {'robust_prof':>11} {'robust_grad':>11}" if robust else ""))
        for m, seeds in res["summary"].items():
            for s, r in seeds.items():
                print(f"{m:<8} {s:>4} {r['updates']:>8} {r['full_loss']:>10.5f} {r['all_loss']:>10.5f} {r['gram_distance']:>10.4f}"
                      + (f" {r['robust_objective']:>11.6f} {r['robust_profile']:>11.6f} {r['robust_grad_norm']:>11.3e}"
                         if robust else ""))
        if args.out:
            print(f"results in {args.out}")


def cmd_figures(args):
    """``minibatch-cl figures``: redraw every figure from a results folder.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand.
    """
    from figures import draw_all
    paths = draw_all(args.out)
    print(_dump({"figures": [str(p) for p in paths]}) if args.json else "\n".join(map(str, paths)))


def cmd_reproduce(args):
    """``minibatch-cl reproduce``: every claim, experiment and figure (:func:`simulations.claims.reproduce.reproduce`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand.

    Raises
    ------
    ValueError
        For invalid arguments (:func:`main` turns it into exit status 2).
    """
    from simulations.claims.reproduce import reproduce
    with _scheduler(args) as ex:
        res = reproduce(args.out, mode="full" if args.full else "quick", device=args.device, progress=not args.json,
                        report=args.report, workers=args.workers, scheduler=ex)
    if args.json:
        print(_dump(res))


def _scheduler(args):
    """The --scheduler value, validated (and connected, for tcp://) before any work."""
    from simulations.runtime.executor import make_executor
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    return make_executor(args.scheduler, args.workers)


def cmd_sweep(args):
    """``minibatch-cl sweep``: a grid of tasks (:func:`simulations.runtime.sweep.run_sweep`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand.

    Raises
    ------
    ValueError
        For invalid arguments (:func:`main` turns it into exit status 2).
    """
    from simulations.runtime.sweep import SweepSpec, run_sweep
    if args.spec:
        spec = SweepSpec.from_json(args.spec)
    else:
        flags = {k: getattr(args, k) for k in ("kind", "N", "B", "d", "loss", "family", "method", "lr", "seeds", "steps")
                 if getattr(args, k) is not None}
        spec = SweepSpec(**flags, loss_params=_loss_params_from_args(args, sweep=True), plugins=tuple(args.plugin),
                         solver=not args.no_solver)
    with _scheduler(args) as ex:
        res = run_sweep(spec, args.out, scheduler=ex, progress=not args.json)
    if args.json:
        print(_dump({k: res[k] for k in ("spec", "n_tasks", "skipped", "seconds", "out")}))
    else:
        print(f"{res['n_tasks']} tasks ({len(res['skipped'])} grid points refused) in {res['seconds']:.1f} s; "
              f"table in {Path(args.out) / 'results.csv'}")


def cmd_bench(args):
    """``minibatch-cl bench``: run one of the repository's benchmark scripts.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed arguments of the subcommand.

    Raises
    ------
    ValueError
        For invalid arguments (:func:`main` turns it into exit status 2).
    """
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
    """The ``minibatch-cl`` argument parser: one subparser per command, each option with its help line.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = argparse.ArgumentParser(prog="minibatch-cl", description="Check the theory of mini-batch contrastive loss "
                                "and reproduce the synthetic experiments of Cho et al. (TMLR 2024).")
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, fn, help):
        sp = sub.add_parser(name, help=help, description=help)
        sp.add_argument("--json", action="store_true", help="print one JSON object on stdout instead of text; default off")
        sp.set_defaults(fn=fn)
        return sp

    add("version", cmd_version, "print the version")
    c = add("certify", cmd_certify, "global optimum of a family objective by convex relaxation")
    c.add_argument("--N", type=int, default=None, help="number of pairs, >= 2; no default: required unless "
                   "--family-file gives it")
    c.add_argument("--B", type=int, default=None, help="batch size, 2 <= B <= N; no default: required by the "
                   "families that have one (all, partition, random, dataloader, dataloader_expectation)")
    c.add_argument("--family", default=None, help="the batch family: full, all (every C(N,B) batch), partition, random, "
                   "fano (N = 7, B = 3), affine_plane, dataloader (one seeded epoch), dataloader_expectation; default "
                   "all; not with --family-file")
    c.add_argument("--family-file", default=None, help='a family of your own: JSON file {"N": .., "batches": [[..], ..], "weights": [..]} '
                   '(sizes may differ; weights optional, positive); it holds N and the batches, so --N is not needed and '
                   '--B, --family, --seed, --drop-last are refused; default none')
    c.add_argument("--drop-last", action="store_true", help="dataloader families: drop the short last batch "
                   "(drop_last=True); default off (the short batch is kept)")
    c.add_argument("--seed", type=int, default=None, help="seed, >= 0, of a random partition (default: the contiguous "
                   "partition), a random family or a dataloader epoch (default 0)")
    _add_loss_args(c)
    c.add_argument("--ties", default=None, help="duplicated pairs: comma-separated item of each of the N pairs, the "
                   "items numbered 0..K-1 (e.g. 0,0,1,2: pairs 0 and 1 are copies); tied pairs share their embeddings "
                   "in the relaxation; the sdp method only; default none (every pair distinct)")
    c.add_argument("--nonneg", action="store_true", help="restrict the relaxation to Gram matrices with non-negative "
                   "entries (the doubly non-negative cone); the sdp method only; default off")
    c.add_argument("--method", default="auto", choices=["auto", "sdp", "lowrank"],
                   help="sdp: the semidefinite relaxation (cvxpy); lowrank: Burer-Monteiro with a KKT certificate "
                   "recomputed from M (any N; families past the enumeration limit take the engine's exact gradient); auto: sdp "
                   "for small N, lowrank above; default auto")
    c.add_argument("--solver", default="auto", choices=["auto", "CLARABEL", "SCS"],
                   help="the SDP's solver (auto: Clarabel for N <= 32, SCS above); default auto")
    c = add("claims", cmd_claims, "check every claim and print its verdict")
    c.add_argument("--only", type=_names, default=None, help="comma-separated claim ids (see the verdict table); "
                   "default: every claim")
    c.add_argument("--full", action="store_true", help="the full sweep of every claim; default off (the quick sweeps)")
    c.add_argument("--device", default="cpu", help="cpu or cuda[:K] for the torch parts; default %(default)s")
    c.add_argument("--out", default=None, help="folder that keeps the claims' results (rerunning resumes); default: a temporary folder")
    c.add_argument("--workers", type=int, default=None, help="local worker processes, >= 1; default: one per core")
    _scheduler_arg(c)
    s = add("simulate", cmd_simulate, "run the paper's synthetic optimisation experiments")
    s.add_argument("--N", type=int, required=True, help="number of pairs, >= 2")
    s.add_argument("--d", type=int, required=True, help="embedding dimension, >= 1")
    s.add_argument("--B", type=int, default=2, help="batch size, 2 <= B <= N; default 2")
    s.add_argument("--methods", type=_names, default=("full", "all", "fixed", "shuffle", "osgd", "sc"),
                   help="comma-separated: full, all, fixed, shuffle, replace, dataloader, osgd, sc, matching, kmeans, "
                   "jest, rho, sogclr; default full,all,fixed,shuffle,osgd,sc")
    s.add_argument("--epochs", type=int, default=500, help="epochs per run, >= 1 (an epoch is N/B updates for the "
                   "partition methods, one update for full and all); default 500")
    s.add_argument("--lr", type=float, default=0.5, help="SGD learning rate, > 0; default 0.5")
    s.add_argument("--seeds", type=_ints, default=(0,), help="comma-separated distinct seeds, >= 0; default 0")
    _add_loss_args(s)
    s.add_argument("--device", default="cpu", help="cpu or cuda[:K]; default %(default)s")
    s.add_argument("--dtype", default="float64", choices=["float64", "float32"], help="floating-point type of the embeddings; default %(default)s")
    s.add_argument("--align", default="epochs", choices=["epochs", "updates"], help="compare methods at equal epochs (the authors' x-axis) or at equal numbers of updates; "
                   "default %(default)s")
    s.add_argument("--log-every", type=int, default=1, help="log metrics every K epochs, >= 1; default 1")
    s.add_argument("--osgd-candidates", type=int, default=None, help="OSGD's sampled variant: score K >= 1 uniform batches "
                   "per update; default: all C(N,B) (exact OSGD)")
    s.add_argument("--osgd-top", type=int, default=1, help="OSGD: step on the top K >= 1 candidates; "
                   "default 1")
    s.add_argument("--sogclr-gamma", type=float, default=0.9, help="SogCLR's moving-average weight of the per-sample "
                   "estimates, in (0, 1]; unused for pair-sum losses; default 0.9")
    s.add_argument("--sogclr-temperatures", default="fixed", help="sogclr: fixed (one temperature, the loss's tau) or "
                   "individual (iSogCLR: one learned per anchor and direction, on the robust objective; InfoNCE, DCL); "
                   "default fixed")
    s.add_argument("--sogclr-rho", type=float, default=0.3, help="iSogCLR's KL radius rho of the robust objective, >= 0; "
                   "default 0.3")
    s.add_argument("--sogclr-eta", type=float, default=0.01, help="iSogCLR's step size of the temperatures, > 0; "
                   "default 0.01")
    s.add_argument("--sogclr-beta", type=float, default=0.9, help="iSogCLR's weight of the new temperature gradient in "
                   "its moving average, in (0, 1]; default 0.9")
    s.add_argument("--sogclr-tau-min", type=float, default=0.05, help="iSogCLR's lower bound of the temperatures, "
                   "0 < tau_min < tau_max (the loss's tau, the start, must lie between); default 0.05")
    s.add_argument("--sogclr-tau-max", type=float, default=0.7, help="iSogCLR's upper bound of the temperatures, finite, "
                   "> tau_min; default 0.7")
    s.add_argument("--super-batch", type=int, default=None, help="jest/rho: candidates drawn per update, B < K <= N; "
                   "default min(N, 2B)")
    s.add_argument("--jest-chunks", type=int, default=None, help="jest: chunks of the joint selection, dividing B; "
                   "default B (one pair per chunk)")
    s.add_argument("--reference", default="fullbatch", help="jest/rho reference model: fullbatch (full-batch gradient "
                   "descent from an independent start) or none (reference loss 0); default fullbatch")
    s.add_argument("--reference-steps", type=int, default=300, help="jest/rho: full-batch steps of the reference "
                   "model, >= 1; default 300")
    s.add_argument("--out", default=None, help="results folder (config, metrics CSV, checkpoints); default: nothing written")
    s.add_argument("--resume", action="store_true", help="continue the runs found in --out from their checkpoints; default off")
    s.add_argument("--workers", type=int, default=None, help="local worker processes, >= 1; default: one per core")
    _scheduler_arg(s, default="sequential")     # in process: mid-run checkpoints, so --resume continues a run
    f = add("figures", cmd_figures, "redraw every figure from the results of a reproduce run")
    f.add_argument("--out", default="reproduction", help="the results folder of a reproduce run (figures are written into it); default %(default)s")
    r = add("reproduce", cmd_reproduce, "run every claim, experiment and figure; write verdicts.json")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true", help="the quick sweeps and experiments, under 10 minutes on 2 CPU cores (the default when neither is given)")
    g.add_argument("--full", action="store_true", help="each claim's full sweep and the paper's sizes (hours); "
                   "default off")
    r.add_argument("--device", default="cpu", help="cpu or cuda[:K] for the experiments; default %(default)s")
    r.add_argument("--out", default="reproduction", help="results folder (verdicts.json, CSV/JSON, figures; a rerun resumes); default %(default)s")
    r.add_argument("--report", default=None, help="also write the report (paper_reproduction.md) to this file, figures and full sweeps copied beside it; default none")
    r.add_argument("--workers", type=int, default=None, help="local worker processes, >= 1; default: one per core")
    _scheduler_arg(r)
    sw = add("sweep", cmd_sweep, "a grid of certificate or simulation tasks on any scheduler; one tidy table")
    sw.add_argument("--spec", default=None, help="JSON spec file (keys: kind, N, B, d, loss, loss_params, plugins, family, "
                    "method, lr, seeds, steps (epochs), solver); the grid flags are ignored when given; default none")
    sw.add_argument("--kind", default=None, choices=["certificate", "simulation"], help="certificate tasks (a family's relaxation and ETF decision) or simulation tasks (training runs); default certificate")
    for name, conv, what, dflt in (("N", _ints, "numbers of pairs, >= 2", "6"), ("B", _ints, "batch sizes, >= 2", "2"),
                                   ("d", _ints, "dimensions, >= 1 (simulations)", "8"),
                                   ("family", _names, "family kinds (certificates): full, all, partition, random, fano, "
                                    "affine_plane, dataloader, dataloader_expectation", "all"),
                                   ("method", _names, "selection methods (simulations): full, all, fixed, shuffle, "
                                    "replace, dataloader, osgd, sc", "shuffle"),
                                   ("lr", _floats, "learning rates, > 0 (simulations)", "0.5"),
                                   ("seeds", _ints, "seeds, >= 0", "0")):
        sw.add_argument(f"--{name}", dest=name, type=conv, default=None, help=f"comma-separated {what}; default {dflt}")
    _add_loss_args(sw, sweep=True)
    sw.add_argument("--epochs", dest="steps", type=int, default=None, metavar="EPOCHS", help="epochs of each simulation, >= 1 (an epoch "
                    "is N/B updates for the partition methods, one for full and all); default 100")
    sw.add_argument("--no-solver", action="store_true", help="certificates: skip the convex relaxation (the ETF decision only); default off")
    sw.add_argument("--out", required=True, help="results folder: one file per task and results.csv (a rerun resumes); required")
    sw.add_argument("--workers", type=int, default=None, help="local worker processes, >= 1; default: one per core")
    _scheduler_arg(sw)
    b = add("bench", cmd_bench, "run a benchmark script (engine, certificates, exact_all, scheduler, lowrank, gpu)")
    b.add_argument("name", choices=["engine", "certificates", "exact_all", "scheduler", "lowrank", "gpu"],
                   help="the benchmark script benchmarks/NAME.py (repository checkout only)")
    return p


def main(argv=None) -> int:
    """Run ``minibatch-cl`` with ``argv``.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 on success, 2 for bad input (a message naming the parameter, no traceback), 1 for a
        diverged run, 130 when interrupted.
    """
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
