"""The prepared GPU check: CUDA results against CPU float64, and GPU timings, in one run (< 5 minutes).

Checks (each prints |CUDA - CPU float64| relative to the value's scale, and the GPU time):
exact all-C(N,B) objective value + gradient at (20,5) and (24,6) in float64 and float32; the
polynomial formula at N = 256, B = 32; the OSGD arg-max over C(16,4); the SC partition at N = 64,
B = 8 (same partition); one `simulate` (N = 8, d = 16, shuffle/osgd/sc, 20 steps) on both devices.
Exits with status 2 and a message where no CUDA device is present.
Run: python benchmarks/gpu.py   (or: minibatch-cl bench gpu)
"""
import sys

import numpy as np
import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _timing import median_time  # noqa: E402

from theory import Family, normalize_rows  # noqa: E402
from simulations import Config, all_batches_objective, objective, osgd_batch, simulate, spectral_partition  # noqa: E402


def pair(N, d=16, seed=0):
    rng = np.random.default_rng(seed)
    return normalize_rows(rng.standard_normal((N, d))), normalize_rows(rng.standard_normal((N, d)))


def value_and_grad(fn, U, V, device, dtype):
    a = torch.tensor(U, dtype=dtype, device=device, requires_grad=True)
    b = torch.tensor(V, dtype=dtype, device=device, requires_grad=True)
    val = fn(a, b)
    val.backward()
    return float(val.detach()), a.grad.double().cpu().numpy(), b.grad.double().cpu().numpy()


def timed(fn, device):
    def run():
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
    return median_time(run, repeats=5)


def main():
    if not torch.cuda.is_available():
        print("bench gpu: no CUDA device on this machine; nothing measured (run it where a GPU is present)")
        sys.exit(2)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    print(f"{'check':<34}{'dtype':>9}{'rel. diff vs CPU f64':>22}{'GPU time [s]':>14}")
    cases = [(f"all C({N},{B}) value+grad", (lambda a, b, f=Family.all(N, B): objective(a, b, f, "infonce")), N)
             for N, B in ((20, 5), (24, 6))]
    cases.append(("formula N=256, B=32 value+grad", lambda a, b: all_batches_objective(a, b, 32), 256))
    for name, fn, N in cases:
        U, V = pair(N)
        ref = value_and_grad(fn, U, V, "cpu", torch.float64)
        for dt in (torch.float64, torch.float32):
            got = value_and_grad(fn, U, V, "cuda", dt)
            rel = max(abs(got[0] - ref[0]) / abs(ref[0]),
                      max(np.abs(g - r).max() / np.abs(r).max() for g, r in zip(got[1:], ref[1:])))
            t = timed(lambda: value_and_grad(fn, U, V, "cuda", dt), "cuda")
            print(f"{name:<34}{str(dt).split('.')[-1]:>9}{rel:>22.2e}{t:>14.4f}", flush=True)
    U, V = pair(16)
    cpu = osgd_batch(torch.tensor(U), torch.tensor(V), 4).tolist()
    gpu = osgd_batch(torch.tensor(U, device="cuda"), torch.tensor(V, device="cuda"), 4).cpu().tolist()
    t = timed(lambda: osgd_batch(torch.tensor(U, device="cuda"), torch.tensor(V, device="cuda"), 4), "cuda")
    print(f"{'osgd argmax C(16,4)':<34}{'float64':>9}{'same batch' if sorted(cpu) == sorted(gpu) else 'DIFFERENT':>22}{t:>14.4f}")
    U, V = pair(64)
    cpu = spectral_partition(torch.tensor(U), torch.tensor(V), 8, seed=0).tolist()
    gpu = spectral_partition(torch.tensor(U, device="cuda"), torch.tensor(V, device="cuda"), 8, seed=0).cpu().tolist()
    same = sorted(map(sorted, cpu)) == sorted(map(sorted, gpu))
    t = timed(lambda: spectral_partition(torch.tensor(U, device="cuda"), torch.tensor(V, device="cuda"), 8, seed=0), "cuda")
    print(f"{'sc partition N=64, B=8':<34}{'float64':>9}{'same partition' if same else 'DIFFERENT':>22}{t:>14.4f}")
    res = {dev: simulate(Config(N=8, d=16, methods=("shuffle", "osgd", "sc"), steps=20, device=dev))["summary"]
           for dev in ("cpu", "cuda")}
    diff = max(abs(res["cpu"][m][s][k] - res["cuda"][m][s][k]) for m in res["cpu"] for s in res["cpu"][m]
               for k in ("full_loss", "all_loss", "gram_distance"))
    print(f"{'simulate N=8, d=16, 20 steps':<34}{'float64':>9}{diff:>22.2e}{'':>14}")


if __name__ == "__main__":
    main()
