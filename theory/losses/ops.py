"""The few array operations a loss needs, for numpy arrays and torch tensors alike.

A loss's :meth:`~theory.losses.Loss.batch_losses` is written once with ``xp = ops.namespace(Z)``
and serves the numpy oracle (float64, and complex128 for the complex-step gradient of
:func:`theory.gradient`) and the torch engine (any device and dtype, differentiable). Every
function works on the last two axes of ``(..., b, b)`` blocks where it says so.

This module never imports torch: a torch tensor can only exist once torch is imported, and its
namespace is built from the already loaded module.
"""
from __future__ import annotations

import sys

import numpy as np


class _Numpy:
    """numpy (real or complex): ``logsumexp`` and ``softplus`` subtract a real shift, so the
    complex step of :func:`theory.gradient` differentiates them exactly."""

    name = "numpy"

    @staticmethod
    def exp(x):
        return np.exp(x)

    @staticmethod
    def log(x):
        return np.log(x)

    @staticmethod
    def sum(x, axis=None):
        return np.sum(x, axis=axis)

    @staticmethod
    def mean(x, axis=None):
        return np.mean(x, axis=axis)

    @staticmethod
    def diagonal(x):
        """``(..., b)`` diagonals of ``(..., b, b)`` blocks."""
        return np.diagonal(x, axis1=-2, axis2=-1)

    @staticmethod
    def transpose(x):
        """Swap the last two axes."""
        return np.swapaxes(x, -1, -2)

    @staticmethod
    def eye(b, like):
        """``(b, b)`` boolean identity."""
        return np.eye(b, dtype=bool)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def logsumexp(x, axis=-1):
        """``log sum exp(x)`` along ``axis`` (entries ``-inf`` allowed); the real maximum is subtracted."""
        m = np.max(np.real(x), axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))

    @staticmethod
    def softplus(x):
        """``log(1 + e^x)`` without overflow (complex-safe: the branch is chosen on the real part)."""
        if np.iscomplexobj(x):
            pos = np.real(x) > 0
            return np.where(pos, x + np.log1p(np.exp(-np.where(pos, x, 0))), np.log1p(np.exp(np.where(pos, 0, x))))
        return np.logaddexp(0.0, x)

    @staticmethod
    def concat(xs, axis=-1):
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def full_like(x, value):
        return np.full_like(x, value)


class _Torch:
    """torch (any device, any floating dtype, differentiable)."""

    name = "torch"

    def __init__(self, torch):
        self.t = torch

    def exp(self, x):
        return self.t.exp(x)

    def log(self, x):
        return self.t.log(x)

    def sum(self, x, axis=None):
        return x.sum() if axis is None else x.sum(dim=axis)

    def mean(self, x, axis=None):
        return x.mean() if axis is None else x.mean(dim=axis)

    def diagonal(self, x):
        return x.diagonal(dim1=-2, dim2=-1)

    def transpose(self, x):
        return x.transpose(-1, -2)

    def eye(self, b, like):
        return self.t.eye(b, dtype=self.t.bool, device=like.device)

    def where(self, cond, a, b):
        t = self.t
        ref = a if isinstance(a, t.Tensor) else b
        a = a if isinstance(a, t.Tensor) else t.as_tensor(a, dtype=ref.dtype, device=ref.device)
        b = b if isinstance(b, t.Tensor) else t.as_tensor(b, dtype=ref.dtype, device=ref.device)
        return t.where(cond, a, b)

    def logsumexp(self, x, axis=-1):
        return self.t.logsumexp(x, dim=axis)

    def softplus(self, x):
        """Exact ``log(1 + e^x)`` (``torch.nn.functional.softplus`` returns ``x`` above 20)."""
        return self.t.logaddexp(x, self.t.zeros((), dtype=x.dtype, device=x.device))

    def concat(self, xs, axis=-1):
        return self.t.cat(xs, dim=axis)

    def full_like(self, x, value):
        return self.t.full_like(x, value)


_NUMPY = _Numpy()
_TORCH = None


def is_torch(x) -> bool:
    """True for a torch tensor (checked without importing torch).

    Parameters
    ----------
    x : object

    Returns
    -------
    bool
    """
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def namespace(x):
    """The operations for ``x``'s library: numpy for arrays (and cvxpy-free numbers), torch for tensors.

    Parameters
    ----------
    x : numpy.ndarray, torch.Tensor or number

    Returns
    -------
    namespace
        An object with the array operations a loss uses (``logsumexp``, ``softplus``, ``where``, ``eye``, ...).
    """
    global _TORCH
    if is_torch(x):
        if _TORCH is None:
            _TORCH = _Torch(sys.modules["torch"])
        return _TORCH
    return _NUMPY
