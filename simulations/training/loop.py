"""The optimisation loop of the paper's synthetic experiments.

Raw vectors ``x_u, x_v: (N, d)`` are the variables; every step uses ``U = x_u / ||x_u||`` (row-wise)
and takes a plain SGD step ``x <- x - lr * grad`` on the objective chosen by the selector. One
*logged step* is one epoch of the selector (``N/B`` batch updates for the batch methods, one
update for ``full``/``all``), as in the authors' code; with ``align='updates'`` the ``full`` and
``all`` methods also make ``N/B`` updates per logged step, so all methods compare at an equal
number of gradient updates.

Metrics per logged step: ``full_loss``, ``all_loss`` (the exact all-C(N,B) objective),
``gram_distance`` to the target Gram (ETF for ``d >= N-1``, cross-polytope for ``N = 2d``,
minimised over relabellings) and ``grad_norm`` (Riemannian gradient norm of the all-batches
objective); beside ``updates``, the cost of choosing the batches so far: ``selection_seconds`` (wall
time inside the selector) and ``selection_evals`` (batch losses the selector evaluated), and
``update_seconds`` (wall time of the gradient steps). ``sogclr`` steps on SogCLR's surrogate
(:mod:`simulations.training.sogclr`) over ``shuffle``'s batches; with iSogCLR's individual temperatures every
method's rows add the robust objective's metrics (:func:`robust_metrics`). Checkpoints are written atomically and
a run resumes from its last checkpoint.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from theory import Family, cross_polytope, etf_gram, gram_distance

from simulations.engine import batch_values, objective
from simulations.io import write_torch
from simulations.selection import make_selector
from simulations.training.sogclr import UPDATE_RULES, SogCLR, robust_objective, robust_profile, robust_temperature


#: Wall-clock columns of the logged rows (the only ones that differ between two runs of the same config).
TIMING_KEYS = ("selection_seconds", "update_seconds")


def without_timings(rows: list[dict]) -> list[dict]:
    """The rows without their wall-clock columns (:data:`TIMING_KEYS`): what equal configs reproduce exactly.

    Parameters
    ----------
    rows : list of dict
        Logged metric rows.

    Returns
    -------
    list of dict
        New dicts, every key but ``selection_seconds`` and ``update_seconds`` kept; ``rows`` is not modified.
    """
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def target_gram(N: int, d: int, target: str = "auto", loss=None):
    """Target Gram of a run: ETF if ``d >= N-1``, cross-polytope if ``N = 2d`` (``auto``), or None.

    For a loss whose full-batch optimum has a double-constant closed form (SigLIP's
    :meth:`~theory.Loss.closed_form_optimum`: ``z_ii = alpha``, ``z_ij = beta``) ``auto`` is that optimum when
    ``d`` reaches its rank, else None (never the ETF where the ETF is not the optimum).

    Parameters
    ----------
    N : int
        Number of pairs.
    d : int
        Dimension.
    target : {'auto', 'etf', 'cross_polytope', 'none'}, default='auto'
    loss : Loss, optional
        The run's loss (SigLIP's closed form decides ``auto``).

    Returns
    -------
    numpy.ndarray of shape (N, N), or None
    """
    opt = loss.closed_form_optimum(Family.full(N)) if (target == "auto" and loss is not None) else None
    if opt is not None and "alpha" in opt:
        if d < opt["rank"]:
            return None
        return (opt["alpha"] - opt["beta"]) * np.eye(N) + opt["beta"] * np.ones((N, N))
    if target == "auto":
        target = "etf" if d >= N - 1 else "cross_polytope" if N == 2 * d else "none"
    if target == "etf":
        return etf_gram(N)
    if target == "cross_polytope":
        X = cross_polytope(N, d)
        return X @ X.T
    return None


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


def initial_vectors(cfg, seed: int):
    """``(x_u, x_v)`` for a run: independent Gaussians, or ``x_u = x_v`` at given angles (``d = 2``).

    Parameters
    ----------
    cfg : Config
    seed : int

    Returns
    -------
    tuple of torch.Tensor
        ``(x_u, x_v)``, each ``(N, d)`` on ``cfg.device`` in ``cfg.dtype``.
    """
    dt = getattr(torch, cfg.dtype)
    if cfg.init == "angles":
        th = torch.tensor(np.deg2rad(cfg.init_angles_deg), dtype=dt)
        x = torch.stack([torch.cos(th), torch.sin(th)], 1)
        return x.clone().to(cfg.device), x.clone().to(cfg.device)
    g = torch.Generator().manual_seed(seed)
    xu = torch.randn(cfg.N, cfg.d, generator=g, dtype=dt)
    xv = torch.randn(cfg.N, cfg.d, generator=g, dtype=dt)
    return xu.to(cfg.device), xv.to(cfg.device)


def _objective(U, V, target, cfg):
    if isinstance(target, Family):
        return objective(U, V, target, cfg.objective(), check=False)
    return batch_values(U, V, target, cfg.objective(), check=False).mean()


def _tangent_norm(gU, gV, U, V) -> float:
    """Norm of the gradient ``(gU, gV)`` projected on the tangent spaces of the unit spheres at the rows of ``U, V``."""
    gU = gU - (gU * U).sum(1, keepdim=True) * U
    gV = gV - (gV * V).sum(1, keepdim=True) * V
    return float(torch.sqrt((gU**2).sum() + (gV**2).sum()))


def robust_metrics(x_u: torch.Tensor, x_v: torch.Tensor, cfg, tau: torch.Tensor | None = None) -> dict:
    """iSogCLR's metrics (``cfg.sogclr_temperatures='individual'``) at the current vectors: the robust objective at the
    run's temperatures, its minimum over the temperatures and that minimum's Riemannian gradient norm.

    Parameters
    ----------
    x_u, x_v : torch.Tensor, shape (N, d)
        The raw vectors (normalised here).
    cfg : Config
    tau : torch.Tensor of shape (K, N), optional
        The run's temperatures (None: the loss's ``tau`` for every anchor).

    Returns
    -------
    dict
        ``robust_objective`` (:func:`simulations.training.sogclr.robust_objective` at ``tau``), ``robust_profile``
        (:func:`simulations.training.sogclr.robust_profile`, over ``[sogclr_tau_min, sogclr_tau_max]``) and
        ``robust_grad_norm`` (the norm of its gradient in ``(U, V)`` projected on the spheres' tangent spaces).
    """
    loss = cfg.objective()
    U = _normalize(x_u.detach()).requires_grad_(True)
    V = _normalize(x_v.detach()).requires_grad_(True)
    prof, tau_star = robust_profile(U, V, loss, cfg.sogclr_rho, cfg.sogclr_tau_min, cfg.sogclr_tau_max)
    gU, gV = torch.autograd.grad(prof, (U, V))
    if tau is None:
        tau = torch.full_like(tau_star, robust_temperature(loss, cfg.sogclr_tau_min, cfg.sogclr_tau_max))
    with torch.no_grad():
        at = robust_objective(U, V, loss, tau.to(dtype=U.dtype, device=U.device), cfg.sogclr_rho)
    return {"robust_objective": float(at), "robust_profile": float(prof.detach()),
            "robust_grad_norm": _tangent_norm(gU, gV, U.detach(), V.detach())}


def metrics(x_u: torch.Tensor, x_v: torch.Tensor, cfg, T, tau: torch.Tensor | None = None) -> dict:
    """The logged metrics at the current vectors (see module docstring).

    Parameters
    ----------
    x_u, x_v : torch.Tensor, shape (N, d)
        The raw vectors (normalised here).
    cfg : Config
    T : numpy.ndarray or None
        The target Gram (:func:`target_gram`).
    tau : torch.Tensor of shape (K, N), optional
        The run's temperatures (iSogCLR; None: the loss's ``tau``), used only with
        ``cfg.sogclr_temperatures='individual'``.

    Returns
    -------
    dict
        ``full_loss``, ``all_loss``, ``gram_distance``, ``grad_norm``; with individual temperatures also those of
        :func:`robust_metrics`.
    """
    U = _normalize(x_u.detach()).requires_grad_(True)
    V = _normalize(x_v.detach()).requires_grad_(True)
    out = {}
    with torch.no_grad():
        out["full_loss"] = float(objective(U, V, Family.full(cfg.N), cfg.objective(), check=False))
    all_loss = objective(U, V, Family.all(cfg.N, cfg.B), cfg.objective(), check=False)
    gU, gV = torch.autograd.grad(all_loss, (U, V))
    U, V = U.detach(), V.detach()
    out["all_loss"] = float(all_loss.detach())
    out["grad_norm"] = _tangent_norm(gU, gV, U, V)
    Z = (U @ V.T).detach().cpu().double().numpy()
    out["gram_distance"] = gram_distance(Z, T) if T is not None else float("nan")
    if cfg.individual_temperatures:
        out.update(robust_metrics(x_u, x_v, cfg, tau))
    return out


def train_run(cfg, method: str, seed: int, checkpoint: str | Path | None = None, progress=None) -> dict:
    """Run one (method, seed) of a config; returns ``{"rows": [...], "U": ndarray, "V": ndarray}``.

    ``checkpoint``: a file to save state to every ``cfg.checkpoint_every`` logged steps and to
    resume from if it exists. ``progress``: a callable receiving the number of logged steps done.

    Parameters
    ----------
    cfg : Config
    method : str
        One of ``cfg.methods``.
    seed : int
        One of ``cfg.seeds``.
    checkpoint : str or path-like, optional
        The checkpoint file.
    progress : callable, optional

    Returns
    -------
    dict
        ``rows`` (the logged metrics), ``U``, ``V`` (the final embeddings), ``stopped`` (``stop_distance`` reached);
        with iSogCLR (``sogclr`` with individual temperatures) also ``tau``, the final ``(K, N)`` temperatures.

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite (the run diverged).
    """
    T = target_gram(cfg.N, cfg.d, cfg.target, cfg.objective())
    sel = make_selector(UPDATE_RULES.get(method, method), cfg.N, cfg.B, seed=seed + 7919, loss=cfg.objective(),
                        **cfg.selector_options(method, seed))
    rule = SogCLR(cfg.objective(), cfg.N, cfg.B, **cfg.sogclr_options()) if method == "sogclr" else None
    temps = (lambda: rule.tau) if (rule is not None and rule.individual) else (lambda: None)  # noqa: E731
    repeats = cfg.N // cfg.B if (cfg.align == "updates" and method in ("full", "all")) else 1
    x_u, x_v = initial_vectors(cfg, seed)
    rows, start, updates = [], 0, 0
    cost = {"selection_seconds": 0.0, "selection_evals": 0, "update_seconds": 0.0}
    if checkpoint is not None and Path(checkpoint).exists():
        st = torch.load(checkpoint, weights_only=False)
        x_u, x_v = st["x_u"].to(cfg.device), st["x_v"].to(cfg.device)
        rows, start, updates = st["rows"], st["step"], st["updates"]
        sel.load_state(st["selector"])
        if rule is not None:
            rule.load_state(st["rule"])
        cost = dict(st["cost"])
        sel.evals = cost["selection_evals"]
    if not rows:
        rows.append({"method": method, "seed": seed, "step": 0, "updates": 0, **cost,
                     **metrics(x_u, x_v, cfg, T, temps())})
    embed = lambda: (_normalize(x_u.detach()), _normalize(x_v.detach()))  # noqa: E731
    stopped = cfg.stop_distance is not None and rows[-1]["gram_distance"] <= cfg.stop_distance
    step = start
    for step in range(start + 1, cfg.steps + 1):
        if stopped:
            break
        for _ in range(repeats):
            targets = sel.epoch(embed)
            while True:
                t0 = time.perf_counter()
                target = next(targets, None)
                t1 = time.perf_counter()
                cost["selection_seconds"] += t1 - t0
                if target is None:
                    break
                xu = x_u.detach().requires_grad_(True)
                xv = x_v.detach().requires_grad_(True)
                if rule is not None:
                    loss = rule.surrogate(_normalize(xu), _normalize(xv), target)
                else:
                    loss = _objective(_normalize(xu), _normalize(xv), target, cfg)
                if not bool(torch.isfinite(loss)):
                    raise FloatingPointError(f"{method} seed {seed}: loss became non-finite at update {updates + 1}; "
                                             "lower lr")
                gu, gv = torch.autograd.grad(loss, (xu, xv))
                x_u = (xu - cfg.lr * gu).detach()
                x_v = (xv - cfg.lr * gv).detach()
                updates += 1
                cost["update_seconds"] += time.perf_counter() - t1
        cost["selection_evals"] = sel.evals
        if step % cfg.log_every == 0 or step == cfg.steps:
            rows.append({"method": method, "seed": seed, "step": step, "updates": updates, **cost,
                         **metrics(x_u, x_v, cfg, T, temps())})
            if not all(math.isfinite(rows[-1][k]) for k in ("full_loss", "all_loss")):
                raise FloatingPointError(f"{method} seed {seed}: loss became non-finite at step {step}; lower lr")
            stopped = cfg.stop_distance is not None and rows[-1]["gram_distance"] <= cfg.stop_distance
        if checkpoint is not None and (step % cfg.checkpoint_every == 0):
            write_torch(checkpoint, {"x_u": x_u.cpu(), "x_v": x_v.cpu(), "rows": rows, "step": step,
                                     "updates": updates, "selector": sel.state(),
                                     "rule": rule.state() if rule is not None else None, "cost": dict(cost)})
        if progress is not None:
            progress(1)
    U, V = embed()
    out = {"rows": rows, "U": U.cpu().numpy(), "V": V.cpu().numpy(), "stopped": stopped}
    if temps() is not None:
        out["tau"] = temps().cpu().numpy()
    return out
