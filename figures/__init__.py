"""Figures of minibatch-cl: one function per paper figure, each drawing only from results files.

Every function takes the results folder of ``minibatch-cl reproduce`` (``out``), reads what it
needs (CSV / JSON / NPZ), writes ``out/figures/<name>.png`` and ``.pdf`` and returns the PNG path.
``draw_all(out)`` draws every figure whose results exist.
"""
from .paper import (FIGURES, draw_all, fig1a, heatmaps, convergence, osgd_toy, sc_quality, claims_tables)

__all__ = ["FIGURES", "draw_all", "fig1a", "heatmaps", "convergence", "osgd_toy", "sc_quality", "claims_tables"]
