r"""
Hard negatives as a plugin loss
===============================

The hard-negative objective of Robinson, Chuang, Sra & Jegelka (ICLR 2021), written as a plugin of the
loss protocol and registered under ``"hard_negative"``: the negatives of an anchor are reweighted
towards the hardest ones with a concentration ``beta >= 0``, and the positive class prior
``tau_plus in [0, 1)`` debiases them (Chuang et al., NeurIPS 2020).

For a batch ``S`` of size ``b`` with logits ``s_ij = u_i . v_j / tau``, ``m = b - 1`` in-batch
(cross-view) negatives ``j != i``, the anchor ``u_i`` has the importance-weighted negative term

.. math::

    \hat R_i = m\,\frac{\sum_{j \ne i} e^{\beta s_{ij}}\, e^{s_{ij}}}{\sum_{j \ne i} e^{\beta s_{ij}}},
    \qquad
    N_i = \max\Big(\frac{\hat R_i - \tau^+ m\, e^{s_{ii}}}{1 - \tau^+},\; m\, e^{-1/\tau}\Big),

and the loss :math:`\ell_i = -\log \frac{e^{s_{ii}}}{e^{s_{ii}} + N_i}`; the column (``v``-anchored) term is
the same on the transposed block and the batch loss is the mean over anchors of both (CLIP-style).
``beta = 0`` and ``tau_plus = 0`` give ``N_i = sum_{j != i} e^{s_ij}``: InfoNCE with the positive in the
denominator, as in :mod:`theory.losses.infonce`. The toolkit can evaluate it (oracle and engine), take
its gradient and train with it; it cannot certify it (it has no convex relaxation: see below).
"""
from dataclasses import dataclass
from numbers import Real

import numpy as np

import theory as th
from theory.losses import ops


def _number(name, value, low, high, low_open, high_open, allowed):
    ok = isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        raise ValueError(f"{name} must be a number {allowed}, got {value!r}")
    return float(value)


@th.register_loss("hard_negative")
@dataclass(frozen=True)
class HardNegative(th.Loss):
    r"""Hard-negative contrastive loss (importance-weighted, debiased negatives), CLIP-style symmetric.

    Parameters
    ----------
    tau : float, default=1.0
        Temperature, > 0.
    beta : float, default=1.0
        Concentration of the negative distribution ``q_beta(x^-) ~ e^{beta s(x, x^-)} p(x^-)`` (hardness), >= 0;
        0 weighs the negatives uniformly. As in the authors' code, ``beta`` multiplies the tempered logit
        ``s = u . v / tau``.
    tau_plus : float, default=0.0
        Class prior ``tau^+`` of the debiasing (probability that a negative shares the anchor's class), in [0, 1).

    Notes
    -----
    For a batch of size ``b`` with ``s_ij = u_i^T v_j / tau`` and ``m = b - 1`` negatives per anchor:

    .. math::

        \ell_i = \log\Big(1 + e^{-s_{ii}} \max\Big(\frac{\hat R_i - \tau^+ m e^{s_{ii}}}{1 - \tau^+},
        m e^{-1/\tau}\Big)\Big),\qquad
        \hat R_i = m \frac{\sum_{j \ne i} e^{(\beta + 1) s_{ij}}}{\sum_{j \ne i} e^{\beta s_{ij}}},

    ``L(S) = mean_i l_i + mean_i l'_i`` (``l'`` the same on the transposed block). This is the hard-sampling
    objective of Robinson et al. (Sec. 3, the debiased objective with the negatives drawn from ``q_beta``), with
    ``Q = m`` negatives and the expectations over ``q_beta`` and ``q_beta^+`` estimated by importance sampling from
    the batch (Sec. 3; the positive alone estimates ``E_{q_beta^+}``, ``M = 1`` as in their pseudocode, Fig. 7), and
    the floor ``m e^{-1/tau}`` (the estimator's theoretical minimum on the sphere) of Chuang et al.'s debiased
    estimator. The floor is applied as published; where it binds, the negative term is a constant, its gradient
    with respect to every negative logit is exactly zero (autograd and the complex step alike: the branch is chosen
    on the real part, the floor when ``N_i`` equals it) and only the positive is pulled.

    With ``beta = 0`` and ``tau_plus = 0`` the loss is InfoNCE (:class:`theory.losses.InfoNCE`, whose denominator
    also holds the positive) wherever ``z_ij >= -1`` (on the sphere): ``R_i = sum_{j != i} e^{s_ij} >= m e^{-1/tau}``,
    so the floor does not bind. Off the sphere it may.

    Not convex in ``Z`` for ``beta > 0`` (``log R_i`` is a difference of log-sum-exps) nor for ``tau_plus > 0`` (a
    negative coefficient on ``e^{s_ii}``), so no convex relaxation is defined: :func:`theory.certify` refuses it and
    :func:`theory.etf_is_optimal` can decide only by the tangent gradient (non-optimal) or leave it undecided.

    References
    ----------
    Robinson, Chuang, Sra & Jegelka, "Contrastive Learning with Hard Negative Samples", ICLR 2021 (arXiv 2010.04592),
    Sec. 3 and Fig. 7; reference code github.com/joshr17/HCL (``image/main.py``, ``criterion``).
    Chuang, Robinson, Yen-Chen, Torralba & Jegelka, "Debiased Contrastive Learning", NeurIPS 2020 (the estimator and its
    floor ``e^{-1/t}``).
    """

    tau: float = 1.0
    beta: float = 1.0
    tau_plus: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "tau", _number("tau", self.tau, 0.0, np.inf, True, True, "> 0"))
        object.__setattr__(self, "beta", _number("beta", self.beta, 0.0, np.inf, False, True, ">= 0 (finite)"))
        object.__setattr__(self, "tau_plus", _number("tau_plus", self.tau_plus, 0.0, 1.0, False, True, "in [0, 1)"))

    def _anchor_losses(self, s, xp):
        """``(n, b)`` anchor losses ``l_i`` of ``(n, b, b)`` logit blocks, the anchors along the rows."""
        b = s.shape[-1]
        m = b - 1
        eye = xp.eye(b, like=s)
        d = xp.diagonal(s)
        log_r = (np.log(m) + xp.logsumexp(xp.where(eye, -np.inf, (self.beta + 1.0) * s), -1)
                 - xp.logsumexp(xp.where(eye, -np.inf, self.beta * s), -1))
        g = (xp.exp(log_r - d) - self.tau_plus * m) / (1.0 - self.tau_plus)    # N_i e^{-s_ii} before the floor
        floor = m * xp.exp(-1.0 / self.tau - d)                                # m e^{-1/tau} e^{-s_ii}
        g = xp.where(g.real > floor.real, g, floor)
        return xp.softplus(xp.log(g))                                          # log(1 + N_i e^{-s_ii})

    def batch_losses(self, Z, idx):
        """The hard-negative loss of each batch.

        Parameters
        ----------
        Z : numpy.ndarray or torch.Tensor, shape (n, b, b)
            Gram blocks ``Z[a, c] = u_{S_a}^T v_{S_c}``; numpy real or complex (complex step), or torch.
        idx : numpy.ndarray, shape (n, b)
            The batches' indices (not used).

        Returns
        -------
        numpy.ndarray or torch.Tensor, shape (n,)
        """
        xp = ops.namespace(Z)
        s = Z / self.tau
        return xp.mean(self._anchor_losses(s, xp), -1) + xp.mean(self._anchor_losses(xp.transpose(s), xp), -1)


# %%
# The demonstration runs when the file is executed (as the gallery does); ``theory.load_plugin`` (and
# ``--plugin`` on the command line) only registers the loss. For each ``beta`` (``tau_plus = 0``): the
# numpy oracle and the torch engine agree on the all-C(6,3) and the full-batch objectives at a random
# configuration; the solver-free decision is asked whether the simplex ETF is optimal. Without a convex
# relaxation it can only refute (a non-zero tangent gradient) or stay undecided: by symmetry the ETF is a
# stationary point of both objectives, so it stays undecided and no certificate is attempted.
#
# With ``tau_plus > 0`` the floor can bind at the ETF: there every negative has ``s_ij = -1/((N-1) tau)``
# whatever ``beta``, so ``N_i`` is floored when ``e^{-1/((N-1)tau)} - tau_plus e^{1/tau} <= (1 - tau_plus)
# e^{-1/tau}``. Then the loss reaches its elementary lower bound: ``s_ii <= 1/tau`` and ``N_i >= m e^{-1/tau}``
# give ``l_i >= log(1 + m e^{-2/tau})``, so the ETF is a global minimizer (not the only one), with no solver.
# Last, projected gradient descent on the full batch from a random start, ``beta`` in {0, 1}, compares the
# loss reached with its value at the ETF.
if __name__ == "__main__":
    import matplotlib.pyplot as plt
    import torch

    import simulations as sim

    N, B, tau = 6, 3, 0.5
    rng = np.random.default_rng(0)
    U = th.normalize_rows(rng.normal(size=(N, 4)))
    V = th.normalize_rows(rng.normal(size=(N, 4)))
    W = th.simplex_etf(N, N - 1)
    families = (("all", th.Family.all(N, B), B - 1), ("full", th.Family.full(N), N - 1))
    betas = [0.0, 0.5, 1.0, 2.0, 4.0]
    at_etf = {"all": [], "full": []}
    for beta in betas:
        loss = HardNegative(tau=tau, beta=beta, tau_plus=0.0)
        for name, family, _ in families:
            oracle = th.objective(U, V, family, loss)                       # numpy, exact
            engine = float(sim.objective(torch.tensor(U), torch.tensor(V), family, loss))
            if abs(engine - oracle) > 1e-12 * abs(oracle):
                raise RuntimeError(f"beta {beta}, {name}: oracle {oracle!r} and engine {engine!r} differ")
            etf = th.etf_is_optimal(family, loss)                           # no relaxation: gradient test only
            at_etf[name].append(etf.etf_value)
            print(f"beta {beta:.1f} {name:>4}: oracle {oracle:.12f} engine {engine:.12f}; L(ETF) {etf.etf_value:.6f}; "
                  f"ETF optimal: {etf.optimal} (decided by {etf.decided_by}, tangent gradient ratio {etf.gradient_ratio:.1e})")

    for name, family, m in families:                                       # tau_plus = 0.1: the floor binds at the ETF
        loss = HardNegative(tau=tau, beta=1.0, tau_plus=0.1)
        bound = 2 * np.log1p(m * np.exp(-2 / tau))
        print(f"tau_plus 0.1 {name:>4}: L(ETF) {th.objective(W, W, family, loss):.12f} = lower bound 2 log(1 + m e^(-2/tau)) "
              f"{bound:.12f}: the ETF is a global minimizer")

    reached = {}
    for beta in (0.0, 1.0):
        loss = HardNegative(tau=tau, beta=beta, tau_plus=0.0)
        Ut = torch.tensor(th.normalize_rows(rng.normal(size=(N, N - 1))), requires_grad=True)
        Vt = torch.tensor(th.normalize_rows(rng.normal(size=(N, N - 1))), requires_grad=True)
        opt = torch.optim.SGD([Ut, Vt], lr=0.5)
        trace = []
        for _ in range(300):
            opt.zero_grad()
            value = sim.objective(Ut, Vt, th.Family.full(N), loss)
            value.backward()
            opt.step()
            with torch.no_grad():                                          # back onto the sphere
                Ut /= Ut.norm(dim=1, keepdim=True)
                Vt /= Vt.norm(dim=1, keepdim=True)
            trace.append(float(value.detach()))
        reached[beta] = trace
        etf_value = th.objective(W, W, th.Family.full(N), loss)
        print(f"beta {beta:.0f}: full-batch loss after 300 projected steps {trace[-1]:.6f}, at the ETF {etf_value:.6f}")

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    ax0.plot(betas, at_etf["all"], "o-", label=f"all C({N},{B}) batches")
    ax0.plot(betas, at_etf["full"], "x--", label="full batch")
    ax0.set_xlabel("beta")
    ax0.set_ylabel("objective at the simplex ETF")
    ax0.legend()
    for beta, trace in reached.items():
        ax1.plot(trace, label=f"beta = {beta:.0f}")
    ax1.set_xlabel("projected gradient step")
    ax1.set_ylabel("full-batch loss")
    ax1.legend()
    fig.suptitle(f"hard-negative loss (a plugin), N = {N}, tau = {tau}, tau_plus = 0")
    plt.show()
