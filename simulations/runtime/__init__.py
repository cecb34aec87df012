"""The task runtime: executors (sequential, local pool, Dask), content-addressed resumable tasks, sweeps, and
:func:`simulate` (every run of a config as a task, one results folder)."""
from simulations.runtime.simulate import simulate

__all__ = ["simulate"]
