"""What the training claims share.

Checks that train write their runs into ``out`` (``out/<claim>/tasks/*.json``, cached by content, so an
interrupted check resumes) and a tidy summary file that the figures draw from. Every comparison between
methods is *paired per seed* (the same initial vectors for every method of a seed) and decided by a
bootstrap interval of the median difference (:func:`simulations.runtime.tasks.paired_comparison`); diverged runs
(``FloatingPointError``) and runs that never reach the target are counted, never dropped silently.
"""
from __future__ import annotations

#: Gram distance counted as "reached the target structure".
THRESHOLD = 0.1
