"""Speed-up of the task layer: a certificate sweep on a local pool of 1 vs 2 workers, quiet and beside
a busy process (a pure-Python loop on one core). Prints the median wall time of ``run_sweep`` over
repeats (a fresh results folder each time, so nothing is cached) and the ratios, in one run.
Run: python benchmarks/scheduler.py [--tasks 300]
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from simulations.runtime.executor import LocalPool
from simulations.runtime.sweep import SweepSpec, run_sweep

BUSY = "import time\nt = time.time()\nwhile time.time() - t < 900: pass\n"
SPEC = SweepSpec(kind="certificate", N=(4, 5, 6, 7, 8), B=(2, 3, 4), family=("all", "partition", "random", "dataloader"),
                 loss_params={"tau": (0.2, 1.0, 5.0)}, seeds=(0, 1), solver=True)


def once(workers: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        run_sweep(SPEC, d, scheduler=LocalPool(workers))
        return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    n = len(SPEC.tasks()[0])
    print(f"certificate sweep of {n} tasks (N 4..8, B 2..4, 4 families, 3 tau, 2 seeds; relaxation solved); "
          f"median of {args.repeats}")
    res = {}
    for load in ("quiet", "one busy process"):
        busy = subprocess.Popen([sys.executable, "-c", BUSY]) if load != "quiet" else None
        try:
            for w in (1, 2):
                res[load, w] = statistics.median(once(w) for _ in range(args.repeats))
                print(f"  {load:<17} workers={w}: {res[load, w]:6.1f} s", flush=True)
        finally:
            if busy is not None:
                busy.kill()
        print(f"  {load:<17} speed-up 1 -> 2 workers: {res[load, 1] / res[load, 2]:.2f}x")


if __name__ == "__main__":
    main()
