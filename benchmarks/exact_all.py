"""The exact all-C(N,B) formula against the machine, against the previous algorithm, and against its goals.

One run prints:

1. accuracy and time against streamed enumeration where both run;
2. the machine's limit: float64 matmul GFLOP/s (n = 2048, the formula's thread count), measured here;
3. value+gradient times for N = 64..2048 and B in {8, 32, 64, 128} (B <= N) at tau = 1, and at
   tau = 0.1 for one size; the formula's useful GFLOP/s by the cost model
   ``2 sides x N anchors x Q nodes x 1.5 N (B-1) multiply-adds x 3 (forward + backward) x 2 flop``
   (Q: the nodes the rule actually used), its ratio to matmul, and the speed-up over the previous
   algorithm (``backend='reference'``, on one thread, its shipped default) on the same inputs for
   N <= 1024 (skipped, and said so, where its predicted time exceeds --max-old-seconds);
4. quiet against beside one busy process (a pure-Python loop on one core);
5. the goals: N = 1024, B = 64 value+grad <= 20 s; N = 256, B = 32 <= 1 s; >= 25 % of matmul at N >= 512.

Run: python benchmarks/exact_all.py [--quick] [--device cuda]   (or: minibatch-cl bench exact_all)
"""
import argparse
import math
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import median_time, row  # noqa: E402

from theory import Family, InfoNCE, normalize_rows  # noqa: E402
from simulations import all_batches_objective, objective  # noqa: E402
from simulations.engine.exact_all import DEFAULT_STEP, _gap_max, _reference_grid, quadrature  # noqa: E402

BUSY = "import time\nt = time.time()\nwhile time.time() - t < 900: pass\n"


def pair(N, d=32, seed=0, device="cpu"):
    rng = np.random.default_rng(seed)
    return tuple(torch.tensor(normalize_rows(rng.standard_normal((N, d))), device=device) for _ in range(2))


def value_and_grad(U, V, B, tau=1.0, **kw):
    a, b = U.clone().requires_grad_(True), V.clone().requires_grad_(True)
    all_batches_objective(a, b, B, InfoNCE(tau), **kw).backward()
    if a.device.type == "cuda":
        torch.cuda.synchronize()


def nodes(U, V, B, tau, old=False):
    Z = (U.double() @ V.double().T) / tau
    if old:
        D = (Z - Z.diagonal()[:, None]).fill_diagonal_(-math.inf)
        return len(_reference_grid(D, B, DEFAULT_STEP)[0])
    return len(quadrature(_gap_max(Z), B)[0])


def model_flops(N, B, Q):
    return 2 * N * Q * 1.5 * N * (B - 1) * 3 * 2


def matmul_gflops(device):
    n = 2048
    a = torch.rand(n, n, dtype=torch.float64, device=device)

    def mm():
        a @ a
        if device == "cuda":
            torch.cuda.synchronize()
    return 2 * n ** 3 / median_time(mm, repeats=5) / 1e9


def timed(fn, budget):
    """Median of 3 when one run is short, a single run otherwise."""
    t0 = time.perf_counter()
    fn()
    t = time.perf_counter() - t0
    return median_time(fn, repeats=3, warmup=0) if t < budget else t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="N <= 512, no comparison with the previous algorithm past N = 256")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--max-old-seconds", type=float, default=240.0)
    args = ap.parse_args()
    dev = args.device
    threads = torch.get_num_threads()
    print(f"device {dev}, torch {torch.__version__}, {threads} CPU threads, float64; value + gradient")
    value_and_grad(*pair(16), 4)                                   # compile / load the kernel once

    print("\n1. against streamed enumeration")
    row("case", "enum [s]", "formula [s]", "rel. error", widths=(14, 12, 12, 12))
    for N, B in ((12, 4), (16, 4), (20, 5), (24, 6), (28, 7)):
        U, V = pair(N, 8)
        fam = Family.all(N, B)
        t_e = median_time(lambda: objective(U, V, fam, "infonce", method="enumerate"), repeats=3)
        t_f = median_time(lambda: all_batches_objective(U, V, B), repeats=3)
        e = float(objective(U, V, fam, "infonce", method="enumerate"))
        row(f"C({N},{B})", f"{t_e:.4f}", f"{t_f:.4f}", f"{abs(float(all_batches_objective(U, V, B)) - e) / e:.1e}",
            widths=(14, 12, 12, 12))

    peak = matmul_gflops(dev)
    print(f"\n2. machine limit: float64 matmul (2048 x 2048) {peak:.1f} GFLOP/s on {threads} threads")

    print("\n3. value + gradient (new: backend 'auto'; old: backend 'reference', 1 thread)")
    row("tau  N     B", "Q", "new [s]", "GFLOP/s", "% matmul", "old [s]", "speed-up", widths=(16, 6, 10, 10, 10, 10, 10))
    results, old_times = {}, {}
    Ns = [64, 128, 256, 512] + ([] if args.quick else [1024, 2048])
    cases = [(1.0, N, B) for N in Ns for B in (8, 32, 64, 128) if B <= N] + [(0.1, 512, 32)]
    for tau, N, B in cases:
        U, V = pair(N, device=dev)
        Q = nodes(U, V, B, tau)
        t = timed(lambda: value_and_grad(U, V, B, tau), 5.0)
        gf = model_flops(N, B, Q) / t / 1e9
        results[(tau, N, B)] = (t, gf)
        old = speed = ""
        old_limit = 256 if args.quick else 1024
        if N <= old_limit and dev == "cpu":
            prev = old_times.get((tau, N // 2, B))          # measured, or predicted where skipped
            predicted = 4.5 * prev if prev else 0.0
            if predicted <= args.max_old_seconds:
                t_old = timed(lambda: value_and_grad(U, V, B, tau, backend="reference", threads=1), 5.0)
                old_times[(tau, N, B)] = t_old
                old, speed = f"{t_old:.2f}", f"{t_old / t:.1f}x"
            else:
                old_times[(tau, N, B)] = predicted
                old, speed = f"(~{predicted:.0f})", "skipped"
        row(f"{tau:<4} {N:<5} {B}", Q, f"{t:.3f}", f"{gf:.2f}", f"{100 * gf / peak:.1f}", old, speed,
            widths=(16, 6, 10, 10, 10, 10, 10))
    print(f"   nodes of the previous rule at N = 512, B = 32, tau = 1: {nodes(*pair(512), 32, 1.0, old=True)} "
          f"(now {nodes(*pair(512), 32, 1.0)})")

    if dev == "cpu":
        print("\n4. beside one busy process (default threads: dynamic chunks of anchors over all cores)")
        load = {}
        for N, B in ((256, 32), (512, 64)):
            U, V = pair(N)
            for th in (None, 1):
                load[("quiet", N, B, th)] = median_time(lambda: value_and_grad(U, V, B, threads=th), repeats=3)
        busy = subprocess.Popen([sys.executable, "-c", BUSY])
        time.sleep(0.5)
        try:
            for N, B in ((256, 32), (512, 64)):
                U, V = pair(N)
                for th in (None, 1):
                    load[("busy", N, B, th)] = median_time(lambda: value_and_grad(U, V, B, threads=th), repeats=3)
        finally:
            busy.kill()
        for N, B in ((256, 32), (512, 64)):
            q, b, q1, b1 = (load[(k, N, B, th)] for th in (None, 1) for k in ("quiet", "busy"))
            print(f"   N={N}, B={B}: all threads quiet {q:.2f} s, loaded {b:.2f} s (x{b / q:.2f}); "
                  f"1 thread quiet {q1:.2f} s, loaded {b1:.2f} s (x{b1 / q1:.2f})")

    print("\n5. goals")
    big = (1.0, 1024, 64)
    if big in results:
        t = results[big][0]
        print(f"   N = 1024, B = 64 value+grad {t:.1f} s (goal 20 s): {'met' if t <= 20 else f'missed by {t / 20:.1f}x'}")
    t = results[(1.0, 256, 32)][0]
    print(f"   N = 256, B = 32 value+grad {t:.2f} s (goal 1 s): {'met' if t <= 1 else f'missed by {t:.1f}x'}")
    ratios = [gf / peak for (tau, N, B), (t, gf) in results.items() if N >= 512 and tau == 1.0]
    best, worst = max(ratios), min(ratios)
    print(f"   share of matmul GFLOP/s at N >= 512: {100 * worst:.0f}-{100 * best:.0f} % (goal 25 %): "
          + ("met" if worst >= 0.25 else f"missed by {0.25 / worst:.1f}x at worst, {0.25 / best:.1f}x at best"))


if __name__ == "__main__":
    main()
