"""Claim sc_finds_high_loss_batches: spectral clustering finds high-loss batches."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from theory import Family, InfoNCE, normalize_rows

from simulations.engine import batch_values, objective
from simulations.io import write_csv
from simulations.selection.spectral import spectral_partition
from simulations.claims import Claim
from simulations.claims._tables import table
from simulations.claims._verdict import Verdict, verdict_over_sweep

#: The loss of the claim: symmetric InfoNCE at tau = 1.
LOSS = InfoNCE()


def exact_max_partition(U, V, B: int, loss=LOSS) -> float:
    """Mean batch loss of the maximum-loss partition into N/B batches of B, by an integer program over all
    C(N,B) batches.

    Parameters
    ----------
    U, V : numpy.ndarray, shape (N, d)
    B : int
    loss : Loss, default=InfoNCE()

    Returns
    -------
    float
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    N = U.shape[0]
    S = Family.all(N, B).batches
    vals = batch_values(U, V, torch.from_numpy(S), loss).numpy()
    A = np.zeros((N, S.shape[0]))
    A[S.T, np.arange(S.shape[0])[None, :]] = 1
    r = milp(c=-vals, constraints=LinearConstraint(A, 1, 1), integrality=np.ones(S.shape[0]), bounds=Bounds(0, 1))
    if r.status != 0:
        raise RuntimeError(f"max-loss partition integer program failed: {r.message}")
    return float(vals[np.round(r.x) == 1].mean())


def check_sc_quality(out, *, sizes=((12, 2), (16, 4)), ds=(4, 16), trials: int = 10) -> Verdict:
    """(SC - random) / (exact - random) for the maximum-loss partition, random Gaussian embeddings in each d.

    Parameters
    ----------
    out : str or path-like
        The results folder (its task files are reused on a rerun).
    sizes : tuple of (N, B), default=((12, 2), (16, 4))
    ds : tuple of int, default=(4, 16)
    trials : int, default=10

    Returns
    -------
    Verdict
        The claim's verdict with its numbers (every sweep point) and the reasoning.

    References
    ----------
    Cho et al., TMLR 2024, Sec. 5.
    """
    rows = []
    for d in ds:
        for N, B in sizes:
            for trial in range(trials):
                rng = np.random.default_rng([1000 * N + trial, d])
                U = torch.tensor(normalize_rows(rng.standard_normal((N, d))))
                V = torch.tensor(normalize_rows(rng.standard_normal((N, d))))
                exact = exact_max_partition(U, V, B)
                random_mean = float(objective(U, V, Family.all(N, B), LOSS))   # E[random partition] = all-batches objective
                sc = float(batch_values(U, V, spectral_partition(U, V, B, LOSS, seed=trial), LOSS).mean())
                rows.append({"N": N, "B": B, "d": d, "trial": trial, "exact": exact, "sc": sc, "random": random_mean,
                             "ratio": (sc - random_mean) / (exact - random_mean)})
    write_csv(Path(out) / "sc_quality.csv", rows)
    per, holds = {}, {}
    for d in ds:
        for N, B in sizes:
            r = np.array([x["ratio"] for x in rows if x["N"] == N and x["B"] == B and x["d"] == d])
            key = f"N={N},B={B},d={d}"
            per[key] = {"median_ratio": float(np.median(r)), "min_ratio": float(r.min()),
                        "fraction_above_random": float((r > 0).mean()), "trials": int(r.size)}
            holds[key] = bool((r > 0).mean() >= 0.9 and np.median(r) >= 0.5)
    verdict, ok, bad = verdict_over_sweep(holds)
    return Verdict("sc_finds_high_loss_batches", verdict, {"per_size": per, "ds": list(ds), "holds_for": ok, "fails_for": bad},
                   "Ratio (SC - random) / (exact - random): 1 = the exact maximum-loss partition (integer program over "
                   "all C(N,B) batches), 0 = a random partition's expected loss (= the all-batches objective, exactly). "
                   f"Random Gaussian embeddings in d = {list(ds)}, tau = 1. Holds at a size when SC beats random in >= 90% "
                   "of trials and the median ratio is >= 0.5.")


def sc_table(v: dict) -> list[str]:
    """The claim's summary tables in the report (the rows of its full sweep are in its CSV file).

    Parameters
    ----------
    v : dict
        The claim's verdict record (as in ``verdicts.json``).

    Returns
    -------
    list of str
        Markdown lines.
    """
    return table(["size", "median ratio", "min ratio", "fraction above random", "trials"],
                 [[k, x["median_ratio"], x["min_ratio"], x["fraction_above_random"], x["trials"]]
                  for k, x in v["numbers"]["per_size"].items()])


CLAIM = Claim(
    "sc_finds_high_loss_batches",
    "Spectral clustering finds high-loss batches: its partition has a much higher loss than a random partition, "
    "close to the maximum-loss partition.",
    "paper §5 (spectral clustering)", check_sc_quality,
    ("tests/test_selection_and_training.py::test_spectral_partition_finds_planted_high_loss_batches",),
    {"tiny": dict(sizes=((8, 2),), ds=(4,), trials=2), "quick": {},
     "full": dict(sizes=((16, 2), (20, 4), (24, 2), (24, 4)), ds=(2, 4, 16), trials=40)},
    figure="sc_quality", order=130, tables=sc_table, expected_tiny="confirmed")
