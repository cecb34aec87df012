r"""VRN: a contrastive loss plus the variance-reducing auxiliary loss of Lee, Lim, Lee & Sohn on its negatives.

For a batch ``S`` of size ``b`` with cross-view similarities ``z_ij = u_i . v_j`` (unit vectors), the
auxiliary loss is the mean over the batch's negative pairs (``i != j``) of a power of their distance to a
target similarity ``delta``,

.. math::

    L_{VRN}(S) = \frac{1}{b (b - 1)} \sum_{i, j \in S,\ i \ne j} (z_{ij} - \delta)^p ,\qquad
    L(S) = L_{base}(S) + \lambda\, L_{VRN}(S),

with ``p = 2`` and ``lambda = 30`` by default. The authors take ``delta = -1/(n-1)``, ``n`` the number of
training instances: the negative similarity of the simplex ETF of the whole data set, the full-batch optimum
that small batches miss. A batch loss does not see ``n``, so here ``delta`` is a parameter, given directly or
through ``n`` (``VRN(n=N)`` means ``delta = -1/(N-1)``); without either it is 0, the limit ``n -> infinity``
(the authors' CIFAR setting, ``n = 50000``, gives ``-2.0e-5``).

With ``p`` even, ``L_VRN >= 0``, and ``(z - delta)^p`` is convex in ``z``: the sum keeps the base loss's convex
relaxation (:func:`theory.certify` works; not for KCL, whose relaxation fixes ``u_i = v_i``), its self Grams, its
analytic gradient and its ETF closed form where ``delta = -1/(N-1)`` (there ``L_VRN = 0`` at the ETF; see
:meth:`VRN.closed_form_optimum`).

Source of the exact form: the paper's Definition 5.7 (Sec. 5, mini-batch) could not be read here; this follows
the authors' code, ``solo/losses/vrn.py`` (``vrn_loss_func``: normalised ``z1, z2``, ``similarity = z1 z2^T``,
negatives where the indices differ, ``(similarity[neg] - delta).pow(p).mean()``) and ``solo/methods/base.py``
(``loss + weight * vrn``; ``delta = -1/(k-1)`` from ``k``, the number of training instances, or ``delta``
itself, exactly one of them; defaults ``weight = 30``, ``p = 2``). Their training loss computes the term over
the two views' embeddings gathered across devices; here over the batch's pairs.

References
----------
Lee, Lim, Lee, Sohn, "On the Similarities of Embeddings in Contrastive Learning", ICML 2025 (arXiv 2506.09781),
Sec. 5, Definition 5.7; official code: github.com/leechungpa/embedding-similarity-cl, ``solo/losses/vrn.py`` and
``solo/methods/base.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from . import ops
from .base import Loss, as_loss, check_finite, register_loss, set_field


@register_loss("vrn")
@dataclass(frozen=True)
class VRN(Loss):
    r"""A base contrastive loss plus ``weight`` times the variance-reducing auxiliary loss on its negatives.

    Parameters
    ----------
    base : Loss or str, default='infonce'
        The contrastive loss: a :class:`~theory.losses.Loss`, a registered name, or a name with parameters
        (``'siglip(tau=0.1, bias=-10)'``, the form of :attr:`~theory.losses.Loss.spec`; on the command line
        ``--loss-param "base=siglip(tau=0.1; bias=-10)"``). Stored as a Loss.
    weight : float, default=30.0
        The auxiliary loss's weight ``lambda``, finite and >= 0 (the authors' default 30; 0: the base loss). The
        balance depends on the base's scale: the authors' base is SimCLR's NT-Xent, one mean over ``2b`` anchors,
        where this toolkit's symmetric InfoNCE is the sum of two directions' means (about twice that scale).
    delta : float or None, default=None
        The target similarity of the negatives, in ``[-1, 1]``. None: ``-1/(n-1)`` when ``n`` is given, else 0.
    n : int or None, default=None
        The number of pairs (training instances) whose simplex ETF sets the target, ``delta = -1/(n-1)`` (the
        authors' choice), ``>= 2``. Give ``delta`` or ``n``, not both (both only when they agree).
    p : int, default=2
        The exponent, an even integer ``>= 2`` (the authors' default 2; even keeps the term ``>= 0`` and convex).

    Notes
    -----
    For a batch ``S`` of size ``b`` with ``z_ij = u_i^T v_j``:

    .. math::

        L(S) = L_{base}(S) + \lambda\, \frac{1}{b (b - 1)} \sum_{i, j \in S,\ i \ne j} (z_{ij} - \delta)^p .

    Batches need ``b >= 2`` (a single pair has no negative). Capabilities pass through from the base where they
    stay exact: the self Grams, the convex relaxation (plus the convex pair sum of the auxiliary term; not for a
    base whose relaxation fixes ``u_i = v_i``, KCL, see :meth:`cvx_family_loss`), ``face_strictly_convex``
    (adding a convex term keeps strict convexity), the analytic Gram gradient, the trivial bound (the auxiliary
    term is ``>= 0``) and, with ``delta = -1/(N-1)``, the closed-form optimum of an ETF-optimal family. Not
    passed: the pair and anchor forms (the base's batch-size coefficients and the auxiliary term's
    ``1/(b(b-1))`` do not combine into one), the balance law and the engine kernel.

    Raises
    ------
    ValueError
        ``base`` not a loss; ``weight`` negative or not finite; ``delta`` outside ``[-1, 1]``; ``n`` not an integer
        ``>= 2``; ``delta`` and ``n`` both given and different; ``p`` not an even integer ``>= 2``.

    References
    ----------
    Lee, Lim, Lee & Sohn, *On the Similarities of Embeddings in Contrastive Learning*, ICML 2025 (arXiv 2506.09781),
    Sec. 5, Definition 5.7; the exact form from the authors' code (``solo/losses/vrn.py``, ``solo/methods/base.py``
    of github.com/leechungpa/embedding-similarity-cl).
    """

    base: object = "infonce"
    weight: float = 30.0
    delta: float | None = None
    n: int | None = None
    p: int = 2

    def __post_init__(self):
        try:
            base = as_loss(self.base)
        except ValueError as exc:
            raise ValueError(f"base must be a contrastive loss: {exc}") from None
        set_field(self, "base", base)
        weight = check_finite("weight", self.weight)
        if weight < 0:
            raise ValueError(f"weight must be a finite number >= 0, got {self.weight!r}")
        set_field(self, "weight", weight)
        if self.n is not None and (isinstance(self.n, bool) or not isinstance(self.n, Integral) or self.n < 2):
            raise ValueError(f"n must be None or an integer >= 2 (the number of pairs), got {self.n!r}")
        if self.delta is not None and (not -1.0 <= check_finite("delta", self.delta) <= 1.0):
            raise ValueError(f"delta must be a similarity in [-1, 1], got {self.delta!r}")
        from_n = None if self.n is None else -1.0 / (int(self.n) - 1)
        if from_n is not None and self.delta is not None and not math.isclose(float(self.delta), from_n,
                                                                               rel_tol=1e-12, abs_tol=0.0):
            raise ValueError(f"give delta or n, not both: n={self.n} means delta = -1/(n-1) = {from_n:.12g}, "
                             f"got delta={self.delta!r}")
        set_field(self, "n", None if self.n is None else int(self.n))
        set_field(self, "delta", from_n if from_n is not None else 0.0 if self.delta is None else float(self.delta))
        if isinstance(self.p, bool) or not isinstance(self.p, Integral) or self.p < 2 or self.p % 2:
            raise ValueError(f"p must be an even integer >= 2, got {self.p!r}")
        set_field(self, "p", int(self.p))

    # ---- what passes through from the base ----
    @property
    def min_batch(self) -> int:
        """``max(2, base.min_batch)``: the auxiliary term needs a negative pair."""
        return max(2, self.base.min_batch)

    @property
    def needs_self_grams(self) -> bool:
        """The base's (the auxiliary term reads only the cross Gram)."""
        return self.base.needs_self_grams

    @property
    def face_strictly_convex(self) -> bool:
        """The base's: a strictly convex function plus a convex one is strictly convex."""
        return self.base.face_strictly_convex

    @property
    def has_relaxation(self) -> bool:
        """True when the base has a convex relaxation that does not fix ``u_i = v_i`` (the auxiliary term is convex;
        a base whose relaxation is ``aligned``, KCL, has none here: see :meth:`cvx_family_loss`)."""
        return self.base.has_relaxation and not self.base.aligned

    # ---- the loss ----
    def auxiliary(self, Z):
        """``L_VRN`` of each batch: the mean over ``i != j`` of ``(z_ij - delta)^p`` (without the weight).

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (n, b, b)
            Cross Gram blocks ``u_i^T v_j`` of ``n`` batches, ``b >= 2``.

        Returns
        -------
        numpy.ndarray or torch.Tensor, shape (n,)
            Of the same library as ``Z`` (differentiable for torch input, analytic for complex input).
        """
        xp = ops.namespace(Z)
        b = Z.shape[-1]
        P = (Z - self.delta) ** self.p
        return xp.sum(xp.sum(xp.where(xp.eye(b, like=Z), 0.0, P), -1), -1) / (b * (b - 1))

    def batch_losses(self, Z, idx, UU=None, VV=None):
        base = self.base.batch_losses(Z, idx, UU, VV) if self.base.needs_self_grams else self.base.batch_losses(Z, idx)
        return base + self.weight * self.auxiliary(Z)

    def gram_gradients(self, Z, idx, UU=None, VV=None):
        """The base's analytic Gram gradient plus the auxiliary term's,
        ``weight p (z_ij - delta)^(p-1) / (b (b-1))`` off the diagonal; None where the base has none (then
        :func:`theory.gradient` uses the complex step through :meth:`batch_losses`).

        Parameters
        ----------
        Z : numpy.ndarray, shape (n, b, b)
            Gram blocks ``Z[a, c] = u_{S_a}^T v_{S_c}`` of ``n`` batches.
        idx : numpy.ndarray, shape (n, b)
            The batches' indices.
        UU, VV : numpy.ndarray, shape (n, b, b), optional
            The self-Gram blocks (bases with ``needs_self_grams``).

        Returns
        -------
        tuple or None
            ``(gZ, gUU, gVV)`` as the base's, ``gZ`` with the auxiliary term added.
        """
        g = self.base.gram_gradients(Z, idx, UU, VV)
        if g is None:
            return None
        Zn = np.asarray(Z, dtype=np.float64)
        b = Zn.shape[-1]
        off = ~np.eye(b, dtype=bool)
        gv = self.weight * self.p * np.where(off, (Zn - self.delta) ** (self.p - 1), 0.0) / (b * (b - 1))
        return (g[0] + gv, *g[1:])

    def cvx_family_loss(self, Z, UU, VV, family):
        """The base's relaxation plus ``weight`` times the auxiliary term's, a convex pair sum: per part,
        ``sum_{i != j} C_ij (z_ij - delta)^p / (B (B-1))`` with ``C`` the part's weighted co-occurrence; None where
        the base has no relaxation, and where the base's relaxation is ``aligned``: that fixes ``u_i = v_i`` because
        the base's alignment term is minimised there whatever the rest, which the auxiliary term (on the cross
        similarities) can break (with a large weight and ``delta = -1`` the term wants ``u_i . v_j = -1`` for all
        ``i != j``, impossible with ``u = v`` for ``N >= 3``), so the fixed relaxation would not bound the loss.

        Parameters
        ----------
        Z : cvxpy.Expression, shape (N, N)
            The block ``U V^T`` of the relaxation matrix ``M``.
        UU, VV : cvxpy.Expression, shape (N, N)
            The blocks ``U U^T`` and ``V V^T`` of ``M``.
        family : Family
            The batch family.

        Returns
        -------
        cvxpy.Expression or None
            A scalar expression, ``sum_S w_S L(S) / sum_S w_S``.
        """
        import cvxpy as cp
        if self.base.aligned:
            return None
        base = self.base.cvx_family_loss(Z, UU, VV, family)
        if base is None:
            return None
        N = family.N
        off = ~np.eye(N, dtype=bool)
        terms = cp.power(Z - self.delta, self.p)
        total = 0
        for part in family.parts:
            C = part.cooccurrence(N, weighted=True) * off / (part.B * (part.B - 1))
            total = total + cp.sum(cp.multiply(C, terms))
        return base + self.weight * total / family.total_weight

    def trivial_bound(self) -> float | None:
        """The base's (the auxiliary term is ``>= 0``); None where the base has none.

        Returns
        -------
        float or None
        """
        return self.base.trivial_bound()

    def closed_form_optimum(self, family) -> dict | None:
        """Where the base's closed form is the simplex ETF (``structure == 'etf'``) and ``delta = -1/(N-1)``: the
        base's optimum unchanged (``L_VRN >= 0`` everywhere and ``= 0`` at the ETF, whose negatives are all
        ``-1/(N-1)``); None otherwise.

        Parameters
        ----------
        family : Family

        Returns
        -------
        dict or None
            The base's dict (``value``, ``structure``, ...) with ``auxiliary: 0.0``.
        """
        if self.delta != -1.0 / (family.N - 1):
            return None
        opt = self.base.closed_form_optimum(family)
        if opt is None or opt.get("structure") != "etf":
            return None
        return {**opt, "auxiliary": 0.0}

    # ---- how it is written ----
    def params(self) -> dict:
        """The parameters as a dict (JSON-ready): ``base`` as its exact :attr:`~theory.losses.Loss.spec`, and ``n``
        where it was given, else ``delta``; ``make_loss('vrn', **loss.params()) == loss``.

        Returns
        -------
        dict
        """
        target = {"n": self.n} if self.n is not None else {"delta": self.delta}
        return {"base": self.base.spec, "weight": self.weight, **target, "p": self.p}

    @property
    def label(self) -> str:
        """Name and parameters, the base by its label, e.g. ``vrn(base=infonce(tau=0.5, symmetric=True), weight=30,
        n=8, p=2)``."""
        target = f"n={self.n}" if self.n is not None else f"delta={self.delta:.12g}"
        return f"{self.name}(base={self.base.label}, weight={self.weight:.12g}, {target}, p={self.p})"
