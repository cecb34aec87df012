"""The paper's claims (THEORY.md §4-§5) as checks that return structured verdicts.

Each check computes its numbers from closed forms, the loss oracle and convex certificates —
never from stored answers — and returns a :class:`Verdict`:

``verdict`` is ``confirmed`` (the claim holds in every case checked), ``qualified`` (it holds only
with a stated restriction, shown by a counterexample), ``refuted`` or ``inconclusive`` (a
certificate failed). ``command`` reproduces it from the shell.

References
----------
Cho et al., "Mini-Batch Optimization of Contrastive Loss", TMLR 2024 (arXiv 2307.05906), Thm. 1-5.
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np

from ._checks import normalize_rows
from .batches import Family
from .certificates import certify, etf_is_optimal, full_batch_gap
from .configurations import regular_polygon, simplex_etf, tangent_gradient_norm
from .losses import batch_losses, euclidean_gradient, family_loss
from .optima import optimum_all, optimum_full, optimum_partition

VERDICTS = ("confirmed", "qualified", "refuted", "inconclusive", "not reproducible here")
TOL = 1e-6


@dataclass
class Verdict:
    """One claim's check: ``id``, ``statement``, ``source``, ``verdict``, ``numbers``, ``command``, ``detail``."""

    id: str
    statement: str
    source: str
    verdict: str
    numbers: dict = field(default_factory=dict)
    command: str = ""
    detail: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_json(self) -> dict:
        return asdict(self)


def _cmd(claim_id: str) -> str:
    return f"minibatch-cl claims --only {claim_id} --json"


def _close(a: float, b: float, tol: float = TOL) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


# --------------------------------------------------------------------------- claim 1
def check_full_batch_etf(Ns=range(3, 17)) -> Verdict:
    """Full-batch minimum = ``2 log(1 + (N-1) e^{-N/(N-1)})``, attained by the ETF (certificate per N)."""
    rows, ok, certified = [], True, True
    for N in Ns:
        c = certify(N, Family.full(N))
        W = simplex_etf(N, N - 1)
        etf = family_loss(W, W, Family.full(N))
        rows.append({"N": N, "certificate": c.value, "closed_form": optimum_full(N), "etf_value": etf,
                     "status": c.status, "rank": c.rank})
        certified &= c.certified
        ok &= c.certified and _close(c.value, optimum_full(N)) and _close(etf, optimum_full(N))
    one = certify(6, Family.full(6), loss="one_sided")
    one_ok = one.certified and _close(one.value, optimum_full(6, loss="one_sided"))
    verdict = "confirmed" if ok and one_ok else ("inconclusive" if not certified else "refuted")
    return Verdict("full_batch_etf", "For d >= N-1 the full-batch loss is minimised by U = V = simplex ETF, with value "
                   "2 log(1 + (N-1) exp(-N/(N-1))).", "paper Thm. 1 (known before the paper); THEORY.md §3",
                   verdict, {"cases": rows, "one_sided_N6": {"certificate": one.value, "half_closed_form": optimum_full(6, loss="one_sided")}},
                   _cmd("full_batch_etf"), "Certificate (convex relaxation, Clarabel) equals the closed form for every N; "
                   "the relaxation's optimum has rank N-1, so it is the optimum for every d >= N-1.")


# --------------------------------------------------------------------------- claim 2
def check_all_batches_etf(cases=((4, 2), (6, 2), (6, 3), (8, 2), (8, 4), (8, 8), (10, 3), (12, 4))) -> Verdict:
    """All-C(N,B) minimum = ``2 log(1 + (B-1) e^{-N/(N-1)})`` at the ETF; the ETF equalises every batch loss."""
    rows, ok, certified = [], True, True
    for N, B in cases:
        fam = Family.all(N, B)
        c = certify(N, fam)
        W = simplex_etf(N, N - 1)
        losses = batch_losses(W, W, fam)
        gap = full_batch_gap(N, fam, eps=(1e-4,))["gaps"][0] if B < N else 0.0
        rows.append({"N": N, "B": B, "certificate": c.value, "closed_form": optimum_all(N, B), "etf_value": float(losses.mean()),
                     "etf_batch_loss_spread": float(np.ptp(losses)), "full_batch_gap_eps1e-4": gap, "status": c.status})
        certified &= c.certified
        ok &= c.certified and _close(c.value, optimum_all(N, B)) and _close(losses.mean(), optimum_all(N, B)) and abs(gap) < 1e-5
    verdict = "confirmed" if ok else ("inconclusive" if not certified else "refuted")
    return Verdict("all_batches_etf", "For d >= N-1 the mini-batch loss summed over all C(N,B) batches has the same "
                   "minimizer as the full batch (the ETF), with value 2 log(1 + (B-1) exp(-N/(N-1))).",
                   "paper Thm. 4 (arXiv v1); THEORY.md §3", verdict, {"cases": rows}, _cmd("all_batches_etf"),
                   "Certificate = closed form; the ETF attains it with every batch loss equal (so it also minimises the "
                   "largest batch loss); minimising the full-batch loss over the 1e-4-optimal set of the family leaves no gap.")


# --------------------------------------------------------------------------- claim 2b
def check_not_proportional(N: int = 8, n: int = 50, seed: int = 0) -> Verdict:
    """The full-batch and all-batches objectives are different functions: their ratio varies."""
    rng = np.random.default_rng(seed)
    out = {}
    for B in (2, 4):
        r = []
        for _ in range(n):
            U, V = normalize_rows(rng.standard_normal((N, 4))), normalize_rows(rng.standard_normal((N, 4)))
            r.append(family_loss(U, V, Family.full(N)) / family_loss(U, V, Family.all(N, B)))
        out[f"B={B}"] = {"ratio_min": float(min(r)), "ratio_max": float(max(r))}
    ok = all(v["ratio_max"] - v["ratio_min"] > 1e-3 for v in out.values())
    return Verdict("not_proportional", "The full-batch loss and the all-C(N,B) loss are not proportional, yet share "
                   "their minimizers.", "paper Prop. 1 (arXiv v1)", "confirmed" if ok else "refuted",
                   {"N": N, "configurations": n, **out}, _cmd("not_proportional"),
                   "Ratio full/all over random unit-norm configurations (d = 4).")


# --------------------------------------------------------------------------- claim 3
def check_partition_suboptimal(cases=((8, 2), (8, 4), (12, 3))) -> Verdict:
    """A disjoint partition: certificate = partition closed form < objective at the ETF; positive full-batch gap."""
    rows, ok, certified = [], True, True
    for N, B in cases:
        P = Family.partition(N, B, seed=None)
        c = certify(N, P)
        W = simplex_etf(N, N - 1)
        etf = family_loss(W, W, P)
        g = full_batch_gap(N, P, eps=(1e-3, 1e-4))
        rows.append({"N": N, "B": B, "certificate": c.value, "closed_form": optimum_partition(N, B), "etf_value": etf,
                     "full_batch_gap": dict(zip(map(str, g["eps"]), g["gaps"])), "status": c.status})
        certified &= c.certified and g["certified"]
        ok &= c.certified and _close(c.value, optimum_partition(N, B)) and etf > c.value + 1e-3 and min(g["gaps"]) > 1e-3
    verdict = "confirmed" if ok else ("inconclusive" if not certified else "refuted")
    return Verdict("partition_suboptimal", "With a strict subset of batches (a fixed partition) the minimizer is not "
                   "the ETF and is strictly worse for the full-batch loss.", "paper Thm. 5 (arXiv v1); THEORY.md §4.3",
                   verdict, {"cases": rows}, _cmd("partition_suboptimal"),
                   "The partition's minimizers (block configurations) are full-batch sub-optimal by the reported gap.")


# --------------------------------------------------------------------------- claim 3b: pair balance
def _families_up_to_relabelling(N: int, B: int):
    """Every non-empty set of B-subsets of [N], one per relabelling class (canonical = smallest bitmask)."""
    subsets = list(itertools.combinations(range(N), B))
    index = {s: k for k, s in enumerate(subsets)}
    m = len(subsets)
    masks = np.arange(1, 2**m, dtype=np.int64)
    canon = masks.copy()
    for p in itertools.permutations(range(N)):
        image = [index[tuple(sorted(p[i] for i in s))] for s in subsets]
        pm = np.zeros_like(masks)
        for k, t in enumerate(image):
            pm |= ((masks >> k) & 1) << t
        canon = np.minimum(canon, pm)
    for c in np.unique(canon):
        yield [list(subsets[k]) for k in range(m) if (c >> k) & 1]


def _etf_optimal(fam: Family) -> tuple[bool | None, str]:
    """(optimal?, how): stationarity at the ETF first (non-stationary => not optimal), else a certificate."""
    W = simplex_etf(fam.N, fam.N - 1)
    if tangent_gradient_norm(W, W, fam) > 1e-8:
        return False, "gradient"
    r = etf_is_optimal(fam.N, fam)
    return (r["etf_optimal"] if r["certified"] else None), "certificate"


def check_pair_balance_law(exhaustive=((4, 2), (4, 3), (5, 2), (5, 3), (6, 2)), n_random: int = 40, seed: int = 0) -> Verdict:
    """Conjecture: for d >= N-1, the ETF minimises L_F iff F is pair-balanced (a 2-design, lambda >= 1)."""
    rng = np.random.default_rng(seed)
    fams = []
    for N, B in exhaustive:
        fams += [("exhaustive", Family.from_batches(b, N)) for b in _families_up_to_relabelling(N, B)]
    for _ in range(n_random):
        N = int(rng.integers(4, 10))
        B = int(rng.integers(2, N))
        fams.append(("random", Family.random(N, B, int(rng.integers(1, 3 * N)), seed=int(rng.integers(2**31)))))
    fano = Family.fano().batches
    designs = [Family.fano(), Family.affine_plane(3), Family.from_batches(np.vstack([fano, fano[:, ::-1]]), 7),
               Family.from_batches(np.vstack([fano, Family.all(7, 3).batches]), 7), Family.all(9, 4), Family.all(7, 2)]
    fams += [("design", f) for f in designs]
    counts = {"balanced_optimal": 0, "balanced_not_optimal": 0, "unbalanced_optimal": 0,
              "unbalanced_not_optimal": 0, "undecided": 0}
    by_source: dict = {}
    for src, f in fams:
        bal = f.is_pair_balanced()
        opt, how = _etf_optimal(f)
        key = "undecided" if opt is None else f"{'balanced' if bal else 'unbalanced'}_{'optimal' if opt else 'not_optimal'}"
        counts[key] += 1
        by_source.setdefault(src, {}).setdefault(key, 0)
        by_source[src][key] += 1
    held = counts["balanced_not_optimal"] == 0 and counts["unbalanced_optimal"] == 0
    verdict = "inconclusive" if counts["undecided"] else ("confirmed" if held else "refuted")
    return Verdict("pair_balance_law", "(Conjecture, THEORY.md §5) For d >= N-1 and fixed B, the ETF minimises L_F "
                   "iff F is pair-balanced: every pair shares the same number lambda >= 1 of batches. Hence 'all C(N,B) "
                   "batches' is sufficient but not necessary (the Fano plane suffices).", "THEORY.md §5; sharpens paper Thm. 5",
                   verdict, {"families": len(fams), "counts": counts, "by_source": by_source,
                             "exhaustive_sizes": [list(x) for x in exhaustive]}, _cmd("pair_balance_law"),
                   "Non-stationarity of the ETF (Riemannian gradient > 1e-8) proves non-optimality; stationary cases "
                   "are decided by a convex certificate. Exhaustive sweeps are over every set of B-subsets up to "
                   "relabelling. Why it holds (derivation sketch, consistent with every case): at U = V = ETF all logits "
                   "inside a batch are equal, so the gradient for u_i is proportional to sum_j n_ij w_j with n_ij the "
                   "co-occurrence counts; the only linear relation among ETF vectors is sum_j w_j = 0, so the tangent "
                   "part vanishes iff n_ij is constant over j != i, i.e. iff F is pair-balanced ('only if'); 'if' is the "
                   "Jensen argument of THEORY.md §3.")


# --------------------------------------------------------------------------- claim 5-qualification: d < N-1
def _angle_hessian_min_eig(theta: np.ndarray, fam: Family, h: float = 1e-5) -> float:
    """Smallest eigenvalue (excluding the rotation null direction) of the Hessian of L_F in the angles (d = 2)."""
    def grad(th):
        N = fam.N
        X = np.stack([np.cos(th), np.sin(th)], 1)
        gU, gV = euclidean_gradient(X[:N], X[N:], fam)
        G = np.vstack([gU, gV])
        return G[:, 1] * np.cos(th) - G[:, 0] * np.sin(th)
    n = theta.size
    H = np.zeros((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        H[:, k] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    ev = np.linalg.eigvalsh((H + H.T) / 2)
    return float(ev[1])          # ev[0] ~ 0: the common rotation


def check_low_dimension_counterexample() -> Verdict:
    """N = 10, d = 2, B = 2: the full-batch and all-pairs objectives rank the 10-gon and the doubled pentagon oppositely."""
    full, pairs = Family.full(10), Family.all(10, 2)
    confs = {"regular_10gon": regular_polygon(10), "doubled_pentagon": regular_polygon(5, repeat=2)}
    nums = {}
    for name, X in confs.items():
        th = np.arctan2(X[:, 1], X[:, 0])
        theta = np.concatenate([th, th])
        nums[name] = {"full_batch": family_loss(X, X, full), "all_pairs": family_loss(X, X, pairs),
                      "grad_norm_full": tangent_gradient_norm(X, X, full), "grad_norm_pairs": tangent_gradient_norm(X, X, pairs),
                      "hessian_min_eig_full": _angle_hessian_min_eig(theta, full),
                      "hessian_min_eig_pairs": _angle_hessian_min_eig(theta, pairs)}
    a, b = nums["regular_10gon"], nums["doubled_pentagon"]
    opposite = a["full_batch"] < b["full_batch"] and b["all_pairs"] < a["all_pairs"]
    return Verdict("low_dimension_counterexample", "The equivalence of full-batch and all-C(N,B) minimizers needs "
                   "d >= N-1: for N = 10, d = 2, B = 2 the two objectives prefer different configurations.",
                   "THEORY.md §5 (qualifies paper Thm. 4; paper Fig. 1(a) varies one point only)",
                   "qualified" if opposite else "refuted", nums, _cmd("low_dimension_counterexample"),
                   "10-gon: lower full-batch loss; doubled pentagon: lower all-pairs loss. Riemannian gradients ~ 0 and the "
                   "smallest non-trivial Hessian eigenvalue in the angle coordinates are reported (> 0: strict local minimum "
                   "up to rotation). Global optimality in d = 2 is not certified (the relaxation's optimum has rank N-1).")


THEORY_CHECKS = {
    "full_batch_etf": check_full_batch_etf,
    "all_batches_etf": check_all_batches_etf,
    "not_proportional": check_not_proportional,
    "partition_suboptimal": check_partition_suboptimal,
    "pair_balance_law": check_pair_balance_law,
    "low_dimension_counterexample": check_low_dimension_counterexample,
}


def run_theory_claims(only=None) -> list[Verdict]:
    """Run the theory checks (all, or the ids in ``only``)."""
    ids = list(THEORY_CHECKS) if not only else [i for i in THEORY_CHECKS if i in only]
    return [THEORY_CHECKS[i]() for i in ids]
