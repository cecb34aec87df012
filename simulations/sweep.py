"""``minibatch-cl sweep``: a grid of certificate or simulation tasks, run anywhere, in one tidy table.

A :class:`SweepSpec` (a frozen dataclass, validated at construction; from a JSON spec file or the
command line's flags) names a grid. Its product is a list of independent tasks:

* ``kind="certificate"``: for every (N, B, family, loss setting, seed), :func:`certificate_task` — for
  InfoNCE the solver-free decision whether ``U = V = ETF`` is optimal
  (:func:`theory.certificates.etf_is_optimal`), the weighted pair-balance test and, with ``solver=True``, the
  convex relaxation's optimum; for the other losses the relaxation, ``L(ETF)`` and its excess, and for SigLIP
  on full / all-C(N,B) families the double-constant closed form;
* ``kind="simulation"``: for every (N, d, B, method, lr, loss setting, seed), one training run
  (:func:`simulations.tasks.training_task`).

A *loss setting* is a loss name with one point of its parameter grid: ``tau`` for InfoNCE
('symmetric', 'one_sided'), DCL and DHEL; ``tau`` x ``bias`` for SigLIP; ``kernel_t`` x ``gamma`` for
KCL (which has no temperature: ``tau`` does not multiply its tasks).

Grid points that do not define a problem (``B > N``, a partition with ``B`` not dividing ``N``, ...)
are not silently dropped: they are listed under ``skipped`` with the reason. Results go to
``out/tasks/<key>.json`` (content-addressed, so an interrupted sweep resumes and a code change
reruns), ``out/results.csv`` and ``out/results.json`` (one row per task: its parameters and scalar
results), and ``out/spec.json``. Only this process writes ``out``.
"""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from theory._checks import check_int, check_positive_float, check_tau

from .io import folder_lock, write_csv, write_json
from .tasks import run_tasks, training_task

KINDS = ("certificate", "simulation")
LOSS_NAMES = ("symmetric", "one_sided", "siglip", "dcl", "dhel", "kcl")


def _loss_name(name, x):
    if x not in LOSS_NAMES:
        raise ValueError(f"{name} must hold names among {LOSS_NAMES}, got {x!r}")
    return x


def _min_batch(name: str) -> int:
    from theory.objectives import LOSS_CLASSES
    return 1 if name in ("symmetric", "one_sided") else LOSS_CLASSES[name].min_batch


def _finite(name, x):
    import math
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ValueError(f"{name} must hold finite numbers, got {x!r}")
    return float(x)


def _name(name, x):
    if not isinstance(x, str):
        raise ValueError(f"{name} must hold names (strings), got {x!r}")
    return x


def _tuple(name, v, conv):
    v = (v,) if isinstance(v, (int, float, str)) else tuple(v)
    if not v:
        raise ValueError(f"{name} must hold at least one value")
    return tuple(conv(name, x) for x in v)


@dataclass(frozen=True)
class SweepSpec:
    """A grid of tasks. Every field except ``kind``, ``steps`` and ``solver`` is a tuple of values."""

    kind: str = "certificate"
    N: tuple = (6,)
    B: tuple = (2,)
    d: tuple = (8,)
    tau: tuple = (1.0,)
    loss: tuple = ("symmetric",)
    bias: tuple = (0.0,)
    kernel_t: tuple = (2.0,)
    gamma: tuple = (1.0,)
    family: tuple = ("all",)
    method: tuple = ("shuffle",)
    lr: tuple = (0.5,)
    seeds: tuple = (0,)
    steps: int = 100
    solver: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        ints = lambda n, x: check_int(n, x, low=0 if n == "seeds" else 1 if n == "d" else 2)  # noqa: E731
        for name in ("N", "B", "d", "seeds"):
            object.__setattr__(self, name, _tuple(name, getattr(self, name), ints))
        object.__setattr__(self, "tau", _tuple("tau", self.tau, lambda n, x: check_tau(x)))
        object.__setattr__(self, "lr", _tuple("lr", self.lr, check_positive_float))
        object.__setattr__(self, "loss", _tuple("loss", self.loss, _loss_name))
        object.__setattr__(self, "bias", _tuple("bias", self.bias, _finite))
        object.__setattr__(self, "kernel_t", _tuple("kernel_t", self.kernel_t, check_positive_float))
        object.__setattr__(self, "gamma", _tuple("gamma", self.gamma, check_positive_float))
        unused = [n for n, owner, default in (("bias", "siglip", (0.0,)), ("kernel_t", "kcl", (2.0,)), ("gamma", "kcl", (1.0,)))
                  if getattr(self, n) != default and owner not in self.loss]
        if self.tau != (1.0,) and set(self.loss) == {"kcl"}:
            unused.append("tau")
        if unused:
            raise ValueError(f"{', '.join(unused)} set but no loss of the sweep takes it (loss={list(self.loss)}): "
                             "it would be silently ignored")
        object.__setattr__(self, "family", _tuple("family", self.family, _name))
        object.__setattr__(self, "method", _tuple("method", self.method, _name))
        check_int("steps", self.steps, low=1)
        if not isinstance(self.solver, bool):
            raise ValueError(f"solver must be true or false, got {self.solver!r}")

    @classmethod
    def from_json(cls, path) -> "SweepSpec":
        """Read a spec file: a JSON object with any of the fields (lists or single values)."""
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"spec file {path}: no such file")
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"spec file {path}: not valid JSON ({exc})") from None
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) - known:
            raise ValueError(f"spec file {path}: expected an object with keys among {sorted(known)}, "
                             f"got unknown keys {sorted(set(data) - known) if isinstance(data, dict) else data!r}")
        return cls(**data)

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def loss_settings(self) -> list[dict]:
        """``{"loss": name, "tau": ..., "loss_params": {...}}`` for every loss and point of its parameter grid
        (``tau`` is None for KCL; ``loss_params`` is empty for InfoNCE)."""
        out = []
        for name in self.loss:
            if name == "kcl":
                out += [{"loss": name, "tau": None, "loss_params": {"t": t, "gamma": g}}
                        for t, g in itertools.product(self.kernel_t, self.gamma)]
            elif name == "siglip":
                out += [{"loss": name, "tau": tau, "loss_params": {"bias": b}} for tau, b in itertools.product(self.tau, self.bias)]
            else:
                out += [{"loss": name, "tau": tau, "loss_params": {}} for tau in self.tau]
        return out

    def tasks(self) -> tuple[list[dict], list[dict]]:
        """``(tasks, skipped)``: the grid's task parameters, and the grid points refused with their reason."""
        tasks, skipped = [], []
        if self.kind == "certificate":
            from theory import make_family
            for N, B, fam, ls, seed in itertools.product(self.N, self.B, self.family, self.loss_settings(), self.seeds):
                p = {"N": N, "B": B, "family": fam, **ls, "seed": seed, "solver": self.solver}
                try:
                    f = make_family(fam, N, B, seed=seed)
                    small = [b for b in f.batch_sizes if b < _min_batch(ls["loss"])]
                    if small:
                        raise ValueError(f"loss {ls['loss']!r} needs batches of size >= {_min_batch(ls['loss'])}, "
                                         f"the family has sizes {small}")
                except ValueError as exc:
                    skipped.append({**p, "reason": str(exc)})
                    continue
                tasks.append(p)
        else:
            from .experiments import Config
            for N, d, B, m, lr, ls, seed in itertools.product(self.N, self.d, self.B, self.method, self.lr,
                                                             self.loss_settings(), self.seeds):
                p = {"N": N, "d": d, "B": B, "methods": [m], "lr": lr, "tau": 1.0 if ls["tau"] is None else ls["tau"],
                     "loss": ls["loss"], "seeds": [seed], "steps": self.steps, "log_every": max(1, self.steps // 20)}
                if ls["loss_params"]:
                    p["loss_params"] = [[k, v] for k, v in sorted(ls["loss_params"].items())]
                try:
                    Config(**p)
                except ValueError as exc:
                    skipped.append({**p, "reason": str(exc)})
                    continue
                tasks.append(p)
        return tasks, skipped


def _loss_certificate(params: dict, fam) -> dict:
    """A loss beyond InfoNCE: :func:`theory.loss_claims.etf_check` as a row's scalars."""
    from theory.loss_claims import etf_check
    from theory.objectives import make_loss
    loss = make_loss(params["loss"], **({} if params["tau"] is None else {"tau": params["tau"]}), **params["loss_params"])
    r = etf_check(params["N"], fam, loss, solve=params["solver"])
    out = {"family_repr": repr(fam), "etf_value": r["etf_value"]}
    if "double_constant" in r:
        out.update(closed_form=r["double_constant"]["value"], structure=r["double_constant"]["structure"])
    if params["solver"]:
        c = r["certificate"]
        out.update(value=c.value, status=c.status, certified=c.certified, etf_excess=r["excess"],
                   etf_optimal=r["etf_optimal"], decided_by=r["decided_by"])
    return out


def certificate_task(params: dict) -> dict:
    """One certificate: the ETF decision, the balance test and (``solver``) the relaxation's optimum (InfoNCE);
    :func:`_loss_certificate` for the other losses."""
    from theory import make_family
    from theory.balance import BALANCE_REL_TOL, pair_weight_spread
    from theory.certificates import certify, etf_is_optimal
    N, tau, loss = params["N"], params["tau"], params["loss"]
    fam = make_family(params["family"], N, params["B"], seed=params["seed"])
    if loss not in ("symmetric", "one_sided"):
        return {"params": params, **_loss_certificate(params, fam)}
    spread = pair_weight_spread(fam, tau)
    out = {"params": params, "family_repr": repr(fam), "balanced": spread <= BALANCE_REL_TOL, "kappa_spread": spread}
    try:
        r = etf_is_optimal(N, fam, tau=tau, loss=loss)
        out.update(etf_optimal=r["etf_optimal"], decided_by=r["decided_by"], gradient_ratio=r["gradient_ratio"])
    except ValueError as exc:                            # tau so small that c underflows: say so
        out.update(etf_optimal=None, decided_by=None, gradient_ratio=None, reason=str(exc))
    if params["solver"]:
        c = certify(N, fam, loss=loss, tau=tau)
        out.update(value=c.value, status=c.status, certified=c.certified)
    return out


_SCALARS = {"certificate": ("family_repr", "balanced", "kappa_spread", "etf_optimal", "decided_by", "gradient_ratio",
                            "value", "status", "certified", "reason", "etf_value", "etf_excess", "closed_form", "structure"),
            "simulation": ("status", "final_distance", "final_updates", "reached_at")}


def _row(params: dict, result: dict, kind: str) -> dict:
    params = dict(params)
    lp = params.pop("loss_params", {})
    lp = dict(lp) if not isinstance(lp, dict) else lp                 # simulations store [[name, value], ...]
    params.update({k if k != "t" else "kernel_t": v for k, v in lp.items()})
    p = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in params.items()}
    return {**p, **{k: result.get(k) for k in _SCALARS[kind]}}


def run_sweep(spec: SweepSpec, out, *, scheduler=None, workers: int | None = None, progress: bool = False) -> dict:
    """Run the sweep's tasks on ``scheduler`` (:func:`simulations.executor.make_executor`), reusing the
    finished ones in ``out``; write the tidy table. Returns ``{"spec", "n_tasks", "skipped", "rows",
    "seconds", "out"}``."""
    if not isinstance(spec, SweepSpec):
        raise ValueError(f"spec must be a SweepSpec, got {type(spec).__name__}")
    tasks, skipped = spec.tasks()
    if not tasks:
        raise ValueError(f"the sweep defines no valid task ({len(skipped)} grid points refused; first reason: "
                         f"{skipped[0]['reason'] if skipped else 'empty grid'})")
    fn = certificate_task if spec.kind == "certificate" else training_task
    t0 = time.perf_counter()
    with folder_lock(out):
        out = Path(out)
        write_json(out / "spec.json", spec.to_json())
        results = run_tasks(tasks, out, fn=fn, scheduler=scheduler, workers=workers, progress=progress)
        rows = [_row(t, r, spec.kind) for t, r in zip(tasks, results)]
        cols = list(dict.fromkeys(k for r in rows for k in r))        # one table: every column in every row
        rows = [{k: r.get(k) for k in cols} for r in rows]
        write_csv(out / "results.csv", rows)
        write_json(out / "results.json", {"spec": spec.to_json(), "rows": rows, "skipped": skipped})
    return {"spec": spec.to_json(), "n_tasks": len(tasks), "skipped": skipped, "rows": rows,
            "seconds": time.perf_counter() - t0, "out": str(out)}
