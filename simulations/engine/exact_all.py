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

The integrand decays like ``e^s`` as ``s -> -inf`` and double-exponentially as ``s -> +inf``. The
left tail is folded by the map ``s = x - exp(x0 - x)`` (``x0 = -max(d) - 3``; ``s ~ x`` where the
integrand has its features, ``s -> -inf`` double-exponentially on the left), and the trapezoid rule
runs in ``x`` with step ``h`` (error ``~ exp(-pi^2 / h)``, the integrand being analytic in a strip):
about 50 nodes at tau = 1 where the plain rule in ``s`` needed about 190, to a 1e-17 tail
(``s_lo = log(1e-17 / (B (60 + dmax))) - dmax`` with ``dmax = max(d, 0)``, ``s_hi = log 40``; see
:func:`quadrature`). Small temperatures (large gaps ``d``)
lengthen the range instead of overflowing: accurate against enumeration down to tau = 1e-3 and
below, refused (ValueError) past ``MAX_LOGIT_GAP``.

``e_{B-1}`` comes from a balanced product tree of truncated polynomials. A node of ``n`` leaves
stores ``S_j = e_j c^j / n^j`` (``j <= k = B - 1``, ``c`` a power of two near ``k / e``), so two
children merge by a plain truncated convolution and the exact factor ``2^{-j}``; every term is
positive (no cancellation) and the root's ``S_k`` times ``Npad^k / (c^k C(N-1, k))`` (an exact
rational rounded once) is ``E_T prod_T w``. The gradient is analytic: the derivative of ``e_k``
with respect to ``w_j`` is ``e_{k-1}`` of the others, which the same tree delivers top-down
("outside" products: the adjoint of a child is the parent's adjoint correlated with its sibling).
Cost ``O(N^2 B Q)``. Backends: a fused CPU kernel (``numba``, :mod:`simulations.engine._formula_kernel`:
one scratch tree per anchor, parallel over anchors) and a torch implementation of the same tree
for any device (levels as batched Hankel matrix products, rows chunked to the memory budget).
Second derivatives (``create_graph=True``) differentiate the reference implementation (the
previous algorithm, kept callable as ``backend='reference'``: plain trapezoid in ``s``, normalised
coefficients, autograd through the tree) with plain autograd.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch

from theory._checks import check_int, check_positive_float
from theory.losses import as_loss

from simulations.engine._autograd import StreamedValue
from simulations.engine._tensor_checks import check_embeddings
from simulations.engine.limits import DEFAULT_MEMORY_BUDGET, FORMULA_THREADS, intra_op_threads

#: Trapezoid step in the mapped variable ``x`` (error ~ exp(-pi^2 / h)): 0.25 reaches ~1e-15
#: relative against an mpmath reference; 0.3 still did in our tests, 0.35 lost two digits.
DEFAULT_STEP = 0.25
#: The fold of the left tail starts this far left of the largest gap, ``x0 = -max(d) - MAP_OFFSET``.
MAP_OFFSET = 3.0
#: Largest tree degree ``B - 1``: the merge factors ``2^-j`` stay normal floats (2^-1022 is the
#: smallest); past it they round to zero and the tree would return zeros.
MAX_TREE_DEGREE = 1000
BACKENDS = ("auto", "numba", "torch", "reference")


def _log_comb(n: int, k: torch.Tensor) -> torch.Tensor:
    return math.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1)


def elementary_symmetric_normalized(W: torch.Tensor, k: int) -> torch.Tensor:
    """``e_k(w) / C(n, k)`` over the last axis of ``W`` (length ``n``, a power of two), entries in [0, 1].

    Balanced product tree: level polynomials hold ``p_j = e_j / C(size, j)`` for ``j <= k``; two
    children of size ``n`` merge as ``p_j = sum_i p_i^L p_{j-i}^R C(n,i) C(n,j-i) / C(2n,j)``.

    Parameters
    ----------
    W : torch.Tensor, shape (..., n)
        Entries in ``[0, 1]``; ``n`` a power of two.
    k : int
        Degree, ``0 <= k <= n``.

    Returns
    -------
    torch.Tensor, shape (...)
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


def _check_gap(dmax: float) -> float:
    if not math.isfinite(dmax) or dmax > MAX_LOGIT_GAP:
        raise ValueError(f"the exact formula needs logit gaps max(z_ij - z_ii) <= {MAX_LOGIT_GAP:g}, got {dmax:.4g} "
                         "(tau too small for these embeddings); use method='enumerate' where C(N,B) allows")
    return max(dmax, 0.0)


def _reference_grid(D: torch.Tensor, B: int, h: float):
    """Nodes ``s`` (``t = e^s``) and step for the Frullani integral, the range derived from the data.

    ``D[i, j] = z_ij - z_ii`` (the anchor's own entry excluded). The integrand is at most
    ``e^{-t}`` (so ``s_hi = log 40`` leaves ``e^{-40}``) and at most ``(B-1) e^{s + max(D, 0)}`` times the
    value's own scale below, which fixes ``s_lo`` for a relative tail below 1e-17.
    """
    with torch.no_grad():
        finite = D[torch.isfinite(D)]
        dmax = _check_gap(float(finite.max()) if finite.numel() else 0.0)
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


class _ReferenceImpl:
    """Mean over anchors of the row terms (see :class:`simulations.engine._autograd.StreamedValue`): forward
    computes the exact dL/dZ chunk of rows by chunk, so memory is bounded by one chunk."""

    def __init__(self, B: int, h: float, budget: int):
        self.B, self.h, self.budget = B, h, budget

    def _setup(self, Zd):
        N, B = Zd.shape[0], self.B
        Npad = 1 << (N - 1).bit_length()
        D = (Zd - Zd.diagonal()[:, None]).fill_diagonal_(-math.inf)
        s, step = _reference_grid(D, B, self.h)
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


def quadrature(dmax: float, B: int, h: float = DEFAULT_STEP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes and weights of the folded trapezoid rule for ``int e^{-e^s} g(s) ds`` and ``int E1(e^s) g(s) ds``.

    ``s_q = x_q - exp(x0 - x_q)`` on an equispaced grid ``x_q`` of step ``<= h`` (``x0 = -dmax -
    MAP_OFFSET``), from ``s_lo = log(1e-17 / (B (60 + dmax))) - dmax`` (below it both integrands of
    the formula are at most ``(B - 1) (|s| + 1) e^{s + dmax}``, a tail below 1e-17) to
    ``s = log 40`` (``e^{-40}`` above); ``omega_q = h (1 + exp(x0 - x_q)) e^{-e^{s_q}}`` and
    ``omega1_q`` the same with the exponential integral ``E1(e^{s_q}) = int_{s_q}^inf e^{-e^u} du``.
    ``dmax``: the largest logit gap ``max_{i != j} (z_ij - z_ii)`` (at least 0); refused past
    ``MAX_LOGIT_GAP``. Returns ``(s, omega, omega1)``, each ``(Q,)`` float64.

    Parameters
    ----------
    dmax : float
        The largest logit gap, >= 0.
    B : int
        Batch size.
    h : float, default=0.25
        Largest step, > 0.

    Returns
    -------
    tuple of numpy.ndarray
    """
    from scipy.special import exp1
    B = check_int("B", B, low=2)
    h = check_positive_float("h", h)
    dmax = _check_gap(float(dmax))
    x0 = -dmax - MAP_OFFSET
    s_lo, s_hi = math.log(1e-17 / (B * (60.0 + dmax))) - dmax, math.log(40.0)

    def solve(target, lo, hi):                        # s(x) is increasing; bisection to machine precision
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid - math.exp(x0 - mid) < target:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    x_lo, x_hi = solve(s_lo, s_lo, s_hi), solve(s_hi, s_hi, s_hi + 10.0)
    Q = int(math.ceil((x_hi - x_lo) / h)) + 1
    x = np.linspace(x_lo, x_hi, Q)
    fold = np.exp(x0 - x)
    s = x - fold
    jac = (x_hi - x_lo) / (Q - 1) * (1.0 + fold)
    t = np.exp(s)
    # E1(t) = -gamma - log t + t - t^2/4 + ...: the series where e^s would underflow (exp1(0) = inf)
    e1 = np.where(s < -30.0, -np.euler_gamma - s + t, exp1(np.maximum(t, 1e-300)))
    return s, jac * np.exp(-t), jac * e1


def tree_constants(N: int, B: int) -> tuple[int, float, int, float]:
    """``(k, c, Npad, rootscale)`` of the scaled product tree: ``k = B - 1``; ``c = 2^round(log2(k/e))``
    (clipped to [1, 256], so intermediate coefficients stay below ``e^{2c}`` and the root's ``S_k`` near
    ``p_k / sqrt(2 pi k)``); ``Npad`` the power of two ``>= N``; ``rootscale = Npad^k / (c^k C(N-1, k))``
    as an exact rational rounded once (a relative error here is multiplied by about 40 / value in
    the integral, which is why it is not taken from lgamma).

    Parameters
    ----------
    N : int
        Number of pairs.
    B : int
        Batch size.

    Returns
    -------
    tuple
    """
    N = check_int("N", N, low=2)
    B = check_int("B", B, low=2, high=N)
    k = B - 1
    c = 2 ** min(max(round(math.log2(max(k / math.e, 1.0))), 0), 8)
    Npad = 1 << (N - 1).bit_length()
    log_root = k * math.log(Npad / c) - (math.lgamma(N) - math.lgamma(k + 1) - math.lgamma(N - k))
    if k > MAX_TREE_DEGREE or abs(log_root) > 690.0 or k * math.log(c) - math.lgamma(k + 1) < -600:
        # 2^-k must stay a normal float, the root's scale must be representable, and the root's S_k
        # (about p_k c^k / k!) must not underflow: otherwise the tree would return zeros, not an error
        raise ValueError(f"B = {B} at N = {N} is beyond the exact formula's scaled tree (it needs B - 1 <= "
                         f"{MAX_TREE_DEGREE} and Npad^(B-1) / (c^(B-1) C(N-1, B-1)) within float range; "
                         f"here its log is {log_root:.0f}); use method='enumerate' where C(N,B) allows")
    return k, float(c), Npad, float(Fraction(Npad ** k, math.comb(N - 1, k) * c ** k))


def _gap_max(Z: torch.Tensor) -> float:
    with torch.no_grad():
        D = Z - Z.diagonal()[:, None]
        D.fill_diagonal_(-math.inf)
        return float(D.max())


class _KernelImpl:
    """The fused numba kernel (CPU): all anchors in one call, ``threads`` workers over anchors (None:
    torch's intra-op thread count, so the executors' one-thread pinning applies to it too)."""

    def __init__(self, B: int, h: float, budget: int, threads: int | None):
        self.B, self.h, self.budget, self.threads = B, h, budget, threads

    def value_and_grad(self, Zd, want):
        from simulations.engine import _formula_kernel as kern
        N = Zd.shape[0]
        s, omega, omega1 = quadrature(_gap_max(Zd), self.B, self.h)
        k, c, Npad, rootscale = tree_constants(N, self.B)
        Zn = np.ascontiguousarray(Zd.detach().cpu().numpy(), dtype=np.float64)
        with kern.threads(torch.get_num_threads() if self.threads is None else self.threads, N):
            values, G = kern.formula_rows(Zn, s, omega, omega1, k, c, Npad, rootscale)
        val = torch.tensor(float(np.sum(values)) / N, dtype=Zd.dtype, device=Zd.device)   # pairwise sum
        return val, (torch.from_numpy(G / N).to(Zd.device) if want else None)

    def differentiable(self, Z):
        return _ReferenceImpl(self.B, DEFAULT_STEP, self.budget).differentiable(Z)


def _polymul(L: torch.Tensor, R: torch.Tensor, K2: int) -> torch.Tensor:
    """``out_j = sum_i L_i R_{j-i}`` for ``j < K2`` over the last axis (length ``K``) of both, as a batched
    product with the Hankel matrix of ``R`` (``T[i', j] = R[j - (K-1-i')]``, an ``unfold`` view)."""
    K = L.shape[-1]
    T = torch.nn.functional.pad(R, (K - 1, K2 - 1)).unfold(-1, K2, 1)[..., :K, :]
    return (L.flip(-1).unsqueeze(-2) @ T).squeeze(-2)


def _tree_rows(Zr, rows, s, omega, omega1, consts):
    """Torch version of the kernel for the anchors ``rows`` (``Zr`` their rows of ``Z``): the sum of
    their row terms and its gradient with respect to ``Zr`` (analytic, top-down). As in
    :func:`simulations.engine._formula_kernel.formula_rows`, both come from ``g_j = dP/dw_j e^{s+d_j} w_j``:
    the value weighs them by ``omega1`` (positive terms only), the gradient by ``omega``."""
    k, c, Npad, rootscale = consts
    r, N = Zr.shape
    dev, dt = Zr.device, Zr.dtype
    ar = torch.arange(r, device=dev)
    D = Zr - Zr[ar, rows][:, None]
    D[ar, rows] = math.inf                                           # the anchor itself: w = 0
    E = torch.exp((s[None, :, None] + D[:, None, :]).clamp(max=700.0))  # (r, Q, N)
    W = torch.nn.functional.pad(torch.exp(-E), (0, Npad - N))
    p2 = torch.pow(torch.tensor(0.5, dtype=dt, device=dev), torch.arange(k + 2, dtype=dt, device=dev))
    wa, wb = W[..., 0::2], W[..., 1::2]
    K1 = min(2, k) + 1
    X = torch.stack([torch.ones_like(wa), 0.5 * c * (wa + wb), 0.25 * c * c * wa * wb][:K1], dim=-1)
    levels, size = [X], 2
    while X.shape[-2] > 2:
        K2 = min(2 * size, k) + 1
        X = _polymul(X[..., 0::2, :], X[..., 1::2, :], K2) * p2[:K2]
        levels.append(X)
        size *= 2
    A = torch.zeros_like(X)                    # adjoint of P = rootscale * root at the top stored level
    if X.shape[-2] == 2:
        K = X.shape[-1]
        a = torch.arange(max(0, k - K + 1), min(k, K - 1) + 1, device=dev)
        A[..., 0, a] = rootscale * p2[k] * X[..., 1, k - a]
        A[..., 1, k - a] = rootscale * p2[k] * X[..., 0, a]
    else:                                                            # Npad = 2: level 1 is the root
        A[..., 0, k] = rootscale
    for child in reversed(levels[:-1]):
        K, K2 = child.shape[-1], A.shape[-1]
        H = torch.nn.functional.pad(A * p2[:K2], (0, K)).unfold(-1, K, 1)[..., :K, :]   # H[i, m] = o_{i+m}
        Lb = (H @ child[..., 1::2, :].unsqueeze(-1)).squeeze(-1)
        Rb = (H @ child[..., 0::2, :].unsqueeze(-1)).squeeze(-1)
        A = torch.stack((Lb, Rb), dim=-2).reshape(child.shape)
    a1 = 0.5 * c * A[..., 1]
    a2 = 0.25 * c * c * A[..., 2] if K1 > 2 else torch.zeros_like(a1)
    gW = torch.stack((a1 + a2 * wb, a1 + a2 * wa), dim=-1).reshape(r, -1, Npad)[..., :N]
    g = gW * E * W[..., :N]                                          # (r, Q, N), >= 0
    val = (omega1[:, None] * g).sum()
    gD = (omega[:, None] * g).sum(1)
    gD[ar, rows] = 0.0
    gD[ar, rows] = -gD.sum(1)
    return val, gD


class _TorchTreeImpl:
    """The same tree in torch (any device), rows chunked so one chunk stays within ``budget`` bytes."""

    def __init__(self, B: int, h: float, budget: int):
        self.B, self.h, self.budget = B, h, budget

    def value_and_grad(self, Zd, want):
        N = Zd.shape[0]
        s, omega, omega1 = (torch.as_tensor(x, dtype=Zd.dtype, device=Zd.device)
                            for x in quadrature(_gap_max(Zd), self.B, self.h))
        consts = tree_constants(N, self.B)
        per_row = s.numel() * consts[2] * (consts[0] + 24) * Zd.element_size()
        rows_per = max(1, self.budget // per_row)
        G = torch.zeros_like(Zd) if want else None
        total = torch.zeros((), dtype=Zd.dtype, device=Zd.device)
        for r0 in range(0, N, rows_per):
            rows = torch.arange(r0, min(N, r0 + rows_per), device=Zd.device)
            val, g = _tree_rows(Zd[rows], rows, s, omega, omega1, consts)
            total = total + val
            if want:
                G[rows] = g
        return total / N, (G / N if want else None)

    def differentiable(self, Z):
        return _ReferenceImpl(self.B, DEFAULT_STEP, self.budget).differentiable(Z)


def _numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def all_batches_objective(U: torch.Tensor, V: torch.Tensor, B: int, loss="infonce", *,
                          step: float = DEFAULT_STEP, memory_budget: int = DEFAULT_MEMORY_BUDGET, check: bool = True,
                          threads: int | None = FORMULA_THREADS, backend: str = "auto") -> torch.Tensor:
    """Exact all-``C(N,B)`` InfoNCE objective (mean over all batches of the per-batch mean loss), differentiable.

    ``loss``: an InfoNCE loss (object or ``'infonce'``); the formula is InfoNCE's (other losses:
    :func:`simulations.objective`, which uses a pair-sum loss's own closed form).

    Computed in float64 whatever the input dtype (the result is cast back). The numba and torch
    backends: about 1e-15 relative against an mpmath reference, however small the value (their value
    is a sum of positive terms). The reference backend, and with it every derivative taken under
    ``create_graph=True`` (Hessians), is accurate to about 1e-14 *absolute* (its ``1 - P`` form), which is
    relative only when the loss is not tiny (not, e.g., at the ETF at tau = 0.002). ``step``: the trapezoid step in the folded variable (see
    :func:`quadrature`; for ``backend='reference'`` the step in ``s = log t``). ``backend``: ``'auto'``
    (the numba kernel on CPU, the torch tree elsewhere), ``'numba'``, ``'torch'``, or ``'reference'``
    (the previous algorithm, kept for comparison and as the source of second derivatives).
    ``threads``: workers of the numba kernel, or torch intra-op threads for the other backends
    (default ``FORMULA_THREADS``; None: as many as torch's intra-op threads, all cores unless
    changed, one inside :func:`simulations.runtime.executor.run_isolated`).

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        Unit-norm rows.
    B : int
        Batch size, ``2 <= B <= N``.
    loss : InfoNCE or str, default='infonce'
    step : float, default=0.25
        Quadrature step, > 0.
    memory_budget : int, default=268435456
        Bytes of scratch memory.
    check : bool, default=True
        Validate the inputs (unit rows, finite).
    threads : int or None, default=None
    backend : {'auto', 'numba', 'torch', 'reference'}, default='auto'

    Returns
    -------
    torch.Tensor
        A scalar, differentiable with respect to ``U`` and ``V``.

    Raises
    ------
    ValueError
        For a loss other than InfoNCE, invalid inputs, or a logit gap past ``MAX_LOGIT_GAP``.
    """
    if check:
        check_embeddings(U, V)
    N = U.shape[0]
    B = check_int("B", B, low=2, high=N)
    loss = as_loss(loss)
    if loss.kernel != "infonce":
        raise ValueError(f"all_batches_objective is InfoNCE's polynomial formula; loss {loss.name!r} is not InfoNCE "
                         "(use simulations.objective)")
    tau = loss.tau
    h = check_positive_float("step", step)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if threads is not None:
        threads = check_int("threads", threads, low=1)
    budget = check_int("memory_budget", memory_budget, low=1)
    Z = (U.double() @ V.double().T) / tau
    if backend == "auto":
        backend = "numba" if Z.device.type == "cpu" and _numba_available() else "torch"
    if backend == "numba":
        if Z.device.type != "cpu":
            raise ValueError(f"backend='numba' runs on the CPU only, got a tensor on {Z.device}")
        impl = _KernelImpl(B, h, budget, threads)
    elif backend == "torch":
        impl = _TorchTreeImpl(B, h, budget)
    else:
        impl = _ReferenceImpl(B, h, budget)
    with intra_op_threads(threads if backend != "numba" else None):
        val = StreamedValue.apply(Z, impl)
        if loss.symmetric:
            val = val + StreamedValue.apply(Z.T, impl)
    return val.to(U.dtype)
