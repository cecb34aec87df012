"""One autograd Function for every streamed objective of the engine.

An *implementation* object provides

* ``value_and_grad(Z, want) -> (value, dL/dZ or None)``: the objective and its exact gradient,
  computed chunk by chunk in forward, so memory stays bounded (no graph over the chunks is kept);
* ``differentiable(Z) -> value``: the same objective written with plain torch operations, used only
  when a second derivative is requested.

``backward`` returns the gradient stored in forward; when it runs under ``create_graph=True``
(Hessians, Hessian-vector products, ``gradgradcheck``) it instead differentiates
``differentiable(Z)`` with ``create_graph=True``, so second derivatives are exact rather than
silently zero. That path keeps the whole graph (memory ``O(n_batches B^2)`` for enumeration).
"""
from __future__ import annotations

import torch


class StreamedValue(torch.autograd.Function):
    """``impl``'s objective as a differentiable scalar of ``Z`` (first and second derivatives)."""

    @staticmethod
    def forward(ctx, Z, impl):
        value, G = impl.value_and_grad(Z.detach(), Z.requires_grad)
        ctx.impl = impl
        ctx.save_for_backward(Z, G if G is not None else torch.zeros(0, dtype=Z.dtype, device=Z.device))
        return value

    @staticmethod
    def backward(ctx, grad):
        Z, G = ctx.saved_tensors
        if torch.is_grad_enabled():              # create_graph=True: a differentiable gradient
            with torch.enable_grad():
                Zg = Z if Z.requires_grad else Z.detach().requires_grad_(True)
                (G,) = torch.autograd.grad(ctx.impl.differentiable(Zg), Zg, create_graph=True)
        return grad * G, None
