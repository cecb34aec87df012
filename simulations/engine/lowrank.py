r"""The low-rank certificate (:mod:`theory.lowrank`) with the objective and its Gram gradient from the engine.

:func:`theory.lowrank.certify_lowrank` needs, at each factor, the family objective ``f`` and its gradient with
respect to the Gram matrices (:class:`theory.GramGradient`); the numpy oracle computes them by enumerating the
batches, which it refuses above :data:`theory.ENUMERATION_LIMIT` batches (all ``C(N, B)`` at large N, big
weighted families). The engine computes the same quantities exactly without enumerating such families, through
the loss's fastest exact form (InfoNCE's polynomial formula, a pair-sum closed form) or streamed batches:

* a loss whose engine kernel reads the embeddings (:attr:`theory.Loss.kernel`, InfoNCE's) and that needs no
  self Grams is evaluated at ``U' = I_N``, ``V' = Z^T`` (float64): ``U' V'^T = Z`` exactly (products by 1 and
  sums with 0 are exact in floating point), and ``dL/dV' = (dL/dZ')^T U' = (dL/dZ)^T``, so the engine's own
  autograd gives ``dL/dZ = (dL/dV')^T`` exactly. The price is one ``N x N x N`` product per evaluation
  (``2 N^3`` flops: about the cost of InfoNCE's formula at ``N = 1024``, ``B = 64``);
* every other loss goes through :func:`simulations.engine.gram_objective` on the Gram stack
  ``T = [Z, U U^T, V V^T]`` (or ``[Z]``) as a leaf, whose gradient is the Gram gradient itself.

Both are float64. :func:`certify` is :func:`theory.certify` with this gradient for the low-rank method.
"""
from __future__ import annotations

import numpy as np
import torch

from theory.batches import ENUMERATION_LIMIT, Family
from theory.certificates import certify as _theory_certify
from theory.front import GramGradient
from theory.losses import as_loss

from simulations.engine import _kernel, gram_objective, grams, objective
from simulations.engine.limits import DEFAULT_MEMORY_BUDGET

#: Where :func:`certify` takes the low-rank method's gradient from.
GRADIENTS = ("auto", "oracle", "engine")


def gram_value_and_gradient(U, V, family: Family, loss, *, memory_budget: int = DEFAULT_MEMORY_BUDGET,
                            device: str = "cpu") -> tuple[float, GramGradient]:
    """The family objective and its exact gradient with respect to the Gram matrices, from the engine (float64).

    Parameters
    ----------
    U, V : array_like, shape (N, d)
        Unit-norm rows (not checked: the low-rank optimiser keeps them unit).
    family : theory.Family
        Any family the engine evaluates exactly (all ``C(N, B)`` at any N for InfoNCE and the pair-sum losses,
        streamed batches otherwise).
    loss : theory.Loss or str
    memory_budget : int, default=DEFAULT_MEMORY_BUDGET
        Bytes of working memory per chunk.
    device : str, default='cpu'
        Torch device of the computation (results are returned as numpy arrays).

    Returns
    -------
    (float, theory.GramGradient)
        ``L_F(U, V)`` and ``dL_F/dZ`` (and ``dL_F/d(U U^T)``, ``dL_F/d(V V^T)``; zero for losses without self
        Grams), the same quantities as :func:`theory.objective` and :func:`theory.gram_gradient`.

    Raises
    ------
    ValueError
        As :func:`simulations.objective` (a family over another N, a loss that cannot evaluate it exactly), or a
        non-finite objective or gradient.
    """
    loss = as_loss(loss)
    U = torch.as_tensor(np.asarray(U, dtype=np.float64), device=device)
    V = torch.as_tensor(np.asarray(V, dtype=np.float64), device=device)
    if U.ndim != 2 or U.shape != V.shape or U.shape[0] != family.N:
        raise ValueError(f"U and V must both have shape (N, d) with N = family.N = {family.N}, got "
                         f"{tuple(U.shape)} and {tuple(V.shape)}")
    N = family.N
    zeros = np.zeros((N, N))
    if _kernel(loss) is not None and not loss.needs_self_grams:
        Vp = (U @ V.T).T.contiguous().requires_grad_(True)             # V' = Z^T
        Up = torch.eye(N, dtype=torch.float64, device=device)          # U' = I: U' V'^T = Z exactly
        val = objective(Up, Vp, family, loss, memory_budget=memory_budget, check=False)
        (gV,) = torch.autograd.grad(val, Vp)
        gZ = gV.T.detach().cpu().numpy()
        out = float(val.detach()), GramGradient(Z=np.ascontiguousarray(gZ), UU=zeros, VV=zeros)
    else:
        T = grams(loss, U, V).requires_grad_(True)
        val = gram_objective(T, family, loss, memory_budget=memory_budget)
        (gT,) = torch.autograd.grad(val, T)
        gT = gT.detach().cpu().numpy()
        out = float(val.detach()), GramGradient(Z=gT[0], UU=gT[1] if gT.shape[0] == 3 else zeros,
                                                VV=gT[2] if gT.shape[0] == 3 else zeros)
    value, g = out
    if not (np.isfinite(value) and all(np.all(np.isfinite(a)) for a in (g.Z, g.UU, g.VV))):
        raise ValueError(f"loss {loss.label}: the engine's objective or gradient is not finite (NaN or inf)")
    return out


def engine_grad_fn(family: Family, loss, *, memory_budget: int = DEFAULT_MEMORY_BUDGET, device: str = "cpu"):
    """``grad_fn(U, V) -> (value, GramGradient)`` for :func:`theory.lowrank.certify_lowrank`, from the engine
    (:func:`gram_value_and_gradient` bound to ``family`` and ``loss``).

    Parameters
    ----------
    family : theory.Family
    loss : theory.Loss or str
    memory_budget : int, default=DEFAULT_MEMORY_BUDGET
    device : str, default='cpu'

    Returns
    -------
    callable
    """
    loss = as_loss(loss)

    def grad_fn(U, V):
        return gram_value_and_gradient(U, V, family, loss, memory_budget=memory_budget, device=device)
    return grad_fn


def certify(family: Family, loss, *, method: str = "auto", gradient: str = "auto",
            memory_budget: int = DEFAULT_MEMORY_BUDGET, device: str = "cpu", **options):
    """:func:`theory.certify` (the convex relaxation's global optimum) at any size the engine evaluates.

    The SDP (``method='sdp'``, or ``'auto'`` below :data:`theory.lowrank.AUTO_MIN_N`) is :func:`theory.certify`'s.
    The low-rank method (:func:`theory.lowrank.certify_lowrank`) takes the objective and its Gram gradient from
    ``gradient``; its certificate is then as exact as that gradient (both are, in float64).

    Parameters
    ----------
    family : theory.Family
        Any family; past :data:`theory.ENUMERATION_LIMIT` batches (all ``C(N, B)`` at large N) only the low-rank
        method with the engine's gradient applies (``method='auto'`` selects it).
    loss : theory.Loss or str
        A loss with a convex relaxation.
    method : {'auto', 'sdp', 'lowrank'}, default='auto'
        As :func:`theory.certify`.
    gradient : {'auto', 'oracle', 'engine'}, default='auto'
        ``'oracle'``: :func:`theory.objective` and :func:`theory.gram_gradient` (batches enumerated in numpy);
        ``'engine'``: :func:`gram_value_and_gradient`; ``'auto'``: the oracle for families of at most
        :data:`theory.ENUMERATION_LIMIT` batches, the engine above.
    memory_budget : int, default=DEFAULT_MEMORY_BUDGET
        The engine's working memory per chunk (bytes).
    device : str, default='cpu'
        The engine's torch device.
    **options
        ``solver``, ``solver_options``, ``rank``, ``rel_tol``, ``max_iter``, ``seed`` of :func:`theory.certify`.

    Returns
    -------
    theory.certificates.Certificate or theory.lowrank.LowRankCertificate

    Raises
    ------
    ValueError
        An unknown ``gradient``, ``gradient='engine'`` with ``method='sdp'``, the SDP on a family past the
        enumeration limit, and :func:`theory.certify`'s.
    """
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
    if not isinstance(family, Family):
        raise ValueError(f"family must be a theory.Family, got {type(family).__name__}")
    if method == "sdp" and gradient == "engine":
        raise ValueError("gradient='engine' is the low-rank method's; method='sdp' takes no gradient (the SDP "
                         "builds its own expression of the objective)")
    if gradient == "auto":
        gradient = "engine" if family.n_batches > ENUMERATION_LIMIT and method != "sdp" else "oracle"
    grad_fn = (engine_grad_fn(family, loss, memory_budget=memory_budget, device=device)
               if gradient == "engine" else None)
    return _theory_certify(family, loss, method=method, grad_fn=grad_fn, **options)
