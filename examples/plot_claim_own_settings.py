"""
A claim re-run with your own settings
=====================================

Every claim of the toolkit is one module with a check function that sweeps what its statement could
depend on and returns a verdict (``confirmed``, ``qualified``, ``refuted``, ``inconclusive``) with
every number of the sweep. ``minibatch-cl claims --only ID`` runs it at the sizes the report uses;
from Python the same check takes any settings.

Here: ``siglip_full_batch``, the claim that SigLIP's full-batch optimum is the double-constant one
(see the theory notes, section :ref:`theory-siglip-full`), re-run on a grid of your choice: the
certified relaxation value is compared with the closed form at every point, and the ETF / antipodal
thresholds on ``1/tau`` at ``b = -1/tau`` (root-finding on the slope conditions) with Lee, Chang &
Sohn's formulas.
"""
import matplotlib.pyplot as plt
import numpy as np

from simulations.claims import CLAIMS

claim = CLAIMS["siglip_full_batch"]
print(claim.statement)
print("settings of the report's quick size:", claim.settings("quick") or "the check's defaults")

# %%
# Your own settings: other sizes, temperatures and biases, and thresholds up to ``N = 60``.
verdict = claim.check(Ns=(4, 7), taus=(0.25, 1.0, 4.0), biases=(-3.0, 0.0, 2.0), threshold_Ns=range(5, 61))
n = verdict.numbers
print("verdict:", verdict.verdict)
print("structures found:", n["structures"], "; points below the solver's resolution:", len(n["below_resolution"]))
for r in n["cases"]:
    print(f"  N {r['N']}, tau {r['tau']:5.2f}, bias {r['bias']:5.1f}: {r['structure']:9s} closed form "
          f"{r['ccem_value']:.8f}, certified {r['certificate']:.8f} ({r['status']}), rank {r['rank']} "
          f"(predicted {r['predicted_rank']})")
worst = max(abs(r["certificate"] - r["ccem_value"]) for r in n["cases"])
print(f"largest |certified - closed form|: {worst:.1e}")
print(f"largest threshold difference: {max(t['abs_difference'] for t in n['thresholds']):.1e}")

# %%
# The thresholds: above the upper curve the optimum is the ETF, below the lower one it is antipodal.
T = n["thresholds"]
Ns = [t["N"] for t in T]
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.plot(Ns, [t["lee_etf_t"] for t in T], "-", label="ETF iff 1/tau >= ((N-1)/N) log(N-3)")
ax.plot(Ns, [t["ours_etf_t"] for t in T], "k.", ms=3)
ax.plot(Ns, [t["lee_antipodal_t"] for t in T], "-", label="antipodal iff 1/tau <= log((N-2)/2)/2")
ax.plot(Ns, [t["ours_antipodal_t"] for t in T], "k.", ms=3, label="root-finding on the slope conditions")
ax.fill_between(Ns, [t["lee_antipodal_t"] for t in T], [t["lee_etf_t"] for t in T], alpha=0.15, color="gray")
ax.set(xlabel="N", ylabel="1/tau (bias = -1/tau)", title=f"siglip_full_batch: {verdict.verdict}")
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
