"""The loss protocol: :class:`Loss`, the registry (:func:`register_loss`, :func:`make_loss`) and plugins.

A loss is a frozen dataclass that subclasses :class:`Loss`, validates its parameters in
``__post_init__`` and is registered under a name. Its one required method,
:meth:`Loss.batch_losses`, maps the Gram blocks of ``n`` batches to their ``n`` losses; written
with :func:`theory.losses.ops.namespace` it serves the numpy oracle of :mod:`theory` and the torch
engine of :mod:`simulations` alike. Everything else a layer may use is an optional capability,
asked for by calling the method (which returns ``None`` when the loss does not have it), never by
testing the loss's type:

========================  ===============================================================================
capability                used by
========================  ===============================================================================
``cvx_batch_loss``        one batch's convex (DCP) relaxation, summed by ``cvx_family_loss``'s default
``cvx_family_loss``       :func:`theory.certify`, the ETF decision (the family's relaxation)
``aligned``               the relaxation fixes ``u_i = v_i`` (KCL's concave alignment)
``pair_form``             exact ``O(N^2)`` family objectives of pair-sum losses (numpy and torch)
``anchor_form``           per-anchor log-sum-exp structure (SogCLR's moving-average estimator)
``robust_form``           similarity differences of one temperature (iSogCLR's per-sample temperatures)
``gram_gradients``        :func:`theory.gradient` (default: complex step through ``batch_losses``)
``trivial_bound``         a value no configuration's loss goes below (solver comparisons need resolution)
``closed_form_optimum``   a family's optimum in closed form, where one is known
``balance``               the loss's pair-balance law for a family (InfoNCE's weighted law)
``kernel``                name of a faster engine kernel in :mod:`simulations` (InfoNCE's)
``needs_self_grams``      ``batch_losses`` also receives the blocks of ``U U^T`` and ``V V^T``
``face_strictly_convex``  uniqueness from a rank ``N+1`` dual certificate (InfoNCE)
========================  ===============================================================================

A loss defined outside the package is registered the same way; :func:`load_plugin` runs a
Python file that does so (``minibatch-cl ... --plugin FILE``).
"""
from __future__ import annotations

import importlib.util
import math
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from . import ops

#: Registered losses by name (the one registry the toolkit, the CLI, ``Config`` and the report read).
LOSSES: dict = {}


class Loss:
    """Base class of every contrastive loss (subclasses are frozen dataclasses, validated on construction).

    Notation for a batch ``S`` of size ``b`` (rows of unit-norm ``U, V``): ``Z[a, c] = u_{S_a} . v_{S_c}``
    (raw inner products; the loss applies its own temperature), ``UU[a, c] = u_{S_a} . u_{S_c}``,
    ``VV[a, c] = v_{S_a} . v_{S_c}``; ``idx[a] = S_a``, the batch's pair indices.
    """

    #: Registered name (set by :func:`register_loss`).
    name: ClassVar[str] = ""
    #: Smallest batch size the loss is defined for.
    min_batch: ClassVar[int] = 2
    #: Name of a faster engine kernel in :mod:`simulations` (None: the generic streamed engine).
    kernel: ClassVar[str | None] = None
    #: The relaxation's objective is strictly convex in every covered ``Z_ij`` on the face ``{U = V}``
    #: (then a rank-``N+1`` dual certificate at the ETF proves the minimizer's Gram unique).
    face_strictly_convex: ClassVar[bool] = False
    #: The relaxation fixes ``diag(Z) = 1`` (``u_i = v_i``): for losses whose alignment term is minimised there
    #: whatever the rest (KCL's concave alignment), so that the remaining objective is convex in ``M``.
    aligned: ClassVar[bool] = False
    #: :meth:`anchor_form`'s logits are similarity differences ``s_ij - s_ii`` over the loss's one temperature
    #: ``self.tau`` (``X = H / tau``), so iSogCLR's robust objective is defined (:meth:`robust_form`).
    robust: ClassVar[bool] = False

    @property
    def needs_self_grams(self) -> bool:
        """True when :meth:`batch_losses` also takes the ``UU`` and ``VV`` blocks."""
        return False

    def batch_losses(self, Z, idx, UU=None, VV=None):
        """Losses of ``n`` batches of size ``b``.

        Parameters
        ----------
        Z : ndarray or torch.Tensor, shape (n, b, b)
            Cross Gram blocks ``u_i . v_j`` of each batch.
        idx : ndarray or torch.Tensor, shape (n, b)
            The batches' pair indices (for losses that see labels or ties; others ignore it).
        UU, VV : same type as Z, shape (n, b, b), optional
            Within-modality Gram blocks, passed only when :attr:`needs_self_grams` is True.

        Returns
        -------
        ndarray or torch.Tensor, shape (n,)
            Of the same library as ``Z`` (differentiable for torch input).
        """
        raise ValueError(f"loss {self.name!r} does not define batch_losses(Z, idx)")  # pragma: no cover

    # ---- optional capabilities (None: the loss does not have it) ----
    def cvx_batch_loss(self, Z, idx, UU=None, VV=None):
        """Convex (cvxpy, DCP) expression of one batch's loss from ``(b, b)`` cvxpy Gram blocks; None if
        the loss has no relaxation.

        Parameters
        ----------
        Z : cvxpy.Expression, shape (b, b)
            The batch's block of ``U V^T``.
        idx : numpy.ndarray, shape (b,)
            The batch's indices.
        UU, VV : cvxpy.Expression, shape (b, b), optional
            Its blocks of ``U U^T`` and ``V V^T`` (losses with self Grams).

        Returns
        -------
        cvxpy.Expression or None
        """
        return None

    def cvx_family_loss(self, Z, UU, VV, family):
        """cvxpy expression of the family objective ``sum_S w_S L(S) / sum_S w_S`` on the relaxation
        (``Z``, ``UU``, ``VV``: the ``N x N`` blocks of ``M``). Default: :meth:`cvx_batch_loss` summed over
        the batches (at most ``CVX_BATCH_LIMIT``); None if the loss has no relaxation.

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

        Raises
        ------
        ValueError
            If the family has more than ``CVX_BATCH_LIMIT`` batches and the loss defines no ``cvx_family_loss``.
        """
        batches = family.batch_list() if family.n_batches <= CVX_BATCH_LIMIT else None
        if batches is None:
            raise ValueError(f"loss {self.name!r}: the relaxation sums one cvxpy expression per batch and the family "
                             f"has {family.n_batches} batches (limit {CVX_BATCH_LIMIT}); define cvx_family_loss")
        total, any_term = 0, False
        for S, w in zip(batches, family.weights):
            ix = np.ix_(S, S)
            term = self.cvx_batch_loss(Z[ix], S, UU[ix] if self.needs_self_grams else None,
                                       VV[ix] if self.needs_self_grams else None)
            if term is None:
                return None
            total, any_term = total + float(w) * term, True
        return total / family.total_weight if any_term else None

    def pair_form(self, Z, UU=None, VV=None):
        """For pair-sum losses ``L(S) = a_b sum_{i in S} D_i + c_b sum_{i != j in S} O_ij``: ``(D, O, coef)`` from
        the full ``N x N`` Grams (numpy or torch), ``O`` with zero diagonal, ``coef(b) = (a_b, c_b)``; else None.

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (N, N)
            ``U V^T``.
        UU, VV : numpy.ndarray or torch.Tensor, shape (N, N), optional
            ``U U^T`` and ``V V^T`` (losses with self Grams).

        Returns
        -------
        tuple or None
            ``(D, O, coef)``: ``D`` of shape ``(N,)``, ``O`` of shape ``(N, N)`` with zero diagonal, and ``coef(b)``
            giving ``(a_b, c_b)``.
        """
        return None

    def anchor_form(self, Z, UU=None, VV=None):
        r"""For losses that are a mean over anchors of log-sum-exps, ``L(S) = (1/b) sum_k sum_{i in S}
        log(eps_k + sum_{j in S, j != i} sum_m exp(X_k[i, j, m]))``: the terms ``((X_k, eps_k), ...)`` from the full
        ``N x N`` Grams (numpy or torch), each ``X_k`` of shape ``(N, N, m)`` (its diagonal ``X_k[i, i]`` is never
        read), ``eps_k >= 0`` a float; None when the loss has no such form (the SogCLR update needs it or
        :meth:`pair_form`).

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (N, N)
            ``U V^T`` (raw inner products; the loss applies its own temperature).
        UU, VV : numpy.ndarray or torch.Tensor, shape (N, N), optional
            ``U U^T`` and ``V V^T`` (losses with self Grams).

        Returns
        -------
        tuple or None
            ``((X_1, eps_1), ..., (X_K, eps_K))``: one pair per log-sum-exp term of the anchor (e.g. the row and the
            column term of a symmetric loss), ``X_k`` of the type of ``Z`` and shape ``(N, N, m_k)``; None (this
            default) when the loss is not of this form.
        """
        return None

    def robust_form(self, Z, UU=None, VV=None):
        r"""For losses whose anchor terms compare each anchor's negatives with its positive through one temperature
        ``tau`` (class attribute ``robust``): ``(tau, (H_1, ..., H_K))``, ``H_k = tau X_k`` of shape ``(N, N, m_k)``
        from :meth:`anchor_form`, the unscaled similarity differences ``h_i(j) = s_ij - s_ii`` of anchor ``i`` against
        its ``m_k`` negatives from sample ``j`` (the diagonal ``H_k[i, i]`` is never read); None when ``robust`` is
        False (the default). Derived, not written per loss: a loss declares ``robust = True`` when its
        :meth:`anchor_form` logits are ``(s_ij - s_ii) / tau`` (InfoNCE; DCL, with both views' negatives for
        ``negatives='both'``, the negative set of LibAUC's unimodal ``GCLoss_v1``).

        It defines the robust global contrastive objective that iSogCLR minimizes over the embeddings and one
        temperature ``tau_ki`` per anchor and term (:func:`simulations.training.sogclr.robust_objective`):

        .. math:: \Phi(U, V, \tau) = \frac{1}{N} \sum_k \sum_{i=1}^N \Big[\tau_{ki}
                  \log \frac{1}{m_k (N-1)} \sum_{j \ne i} \sum_m e^{H_k[i, j, m] / \tau_{ki}} + \rho\, \tau_{ki}\Big],

        the KL-constrained distributionally robust form of the loss's anchor terms: the positive is not in the
        log-sum-exp (Qiu et al., ICML 2023; LibAUC's ``GCLoss_v1``/``GCLoss_v2``). ``tau`` is the loss's own
        temperature (iSogCLR's initial value).

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (N, N)
            ``U V^T`` (raw inner products).
        UU, VV : numpy.ndarray or torch.Tensor, shape (N, N), optional
            ``U U^T`` and ``V V^T`` (losses with self Grams).

        Returns
        -------
        tuple or None
            ``(tau, (H_1, ..., H_K))``: a float and one array of the type of ``Z`` per anchor term (e.g. the row and
            the column term of a symmetric loss), each of shape ``(N, N, m_k)``; None (this default) when the loss is
            not of this form.

        References
        ----------
        Qiu, Hu, Yuan, Zhou, Zhang & Yang, *Not All Semantics are Created Equal: Contrastive Self-supervised Learning
        with Automatic Temperature Individualization*, ICML 2023 (arXiv 2305.11965), the robust global contrastive
        loss (the objective stated in LibAUC's ``GCLoss_v1`` and ``GCLoss_v2``).
        """
        if not self.robust:
            return None
        return self.tau, tuple(X * self.tau for X, _ in self.anchor_form(Z, UU, VV))

    def gram_gradients(self, Z, idx, UU=None, VV=None):
        """Analytic ``d batch_losses / d blocks`` as ``(gZ, gUU, gVV)`` (numpy, ``(n, b, b)`` each, the last two
        None without self Grams); None: :func:`theory.gradient` uses the complex step.

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (n, b, b)
            Gram blocks ``Z[a, c] = u_{S_a}^T v_{S_c}`` of ``n`` batches.
        idx : numpy.ndarray, shape (n, b)
            The batches' indices.
        UU, VV : same type as Z, shape (n, b, b), optional
            The self-Gram blocks (losses with ``needs_self_grams``).

        Returns
        -------
        tuple or None
        """
        return None

    def trivial_bound(self) -> float | None:
        """A value no configuration's loss goes below (None if none is known)."""
        return None

    def closed_form_optimum(self, family) -> dict | None:
        """The relaxation optimum of ``family`` in closed form, where known (a dict with at least ``value``;
        ``exact: True`` when the value is an analytic expression, not a root or a solve).

        Parameters
        ----------
        family : Family

        Returns
        -------
        dict or None
        """
        return None

    def balance(self, family) -> dict | None:
        """The loss's pair-balance law for ``family`` where it has one (InfoNCE's weighted law): whether the ETF's
        optimality condition holds, as a dict; None otherwise.

        Parameters
        ----------
        family : Family

        Returns
        -------
        dict or None
        """
        return None

    @property
    def has_relaxation(self) -> bool:
        """True when :meth:`cvx_batch_loss` or :meth:`cvx_family_loss` is defined (a convex relaxation)."""
        return type(self).cvx_batch_loss is not Loss.cvx_batch_loss or type(self).cvx_family_loss is not Loss.cvx_family_loss

    @property
    def has_pair_form(self) -> bool:
        """True when :meth:`pair_form` is defined (a pair-sum loss: exact all-``C(N,B)`` objective in ``O(N^2)``)."""
        return type(self).pair_form is not Loss.pair_form

    @property
    def label(self) -> str:
        """Name and parameters, e.g. ``siglip(tau=0.1, bias=-10)``."""
        vals = [(f.name, getattr(self, f.name)) for f in fields(self)]
        params = ", ".join(f"{k}={v:.12g}" if isinstance(v, float) else f"{k}={v}" for k, v in vals)
        return f"{self.name}({params})"

    def params(self) -> dict:
        """The loss's parameters as a dict (JSON-ready).

        Returns
        -------
        dict
        """
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def spec(self) -> str:
        """``name(param=value, ...)`` with every value written exactly (``repr``), so that ``as_loss(loss.spec) ==
        loss``: the form in which a loss is another loss's parameter (e.g. :class:`~theory.losses.VRN`'s ``base``)."""
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.params().items())})"


#: Largest family :meth:`Loss.cvx_family_loss`'s default sums batch by batch.
CVX_BATCH_LIMIT = 20_000


def register_loss(name: str):
    """Class decorator: register a :class:`Loss` subclass (a frozen dataclass) under ``name``.

    The class is checked at once: a frozen dataclass subclassing Loss with ``batch_losses``, a new name,
    and, when its defaults construct, ``batch_losses`` on a small random problem must return ``n`` finite
    values (ValueError naming the loss and the problem otherwise).

    Parameters
    ----------
    name : str
        The registry name (a new one).

    Returns
    -------
    callable
        The decorator; it returns the class unchanged.

    Raises
    ------
    ValueError
        If the class is not a frozen dataclass subclassing Loss, the name is taken, or its ``batch_losses`` fails
        the check.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a loss name must be an identifier string, got {name!r}")

    def deco(cls):
        if not (isinstance(cls, type) and issubclass(cls, Loss)):
            raise ValueError(f"loss {name!r}: {cls!r} must subclass theory.Loss")
        if name in LOSSES:
            raise ValueError(f"loss {name!r} is already registered (by {LOSSES[name].__module__}.{LOSSES[name].__qualname__})")
        if not is_dataclass(cls) or not cls.__dataclass_params__.frozen:
            raise ValueError(f"loss {name!r}: {cls.__qualname__} must be a frozen dataclass (@dataclass(frozen=True))")
        if cls.batch_losses is Loss.batch_losses:
            raise ValueError(f"loss {name!r}: {cls.__qualname__} must define batch_losses(Z, idx)")
        cls.name = name
        try:
            default = cls()
        except TypeError:
            default = None                              # parameters without defaults: checked at first use
        if default is not None:
            _smoke_test(default)
        LOSSES[name] = cls
        return cls
    return deco


def _smoke_test(loss: Loss) -> None:
    rng = np.random.default_rng(0)
    b = max(loss.min_batch, 3)
    U = rng.normal(size=(b + 1, 3))
    V = rng.normal(size=(b + 1, 3))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    idx = np.array([np.arange(b), np.arange(1, b + 1)])
    evaluate(loss, U[idx] @ np.swapaxes(V[idx], 1, 2), idx,
             *((U[idx] @ np.swapaxes(U[idx], 1, 2), V[idx] @ np.swapaxes(V[idx], 1, 2)) if loss.needs_self_grams else ()))


def evaluate(loss: Loss, Z, idx, UU=None, VV=None):
    """``loss.batch_losses`` with its output checked: shape ``(n,)``, the input's library (a torch tensor for
    torch input, carrying the gradient), finite for finite input. ValueError naming the loss otherwise.

    Parameters
    ----------
    loss : Loss
    Z : numpy.ndarray or torch.Tensor, shape (n, b, b)
        Gram blocks ``Z[a, c] = u_{S_a}^T v_{S_c}`` of ``n`` batches.
    idx : numpy.ndarray, shape (n, b)
        The batches' indices.
    UU, VV : same type as Z, shape (n, b, b), optional
        The self-Gram blocks (losses with ``needs_self_grams``).

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (n,)

    Raises
    ------
    ValueError
        For a wrong shape, library, a dropped gradient, or NaN/inf on finite input.
    """
    out = loss.batch_losses(Z, idx, UU, VV) if loss.needs_self_grams else loss.batch_losses(Z, idx)
    n = Z.shape[0]
    if ops.is_torch(Z):
        if not ops.is_torch(out):
            raise ValueError(f"loss {loss.name!r}: batch_losses returned {type(out).__name__} for torch input (no gradient "
                             "can flow); use only operations of theory.losses.ops.namespace(Z)")
        if Z.requires_grad and not out.requires_grad:
            raise ValueError(f"loss {loss.name!r}: batch_losses dropped the gradient (its output does not require grad)")
        finite = bool(sys.modules["torch"].isfinite(out).all())
    else:
        if ops.is_torch(out) or not isinstance(out, np.ndarray):
            raise ValueError(f"loss {loss.name!r}: batch_losses returned {type(out).__name__} for numpy input")
        finite = bool(np.all(np.isfinite(out)))
    if tuple(out.shape) != (n,):
        raise ValueError(f"loss {loss.name!r}: batch_losses must return shape ({n},) for {n} batches of size "
                         f"{Z.shape[-1]}, got {tuple(out.shape)}")
    if not finite:
        raise ValueError(f"loss {loss.name!r}: batch_losses returned NaN or inf on finite input (batch size {Z.shape[-1]})")
    return out


def make_loss(name: str, **params) -> Loss:
    """The registered loss ``name`` with its parameters.

    Parameters
    ----------
    name : str
        A registered name (:data:`LOSSES`: the built-ins ``infonce``, ``siglip``, ``dcl``, ``dhel``, ``kcl`` and
        any plugin's).
    **params
        The loss's dataclass fields.

    Returns
    -------
    Loss

    Raises
    ------
    ValueError
        Unknown name or parameter, or a value the loss refuses (the message names the loss).
    """
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}")
    cls = LOSSES[name]
    allowed = {f.name for f in fields(cls)}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"loss {name!r} takes parameters {sorted(allowed)}, got unknown {sorted(unknown)}")
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"loss {name!r}: {exc}") from None


def as_loss(loss) -> Loss:
    """The :class:`Loss` meant by ``loss``: a Loss object, a registered name (its default parameters), or a name with
    parameters, ``'name(param=value, ...)'`` (the form of :attr:`Loss.spec` and, rounded, of :attr:`Loss.label`).

    In the written form the parameters are separated by ``,`` or ``;`` (``;`` where commas already separate values,
    as in the command line's sweeps); a value is ``true``/``false``, a Python literal (number, quoted string, tuple)
    or else the text itself (``negatives=cross``, or another loss: ``base=siglip(tau=0.1; bias=-10)``).

    Raises
    ------
    ValueError
        For anything else, or a name or parameter :func:`make_loss` refuses.

    Parameters
    ----------
    loss : Loss or str

    Returns
    -------
    Loss
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str) and loss.strip() in LOSSES:
        return make_loss(loss.strip())
    parsed = _parse_spec(loss) if isinstance(loss, str) else None
    if parsed is not None:
        return make_loss(parsed[0], **parsed[1])
    raise ValueError(f"loss must be a theory.Loss, one of the registered names {sorted(LOSSES)} or 'name(param=value, "
                     f"...)', got {loss!r}")


def _parse_spec(text: str):
    """``(name, params)`` of ``'name(k=v, ...)'``; None when ``text`` is not of that form."""
    text = text.strip()
    head, sep, rest = text.partition("(")
    if not sep or not head.strip().isidentifier() or not rest.endswith(")"):
        return None
    args = _split_top_level(rest[:-1])
    if args is None:
        return None
    params = {}
    for arg in args:
        key, eq, value = arg.partition("=")
        key = key.strip()
        if not eq or not key.isidentifier() or key in params:
            return None
        params[key] = _spec_value(value)
    return head.strip(), params


def _split_top_level(text: str):
    """``text`` split at the commas and semicolons outside brackets and quotes (None if unbalanced)."""
    out, depth, quote, start = [], 0, None, 0
    for k, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif ch in ",;" and depth == 0:
            out.append(text[start:k])
            start = k + 1
    if depth or quote:
        return None
    out.append(text[start:])
    out = [a for a in (x.strip() for x in out) if a]
    return out


def _spec_value(text: str):
    """A written parameter value: ``true``/``false``, a Python literal, else the text itself."""
    import ast
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def load_plugin(path) -> list:
    """Run the Python file ``path`` (which registers losses with :func:`register_loss`); returns the names it
    registered. ValueError if the file is missing or fails to import.

    Parameters
    ----------
    path : str or path-like
        A Python file.

    Returns
    -------
    list of str
        The names the file registered.

    Raises
    ------
    ValueError
        If the file is missing or fails to import.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"plugin must be an existing Python file, got {str(path)!r}")
    before = set(LOSSES)
    modname = f"minibatch_cl_plugin_{abs(hash(str(path.resolve())))}"
    if modname in sys.modules:
        return sorted(getattr(sys.modules[modname], "__registered__", []))
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except ValueError:
        del sys.modules[modname]
        raise
    except Exception as exc:                                   # a broken file: say which and why
        del sys.modules[modname]
        raise ValueError(f"plugin {str(path)!r} failed to load: {type(exc).__name__}: {exc}") from None
    module.__registered__ = sorted(set(LOSSES) - before)
    return module.__registered__


def check_tau(tau) -> float:
    """A temperature: finite float > 0 (ValueError naming ``tau``).

    Parameters
    ----------
    tau : float

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``tau`` is not a finite number > 0.
    """
    return check_positive("tau", tau)


def check_positive(name: str, value) -> float:
    """A finite float > 0 (ValueError naming the parameter).

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : float

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``value`` is not a finite number > 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_finite(name: str, value) -> float:
    """A finite float (ValueError naming the parameter).

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : float

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``value`` is not a finite number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_bool(name: str, value) -> bool:
    """A bool (ValueError naming the parameter).

    Parameters
    ----------
    name : str
        The parameter's name, for the message.
    value : bool

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If ``value`` is not a bool.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def set_field(loss, name: str, value) -> None:
    """Store a validated value on a frozen dataclass in ``__post_init__``.

    Parameters
    ----------
    loss : Loss
        The instance being constructed.
    name : str
        The field.
    value : object
        Its validated value.
    """
    object.__setattr__(loss, name, value)
