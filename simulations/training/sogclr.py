r"""SogCLR: small-batch updates whose expected direction is the full-batch gradient.

Mini-batch SGD on uniform batches descends, in expectation, the all-``C(N,B)`` objective, not the
full-batch loss. :class:`SogCLR` replaces the batch objective by a surrogate whose gradient estimates the
full-batch gradient, in one of two ways, chosen by what the loss can do (never by its type):

**Per-anchor log-sum-exp losses** (InfoNCE, DCL, DHEL: :meth:`theory.Loss.anchor_form`). The loss of a
batch ``S`` of size ``b`` is ``L(S) = (1/b) sum_k sum_{i in S} log(eps_k + sum_{j in S, j != i} sum_m
exp(X_k[i, j, m]))``, so the full-batch loss is

.. math:: F(w) = \frac{1}{N} \sum_k \sum_{i=1}^N f_k(g_{ki}(w)),\quad
          g_{ki} = \frac{1}{N-1} \sum_{j \ne i} \sum_m e^{X_k[i,j,m]},\quad f_k(g) = \log(\epsilon_k + (N-1) g),

a finite-sum coupled compositional problem. With the batch estimate
``ghat_ki(w; S) = (1/(B-1)) sum_{j in S, j != i} sum_m exp(X_k[i, j, m])`` (unbiased for ``g_ki`` given
``i in S``), each update on a batch ``S`` does, for every ``i in S`` and every term ``k``:

.. math::

    u_{ki} \leftarrow (1-\gamma)\, u_{ki} + \gamma\, \hat g_{ki}(w; S)
    \quad (u_{ki} \leftarrow \hat g_{ki}(w; S) \text{ at the first visit of } i),

    m = \frac{1}{B} \sum_{i \in S} \sum_k f_k'(u_{ki}) \nabla \hat g_{ki}(w; S),\quad
    f_k'(u) = \frac{N-1}{\epsilon_k + (N-1) u},

and steps along ``-m`` (the surrogate :meth:`SogCLR.surrogate` has gradient ``m``; the weights
``f'(u)`` are constants). This is Algorithm 1 of Yuan et al. (2022) for their global contrastive loss
``(1/n) sum_i tau log(eps' + g_i)``: their ``g_i`` is the mean over negatives of
``exp((s_ij - s_ii)/tau)``, here ``X = (z_ij - z_ii)/tau`` (InfoNCE: ``eps = 1``, which is their
``eps' = 1/(N-1)`` up to the factor ``N-1`` and the constant ``tau``; DCL/DHEL: ``eps = 0``), and the
moving average is LibAUC's ``s_I = (1-gamma) s_I + gamma g_I`` with the gradient weighted by
``exp(d_ij) / s_I``. If every ``u_ki`` equalled ``g_ki(w)``, ``E_S[m] = grad F(w)`` exactly (each ``i`` is in a
uniform ``S`` with probability ``B/N``, and given ``i in S`` the others are uniform); the moving average
makes the error of ``u`` vanish as the steps shrink (their Theorem 1), the source of "small batch does not
harm".

For InfoNCE this is the bimodal variant (LibAUC's ``GCLoss_v2``): one estimate ``u`` per direction (rows, the
``u``-anchors, and columns, the ``v``-anchors) for each sample, not one shared; LibAUC's step on its loss
``(img_loss + txt_loss)/2`` is ``tau (B-1)/2`` times ours (it neither divides by ``B-1`` nor by ``tau``), a
rescaling of the learning rate. DCL with ``negatives='both'`` has the negative set of the unimodal ``GCLoss_v1``
(both views of every other sample) but keeps a separate ``u`` per side, where ``GCLoss_v1`` stores the average
of the two sides' estimates.

**Pair-sum losses** (SigLIP, KCL: :meth:`theory.Loss.pair_form`,
``L(S) = a_b sum_{i in S} D_i + c_b sum_{i != j in S} O_ij``). The loss is linear in its pair terms, so no
moving average is needed: the reweighted batch loss

.. math:: \tilde L(S) = a_N \frac{N}{B} \sum_{i \in S} D_i + c_N \frac{N(N-1)}{B(B-1)} \sum_{i \ne j \in S} O_{ij}

is unbiased for the full-batch loss, ``E_S[L~(S)] = L(full)``, and so is its gradient, for every ``w``:
``P(i in S) = B/N`` and ``P(i, j in S) = B(B-1)/(N(N-1))`` for a uniform ``B``-subset (and for every block of
a uniform random partition). For SigLIP (``a_b = c_b = 1/b``) it is the batch loss with the in-batch
negatives weighted ``(N-1)/(B-1)``. ``gamma`` is not used there.

**Individual temperatures: iSogCLR** (``temperatures='individual'``; losses with
:meth:`theory.Loss.robust_form`, InfoNCE and DCL). Qiu et al. (2023) replace each anchor's fixed-temperature
log-sum-exp by its KL-constrained distributionally robust version, whose dual (the robust global contrastive
loss, their eq. (6) for ``rho``) is minimized jointly over the embeddings and one temperature per anchor:

.. math:: \Phi(w, \tau) = \frac{1}{N} \sum_k \sum_{i=1}^N \Big[\tau_{ki} \log g_{ki}(w; \tau_{ki}) + \rho\, \tau_{ki}\Big],
          \quad g_{ki} = \frac{1}{m_k (N-1)} \sum_{j \ne i} \sum_m e^{H_k[i, j, m] / \tau_{ki}},
          \quad \tau_{ki} \in [\tau_{\min}, \tau_{\max}],

``H_k[i, j] = s_ij - s_ii`` the loss's similarity differences (no positive in the log-sum-exp: for InfoNCE
this is LibAUC's bimodal ``GCLoss_v2`` objective, not InfoNCE's). ``d Phi / d tau_ki = (rho - KL(p_ki || uniform)) / N``
with ``p_ki`` the softmax of ``H_k[i] / tau_ki``: the optimal temperature makes the tilted distribution over the
negatives sit at KL distance ``rho`` from uniform (and is ``tau_min`` where ``rho`` exceeds every reachable KL, e.g.
``rho > log(N-1)`` for ``m = 1``). Each update on a batch ``S`` does, for ``i in S`` and every term ``k``, with
``ghat_ki = (1/(m_k (B-1))) sum_{j in S, j != i} sum_m exp(H_k[i, j, m] / tau_ki)`` at the current ``tau_ki``:

.. math::

    u_{ki} \leftarrow (1-\gamma)\, u_{ki} + \gamma\, \hat g_{ki} \quad (\hat g_{ki} \text{ at the first visit}),

    m = \frac{1}{B} \sum_{i \in S} \sum_k \frac{\tau_{ki}}{u_{ki}} \nabla \hat g_{ki}
      = \frac{1}{B} \sum_{i \in S} \sum_k \frac{1}{m_k (B-1)\, u_{ki}} \sum_{j, m} e^{H_k[i,j,m]/\tau_{ki}} \nabla H_k[i,j,m],

    G_{ki} = \log u_{ki} + \rho - \frac{1}{m_k (B-1)\, u_{ki}} \sum_{j \in S, j \ne i} \sum_m
             e^{H_k[i,j,m]/\tau_{ki}} \frac{H_k[i,j,m]}{\tau_{ki}},

    v_{ki} \leftarrow (1-\beta)\, v_{ki} + \beta\, G_{ki} \quad (v = 0 \text{ at the start}),\qquad
    \tau_{ki} \leftarrow \min(\tau_{\max}, \max(\tau_{\min}, \tau_{ki} - \eta\, v_{ki})),

and the embeddings step along ``-m`` (``lr``); ``m`` and ``G`` are both taken at the temperatures before the
update, with the new ``u``. This is LibAUC's ``GCLoss_v2`` with ``temperature_scheme='individual_learnable'``
(``u1``/``u2``, ``grad_tau_img``/``grad_tau_txt``, ``learnable_tau_img``/``learnable_tau_txt``, clamp to
``[tau_min, tau_max]``): one temperature per sample and direction (rows: image/``u``-anchors, columns:
text/``v``-anchors), as in its bimodal loss. If every ``u_ki`` equalled ``g_ki`` then ``E_S[m] = grad_w Phi`` and
``E_S[(1/B) sum_{i in S} G_ki e_ki] = grad_tau Phi`` exactly (uniform ``S``: ``P(i in S) = B/N``, the other members
uniform given ``i``; ``G`` is linear in ``ghat`` and in the weighted sum once ``u = g``): the step on
``tau_ki`` is ``eta`` times the per-anchor gradient ``N dPhi/dtau_ki``, i.e. ``eta B`` times that unbiased direction.

The reference is LibAUC's ``GCLoss_v2``; the authors' bimodal experiment code (``SogCLR_DRO_Loss``) has the same step
scale as ours but differs from both: it does not mask the positive out of ``g`` (its inner mean depends on ``B``),
starts ``u`` at 0 (the first visit gives ``gamma ghat``), clips ``G`` to ``[-5, 5]`` (the unimodal code clips the
averaged ``G`` to ``[-3, 3]``) and schedules ``eta``. Departures from LibAUC, all stated: (i) the step on the
embeddings is LibAUC's divided by ``(B-1)/2`` (its ``GCLoss_v2`` neither divides by ``B-1`` nor sums the two
directions), a rescaling of ``lr``; (ii) ``u`` starts per sample at its first visit
(LibAUC: per batch, ``gamma = 1`` while the batch's ``u`` sum to 0), as in the fixed-temperature update above;
(iii) LibAUC's running shift ``b_i`` (``u`` stored as ``e^{-b_i} u``) only guards ``exp`` against overflow: here
``u`` is stored unshifted and a non-finite estimate raises; (iv) for DCL (``negatives='both'``, the unimodal
``GCLoss_v1`` negative set) each side keeps its own ``u`` and ``tau``, where ``GCLoss_v1`` shares one ``u`` and one
``tau`` per sample between the two views (averaging their ``tau`` gradients), and puts the raw ``s_ij`` in the
exponentials (subtracting ``s_ii`` outside) where this update uses the differences ``h = s_ij - s_ii``. This changes
the method, not only its scale: ``2N`` temperatures instead of ``N`` (a different robust objective, for which each
side's ``u`` is a consistent estimate), and under the moving average the raw form's ``u`` carries a stale
``e^{s_ii/tau}`` (the two agree when ``u`` is the batch estimate, and in the exact-``u`` limit); (v) no clipping of
``G`` (LibAUC does not clip; the authors' code does, which changes the size of the ``tau`` step, not its sign or the
stationary points). Defaults (``rho = 0.3``, ``eta = 0.01``, ``beta = 0.9``,
``tau_min = 0.05``, ``tau_max = 0.7``) are ``GCLoss_v1``'s (unimodal); ``GCLoss_v2``'s CLIP-scale defaults are
``rho = 6``, ``tau in [0.005, 0.05]``. The initial temperatures are the loss's ``tau`` (LibAUC: its ``tau``), which
must lie in ``[tau_min, tau_max]``. Sources: the objective as LibAUC's ``GCLoss_v1``/``GCLoss_v2`` docstrings state
it (``rho``: the paper's eq. (6), as cited there), the update as LibAUC's code and the authors' repository implement
it; no other equation number of the paper is cited.

The batches are those of ``shuffle`` (a fresh uniform partition each epoch, ``B | N``).

References
----------
Yuan, Wu, Qiu, Du, Zhang, Zhou, Yang, "Provable Stochastic Optimization for Global Contrastive Learning:
Small Batch Does Not Harm Performance", ICML 2022 (arXiv 2202.12387), eq. (3) and Algorithm 1 (SogCLR);
LibAUC's ``GCLoss`` (the moving average ``s_I`` and the weights ``exp(diff)/s_I``).
Qiu, Hu, Yuan, Zhou, Zhang, Yang, "Not All Semantics are Created Equal: Contrastive Self-supervised Learning with
Automatic Temperature Individualization", ICML 2023 (arXiv 2305.11965), the robust global contrastive loss and iSogCLR;
LibAUC's ``GCLoss_v1``/``GCLoss_v2`` (``enable_isogclr``/``temperature_scheme='individual_learnable'``) and the
authors' ``SogCLR_DRO_Loss`` (github.com/zhqiu/contrastive-learning-iSogCLR).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from theory._checks import check_batch_size

#: Methods that change the update rather than the batches, and the selector whose batches they use.
UPDATE_RULES = {"sogclr": "shuffle"}


def check_gamma(gamma) -> float:
    """SogCLR's moving-average weight ``gamma`` of ``u <- (1 - gamma) u + gamma ghat``, validated.

    Parameters
    ----------
    gamma : float
        A real number (not a bool) in ``(0, 1]``.

    Returns
    -------
    float
        ``gamma`` as a float.

    Raises
    ------
    ValueError
        If ``gamma`` is not a number in ``(0, 1]`` (the message names ``sogclr_gamma``).
    """
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.integer, np.floating)) \
            or not 0 < float(gamma) <= 1:
        raise ValueError(f"sogclr_gamma must be a number in (0, 1], got {gamma!r}")
    return float(gamma)


#: ``Config.sogclr_temperatures``: one fixed temperature (SogCLR) or one learned per anchor (iSogCLR).
TEMPERATURES = ("fixed", "individual")


def check_temperature_options(temperatures="fixed", rho=0.3, eta=0.01, beta=0.9, tau_min=0.05, tau_max=0.7) -> dict:
    """iSogCLR's options, validated (each message names its ``sogclr_*`` field and the allowed range).

    Parameters
    ----------
    temperatures : {'fixed', 'individual'}, default='fixed'
        ``'individual'``: iSogCLR's per-anchor temperatures.
    rho : float, default=0.3
        The KL radius ``rho >= 0`` of the robust objective (LibAUC's ``rho``).
    eta : float, default=0.01
        Step size of the temperatures, > 0 (LibAUC's ``eta``).
    beta : float, default=0.9
        Weight of the new temperature gradient in its moving average, in ``(0, 1]`` (LibAUC's ``beta``).
    tau_min, tau_max : float, default=0.05, 0.7
        Bounds of the temperatures, ``0 < tau_min < tau_max`` (finite).

    Returns
    -------
    dict
        ``{'temperatures', 'rho', 'eta', 'beta', 'tau_min', 'tau_max'}``, the numbers as floats.

    Raises
    ------
    ValueError
        For a value out of its range.
    """
    if temperatures not in TEMPERATURES:
        raise ValueError(f"sogclr_temperatures must be one of {TEMPERATURES}, got {temperatures!r}")

    def num(name, v):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
        return float(v)
    rho, eta, beta = num("sogclr_rho", rho), num("sogclr_eta", eta), num("sogclr_beta", beta)
    tau_min, tau_max = num("sogclr_tau_min", tau_min), num("sogclr_tau_max", tau_max)
    if rho < 0:
        raise ValueError(f"sogclr_rho must be a finite number >= 0, got {rho!r}")
    if eta <= 0:
        raise ValueError(f"sogclr_eta must be a finite number > 0, got {eta!r}")
    if not 0 < beta <= 1:
        raise ValueError(f"sogclr_beta must be a number in (0, 1], got {beta!r}")
    if not 0 < tau_min < tau_max:
        raise ValueError(f"sogclr_tau_min and sogclr_tau_max must satisfy 0 < sogclr_tau_min < sogclr_tau_max, got "
                         f"{tau_min!r} and {tau_max!r}")
    return {"temperatures": temperatures, "rho": rho, "eta": eta, "beta": beta, "tau_min": tau_min, "tau_max": tau_max}


def robust_temperature(loss, tau_min: float = 0.05, tau_max: float = 0.7) -> float:
    """The initial temperature of iSogCLR for ``loss``: its :meth:`~theory.Loss.robust_form` temperature (probed on a
    ``2 x 2`` identity Gram), which must lie in ``[tau_min, tau_max]``.

    Parameters
    ----------
    loss : theory.Loss
    tau_min, tau_max : float, default=0.05, 0.7
        The temperatures' bounds.

    Returns
    -------
    float
        The loss's temperature.

    Raises
    ------
    ValueError
        If the loss has no :meth:`~theory.Loss.robust_form` (the message names the loss) or its temperature is outside
        ``[tau_min, tau_max]``.
    """
    Z = np.eye(2)
    form = loss.robust_form(Z, Z, Z)
    if form is None:
        raise ValueError(f"sogclr_temperatures='individual' (iSogCLR) needs a loss whose anchor terms are log-sum-exps of "
                         f"similarity differences over one temperature (robust_form: InfoNCE, DCL); loss {loss.name!r} "
                         "has none, so its robust objective is not defined")
    tau = float(form[0])
    if not tau_min <= tau <= tau_max:
        raise ValueError(f"sogclr_temperatures='individual': the loss's temperature tau={tau!r} is iSogCLR's initial "
                         f"value and must lie in [sogclr_tau_min, sogclr_tau_max] = [{tau_min!r}, {tau_max!r}]; set the "
                         "loss's tau or the bounds")
    return tau


def _robust_terms(loss, U, V):
    Z = U @ V.T
    UU, VV = (U @ U.T, V @ V.T) if loss.needs_self_grams else (None, None)
    form = loss.robust_form(Z, UU, VV)
    if form is None:
        robust_temperature(loss)                                   # raises with the reason
    return form


def _log_means(H: torch.Tensor, tau: torch.Tensor) -> tuple:
    """``log g`` (the log-mean over the off-diagonal negatives of ``exp(H / tau)``) and the tilted mean of
    ``H / tau``, per anchor; ``H`` of shape ``(n, n, m)``, ``tau`` of shape ``(n,)``."""
    n, m = H.shape[0], H.shape[-1]
    off = ~torch.eye(n, dtype=torch.bool, device=H.device)[:, :, None].expand(n, n, m)
    X = torch.where(off, H / tau[:, None, None], torch.full_like(H, float("-inf")))
    lse = torch.logsumexp(X.reshape(n, -1), 1)
    p = torch.exp(X.reshape(n, -1) - lse[:, None])
    tilted = (p * torch.where(off, H / tau[:, None, None], torch.zeros_like(H)).reshape(n, -1)).sum(1)
    return lse - math.log(m * (n - 1)), tilted


def robust_objective(U: torch.Tensor, V: torch.Tensor, loss, tau: torch.Tensor, rho: float = 0.3) -> torch.Tensor:
    r"""The full-batch robust global contrastive objective that iSogCLR minimizes, at the temperatures ``tau``:

    .. math:: \Phi(U, V, \tau) = \frac{1}{N} \sum_k \sum_{i=1}^N \Big[\tau_{ki} \log \frac{1}{m_k (N-1)}
              \sum_{j \ne i} \sum_m e^{H_k[i, j, m] / \tau_{ki}} + \rho\, \tau_{ki}\Big]

    (``H_k`` from :meth:`theory.Loss.robust_form`; log-sum-exp evaluated stably).

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        Unit-norm rows (differentiable).
    loss : theory.Loss
        A loss with :meth:`~theory.Loss.robust_form`.
    tau : torch.Tensor, shape (K, N)
        One positive temperature per anchor term and sample (differentiable).
    rho : float, default=0.3
        The KL radius, >= 0.

    Returns
    -------
    torch.Tensor
        A 0-d tensor.

    Raises
    ------
    ValueError
        If the loss has no :meth:`~theory.Loss.robust_form` or ``tau`` has the wrong shape.

    References
    ----------
    Qiu et al., ICML 2023 (arXiv 2305.11965), the robust global contrastive loss (``rho``: their eq. (6)).
    """
    _, terms = _robust_terms(loss, U, V)
    N = U.shape[0]
    if tuple(tau.shape) != (len(terms), N):
        raise ValueError(f"tau must have shape ({len(terms)}, {N}) (one temperature per anchor term and sample), got "
                         f"{tuple(tau.shape)}")
    total = 0.0
    for k, H in enumerate(terms):
        log_g, _ = _log_means(H, tau[k])
        total = total + (tau[k] * log_g + rho * tau[k]).sum()
    return total / N


def robust_profile(U: torch.Tensor, V: torch.Tensor, loss, rho: float = 0.3, tau_min: float = 0.05,
                   tau_max: float = 0.7) -> tuple:
    r"""The robust objective minimized over the temperatures, ``min_{tau in [tau_min, tau_max]^{K x N}} Phi(U, V, tau)``
    (the robust loss of the embeddings alone), and the minimizing temperatures.

    Each ``tau_ki`` enters one convex term (a perspective of a log-mean-exp); its derivative
    ``(rho - KL(p_ki || uniform)) / N`` is nondecreasing in ``tau_ki``, so bisection on its sign (80 halvings of the
    bracket, to float64 resolution) finds the minimizer, ``tau_min`` or ``tau_max`` where the sign does not change.
    The returned value is differentiable in ``U, V`` with the temperatures held at the minimizer, whose gradient is the
    gradient of the profile (Danskin).

    Parameters
    ----------
    U, V : torch.Tensor, shape (N, d)
        Unit-norm rows.
    loss : theory.Loss
        A loss with :meth:`~theory.Loss.robust_form`.
    rho : float, default=0.3
        The KL radius, >= 0.
    tau_min, tau_max : float, default=0.05, 0.7
        The bounds of the temperatures, ``0 < tau_min < tau_max``.

    Returns
    -------
    tuple
        ``(value, tau)``: a 0-d tensor and the ``(K, N)`` minimizing temperatures (detached).

    Raises
    ------
    ValueError
        If the loss has no :meth:`~theory.Loss.robust_form`.
    """
    with torch.no_grad():
        _, terms = _robust_terms(loss, U.detach(), V.detach())
        N = U.shape[0]
        lo = torch.full((len(terms), N), float(tau_min), dtype=U.dtype, device=U.device)
        hi = torch.full_like(lo, float(tau_max))
        for _ in range(80):
            mid = (lo + hi) / 2
            for k, H in enumerate(terms):
                log_g, tilted = _log_means(H, mid[k])
                up = log_g + rho - tilted > 0                     # increasing there: the minimizer is below
                hi[k] = torch.where(up, mid[k], hi[k])
                lo[k] = torch.where(up, lo[k], mid[k])
        tau = (lo + hi) / 2
    return robust_objective(U, V, loss, tau, rho), tau


def sogclr_form(loss) -> str:
    """Which SogCLR update applies to ``loss``: the pair-sum reweighting or the per-anchor moving average.

    :meth:`~theory.Loss.pair_form` is preferred when both forms exist; :meth:`~theory.Loss.anchor_form` is probed on
    a ``2 x 2`` identity Gram.

    Parameters
    ----------
    loss : theory.Loss

    Returns
    -------
    str
        ``'pair'`` (the loss has :meth:`~theory.Loss.pair_form`) or ``'anchor'`` (it has
        :meth:`~theory.Loss.anchor_form`).

    Raises
    ------
    ValueError
        If the loss has neither form (its full-batch gradient has no unbiased small-batch estimate here).
    """
    if loss.has_pair_form:
        return "pair"
    Z = np.eye(2)
    if loss.anchor_form(Z, Z, Z) is not None:
        return "anchor"
    raise ValueError(f"method 'sogclr' needs a loss that is a mean of per-anchor log-sum-exps (anchor_form) or a sum "
                     f"over pairs (pair_form); loss {loss.name!r} has neither, so its full-batch gradient has no "
                     "unbiased small-batch estimate here")


class SogCLR:
    """The SogCLR update (see the module docstring for the exact formulas).

    Parameters
    ----------
    loss : theory.Loss
        Must have :meth:`~theory.Loss.anchor_form` or :meth:`~theory.Loss.pair_form`.
    N, B : int
        Pairs and batch size, ``2 <= B <= N``.
    gamma : float, default=0.9
        Moving-average weight in ``(0, 1]`` (1: no averaging, ``u = ghat``); unused for pair-sum losses.
    temperatures : {'fixed', 'individual'}, default='fixed'
        ``'individual'``: iSogCLR, one learned temperature per anchor term and sample (losses with
        :meth:`~theory.Loss.robust_form`); the options below are used only then.
    rho : float, default=0.3
        iSogCLR's KL radius, >= 0.
    eta : float, default=0.01
        iSogCLR's step size of the temperatures, > 0.
    beta : float, default=0.9
        iSogCLR's weight of the new temperature gradient in its moving average, in ``(0, 1]``.
    tau_min, tau_max : float, default=0.05, 0.7
        iSogCLR's bounds of the temperatures, ``0 < tau_min < tau_max``; the loss's ``tau`` (the initial value) must lie
        between them.

    Attributes
    ----------
    u : torch.Tensor or None
        ``(K, N)`` estimates of the inner means (NaN until a sample is first visited).
    tau : torch.Tensor or None
        ``(K, N)`` temperatures (``temperatures='individual'``; None otherwise).
    grad_tau : torch.Tensor or None
        ``(K, N)`` moving averages of the temperature gradients (``temperatures='individual'``; None otherwise).

    Raises
    ------
    ValueError
        For a loss with neither form (or, with individual temperatures, without
        :meth:`~theory.Loss.robust_form`), sizes out of range or an option out of its range.

    References
    ----------
    Yuan, Wu, Qiu, Du, Zhang, Zhou & Yang, *Provable Stochastic Optimization for Global Contrastive Learning: Small
    Batch Does Not Harm Performance*, ICML 2022 (arXiv 2202.12387), eq. (3) and Algorithm 1.
    Qiu, Hu, Yuan, Zhou, Zhang & Yang, *Not All Semantics are Created Equal*, ICML 2023 (arXiv 2305.11965) (iSogCLR).
    """

    def __init__(self, loss, N: int, B: int, gamma: float = 0.9, temperatures: str = "fixed", rho: float = 0.3,
                 eta: float = 0.01, beta: float = 0.9, tau_min: float = 0.05, tau_max: float = 0.7):
        self.N, self.B = check_batch_size(N, B)
        if self.B < 2:
            raise ValueError(f"method 'sogclr' needs B >= 2 (in-batch negatives), got B={B}")
        self.loss, self.gamma, self.form = loss, check_gamma(gamma), sogclr_form(loss)
        self.u = None                     # (K, N) estimates of g_ki; NaN until i is first visited
        self.options = check_temperature_options(temperatures, rho, eta, beta, tau_min, tau_max)
        self.individual = self.options["temperatures"] == "individual"
        self.tau = self.grad_tau = None
        if self.individual:
            tau0 = robust_temperature(loss, tau_min, tau_max)
            Z = np.eye(2)
            K = len(loss.robust_form(Z, Z, Z)[1])
            self.tau = torch.full((K, self.N), tau0, dtype=torch.float64)
            self.grad_tau = torch.zeros((K, self.N), dtype=torch.float64)

    def surrogate(self, U: torch.Tensor, V: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        """A scalar whose gradient in ``(U, V)`` is SogCLR's estimate ``m`` on ``batch``; updates the per-sample
        estimates ``u`` (anchor form).

        Parameters
        ----------
        U, V : torch.Tensor, shape (N, d)
            Unit-norm rows, differentiable.
        batch : torch.Tensor
            LongTensor of ``B`` distinct indices (any shape, e.g. ``(1, B)``).

        Returns
        -------
        torch.Tensor
            A 0-d tensor (its value is not a loss; its gradient is the update direction).

        Raises
        ------
        FloatingPointError
            If an estimate becomes non-finite.
        """
        b = batch.reshape(-1)
        Ub, Vb = U[b], V[b]
        Z = Ub @ Vb.T
        UU, VV = (Ub @ Ub.T, Vb @ Vb.T) if self.loss.needs_self_grams else (None, None)
        N, B = self.N, len(b)
        if self.individual:
            return self._individual(Ub, Vb, b, Z, UU, VV)
        if self.form == "pair":
            D, O, coef = self.loss.pair_form(Z, UU, VV)
            a, c = coef(N)
            return a * N / B * D.sum() + c * N * (N - 1) / (B * (B - 1)) * O.sum()
        terms = self.loss.anchor_form(Z, UU, VV)
        off = ~torch.eye(B, dtype=torch.bool, device=U.device)
        if self.u is None:
            self.u = torch.full((len(terms), N), float("nan"), dtype=U.dtype, device=U.device)
        elif self.u.device != U.device or self.u.dtype != U.dtype:       # restored from a checkpoint
            self.u = self.u.to(device=U.device, dtype=U.dtype)
        total = 0.0
        for k, (X, eps) in enumerate(terms):
            ghat = (torch.exp(X).sum(-1) * off).sum(1) / (B - 1)            # (B,)
            g = ghat.detach()
            old = self.u[k, b]
            new = torch.where(torch.isnan(old), g, (1 - self.gamma) * old + self.gamma * g)
            if not bool(torch.isfinite(new).all()):
                raise FloatingPointError("sogclr: a per-sample estimate u became non-finite (exp overflow); raise tau or "
                                         "lower lr")
            self.u[k, b] = new
            total = total + ((N - 1) / (eps + (N - 1) * new) * ghat).sum()
        return total / B

    def _individual(self, Ub, Vb, b, Z, UU, VV):
        """iSogCLR's update on one batch (module docstring): returns the surrogate, updates ``u``, ``grad_tau``, ``tau``."""
        o = self.options
        _, terms = self.loss.robust_form(Z, UU, VV)
        N, B = self.N, len(b)
        like = dict(dtype=Ub.dtype, device=Ub.device)
        if self.u is None:
            self.u = torch.full((len(terms), N), float("nan"), **like)
        self.u, self.tau, self.grad_tau = (x.to(**like) for x in (self.u, self.tau, self.grad_tau))
        off = ~torch.eye(B, dtype=torch.bool, device=Ub.device)[:, :, None]
        total = 0.0
        for k, H in enumerate(terms):
            n = H.shape[-1] * (B - 1)                                     # negatives per anchor in the batch
            t = self.tau[k, b].clone()                                    # the temperatures before this update
            E = torch.where(off, torch.exp(H / t[:, None, None]), torch.zeros_like(H))
            ghat = E.sum((1, 2)) / n                                      # (B,)
            old = self.u[k, b]
            new = torch.where(torch.isnan(old), ghat.detach(), (1 - self.gamma) * old + self.gamma * ghat.detach())
            if not bool((torch.isfinite(new) & (new > 0)).all()):
                raise FloatingPointError("sogclr (individual temperatures): a per-sample estimate u left (0, inf) "
                                         "(exp overflow or underflow); raise sogclr_tau_min or lower lr")
            self.u[k, b] = new
            total = total + (t / new * ghat).sum()
            Hd, Ed = H.detach(), E.detach()
            G = torch.log(new) + o["rho"] - (Ed * Hd / t[:, None, None]).sum((1, 2)) / (n * new)
            self.grad_tau[k, b] = (1 - o["beta"]) * self.grad_tau[k, b] + o["beta"] * G
            self.tau[k, b] = (t - o["eta"] * self.grad_tau[k, b]).clamp(o["tau_min"], o["tau_max"])
        return total / B

    def state(self) -> dict:
        """Serialisable state for checkpoints: the per-sample estimates ``u`` (and, with individual temperatures, the
        temperatures and their gradients' moving averages).

        Returns
        -------
        dict
            ``{'u': u}``, ``u`` a CPU tensor of shape ``(K, N)`` (NaN where a sample was never visited; ``K`` the
            number of :meth:`~theory.Loss.anchor_form` terms), or None before the first anchor-form update and
            always for pair-sum losses; with ``temperatures='individual'`` also ``'tau'`` and ``'grad_tau'``, CPU
            tensors of shape ``(K, N)``.
        """
        st = {"u": None if self.u is None else self.u.cpu()}
        if self.individual:
            st.update(tau=self.tau.cpu(), grad_tau=self.grad_tau.cpu())
        return st

    def load_state(self, state: dict) -> None:
        """Restore the estimates saved by :meth:`state` (moved to the embeddings' device and dtype at the next
        :meth:`surrogate`).

        Parameters
        ----------
        state : dict
            As returned by :meth:`state`.
        """
        self.u = state["u"]
        if self.individual:
            self.tau, self.grad_tau = state["tau"], state["grad_tau"]
