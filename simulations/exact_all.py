"""The exact all-``C(N,B)`` objective in polynomial time, without enumerating batches.

Every anchor ``i`` lies in ``C(N-1, B-1)`` batches, so the row (u-anchored) part of the
all-batches objective is

.. math::

    \\frac{1}{N} \\sum_i \\Big( \\mathbb{E}_T \\log\\big(e^{z_{ii}} + \\sum_{j \\in T} e^{z_{ij}}\\big) - z_{ii} \\Big),

``T`` a uniform ``(B-1)``-subset of the other indices; the column part is the same with ``Z^T``.
Two identities make the expectation exact:

1. Frullani: ``log X = int_0^inf (e^{-t} - e^{-t X}) dt / t`` for ``X > 0``;
2. ``E_T prod_{j in T} w_j = e_{B-1}(w) / C(N-1, B-1)`` (elementary symmetric polynomial).

With ``d_j = z_ij - z_ii`` (the anchor's own logit as the shift, so ``X = 1 + sum_T e^{d_j} >= 1``)
and ``w_j(t) = exp(-t e^{d_j})``, formed in the log domain as ``exp(-exp(s + d_j))``:

.. math::

    \\mathbb{E}_T \\log(1 + \\textstyle\\sum_T e^{d_j}) = \\int_{-\\infty}^{\\infty}
      e^{-e^s} \\big[1 - e_{B-1}(w(e^s)) / \\tbinom{N-1}{B-1}\\big]\\, ds.

The integrand decays like ``e^s`` as ``s -> -inf`` and double-exponentially as ``s -> +inf``; the
range is derived from the data (``s_lo = log(1e-17/B) - max(d, 0)``, ``s_hi = log 40``), so small
temperatures (large gaps ``d``) lengthen the range instead of overflowing: accurate against
enumeration down to tau = 1e-3 and below, refused (ValueError) past ``MAX_LOGIT_GAP``. The
trapezoid rule with step ``h`` converges geometrically (error ~ ``exp(-pi^2 / h)``). ``e_{B-1}``
is computed by a balanced product tree of truncated polynomials whose coefficients are kept
*normalised* (``p_k = e_k / C(n, k)``, merged with hypergeometric weights that sum to one): every
quantity is in ``[0, 1]``, every term positive, no cancellation. Cost ``O(N^2 B Q)``, memory
chunked by rows; the exact gradient is computed chunk by chunk in forward and second derivatives
by plain autograd (:mod:`simulations._autograd`).
"""
from __future__ import annotations

import math

import torch

from theory._checks import check_int, check_loss, check_positive_float, check_tau

from ._autograd import StreamedValue
from ._checks import check_embeddings
from .limits import DEFAULT_MEMORY_BUDGET, FORMULA_THREADS, intra_op_threads

DEFAULT_STEP = 0.25


def _log_comb(n: int, k: torch.Tensor) -> torch.Tensor:
    return math.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)


def elementary_symmetric_normalized(W: torch.Tensor, k: int) -> torch.Tensor:
    """``e_k(w) / C(n, k)`` over the last axis of ``W`` (length ``n``, a power of two), entries in [0, 1].

    Balanced product tree: level polynomials hold ``p_j = e_j / C(size, j)`` for ``j <= k``; two
    children of size ``n`` merge as ``p_j = sum_i p_i^L p_{j-i}^R C(n,i) C(n,j-i) / C(2n,j)``.
    """
    n = W.shape[-1]
    if n & (n - 1):
        raise ValueError(f"the last axis must have a power-of-two length, got {n}")
    x = torch.stack([torch.ones_like(W), W], dim=-1)            # (..., n, 2): size-1 polynomials
    size = 1
    dev, dt = W.device, W.dtype
    while x.shape[-2] > 1:
        K = x.shape[-1]
        K2 = min(2 * size, k) + 1
        j = torch.arange(K2, device=dev, dtype=torch.float64)[:, None]
        i = torch.arange(K, device=dev, dtype=torch.float64)[None, :]
        valid = (j - i >= 0) & (j - i <= K - 1)
        jm = torch.where(valid, j - i, torch.zeros_like(j - i))
        logH = _log_comb(size, i) + _log_comb(size, jm) - _log_comb(2 * size, j)
        H = torch.where(valid, torch.exp(logH), torch.zeros_like(logH)).to(dt)     # (K2, K)
        L, R = x[..., 0::2, :], x[..., 1::2, :]
        out = None
        for i0 in range(min(K, K2)):                       # sum of shifted products: no gather, no scatter
            span = min(K, K2 - i0)                          # coefficients j = i0 .. i0 + span - 1
            term = L[..., i0:i0 + 1] * R[..., :span] * H[i0:i0 + span, i0]
            term = torch.nn.functional.pad(term, (i0, K2 - i0 - span))
            out = term if out is None else out + term
        x = out
        size *= 2
    return x[..., 0, k]


#: Largest logit gap ``max_ij (z_ij - z_ii)`` the formula accepts: the quadrature range grows like
#: the gap (about ``4 * gap`` nodes at the default step), so beyond it the formula refuses with a
#: ValueError (enumerate instead). Random unit vectors reach the limit near tau = 2e-4.
MAX_LOGIT_GAP = 1e4


def _integration_grid(D: torch.Tensor, B: int, h: float):
    """Nodes ``s`` (``t = e^s``) and step for the Frullani integral, the range derived from the data.

    ``D[i, j] = z_ij - z_ii`` (the anchor's own entry excluded). The integrand is at most
    ``e^{-t}`` (so ``s_hi = log 40`` leaves ``e^{-40}``) and at most ``(B-1) e^{s + max(D, 0)}`` times the
    value's own scale below, which fixes ``s_lo`` for a relative tail below 1e-17.
    """
    with torch.no_grad():
        finite = D[torch.isfinite(D)]
        dmax = max(float(finite.max()), 0.0) if finite.numel() else 0.0
    if not math.isfinite(dmax) or dmax > MAX_LOGIT_GAP:
        raise ValueError(f"the exact formula needs logit gaps max(z_ij - z_ii) <= {MAX_LOGIT_GAP:g}, got {dmax:.4g} "
                         "(tau too small for these embeddings); use method='enumerate' where C(N,B) allows")
    s_lo = math.log(1e-17 / B) - dmax
    s_hi = math.log(40.0)
    Q = int(math.ceil((s_hi - s_lo) / h)) + 1
    s = torch.linspace(s_lo, s_hi, Q, dtype=D.dtype, device=D.device)
    return s, (s_hi - s_lo) / (Q - 1)


def _rows_term(Zr: torch.Tensor, rows: torch.Tensor, B: int, s: torch.Tensor, step: float, scale: float, Npad: int):
    """Sum over the given anchors of ``E_T log(sum_{j in T+{i}} exp(z_ij)) - z_ii``; ``Zr`` holds their rows.

    Shifted by the anchor's own logit: ``log(1 + sum_T e^{d_j})`` with ``d_j = z_ij - z_ii``, and
    ``w_j = exp(-e^{s + d_j})`` formed in the log domain (no overflow or underflow of ``e^{d}``; the
    exponent is capped at 700, where ``w`` is exactly 0 with a zero derivative, and the anchor's own
    entry is excluded by ``w_i = 0``).
    """
    ar = torch.arange(rows.numel(), device=Zr.device)
    D = (Zr - Zr[ar, rows][:, None]).index_put((ar, rows), torch.tensor(math.inf, dtype=Zr.dtype, device=Zr.device))
    u = (s[None, :, None] + D[:, None, :]).clamp(max=700.0)
    W = torch.exp(-torch.exp(u))                                                        # (r, Q, N)
    if Npad > W.shape[-1]:
        W = torch.nn.functional.pad(W, (0, Npad - W.shape[-1]))
    e = elementary_symmetric_normalized(W, B - 1) * scale                               # E_T prod_T w, (r, Q)
    f = torch.exp(-torch.exp(s))[None, :] * (1 - e)
    return step * f.sum()


class _FormulaImpl:
    """Mean over anchors of the row terms (see :class:`simulations._autograd.StreamedValue`): forward
    computes the exact dL/dZ chunk of rows by chunk, so memory is bounded by one chunk."""

    def __init__(self, B: int, h: float, budget: int):
        self.B, self.h, self.budget = B, h, budget

    def _setup(self, Zd):
        N, B = Zd.shape[0], self.B
        Npad = 1 << (N - 1).bit_length()
        D = (Zd - Zd.diagonal()[:, None]).fill_diagonal_(-math.inf)
        s, step = _integration_grid(D, B, self.h)
        k = torch.tensor(float(B - 1), dtype=torch.float64)
        scale = float(torch.exp(_log_comb(Npad, k) - _log_comb(N - 1, k)))
        rows_per = max(1, self.budget // (s.numel() * Npad * (4 * B + 8) * Zd.element_size()))
        return Npad, s, step, scale, rows_per

    def value_and_grad(self, Zd, want):
        N = Zd.shape[0]
        Npad, t, step, scale, rows_per = self._setup(Zd)
        G = torch.zeros_like(Zd) if want else None
        total = torch.zeros((), dtype=Zd.dtype, device=Zd.device)
        for r0 in range(0, N, rows_per):
            rows = torch.arange(r0, min(N, r0 + rows_per), device=Zd.device)
            with torch.enable_grad():
                Zr = Zd[rows].clone().requires_grad_(want)
                val = _rows_term(Zr, rows, self.B, t, step, scale, Npad)
                if want:
                    (g,) = torch.autograd.grad(val, Zr)
                    G[rows] = g
            total = total + val.detach()
        return total / N, (G / N if want else None)

    def differentiable(self, Z):
        """Plain autograd through every row chunk (used for second derivatives only)."""
        N = Z.shape[0]
        Npad, t, step, scale, rows_per = self._setup(Z.detach())
        total = torch.zeros((), dtype=Z.dtype, device=Z.device)
        for r0 in range(0, N, rows_per):
            rows = torch.arange(r0, min(N, r0 + rows_per), device=Z.device)
            total = total + _rows_term(Z[rows], rows, self.B, t, step, scale, Npad)
        return total / N


def all_batches_objective(U: torch.Tensor, V: torch.Tensor, B: int, *, loss: str = "symmetric", tau: float = 1.0,
                          step: float = DEFAULT_STEP, memory_budget: int = DEFAULT_MEMORY_BUDGET, check: bool = True,
                          threads: int | None = FORMULA_THREADS) -> torch.Tensor:
    """Exact all-``C(N,B)`` objective (mean over all batches of the per-batch mean loss), differentiable.

    Computed in float64 whatever the input dtype (the result is cast back). ``step`` is the
    trapezoid step in ``s = log t``; the default 0.25 reaches ~1e-13 against enumeration.
    ``threads``: torch intra-op threads for the computation (default ``FORMULA_THREADS = 1``, which
    degrades gracefully beside other processes, see :mod:`simulations.limits`); None leaves torch's
    setting.
    """
    if check:
        check_embeddings(U, V)
    N = U.shape[0]
    B = check_int("B", B, low=2, high=N)
    check_loss(loss)
    tau = check_tau(tau)
    h = check_positive_float("step", step)
    Z = (U.double() @ V.double().T) / tau
    budget = check_int("memory_budget", memory_budget, low=1)
    impl = _FormulaImpl(B, h, budget)
    with intra_op_threads(threads):
        val = StreamedValue.apply(Z, impl)
        if loss == "symmetric":
            val = val + StreamedValue.apply(Z.T, impl)
    return val.to(U.dtype)
