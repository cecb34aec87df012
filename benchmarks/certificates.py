"""Time and accuracy of convex certificates (one run). Accuracy = |certificate - closed form|.

Run: python benchmarks/certificates.py   (or: minibatch-cl bench certificates)
"""
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import row  # noqa: E402

from theory import Family, certify, optimum_all, optimum_full, optimum_partition  # noqa: E402


def main():
    row("certificate", "time [s]", "|error|", "status", widths=(30, 12, 12, 24))
    cases = [(f"full N={N}", N, Family.full(N), optimum_full(N)) for N in (8, 16, 32, 48, 64)]
    cases += [("all C(12,4)", 12, Family.all(12, 4), optimum_all(12, 4)),
              ("all C(16,2)", 16, Family.all(16, 2), optimum_all(16, 2)),
              ("partition N=16, B=4", 16, Family.partition(16, 4), optimum_partition(16, 4)),
              ("fano", 7, Family.fano(), optimum_all(7, 3))]
    for name, N, fam, ref in cases:
        t0 = time.perf_counter()
        c = certify(fam, "infonce")
        dt = time.perf_counter() - t0
        row(name, f"{dt:.2f}", f"{abs(c.value - ref):.1e}", f"{c.status} ({c.solver.split()[0]})", widths=(30, 12, 12, 24))


if __name__ == "__main__":
    main()
