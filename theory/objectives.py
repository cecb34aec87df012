"""Contrastive losses as objects: InfoNCE, SigLIP, DCL, DHEL and KCL, in float64 (the oracle form).

Each loss is a frozen dataclass validated at construction; :meth:`Loss.block_losses` gives the
losses of a block of equal-size batches, and :func:`loss_batch_losses` / :func:`loss_family_objective`
apply any loss to any weighted family (``sum_S w_S L(S) / sum_S w_S``, as :mod:`theory.losses`
does for InfoNCE). Notation for a batch ``S`` of size ``b``: ``z_ij = u_i . v_j``,
``g^u_ij = u_i . u_j``, ``g^v_ij = v_i . v_j`` (unit rows), ``softplus(x) = log(1 + e^x)``.

* ``InfoNCE(tau, symmetric)``: :mod:`theory.losses` (CLIP when symmetric).
* ``SigLIP(tau, bias)`` (Zhai et al. 2023): ``(1/b) sum_{i,j in S} softplus(-y_ij (z_ij / tau + bias))``,
  ``y_ii = +1``, ``y_ij = -1``; ``1/tau`` is SigLIP's learnable scale ``t`` (fixed here), ``bias`` its ``b``.
* ``DCL(tau, symmetric)`` (Yeh et al. 2022): ``(1/b) sum_i [-z_ii/tau + log sum_{j != i} e^{z_ij/tau}]``
  (the positive removed from the denominator), plus the same over columns when symmetric.
* ``DHEL(tau, symmetric)`` (Koromilas et al. 2024): ``(1/b) sum_i [-z_ii/tau + log sum_{j != i} e^{g^u_ij/tau}]``
  (uniformity within the anchor's own modality), plus the v-anchored term ``g^v`` when symmetric.
* ``KCL(t, gamma)`` (Koromilas et al. 2024, Gaussian kernel ``k(x, y) = exp(-t ||x - y||^2) =
  exp(-2t (1 - x.y))``): ``-(1/b) sum_i k(u_i, v_i) + gamma/(b(b-1)) sum_{i != j} [k(u_i, u_j) + k(v_i, v_j)]``.

Convexity (for the certificates of the issue on these losses; written down, not yet used):
InfoNCE, SigLIP and DCL are convex in the cross-Gram ``Z`` (log-sum-exp and softplus of affine
maps); DHEL's and KCL's uniformity terms are convex in the ``UU^T`` and ``VV^T`` blocks, so a
relaxation must use all of ``M = [U; V][U; V]^T``; KCL's alignment ``-exp(-2t(1 - z_ii))`` is concave
but is minimised by ``u_i = v_i`` whatever the rest, so it is fixed there and the rest certified.

Pair-sum losses (SigLIP, KCL) have ``L(S) = a_b sum_{i in S} D_i + c_b sum_{i != j in S} O_ij``
(:meth:`Loss.pair_form`), so a weighted family's objective depends on the family only through its
per-size co-occurrence matrices, and the all-``C(N,B)`` objective has an exact ``O(N^2)`` closed
form (:func:`pair_sum_objective`, :func:`all_batches_pair_sum`):

.. math::

    \\mathbb{E}_S L(S) = a_B \\frac{B}{N} \\sum_i D_i + c_B \\frac{B(B-1)}{N(N-1)} \\sum_{i \\ne j} O_{ij}.

SigLIP: ``(1/N) [sum_i D_i + (B-1)/(N-1) sum_{i != j} O_ij]``, the full batch with every negative
pair down-weighted by ``(B-1)/(N-1)``; KCL: exactly the full-batch loss, for every ``B`` (its
expected batch loss does not depend on the batch size).

References
----------
Zhai, Mustafa, Kolesnikov, Beyer, "Sigmoid Loss for Language Image Pre-Training", ICCV 2023.
Yeh et al., "Decoupled Contrastive Learning", ECCV 2022.
Koromilas, Bouritsas, Giannakopoulos, Nicolaou, Panagakis, "Bridging Mini-Batch and Asymptotic
Analysis in Contrastive Learning: From InfoNCE to Kernel-Based Losses", ICML 2024 (arXiv 2405.18045).
Lee, Chang, Sohn, "Analysis of Using Sigmoid Loss for Contrastive Learning", AISTATS 2024 (arXiv 2402.12613).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ._checks import check_int, check_pair, check_positive_float, check_tau
from .batches import Family
from ._blocks import _block_losses, _check_family, logsumexp

_CHUNK = 4096


def _softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + e^x)`` without overflow (``logaddexp(0, x)``)."""
    return np.logaddexp(0.0, x)


def _check_finite_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _blocks(X: np.ndarray, Y: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``(n, b, b)`` Gram blocks ``X_S Y_S^T`` of the ``(n, b)`` batches ``S``."""
    return np.einsum("nad,nbd->nab", X[S], Y[S])


def _masked_lse_without_diagonal(G: np.ndarray) -> np.ndarray:
    """``log sum_{j != i} exp(G_ij)`` over the last axis of ``(n, b, b)`` blocks (``b >= 2``)."""
    b = G.shape[-1]
    return logsumexp(np.where(np.eye(b, dtype=bool), -np.inf, G), axis=2)


def _validate_tau_symmetric(loss) -> None:
    object.__setattr__(loss, "tau", check_tau(loss.tau))
    if not isinstance(loss.symmetric, bool):
        raise ValueError(f"symmetric must be a bool, got {loss.symmetric!r}")


class Loss(ABC):
    """A contrastive loss of one batch; subclasses are frozen dataclasses validated in ``__post_init__``."""

    name: ClassVar[str]
    #: Smallest batch size the loss is defined for.
    min_batch: ClassVar[int] = 1

    @abstractmethod
    def block_losses(self, U: np.ndarray, V: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Losses of the ``(n, b)`` batches ``S`` (rows of unit-norm ``U, V: (N, d)``), shape ``(n,)``."""

    def pair_form(self, U: np.ndarray, V: np.ndarray):
        """``(D: (N,), O: (N, N) with zero diagonal, coef)`` with ``L(S) = a_b sum_S D_i + c_b sum_{i != j} O_ij``
        and ``coef(b) = (a_b, c_b)``; None when the loss is not a sum over pairs."""
        return None


@dataclass(frozen=True)
class InfoNCE(Loss):
    """InfoNCE / CLIP (:mod:`theory.losses`): ``symmetric`` adds the column (v-anchored) term."""

    tau: float = 1.0
    symmetric: bool = True
    name: ClassVar[str] = "infonce"

    def __post_init__(self):
        _validate_tau_symmetric(self)

    def block_losses(self, U, V, S):
        return _block_losses(U @ V.T / self.tau, S, "symmetric" if self.symmetric else "one_sided")


@dataclass(frozen=True)
class SigLIP(Loss):
    """Sigmoid loss: ``(1/b) sum_{i,j in S} softplus(-y_ij (z_ij / tau + bias))``. Defaults ``tau = 1``, ``bias = 0``
    (the same as every other entry point); Zhai et al.'s initialisation is ``tau = 0.1``, ``bias = -10``."""

    tau: float = 1.0
    bias: float = 0.0
    name: ClassVar[str] = "siglip"

    def __post_init__(self):
        object.__setattr__(self, "tau", check_tau(self.tau))
        object.__setattr__(self, "bias", _check_finite_float("bias", self.bias))

    def block_losses(self, U, V, S):
        x = _blocks(U, V, S) / self.tau + self.bias
        y = np.where(np.eye(S.shape[1], dtype=bool), 1.0, -1.0)
        return _softplus(-y * x).sum(axis=(1, 2)) / S.shape[1]

    def pair_form(self, U, V):
        x = U @ V.T / self.tau + self.bias
        O = _softplus(x)
        np.fill_diagonal(O, 0.0)
        return _softplus(-np.diag(x)), O, lambda b: (1.0 / b, 1.0 / b)


@dataclass(frozen=True)
class DCL(Loss):
    """Decoupled contrastive loss: InfoNCE without the positive in the denominator."""

    tau: float = 1.0
    symmetric: bool = True
    name: ClassVar[str] = "dcl"
    min_batch: ClassVar[int] = 2

    def __post_init__(self):
        _validate_tau_symmetric(self)

    def block_losses(self, U, V, S):
        Z = _blocks(U, V, S) / self.tau
        d = np.diagonal(Z, axis1=1, axis2=2)
        out = np.mean(_masked_lse_without_diagonal(Z) - d, axis=1)
        if self.symmetric:
            out = out + np.mean(_masked_lse_without_diagonal(np.swapaxes(Z, 1, 2)) - d, axis=1)
        return out


@dataclass(frozen=True)
class DHEL(Loss):
    """Decoupled hyperspherical energy loss: alignment ``-z_ii / tau`` and a within-modality uniformity term."""

    tau: float = 1.0
    symmetric: bool = True
    name: ClassVar[str] = "dhel"
    min_batch: ClassVar[int] = 2

    def __post_init__(self):
        _validate_tau_symmetric(self)

    def block_losses(self, U, V, S):
        d = np.einsum("nbd,nbd->nb", U[S], V[S]) / self.tau
        out = np.mean(_masked_lse_without_diagonal(_blocks(U, U, S) / self.tau) - d, axis=1)
        if self.symmetric:
            out = out + np.mean(_masked_lse_without_diagonal(_blocks(V, V, S) / self.tau) - d, axis=1)
        return out


@dataclass(frozen=True)
class KCL(Loss):
    """Kernel contrastive loss with the Gaussian kernel ``k(x, y) = exp(-t ||x - y||^2)``."""

    t: float = 2.0
    gamma: float = 1.0
    name: ClassVar[str] = "kcl"
    min_batch: ClassVar[int] = 2

    def __post_init__(self):
        object.__setattr__(self, "t", check_positive_float("t", self.t))
        object.__setattr__(self, "gamma", check_positive_float("gamma", self.gamma))

    def _k(self, G):
        return np.exp(-2.0 * self.t * (1.0 - G))

    def block_losses(self, U, V, S):
        b = S.shape[1]
        off = ~np.eye(b, dtype=bool)
        align = self._k(np.einsum("nbd,nbd->nb", U[S], V[S])).mean(axis=1)
        unif = (self._k(_blocks(U, U, S)) * off).sum(axis=(1, 2)) + (self._k(_blocks(V, V, S)) * off).sum(axis=(1, 2))
        return -align + self.gamma * unif / (b * (b - 1))

    def pair_form(self, U, V):
        O = self.gamma * (self._k(U @ U.T) + self._k(V @ V.T))
        np.fill_diagonal(O, 0.0)
        return -self._k(np.einsum("nd,nd->n", U, V)), O, lambda b: (1.0 / b, 1.0 / (b * (b - 1)))


LOSS_CLASSES = {cls.name: cls for cls in (InfoNCE, SigLIP, DCL, DHEL, KCL)}


def make_loss(name: str, **params) -> Loss:
    """The loss called ``name`` (one of ``LOSS_CLASSES``) with its parameters; ValueError on an unknown
    name or parameter, or an invalid value."""
    if name not in LOSS_CLASSES:
        raise ValueError(f"loss must be one of {sorted(LOSS_CLASSES)}, got {name!r}")
    cls = LOSS_CLASSES[name]
    allowed = {f.name for f in fields(cls)}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"loss {name!r} takes parameters {sorted(allowed)}, got unknown {sorted(unknown)}")
    return cls(**params)


def as_loss(loss, tau=None) -> Loss:
    """The :class:`Loss` meant by ``loss``: a Loss object (then ``tau`` must be None: the temperature is
    part of the object), InfoNCE's 'symmetric' / 'one_sided' (at ``tau``, default 1.0), or a name of
    ``LOSS_CLASSES`` with its default parameters (and ``tau`` when given). ValueError otherwise."""
    if isinstance(loss, Loss):
        if tau is not None:
            raise ValueError(f"tau={tau!r} was given with the loss object {loss!r}: its temperature is a parameter "
                             "of the object (leave tau=None)")
        return loss
    extra = {} if tau is None else {"tau": tau}
    if loss in ("symmetric", "one_sided"):
        return InfoNCE(symmetric=loss == "symmetric", **extra)
    if isinstance(loss, str) and loss in LOSS_CLASSES:
        return make_loss(loss, **extra)
    raise ValueError(f"loss must be one of {['symmetric', 'one_sided'] + sorted(LOSS_CLASSES)} or a "
                     f"theory.objectives.Loss, got {loss!r}")


def infonce_mode(loss: Loss) -> str | None:
    """'symmetric' / 'one_sided' for an InfoNCE object (the string the InfoNCE code paths take), else None."""
    if isinstance(loss, InfoNCE):
        return "symmetric" if loss.symmetric else "one_sided"
    return None


def loss_label(loss: Loss) -> str:
    """Short label of a loss and its parameters, e.g. ``siglip(tau=0.1, bias=-10)``."""
    vals = [(f.name, getattr(loss, f.name)) for f in fields(loss)]
    params = ", ".join(f"{k}={v}" if isinstance(v, bool) else f"{k}={v:.12g}" for k, v in vals)
    return f"{loss.name}({params})"


def _check_loss_family(loss: Loss, U, V, family: Family):
    if not isinstance(loss, Loss):
        raise ValueError(f"loss must be a theory.objectives.Loss, got {type(loss).__name__}")
    U, V = check_pair(U, V)
    family = _check_family(family, U.shape[0])
    small = [b for b in family.batch_sizes if b < loss.min_batch]
    if small:
        raise ValueError(f"loss {loss.name!r} needs batches of size >= {loss.min_batch}, the family has sizes {small}")
    return U, V, family


def loss_batch_losses(loss: Loss, U, V, family: Family) -> np.ndarray:
    """``L(S)`` for every batch of ``family`` (in :meth:`Family.batch_list` order), shape ``(n_batches,)``."""
    U, V, family = _check_loss_family(loss, U, V, family)
    return np.concatenate([loss.block_losses(U, V, S) for S, _ in family.weighted_chunks(_CHUNK)])


def loss_family_objective(loss: Loss, U, V, family: Family) -> float:
    """``sum_S w_S L(S) / sum_S w_S`` by enumerating the family's batches (the oracle)."""
    U, V, family = _check_loss_family(loss, U, V, family)
    total = sum(float(np.dot(w, loss.block_losses(U, V, S))) for S, w in family.weighted_chunks(_CHUNK))
    return total / family.total_weight


def pair_sum_objective(loss: Loss, U, V, family: Family) -> float:
    """The family objective of a pair-sum loss from the family's per-size co-occurrence, without enumerating:
    ``sum_b [a_b sum_i D_i C_b[i, i] + c_b sum_{i != j} O_ij C_b[i, j]] / sum_S w_S`` (``C_b``: weighted
    co-occurrence of the batches of size ``b``). ``O(N^2)`` per size for ``Family.all`` parts."""
    U, V, family = _check_loss_family(loss, U, V, family)
    form = loss.pair_form(U, V)
    if form is None:
        raise ValueError(f"loss {loss.name!r} is not a sum over pairs (pair-sum losses: siglip, kcl)")
    D, O, coef = form
    total = 0.0
    for part in family.parts:
        C = part.cooccurrence(family.N, weighted=True)         # diagonal: weight of the batches holding i
        a_b, c_b = coef(part.B)
        total += a_b * float(D @ np.diag(C)) + c_b * float((O * C).sum())
    return total / family.total_weight


def all_batches_pair_sum(loss: Loss, U, V, B: int) -> float:
    """Exact all-``C(N,B)`` objective of a pair-sum loss at any N (the closed form of the module docstring)."""
    if not isinstance(loss, Loss):
        raise ValueError(f"loss must be a theory.objectives.Loss, got {type(loss).__name__}")
    U, V = check_pair(U, V)
    N = U.shape[0]
    B = check_int("B", B, low=loss.min_batch, high=N)
    form = loss.pair_form(U, V)
    if form is None:
        raise ValueError(f"loss {loss.name!r} is not a sum over pairs (pair-sum losses: siglip, kcl)")
    D, O, coef = form
    a_B, c_B = coef(B)
    return a_B * B / N * float(D.sum()) + (c_B * B * (B - 1) / (N * (N - 1)) * float(O.sum()) if B > 1 else 0.0)
