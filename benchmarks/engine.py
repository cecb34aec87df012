"""Engine vs a per-batch loop in numpy (the oracle's original form), on the same inputs, in one run (medians).

Prints: exact all-C(N,B) objective (value, value+gradient) at (16,4), (20,5), (24,6); OSGD
selection at (16,4); spectral clustering at N = 1024 and 4096 with B = 32; and the effective
memory throughput of the (24,6) objective against a plain tensor copy of the same bytes.
Run: python benchmarks/engine.py   (or: minibatch-cl bench engine)
"""
import math
import sys

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import median_time, row  # noqa: E402

from theory import Family, InfoNCE, normalize_rows  # noqa: E402
from theory.losses.ops import _Numpy  # noqa: E402
from simulations import objective, osgd_batch, spectral_partition  # noqa: E402

LOSS = InfoNCE()                 # symmetric, tau = 1
logsumexp = _Numpy.logsumexp


# The reference of the speed targets: a plain per-batch loop (the oracle's original form; the oracle
# itself now gathers blocks, which is faster but not what the targets were set against).
def loop_losses(U, V, fam):
    Z = U @ V.T
    return np.array([LOSS.batch_losses(Z[np.ix_(S, S)][None], S[None])[0] for S in fam.batches])


def loop_value(U, V, fam):
    return float(loop_losses(U, V, fam).mean())


def loop_value_and_grad(U, V, fam):
    Z = U @ V.T
    G = np.zeros_like(Z)
    eye = np.eye(fam.B)
    for S in fam.batches:
        zs = Z[np.ix_(S, S)]
        G[np.ix_(S, S)] += (np.exp(zs - logsumexp(zs, axis=1)[:, None]) - eye
                            + np.exp(zs - logsumexp(zs, axis=0)[None, :]) - eye)
    G /= fam.B * fam.n_batches
    return loop_value(U, V, fam), G @ V, G.T @ U


def pair(N, d=16, seed=0):
    rng = np.random.default_rng(seed)
    return normalize_rows(rng.standard_normal((N, d))), normalize_rows(rng.standard_normal((N, d)))


def main():
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device cpu, float64")
    row("case", "oracle [s]", "engine [s]", "ratio")
    for N, B in ((16, 4), (20, 5), (24, 6)):
        U, V = pair(N)
        fam = Family.all(N, B)
        t_or = median_time(lambda: loop_value(U, V, fam), repeats=3 if N < 24 else 1, warmup=0)
        Ut, Vt = torch.tensor(U), torch.tensor(V)
        t_en = median_time(lambda: objective(Ut, Vt, fam, LOSS), repeats=15)
        row(f"all C({N},{B}) value", f"{t_or:.4f}", f"{t_en:.5f}", f"{t_or / t_en:.0f}x")

        def grad_engine():
            a, b = Ut.clone().requires_grad_(True), Vt.clone().requires_grad_(True)
            objective(a, b, fam, LOSS).backward()
        t_org = median_time(lambda: loop_value_and_grad(U, V, fam), repeats=1, warmup=0)
        t_eng = median_time(grad_engine, repeats=15)
        row(f"all C({N},{B}) value+grad", f"{t_org:.4f}", f"{t_eng:.5f}", f"{t_org / t_eng:.0f}x")
        if (N, B) == (24, 6):
            n = math.comb(N, B)
            nbytes = n * B * B * 8
            src = torch.empty(nbytes // 8, dtype=torch.float64).normal_()
            dst = torch.empty_like(src)
            t_clone = median_time(lambda: src.clone(), repeats=15)          # allocating copy (page faults included)
            t_copy = median_time(lambda: dst.copy_(src), repeats=15)       # into a preallocated buffer (bandwidth)
            print(f"  (24,6): {n} batches, {nbytes / 2**20:.1f} MiB of batch logits; objective {t_en * 1e3:.2f} ms; "
                  f"clone {t_clone * 1e3:.2f} ms -> {100 * t_clone / t_en:.0f}% of an allocating copy; "
                  f"copy_ {t_copy * 1e3:.2f} ms -> {100 * t_copy / t_en:.0f}% of a preallocated copy")
    N, B = 16, 4
    U, V = pair(N)
    fam = Family.all(N, B)
    t_or = median_time(lambda: fam.batches[int(np.argmax(loop_losses(U, V, fam)))], repeats=3, warmup=0)
    Ut, Vt = torch.tensor(U), torch.tensor(V)
    t_en = median_time(lambda: osgd_batch(Ut, Vt, B, LOSS), repeats=15)
    row("osgd argmax C(16,4)", f"{t_or:.4f}", f"{t_en:.5f}", f"{t_or / t_en:.0f}x")
    for N in (1024, 4096):
        U, V = pair(N, 64)
        Ut, Vt = torch.tensor(U), torch.tensor(V)
        t = median_time(lambda: spectral_partition(Ut, Vt, 32, LOSS, seed=0), repeats=5 if N == 1024 else 1)
        row(f"sc N={N}, B=32", "-", f"{t:.3f}", "-")


if __name__ == "__main__":
    main()
