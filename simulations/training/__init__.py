"""Training: the configuration of a run (:class:`Config`) and the SGD loop over raw vectors (:mod:`.loop`)."""
from simulations.training.config import Config, check_device
from simulations.training.loop import train_run

__all__ = ["Config", "check_device", "train_run"]
