import os

from hypothesis import HealthCheck, settings

# deterministic by default (as in CI); HYPOTHESIS_PROFILE=explore searches more examples at random
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

import pytest  # noqa: E402
import torch  # noqa: E402

import theory as th  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

#: Every registered built-in loss, with the variants that change its form (one-sided, DCL's negatives, SupCon's
#: candidates). A loss registered in the package is added here by registering it: the ``loss`` fixture runs every
#: test that takes it.
LOSS_VARIANTS = {"infonce": ({}, {"tau": 0.5, "symmetric": False}),
                 "siglip": ({}, {"tau": 0.3, "bias": -2.0}),
                 "dcl": ({}, {"tau": 0.5, "negatives": "cross"}, {"symmetric": False}),
                 "dhel": ({}, {"tau": 0.5, "symmetric": False}),
                 "kcl": ({}, {"t": 0.5, "gamma": 4.0}),
                 # labels cover the generic tests' N <= 8: balanced classes, and imbalanced with a class of one
                 "supcon": ({"labels": (0, 0, 1, 1, 2, 2, 3, 3)},
                            {"labels": (0, 1, 0, 0, 2, 1, 3, 0), "tau": 0.5, "symmetric": False},
                            # Khosla et al.'s single pool of 2b views (self Grams), symmetric and one-sided
                            {"labels": (0, 1, 0, 0, 2, 1, 3, 0), "tau": 0.5, "candidates": "pool"},
                            {"labels": (0, 0, 1, 1, 2, 2, 3, 3), "symmetric": False, "candidates": "pool"}),
                 # a base with self Grams and no analytic gradient (DCL), a pair-sum base (SigLIP), p = 4
                 "vrn": ({}, {"base": "siglip(tau=0.3, bias=-2.0)", "weight": 2.0, "n": 8},
                         {"base": "dcl(tau=0.5)", "weight": 1.0, "delta": -0.2, "p": 4})}


def all_losses() -> list:
    """Every registered loss at its defaults, plus the variants above."""
    out = []
    for name in sorted(th.LOSSES):
        if th.LOSSES[name].__module__.startswith("theory."):
            out += [th.make_loss(name, **p) for p in LOSS_VARIANTS.get(name, ({},))]
    return out


@pytest.fixture(params=all_losses(), ids=lambda loss: loss.label)
def loss(request):
    """Every registered loss (and its variants): a new loss is tested by registering it."""
    return request.param


@pytest.fixture(params=[(dev, dt) for dev in ("cpu", "cuda") for dt in (torch.float32, torch.float64)],
                ids=lambda p: f"{p[0]}-{str(p[1]).split('.')[-1]}")
def device_dtype(request):
    """(device, dtype) over cpu/cuda x float32/float64, POT-backend style; cuda is skipped where absent."""
    dev, dt = request.param
    if dev == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return dev, dt


@pytest.fixture(scope="session")
def tiny_reproduction(tmp_path_factory):
    """``reproduce`` at the tiny size, once per test session: every claim runs once, and the claim tests and the
    reproduce tests read the same results folder (its verdicts.json, figures and report)."""
    from simulations.claims.reproduce import reproduce
    out = tmp_path_factory.mktemp("tiny_reproduction")
    res = reproduce(out, mode="tiny", progress=False, report=out / "report" / "paper_reproduction.md")
    return out, res
