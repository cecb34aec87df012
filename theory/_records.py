"""Frozen result records: attribute access, ``record["key"]`` for the same fields, and ``summary()`` (JSON-ready)."""
from __future__ import annotations

from dataclasses import fields

import numpy as np


def _plain(x):
    if isinstance(x, Record):
        return x.summary()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


class Record:
    """Mixin of the frozen result dataclasses."""

    def __getitem__(self, key):
        return getattr(self, key)

    def summary(self) -> dict:
        """The scalar and list fields as plain Python (arrays and other ``repr=False`` fields left out)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.repr}
