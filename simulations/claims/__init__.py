"""The claims of the toolkit: one module per claim, found here.

Every module of this package whose name does not start with ``_`` and that defines ``CLAIM`` is a claim:
it holds the check function, the declaration ``CLAIM = Claim(...)`` (id, statement, what the source says —
paper section or figure, or "our derivation" —, the tests that guard it, its figure, its sizes: ``tiny``
for the test-suite, ``quick`` for ``minibatch-cl claims`` and ``reproduce --quick``, ``full`` for
``--full``), its report table and its expected verdict at the tiny size. :data:`CLAIMS` lists them in
the order of their ``order``; ``claims``, ``reproduce``, the report and the tests all read it, so adding a
claim is adding one module.

    >>> from simulations.claims import run_claims
    >>> [v.verdict for v in run_claims(["pair_balance_law"], size="tiny")]
    ['confirmed']

Private modules hold what several claims share: :mod:`._verdict` (:class:`Verdict`,
:func:`verdict_over_sweep`, solver tolerances), :mod:`._losses` (the sweeps and certified decisions of the
losses beyond InfoNCE), :mod:`._families`, :mod:`._experiments` and :mod:`._tables`. :mod:`.report` writes
paper_reproduction.md and :mod:`.reproduce` runs everything.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from simulations.runtime.executor import default_workers, make_executor
from simulations.io import folder_lock
from simulations.runtime.tasks import run_tasks
from simulations.claims._verdict import VERDICTS, Verdict, verdict_over_sweep

SIZES = ("tiny", "quick", "full")
REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = "tests/test_claims.py::test_every_claim_gives_its_verdict_at_tiny_size"
#: Report sections.
INFONCE = "Claims about InfoNCE (the paper's loss)"
BEYOND = "Beyond InfoNCE: SigLIP, DCL, DHEL, KCL"
SELECTION = "Small batches and batch selection beyond the paper: SogCLR, matching, k-means, JEST, RHO-LOSS"
LABELS = "Labels: supervised contrastive loss, duplicated pairs and class-aware samplers"


@dataclass(frozen=True)
class Claim:
    """One claim. ``check(**sizes[size], **context)`` returns a Verdict, where ``context`` holds
    whichever of ``out`` (a results folder), ``device``, ``progress``, ``workers`` and ``scheduler`` the
    check accepts (read from its signature).

    ``order`` places the claim in :data:`CLAIMS` (and the report); ``tables(verdict_record)`` returns the
    markdown lines of its report table (:meth:`table`); ``expected_tiny`` is the verdict the claim gives at
    its tiny size and ``expected_fails_tiny`` the sweep points where it then fails (``numbers["fails_for"]``;
    empty: not pinned), both asserted by the test-suite.

    Parameters
    ----------
    id : str
        The claim's id (its module's name).
    statement : str
        What is claimed, as exactly as the evidence allows.
    source : str
        Where it comes from (a section or figure of a paper, or "our derivation").
    check : callable
        The check; returns a :class:`Verdict`.
    extra_tests : tuple of str
        Tests that guard the claim beyond the tiny-size run (``path::name``).
    sizes : dict
        ``{"tiny", "quick", "full"}``: the check's keyword arguments at each size (``{}``: its defaults).
    figure : str, default=''
        The figure's file name, if it has one.
    section : str, default="Claims about InfoNCE (the paper's loss)"
        The report's section.
    order : int, default=0
    tables : callable or None, default=None
    expected_tiny : str, default=''
    expected_fails_tiny : tuple, default=()
    """

    id: str
    statement: str
    source: str
    check: Callable
    extra_tests: tuple
    sizes: dict
    figure: str = ""
    section: str = INFONCE
    order: int = 0
    tables: Callable | None = None
    expected_tiny: str = ""
    expected_fails_tiny: tuple = ()

    def __post_init__(self):
        if self.expected_tiny not in VERDICTS:
            raise ValueError(f"claim {self.id}: expected_tiny must be one of {VERDICTS}, got {self.expected_tiny!r}")
        object.__setattr__(self, "expected_fails_tiny", tuple(self.expected_fails_tiny))

    @property
    def tests(self) -> tuple:
        """The parametrised tiny-size test of every claim, then the claim's own tests."""
        return (f"{TINY}[{self.id}]",) + tuple(self.extra_tests)

    @property
    def code(self) -> str:
        """``path::function`` of the check, relative to the repository."""
        path = Path(inspect.getsourcefile(self.check)).resolve()
        try:
            path = path.relative_to(REPO_ROOT)
        except ValueError:
            pass
        return f"{path.as_posix()}::{self.check.__qualname__}"

    def table(self, verdict: dict) -> list[str]:
        """Markdown lines of the key numbers of ``verdict`` (a Verdict record, as in verdicts.json); none by default.

        Parameters
        ----------
        verdict : dict

        Returns
        -------
        list of str
        """
        return list(self.tables(verdict)) if self.tables is not None else []

    def settings(self, size: str, device: str = "cpu") -> dict:
        """The check's keyword arguments at ``size`` on ``device`` (empty: the check's defaults).

        Parameters
        ----------
        size : {'tiny', 'quick', 'full'}
        device : str, default='cpu'

        Returns
        -------
        dict
        """
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {size!r}")
        key = "full_cpu" if size == "full" and "full_cpu" in self.sizes and not device.startswith("cuda") else size
        return dict(self.sizes.get(key, {}))

    def command(self, size: str) -> str:
        """The command that reruns the claim alone at ``size``.

        Parameters
        ----------
        size : {'tiny', 'quick', 'full'}

        Returns
        -------
        str
        """
        return f"minibatch-cl claims --only {self.id} --json" + (" --full" if size == "full" else "")

    @property
    def shippable(self) -> bool:
        """True if the check writes no files and runs no tasks of its own: the whole claim is then one task
        that any worker can run (:func:`claim_task`); otherwise it runs on the client and sends its inner
        tasks to the executor."""
        return not {"out", "workers", "scheduler"} & set(inspect.signature(self.check).parameters)

    def run(self, size: str = "quick", *, out=None, device: str = "cpu", progress: bool = False,
            workers: int | None = None, scheduler=None) -> Verdict:
        """Run the claim's check at ``size`` and fill the verdict's declaration fields.

        Parameters
        ----------
        size : {'tiny', 'quick', 'full'}, default='quick'
        out : str or path-like, optional
            Results folder (checks that write files).
        device : str, default='cpu'
        progress : bool, default=False
        workers : int or None, default=None
        scheduler : str, distributed.Client or None, default=None

        Returns
        -------
        Verdict

        Raises
        ------
        RuntimeError
            If the check returns the verdict of another claim.
        """
        kwargs = self.settings(size, device)
        workers = (1 if size == "tiny" else default_workers()) if workers is None else workers
        context = {"out": out, "device": device, "progress": progress, "workers": workers, "scheduler": scheduler}
        accepted = inspect.signature(self.check).parameters
        kwargs.update({k: v for k, v in context.items() if k in accepted})
        v = self.check(**kwargs)
        if v.id != self.id:
            raise RuntimeError(f"check {self.code} returned a verdict for {v.id!r}, not {self.id!r}")
        return replace(v, statement=self.statement, source=self.source, command=self.command(size), code=self.code,
                       test=" ; ".join(self.tests), figure=self.figure)


def _discover() -> dict[str, Claim]:
    """Every claim module of this package (name without a leading ``_``, defining ``CLAIM``), by ``order``."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        claim = getattr(module, "CLAIM", None)
        if claim is None:
            continue
        if not isinstance(claim, Claim) or claim.id != info.name:
            raise RuntimeError(f"{module.__name__}.CLAIM must be a Claim with id {info.name!r}, got {claim!r}")
        found.append(claim)
    orders = [c.order for c in found]
    if len(set(orders)) != len(orders) or any(not isinstance(o, int) or o <= 0 for o in orders):
        raise RuntimeError(f"every claim needs its own positive integer order, got {sorted(zip(orders, (c.id for c in found)))}")
    return {c.id: c for c in sorted(found, key=lambda c: c.order)}


def check_ids(ids) -> list[str]:
    """Validate claim ids (ValueError naming the unknown ones and the known ones).

    Parameters
    ----------
    ids : sequence of str

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        For unknown ids.
    """
    ids = list(ids)
    bad = [i for i in ids if i not in CLAIMS]
    if bad:
        raise ValueError(f"unknown claim ids {bad}; known: {sorted(CLAIMS)}")
    return ids


def claim_task(params: dict) -> dict:
    """One shippable claim as a task: ``{"id", "size", "device"}`` -> the verdict record (JSON).

    Parameters
    ----------
    params : dict

    Returns
    -------
    dict
    """
    return CLAIMS[params["id"]].run(params["size"], device=params["device"], workers=1).to_json()


def run_claims(only=None, *, size: str = "quick", out=None, device: str = "cpu", progress: bool = False,
               workers: int | None = None, scheduler=None) -> list[Verdict]:
    """Run the claims in ``only`` (default: all, in :data:`CLAIMS` order) at ``size``.

    Experiment claims write into ``out`` (a temporary folder, removed afterwards, when None).
    ``scheduler``: where the tasks run (:func:`simulations.runtime.executor.make_executor`; default ``'local'``,
    ``'sequential'`` at the tiny size).

    Parameters
    ----------
    only : sequence of str or None, default=None
        Claim ids.
    size : {'tiny', 'quick', 'full'}, default='quick'
    out : str or path-like, optional
    device : str, default='cpu'
    progress : bool, default=False
    workers : int or None, default=None
    scheduler : str, distributed.Client or None, default=None

    Returns
    -------
    list of Verdict

    Raises
    ------
    ValueError
        For an unknown id or size, or a locked ``out``.
    """
    ids = check_ids(only) if only else list(CLAIMS)
    kw = dict(size=size, device=device, progress=progress, workers=workers, scheduler=scheduler)
    if out is None:
        with tempfile.TemporaryDirectory(prefix="minibatch-cl-claims-") as tmp:
            return run_claims_unlocked(ids, out=Path(tmp), **kw)
    with folder_lock(out):
        return run_claims_unlocked(ids, out=Path(out), **kw)


def run_claims_unlocked(ids, *, size: str, out: Path, device: str, progress: bool, workers,
                        scheduler=None) -> list[Verdict]:
    """:func:`run_claims` for a caller that already holds the lock on ``out`` (``reproduce``).

    Shippable claims (:attr:`Claim.shippable`) run as tasks on the executor, cached in
    ``out/claims/tasks`` under their content address (code version included); the others run here,
    one after another, and send their own tasks (training runs) to the same executor.

    Parameters
    ----------
    ids : sequence of str
    size : {'tiny', 'quick', 'full'}
    out : pathlib.Path
    device : str
    progress : bool
    workers : int or None
    scheduler : str, distributed.Client or None, default=None

    Returns
    -------
    list of Verdict
    """
    if scheduler is None and size == "tiny":
        scheduler = "sequential"
    ex = make_executor(scheduler, workers)
    try:
        ship = [i for i in ids if CLAIMS[i].shippable]
        if progress and ship:
            print(f"[claims:{size}] {len(ship)} claims as tasks: {', '.join(ship)}", flush=True)
        records = run_tasks([{"id": i, "size": size, "device": device} for i in ship], out / "claims", fn=claim_task,
                            scheduler=ex, progress=progress)
        verdicts = {i: Verdict(**r) for i, r in zip(ship, records)}
        for i in ids:
            if i not in verdicts:
                if progress:
                    print(f"[claims:{size}] {i} ...", flush=True)
                verdicts[i] = CLAIMS[i].run(size, out=out, device=device, progress=progress, workers=workers, scheduler=ex)
    finally:
        if ex is not scheduler:
            ex.close()
    return [verdicts[i] for i in ids]


__all__ = ["Claim", "CLAIMS", "SIZES", "REPO_ROOT", "INFONCE", "BEYOND", "Verdict", "verdict_over_sweep", "check_ids",
           "claim_task", "run_claims", "run_claims_unlocked"]

#: Every claim, by id, in report order (found last: the claim modules import :class:`Claim` from here).
CLAIMS: dict[str, Claim] = _discover()
