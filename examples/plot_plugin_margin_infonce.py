"""
Your own loss in one file
=========================

A loss defined outside the package: InfoNCE with an additive margin on the positive logit,
registered under ``"margin_infonce"``. Nothing in the package is edited; every layer of the toolkit
(the numpy oracle, the torch engine, the relaxation, the ETF decision, the command line with
``--plugin``) uses it through the loss protocol.

For a batch ``S`` with ``z_ij = u_i . v_j``, the anchor term is

.. math:: \\log\\Big(e^{(z_{ii} - m)/\\tau} + \\sum_{j \\ne i} e^{z_{ij}/\\tau}\\Big) - \\frac{z_{ii} - m}{\\tau}

(a margin ``m > 0`` asks the positive to beat every negative by ``m``), plus the column term.
"""
from dataclasses import dataclass

import numpy as np

import theory as th
from theory.losses import ops


@th.register_loss("margin_infonce")
@dataclass(frozen=True)
class MarginInfoNCE(th.Loss):
    """InfoNCE with an additive margin on the positive logit.

    Parameters
    ----------
    tau : float, default=1.0
        Temperature, > 0.
    margin : float, default=0.0
        Margin subtracted from the positive inner product, >= 0.
    """

    tau: float = 1.0
    margin: float = 0.0

    def __post_init__(self):
        if not (isinstance(self.tau, (int, float)) and self.tau > 0):
            raise ValueError(f"tau must be a number > 0, got {self.tau!r}")
        if not (isinstance(self.margin, (int, float)) and 0 <= self.margin < float("inf")):
            raise ValueError(f"margin must be a finite number >= 0, got {self.margin!r}")

    def batch_losses(self, Z, idx):
        xp = ops.namespace(Z)                      # numpy for the oracle, torch for the engine
        eye = xp.eye(Z.shape[-1], like=Z)
        zs = xp.where(eye, Z - self.margin, Z) / self.tau
        d = xp.diagonal(zs)
        return xp.mean(xp.logsumexp(zs, -1) - d, -1) + xp.mean(xp.logsumexp(zs, -2) - d, -1)

    def cvx_batch_loss(self, Z, idx, UU=None, VV=None):
        import cvxpy as cp                         # one batch: Z is a (b, b) cvxpy expression
        b = Z.shape[0]
        zs = (Z - self.margin * np.eye(b)) / self.tau
        d = cp.diag(zs)
        return (cp.sum(cp.log_sum_exp(zs, axis=1) - d) + cp.sum(cp.log_sum_exp(zs, axis=0) - d)) / b


if __name__ == "__main__":
    import matplotlib.pyplot as plt
    import torch

    import simulations as sim

    N = 6
    family = th.Family.all(N, 3)
    rng = np.random.default_rng(0)
    U = th.normalize_rows(rng.normal(size=(N, 4)))
    V = th.normalize_rows(rng.normal(size=(N, 4)))
    margins = np.linspace(0.0, 1.0, 6)
    values = []
    for m in margins:
        loss = MarginInfoNCE(tau=0.5, margin=float(m))
        oracle = th.objective(U, V, family, loss)                       # numpy, exact
        engine = float(sim.objective(torch.tensor(U), torch.tensor(V), family, loss))
        cert = th.certify(family, loss)                                 # convex relaxation, global optimum
        etf = th.etf_is_optimal(family, loss)                           # solver-free decision at the ETF
        print(f"margin {m:.1f}: oracle {oracle:.10f} engine {engine:.10f} certified optimum {cert.value:.6f} "
              f"({cert.status}); ETF optimal: {etf.optimal}")
        values.append(cert.value)
    plt.plot(margins, values, "o-")
    plt.xlabel("margin m")
    plt.ylabel("certified optimum, all C(6,3) batches")
    plt.title("margin InfoNCE (a plugin loss), tau = 0.5")
    plt.show()
