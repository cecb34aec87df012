"""Claim real_data: the paper's real-data tables (out of this toolkit's scope)."""
from __future__ import annotations

from simulations.claims import Claim
from simulations.claims._verdict import Verdict


def real_data_verdict() -> Verdict:
    """The verdict "not reproducible here" with its reason (the real-data tables need datasets and encoders the
    toolkit does not use).

    Returns
    -------
    Verdict
    """
    return Verdict("real_data", "not reproducible here", {},
                   "Out of scope: minibatch-cl optimises embeddings directly (no encoder), and this machine has no data "
                   "sets or GPU. The selectors can drive an encoder's loader (simulations.SelectorSampler).")


CLAIM = Claim(
    "real_data",
    "On CIFAR-100 and Tiny ImageNet (ResNet-18, SimCLR / SogCLR, batch 32), SC batch selection improves retrieval "
    "top-1 over SGD.", "paper §6 (real-data tables)", real_data_verdict, (), {},
    order=140, expected_tiny="not reproducible here")
