"""Significance tests, confidence intervals, corrections and power: pure functions of score arrays.

Which test decides the markers in erbench, and why. A table compares methods over 3-5 seeds, paired by
seed; on k-fold data (ADE) the folds of a seed are averaged first, because the seed is the unit of
replication (a seed's folds share its training randomness and the folds' test sets are a fixed partition;
treating (seed, fold) units as independent pairs inflates the type-I error). ``corrected_resampled_t_test``
(Nadeau & Bengio 2003) is the fold-level alternative. With so few pairs the exact two-sided Wilcoxon
signed-rank test cannot reach p < 0.05 at all: its smallest attainable p-value is 2 / 2^n, i.e. 0.25 at
n=3 and 0.0625 at n=5. The seed-level decision therefore uses the two-sided paired t-test on per-seed
scores (``DECISION_TEST``), Holm-corrected within each baseline's family of comparisons; where the
per-seed differences are all equal the t-test has no estimate of noise and the exact sign-flip test
(smallest p = 2 / 2^n) decides instead. Intervals of the mean difference are Student-t intervals (the
marker's model); where the corrected resampled t-test decides, its own corrected interval. Reported
beside it, never replacing it: ASO (``epsilon_min`` of Almost Stochastic Order,
at confidence 1 - alpha/m for a family of m; b is flagged almost stochastically better with the strict
tau = 0.2) and the sentence-level approximate randomization test on pooled test predictions (on
per-document sufficient statistics with one swap per document and trial, shared by both systems and by
every seed's copy of the document).

Conventions: ``a`` is the baseline, ``b`` the challenger, differences are ``b - a``; inputs are paired by
position. Every random function takes an explicit ``seed`` (an int or a ``numpy.random.Generator``);
nothing here touches a global RNG (deepsig seeds NumPy's global RNG, so ``aso`` restores its state) or
does I/O. deepsig (GPL-3.0) is an optional dependency imported inside ``aso`` only.

    base           seeds, count types, alpha, pairing
    paired         summaries, seed-level paired tests and intervals, Holm
    replicability  partial conjunction over datasets: Bonferroni and Fisher counts (Dror et al. 2017)
    aso            Almost Stochastic Order (deep-significance)
    randomization  sentence-level approximate randomization on per-document counts
    power          power of the paired t-test, seeds needed
    (here)         compare_paired: one comparison with everything reported, and the decision note
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from erbench.stats.aso import ASO_TAU, ASO_THRESHOLD, aso, aso_with_se
from erbench.stats.base import ALPHA, DocCounts, MetricFn, Seed, paired_arrays
from erbench.stats.paired import (
    Summary,
    cohens_dz,
    corrected_resampled_interval,
    corrected_resampled_t_test,
    expected_max,
    holm,
    min_wilcoxon_pvalue,
    paired_t_test,
    sign_flip_test,
    summarize,
    t_interval,
    tost,
    wilcoxon_test,
)
from erbench.stats.power import power_paired_t, sd_bounds, seeds_needed, seeds_needed_range
from erbench.stats.randomization import (
    AR_BATCH,
    approximate_randomization,
    ar_mc_se,
    counts_to_arrays,
    macro_f1_from_array,
    micro_f1_from_array,
)
from erbench.stats.replicability import Replicability, count_effects, one_sided, partial_conjunction

__all__ = [
    "ALPHA", "AR_BATCH", "ASO_TAU", "ASO_THRESHOLD", "DECISION_TEST", "Comparison", "DocCounts", "MetricFn", "Seed",
    "ONE_SEED_FOLDS", "Replicability", "Summary", "approximate_randomization", "ar_mc_se", "aso", "aso_with_se",
    "cohens_dz", "compare_paired", "count_effects", "corrected_resampled_interval", "corrected_resampled_t_test",
    "counts_to_arrays", "decision_note",
    "expected_max", "family_phrase", "holm", "macro_f1_from_array", "micro_f1_from_array", "min_wilcoxon_pvalue",
    "one_sided", "paired_t_test", "partial_conjunction", "power_paired_t", "sd_bounds", "seeds_needed",
    "seeds_needed_range", "sign_flip_test", "summarize",
    "t_interval", "tost", "wilcoxon_test",
]

DECISION_TEST = "t"  # the paired t-test on per-seed scores decides markers (see module docstring)
ONE_SEED_FOLDS = ("one seed: averaging the folds per seed would leave one pair and no test, so the fold is the "
                  "unit (Nadeau & Bengio 2003)")


@dataclass(frozen=True)
class Comparison:
    n: int  # paired seeds (folds averaged per seed)
    mean_diff: float  # mean of b - a
    diff_ci_low: float  # interval of the mean difference (ci_method; nan: too few units or no estimate of noise)
    diff_ci_high: float
    t_pvalue: float  # nan for n < 2 and for a constant difference (no estimate of noise)
    wilcoxon_pvalue: float
    aso_epsilon: float  # nan when ASO was not run
    ar_pvalue: float | None  # None without per-document counts
    min_attainable_pvalue: dict[str, float]  # per test, the smallest p it can reach with this n
    decision_test: str = "t"  # what decides the marker: t | sign-flip | corrected-t
    decision_pvalue: float = math.nan
    sign_flip_pvalue: float = math.nan
    cohens_dz: float = math.nan
    tost_pvalue: float = math.nan  # equivalence within +- equivalence_margin
    equivalence_margin: float = math.nan
    aso_confidence: float = math.nan
    aso_mc_se: float = math.nan
    ar_mc_se: float | None = None
    corrected_t_pvalue: float = math.nan  # Nadeau & Bengio, fold level (nan without folds)
    n_folds: int = 0  # folds averaged per seed (0: no folds)
    decision_why: str = ""  # which test decided the marker and why, in words

    @property
    def ci_method(self) -> str:
        """The interval of Δ: corrected-t over the fold differences where the corrected resampled t-test
        decides (the interval that matches its p-value), else student-t over the per-seed differences."""
        return "corrected-t" if self.decision_test == "corrected-t" else "student-t"


def compare_paired(
    a: Sequence[float],
    b: Sequence[float],
    *,
    seed: Seed,
    confidence: float = 0.95,
    aso_confidence: float = 0.95,
    aso_bootstrap: int = 1000,
    with_aso: bool = True,
    counts_a: Sequence[DocCounts] | np.ndarray | None = None,
    counts_b: Sequence[DocCounts] | np.ndarray | None = None,
    metric_fn: MetricFn = micro_f1_from_array,
    ar_trials: int = 10000,
    ar_groups: Sequence[int] | np.ndarray | None = None,
    equivalence_margin: float = 1.0,
    fold_diffs: Sequence[float] | None = None,
    n_folds: int = 0,
    fold_test: str = "seed",
) -> Comparison:
    """Baseline a vs challenger b, paired per seed (a, b: one value per seed, folds already averaged).

    fold_diffs (b - a per seed and fold) with fold_test="corrected" make Nadeau & Bengio's corrected
    t-test on n_folds-fold cross-validation decide the marker; fold_test="seed" (default) decides with
    the paired t-test on the per-seed means, except with one seed (n=1), where that test does not exist
    and the corrected test on the fold differences decides (the fold is the unit; ONE_SEED_FOLDS).
    Comparison.decision_why says in words which test decided and why. With an int seed every randomised
    part uses that same seed, so each number equals its own function's result for that seed."""
    if fold_test not in ("seed", "corrected"):
        raise ValueError(f"fold_test must be 'seed' or 'corrected', got {fold_test!r}")
    x, y, d = paired_arrays(a, b)
    n = int(d.size)
    low, high = t_interval(a, b, confidence)
    min_p = {"t": math.nan if n < 2 else 0.0, "wilcoxon": min_wilcoxon_pvalue(n), "sign-flip": min_wilcoxon_pvalue(n)}
    ar = None
    if (counts_a is None) != (counts_b is None):
        raise ValueError("approximate randomization needs counts_a and counts_b together")
    if counts_a is not None:
        ar = approximate_randomization(counts_a, counts_b, metric_fn, seed=seed, trials=ar_trials, groups=ar_groups)
        min_p["ar"] = 1.0 / (ar_trials + 1)
    eps = eps_se = math.nan
    if with_aso:
        eps, eps_se = aso_with_se(a, b, seed=seed, confidence=aso_confidence, num_bootstrap=aso_bootstrap)
    t_p, flip_p = paired_t_test(a, b), sign_flip_test(a, b)
    corrected = math.nan
    folded = fold_diffs is not None and n_folds >= 2
    if folded:
        corrected = corrected_resampled_t_test(fold_diffs, 1 / (n_folds - 1))
    why = f"paired t-test on {n} per-seed score{'s' if n != 1 else ''}"
    why += " (folds averaged per seed)" if folded else ""
    if folded and (fold_test == "corrected" or (n == 1 and len(fold_diffs) >= 2)):
        test, decision = "corrected-t", corrected
        why = (f"corrected resampled t-test on {len(fold_diffs)} fold differences: "
               + ("report.fold_test=corrected asks for it" if fold_test == "corrected" else ONE_SEED_FOLDS))
        if math.isnan(decision) and len(fold_diffs) >= 2:
            test, decision = "sign-flip", flip_p
            why = "exact sign-flip test on the per-seed scores: every fold difference is equal (no estimate of noise)"
        else:  # the interval of the test that decides: it excludes 0 exactly when that test rejects
            low, high = corrected_resampled_interval(fold_diffs, 1 / (n_folds - 1), confidence)
    elif n >= 2 and math.isnan(t_p):
        test, decision = "sign-flip", flip_p  # sd 0: no t-test verdict, the exact permutation p decides
        why = "exact sign-flip test: every per-seed difference is equal (no estimate of noise for the t-test)"
    else:
        test, decision = "t", t_p
        if n < 2:
            why = f"no test: {n} paired seed{'s' if n != 1 else ''}"
    return Comparison(
        n=n,
        mean_diff=float(d.mean()) if n else math.nan,
        diff_ci_low=low,
        diff_ci_high=high,
        t_pvalue=t_p,
        wilcoxon_pvalue=wilcoxon_test(a, b),
        aso_epsilon=eps,
        ar_pvalue=ar,
        min_attainable_pvalue=min_p,
        decision_test=test,
        decision_pvalue=decision,
        sign_flip_pvalue=flip_p,
        cohens_dz=cohens_dz(a, b),
        tost_pvalue=tost(a, b, equivalence_margin),
        equivalence_margin=equivalence_margin,
        aso_confidence=aso_confidence if with_aso else math.nan,
        aso_mc_se=eps_se,
        ar_mc_se=ar_mc_se(ar, ar_trials),
        corrected_t_pvalue=corrected,
        n_folds=n_folds,
        decision_why=why,
    )


def family_phrase(families: Mapping[str, int]) -> str:
    """What each Holm family is: 'spert (12 comparisons: every other method vs spert on every dataset and
    column)'; families are per baseline (one table of comparisons each)."""
    return "; ".join(f"{b} ({m} comparison{'s' if m != 1 else ''}: every method compared with {b} on every "
                     "dataset and column)" for b, m in families.items())


def _predictions_on(split: str) -> str:
    return "test predictions" if split == "test" else f"predictions on {split}"


def decision_note(n: int | None, alpha: float = ALPHA, families: Mapping[str, int] | None = None, *,
                  folds: bool = False, fold_test: str = "seed", equivalence_margin: float = 1.0, split: str = "test",
                  fold_units: Mapping[str, int] | None = None) -> str:
    """The sentence printed under a table: which test decides the markers, over which Holm families,
    and warnings for small n. `split`: what the runs were scored on ('test', or a phrase). fold_units:
    the k-fold datasets with one seed, where the corrected test on the folds decides (dataset -> fold
    units); n: the fewest paired seeds of the other comparisons (None: there are none)."""
    fams = families or {}
    where = (f"within each baseline's family: {family_phrase(fams)}" if fams
             else "within each baseline's family of comparisons")
    unit = "per-seed scores"
    if folds and fold_test == "corrected":
        unit += ("; on k-fold datasets the Nadeau-Bengio corrected repeated-resampling t-test on the (seed, fold) "
                 "differences (variance inflated by 1/J + 1/(k-1))")
    elif folds:
        unit += " (on k-fold datasets the folds of each seed are averaged first: the seed is the unit of replication)"
    worst = max(fams.values(), default=1)
    seeds = "" if n is None else f" (n={n} seeds)"
    intervals = ("Student-t; where the corrected test decides, its corrected interval" if fold_units
                 or (folds and fold_test == "corrected") else "Student-t")
    note = (
        f"Markers: two-sided paired t-test on {unit}{seeds}, Holm-corrected {where}, alpha={alpha:g}; "
        "where every per-seed difference is equal there is no estimate of noise and the exact sign-flip "
        f"test decides (smallest p = 2/2^n). Intervals of Δ: {intervals}. Power and seeds needed are computed at "
        f"Holm's most demanding level alpha/m (m = the family's size; {alpha / worst:.2g} for m={worst}). "
        f"Equivalence: TOST at ±{equivalence_margin:g} F1 points, Holm within the family (equal differences: "
        "exact one-sided sign-flip tests, smallest p = 1/2^n). Reported beside "
        "the marker: ASO epsilon_min (deep-significance) at confidence 1 - alpha/m, b flagged almost "
        f"stochastically better when epsilon_min < tau={ASO_TAU:g}, and sentence-level approximate "
        f"randomization on pooled {_predictions_on(split)} (one swap per document shared by every seed's copy)."
    )
    if fold_units:
        where_folds = ", ".join(f"{d} ({k} folds)" for d, k in fold_units.items())
        note += (f" One seed on {where_folds}: there the fold is the unit and the Nadeau-Bengio corrected "
                 "resampled t-test on the fold differences (variance inflated by 1/J + 1/(k-1), J - 1 degrees of "
                 "freedom) decides the markers, because averaging the folds per seed would leave one pair and no "
                 "test.")
    if n is None:
        return note
    if n < 2:
        note += f" Warning: with n={n} the paired t-test is undefined; no markers."
    min_w = min_wilcoxon_pvalue(n)
    if not min_w < alpha:
        note += (
            f" Warning: with n={n} the exact two-sided Wilcoxon test cannot reach p < {alpha:g} "
            f"(smallest attainable p = {min_w:g}), so it is not used for markers."
        )
    return note
