"""Figures of minibatch-cl: one function per figure, each drawing only from results files.

Every function takes the results folder of ``minibatch-cl reproduce`` (``out``), reads what it
needs (CSV / JSON), writes ``out/figures/<name>.png`` and ``.pdf`` and returns the PNG path.
``draw_all(out)`` draws every figure whose results exist. This package never imports
:mod:`simulations` or torch.
"""
from .paper import (FIGURES, claims_tables, convergence, convergence_sweep, draw_all, fig1a, heatmaps, osgd_toy,
                    sc_quality)
from .labels import LABEL_FIGURES

FIGURES.update(LABEL_FIGURES)

__all__ = ["FIGURES", "draw_all", "fig1a", "heatmaps", "convergence", "convergence_sweep", "osgd_toy", "sc_quality",
           "claims_tables"]
