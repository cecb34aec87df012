"""
The SigLIP regime map
=====================

The sigmoid loss of SigLIP, ``L(S) = (1/|S|) sum_{i,j in S} log(1 + exp(-y_ij (u_i . v_j / tau + b)))``,
has a full-batch optimum in closed form: it lies on the edge from the simplex ETF (``lambda = 0``)
to the antipodal configuration (every ``u_i = e``, every ``v_i = -e``; ``lambda = 1``) of the set of
double-constant Gram matrices, and two slope conditions decide where (see the theory notes, section
:ref:`theory-siglip-full`). Averaged over all ``C(N,B)`` batches the objective is the full batch with
every negative pair down-weighted by ``w = (B-1)/(N-1)``; the two minimizers agree exactly when the
full-batch optimum is the ETF or the down-weighted optimum is still antipodal (section
:ref:`theory-siglip-all`).

This example draws the map over the inverse temperature ``1/tau`` and the bias ``b`` for ``N = 8``,
``B = 4``, and certifies one point of each regime with the convex relaxation.
"""
import matplotlib.pyplot as plt
import numpy as np

import theory as th
from theory import siglip

N, B = 8, 4
w = (B - 1) / (N - 1)
inv_tau = np.geomspace(0.1, 30.0, 120)
bias = np.linspace(-12.0, 4.0, 110)

# %%
# ``lambda*`` of the full batch (``w = 1``) and of all ``C(8, 4)`` batches, on the grid.
lam_full = np.array([[siglip.siglip_optimum(N, 1 / t, b)["lam"] for t in inv_tau] for b in bias])
lam_all = np.array([[siglip.siglip_optimum(N, 1 / t, b, w=w)["lam"] for t in inv_tau] for b in bias])
same = np.abs(lam_full - lam_all) <= 1e-9
ok_rule = ((lam_full == 0.0) | (lam_all == 1.0))
print(f"grid of {same.size} points: full batch ETF {np.mean(lam_full == 0):.1%}, antipodal "
      f"{np.mean(lam_full == 1):.1%}, interior {np.mean((lam_full > 0) & (lam_full < 1)):.1%}")
print(f"all C({N},{B}) shares the full-batch minimizer at {same.mean():.1%} of the points; "
      f"the rule 'full optimum ETF or down-weighted optimum antipodal' holds at exactly those: "
      f"{bool(np.array_equal(same, ok_rule))}")
print(f"lambda_all <= lambda_full everywhere: {bool(np.all(lam_all <= lam_full + 1e-12))}")

# %%
# Lee, Chang & Sohn's thresholds along ``b = -1/tau`` (the diagonal of the map): the full-batch
# optimum is the ETF iff ``1/tau >= ((N-1)/N) log(N-3)`` and antipodal iff ``1/tau <= log((N-2)/2) / 2``.
thr = siglip.lee_thresholds(N)
print(f"N = {N}: ETF iff 1/tau >= {thr['etf_t']:.6f}; antipodal iff 1/tau <= {thr['antipodal_t']:.6f}; "
      f"from the slopes: {siglip.threshold_from_slopes(N, 'etf'):.6f}, {siglip.threshold_from_slopes(N, 'antipodal'):.6f}")

# %%
# One point per regime, certified by the relaxation (a solver; the closed form is independent of it).
family = th.Family.all(N, B)
for t, b in [(10.0, -10.0), (0.5, 0.0), (0.2, 2.0)]:
    loss = th.SigLIP(tau=1 / t, bias=b)
    closed = loss.closed_form_optimum(family)
    cert = th.certify(family, loss)
    print(f"1/tau {t:5.1f}, b {b:6.1f}: closed form {closed['value']:.8f} ({closed['structure']}, "
          f"lambda {closed['lam']:.4f}); relaxation {cert.value:.8f} ({cert.status}); "
          f"difference {closed['value'] - cert.value:+.1e}")

fig, ax = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
ext = [np.log10(inv_tau[0]), np.log10(inv_tau[-1]), bias[0], bias[-1]]
for a, data, title in [(ax[0], lam_full, "full batch: lambda*"), (ax[1], lam_all, f"all C({N},{B}): lambda*")]:
    im = a.imshow(data, origin="lower", extent=ext, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    a.set(title=title, xlabel="log10(1/tau)")
fig.colorbar(im, ax=ax[:2], label="0 = ETF, 1 = antipodal")
ax[2].imshow(same, origin="lower", extent=ext, aspect="auto", cmap="Greys", vmin=0, vmax=1.5)
ax[2].set(title="same minimizer (dark)", xlabel="log10(1/tau)")
ax[0].set_ylabel("bias b")
for a in ax:
    a.plot(np.log10(inv_tau), -inv_tau, "r--", lw=1)
    a.set_ylim(bias[0], bias[-1])
plt.show()
