"""
Spectral-clustering batches in a torch DataLoader
=================================================

The paper proposes to train on high-loss batches and to find them cheaply by spectral clustering:
an affinity between every two pairs built from their two-element losses, a normalised spectral
embedding with ``N/B`` components, k-means, then equal-size clusters (the batches). The toolkit
exposes the selection as a ``torch.utils.data`` batch sampler
(:class:`simulations.SelectorSampler`), so it drops into an ordinary ``DataLoader`` loop.

Here the "model" is the raw embeddings themselves, as in the paper's synthetic experiments: ``N``
pairs of free vectors ``x_u, x_v`` with ``u = x_u / ||x_u||``, trained by SGD on the InfoNCE loss of
the batch the sampler yields. The same loop runs with reshuffled batches (``'shuffle'``), and both are
scored by the full-batch loss and the distance of the Gram matrix to the simplex ETF's (the
full-batch optimum for ``d >= N-1``). One seed and one learning rate: an illustration, not evidence
(the claim ``osgd_sc_converge_faster`` sweeps both).
"""
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.utils.data import DataLoader

import simulations as sim
import theory as th

N, B, d, LR, EPOCHS = 8, 2, 16, 0.5, 60
loss = th.InfoNCE(tau=1.0)
full = th.Family.full(N)
target = th.optimum_full(N, 1.0)

# %%
# The spectral partition of a random configuration against random partitions: its batches carry a
# much larger loss (what the method is for).
g = torch.Generator().manual_seed(0)
X0u, X0v = torch.randn(N, d, generator=g, dtype=torch.float64), torch.randn(N, d, generator=g, dtype=torch.float64)
U0, V0 = torch.nn.functional.normalize(X0u, dim=1), torch.nn.functional.normalize(X0v, dim=1)
sc = sim.spectral_partition(U0, V0, B, loss)
sc_loss = float(sim.batch_values(U0, V0, sc, loss).sum())
rand = [float(sim.batch_values(U0, V0, torch.randperm(N, generator=g).reshape(-1, B), loss).sum()) for _ in range(100)]
print("spectral batches:", sc.tolist())
print(f"sum of batch losses: spectral {sc_loss:.4f}; random partitions mean {np.mean(rand):.4f}, max of 100 {max(rand):.4f}")


# %%
# The training loop: a ``DataLoader`` over the pair indices whose ``batch_sampler`` is the selector.
# The spectral selector re-partitions at the start of every epoch from the current embeddings.
def train(method):
    Xu, Xv = X0u.clone().requires_grad_(True), X0v.clone().requires_grad_(True)
    embed = lambda: (torch.nn.functional.normalize(Xu, dim=1), torch.nn.functional.normalize(Xv, dim=1))  # noqa: E731
    sampler = sim.SelectorSampler(sim.make_selector(method, N, B, seed=0, loss=loss), embed)
    loader = DataLoader(torch.arange(N), batch_sampler=sampler)
    opt = torch.optim.SGD([Xu, Xv], lr=LR)
    updates, values, dist = [], [], []
    step = 0
    for _ in range(EPOCHS):
        for idx in loader:
            U, V = embed()
            opt.zero_grad()
            sim.batch_values(U, V, idx[None, :], loss).sum().backward()
            opt.step()
            step += 1
        U, V = (t.detach().numpy() for t in embed())
        updates.append(step)
        values.append(th.objective(U, V, full, loss))
        dist.append(th.gram_distance(U @ V.T, th.etf_gram(N)))
    print(f"{method:8s}: after {step} updates full-batch loss {values[-1]:.6f} (optimum {target:.6f}), "
          f"Gram distance to the ETF {dist[-1]:.4f}")
    return updates, values, dist


runs = {m: train(m) for m in ("sc", "shuffle")}

fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
for m, (u, v, dd) in runs.items():
    ax[0].semilogy(u, np.array(v) - target, label=m)
    ax[1].plot(u, dd, label=m)
ax[0].set(xlabel="updates", ylabel="full-batch loss - optimum", title=f"N = {N}, B = {B}, d = {d}, lr = {LR}")
ax[1].set(xlabel="updates", ylabel="Gram distance to the simplex ETF")
ax[0].legend()
fig.tight_layout()
plt.show()
