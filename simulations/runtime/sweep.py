"""``minibatch-cl sweep``: a grid of certificate or simulation tasks, run anywhere, in one tidy table.

A :class:`SweepSpec` (a frozen dataclass, validated at construction; from a JSON spec file or the
command line's flags) names a grid. Its product is a list of independent tasks:

* ``kind="certificate"``: for every (N, B, family, loss setting, seed), :func:`certificate_task`: the same
  facts for every loss — the solver-free decision whether ``U = V = ETF`` is optimal
  (:func:`theory.certificates.etf_is_optimal`), ``L(ETF)``, the loss's closed form (SigLIP's double-constant
  optimum, InfoNCE's ETF value) and balance law (InfoNCE's weighted law) where it has them and, with
  ``solver=True``, the convex relaxation's optimum and the ETF's excess over it;
* ``kind="simulation"``: for every (N, d, B, method, lr, loss setting, seed), one training run
  (:func:`simulations.runtime.tasks.training_task`).

A *loss setting* is a registered loss (a plugin's too) with one point of its parameter grid: the product of
the values in ``loss_params`` of the parameters that loss has (``tau`` for InfoNCE, DCL, DHEL; ``tau`` x
``bias`` for SigLIP; ``t`` x ``gamma`` for KCL, which has no temperature).

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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from theory._checks import check_int, check_positive_float

from simulations.io import folder_lock, write_csv, write_json
from simulations.runtime.tasks import run_tasks, training_task

KINDS = ("certificate", "simulation")


def _finite(name, x):
    import math
    if isinstance(x, bool) or not isinstance(x, (int, float, str)) or (not isinstance(x, str) and not math.isfinite(x)):
        raise ValueError(f"{name} must hold finite numbers, booleans or names, got {x!r}")
    return x


def _value(name, x):
    if isinstance(x, bool) or isinstance(x, str):
        return x
    return _finite(name, x)


def _name(name, x):
    if not isinstance(x, str):
        raise ValueError(f"{name} must hold names (strings), got {x!r}")
    return x


def _tuple(name, v, conv):
    v = (v,) if isinstance(v, (int, float, str, bool)) else tuple(v)
    if not v:
        raise ValueError(f"{name} must hold at least one value")
    return tuple(conv(name, x) for x in v)


@dataclass(frozen=True)
class SweepSpec:
    """A grid of tasks.

    Parameters
    ----------
    kind : {'certificate', 'simulation'}, default='certificate'
    N, B, d : tuple of int, default=(6,), (2,), (8,)
        Pairs (>= 2), batch sizes (>= 2), dimensions (>= 1; simulations only).
    loss : tuple of str, default=('infonce',)
        Registered loss names (after loading ``plugins``).
    loss_params : dict, default={}
        ``{parameter: values}``: the grid of each loss's parameters; every loss of the sweep takes the parameters
        among its own fields (the product of their values), the others stay at their defaults. A parameter that no
        loss of the sweep takes is refused (it would be silently ignored).
    plugins : tuple of str, default=()
        Python files that register losses (:func:`theory.load_plugin`), loaded here and in every task.
    family : tuple of str, default=('all',)
        :func:`theory.make_family` kinds (certificates).
    method : tuple of str, default=('shuffle',)
        Selection methods (simulations).
    lr : tuple of float, default=(0.5,)
    seeds : tuple of int, default=(0,)
    steps : int, default=100
        Epochs of each simulation.
    solver : bool, default=True
        Certificates: also solve the convex relaxation.
    """

    kind: str = "certificate"
    N: tuple = (6,)
    B: tuple = (2,)
    d: tuple = (8,)
    loss: tuple = ("infonce",)
    loss_params: dict = field(default_factory=dict)
    plugins: tuple = ()
    family: tuple = ("all",)
    method: tuple = ("shuffle",)
    lr: tuple = (0.5,)
    seeds: tuple = (0,)
    steps: int = 100
    solver: bool = True

    def __post_init__(self):
        from theory.losses import LOSSES, load_plugin
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        ints = lambda n, x: check_int(n, x, low=0 if n == "seeds" else 1 if n == "d" else 2)  # noqa: E731
        for name in ("N", "B", "d", "seeds"):
            object.__setattr__(self, name, _tuple(name, getattr(self, name), ints))
        object.__setattr__(self, "plugins", _tuple("plugins", self.plugins, _name) if self.plugins else ())
        for path in self.plugins:
            load_plugin(path)
        object.__setattr__(self, "loss", _tuple("loss", self.loss, _name))
        unknown = [x for x in self.loss if x not in LOSSES]
        if unknown:
            raise ValueError(f"loss must hold registered names {sorted(LOSSES)}, got {unknown}")
        if not isinstance(self.loss_params, dict):
            raise ValueError(f"loss_params must be a mapping {{parameter: values}}, got {self.loss_params!r}")
        object.__setattr__(self, "loss_params", {str(k): _tuple(f"loss_params[{k!r}]", v, _value)
                                                 for k, v in self.loss_params.items()})
        taken = {f.name for n in self.loss for f in fields(LOSSES[n])}
        unused = sorted(set(self.loss_params) - taken)
        if unused:
            raise ValueError(f"{', '.join(unused)} set but no loss of the sweep takes it (loss={list(self.loss)}): "
                             "it would be silently ignored")
        self.loss_settings()                                   # every grid point must be a valid loss
        object.__setattr__(self, "lr", _tuple("lr", self.lr, check_positive_float))
        object.__setattr__(self, "family", _tuple("family", self.family, _name))
        object.__setattr__(self, "method", _tuple("method", self.method, _name))
        check_int("steps", self.steps, low=1)
        if not isinstance(self.solver, bool):
            raise ValueError(f"solver must be true or false, got {self.solver!r}")

    @classmethod
    def from_json(cls, path) -> "SweepSpec":
        """Read a spec file: a JSON object with any of the fields (lists or single values).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        SweepSpec

        Raises
        ------
        ValueError
            If the file is missing, not JSON, or holds an unknown field or an invalid value.
        """
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
        """The spec as a JSON-ready dict (read back by :meth:`from_json`).

        Returns
        -------
        dict
        """
        return json.loads(json.dumps(asdict(self)))

    def loss_settings(self) -> list[dict]:
        """``{"loss": name, "loss_params": {...}}`` for every loss and point of its parameter grid.

        Returns
        -------
        list of dict
        """
        from theory.losses import LOSSES, make_loss
        out = []
        for name in self.loss:
            own = [k for k in (f.name for f in fields(LOSSES[name])) if k in self.loss_params]
            for values in itertools.product(*(self.loss_params[k] for k in own)):
                params = dict(zip(own, values))
                make_loss(name, **params)                      # ValueError naming the loss and the parameter
                out.append({"loss": name, "loss_params": params})
        return out

    def tasks(self) -> tuple[list[dict], list[dict]]:
        """``(tasks, skipped)``: the grid's task parameters, and the grid points refused with their reason.

        Returns
        -------
        tuple of list of dict
            ``(tasks, skipped)``.
        """
        from theory.losses import make_loss
        tasks, skipped = [], []
        plugins = list(self.plugins)
        if self.kind == "certificate":
            from theory import make_family
            for N, B, fam, ls, seed in itertools.product(self.N, self.B, self.family, self.loss_settings(), self.seeds):
                p = {"N": N, "B": B, "family": fam, **ls, "seed": seed, "solver": self.solver, "plugins": plugins}
                try:
                    f = make_family(fam, N, B, seed=seed)
                    low = make_loss(ls["loss"], **ls["loss_params"]).min_batch
                    small = [b for b in f.batch_sizes if b < low]
                    if small:
                        raise ValueError(f"loss {ls['loss']!r} needs batches of size >= {low}, the family has sizes {small}")
                except ValueError as exc:
                    skipped.append({**p, "reason": str(exc)})
                    continue
                tasks.append(p)
        else:
            from simulations.training.config import Config
            for N, d, B, m, lr, ls, seed in itertools.product(self.N, self.d, self.B, self.method, self.lr,
                                                             self.loss_settings(), self.seeds):
                p = {"N": N, "d": d, "B": B, "methods": [m], "lr": lr, "loss": ls["loss"], "seeds": [seed],
                     "loss_params": [[k, v] for k, v in sorted(ls["loss_params"].items())], "plugins": plugins,
                     "steps": self.steps, "log_every": max(1, self.steps // 20)}
                try:
                    Config(**p)
                except ValueError as exc:
                    skipped.append({**p, "reason": str(exc)})
                    continue
                tasks.append(p)
        return tasks, skipped


def certificate_task(params: dict) -> dict:
    """One certificate, the same facts for every loss: the solver-free ETF decision
    (:func:`theory.certificates.etf_is_optimal`), ``L(ETF)``, the loss's closed form and balance law where it has
    them, and (``solver``) the convex relaxation's optimum with the ETF's excess over it.

    Parameters
    ----------
    params : dict
        ``N``, ``B``, ``family``, ``loss``, ``loss_params``, ``plugins``, ``solver``.

    Returns
    -------
    dict
        One row of the sweep's table.
    """
    from theory import make_family
    from theory.certificates import certify, etf_is_optimal
    from theory.losses import load_plugin, make_loss
    for path in params.get("plugins", ()):
        load_plugin(path)
    loss = make_loss(params["loss"], **params["loss_params"])
    fam = make_family(params["family"], params["N"], params["B"], seed=params["seed"])
    out = {"params": params, "family_repr": repr(fam)}
    bal = loss.balance(fam)
    if bal is not None:
        out.update(balanced=bal["balanced"], kappa_spread=bal["kappa_spread"])
    try:
        r = etf_is_optimal(fam, loss)
        out.update(etf_optimal=r.optimal, decided_by=r.decided_by, gradient_ratio=r.gradient_ratio, etf_value=r.etf_value)
        if r.closed_form is not None:
            out.update(closed_form=r.closed_form["value"], structure=r.closed_form.get("structure"))
    except ValueError as exc:                            # no decision at the ETF (an underflow, or a pair with exactly zero gradient): say so
        out.update(etf_optimal=None, decided_by=None, gradient_ratio=None, reason=str(exc))
    if params["solver"]:
        c = certify(fam, loss)
        out.update(value=c.value, status=c.status, certified=c.certified)
        if out.get("etf_value") is not None:
            out["etf_excess"] = out["etf_value"] - c.value
    return out


_SCALARS = {"certificate": ("family_repr", "balanced", "kappa_spread", "etf_optimal", "decided_by", "gradient_ratio",
                            "value", "status", "certified", "reason", "etf_value", "etf_excess", "closed_form", "structure"),
            "simulation": ("status", "final_distance", "final_updates", "reached_at")}


def _row(params: dict, result: dict, kind: str) -> dict:
    params = dict(params)
    lp = params.pop("loss_params", {})
    lp = dict(lp) if not isinstance(lp, dict) else lp                 # simulations store [[name, value], ...]
    params.pop("plugins", None)
    params.update(lp)
    p = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in params.items()}
    return {**p, **{k: result.get(k) for k in _SCALARS[kind]}}


def run_sweep(spec: SweepSpec, out, *, scheduler=None, workers: int | None = None, progress: bool = False) -> dict:
    """Run the sweep's tasks on ``scheduler`` (:func:`simulations.runtime.executor.make_executor`), reusing the
    finished ones in ``out``; write the tidy table. Returns ``{"spec", "n_tasks", "skipped", "rows",
    "seconds", "out"}``.

    Parameters
    ----------
    spec : SweepSpec
    out : str or path-like
        The results folder.
    scheduler : str, distributed.Client or None, default=None
    workers : int or None, default=None
    progress : bool, default=False

    Returns
    -------
    dict
    """
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
