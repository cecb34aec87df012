"""The exact all-C(N,B) formula: every backend against enumeration, an mpmath reference, the
closed-form Frullani integral of its quadrature, and each other."""
import itertools
import math

import numpy as np
import pytest
import torch

from helpers import unit_rows
from simulations import all_batches_objective, objective
from simulations.engine.exact_all import BACKENDS, DEFAULT_STEP, MAX_LOGIT_GAP, _reference_grid, quadrature, tree_constants
from theory import Family, InfoNCE

TAUS = (0.002, 0.05, 1.0, 5.0)
NEW = ("numba", "torch")
EPS = np.finfo(np.float64).eps


def floor(Z):
    """Absolute rounding floor of a comparison: the formula sums about 40 units of ``omega_q P_q``
    before subtracting (``~ eps * 40``), a float64 log-sum-exp of logits up to ``max|Z|`` is exact to
    ``~ eps * max|Z|``. Relative tolerances apply above it (the value at small tau can be far below)."""
    return 16 * EPS * (40 + np.abs(Z).max())


def _t(X, grad=False):
    return torch.tensor(X, dtype=torch.float64, requires_grad=grad)


def _value_and_grads(U, V, B, tau, symmetric=True, **kw):
    Ut, Vt = _t(U, True), _t(V, True)
    loss = InfoNCE(tau, symmetric=symmetric)
    if kw.get("backend") == "enumerate":
        f = objective(Ut, Vt, Family.all(U.shape[0], B), loss, method="enumerate")
    else:
        f = all_batches_objective(Ut, Vt, B, loss, **kw)
    gU, gV = torch.autograd.grad(f, (Ut, Vt))
    return float(f.detach()), torch.cat([gU, gV]).numpy()


@pytest.mark.parametrize("tau", TAUS)
@pytest.mark.parametrize("backend", BACKENDS[1:])
def test_formula_equals_enumeration_to_1e12_at_every_tau(backend, tau):
    """Value and gradient within 1e-12 (relative to the value and to the gradient's largest entry) of
    streamed enumeration, for power-of-two and other N, B = 2 and B = N, both losses."""
    for N, B, loss in ((2, 2, True), (5, 3, True), (8, 4, False), (11, 5, True),
                       (13, 13, True), (16, 3, False)):           # loss: symmetric (True) or one-sided
        U, V = unit_rows(N, 4, 10 * N + B), unit_rows(N, 4, 10 * N + B + 1)
        e, ge = _value_and_grads(U, V, B, tau, loss, backend="enumerate")
        f, gf = _value_and_grads(U, V, B, tau, loss, backend=backend)
        assert abs(f - e) <= 1e-12 * abs(e) + floor(U @ V.T / tau), (N, B, loss, f, e)
        assert np.abs(gf - ge).max() <= 1e-12 * np.abs(ge).max(), (N, B, loss)


def _mpmath_all_batches(Z, B, dps=40):
    """The symmetric all-batches objective by enumeration in mpmath (``dps`` digits): an independent
    oracle. Each term is ``log1p(sum_{j in S, j != i} exp(z_ij - z_ii))``, so values far below the
    logits' scale keep their digits."""
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(dps):
        N = len(Z)
        M = [[mpmath.mpf(float(x)) for x in row] for row in Z]
        total, count = mpmath.mpf(0), 0
        for S in itertools.combinations(range(N), B):
            for i in S:
                total += mpmath.log1p(mpmath.fsum(mpmath.exp(M[i][j] - M[i][i]) for j in S if j != i))
                total += mpmath.log1p(mpmath.fsum(mpmath.exp(M[j][i] - M[i][i]) for j in S if j != i))
            count += 1
        return total / (count * B)


@pytest.mark.parametrize("tau", TAUS)
def test_formula_equals_an_mpmath_reference_to_1e13(tau):
    """Against 40-digit enumeration (the float64 engine is not the reference here): the new backends
    within 1e-13 relative, on random embeddings and on the identity frame, where the loss is
    smallest (about ``3 e^{-1/tau}``: 1e-217 at tau = 0.002, where float64 enumeration returns 0
    and a ``1 - P`` form of the integral returns rounding noise)."""
    N, B = 9, 4
    for U, V in ((unit_rows(N, 5, 1), unit_rows(N, 5, 2)), (np.eye(N), np.eye(N))):
        Z = (U @ V.T) / tau
        ref = _mpmath_all_batches(Z.tolist(), B)
        for backend in NEW:
            f = float(all_batches_objective(_t(U), _t(V), B, InfoNCE(tau), backend=backend))
            assert abs(f - float(ref)) <= 1e-13 * abs(float(ref)), (backend, f, float(ref))


@pytest.mark.parametrize("d", [-600.0, -30.0, -5.0, -1.0, 0.0, 0.5, 3.0, 20.0, 200.0])
def test_quadrature_integrates_the_one_term_frullani_integral_to_machine_precision(d):
    """``log(1 + e^d) = int e^{-e^s} (1 - P) ds = int E1(e^s) (-dP/ds) ds`` with ``P = exp(-e^{s+d})``
    (Frullani with one term, then the E1 form the formula uses for its value), with the rule built
    for ``dmax = max(d, 0)`` as the formula builds it. The E1 form is relative-accurate however
    small the value (``d = -600``: ``e^-600``; below about e^-700 the terms are subnormal); the ``1 - P`` form only to ``eps`` absolute."""
    s, omega, omega1 = quadrature(max(d, 0.0), 2)
    u = np.exp(s) * math.exp(d)           # exp(s + d) would add |d| eps of rounding from the sum
    exact = math.log1p(math.exp(d)) if d < 30 else d + math.log1p(math.exp(-d))
    assert abs(math.fsum(omega1 * u * np.exp(-u)) - exact) <= 4e-15 * exact
    assert abs(math.fsum(omega * -np.expm1(-u)) - exact) <= 2e-15 * exact


def test_folded_rule_needs_a_third_of_the_reference_nodes_at_tau_1():
    """The fold of the left tail is where the nodes were saved (about 50 against about 190)."""
    U, V = unit_rows(64, 8, 0), unit_rows(64, 8, 1)
    Z = torch.tensor(U @ V.T)
    D = (Z - Z.diagonal()[:, None]).fill_diagonal_(-math.inf)
    s_ref, _ = _reference_grid(D, 8, DEFAULT_STEP)
    s_new, _, _ = quadrature(float(D.max()), 8)
    assert 3 * len(s_new) <= len(s_ref)


def test_numba_and_torch_backends_agree_at_a_size_enumeration_cannot_reach():
    N, B = 96, 12
    U, V = unit_rows(N, 16, 3), unit_rows(N, 16, 4)
    f1, g1 = _value_and_grads(U, V, B, 0.2, backend="numba")
    f2, g2 = _value_and_grads(U, V, B, 0.2, backend="torch")
    f3, g3 = _value_and_grads(U, V, B, 0.2, backend="reference")
    assert abs(f1 - f2) <= 1e-13 * abs(f1) and np.abs(g1 - g2).max() <= 1e-13 * np.abs(g1).max()
    assert abs(f1 - f3) <= 1e-12 * abs(f1) and np.abs(g1 - g3).max() <= 1e-12 * np.abs(g1).max()


def test_torch_backend_is_unchanged_by_row_chunking():
    U, V = unit_rows(20, 4, 0), unit_rows(20, 4, 1)
    whole = _value_and_grads(U, V, 6, 0.5, backend="torch")
    chunked = _value_and_grads(U, V, 6, 0.5, backend="torch", memory_budget=1)      # one row per chunk
    assert abs(whole[0] - chunked[0]) <= 1e-14 and np.abs(whole[1] - chunked[1]).max() <= 1e-14


def test_numba_kernel_gives_the_same_answer_on_one_or_two_workers():
    U, V = unit_rows(40, 6, 0), unit_rows(40, 6, 1)
    one = _value_and_grads(U, V, 7, 1.0, backend="numba", threads=1)
    two = _value_and_grads(U, V, 7, 1.0, backend="numba", threads=2)
    assert one[0] == pytest.approx(two[0], rel=1e-15) and np.abs(one[1] - two[1]).max() <= 1e-16


def test_second_derivatives_through_the_new_backends_equal_the_reference_hessian():
    """Double backward differentiates the reference implementation; the first derivative is the new
    backend's analytic one: both must agree with a Hessian of the reference alone."""
    U, V = unit_rows(6, 3, 0), unit_rows(6, 3, 1)

    def hess(backend):
        x = _t(np.concatenate([U, V]), True)
        f = all_batches_objective(x[:6], x[6:], 3, InfoNCE(0.7), backend=backend)
        (g,) = torch.autograd.grad(f, x, create_graph=True)
        return torch.stack([torch.autograd.grad(g.flatten()[i], x, retain_graph=True)[0].flatten()
                            for i in range(g.numel())]).numpy()

    ref = hess("reference")
    for backend in NEW:
        assert np.abs(hess(backend) - ref).max() <= 1e-10 * np.abs(ref).max()


def test_bad_backend_and_out_of_range_sizes_are_refused():
    U = _t(unit_rows(6, 3, 0))
    with pytest.raises(ValueError, match="backend"):
        all_batches_objective(U, U, 3, backend="fortran")
    for N, B in ((2048, 1500), (4096, 1076), (8192, 1100), (2048, 1023), (1024, 849), (700, 647)):
        with pytest.raises(ValueError, match=f"B = {B} at N = {N}"):     # no zeros, no OverflowError
            tree_constants(N, B)
    k, c, Npad, rootscale = tree_constants(2048, 1000)              # the referee's largest safe case
    assert k == 999 and math.isfinite(rootscale) and rootscale > 0
    with pytest.raises(ValueError, match="logit gaps"):
        quadrature(2 * MAX_LOGIT_GAP, 3)
    with pytest.raises(ValueError, match="logit gaps"):
        quadrature(float("nan"), 3)
    with pytest.raises(ValueError, match="B must be"):
        quadrature(1.0, 0)
    with pytest.raises(ValueError, match="h must be"):
        quadrature(1.0, 3, h=0.0)
    with pytest.raises(ValueError, match="B must be"):
        tree_constants(8, 9)
    with pytest.raises(ValueError, match="N must be"):
        tree_constants(1.5, 2)
    with pytest.raises(ValueError, match="threads"):
        all_batches_objective(U, U, 3, threads=0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="CPU only"):
            all_batches_objective(U.cuda(), U.cuda(), 3, backend="numba")
