"""CPU kernel of the exact all-``C(N,B)`` formula (numba): the product tree and its analytic backward,
fused per (anchor, quadrature node), in float64.

One call handles every anchor (``prange`` over rows, one scratch tree per row, about ``9 Npad``
doubles, so it stays in the core's L2 cache). For anchor ``i`` and node ``q`` the leaves are
``w_j = exp(-exp(s_q + d_ij))`` (``w = 0`` for the anchor itself and the padding up to
``Npad = 2^L``); a node of size ``n`` stores its truncated polynomial as ``S_j = e_j c^j / n^j``
(``j <= k = B-1``), so two children merge by a plain truncated convolution followed by the factor
``2^-j``:

.. math::

    S^{P}_j = 2^{-j} \\sum_i S^{L}_i S^{R}_{j-i}.

The root's ``S_k`` times ``rootscale = Npad^k / (c^k C(N-1, k))`` is ``E_T prod_{j in T} w_j``.
The backward pass is the same tree top-down: with ``o_j = 2^{-j}`` times the parent's adjoint,
``L-bar_i = sum_l o_{i+l} S^R_l`` and ``R-bar_l = sum_i o_{i+l} S^L_i`` (the derivative of ``e_k``
with respect to ``w_j`` is ``e_{k-1}`` of the others, assembled from these "outside" products), and
``d w_j / d d_ij = -exp(s_q + d_ij) w_j``. The value is assembled from the same leaf derivatives
(a sum of positive terms, see :func:`formula_rows`), so value and gradient cost one forward and one
backward pass. See :mod:`simulations.engine.exact_all` for the integral.
"""
from __future__ import annotations

import contextlib
import math

import numba as nb
import numpy as np

#: Reassociation (vectorised reductions) and fused multiply-add; no assumptions about NaN or inf.
_FM = {"reassoc", "contract", "nsz"}


@nb.njit(cache=True, fastmath=_FM)
def _merge(src, lp, rp, dst, op, K, K2, pow2inv, o):
    """``dst[op:op+K2] = 2^-j * (src[lp:lp+K] * src[rp:rp+K])`` truncated to degree ``K2 - 1``.

    Accumulated in the scratch ``o`` (a separate array: the inner loop vectorises, measured about
    3x faster than accumulating in place), then scaled into ``dst``."""
    for j in range(K2):
        o[j] = 0.0
    for i in range(K):
        li = src[lp + i]
        top = min(K, K2 - i)
        for m in range(top):
            o[i + m] += li * src[rp + m]
    for j in range(K2):
        dst[op + j] = o[j] * pow2inv[j]


@nb.njit(cache=True, fastmath=_FM)
def _merge_backward(src, adj_src, lp, rp, adj_dst, op, K, K2, pow2inv, o, rb):
    """Adjoints of both children (``adj_src`` at ``lp``, ``rp``) from the parent's adjoint ``adj_dst[op:op+K2]``:
    ``L-bar_i = sum_m o_{i+m} R_m`` and ``R-bar_m = sum_i o_{i+m} L_i`` with ``o_j = 2^-j`` times the parent's
    adjoint (``o``, ``rb``: scratch arrays, so the inner loops vectorise)."""
    for j in range(K2):
        o[j] = adj_dst[op + j] * pow2inv[j]
    for m in range(K):
        rb[m] = 0.0
    for i in range(K):
        top = min(K, K2 - i)
        li = src[lp + i]
        acc = 0.0
        for m in range(top):
            acc += o[i + m] * src[rp + m]
        for m in range(top):
            rb[m] += li * o[i + m]
        adj_src[lp + i] = acc
    for m in range(K):
        adj_src[rp + m] = rb[m]


@nb.njit(cache=True, fastmath=_FM)
def _row(Z, i, s, omega, omega1, k, c, Npad, rootscale, L, Ks, off, used, pow2inv, c1, c2, K1, kmax, Grow, contrib):
    """Anchor ``i``: its row term node by node into ``contrib: (Q,)`` (summed pairwise by the caller: a
    running sum over thousands of nodes at small tau lost two digits) and its gradient into ``Grow``.

    Per node, ``g_j = dP/dw_j * e^{s+d_j} w_j >= 0`` (``P = E_T prod_T w``); the value is
    ``sum_q omega1_q sum_j g_j`` and ``d value / d d_j = sum_q omega_q g_j`` (see ``formula_rows``)."""
    N = Z.shape[0]
    Q = s.shape[0]
    buf0 = np.empty(max(used[0], 1), dtype=np.float64)
    buf1 = np.empty(max(used[1], 1), dtype=np.float64)
    adj0 = np.empty(max(used[0], 1), dtype=np.float64)
    adj1 = np.empty(max(used[1], 1), dtype=np.float64)
    o = np.empty(kmax + 1, dtype=np.float64)
    rb = np.empty(kmax + 1, dtype=np.float64)
    ex = np.zeros(Npad, dtype=np.float64)
    w = np.zeros(Npad, dtype=np.float64)
    g = np.zeros(Npad, dtype=np.float64)
    ed = np.zeros(Npad, dtype=np.float64)
    zii = Z[i, i]
    dmax, dmin = -np.inf, np.inf
    for j in range(N):
        if j != i:
            dmax = max(dmax, Z[i, j] - zii)
            dmin = min(dmin, Z[i, j] - zii)
    product = dmax <= 600.0 and dmin >= -600.0    # exp(s + d) = exp(s) exp(d): one exp per leaf, no denormals
    if product:
        for j in range(N):
            if j != i:
                ed[j] = math.exp(Z[i, j] - zii)
    for q in range(Q):
        sq = s[q]
        es = math.exp(sq)
        for j in range(N):
            if j == i:
                continue
            e = es * ed[j] if product else math.exp(min(sq + (Z[i, j] - zii), 710.0))
            if e > 745.0:
                ex[j] = 0.0
                w[j] = 0.0
            else:
                ex[j] = e
                w[j] = math.exp(-e)
        for m in range(Npad >> 1):
            wa, wb = w[2 * m], w[2 * m + 1]
            p = m * K1
            buf1[p] = 1.0
            buf1[p + 1] = c1 * (wa + wb)
            if K1 > 2:
                buf1[p + 2] = c2 * wa * wb
        for lev in range(1, L - 1):
            K, K2 = Ks[lev], Ks[lev + 1]
            src, dst = (buf1, buf0) if lev % 2 else (buf0, buf1)
            for m in range(Npad >> (lev + 1)):
                _merge(src, off[lev] + 2 * m * K, off[lev] + (2 * m + 1) * K, dst, off[lev + 1] + m * K2, K, K2, pow2inv, o)
        # top-down: adjoints of dP (P = rootscale * root, root = 2^-k sum_a L_a R_{k-a})
        if L >= 2:
            top_buf = buf1 if (L - 1) % 2 else buf0
            top_adj = adj1 if (L - 1) % 2 else adj0
            K = Ks[L - 1]
            lp, rp = off[L - 1], off[L - 1] + K
            ob = rootscale * pow2inv[k]
            for a in range(K):
                top_adj[lp + a] = 0.0
                top_adj[rp + a] = 0.0
            for a in range(max(0, k - K + 1), min(k, K - 1) + 1):
                top_adj[lp + a] = ob * top_buf[rp + k - a]
                top_adj[rp + k - a] = ob * top_buf[lp + a]
        else:
            for a in range(K1):
                adj1[a] = 0.0
            adj1[k] = rootscale
        for lev in range(L - 2, 0, -1):
            K, K2 = Ks[lev], Ks[lev + 1]
            if lev % 2:
                _src, _adj_src, _adj_dst = buf1, adj1, adj0
            else:
                _src, _adj_src, _adj_dst = buf0, adj0, adj1
            for m in range(Npad >> (lev + 1)):
                _merge_backward(_src, _adj_src, off[lev] + 2 * m * K, off[lev] + (2 * m + 1) * K, _adj_dst,
                                off[lev + 1] + m * K2, K, K2, pow2inv, o, rb)
        wq, w1q = omega[q], omega1[q]
        total = 0.0
        for m in range(Npad >> 1):
            wa, wb = w[2 * m], w[2 * m + 1]
            p = m * K1
            a1 = c1 * adj1[p + 1]
            ga, gb = a1, a1
            if K1 > 2:
                a2 = c2 * adj1[p + 2]
                ga += a2 * wb
                gb += a2 * wa
            ga *= ex[2 * m] * wa
            gb *= ex[2 * m + 1] * wb
            total += ga + gb
            g[2 * m] += wq * ga
            g[2 * m + 1] += wq * gb
        contrib[q] = w1q * total
    rowsum = 0.0
    for j in range(N):
        if j != i:
            Grow[j] = g[j]
            rowsum += g[j]
    Grow[i] = -rowsum


@nb.njit(cache=True, parallel=True, fastmath=_FM)
def formula_rows(Z, s, omega, omega1, k, c, Npad, rootscale):
    """Row terms ``E_T log(1 + sum_{j in T} e^{z_ij - z_ii})`` of every anchor and their gradient.

    ``Z: (N, N)`` logits, float64, C-contiguous; ``s, omega, omega1: (Q,)`` quadrature nodes and the
    weights of ``e^{-e^s}`` and of ``E1(e^s)`` (step included, see
    :func:`simulations.engine.exact_all.quadrature`). With ``P(s) = E_T prod_T w(s)``,
    ``value = int e^{-e^s} (1 - P) ds = int E1(e^s) (-dP/ds) ds`` (``1 - P`` is the integral of
    ``-dP/ds``, then Fubini), and ``-dP/ds = sum_j g_j`` with ``g_j = dP/dw_j e^{s+d_j} w_j >= 0``,
    the same terms whose ``e^{-e^s}``-weighted integral is the gradient: the value is a sum of
    positive terms, accurate relative to itself however small (``1 - P`` would lose everything
    below ``eps``). Returns ``values: (N, Q)`` (each anchor's contribution per node)
    and ``G: (N, N)`` (``d values[i] / d Z[i, :]``).
    The leaves are merged in pairs directly (level 1: ``[1, c (w_a + w_b) / 2, c^2 w_a w_b / 4]``).
    """
    N = Z.shape[0]
    Q = s.shape[0]
    L = 0
    while (1 << L) < Npad:
        L += 1
    Ks = np.zeros(L + 1, dtype=np.int64)
    off = np.zeros(L + 1, dtype=np.int64)         # level lev lives in buffer lev % 2 at off[lev]
    used = np.zeros(2, dtype=np.int64)
    for lev in range(1, L + 1):
        Ks[lev] = min(1 << lev, k) + 1
        if lev < L or L == 1:                      # levels 1 .. L-1 (the root is only one coefficient)
            off[lev] = used[lev % 2]
            used[lev % 2] += (Npad >> lev) * Ks[lev]
    K1 = Ks[1]
    kmax = max(k + 1, 3)
    pow2inv = np.empty(kmax + 1, dtype=np.float64)
    for j in range(kmax + 1):
        pow2inv[j] = 2.0 ** (-j)
    c1, c2 = 0.5 * c, 0.25 * c * c
    values = np.zeros((N, Q), dtype=np.float64)
    G = np.zeros((N, N), dtype=np.float64)
    for i in nb.prange(N):
        _row(Z, i, s, omega, omega1, k, c, Npad, rootscale, L, Ks, off, used, pow2inv, c1, c2, K1, kmax, G[i], values[i])
    return values, G


@contextlib.contextmanager
def threads(n, rows):
    """Run the kernel with ``n`` workers (None: all cores), handing out anchors in chunks of about
    ``rows / (8 n)`` (dynamic chunks: a worker slowed by another process does not hold up the rest)."""
    before = nb.get_num_threads()
    n = nb.config.NUMBA_NUM_THREADS if n is None else min(int(n), nb.config.NUMBA_NUM_THREADS)
    chunk_before = nb.get_parallel_chunksize()
    try:
        nb.set_num_threads(n)
        nb.set_parallel_chunksize(max(1, rows // (8 * n)))
        yield
    finally:
        nb.set_parallel_chunksize(chunk_before)
        nb.set_num_threads(before)
