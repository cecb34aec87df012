"""Experiment configuration: :class:`Config`, a frozen dataclass validated at construction (sizes, methods,
optimiser, seeds, the loss and its parameters, device and dtype), so that a run that would fail mid-way is
refused before any work."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from theory._checks import check_batch_size, check_int, check_positive_float

from simulations.engine.limits import OSGD_EXACT_LIMIT
from simulations.selection import METHODS, PARTITION_METHODS, SUPER_BATCH_METHODS, check_chunks, check_super_batch
from simulations.selection.learnability import REFERENCES
from simulations.training.sogclr import (UPDATE_RULES, check_gamma, check_temperature_options, robust_temperature,
                                         sogclr_form)

TARGETS = ("auto", "etf", "cross_polytope", "none")


def check_device(device: str) -> str:
    """``'cpu'`` or ``'cuda'``/``'cuda:K'``; CUDA must be available.

    Parameters
    ----------
    device : str

    Returns
    -------
    str
        ``device`` itself.

    Raises
    ------
    ValueError
        For another string, or CUDA requested where it is not available.
    """
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda[:K]', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but CUDA is not available on this machine; use device='cpu'")
    return device


@dataclass(frozen=True)
class Config:
    """One experiment: sizes, methods, optimiser, seeds. Validated at construction (ValueError).

    ``steps`` counts epochs of the selector (``N/B`` updates for the partition methods, one for ``full`` and
    ``all``; the command line calls it ``--epochs``).

    Parameters
    ----------
    N : int
        Number of pairs, >= 2.
    d : int
        Embedding dimension, >= 1.
    B : int, default=2
        Batch size, ``2 <= B <= N``; the partition methods need ``B | N``.
    methods : tuple of str, default=('full', 'all', 'fixed', 'shuffle', 'osgd', 'sc')
        Selection methods (:data:`simulations.selection.METHODS`).
    steps : int, default=500
        Epochs per run, >= 1.
    lr : float, default=0.5
        SGD learning rate, > 0.
    seeds : tuple of int, default=(0,)
        Distinct seeds, >= 0; one run per method and seed.
    loss : str, default='infonce'
        A registered loss name.
    loss_params : tuple of (str, value) pairs, default=()
        The loss's parameters.
    plugins : tuple of str, default=()
        Python files that register losses, loaded before ``loss`` is looked up.
    device : str, default='cpu'
        ``'cpu'`` or ``'cuda[:K]'``.
    dtype : {'float64', 'float32'}, default='float64'
    align : {'epochs', 'updates'}, default='epochs'
        Compare at equal epochs (the authors' x-axis) or at equal numbers of updates.
    log_every : int, default=1
        Log the metrics every ``log_every`` epochs, >= 1.
    checkpoint_every : int, default=50
        Checkpoint every ``checkpoint_every`` logged steps, >= 1.
    osgd_candidates : int or None, default=None
        OSGD's sampled variant: score this many random batches per update (None: all ``C(N, B)``).
    osgd_top : int, default=1
        OSGD: step on the ``osgd_top`` highest-loss candidates, ``1 <= osgd_top <= osgd_candidates``.
    init : {'gaussian', 'angles'}, default='gaussian'
        Initial vectors: independent Gaussians, or ``x_u = x_v`` at ``init_angles_deg`` (``d = 2``).
    init_angles_deg : tuple of float, default=()
        The ``N`` angles (degrees) of ``init='angles'``.
    target : {'auto', 'etf', 'cross_polytope', 'none'}, default='auto'
        The Gram the distance metric measures against (:func:`simulations.training.loop.target_gram`).
    stop_distance : float or None, default=None
        Stop a run once its Gram distance is at most this (None: run every step).

    sogclr_gamma : float, default=0.9
        SogCLR's moving-average weight of the per-sample estimates, in ``(0, 1]`` (unused for pair-sum losses).
    sogclr_temperatures : {'fixed', 'individual'}, default='fixed'
        ``'individual'``: iSogCLR (Qiu et al., ICML 2023), one temperature per anchor term and sample learned with
        the embeddings on the robust objective (:mod:`simulations.training.sogclr`); the loss must have
        :meth:`~theory.Loss.robust_form` (InfoNCE, DCL) and its ``tau`` (the initial value) must lie in
        ``[sogclr_tau_min, sogclr_tau_max]``. The logged rows then add ``robust_objective`` (at the run's temperatures:
        the learned ones for ``sogclr``, the loss's ``tau`` for the other methods), ``robust_profile`` (minimized over
        the temperatures) and ``robust_grad_norm`` (Riemannian gradient norm of the profile).
    sogclr_rho : float, default=0.3
        iSogCLR's KL radius ``rho`` of the robust objective, >= 0 (LibAUC's ``rho``).
    sogclr_eta : float, default=0.01
        iSogCLR's step size of the temperatures, > 0 (LibAUC's ``eta``).
    sogclr_beta : float, default=0.9
        iSogCLR's weight of the new temperature gradient in its moving average, in ``(0, 1]`` (LibAUC's ``beta``).
    sogclr_tau_min : float, default=0.05
        iSogCLR's lower bound of the temperatures, ``0 < sogclr_tau_min < sogclr_tau_max``.
    sogclr_tau_max : float, default=0.7
        iSogCLR's upper bound of the temperatures, finite.
    super_batch : int or None, default=None
        ``jest``/``rho``: candidates per update, ``B < super_batch <= N`` (None: ``min(N, 2B)``).
    jest_chunks : int or None, default=None
        ``jest``: chunks of the joint selection, dividing ``B`` (None: ``B``, one pair per chunk).
    reference : {'fullbatch', 'none'}, default='fullbatch'
        ``jest``/``rho`` reference model: ``reference_steps`` full-batch gradient steps at ``lr`` from an
        independent Gaussian start, or reference loss 0.
    reference_steps : int, default=300
        Full-batch steps of the reference model, >= 1.

    The selection methods' options are validated only when their method is run.

    Raises
    ------
    ValueError
        For any field out of range, an unknown method or loss, or a combination that would fail mid-run.
    """

    N: int
    d: int
    B: int = 2
    methods: tuple = ("full", "all", "fixed", "shuffle", "osgd", "sc")
    steps: int = 500
    lr: float = 0.5
    seeds: tuple = (0,)
    loss: str = "infonce"
    loss_params: tuple = ()
    plugins: tuple = ()
    device: str = "cpu"
    dtype: str = "float64"
    align: str = "epochs"
    log_every: int = 1
    checkpoint_every: int = 50
    osgd_candidates: int | None = None
    osgd_top: int = 1
    init: str = "gaussian"
    init_angles_deg: tuple = field(default=())
    target: str = "auto"
    stop_distance: float | None = None
    sogclr_gamma: float = 0.9
    sogclr_temperatures: str = "fixed"
    sogclr_rho: float = 0.3
    sogclr_eta: float = 0.01
    sogclr_beta: float = 0.9
    sogclr_tau_min: float = 0.05
    sogclr_tau_max: float = 0.7
    super_batch: int | None = None
    jest_chunks: int | None = None
    reference: str = "fullbatch"
    reference_steps: int = 300

    def __post_init__(self):
        check_batch_size(self.N, self.B)
        check_int("d", self.d, low=1)
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "seeds", tuple(check_int("seeds", s, low=0) for s in self.seeds))
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct (a repeated seed repeats a run), got {list(self.seeds)}")
        object.__setattr__(self, "init_angles_deg", tuple(float(a) for a in self.init_angles_deg))
        if not self.methods:
            raise ValueError("methods must name at least one method")
        for m in self.methods:
            if m not in METHODS and m not in UPDATE_RULES:
                raise ValueError(f"unknown method {m!r}; methods must be among {METHODS + tuple(UPDATE_RULES)}")
            if UPDATE_RULES.get(m, m) in PARTITION_METHODS and self.N % self.B:
                raise ValueError(f"method {m!r} uses partitions and needs B to divide N; got N={self.N}, B={self.B}")
        if not self.seeds:
            raise ValueError("seeds must hold at least one seed")
        check_int("steps", self.steps, low=1)
        check_positive_float("lr", self.lr)
        object.__setattr__(self, "plugins", tuple(str(p) for p in self.plugins))
        params = dict(self.loss_params)
        if len(params) != len(tuple(self.loss_params)):
            raise ValueError(f"loss_params must name each parameter once, got {self.loss_params!r}")
        object.__setattr__(self, "loss_params", tuple(sorted(params.items())))
        obj = self.objective()                                 # validates loss and its parameters
        if "dataloader" in self.methods and self.N % self.B and self.N % self.B < obj.min_batch:
            raise ValueError(f"loss {obj.name!r} needs batches of size >= {obj.min_batch}, but method 'dataloader' leaves a "
                             f"last batch of {self.N % self.B} (N={self.N}, B={self.B})")
        from simulations.engine.limits import STREAM_LIMIT
        if obj.kernel is None and not obj.has_pair_form and math.comb(self.N, self.B) > STREAM_LIMIT:
            raise ValueError(f"loss {obj.name!r} has no closed all-C(N,B) objective and C(N={self.N}, B={self.B}) = "
                             f"{math.comb(self.N, self.B):.3g} batches exceed the streaming limit {STREAM_LIMIT:.0e} "
                             "(the all_loss metric needs it); use a smaller N or B")
        check_device(self.device)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.align not in ("epochs", "updates"):
            raise ValueError(f"align must be 'epochs' or 'updates', got {self.align!r}")
        check_int("log_every", self.log_every, low=1)
        check_int("checkpoint_every", self.checkpoint_every, low=1)
        if "osgd" in self.methods and self.osgd_candidates is None and math.comb(self.N, self.B) > OSGD_EXACT_LIMIT:
            raise ValueError(f"method 'osgd' scores all C(N={self.N}, B={self.B}) = {math.comb(self.N, self.B):.3g} batches "
                             f"per update (limit {OSGD_EXACT_LIMIT:.0e}); set osgd_candidates (--osgd-candidates K)")
        if self.osgd_candidates is not None:
            check_int("osgd_candidates", self.osgd_candidates, low=1, high=math.comb(self.N, self.B))
            check_int("osgd_top", self.osgd_top, low=1, high=self.osgd_candidates)
        if self.init not in ("gaussian", "angles"):
            raise ValueError(f"init must be 'gaussian' or 'angles', got {self.init!r}")
        if self.init == "angles" and (self.d != 2 or len(self.init_angles_deg) != self.N):
            raise ValueError(f"init='angles' needs d = 2 and N = {self.N} angles, got d={self.d}, {len(self.init_angles_deg)} angles")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.target == "cross_polytope" and self.N > 2 * self.d:
            raise ValueError(f"target 'cross_polytope' needs N <= 2d; got N={self.N}, d={self.d}")
        if self.target == "etf" and self.d < self.N - 1:
            raise ValueError(f"target 'etf' needs d >= N-1; got N={self.N}, d={self.d}")
        if self.stop_distance is not None:
            check_positive_float("stop_distance", self.stop_distance)
        object.__setattr__(self, "sogclr_gamma", check_gamma(self.sogclr_gamma))
        opts = check_temperature_options(self.sogclr_temperatures, self.sogclr_rho, self.sogclr_eta, self.sogclr_beta,
                                         self.sogclr_tau_min, self.sogclr_tau_max)
        for name in ("rho", "eta", "beta", "tau_min", "tau_max"):
            object.__setattr__(self, f"sogclr_{name}", opts[name])
        if "sogclr" in self.methods:
            sogclr_form(obj)
        if self.individual_temperatures:
            robust_temperature(obj, self.sogclr_tau_min, self.sogclr_tau_max)
        if "matching" in self.methods and self.B != 2:
            raise ValueError(f"method 'matching' is the exact maximum-loss batching for B = 2 (a perfect matching); "
                             f"got B={self.B}")
        if self.reference not in REFERENCES:
            raise ValueError(f"reference must be one of {REFERENCES}, got {self.reference!r}")
        check_int("reference_steps", self.reference_steps, low=1)
        if any(m in SUPER_BATCH_METHODS for m in self.methods):
            check_super_batch(self.N, self.B, self.super_batch)
            if self.jest_chunks is not None:
                check_chunks(self.B, self.jest_chunks)

    @property
    def individual_temperatures(self) -> bool:
        """True when ``sogclr_temperatures='individual'`` (iSogCLR): the robust metrics are logged for every method."""
        return self.sogclr_temperatures == "individual"

    def sogclr_options(self) -> dict:
        """Keyword arguments of :class:`simulations.training.sogclr.SogCLR` beyond the loss and sizes.

        Returns
        -------
        dict
            ``{'gamma', 'temperatures', 'rho', 'eta', 'beta', 'tau_min', 'tau_max'}`` from the ``sogclr_*`` fields.
        """
        return {"gamma": self.sogclr_gamma, "temperatures": self.sogclr_temperatures, "rho": self.sogclr_rho,
                "eta": self.sogclr_eta, "beta": self.sogclr_beta, "tau_min": self.sogclr_tau_min,
                "tau_max": self.sogclr_tau_max}

    def selector_options(self, method: str, seed: int) -> dict:
        """Keyword arguments of :func:`simulations.selection.make_selector` for ``method`` in the run of ``seed``
        (``jest``/``rho``: the reference model, computed here).

        Parameters
        ----------
        method : str
            A selection method (:data:`simulations.selection.METHODS`).
        seed : int
            The run's seed; the ``'fullbatch'`` reference model is seeded by ``seed + 104729`` (a start independent
            of the learner's).

        Returns
        -------
        dict
            ``osgd``: ``{'candidates', 'top'}``; ``jest``/``rho``: ``{'super_batch', 'chunks', 'reference'}`` with
            ``reference`` the ``(U_ref, V_ref)`` of :func:`simulations.selection.learnability.reference_model`
            (``reference_steps`` full-batch steps at ``lr``) or None (``reference='none'``); ``{}`` for every other
            method.

        Raises
        ------
        FloatingPointError
            If the reference model's full-batch loss becomes non-finite (lower ``lr``).
        """
        if method == "osgd":
            return {"candidates": self.osgd_candidates, "top": self.osgd_top}
        if method not in SUPER_BATCH_METHODS:
            return {}
        ref = None
        if self.reference == "fullbatch":
            from simulations.selection.learnability import reference_model
            ref = reference_model(self.N, self.d, self.objective(), steps=self.reference_steps, lr=self.lr,
                                  seed=seed + 104729, dtype=getattr(torch, self.dtype), device=self.device)
        return {"super_batch": self.super_batch, "chunks": self.jest_chunks, "reference": ref}

    def objective(self):
        """The :class:`theory.Loss` of the runs: the registered loss ``loss`` with ``loss_params`` (e.g.
        ``(("tau", 0.1), ("bias", -10.0))``), after loading the ``plugins`` files (a plugin's loss runs the
        same way in every worker process).

        Returns
        -------
        theory.Loss
        """
        from theory.losses import load_plugin, make_loss
        for path in self.plugins:
            load_plugin(path)
        return make_loss(self.loss, **dict(self.loss_params))

    def to_json(self) -> dict:
        """The config as a JSON-ready dict (every field).

        Returns
        -------
        dict
        """
        d = asdict(self)
        d["loss_params"] = [list(p) for p in d["loss_params"]]
        d["plugins"] = list(d["plugins"])
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Config":
        """The config written by :meth:`to_json`.

        Parameters
        ----------
        d : dict

        Returns
        -------
        Config

        Raises
        ------
        ValueError
            For unknown fields or invalid values.
        """
        d = dict(d)
        if "loss_params" in d:
            d["loss_params"] = tuple(tuple(p) for p in d["loss_params"])
        if "plugins" in d:
            d["plugins"] = tuple(d["plugins"])
        return cls(**d)


