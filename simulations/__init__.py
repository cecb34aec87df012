"""minibatch-cl simulations: the torch engine (CPU or GPU) — fast exact losses, batch selection,
the optimisation loop, experiments and the ``minibatch-cl`` command line."""
from .engine import batch_losses, clear_caches, family_objective, sampled_objective
from .exact_all import all_batches_objective
from .experiments import Config, simulate
from .selection import SelectorSampler, make_selector, osgd_batch
from .spectral import spectral_partition

__all__ = ["batch_losses", "clear_caches", "family_objective", "sampled_objective", "all_batches_objective",
           "Config", "simulate", "make_selector", "SelectorSampler", "osgd_batch", "spectral_partition"]
