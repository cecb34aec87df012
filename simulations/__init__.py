"""minibatch-cl simulations: the torch engine (CPU or GPU) — fast exact losses, batch selection,
the optimisation loop, experiments and the ``minibatch-cl`` command line."""
from .engine import batch_losses, family_objective, sampled_objective

__all__ = ["batch_losses", "family_objective", "sampled_objective"]
