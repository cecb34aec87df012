"""Input validation of torch tensors shared by the engine modules (ValueError naming the parameter)."""
from __future__ import annotations

import torch


def check_embeddings(U: torch.Tensor, V: torch.Tensor) -> None:
    """Raise ValueError unless U, V are floating (N, d) tensors of one shape with finite unit-norm rows."""
    for name, X in (("U", U), ("V", V)):
        if not isinstance(X, torch.Tensor) or X.ndim != 2 or not X.is_floating_point():
            raise ValueError(f"{name} must be a floating-point torch tensor of shape (N, d)")
    if U.shape != V.shape:
        raise ValueError(f"U and V must have the same shape, got {tuple(U.shape)} and {tuple(V.shape)}")
    compute_dtype(U.dtype)
    if V.dtype != U.dtype:
        raise ValueError(f"U and V must have the same dtype, got {U.dtype} and {V.dtype}")
    with torch.no_grad():
        tol = unit_norm_tolerance(U.dtype, U.shape[1])
        for name, X in (("U", U), ("V", V)):
            if not torch.isfinite(X).all():
                raise ValueError(f"{name} must be finite (no NaN or inf)")
            if (X.double().norm(dim=1) - 1).abs().max() > tol:
                raise ValueError(f"{name} rows must have unit norm (tolerance {tol}); normalise them first")


#: Input dtypes the engine accepts, and the dtype it computes in: half precisions are promoted to
#: float32 (their exponent range overflows ``exp`` of logits above ~11 for float16), the result is
#: cast back to the input dtype.
COMPUTE_DTYPE = {torch.float64: torch.float64, torch.float32: torch.float32,
                 torch.float16: torch.float32, torch.bfloat16: torch.float32}


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype the engine computes in for inputs of ``dtype`` (ValueError for anything else)."""
    if dtype not in COMPUTE_DTYPE:
        raise ValueError(f"dtype must be one of {[str(d) for d in COMPUTE_DTYPE]}, got {dtype}")
    return COMPUTE_DTYPE[dtype]


def unit_norm_tolerance(dtype: torch.dtype, d: int) -> float:
    """How far from 1 a row norm may be in ``dtype``: ``max(1e-6, 8 eps sqrt(d))`` (rounding of a normalised row)."""
    return max(1e-6, 8 * torch.finfo(dtype).eps * d**0.5)


def exp_safe(dtype: torch.dtype, n_terms: int) -> float:
    """Largest ``x`` such that a sum of ``n_terms`` values ``exp(<= x)`` cannot overflow ``dtype``."""
    import math
    return math.log(torch.finfo(dtype).max) - math.log(max(n_terms, 1)) - 1.0
