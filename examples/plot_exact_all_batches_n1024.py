"""
The exact all-C(N,B) objective at N = 1024
==========================================

The paper's central object is the mean InfoNCE loss over *all* ``C(N,B)`` batches. At ``N = 1024``,
``B = 32`` there are about ``10^60`` of them, far past enumeration; the toolkit evaluates the mean
exactly (to rounding and a quadrature error of about ``1e-15`` relative) with a formula: each anchor
lies in ``C(N-1,B-1)`` batches, the expectation of the log over a uniform ``(B-1)``-subset is a
one-dimensional integral (Frullani's formula) of an elementary symmetric polynomial (see the theory
notes, section :ref:`theory-large-n`).

Two checks a reader can trust without the formula: at the simplex ETF the value is the closed form
``2 log(1 + (B-1) exp(-N/((N-1) tau)))`` (section :ref:`theory-all-batches`); at a random
configuration it is the limit of the mean loss of uniformly sampled batches (an unbiased Monte Carlo
estimate with its standard error).
"""
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import simulations as sim
import theory as th

N, B, TAU = 1024, 32, 1.0
loss = th.InfoNCE(tau=TAU)

# %%
# At the simplex ETF (``d = N - 1``): the formula against the closed form, at smaller ``N`` (one
# evaluation at ``N = 1024`` takes about ten seconds on two cores; the cost grows like ``N^2``).
for n in (64, 128, 256):
    W = torch.tensor(th.simplex_etf(n, n - 1))
    exact_etf = float(sim.all_batches_objective(W, W, B, loss))
    closed = th.optimum_all(n, B, TAU)
    print(f"ETF, N = {n}, B = {B}: formula {exact_etf:.15f}, closed form {closed:.15f}, "
          f"relative difference {abs(exact_etf - closed) / closed:.1e}")

# %%
# At a random configuration in ``d = 16``: the formula against Monte Carlo estimates over more and
# more uniformly sampled batches (:func:`simulations.sampled_objective`).
g = torch.Generator().manual_seed(0)
U = torch.nn.functional.normalize(torch.randn(N, 16, generator=g, dtype=torch.float64), dim=1)
V = torch.nn.functional.normalize(torch.randn(N, 16, generator=g, dtype=torch.float64), dim=1)
t0 = time.perf_counter()
exact = float(sim.all_batches_objective(U, V, B, loss))
print(f"random configuration: exact all-C({N},{B}) objective {exact:.12f} ({time.perf_counter() - t0:.1f} s)")
samples = [10, 30, 100, 300, 1000, 3000]
est = [sim.sampled_objective(U, V, B, n, loss, seed=1) for n in samples]
for n, (m, se) in zip(samples, est):
    print(f"  {n:5d} sampled batches: {m:.6f} +- {se:.6f}  (exact value {(m - exact) / se:+.2f} standard errors away)")

fig, ax = plt.subplots(figsize=(6, 3.6))
m, se = np.array(est).T
ax.errorbar(samples, m, yerr=2 * se, fmt="o", capsize=3, label="mean of sampled batches (+- 2 s.e.)")
ax.axhline(exact, color="C1", label="exact formula")
ax.set(xscale="log", xlabel="sampled batches", ylabel="all-C(N,B) objective",
       title=f"InfoNCE, N = {N}, B = {B}, d = 16, tau = {TAU}")
ax.legend()
fig.tight_layout()
plt.show()
