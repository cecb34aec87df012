"""minibatch-cl simulations: the torch engine (CPU or GPU) — exact family objectives for every registered loss,
batch selection, the optimisation loop, experiments and the ``minibatch-cl`` command line.

The front mirrors :mod:`theory`'s (same names, torch tensors)::

    import simulations as sim
    sim.objective(U, V, family, loss)       # torch scalar, differentiable; streamed, closed form or formula
    sim.batch_values(U, V, batches, loss)   # per-batch losses
    sim.certify(family, loss)               # theory.certify at any size: the low-rank method's gradient from the engine
    sim.simulate(sim.Config(...))           # training runs
"""
from simulations.engine import batch_values, clear_caches, objective, pair_loss_matrix, sampled_objective
from simulations.engine.exact_all import all_batches_objective
from simulations.engine.lowrank import certify
from simulations.training.config import Config
from simulations.runtime.simulate import simulate
from simulations.selection import SelectorSampler, make_selector, osgd_batch
from simulations.selection.spectral import spectral_partition

__all__ = ["objective", "batch_values", "sampled_objective", "pair_loss_matrix", "all_batches_objective", "certify",
           "clear_caches", "Config", "simulate", "make_selector", "SelectorSampler", "osgd_batch", "spectral_partition"]
