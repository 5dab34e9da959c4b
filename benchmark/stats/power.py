"""Power of the paired t-test and the seeds a gap needs, with the uncertainty of a small-sample sd."""

from __future__ import annotations

import math

import scipy.stats
from erbench.stats.base import ALPHA


def power_paired_t(diffs_std: float, n: int, effect: float, alpha: float = ALPHA) -> float:
    """Power of the two-sided paired t-test with n pairs to detect a mean difference `effect` when the
    differences have standard deviation diffs_std (noncentral t)."""
    if diffs_std < 0:
        raise ValueError(f"diffs_std must be >= 0, got {diffs_std}")
    if n < 2:
        return math.nan
    if diffs_std == 0:  # as paired_t_test: a constant gain always rejects, identical systems never
        return 1.0 if effect != 0 else 0.0
    df, nc = n - 1, abs(effect) * math.sqrt(n) / diffs_std
    crit = float(scipy.stats.t.ppf(1 - alpha / 2, df))
    lower = float(scipy.stats.nct.cdf(-crit, df, nc))  # <= alpha / 2; scipy gives nan far in the tail
    return float(scipy.stats.nct.sf(crit, df, nc)) + (lower if math.isfinite(lower) else 0.0)


def seeds_needed(
    diffs_std: float, effect: float, alpha: float = ALPHA, power: float = 0.8, max_n: int = 1000
) -> int | None:
    """Smallest number of paired seeds (>= 2) whose paired t-test reaches `power`; None above max_n."""
    if max_n < 2 or power_paired_t(diffs_std, max_n, effect, alpha) < power:
        return None
    lo, hi = 2, max_n  # power grows with n: bisect for the first n that reaches it
    while lo < hi:
        mid = (lo + hi) // 2
        if power_paired_t(diffs_std, mid, effect, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo


def sd_bounds(sd: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided chi-square confidence interval of a normal standard deviation from its sample sd with n
    observations: sd * sqrt((n-1) / chi2_{1-q}(n-1)) .. sd * sqrt((n-1) / chi2_q(n-1)), q = (1-conf)/2."""
    if n < 2 or not sd > 0:
        return math.nan, math.nan
    q = (1 - confidence) / 2
    df = n - 1
    return (sd * math.sqrt(df / float(scipy.stats.chi2.ppf(1 - q, df))),
            sd * math.sqrt(df / float(scipy.stats.chi2.ppf(q, df))))


def seeds_needed_range(diffs_std: float, n: int, effect: float, alpha: float = ALPHA, power: float = 0.8,
                       confidence: float = 0.95, max_n: int = 1000) -> tuple[int | None, int | None]:
    """Seeds needed at the ends of the sd's chi-square confidence interval (``sd_bounds``): the plug-in
    sd of 3-5 seeds is itself uncertain, so the honest answer is a range. None: beyond max_n."""
    low, high = sd_bounds(diffs_std, n, confidence)
    if math.isnan(low):
        return None, None
    return seeds_needed(low, effect, alpha, power, max_n), seeds_needed(high, effect, alpha, power, max_n)
