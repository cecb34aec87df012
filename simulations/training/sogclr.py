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

The batches are those of ``shuffle`` (a fresh uniform partition each epoch, ``B | N``).

References
----------
Yuan, Wu, Qiu, Du, Zhang, Zhou, Yang, "Provable Stochastic Optimization for Global Contrastive Learning:
Small Batch Does Not Harm Performance", ICML 2022 (arXiv 2202.12387), eq. (3) and Algorithm 1 (SogCLR);
LibAUC's ``GCLoss`` (the moving average ``s_I`` and the weights ``exp(diff)/s_I``).
"""
from __future__ import annotations

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

    Raises
    ------
    ValueError
        For a loss with neither form, sizes out of range or ``gamma`` outside ``(0, 1]``.

    References
    ----------
    Yuan, Wu, Qiu, Du, Zhang, Zhou & Yang, *Provable Stochastic Optimization for Global Contrastive Learning: Small
    Batch Does Not Harm Performance*, ICML 2022 (arXiv 2202.12387), eq. (3) and Algorithm 1.
    """

    def __init__(self, loss, N: int, B: int, gamma: float = 0.9):
        self.N, self.B = check_batch_size(N, B)
        if self.B < 2:
            raise ValueError(f"method 'sogclr' needs B >= 2 (in-batch negatives), got B={B}")
        self.loss, self.gamma, self.form = loss, check_gamma(gamma), sogclr_form(loss)
        self.u = None                     # (K, N) estimates of g_ki; NaN until i is first visited

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

    def state(self) -> dict:
        """Serialisable state for checkpoints: the per-sample estimates ``u``.

        Returns
        -------
        dict
            ``{'u': u}``, ``u`` a CPU tensor of shape ``(K, N)`` (NaN where a sample was never visited; ``K`` the
            number of :meth:`~theory.Loss.anchor_form` terms), or None before the first anchor-form update and
            always for pair-sum losses.
        """
        return {"u": None if self.u is None else self.u.cpu()}

    def load_state(self, state: dict) -> None:
        """Restore the estimates saved by :meth:`state` (moved to the embeddings' device and dtype at the next
        :meth:`surrogate`).

        Parameters
        ----------
        state : dict
            As returned by :meth:`state`.
        """
        self.u = state["u"]
