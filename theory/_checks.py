"""Input validation shared by the whole toolkit.

Every public function validates before it computes, and every error names the
parameter and the allowed range (``ValueError``), so that bad input never
produces a silent number.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

LOSSES = ("symmetric", "one_sided")
UNIT_NORM_ATOL = 1e-6


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as int, or raise ValueError naming ``name`` and the range."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def check_positive_float(name: str, value) -> float:
    """Return ``value`` as a finite float > 0, or raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_tau(tau) -> float:
    """Temperature: a finite float > 0."""
    return check_positive_float("tau", tau)


def check_loss(loss: str) -> str:
    """Loss convention: 'symmetric' (CLIP, default) or 'one_sided'."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def check_batch_size(N: int, B: int) -> tuple[int, int]:
    """N >= 2 points and a batch size 2 <= B <= N."""
    N = check_int("N", N, low=2)
    B = check_int("B", B, low=2, high=N)
    return N, B


def normalize_rows(X) -> np.ndarray:
    """The rows of ``X`` scaled to unit Euclidean norm, :math:`x_i / \\lVert x_i \\rVert_2`, in float64.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Finite rows, none of them zero.

    Returns
    -------
    numpy.ndarray, shape (N, d)
        The normalised rows (float64).

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, holds NaN or inf, or has a zero row.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (N, d), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (no NaN or inf)")
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"X has zero rows {np.flatnonzero(norms[:, 0] == 0).tolist()}; they cannot be normalised")
    return X / norms


def check_embedding(name: str, X, *, N: int | None = None) -> np.ndarray:
    """Validate an (N, d) float array of finite unit-norm rows and return it as float64."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, d) with N, d >= 1, got {X.shape}")
    if N is not None and X.shape[0] != N:
        raise ValueError(f"{name} must have N = {N} rows, got {X.shape[0]}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    norms = np.linalg.norm(X, axis=1)
    bad = np.flatnonzero(np.abs(norms - 1.0) > UNIT_NORM_ATOL)
    if bad.size:
        raise ValueError(
            f"{name} rows must have unit norm (|norm - 1| <= {UNIT_NORM_ATOL}); rows {bad[:5].tolist()} have "
            f"norms {np.round(norms[bad[:5]], 6).tolist()}; use theory.normalize_rows"
        )
    return X


def check_pair(U, V) -> tuple[np.ndarray, np.ndarray]:
    """Validate U, V: (N, d) unit-norm rows of equal shape."""
    U = check_embedding("U", U)
    V = check_embedding("V", V)
    if U.shape != V.shape:
        raise ValueError(f"U and V must have the same shape, got U {U.shape} and V {V.shape}")
    return U, V
