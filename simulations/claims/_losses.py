"""Shared sweeps, margins and decisions of the claims beyond InfoNCE (SigLIP, DCL, DHEL, KCL).

Every value comes from the convex relaxation of :func:`theory.certificates.certify` (certified only with
status ``optimal``; uniqueness of a minimizer is probed numerically, and proven where the theory notes prove it),
compared with an independently derived value: ``L(ETF)`` from the oracle, or SigLIP's
double-constant optimum (:mod:`theory.siglip`). Solver agreement is judged with
``SOLVER_ATOL + SOLVER_RTOL |value|``; "shares the minimizer" is decided by
:func:`theory.certificates.full_batch_gap` (minimise the full-batch loss over the family's ``eps``-optimal
set) and the converse test of :func:`shares_full_minimizer`, with margins tied to the solver's accuracy, not
to the loss's size (SigLIP at ``bias = -10`` varies by 1e-5 around a value of 0.69).

DCL is swept in both forms: as published (``negatives='both'``: both views of every other sample are
negatives, Yeh et al., ECCV 2022, eq. 6) and the cross-view-only variant (``negatives='cross'``).
"""
from __future__ import annotations

import numpy as np

from theory import DCL, DHEL, KCL, Family, SigLIP, objective, simplex_etf
from theory.certificates import certify, full_batch_gap, minimizer_spread

from simulations.claims._verdict import SOLVER_ATOL, SOLVER_RTOL, solver_close

#: SigLIP's sweep: temperature (``1/t``) and bias (Zhai et al. initialise ``t = 10``, ``b = -10``).
SIGLIP_TAUS = (0.1, 0.3, 1.0, 3.0)
SIGLIP_BIASES = (-10.0, -3.0, -1.0, 0.0, 1.0, 3.0)
#: DCL's two forms: as published (both views of every other sample as negatives) and cross-view only.
DCL_NEGATIVES = ("both", "cross")
#: The ETF losses' sweeps: DCL (both forms), then DHEL, each symmetric and one-sided; KCL's kernel widths.
DECOUPLED = (tuple(DCL(tau=t, symmetric=s, negatives=n) for n in DCL_NEGATIVES for t in (0.1, 0.3, 1.0, 3.0)
                   for s in (True, False))
             + tuple(DHEL(tau=t, symmetric=s) for t in (0.1, 0.3, 1.0, 3.0) for s in (True, False)))
KERNELS = tuple(KCL(t=t, gamma=g) for t in (0.5, 1.0, 2.0) for g in (1.0, 16.0))
#: The tiny sizes' sweeps (the test-suite's).
TINY_DECOUPLED = (DCL(tau=0.5), DCL(tau=0.5, negatives="cross"), DHEL(tau=0.5, symmetric=False))
TINY_KERNELS = (KCL(t=2.0, gamma=1.0),)
#: A certified value is compared with a reference only where the reference exceeds a trivial lower bound
#: (SigLIP: the positive terms alone; KCL: the alignment alone, -1) by RESOLUTION_FACTOR solver tolerances:
#: below that, even the trivial bound would "agree" (KCL at t = 8 varies by 1e-9 around -1). Such points are
#: listed under ``below_resolution`` and decide nothing.
RESOLUTION_FACTOR = 10.0
#: Uniqueness of the ETF as minimizer (:func:`theory.certificates.minimizer_spread` at ``SPREAD_EPS``): unique
#: below ``SPREAD_UNIQUE``, a face of minimizers above ``SPREAD_FACE`` (measured: <= 0.008 vs >= 1.2), else undecided.
SPREAD_EPS, SPREAD_UNIQUE, SPREAD_FACE = 1e-6, 0.05, 0.3
#: Where every probe at SPREAD_EPS stops 'optimal_inaccurate' (the set is thin): the looser SPREAD_EPS_FALLBACK-optimal
#: set contains it, and a certified spread <= SPREAD_UNIQUE of that larger set is taken as evidence of "unique" (and of
#: nothing else). Evidence, like the probe itself: the spread is measured at the extreme points of random linear
#: functionals, which is not monotone in the set.
SPREAD_EPS_FALLBACK = 1e-5
#: Solver noise of a relaxation value: Clarabel stops at an absolute / relative duality gap of 1e-8.
SOLVER_NOISE = 1e-8
#: A family's minimizers are called full-batch sub-optimal when a certified ``full_batch_gap(eps)`` (a lower
#: bound on the true gap, increasing as eps -> 0) exceeds ``GAP_FACTOR`` times the solver noise; they are
#: called full-batch optimal when the full-batch minimizer itself attains the family's certified optimum
#: within that margin. Neither: undecided.
GAP_FACTOR = 10.0
GAP_EPS = (1e-4, 1e-6)


def resolved(reference: float, loss) -> bool:
    """True when ``reference`` is far enough above the loss's trivial bound for a solver comparison to mean anything."""
    trivial = loss.trivial_bound()
    return trivial is None or reference - trivial > RESOLUTION_FACTOR * (SOLVER_ATOL + SOLVER_RTOL * abs(reference))


def uniqueness(family: Family, loss) -> tuple[bool | None, float]:
    """Is the relaxation's minimizer the ETF Gram alone? ``(True / False / None, spread)`` from
    :func:`theory.certificates.minimizer_spread` (see ``SPREAD_*``)."""
    for seed in range(8):                          # a probe direction the solver cannot finish: try another
        r = minimizer_spread(family, loss, eps=SPREAD_EPS, seed=seed)
        if r["certified"] or r["spread"] >= SPREAD_FACE:
            break
    if not r["certified"] and r["spread"] < SPREAD_FACE:
        wide = minimizer_spread(family, loss, eps=SPREAD_EPS_FALLBACK, seed=0)
        if wide["certified"] and wide["spread"] <= SPREAD_UNIQUE:
            return True, wide["spread"]
        return None, r["spread"]
    return (True if r["spread"] <= SPREAD_UNIQUE else False if r["spread"] >= SPREAD_FACE else None), r["spread"]


def margin(value: float) -> float:
    """The decision margin of a relaxation value: ``GAP_FACTOR`` solver noises, relative to ``1 + |value|``."""
    return GAP_FACTOR * SOLVER_NOISE * (1.0 + abs(value))


def etf_check(family: Family, loss, *, solver: str = "auto", solve: bool = True) -> dict:
    """``L(ETF)``, the loss's closed-form optimum of the family where it has one (``closed_form``: SigLIP's
    double-constant optimum on a family whose objective is ``L_w``), and (``solve``) the certificate and whether
    the ETF attains it (``etf_optimal``: True / False within the solver tolerance, None if not certified)."""
    N = family.N
    W = simplex_etf(N, N - 1)
    out = {"etf_value": objective(W, W, family, loss)}
    closed = loss.closed_form_optimum(family)
    if closed is not None:
        out["closed_form"] = closed
    if solve:
        c = certify(family, loss, solver=solver)
        excess = out["etf_value"] - c.value
        out.update(certificate=c, excess=excess, etf_optimal=solver_close(out["etf_value"], c.value) if c.certified else None,
                   decided_by="relaxation value (solver tolerance)" if c.certified else None)
    return out


def shares_full_minimizer(family: Family, loss) -> dict:
    """Is some minimizer of ``family``'s objective a full-batch minimizer? Decided by certificates only.

    * No (``suboptimal = True``): a certified ``full_batch_gap(eps)`` exceeds the margin (it is a lower bound
      on the full-batch excess of every family minimizer).
    * Yes (``suboptimal = False``): the full-batch minimizer recovered from its certificate attains the
      family's certified optimum (oracle value minus relaxation value within the margin).
    * Otherwise (or both, or a solver failure): ``suboptimal = None``.
    """
    N = family.N
    gap = full_batch_gap(family, loss, eps=GAP_EPS)
    full = certify(Family.full(N), loss)
    fam_c = certify(family, loss)
    good = [g for g, st in zip(gap["gaps"], gap["statuses"]) if st == "optimal" and np.isfinite(g)]
    m = margin(gap["full_optimum"])
    lower = max(good) if (good and gap["family_status"] == "optimal" and gap["full_status"] in ("optimal", "closed_form")) \
        else float("nan")
    attained = (objective(full.U, full.V, family, loss) - fam_c.value
                if full.certified and fam_c.certified else float("nan"))
    yes, no = bool(lower > m), bool(attained <= m)
    sub = True if (yes and not no) else False if (no and not yes) else None
    return {"suboptimal": sub, "gap_lower_bound": lower, "full_minimizer_excess_on_family": attained,
            "margin": m, "gaps": gap["gaps"], "statuses": gap["statuses"]}


def siglip_grid(taus, biases) -> list:
    """SigLIP at every ``(tau, bias)`` of the grid."""
    return [SigLIP(tau=t, bias=b) for t in taus for b in biases]


def etf_rows(losses, Ns, family_of, label):
    """Per loss and N: the certified relaxation value vs ``L(ETF)`` (where it resolves anything) and the
    uniqueness probe (:func:`theory.certificates.minimizer_spread`): the point holds iff the ETF is optimal and
    the minimizer is unique (so the family's minimizers *are* the full batch's, not merely overlap them).
    Returns ``(rows, holds, below_resolution)`` (claims losses_full_batch_etf, losses_all_batches_etf)."""
    from theory.configurations import gram_distance
    rows, holds, low = [], {}, []
    for L in losses:
        for N in Ns:
            fam = family_of(N)
            if fam is None:
                continue
            W = simplex_etf(N, N - 1)
            etf = objective(W, W, fam, L)
            c = certify(fam, L)
            unique, spread = uniqueness(fam, L)
            dist = gram_distance(c.Z, W @ W.T) if c.certified else float("nan")
            rows.append({"loss": L.label, "N": N, "family": repr(fam), "etf_value": etf, "certificate": c.value,
                         "status": c.status, "rank": c.rank, "gram_distance_to_etf": dist, "minimizer_spread": spread,
                         "unique": unique})
            key = f"{L.label} {label(N)}"
            if not resolved(etf, L):
                low.append(key)
                continue
            holds[key] = None if (not c.certified or unique is None) else bool(solver_close(c.value, etf) and unique)
    return rows, holds, low


def etf_table(v: dict) -> list[str]:
    """The certified value vs L(ETF), the uniqueness probe and the recovered Gram, per kind of loss and family,
    over the loss's parameters (claims losses_full_batch_etf, losses_all_batches_etf)."""
    import re

    from simulations.claims._tables import count, extent, grouped, largest, loss_kind, span, table
    rows = v["numbers"]["cases"]
    low = set(v["numbers"].get("below_resolution", []))

    def family(r):
        m = re.search(r"kind='(\w+)'.*?N=(\d+), B=(\d+)", r["family"])
        return f"{m.group(1)} N={m.group(2)}" + (f",B={m.group(3)}" if m.group(1) != "full" else "") if m else r["family"]

    def label(r):
        return f"{r['loss']} {family(r).split(' ', 1)[1]}" if " " in family(r) else r["loss"]

    header, body = grouped(rows, (loss_kind, family), [
        ("parameters", lambda g: len(g)),
        ("status", lambda g: span(r["status"] for r in g)),
        ("certificate = L(ETF)", lambda g: count(solver_close(r["certificate"], r["etf_value"]) for r in g
                                                  if r["certificate"] is not None and label(r) not in low)),
        ("unique", lambda g: count(r["unique"] for r in g)),
        ("max abs. certificate - L(ETF)", lambda g: largest(r["certificate"] - r["etf_value"] for r in g
                                                            if r["certificate"] is not None)),
        ("minimizer spread", lambda g: extent(r["minimizer_spread"] for r in g)),
        ("max Gram distance to the ETF", lambda g: largest(r["gram_distance_to_etf"] for r in g))])
    return ([f"Certified relaxation value vs L(ETF) and the uniqueness probe (unique: spread <= {SPREAD_UNIQUE:g}; a face "
             f"of minimizers: >= {SPREAD_FACE:g}), per loss and family over the loss's parameters (temperature, "
             "symmetric or one-sided; KCL: kernel width and weight):", ""] + table(header, body))
