"""Limits and resources shared by the engine modules, named once (each module imports them from here)."""
import contextlib

import torch

from theory._checks import check_int


#: Default working-memory budget of one evaluation (bytes) for chunked computations.
DEFAULT_MEMORY_BUDGET = 256 * 2**20
#: ``simulations.objective(method='auto')`` enumerates the all-batches family up to this many batches,
#: then uses the exact polynomial formula.
STREAM_LIMIT = 5_000_000
#: Exact OSGD scores every batch at every update; above this many batches it refuses and asks for
#: the sampled variant (``candidates=k``).
OSGD_EXACT_LIMIT = 10**7
#: Workers of the exact formula (``all_batches_objective(threads=...)``). None: as many as torch's
#: intra-op threads (all cores unless changed; one inside the executors' ``run_isolated``). The
#: numba kernel hands out anchors in dynamic chunks, so a core taken by another process costs
#: about that core's share (``benchmarks/exact_all.py``, section 4, measures it beside a busy
#: process). The previous torch-only tree ran thousands of parallel regions per call and was
#: 2.5-3.3x slower on 2 threads than on 1 beside a busy process, which is why it defaulted to 1.
FORMULA_THREADS = None


@contextlib.contextmanager
def intra_op_threads(threads):
    """Run the block with ``threads`` torch intra-op threads (a positive int; None: unchanged), then restore.

    Parameters
    ----------
    threads : int or None

    Yields
    ------
    None
    """
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(check_int("threads", threads, low=1))
    try:
        yield
    finally:
        torch.set_num_threads(before)
