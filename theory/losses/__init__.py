"""Contrastive losses: one class per file, one registry, one protocol (:class:`Loss`).

Built-ins: :class:`InfoNCE` (``'infonce'``), :class:`SigLIP` (``'siglip'``), :class:`DCL` (``'dcl'``),
:class:`DHEL` (``'dhel'``), :class:`KCL` (``'kcl'``), :class:`SupCon` (``'supcon'``, with labels), :class:`VRN`
(``'vrn'``: any of them plus Lee et al.'s variance-reducing term). A loss of your own is a frozen dataclass that
subclasses :class:`Loss` and is decorated with :func:`register_loss` (see :mod:`theory.losses.base`).
"""
from . import ops
from .base import LOSSES, Loss, as_loss, evaluate, load_plugin, make_loss, register_loss
from .dcl import DCL
from .dhel import DHEL
from .infonce import InfoNCE
from .kcl import KCL
from .siglip import SigLIP
from .supcon import SupCon
from .vrn import VRN

__all__ = ["Loss", "LOSSES", "register_loss", "make_loss", "as_loss", "load_plugin", "evaluate", "ops",
           "InfoNCE", "SigLIP", "DCL", "DHEL", "KCL", "SupCon", "VRN"]
