"""Claim not_proportional: the full-batch and all-C(N,B) objectives are not functions of one another."""
from __future__ import annotations

import numpy as np

from theory import Family, normalize_rows, objective
from theory.front import tangent_gradient

from simulations.claims import Claim
from simulations.claims._etf import infonce
from simulations.claims._verdict import Verdict, verdict_over_sweep


def check_not_proportional(N: int = 8, Bs=(2, 4), n: int = 50, d: int = 4, seed: int = 0) -> Verdict:
    """The full-batch and all-C(N,B) objectives are not functions of one another.

    If ``L_full = h(L_all)`` for some function ``h``, their gradients would be parallel at every
    point. Reported: the range of the ratio ``L_full / L_all`` and the largest angle between the
    Riemannian gradients over random configurations, with ``B = N`` as the negative control
    (identical objectives: ratio 1, angle 0), which shows the test can fail.

    Parameters
    ----------
    N : int, default=8
    Bs : tuple of int, default=(2, 4)
    n : int, default=50
        Random configurations.
    d : int, default=4
    seed : int, default=0

    Returns
    -------
    Verdict
        The claim's verdict with its numbers (every sweep point) and the reasoning.

    References
    ----------
    Cho et al., TMLR 2024, Prop. 1 (arXiv v1).
    """
    rng = np.random.default_rng(seed)
    configs = [(normalize_rows(rng.standard_normal((N, d))), normalize_rows(rng.standard_normal((N, d)))) for _ in range(n)]
    full = Family.full(N)
    loss = infonce()

    def stats(B):
        fam = Family.all(N, B)
        ratios, angles = [], []
        for U, V in configs:
            ratios.append(objective(U, V, full, loss) / objective(U, V, fam, loss))
            g1 = np.concatenate([x.ravel() for x in tangent_gradient(U, V, full, loss)])
            g2 = np.concatenate([x.ravel() for x in tangent_gradient(U, V, fam, loss)])
            cos = np.clip(g1 @ g2 / (np.linalg.norm(g1) * np.linalg.norm(g2)), -1, 1)
            angles.append(float(np.degrees(np.arccos(cos))))
        return {"ratio_min": float(min(ratios)), "ratio_max": float(max(ratios)), "max_gradient_angle_deg": max(angles),
                "median_gradient_angle_deg": float(np.median(angles))}
    out = {f"B={B}": stats(B) for B in Bs}
    control = stats(N)
    holds = {k: v["ratio_max"] - v["ratio_min"] > 1e-6 * v["ratio_max"] and v["max_gradient_angle_deg"] > 1.0
             for k, v in out.items()}
    control_ok = control["ratio_max"] - control["ratio_min"] < 1e-12 and control["max_gradient_angle_deg"] < 1e-4
    verdict, _, bad = verdict_over_sweep(holds)
    if not control_ok:
        verdict = "inconclusive"
    return Verdict("not_proportional", verdict, {"N": N, "d": d, "configurations": n, **out, f"control_B=N={N}": control,
                                                 "failed_points": bad},
                   f"Over {n} random unit-norm configurations (d = {d}) the ratio full/all varies and the Riemannian "
                   "gradients of the two objectives point in different directions (angles reported), so neither objective "
                   "is a function of the other; the control B = N gives ratio 1 and angle 0 as it must.")


CLAIM = Claim(
    "not_proportional",
    "The full-batch and the all-C(N,B) objectives are different functions — not proportional, not even functions "
    "of one another — yet (claim all_batches_etf) share their minimizer.",
    "paper Prop. 1 (arXiv v1)", check_not_proportional,
    ("tests/test_claim_properties.py::test_full_and_all_batches_gradients_are_not_parallel",),
    {"tiny": dict(n=10), "quick": {}, "full": dict(n=200, Bs=(2, 3, 4, 6))},
    order=30, expected_tiny="confirmed")
