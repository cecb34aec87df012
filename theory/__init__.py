"""minibatch-cl theory: the mathematics of mini-batch contrastive loss in numpy/scipy/cvxpy, float64.

The oracle of the toolkit. Never imports torch or :mod:`simulations`.
"""
from ._checks import normalize_rows
from .batches import ENUMERATION_LIMIT, Family, make_family
from .configurations import (
    block_configuration,
    cross_polytope,
    etf_gram,
    gram_distance,
    icosahedron,
    regular_polygon,
    simplex_etf,
    tangent_gradient,
    tangent_gradient_norm,
)
from .losses import batch_losses, euclidean_gradient, family_loss, logit_gradient, logits
from .objectives import DCL, DHEL, KCL, InfoNCE, Loss, SigLIP, as_loss, make_loss
from .optima import (
    cross_polytope_all_pairs_value,
    cross_polytope_full_value,
    optimum_all,
    optimum_full,
    optimum_partition,
)

__version__ = "0.1.0"

__all__ = [
    "ENUMERATION_LIMIT", "Family", "make_family", "normalize_rows",
    "batch_losses", "family_loss", "logit_gradient", "euclidean_gradient", "logits",
    "Loss", "InfoNCE", "SigLIP", "DCL", "DHEL", "KCL", "make_loss", "as_loss",
    "simplex_etf", "etf_gram", "cross_polytope", "block_configuration", "regular_polygon", "icosahedron",
    "gram_distance", "tangent_gradient", "tangent_gradient_norm",
    "optimum_full", "optimum_all", "optimum_partition",
    "cross_polytope_full_value", "cross_polytope_all_pairs_value",
    "certify",
]


def __getattr__(name):  # certificates import cvxpy: load on first use
    if name == "certify":
        from .certificates import certify
        return certify
    raise AttributeError(name)
