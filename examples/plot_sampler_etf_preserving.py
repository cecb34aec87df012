"""
Is my sampler ETF-preserving?
=============================

A sampler decides which batches SGD sees. Averaged over its randomness, training minimises a
weighted family objective, and the weighted pair-balance law (see the theory notes, section
:ref:`theory-weighted-law`) says when its minimizer is still the simplex ETF: exactly when the pair
weights ``kappa_ij`` are equal.

Two samplers over ``N = 10`` points with batches of 4 and a short last batch (``drop_last=False``):

* ``DataLoader(shuffle=True, drop_last=False)``. Its law is invariant under relabelling the points,
  so ``kappa`` is constant (exchangeability; section :ref:`theory-dataloader`): ETF-preserving at every
  temperature. Its exact expectation is :meth:`theory.Family.dataloader_expectation`.
* A ``WeightedRandomSampler`` (without replacement) that favours some points: not exchangeable.

For each we count, over many epochs drawn from the actual torch sampler, how often each pair shares
a batch of each size. For the weighted sampler this estimate is the evidence (Monte Carlo; its
sampling error shrinks like one over the square root of the number of epochs).
"""
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, WeightedRandomSampler

import theory as th
from theory import balance

N, B, TAU = 10, 4, 1.0
torch.manual_seed(0)


def empirical_family(batches_per_epoch, n_epochs):
    """The observed batches of ``n_epochs`` epochs, each epoch with total weight 1."""
    rows = [b for _ in range(n_epochs) for b in batches_per_epoch()]
    steps = len(rows) / n_epochs
    return th.Family.from_batches(rows, N, weights=np.full(len(rows), 1.0 / steps))


loader = DataLoader(range(N), batch_size=B, shuffle=True, drop_last=False)
probs = torch.logspace(0, 1.5, N)  # weights 1 to ~32
weighted = BatchSampler(WeightedRandomSampler(probs, N, replacement=False), batch_size=B, drop_last=False)


def uniform_epoch():
    return [b.tolist() for b in loader]


def weighted_epoch():
    return [list(b) for b in weighted]


print("one DataLoader epoch:", uniform_epoch())
print("one weighted epoch:  ", weighted_epoch())

# %%
# The relative spread of ``kappa`` (at ``tau = 1``) of the empirical families as the number of
# epochs grows. The DataLoader's spread falls towards 0 (at about the Monte Carlo rate
# ``1/sqrt(epochs)`` once every pair has been seen); the weighted sampler's levels off at a positive value.
epochs = [10, 30, 100, 300, 1000, 3000]
spread_u = [balance.pair_weight_spread(empirical_family(uniform_epoch, n), TAU) for n in epochs]
spread_w = [balance.pair_weight_spread(empirical_family(weighted_epoch, n), TAU) for n in epochs]
for n, a, b in zip(epochs, spread_u, spread_w):
    print(f"{n:5d} epochs: kappa spread DataLoader {a:.4f}   weighted sampler {b:.4f}")

# %%
# The exact expectation of the DataLoader: the mixture of all ``C(10, 4)`` batches (weight 2) and all
# ``C(10, 2)`` (weight 1). Its ``kappa`` is constant at every temperature, and the ETF decision is a
# dual certificate.
expected = th.Family.dataloader_expectation(N, B)
print("exact DataLoader expectation:", expected, " critical taus:", balance.critical_taus(expected))
for tau in (0.1, 1.0, 10.0):
    d = th.etf_is_optimal(expected, th.InfoNCE(tau=tau))
    print(f"  tau {tau:5.1f}: ETF optimal {d.optimal} ({d.decided_by}), L(ETF) = {d.etf_value:.8f}")

# %%
# The weighted sampler at 3000 epochs: the ETF is not stationary for its estimated family.
# Is the ETF's gradient a sampling artefact? Compare it with the gradient for the DataLoader's estimated
# family at the same number of epochs, where only sampling noise remains.
est = empirical_family(weighted_epoch, 3000)
d = th.etf_is_optimal(est, th.InfoNCE(tau=TAU))
K = balance.pair_weights(est, TAU)
d_u = th.etf_is_optimal(empirical_family(uniform_epoch, 3000), th.InfoNCE(tau=TAU))
print(f"weighted sampler: ETF optimal {d.optimal} ({d.decided_by}); gradient ratio {d.gradient_ratio:.3e}")
print(f"DataLoader, same number of epochs: gradient ratio {d_u.gradient_ratio:.3e} (sampling noise only; "
      "the exact expectation above has none)")
print("kappa of the pairs (0, j):", np.round(K[0, 1:], 4))

fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
ax[0].loglog(epochs, spread_u, "o-", label="DataLoader(shuffle, drop_last=False)")
ax[0].loglog(epochs, spread_w, "s-", label="WeightedRandomSampler")
ax[0].loglog(epochs, spread_u[-1] * np.sqrt(epochs[-1] / np.array(epochs)), ":", color="gray",
             label="1/sqrt(epochs)")
ax[0].set(xlabel="epochs drawn", ylabel="relative spread of kappa", title="is the sampler pair-balanced?")
ax[0].legend(fontsize=7)
shown = np.where(np.eye(N, dtype=bool), np.nan, K / K[~np.eye(N, dtype=bool)].mean())   # kappa_ii is undefined
im = ax[1].imshow(shown, cmap="coolwarm", vmin=0.5, vmax=1.5)
ax[1].set(title="weighted sampler: kappa / mean", xlabel="j", ylabel="i")
fig.colorbar(im, ax=ax[1])
fig.tight_layout()
plt.show()
