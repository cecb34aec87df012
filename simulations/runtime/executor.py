"""Where independent tasks run: in this process, in a local process pool, or on a Dask cluster.

A *task* is a top-level function and a JSON-able dict of parameters; it returns a JSON-able dict.
Every task runs inside :func:`run_isolated`, which pins torch and the BLAS libraries to one thread
for its duration, so a task's numbers do not depend on where it runs (same seeds, same reductions,
bit for bit). Executors only run tasks and hand back results; the caller (the client) is the only
writer of a results folder (:func:`simulations.runtime.tasks.run_tasks`).

==========================  ===============================================================
``scheduler``               executor
==========================  ===============================================================
``"sequential"``            in this process, one task after another (debugging)
``"local"`` (default)       a process pool sized to the machine (``workers``); no server
``"tcp://HOST:PORT"``       an existing ``dask.distributed`` scheduler (the ``[distributed]`` extra)
a ``distributed.Client``    that client's cluster
==========================  ===============================================================

On Dask, a task whose worker dies is rerun by the scheduler on another worker (a task that raises is
not retried: the tasks are deterministic); results come back as they complete and each is stored
once by the client. A worker whose code differs from the client's refuses to run
(:class:`StaleWorkerError`), since results are stored under the client's code version.

References
----------
Dask.distributed documentation, "Futures" and "Resilience" (distributed.dask.org).
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

SCHEDULERS = ("local", "sequential", "tcp://HOST:PORT", "a dask.distributed.Client")
#: How long a ``tcp://`` scheduler may take to answer before the address counts as unreachable.
CONNECT_TIMEOUT_S = 10


def run_isolated(fn, params):
    """``fn(params)`` with one intra-op torch thread and one BLAS thread (restored afterwards).

    Parameters
    ----------
    fn : callable
    params : object

    Returns
    -------
    object
        ``fn(params)``.
    """
    import torch
    from threadpoolctl import threadpool_limits
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            return fn(params)
    finally:
        torch.set_num_threads(before)


def default_workers() -> int:
    """One worker per available core.

    Returns
    -------
    int
    """
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


class Executor(ABC):
    """Runs ``fn`` on items; :meth:`run` yields ``(index, result)`` as tasks complete."""

    name = "base"

    @abstractmethod
    def run(self, fn, items, keys=None):
        """Yield ``(index into items, fn(items[index]))`` in completion order; ``keys`` name the tasks.

        Parameters
        ----------
        fn : callable
            A picklable function of one task's parameters.
        items : list
            The tasks' parameters.
        keys : list of str, optional
            The tasks' names (content addresses).

        Yields
        ------
        tuple
            ``(index, result)``.
        """

    def close(self):
        """Release the executor's resources (processes, a cluster it started).
        """
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Sequential(Executor):
    """In this process, in order."""

    name = "sequential"

    def run(self, fn, items, keys=None):
        for i, p in enumerate(items):
            yield i, run_isolated(fn, p)


class LocalPool(Executor):
    """A ``ProcessPoolExecutor`` of ``workers`` processes (``workers = 1``: in this process).

    Parameters
    ----------
    workers : int or None, default=None
        Number of processes, >= 1 (None: one per core).
    """

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = default_workers() if workers is None else workers

    def run(self, fn, items, keys=None):
        items = list(items)
        if self.workers <= 1 or len(items) <= 1:
            yield from Sequential().run(fn, items)
            return
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(items)))
        try:
            pending = {pool.submit(run_isolated, fn, p): i for i, p in enumerate(items)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield pending.pop(f), f.result()
        finally:                                     # an error or an abandoned sweep: drop the queued tasks now
            pool.shutdown(wait=True, cancel_futures=True)


class StaleWorkerError(ValueError):
    """A worker's code differs from the client's (it was started before an edit, or from another checkout)."""


def _run_checked(fn, params, code: str):
    """:func:`run_isolated` on a cluster worker, after checking that the worker runs the client's code:
    a result is stored under a key that names the client's code version, so stale code must not run."""
    from distributed import get_worker

    from simulations._code import code_version
    threads = get_worker().state.nthreads
    if threads != 1:
        raise ValueError(f"this Dask worker runs {threads} threads; tasks pin process-wide torch/BLAS thread settings, "
                         "so start workers with one thread each (dask worker ... --nthreads 1, or "
                         "LocalCluster(threads_per_worker=1))")
    mine = code_version()
    if mine != code:
        raise StaleWorkerError(f"this worker runs code version {mine}, the client {code}: restart the Dask workers "
                               "from the client's checkout")
    return run_isolated(fn, params)


class DaskExecutor(Executor):
    """Tasks as futures on a ``dask.distributed`` cluster; ``keys`` (content addresses) name them, so a
    resubmitted task is the same task. A worker lost mid-task makes the scheduler rerun it.

    Parameters
    ----------
    client : distributed.Client
    owned : bool, default=False
        Close the client with the executor.
    retries : int, default=0
        Retries of a failed task, >= 0.
    """

    name = "dask"

    def __init__(self, client, owned: bool = False, retries: int = 0):
        self.client, self.owned, self.retries = client, owned, retries

    def run(self, fn, items, keys=None):
        from distributed import as_completed
        items = list(items)
        keys = [f"minibatch-cl-{k}" for k in keys] if keys is not None else None
        from simulations._code import code_version
        code = code_version()
        futures = [self.client.submit(_run_checked, fn, p, code, key=None if keys is None else keys[i], pure=False,
                                      retries=self.retries) for i, p in enumerate(items)]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            with self.client.as_current():          # a client made with set_as_default=False (tcp://) too
                done = as_completed(futures)
            for f in done:
                yield index[f.key], f.result()
        finally:
            for f in futures:
                f.release()

    def close(self):
        if self.owned:
            self.client.close()


def make_executor(scheduler=None, workers: int | None = None) -> Executor:
    """The executor for ``scheduler`` (see the module table); ValueError for anything else or an
    unreachable ``tcp://`` address (the CLI turns it into exit status 2).

    Parameters
    ----------
    scheduler : str, distributed.Client, Executor or None, default=None
        ``'local'``, ``'sequential'``, ``'tcp://HOST:PORT'``, a client or an executor (None: ``'local'``).
    workers : int or None, default=None
        Local processes, >= 1.

    Returns
    -------
    Executor

    Raises
    ------
    ValueError
        For an unknown scheduler or an unreachable address.
    """
    if isinstance(scheduler, Executor):
        return scheduler
    if scheduler == "sequential" or (scheduler is None and workers == 1):
        return Sequential()
    if scheduler is None or scheduler == "local":
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        return LocalPool(workers)
    if isinstance(scheduler, str) and scheduler.startswith("tcp://"):
        try:
            from distributed import Client
        except ImportError:
            raise ValueError("--scheduler tcp://... needs dask.distributed: pip install -e '.[distributed]'") from None
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S} s: {exc}") from None
        return DaskExecutor(client, owned=True)
    if type(scheduler).__name__ == "Client" and type(scheduler).__module__.startswith("distributed"):
        return DaskExecutor(scheduler)
    raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
