"""Limits and resources shared by the engine modules, named once (each module imports them from here)."""
import contextlib

import torch

from theory._checks import check_int


#: Default working-memory budget of one evaluation (bytes) for chunked computations.
DEFAULT_MEMORY_BUDGET = 256 * 2**20
#: ``family_objective(method='auto')`` enumerates the all-batches family up to this many batches,
#: then uses the exact polynomial formula.
STREAM_LIMIT = 5_000_000
#: Exact OSGD scores every batch at every update; above this many batches it refuses and asks for
#: the sampled variant (``candidates=k``).
OSGD_EXACT_LIMIT = 10**7
#: Intra-op threads of the exact formula (``all_batches_objective(threads=...)``). Its product tree
#: runs thousands of parallel regions, each waiting for its slowest thread: beside one busy process,
#: 2 threads on 2 cores were 2.5-3.3x slower than 1, while quiet they were only 1.2-1.5x faster
#: (``benchmarks/threads.py``). One thread degrades gracefully; pass ``threads=None`` to use torch's
#: setting on a dedicated machine.
FORMULA_THREADS = 1


@contextlib.contextmanager
def intra_op_threads(threads):
    """Run the block with ``threads`` torch intra-op threads (a positive int; None: unchanged), then restore."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(check_int("threads", threads, low=1))
    try:
        yield
    finally:
        torch.set_num_threads(before)
