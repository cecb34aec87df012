"""
Certify your own batch family and read the weighted law
=======================================================

A batch family of your own — here four batches over ``N = 4`` points, of two sizes, one of them
counted twice — and the question the paper asks of every family: is the simplex ETF still the
global minimizer of the InfoNCE objective ``sum_S w_S L(S) / sum_S w_S`` (``d >= N-1``)?

The weighted pair-balance law answers it without a solver: the ETF is optimal exactly when the pair
weights ``kappa_ij = sum_{S containing i, j} w_S / (|S| (1 + (|S|-1) c))``, ``c = exp(-N/((N-1) tau))``,
are the same for every pair (see the theory notes, section :ref:`theory-weighted-law`). With mixed
sizes ``kappa`` depends on the temperature, so a family can be balanced at one temperature only.
The convex relaxation (:func:`theory.certify`) gives the certified optimum independently; the
difference between the objective at the ETF and that optimum is the ETF's excess.
"""
import math

import matplotlib.pyplot as plt
import numpy as np

import theory as th
from theory import balance

# %%
# The family: the triple ``{0, 1, 2}`` with weight 2 and the three pairs through point 3
# (equivalently, the triple listed twice). Pair counts are 2 inside the triple and 1 elsewhere, but
# the triple's pairs sit in a larger batch, which weighs each of them less.
family = th.Family.from_batches([[0, 1, 2], [0, 3], [1, 3], [2, 3]], 4, weights=[2, 1, 1, 1])
print(family)
print("pair counts (weighted):\n", family.cooccurrence(weighted=True))

# %%
# The law predicts balance where ``2 / (3 (1 + 2c)) = 1 / (2 (1 + c))``, i.e. ``c = 1/2``,
# ``tau = 4 / (3 ln 2)``. :func:`theory.balance.critical_taus` finds the temperatures where ``kappa``
# is constant from the polynomial equations in ``c``.
critical = balance.critical_taus(family)
print("critical temperatures:", critical, " closed form 4/(3 ln 2) =", 4 / (3 * math.log(2)))

# %%
# Sweep the temperature: the relative spread of ``kappa``, the solver-free ETF decision
# (:func:`theory.etf_is_optimal`: a tangent gradient that does not vanish, or a dual certificate)
# and the ETF's excess over the certified optimum of the relaxation.
taus = np.concatenate([np.geomspace(0.4, 6.0, 13), critical])
taus.sort()
spreads, excess = [], []
for tau in taus:
    loss = th.InfoNCE(tau=float(tau))
    decision = th.etf_is_optimal(family, loss)
    cert = th.certify(family, loss)
    if not cert.certified:
        raise RuntimeError(f"the relaxation is not certified at tau = {tau}: {cert.status}")
    spreads.append(balance.pair_weight_spread(family, float(tau)))
    excess.append(decision.etf_value - cert.value)
    print(f"tau {tau:7.4f}: kappa spread {spreads[-1]:.3e}  ETF optimal: {str(decision.optimal):5s} "
          f"({decision.decided_by})  L(ETF) {decision.etf_value:.8f}  certified optimum {cert.value:.8f}  "
          f"excess {excess[-1]:+.2e}")

# %%
# At the critical temperature the excess is at the solver's accuracy (about 1e-9) and the decision is
# a dual certificate; elsewhere the ETF is not even stationary.
fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
ax[0].semilogx(taus, spreads, "o-")
ax[0].set(xlabel="tau", ylabel="relative spread of kappa", title="weighted pair-balance law")
ax[1].loglog(taus, np.maximum(excess, 1e-12), "s-", color="C1")
ax[1].set(xlabel="tau", ylabel="L(ETF) - certified optimum", title="excess of the ETF")
for a in ax:
    a.axvline(critical[0], ls="--", color="gray")
fig.tight_layout()
plt.show()
