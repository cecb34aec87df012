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
    with torch.no_grad():
        tol = 1e-6 if U.dtype == torch.float64 else 1e-4
        for name, X in (("U", U), ("V", V)):
            if not torch.isfinite(X).all():
                raise ValueError(f"{name} must be finite (no NaN or inf)")
            if (X.norm(dim=1) - 1).abs().max() > tol:
                raise ValueError(f"{name} rows must have unit norm (tolerance {tol}); normalise them first")
