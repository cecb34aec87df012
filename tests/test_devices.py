"""The engine, the exact formula, OSGD and spectral clustering on every device and dtype, against
the float64 numpy oracle (float32 to a float32 tolerance)."""
import numpy as np
import torch

from helpers import unit_rows
import theory as th
from theory import Family, InfoNCE
from simulations import all_batches_objective, objective, osgd_batch, spectral_partition


def _tol(dt):
    return 1e-10 if dt == torch.float64 else 2e-5


def test_engine_value_and_gradient_on_every_device(device_dtype):
    dev, dt = device_dtype
    for fam, tau in ((Family.all(9, 3), 1.0), (Family.all(9, 2), 0.3), (Family.fano(), 0.05), (Family.full(9), 1.0)):
        U, V = unit_rows(fam.N, 4, 0), unit_rows(fam.N, 4, 1)
        Ut = torch.tensor(U, dtype=dt, device=dev, requires_grad=True)
        Vt = torch.tensor(V, dtype=dt, device=dev, requires_grad=True)
        val = objective(Ut, Vt, fam, InfoNCE(tau))
        val.backward()
        ref = th.objective(U, V, fam, InfoNCE(tau))
        assert val.device.type == dev and val.dtype == dt
        assert abs(float(val.detach()) - ref) <= _tol(dt) * max(1.0, abs(ref))
        gU, _ = th.gradient(U, V, fam, InfoNCE(tau))
        assert np.abs(Ut.grad.cpu().double().numpy() - gU).max() <= _tol(dt) * max(1.0, np.abs(gU).max())


def test_formula_equals_enumeration_on_every_device(device_dtype):
    dev, dt = device_dtype
    U, V = unit_rows(12, 4, 2), unit_rows(12, 4, 3)
    f = all_batches_objective(torch.tensor(U, dtype=dt, device=dev), torch.tensor(V, dtype=dt, device=dev), 4)
    assert f.dtype == dt and abs(float(f) - th.objective(U, V, Family.all(12, 4), "infonce")) <= _tol(dt)


def test_osgd_and_spectral_selection_on_every_device(device_dtype):
    dev, dt = device_dtype
    U, V = unit_rows(9, 3, 4), unit_rows(9, 3, 5)
    fam = Family.all(9, 3)
    best = fam.batches[int(np.argmax(th.batch_values(U, V, fam, "infonce")))]
    got = osgd_batch(torch.tensor(U, dtype=dt, device=dev), torch.tensor(V, dtype=dt, device=dev), 3)
    assert got.device.type == dev and sorted(got.tolist()) == sorted(best.tolist())
    base = unit_rows(8, 8, 0)                                   # planted pairs: SC must find them
    X = torch.tensor(np.repeat(base, 2, axis=0), dtype=dt, device=dev)
    P = spectral_partition(X, X, 2, seed=0)
    assert P.device.type == dev
    assert sorted(tuple(sorted(b)) for b in P.tolist()) == [(2 * k, 2 * k + 1) for k in range(8)]
