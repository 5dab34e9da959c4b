"""Per-method summaries, seed-level paired tests and intervals, and Holm's correction over a family:
pure functions of score arrays (a: the baseline, b: the challenger, paired by position)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats
from erbench.stats.base import magnitude, paired_arrays

# ---------------------------------------------------------------- per-method summaries


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1), nan for n < 2
    ci_low: float  # Student-t confidence interval of the mean, nan for n < 2
    ci_high: float


def summarize(scores: Sequence[float], confidence: float = 0.95) -> Summary:
    x = np.asarray(scores, dtype=float).ravel()
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return Summary(n, mean, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = float(scipy.stats.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half)


def expected_max(scores: Sequence[float], k: int) -> float:
    """Unbiased estimate of E[max of k seeds] from n >= k observed seeds (Dodge et al. 2019, without
    replacement): the mean of the maxima of all C(n, k) k-subsets, sum_i C(i-1, k-1) / C(n, k) x_(i).
    (Drawing k with replacement from the n observed values is biased low at small n.) nan when k > n."""
    x = np.sort(np.asarray(scores, dtype=float).ravel())
    n = int(x.size)
    if n == 0 or k < 1:
        raise ValueError(f"expected_max needs scores and k >= 1, got {n} scores and k={k}")
    if k > n:
        return math.nan
    weights = np.array([math.comb(i - 1, k - 1) for i in range(1, n + 1)], dtype=float) / math.comb(n, k)
    return float(weights @ x)


# ---------------------------------------------------------------- seed-level paired tests


def _no_noise(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> bool:
    """Every paired difference equal (within float noise): the seeds carry no estimate of noise."""
    return bool(np.ptp(d) <= 1e-12 * magnitude(x, y))


def t_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of mean(b - a) over the pairs (the paired t-test's model); nan for
    n < 2 and where every difference is equal (no estimate of noise)."""
    x, y, d = paired_arrays(a, b)
    if d.size < 2 or _no_noise(x, y, d):
        return math.nan, math.nan
    half = float(scipy.stats.t.ppf((1 + confidence) / 2, d.size - 1)) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return float(d.mean()) - half, float(d.mean()) + half


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided paired t-test p-value; 1.0 for identical systems; nan for n < 2 and for a constant
    non-zero difference (sd 0: no estimate of noise, no t-test verdict; see ``sign_flip_test``)."""
    x, y, d = paired_arrays(a, b)
    if d.size < 2:
        return math.nan
    if np.max(np.abs(d)) <= 1e-12 * magnitude(x, y):
        return 1.0
    if _no_noise(x, y, d):
        return math.nan
    return float(scipy.stats.ttest_rel(y, x).pvalue)


def sign_flip_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided sign-flip (paired permutation) p-value of mean(b - a), enumerating all 2^n sign
    patterns (scipy.stats.permutation_test; Monte Carlo with 100000 draws above n=16). A constant
    non-zero difference gets its smallest attainable value, 2 / 2^n."""
    x, y, d = paired_arrays(a, b)
    if d.size == 0:
        return math.nan
    r = np.round(d / magnitude(x, y), 12) * magnitude(x, y)  # float noise must not break the tie of equal means
    if not np.any(r):
        return 1.0
    if r.size == 1:  # scipy needs two observations; the two sign patterns of one give |mean| equal: p = 1
        return 1.0
    res = scipy.stats.permutation_test((r,), np.mean, permutation_type="samples", alternative="two-sided",
                                       n_resamples=np.inf if r.size <= 16 else 100000, random_state=0)
    return float(res.pvalue)


def _one_sided_sign_flip(r: np.ndarray, tol: float) -> float:
    """Exact one-sided sign-flip p-value of mean(r) > 0 (all 2^n sign patterns; scipy above n = 1); values
    within tol of 0 count as 0."""
    r = np.where(np.abs(r) <= tol, 0.0, r)
    if not np.any(r > 0):
        return 1.0
    if r.size == 1:
        return 0.5 if r[0] > 0 else 1.0
    res = scipy.stats.permutation_test((r,), np.mean, permutation_type="samples", alternative="greater",
                                       n_resamples=np.inf if r.size <= 16 else 100000, random_state=0)
    return float(res.pvalue)


def _corrected_se(diffs: Sequence[float], test_train_ratio: float) -> tuple[np.ndarray, float]:
    """The fold differences and Nadeau & Bengio's corrected standard error of their mean,
    sqrt((1/J + n_test/n_train) s^2); nan for J < 2 and for a constant difference (no estimate of noise)."""
    d = np.asarray(diffs, dtype=float).ravel()
    if test_train_ratio <= 0:
        raise ValueError(f"test_train_ratio must be > 0, got {test_train_ratio}")
    if d.size < 2 or np.ptp(d) <= 1e-12 * max(1.0, float(np.max(np.abs(d)))):
        return d, math.nan
    return d, math.sqrt((1 / d.size + test_train_ratio) * float(d.var(ddof=1)))


def corrected_resampled_t_test(diffs: Sequence[float], test_train_ratio: float) -> float:
    """Nadeau & Bengio's (2003) corrected repeated-resampling t-test on fold-level differences b - a.

    The variance of the mean is inflated from s^2 / J to (1/J + n_test/n_train) s^2 because the J
    resamples (here seeds x folds) share training data; for k-fold cross-validation n_test/n_train is
    1/(k-1). Two-sided, J - 1 degrees of freedom; nan for J < 2 and for a constant difference (1.0 where
    every difference is 0).
    """
    d, se = _corrected_se(diffs, test_train_ratio)
    if d.size >= 2 and np.max(np.abs(d)) <= 1e-12 * max(1.0, float(np.max(np.abs(d)))):
        return 1.0
    if math.isnan(se):
        return math.nan
    return float(2 * scipy.stats.t.sf(abs(float(d.mean())) / se, d.size - 1))


def corrected_resampled_interval(diffs: Sequence[float], test_train_ratio: float,
                                 confidence: float = 0.95) -> tuple[float, float]:
    """The confidence interval that matches ``corrected_resampled_t_test``: mean(diffs) +- t_{J-1} times
    the corrected standard error; it excludes 0 exactly when the test rejects at 1 - confidence. nan for
    J < 2 and for a constant difference (no estimate of noise)."""
    d, se = _corrected_se(diffs, test_train_ratio)
    if math.isnan(se):
        return math.nan, math.nan
    half = float(scipy.stats.t.ppf((1 + confidence) / 2, d.size - 1)) * se
    return float(d.mean()) - half, float(d.mean()) + half


def tost(a: Sequence[float], b: Sequence[float], margin: float) -> float:
    """Two one-sided paired t-tests of equivalence: p < alpha says |mean(b - a)| < margin at level alpha
    (max of scipy's one-sided ttest_1samp against -margin and +margin). Where every difference is equal
    (no estimate of noise: identical systems, say) the two one-sided tests are exact sign-flip tests of
    the shifted differences instead, as for the marker: p = 1 / 2^n when the difference lies inside the
    margin, so n identical seeds show equivalence at level alpha only from n >= log2(1 / alpha)."""
    x, y, d = paired_arrays(a, b)
    if margin <= 0:
        raise ValueError(f"equivalence margin must be > 0, got {margin}")
    if d.size == 0:
        return math.nan
    if d.size < 2 or _no_noise(x, y, d):
        tol = 1e-12 * max(margin, magnitude(x, y))  # float noise must not put a difference at the margin inside it
        return max(_one_sided_sign_flip(d + margin, tol), _one_sided_sign_flip(margin - d, tol))
    low = scipy.stats.ttest_1samp(d, -margin, alternative="greater").pvalue
    high = scipy.stats.ttest_1samp(d, margin, alternative="less").pvalue
    return float(max(low, high))


def cohens_dz(a: Sequence[float], b: Sequence[float]) -> float:
    """Standardised paired effect size d_z = mean(b - a) / sd(b - a); nan for n < 2 or sd 0."""
    x, y, d = paired_arrays(a, b)
    if d.size < 2 or _no_noise(x, y, d):
        return math.nan
    return float(d.mean() / d.std(ddof=1))


def wilcoxon_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value: exact without ties/zeros (n <= 50), else scipy's 'auto'
    (exhaustive permutations up to n=13, normal approximation above); 1.0 when all differences are zero."""
    x, y, d = paired_arrays(a, b)
    if d.size == 0:
        return math.nan
    r = np.round(d / magnitude(x, y), 12)  # float noise must not break ties or hide zeros
    if not np.any(r):
        return 1.0
    exact = r.size <= 50 and np.all(r != 0) and np.unique(np.abs(r)).size == r.size
    return float(scipy.stats.wilcoxon(r, method="exact" if exact else "auto").pvalue)


def min_wilcoxon_pvalue(n: int) -> float:
    """Smallest two-sided p-value the exact Wilcoxon test can give with n pairs: 2 / 2^n."""
    return math.nan if n < 1 else min(1.0, 2.0 ** (1 - n))


# ---------------------------------------------------------------- corrections


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values in input order; nan entries pass through and are not counted."""
    p = np.asarray(pvalues, dtype=float).ravel()
    valid = np.flatnonzero(~np.isnan(p))
    if np.any((p[valid] < 0) | (p[valid] > 1)):
        raise ValueError(f"p-values must lie in [0, 1]: {p.tolist()}")
    order = valid[np.argsort(p[valid], kind="stable")]
    m = order.size
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.full(p.shape, math.nan)
    out[order] = adjusted  # tied p-values get equal adjusted values, so the result is order-invariant
    return out.tolist()
