"""The package's code version: a hash of its source files (part of every task's content address)."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 (first 16 hex digits) of every ``.py`` file of ``theory`` and ``simulations`` (path and
    content) and the package version: any edit of the code gives new task keys. Computed once per
    process from the files on disk (a process that edits and reloads its own code keeps the old value)."""
    from theory import __version__
    h = hashlib.sha256(__version__.encode())
    for pkg in ("theory", "simulations"):
        for f in sorted((PACKAGE_ROOT / pkg).rglob("*.py")):
            h.update(f.relative_to(PACKAGE_ROOT).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
