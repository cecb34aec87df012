"""minibatch-cl theory: the mathematics of mini-batch contrastive loss in numpy/scipy/cvxpy, float64.

The oracle of the toolkit; never imports torch or :mod:`simulations`. The front::

    import theory as th
    th.objective(U, V, family, loss)        # float, exact (enumeration; refuses above ENUMERATION_LIMIT)
    th.gradient(U, V, family, loss)         # (dU, dV), every loss
    th.certify(family, loss)                # global optimum of the convex relaxation
    th.etf_is_optimal(family, loss)         # one decision for every loss (.optimal)

``loss`` is a :class:`Loss` object or a registered name (``'infonce'``, ``'siglip'``, ``'dcl'``, ``'dhel'``,
``'kcl'``, ``'supcon'`` (with labels), ``'vrn'`` (a base loss plus Lee et al.'s variance-reducing term), or one of yours: :func:`register_loss`).
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
)
from .front import (GramGradient, batch_values, gradient, gram_gradient, objective, tangent_gradient,
                    tangent_gradient_norm)
from .losses import (DCL, DHEL, KCL, LOSSES, VRN, InfoNCE, Loss, SigLIP, SupCon, as_loss, load_plugin, make_loss,
                     register_loss)
from .optima import (
    cross_polytope_all_pairs_value,
    cross_polytope_full_value,
    optimum_all,
    optimum_full,
    optimum_partition,
    optimum_partition_vrn,
)

__version__ = "0.1.0"

__all__ = [
    "ENUMERATION_LIMIT", "Family", "make_family", "normalize_rows",
    "objective", "batch_values", "gradient", "gram_gradient", "GramGradient",
    "Loss", "LOSSES", "register_loss", "make_loss", "as_loss", "load_plugin",
    "InfoNCE", "SigLIP", "DCL", "DHEL", "KCL", "SupCon", "VRN",
    "simplex_etf", "etf_gram", "cross_polytope", "block_configuration", "regular_polygon", "icosahedron",
    "gram_distance", "tangent_gradient", "tangent_gradient_norm",
    "optimum_full", "optimum_all", "optimum_partition", "optimum_partition_vrn",
    "cross_polytope_full_value", "cross_polytope_all_pairs_value",
    "certify", "etf_is_optimal", "Certificate", "ETFDecision",
]


def __getattr__(name):  # certificates import cvxpy: load on first use
    if name in ("certify", "etf_is_optimal", "Certificate", "ETFDecision"):
        from . import certificates
        return getattr(certificates, name)
    raise AttributeError(name)
