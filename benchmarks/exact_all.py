"""The exact all-C(N,B) formula: accuracy and time against streamed enumeration where both run,
then alone: value+gradient time as N doubles, and the largest N per minute (2 CPU cores).

Run: python benchmarks/exact_all.py [--max-seconds 60]   (or: minibatch-cl bench exact_all)
"""
import argparse
import sys
import time

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import median_time, row  # noqa: E402

from theory import Family, normalize_rows  # noqa: E402
from simulations import all_batches_objective, family_objective  # noqa: E402


def pair(N, d, seed=0):
    rng = np.random.default_rng(seed)
    return (torch.tensor(normalize_rows(rng.standard_normal((N, d)))), torch.tensor(normalize_rows(rng.standard_normal((N, d)))))


def value_and_grad(U, V, B):
    a, b = U.clone().requires_grad_(True), V.clone().requires_grad_(True)
    all_batches_objective(a, b, B).backward()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--goals", action="store_true", help="also time the issue's goal cases (256, 32) and (1024, 64) once")
    args = ap.parse_args()
    print(f"device {args.device}, threads {torch.get_num_threads()}, float64")
    row("vs enumeration", "enum [s]", "formula [s]", "|error|", widths=(22, 12, 12, 12))
    for N, B in ((12, 4), (16, 4), (20, 5), (24, 6), (28, 7)):
        U, V = pair(N, 8)
        fam = Family.all(N, B)
        t_e = median_time(lambda: family_objective(U, V, fam, method="enumerate"), repeats=3)
        t_f = median_time(lambda: all_batches_objective(U, V, B), repeats=3)
        err = abs(float(family_objective(U, V, fam, method="enumerate")) - float(all_batches_objective(U, V, B)))
        row(f"C({N},{B})", f"{t_e:.4f}", f"{t_f:.4f}", f"{err:.1e}", widths=(22, 12, 12, 12))
    row("formula alone", "value+grad [s]", "", "", widths=(22, 16, 8, 8))
    for B in (8, 32, 64):
        N, best = 64, None
        while True:
            U, V = pair(N, 32)
            U, V = U.to(args.device), V.to(args.device)
            t0 = time.perf_counter()
            value_and_grad(U, V, B)
            dt = time.perf_counter() - t0
            row(f"N={N}, B={B}", f"{dt:.2f}", "", "", widths=(22, 16, 8, 8))
            if dt > args.max_seconds or N >= 2048:
                break
            best = N
            if dt * 4.5 > 2 * args.max_seconds:      # next size (~4x the work) would blow far past the limit
                break
            N *= 2
        print(f"  largest N with value+gradient under {args.max_seconds:.0f} s at B={B}: {best}")
    if args.goals:
        for N, B, goal in ((256, 32, 10), (1024, 64, 120)):
            U, V = pair(N, 32)
            t0 = time.perf_counter()
            value_and_grad(U.to(args.device), V.to(args.device), B)
            dt = time.perf_counter() - t0
            print(f"goal N={N}, B={B}: value+gradient {dt:.1f} s (goal {goal} s on 2 CPU cores)", flush=True)


if __name__ == "__main__":
    main()
