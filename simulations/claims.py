"""The claim registry: every claim of the toolkit declared once.

Each :class:`Claim` names its id, its statement, what the source says (paper section or figure, or
"our derivation"), the function that checks it, the tests that guard it, its figure and its sizes
(``tiny`` for the test-suite, ``quick`` for ``minibatch-cl claims`` and ``reproduce --quick``,
``full`` for ``--full``). ``claims``, ``reproduce``, the report and the tests all read this table;
adding a claim touches this one place (plus its check and its test).

    >>> from simulations.claims import run_claims
    >>> [v.verdict for v in run_claims(["pair_balance_law"], size="tiny")]
    ['confirmed']
"""
from __future__ import annotations

import inspect
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from theory import claims as tc
from theory import loss_claims as lc
from theory.objectives import DCL, DHEL, KCL
from theory.claims import Verdict

from . import experiment_checks as ec
from .io import folder_lock
from .executor import default_workers, make_executor
from .tasks import run_tasks

SIZES = ("tiny", "quick", "full")
REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = "tests/test_claims.py::test_every_claim_gives_its_verdict_at_tiny_size"


@dataclass(frozen=True)
class Claim:
    """One claim. ``check(**sizes[size], **context)`` returns a Verdict, where ``context`` holds
    whichever of ``out`` (a results folder), ``device``, ``progress`` and ``workers`` the check
    accepts (read from its signature)."""

    id: str
    statement: str
    source: str
    check: Callable
    extra_tests: tuple
    sizes: dict
    figure: str = ""
    section: str = "Claims about InfoNCE (the paper's loss)"

    @property
    def tests(self) -> tuple:
        """The parametrised tiny-size test of every claim, then the claim's own tests."""
        return (f"{TINY}[{self.id}]",) + tuple(self.extra_tests)

    @property
    def code(self) -> str:
        """``path::function`` of the check, relative to the repository."""
        path = Path(inspect.getsourcefile(self.check)).resolve()
        try:
            path = path.relative_to(REPO_ROOT)
        except ValueError:
            pass
        return f"{path.as_posix()}::{self.check.__qualname__}"

    def settings(self, size: str, device: str = "cpu") -> dict:
        """The check's keyword arguments at ``size`` on ``device`` (empty: the check's defaults)."""
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {size!r}")
        key = "full_cpu" if size == "full" and "full_cpu" in self.sizes and not device.startswith("cuda") else size
        return dict(self.sizes.get(key, {}))

    def command(self, size: str) -> str:
        return f"minibatch-cl claims --only {self.id} --json" + (" --full" if size == "full" else "")

    @property
    def shippable(self) -> bool:
        """True if the check writes no files and runs no tasks of its own: the whole claim is then one task
        that any worker can run (:func:`claim_task`); otherwise it runs on the client and sends its inner
        tasks to the executor."""
        return not {"out", "workers", "scheduler"} & set(inspect.signature(self.check).parameters)

    def run(self, size: str = "quick", *, out=None, device: str = "cpu", progress: bool = False,
            workers: int | None = None, scheduler=None) -> Verdict:
        kwargs = self.settings(size, device)
        workers = (1 if size == "tiny" else default_workers()) if workers is None else workers
        context = {"out": out, "device": device, "progress": progress, "workers": workers, "scheduler": scheduler}
        accepted = inspect.signature(self.check).parameters
        kwargs.update({k: v for k, v in context.items() if k in accepted})
        v = self.check(**kwargs)
        if v.id != self.id:
            raise RuntimeError(f"check {self.code} returned a verdict for {v.id!r}, not {self.id!r}")
        return replace(v, statement=self.statement, source=self.source, command=self.command(size), code=self.code,
                       test=" ; ".join(self.tests), figure=self.figure)


BEYOND = "Beyond InfoNCE: SigLIP, DCL, DHEL, KCL"
_TINY_DECOUPLED = (DCL(tau=0.5), DHEL(tau=0.5, symmetric=False))
_TINY_KERNELS = (KCL(t=2.0, gamma=1.0),)
_C = [
    Claim("full_batch_etf",
          "For d >= N-1 the full-batch loss is minimised by U = V = simplex ETF, uniquely up to a common rotation, with "
          "value 2 log(1 + (N-1) exp(-N/((N-1) tau))).",
          "paper Thm. 1 (known before the paper); THEORY.md §3", tc.check_full_batch_etf,
          ("tests/test_claim_properties.py::test_full_batch_etf_is_certified_unique_for_every_tau",),
          {"tiny": dict(Ns=(3, 4, 5), solver_Ns=(3, 5)), "quick": {}, "full": dict(Ns=range(3, 25), solver_Ns=(3, 5, 8, 12, 16, 24))}),
    Claim("all_batches_etf",
          "For d >= N-1 the mini-batch loss averaged over all C(N,B) batches has the same minimizer as the full batch: "
          "the simplex ETF, unique up to rotation, with value 2 log(1 + (B-1) exp(-N/((N-1) tau))).",
          "paper Thm. 4 (arXiv v1); THEORY.md §3", tc.check_all_batches_etf,
          ("tests/test_claim_properties.py::test_all_batches_minimizer_is_the_unique_simplex_etf",),
          {"tiny": dict(cases=((4, 2), (6, 3)), solver_cases=((6, 3),)), "quick": {},
           "full": dict(cases=((4, 2), (6, 2), (6, 3), (8, 2), (8, 4), (10, 3), (12, 4), (12, 6), (14, 7)),
                        solver_cases=((6, 3), (8, 4), (9, 4), (12, 4)))}),
    Claim("not_proportional",
          "The full-batch and the all-C(N,B) objectives are different functions — not proportional, not even functions "
          "of one another — yet (claim all_batches_etf) share their minimizer.",
          "paper Prop. 1 (arXiv v1)", tc.check_not_proportional,
          ("tests/test_claim_properties.py::test_full_and_all_batches_gradients_are_not_parallel",),
          {"tiny": dict(n=10), "quick": {}, "full": dict(n=200, Bs=(2, 3, 4, 6))}),
    Claim("partition_suboptimal",
          "With a fixed partition into batches (a strict subset of the C(N,B) batches) the minimizers are full-batch "
          "sub-optimal: the paper's 'may be sub-optimal' (existential), tested as a general statement over tau and d.",
          "paper Thm. 5 (arXiv v1) and abstract ('may be sub-optimal'); THEORY.md §4.3, §5", tc.check_partition_suboptimal,
          ("tests/test_claim_properties.py::test_partition_etf_is_not_stationary_and_block_value_is_certified",),
          {"tiny": dict(cases=((8, 2),), d_sweep=(4, 5), starts=2, taus=(1.0,)), "quick": {},
           "full": dict(cases=((8, 2), (8, 4), (12, 3), (12, 4)), starts=20, taus=(0.05, 0.2, 1.0, 5.0))},
          figure="claims_tables"),
    Claim("pair_balance_law",
          "(Our sharpening of the paper's statement that a strict subset may be sub-optimal.) Any batch weights w_S > 0, "
          "any batch sizes, any tau, symmetric or one-sided loss, d >= N-1: U = V = ETF minimises the family objective "
          "sum_S w_S L(S) / sum_S w_S iff kappa_ij = sum_{S containing i, j} w_S / (|S| (1 + (|S|-1) c)), "
          "c = exp(-N/((N-1) tau)), is the same for every pair. Equal sizes: iff every pair shares the same number "
          "of batches (a 2-design), for every tau; mixed sizes: the condition depends on tau and plain pair counts "
          "mislead.",
          "our derivation (THEORY.md §5, theory/balance.py); sharpens paper Thm. 5", tc.check_pair_balance_law,
          ("tests/test_claim_properties.py::test_pair_balanced_families_are_certified_etf_optimal_for_every_tau",
           "tests/test_claim_properties.py::test_pair_balanced_families_are_certified_and_unbalanced_are_not_stationary",
           "tests/test_claim_properties.py::test_fano_plus_one_triple_is_not_etf_optimal_at_small_tau",
           "tests/test_weighted_families.py::test_balance_test_agrees_with_the_oracle_decision_on_weighted_mixed_families",
           "tests/test_weighted_families.py::test_etf_gradient_is_minus_the_kappa_laplacian",
           "tests/test_weighted_families.py::test_example_a_pair_counts_mislead",
           "tests/test_weighted_families.py::test_example_b_is_optimal_exactly_at_its_critical_tau"),
          {"tiny": dict(exhaustive_N=(3, 4), n_random=10, n_critical=4, taus=(0.05, 1.0), n_excess=5, n_tau=4),
           "quick": dict(exhaustive_N=(3, 4, 5), subsample=10),
           "full": dict(exhaustive_N=(3, 4, 5), exhaustive_uniform=((6, 2), (6, 3)), n_random=500, n_critical=100,
                        n_excess=150, n_tau=30)},
          figure="pair_balance"),
    Claim("dataloader_epochs",
          "Reshuffled DataLoader epochs with a short last batch (drop_last=False, N mod B != 0) keep U = V = ETF the "
          "unique minimizer of the expected epoch objective for d >= N-1, at every tau; one fixed such epoch does not "
          "(its minimizers are full-batch sub-optimal).",
          "our derivation (weighted pair-balance law applied to samplers)", tc.check_dataloader_epochs,
          ("tests/test_weighted_families.py::test_dataloader_expectation_is_the_average_over_all_shuffles",
           "tests/test_weighted_families.py::test_dataloader_expectation_etf_value_matches_the_mixture_closed_form"),
          {"tiny": dict(cases=((5, 2), (6, 4)), taus=(0.05, 1.0), losses=("symmetric",)), "quick": {},
           "full": dict(cases=((5, 2), (7, 3), (6, 4), (7, 2), (8, 3), (10, 4), (9, 4), (11, 4), (13, 5)), enumerate_N=8)}),
    Claim("low_dimension_counterexample",
          "When d < N-1 the minimizers of the full-batch and all-C(N,B) objectives can differ (N = 10, d = 2, B = 2), "
          "though they need not (N = 8, B = 2, d = 4..6). Computational evidence, not a certificate.",
          "our derivation (THEORY.md §5); qualifies the scope of paper Thm. 4; paper Fig. 1(a) varies one point only",
          tc.check_low_dimension_counterexample,
          ("tests/test_claim_properties.py::test_angle_hessian_ignores_the_common_rotation",),
          {"tiny": dict(starts=2, coincidence_d=(4,)), "quick": {}, "full": dict(starts=30)}, figure="claims_tables"),
    Claim("large_n_equivalence",
          "Gradient-based minimisation of the exact all-C(N,B) objective with d >= N-1 reaches the simplex ETF with the "
          "closed-form value, for N far beyond enumeration.",
          "paper Thm. 4 (arXiv v1), checked at scale; THEORY.md §8", ec.check_large_n_equivalence,
          ("tests/test_engine.py::test_exact_formula_at_the_etf_equals_closed_form",),
          {"tiny": dict(grid=((16, 2), (16, 4))), "quick": {},
           "full": dict(grid=tuple((N, B) for N in (64, 128, 256) for B in (2, 8, 32)) + ((1024, 64),)),
           "full_cpu": dict(grid=tuple((N, B) for N in (64, 128, 256) for B in (2, 8, 32)),
                            not_run=((1024, 64),))}),
    Claim("shuffle_unbiased",
          "Reshuffled partitions: the mean loss over a uniform random partition's blocks is an unbiased estimate of the "
          "all-C(N,B) objective (each block is marginally a uniform batch), but the steps of an epoch are dependent — "
          "given the first batch, the second step's expected gradient is biased — so reshuffled-partition SGD is not "
          "SGD with independent unbiased steps.",
          "our derivation (THEORY.md §8)", ec.check_shuffle_unbiased,
          ("tests/test_claim_properties.py::test_mean_over_uniform_partitions_equals_all_batches_objective",),
          {"tiny": dict(sizes=((4, 2), (6, 3)), bias_sizes=((4, 2),), mc=(16, 4, 200)), "quick": {},
           "full": dict(sizes=((8, 2), (8, 4), (9, 3), (10, 2), (12, 3), (12, 4)),
                        bias_sizes=((4, 2), (6, 2), (6, 3), (8, 2), (8, 4)), mc=(64, 8, 4000))}),
    Claim("fig1a_rotation",
          "Fig. 1(a): N = 10, d = 2, B = 2, regular 10-gon with u_1 rotated: the one-sided full-batch loss (about "
          "1.539 -> 1.737) and the all-pairs loss (about 1.463 -> 1.963) are both minimal at the unrotated position.",
          "paper Fig. 1(a) (values read off the figure, +-0.003)", ec.check_fig1a,
          ("tests/test_claim_properties.py::test_fig1a_values_are_within_readoff_precision",),
          {"tiny": {}, "quick": {}, "full": dict(n_angles=3601)}, figure="fig1a_rotation"),
    Claim("osgd_toy",
          "In the N = 4, d = 2 toy (u = v at +-10 degrees around +-e_1), Ordered SGD reaches the square in fewer "
          "updates than SGD without (shuffle) or with (replace) replacement.",
          "paper §5 (toy example; the paper's learning rate is not varied there)", ec.check_osgd_toy,
          ("tests/test_claim_properties.py::test_paired_comparison_decides_only_when_the_interval_excludes_zero",),
          {"tiny": dict(lrs=(0.1, 1.0), seeds=(0, 1), max_steps=300), "quick": dict(lrs=(0.05, 0.1, 0.2, 0.5, 1.0),
           seeds=tuple(range(10)), max_steps=600), "full": dict(lrs=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
           seeds=tuple(range(20)), max_steps=2000)},
          figure="osgd_toy"),
    Claim("osgd_sc_converge_faster",
          "Training on high-loss batches (OSGD, and SC which finds them cheaply) brings the embeddings closer to the "
          "optimal structure than SGD with reshuffled batches at equal numbers of updates; a fixed partition does not "
          "reach the ETF.",
          "paper §5-6, synthetic figures", ec.check_convergence,
          ("tests/test_claim_properties.py::test_paired_comparison_decides_only_when_the_interval_excludes_zero",),
          {"tiny": dict(settings=((4, 8), (4, 2)), lrs=(0.5,), seeds=(0, 1), steps=5, log_every=1),
           "quick": dict(lrs=(0.05, 1.0), seeds=tuple(range(5)), steps=40),
           "full": dict(lrs=(0.05, 0.2, 1.0), seeds=tuple(range(20)), steps=100)},
          figure="convergence"),
    Claim("sc_finds_high_loss_batches",
          "Spectral clustering finds high-loss batches: its partition has a much higher loss than a random partition, "
          "close to the maximum-loss partition.",
          "paper §5 (spectral clustering)", ec.check_sc_quality,
          ("tests/test_selection_and_training.py::test_spectral_partition_finds_planted_high_loss_batches",),
          {"tiny": dict(sizes=((8, 2),), ds=(4,), trials=2), "quick": {},
           "full": dict(sizes=((16, 2), (20, 4), (24, 2), (24, 4)), ds=(2, 4, 16), trials=40)},
          figure="sc_quality"),
    Claim("real_data",
          "On CIFAR-100 and Tiny ImageNet (ResNet-18, SimCLR / SogCLR, batch 32), SC batch selection improves retrieval "
          "top-1 over SGD.", "paper §6 (real-data tables)", ec.real_data_verdict, (), {}),
    # ------------------------------------------------------------------ beyond InfoNCE (issue: losses)
    Claim("siglip_full_batch",
          "SigLIP (per batch (1/|S|) sum_{i,j in S} softplus(-y_ij (z_ij/tau + bias))): the full-batch optimum lies in "
          "the double-constant model (z_ii = alpha, z_ij = beta) and moves from the simplex ETF to the antipodal "
          "configuration as the temperature / bias change: ETF iff 2 sigma(-1/tau - bias) >= (N-2) sigma(bias - 1/((N-1) tau)), "
          "antipodal iff 2 sigma(1/tau - bias) <= (N-2) sigma(bias - 1/tau); at Lee et al.'s bias = -1/tau: ETF iff "
          "1/tau >= ((N-1)/N) log(N-3), antipodal iff 1/tau <= (1/2) log((N-2)/2).",
          "Lee, Chang & Sohn, AISTATS 2024 (arXiv 2402.12613), CCEM and its thresholds (as in the authors' public code); "
          "slope conditions: our derivation (theory/siglip.py)", lc.check_siglip_full_batch,
          ("tests/test_loss_claims.py::test_siglip_double_constant_optimum_is_certified",
           "tests/test_loss_claims.py::test_siglip_thresholds_equal_lee_chang_sohn"),
          {"tiny": dict(Ns=(3, 5), taus=(0.3, 1.0), biases=(-1.0, 1.0), threshold_Ns=range(5, 9)), "quick": {},
           "full": dict(Ns=(3, 4, 5, 6, 8, 10), taus=(0.05, 0.1, 0.3, 1.0, 3.0), biases=(-15.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 5.0))},
          figure="siglip_map", section=BEYOND),
    Claim("siglip_all_batches",
          "SigLIP: the mini-batch loss summed over all C(N,B) batches shares the full-batch minimizer (the paper's "
          "all-batches theorem, asked for the sigmoid loss).",
          "paper Thm. 4's question for SigLIP (issue: losses); answer: our derivation, certified", lc.check_siglip_all_batches,
          ("tests/test_objectives.py::test_siglip_all_batches_is_the_full_batch_with_negatives_reweighted",
           "tests/test_loss_claims.py::test_siglip_all_batches_shares_the_minimizer_exactly_where_the_rule_says"),
          {"tiny": dict(cases=((6, 3),), taus=(1.0,), biases=(-1.0, 0.0, 3.0), gap_cases=((6, 3),)), "quick": {},
           "full": dict(cases=((6, 2), (6, 3), (8, 2), (8, 4), (10, 5)), taus=(0.05, 0.1, 0.3, 1.0, 3.0),
                        biases=(-15.0, -10.0, -3.0, -1.0, 0.0, 1.0, 3.0, 5.0), gap_cases=((6, 3), (8, 4)))},
          figure="siglip_map", section=BEYOND),
    Claim("pair_sum_identities",
          "Pair-sum losses: the all-C(N,B) objective has an exact O(N^2) closed form; KCL's is the full-batch loss for "
          "every B (its expected batch loss does not depend on the batch size), SigLIP's is the full batch with every "
          "negative pair weighted (B-1)/(N-1); every pair-balanced family gives the same (the pair-balance law of these losses).",
          "Koromilas et al., ICML 2024 (arXiv 2405.18045), KCL; our derivation (theory/objectives.py)",
          lc.check_pair_sum_identities,
          ("tests/test_objectives.py::test_kcl_expected_batch_loss_does_not_depend_on_the_batch_size",
           "tests/test_objectives.py::test_pair_sum_objective_equals_enumeration_on_weighted_mixed_families",
           "tests/test_loss_engine.py::test_pair_sum_closed_form_in_torch_equals_the_oracle_beyond_enumeration"),
          {"tiny": dict(Ns=(4, 5), n_configs=2), "quick": {}, "full": dict(Ns=(4, 5, 6, 7, 8, 9), n_configs=20)},
          section=BEYOND),
    Claim("losses_full_batch_etf",
          "DCL, DHEL (symmetric and one-sided) and KCL (Gaussian kernel): for d >= N-1 the full-batch loss is minimised "
          "by U = V = simplex ETF, at every temperature / kernel width.",
          "Koromilas et al., ICML 2024 (DHEL, KCL minimizers); DCL: Yeh et al., ECCV 2022 (the loss; the minimizer is our check)",
          lc.check_losses_full_batch_etf,
          ("tests/test_loss_claims.py::test_decoupled_and_kernel_losses_are_minimised_by_the_etf",),
          {"tiny": dict(Ns=(3, 4), decoupled=_TINY_DECOUPLED, kernels=_TINY_KERNELS), "quick": {},
           "full": dict(Ns=(3, 4, 5, 6, 8, 10, 12))}, section=BEYOND),
    Claim("losses_all_batches_etf",
          "DCL, DHEL and KCL: the all-C(N,B) family has the same minimizer as the full batch (the ETF, unique), as "
          "InfoNCE's does.",
          "paper Thm. 4's question for these losses (issue: losses); Koromilas et al. (batch-level = asymptotic minimizers)",
          lc.check_losses_all_batches_etf,
          ("tests/test_loss_claims.py::test_decoupled_and_kernel_losses_are_minimised_by_the_etf",),
          {"tiny": dict(cases=((4, 2), (5, 3)), decoupled=_TINY_DECOUPLED, kernels=_TINY_KERNELS), "quick": {},
           "full": dict(cases=((4, 2), (5, 3), (6, 2), (6, 3), (8, 2), (8, 4), (9, 3)))},     # (10, 5): the uniqueness
          section=BEYOND),                                                                 # probe needs ~4 min a point
    Claim("losses_pair_balanced",
          "The weighted pair-balance law per loss: on pair-balanced families (2-designs, mixtures of all-C(N,b)) SigLIP's "
          "objective is the full batch with negatives weighted E_W[b-1]/(N-1) and KCL's is the full batch, so their "
          "minimizers follow; DCL and DHEL are minimised by the ETF there; an unbalanced family breaks the ETF for DCL, "
          "DHEL and KCL.",
          "our derivation (theory/objectives.py, theory/siglip.py); the InfoNCE law is claim pair_balance_law",
          lc.check_losses_pair_balanced,
          ("tests/test_objectives.py::test_pair_sum_objective_equals_enumeration_on_weighted_mixed_families",),
          {"tiny": dict(taus=(1.0,), siglip_points=((1.0, 0.0),)), "quick": {},
           "full": dict(taus=(0.1, 0.3, 1.0, 3.0), siglip_points=((0.1, -10.0), (1.0, 0.0), (0.3, 3.0), (3.0, -1.0)))},
          section=BEYOND),
    Claim("losses_partition_suboptimal",
          "SigLIP, DCL, DHEL, KCL: with a fixed partition into batches the minimizers are full-batch sub-optimal.",
          "paper Thm. 5's question for these losses (issue: losses)", lc.check_losses_partition_suboptimal,
          ("tests/test_loss_claims.py::test_partition_decision_is_certified_both_ways",),
          {"tiny": dict(cases=((6, 3),), taus=(1.0,), siglip_points=((1.0, 0.0),)), "quick": {},
           "full": dict(cases=((6, 2), (6, 3), (8, 2), (8, 4), (9, 3)), taus=(0.1, 0.3, 1.0, 3.0),
                        siglip_points=((0.1, -10.0), (1.0, 0.0), (0.3, 3.0), (3.0, -1.0), (0.3, 5.0), (0.1, 8.0)))},
          section=BEYOND),
    Claim("kcl_low_dimension",
          "KCL (Gaussian kernel) below d = N-1: U = V = a universally optimal code (regular N-gon in d = 2, octahedron, "
          "icosahedron, cross-polytope N = 2d) attains the full-batch minimum, certified (to 1e-5 of the pair energy) by "
          "the rigorous linear-programming bound, at every kernel width t and weight gamma of the sweep (t = 0.25..4).",
          "Cohn & Kumar, J. AMS 2007 (universal optimality; the Gaussian is completely monotone in the squared distance); "
          "the reduction of KCL to two pair energies (alignment decoupled): our derivation (theory/objectives.py, "
          "theory/energy.py)", lc.check_kcl_low_dimension,
          ("tests/test_energy.py::test_lp_bound_is_sharp_at_universally_optimal_codes",
           "tests/test_energy.py::test_lp_bound_never_exceeds_the_energy_of_any_code"),
          {"tiny": dict(ts=(1.0,), gammas=(1.0,), Ns_polygon=(5,), grid=4001), "quick": {},
           "full": dict(ts=(0.25, 0.5, 1.0, 2.0, 4.0), gammas=(1.0, 16.0), Ns_polygon=(4, 5, 6, 7, 8, 10, 12, 16))},
          section=BEYOND),
    Claim("siglip_constellations",
          "SigLIP with trainable temperature and bias below d = N-1: the loss can be driven to 0 exactly by "
          "constellations (every positive pair above a relative bias r by a margin m > 0, every negative below it): "
          "(2/N) sp(-Tm) <= L(T, b = -T r) <= N sp(-Tm), so the infimum is 0 in every d >= 2; a loss below log(2)/N "
          "forces a constellation; the loss decays at the rate of the margin, whose maximum for U = V in d = 2 is the "
          "regular N-gon's (1 - cos(2 pi/N))/2.",
          "Bangachev, Bresler, Noman & Polyanskiy, NeurIPS 2025 (arXiv 2509.18552), constellations (definitions as in "
          "the abstract and the authors' public code); the bounds and the rate: our derivation (theory/siglip.py)",
          lc.check_siglip_constellations,
          ("tests/test_loss_claims.py::test_siglip_loss_is_squeezed_by_the_margin_at_any_temperature",
           "tests/test_loss_claims.py::test_siglip_loss_below_log2_over_n_forces_a_constellation"),
          {"tiny": dict(Ns=(4, 6), Ts=(1.0, 100.0), n_random=120), "quick": {},
           "full": dict(Ns=(4, 5, 6, 8, 12, 16), Ts=(1.0, 10.0, 100.0, 1000.0), n_random=2000)},
          section=BEYOND),
]
CLAIMS: dict[str, Claim] = {c.id: c for c in _C}


def check_ids(ids) -> list[str]:
    """Validate claim ids (ValueError naming the unknown ones and the known ones)."""
    ids = list(ids)
    bad = [i for i in ids if i not in CLAIMS]
    if bad:
        raise ValueError(f"unknown claim ids {bad}; known: {sorted(CLAIMS)}")
    return ids


def claim_task(params: dict) -> dict:
    """One shippable claim as a task: ``{"id", "size", "device"}`` -> the verdict record (JSON)."""
    return CLAIMS[params["id"]].run(params["size"], device=params["device"], workers=1).to_json()


def run_claims(only=None, *, size: str = "quick", out=None, device: str = "cpu", progress: bool = False,
               workers: int | None = None, scheduler=None) -> list[Verdict]:
    """Run the claims in ``only`` (default: all, in registry order) at ``size``.

    Experiment claims write into ``out`` (a temporary folder, removed afterwards, when None).
    ``scheduler``: where the tasks run (:func:`simulations.executor.make_executor`; default ``'local'``,
    ``'sequential'`` at the tiny size).
    """
    ids = check_ids(only) if only else list(CLAIMS)
    kw = dict(size=size, device=device, progress=progress, workers=workers, scheduler=scheduler)
    if out is None:
        with tempfile.TemporaryDirectory(prefix="minibatch-cl-claims-") as tmp:
            return run_claims_unlocked(ids, out=Path(tmp), **kw)
    with folder_lock(out):
        return run_claims_unlocked(ids, out=Path(out), **kw)


def run_claims_unlocked(ids, *, size: str, out: Path, device: str, progress: bool, workers,
                        scheduler=None) -> list[Verdict]:
    """:func:`run_claims` for a caller that already holds the lock on ``out`` (``reproduce``).

    Shippable claims (:attr:`Claim.shippable`) run as tasks on the executor, cached in
    ``out/claims/tasks`` under their content address (code version included); the others run here,
    one after another, and send their own tasks (training runs) to the same executor.
    """
    if scheduler is None and size == "tiny":
        scheduler = "sequential"
    ex = make_executor(scheduler, workers)
    try:
        ship = [i for i in ids if CLAIMS[i].shippable]
        if progress and ship:
            print(f"[claims:{size}] {len(ship)} claims as tasks: {', '.join(ship)}", flush=True)
        records = run_tasks([{"id": i, "size": size, "device": device} for i in ship], out / "claims", fn=claim_task,
                            scheduler=ex, progress=progress)
        verdicts = {i: Verdict(**r) for i, r in zip(ship, records)}
        for i in ids:
            if i not in verdicts:
                if progress:
                    print(f"[claims:{size}] {i} ...", flush=True)
                verdicts[i] = CLAIMS[i].run(size, out=out, device=device, progress=progress, workers=workers, scheduler=ex)
    finally:
        if ex is not scheduler:
            ex.close()
    return [verdicts[i] for i in ids]
