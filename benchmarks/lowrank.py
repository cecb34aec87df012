"""Time to a certificate against N: the low-rank (Burer-Monteiro + KKT) method beside the SDP.

One run prints, for InfoNCE (tau = 0.5) on a DataLoader epoch (``drop_last=False``, seed 0) and on a random
family (``2N/B`` uniform random batches, seed 0), with ``B = min(64, N/4)``, and on all ``C(N, b)`` batches with
``b = min(8, N/4)`` (the objective and its Gram gradient from the engine's exact formula,
:func:`simulations.certify` with ``gradient='engine'``; the SDP only where the family is enumerable):

1. the machine's float64 matmul rate, measured on ``(N x N) @ (N x r)`` products, the shape of the
   evaluations (``r`` the rank the method ended at; best of 10 timings);
2. per N: the low-rank method's time to a certificate (median of 3 runs for N <= 256, 1 run above), its
   iterations, evaluations, final rank, gap and certificate; the SDP's time (``certify(method='sdp')``,
   median of 3 for N <= 32, 1 run above) where N <= 64; and the flop model's achieved GFLOP/s against that matmul rate.

Flop model (float64 flops): per evaluation ``8 N^2 r`` (the four ``N x N`` by ``N x r`` products of the
embedding gradient) plus ``2 (k + 2) sum_S b_S^2 r`` (the batches' Gram blocks and their gradients,
``k`` = 1 or 3 blocks), plus the L-BFGS step ``(4 m + 12) n r`` per iteration (``n = 2N`` rows, memory
``m``); per certificate one ``n x n`` eigen-decomposition, ``(4/3) n^3`` (the tridiagonal reduction), and
``4 n^2 r`` (``G Y`` and ``M = Y Y^T``). ``GFLOP/s = model flops / wall time``. For all ``C(N, b)`` the model
counts, per evaluation, the engine's ``U' = I``, ``V' = Z^T`` products (``4 N^3``, forward and backward;
:mod:`simulations.engine.lowrank`) and the embedding gradient, not the formula's quadrature (its GFLOP/s is a
lower bound, marked ``+``).

Sizes: 16, 32, 64, 128, 256, 512, 1024, 2048, 4096; from N = 128 on a family's row runs only while the time
predicted from its previous size (``x 8``, the eigen-decomposition's ``N^3``) stays under ``--budget`` seconds
(default 180; a skipped row prints its prediction). The documented rows up to N = 4096 need a quiet machine and
``--budget 3600``.

Run: python benchmarks/lowrank.py [--max-n 256] [--budget 180] [--sdp-max-n 64] [--families dataloader,random,all]
"""
import argparse
import math
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import row  # noqa: E402

from simulations import certify as engine_certify  # noqa: E402
from theory import ENUMERATION_LIMIT, Family, InfoNCE  # noqa: E402
from theory.certificates import certify  # noqa: E402
from theory.lowrank import LBFGS_MEMORY  # noqa: E402

SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
FAMILIES = ("dataloader", "random", "all")
WIDTHS = (11, 6, 5, 6, 7, 7, 11, 9, 10, 6, 9, 9)


def families(N, names=FAMILIES):
    B = min(64, max(2, N // 4))
    make = {"dataloader": lambda: Family.dataloader_epoch(N, B, drop_last=False, seed=0),
            "random": lambda: Family.random(N, B, max(1, 2 * N // B), seed=0),
            "all": lambda: Family.all(N, min(8, max(2, N // 4)))}
    return {name: make[name]() for name in names}


def lowrank(fam, loss):
    """The low-rank certificate: the oracle's gradient, or the engine's for all C(N, b)."""
    if fam.kind == "all":
        return engine_certify(fam, loss, method="lowrank", gradient="engine")
    return certify(fam, loss, method="lowrank")


def flops(cert, family, loss):
    N, r = cert.N, cert.rank
    n = 2 * N
    k = 3 if loss.needs_self_grams else 1
    if family.kind == "all":                # the engine's identity products; the formula is not modelled
        per_eval = 8 * N**2 * r + 4 * N**3
    else:
        blocks = sum(int(b) ** 2 for b in family.sizes)
        per_eval = 8 * N**2 * r + 2 * (k + 2) * blocks * r
    per_iter = (4 * LBFGS_MEMORY + 12) * n * r
    per_cert = 4 / 3 * n**3 + 4 * n**2 * r
    # the rank grows: count each rank's iterations at the final rank (an upper bound of the model)
    return cert.evaluations * per_eval + cert.iterations * per_iter + len(cert.ranks_tried) * per_cert


def matmul_rate(N, r, seconds=0.2):
    """The machine's float64 rate on ``(N x N) @ (N x r)``: the best of repeated timings (the peak, not disturbed
    by other processes), each of enough products to last about ``seconds / 10``."""
    rng = np.random.default_rng(0)
    A, X = rng.standard_normal((N, N)), rng.standard_normal((N, r))
    A @ X
    t0 = time.perf_counter()
    A @ X
    inner = max(1, int(seconds / 10 / max(time.perf_counter() - t0, 1e-7)))
    best = math.inf
    for _ in range(10):
        t0 = time.perf_counter()
        for _ in range(inner):
            A @ X
        best = min(best, (time.perf_counter() - t0) / inner)
    return 2 * N * N * r / best / 1e9


def timed(fn, repeats):
    ts, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-n", type=int, default=max(SIZES), help="largest N (default 4096)")
    ap.add_argument("--budget", type=float, default=180.0, help="skip N >= 2048 when the predicted time exceeds it (s)")
    ap.add_argument("--sdp-max-n", type=int, default=64, help="largest N for the SDP comparison (default 64)")
    ap.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated, of {', '.join(FAMILIES)}")
    args = ap.parse_args(argv)
    names = tuple(args.families.split(","))
    if not names or any(n not in FAMILIES for n in names):
        ap.error(f"--families: comma-separated names of {FAMILIES}, got {args.families!r}")
    loss = InfoNCE(0.5)
    print(f"loss {loss.label}; low-rank: certify(method='lowrank') defaults (all C(N,b): simulations.certify with "
          "gradient='engine'); SDP: certify(method='sdp')")
    print("flop model per evaluation 8 N^2 r + 2 (k+2) sum_S b^2 r; per iteration (4m+12) 2N r; "
          "per certificate (4/3)(2N)^3 + 4 (2N)^2 r")
    row("family", "N", "B", "rank", "iters", "evals", "lowrank s", "SDP s", "gap", "cert", "GFLOP/s", "% matmul",
        widths=WIDTHS)
    last = {}
    for N in SIZES:
        if N > args.max_n:
            break
        for name, fam in families(N, names).items():
            if N >= 128 and last.get(name, 0.0) * 8 > args.budget:
                print(f"{name} N={N}: skipped (predicted {8 * last[name]:.0f} s > budget {args.budget:.0f} s)")
                last[name] *= 8
                continue
            repeats = 3 if N <= 256 and name != "all" else 1
            t, cert = timed(lambda: lowrank(fam, loss), repeats)
            last[name] = t
            sdp = "-"
            if N <= args.sdp_max_n and fam.n_batches <= ENUMERATION_LIMIT:
                ts, sc = timed(lambda: certify(fam, loss, method="sdp"), 3 if N <= 32 else 1)
                sdp = f"{ts:.2f}" + ("" if sc.certified else "*")
            gf = flops(cert, fam, loss) / t / 1e9
            peak = matmul_rate(N, cert.rank)
            plus = "+" if name == "all" else ""
            row(name, N, fam.batch_sizes[-1], cert.rank, cert.iterations, cert.evaluations, f"{t:.2f}", sdp,
                f"{cert.gap:.1e}", cert.certified, f"{gf:.2f}{plus}", f"{100 * gf / peak:.0f}{plus}", widths=WIDTHS)
    print("matmul rate: float64 (N x N) @ (N x r) at the final rank, best of 10, measured beside each row "
          "('% matmul'; the model counts every evaluation at the final rank, an upper bound when the rank grew); "
          "'*' after an SDP time: not certified ('optimal' status not reached); '+': a lower bound (the formula's "
          "quadrature is not in the model)")


if __name__ == "__main__":
    main()
