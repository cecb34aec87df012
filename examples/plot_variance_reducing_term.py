r"""The variance-reducing term on a fixed partition
===============================================

Lee, Lim, Lee & Sohn (ICML 2025) add to a contrastive loss a term that pulls each batch's negative
similarities towards ``delta = -1/(N-1)``, the value of the full data set's simplex ETF
(:class:`theory.losses.VRN`, registered as ``"vrn"``). Over all ``C(N,B)`` batches it changes nothing: the ETF
stays the optimum (the term is 0 there). On a fixed partition into batches of ``B`` it does: the optimum is a
one-dimensional problem in the within-batch similarity ``s`` (:func:`theory.optimum_partition_vrn`), whose
minimizer ``s*`` leaves ``-1/(B-1)`` once the weight passes a threshold and moves towards ``-1/(N-1)``,
never reaching it. This example draws ``s*`` against the weight for ``N = 8``, InfoNCE ``tau = 1``, checks
three points against the certified optimum of the partition's convex relaxation (:func:`theory.certify`), and
draws the resulting lower bound on the variance of all negative similarities,
``q (1-q) ((-1 - (N-1) s*)/(N-B))^2`` with ``q = (B-1)/(N-1)``.
"""
import matplotlib.pyplot as plt
import numpy as np

import theory as th
from theory import Family
from simulations.claims.similarity_bound import variance_bound

N, tau = 8, 1.0
weights = np.logspace(-2, 2.5, 60)

fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3.4))
for B, colour in ((2, "tab:blue"), (4, "tab:orange")):
    opt = [th.optimum_partition_vrn(N, B, tau, weight=w, delta=-1 / (N - 1)) for w in weights]
    s = np.array([o["s"] for o in opt])
    a.plot(weights, s, color=colour, label=f"B = {B} (threshold {opt[0]['weight_threshold']:.3g})")
    a.axhline(-1 / (B - 1), color=colour, ls=":", lw=0.8)
    b.plot(weights, [max(variance_bound(N, B, float(x)), 1e-12) for x in s], color=colour, label=f"B = {B}")
    for w in (1.0, 5.0, 30.0):
        o = th.optimum_partition_vrn(N, B, tau, weight=w, delta=-1 / (N - 1))
        c = th.certify(Family.partition(N, B), th.make_loss("vrn", base=th.make_loss("infonce", tau=tau), weight=w, n=N))
        print(f"B = {B}, weight {w:5.1f}: s* = {o['s']:+.5f}, phi(s*) = {o['value']:.8f}, certified optimum "
              f"{c.value:.8f} (difference {c.value - o['value']:+.1e}), variance bound {variance_bound(N, B, o['s']):.3g}")
a.axhline(-1 / (N - 1), color="k", ls="--", lw=0.8, label="-1/(N-1), the ETF's")
a.set_xscale("log")
a.set_xlabel("weight of the term")
a.set_ylabel("within-batch similarity s* at the optimum")
a.set_title(f"fixed partition, N = {N}, InfoNCE tau = {tau:g}")
a.legend(fontsize=7)
b.set_xscale("log")
b.set_yscale("log")
b.set_xlabel("weight of the term")
b.set_ylabel("lower bound on the variance of the negatives")
b.set_title("the spread the partition's optimum forces")
b.legend(fontsize=7)
fig.tight_layout()
plt.show()
