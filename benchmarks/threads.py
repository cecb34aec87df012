"""The exact formula under thread oversubscription: 1 vs 2 intra-op threads, quiet and beside a busy process.

A busy process (a pure-Python loop) occupies one core while the formula runs. Many small OpenMP
regions then wait for a descheduled worker thread, so more threads can be much slower. Prints the
median of value+gradient over repeats for each (size, threads, load) and the ratios, in one run.
Run: python benchmarks/threads.py
"""
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import median_time  # noqa: E402

from theory import normalize_rows  # noqa: E402
from simulations import all_batches_objective  # noqa: E402

BUSY = "import time\nt = time.time()\nwhile time.time() - t < 600: pass\n"


def case(N, B, threads, repeats=3):
    rng = np.random.default_rng(0)
    U = torch.tensor(normalize_rows(rng.standard_normal((N, 16))))
    V = torch.tensor(normalize_rows(rng.standard_normal((N, 16))))

    def run():
        a, b = U.clone().requires_grad_(True), V.clone().requires_grad_(True)
        all_batches_objective(a, b, B, threads=threads).backward()
    return median_time(run, repeats=repeats)


def main():
    sizes = [(128, 32), (256, 32)]
    print(f"torch {torch.__version__}; cores {torch.get_num_threads()}; formula value+grad, float64; median of 3")
    results = {}
    for load in ("quiet", "one busy process"):
        busy = subprocess.Popen([sys.executable, "-c", BUSY]) if load != "quiet" else None
        time.sleep(0.5)
        try:
            for N, B in sizes:
                for th in (1, 2):
                    t = case(N, B, th)
                    results[(load, N, B, th)] = t
                    print(f"{load:<18} N={N:<4} B={B:<3} threads={th:<5} {t:8.2f} s", flush=True)
        finally:
            if busy is not None:
                busy.kill()
    for N, B in sizes:
        q1, q2 = results[("quiet", N, B, 1)], results[("quiet", N, B, 2)]
        l1, l2 = results[("one busy process", N, B, 1)], results[("one busy process", N, B, 2)]
        print(f"N={N}, B={B}: 2 threads / 1 thread: quiet {q2 / q1:.2f}, loaded {l2 / l1:.2f}; "
              f"loaded / quiet: 1 thread {l1 / q1:.2f}, 2 threads {l2 / q2:.2f}")


if __name__ == "__main__":
    main()
