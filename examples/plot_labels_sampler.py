"""
Does my sampler keep the classes apart?
=======================================

Supervised contrastive loss (SupCon) trained with mini-batches optimises the *family* objective of the batches
your sampler draws, not the full-batch loss. This example takes six labelled pairs with imbalanced classes
``(0, 0, 0, 1, 1, 2)``, the exact batch law of several samplers (a class-mixed partition, class-pure batches,
m-per-class, class-balanced batches, and batch binding), certifies the global minimizer of each family's objective
with ``theory.certify`` and draws, for that minimizer, how similar same-class pairs are (1: each class collapsed)
and how similar pairs of different classes are (lower: classes kept apart), next to the full batch's.

A sampler whose minimizer leaves same-class pairs apart (within-class similarity below 1) does not teach the
classes; one whose minimizer is not the full batch's teaches a different geometry. Where a family has several
minimizers (class-pure batches: nothing ties the classes to each other) the bars show the one the solver returns;
the claim ``supcon_partitions`` decides uniqueness.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import theory as th  # noqa: E402
from simulations.selection.labels import MPerClassBatchSampler  # noqa: E402

labels = (0, 0, 0, 1, 1, 2)
N = len(labels)
loss = th.SupCon(labels, tau=1.0)
y = np.array(labels)
same = (y[:, None] == y[None, :]) & ~np.eye(N, dtype=bool)
diff = y[:, None] != y[None, :]

samplers = {
    "full batch": th.Family.full(N),
    "class-mixed partition": th.Family.from_batches([[0, 3], [1, 5], [2, 4]], N=N),
    "class-pure (B=2)": th.Family.class_pure(labels, 2),
    "m-per-class (m=1, B=2)": th.Family.m_per_class(labels, 1, 2),
    "class-balanced (B=3)": th.Family.class_balanced(labels, 3),
    "batch binding {2,4,5}": th.Family.batch_binding(th.Family.from_batches([[0, 3], [1, 5], [2, 4]], N=N), [2, 4, 5]),
}

names, within, between, full_value = [], [], [], []
for name, family in samplers.items():
    cert = th.certify(family, loss)
    assert cert.certified, (name, cert.status)
    G = cert.M[:N, :N]                              # u_i . u_j at the certified minimizer
    names.append(name)
    within.append(G[same].mean())
    between.append(G[diff].mean())
    # the full-batch loss at this family's minimizer (the recovered embeddings), against the full-batch optimum
    full_value.append(th.objective(cert.U, cert.V, th.Family.full(N), loss))
    print(f"{name:26s} within-class {within[-1]:+.3f}  between-class {between[-1]:+.3f}  "
          f"full-batch loss at its minimizer {full_value[-1]:.4f}")

# the m-per-class sampler as a DataLoader batch sampler draws the law of its Family
draws = list(MPerClassBatchSampler(labels, 1, 2, n_batches=2000, seed=0))
print("m-per-class: share of batches with two classes", np.mean([len(set(y[b])) == 2 for b in draws]))

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
x = np.arange(len(names))
axes[0].bar(x - 0.2, within, 0.4, label="same class")
axes[0].bar(x + 0.2, between, 0.4, label="different classes")
axes[0].set_xticks(x, names, rotation=35, ha="right", fontsize=7)
axes[0].set_ylabel("mean u_i . u_j at the minimizer")
axes[0].axhline(1.0, color="k", lw=0.6, ls=":")
axes[0].legend(fontsize=7)
axes[0].set_title("does the sampler's minimizer keep the classes apart?")
axes[1].bar(x, np.array(full_value) - full_value[0], 0.6, color="tab:red")
axes[1].set_xticks(x, names, rotation=35, ha="right", fontsize=7)
axes[1].set_ylabel("full-batch excess at the minimizer")
axes[1].set_title("how far from the full batch's optimum")
fig.tight_layout()
plt.show()
