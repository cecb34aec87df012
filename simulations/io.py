"""Results on disk: plain JSON, CSV, NPZ, written atomically (temporary file, then rename)."""
from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def _atomic_write_bytes(path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _finite_or_none(o):
    """JSON has no NaN or infinity: non-finite numbers become null (as ``--json`` prints them)."""
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite_or_none(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite_or_none(v) for v in o]
    if isinstance(o, np.ndarray):
        return _finite_or_none(o.tolist())
    return o


def write_json(path, obj) -> None:
    """Atomic, strict JSON: NaN and infinities are written as null, never as bare ``NaN``.

    Parameters
    ----------
    path : str or path-like
    obj : object
        JSON-serialisable (numpy scalars and arrays converted; NaN and inf become null).
    """
    text = json.dumps(_finite_or_none(obj), indent=2, default=_default, allow_nan=False)
    _atomic_write_bytes(path, (text + "\n").encode())


def write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file, then a rename).

    Parameters
    ----------
    path : str or path-like
    text : str
    """
    _atomic_write_bytes(path, text.encode())


def read_json(path):
    """Read a JSON file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    object
    """
    return json.loads(Path(path).read_text())


def write_csv(path, rows: list[dict]) -> None:
    """Write ``rows`` as a CSV file atomically (columns: the first row's keys; an empty file for no rows).

    Parameters
    ----------
    path : str or path-like
    rows : list of dict
    """
    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    _atomic_write_bytes(path, buf.getvalue().encode())


def read_csv(path) -> list[dict]:
    """Read a CSV file written by :func:`write_csv` (values that parse as int, else float, are converted).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    list of dict
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        conv = {}
        for k, v in r.items():
            try:
                conv[k] = int(v)
            except ValueError:
                try:
                    conv[k] = float(v)
                except ValueError:
                    conv[k] = v
        out.append(conv)
    return out


def write_npz(path, **arrays) -> None:
    """Write numpy arrays to an ``.npz`` file atomically.

    Parameters
    ----------
    path : str or path-like
    **arrays : numpy.ndarray
    """
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _atomic_write_bytes(path, buf.getvalue())


def write_torch(path, obj) -> None:
    """Write a torch object (``torch.save``) atomically.

    Parameters
    ----------
    path : str or path-like
    obj : object
    """
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    _atomic_write_bytes(path, buf.getvalue())


@contextlib.contextmanager
def folder_lock(folder):
    """Hold an exclusive lock on a results folder (``folder/.lock``, ``flock``) for one writer.

    A second process asking for the same folder gets ValueError at once (the CLI exits 2), so two
    writers can never interleave their files. The lock dies with the process (no stale locks).

    Parameters
    ----------
    folder : str or path-like
        Created if missing.

    Yields
    ------
    pathlib.Path
        The folder.

    Raises
    ------
    ValueError
        If another process holds the lock.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"results folder {folder} exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"results folder {folder} is being written by another process; wait for it or choose "
                             "another folder") from None
        yield folder
    finally:
        os.close(fd)
