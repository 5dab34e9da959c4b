"""How many seeds are enough: power of the paired t-test from the observed per-seed differences, the
seeds needed to detect a gap, and the expected maximum over k seeds (Dodge et al. 2019).

A "not significant" verdict with 3 seeds usually says little: with the observed standard deviation of
the paired differences, the test may have had almost no chance to detect a 1-point gap. ``power_row``
puts numbers on that; ``expected_max_curve`` shows how much a best-of-k number flatters a method.

Markers are decided after Holm, so power and seeds needed are computed at the level the marker needs in
the worst case: Holm's most demanding step, alpha/m for a family of m comparisons. The plug-in sd of 3-5
seeds is itself very uncertain, so seeds needed is also given as a range over the sd's 95% chi-square
confidence interval (``stats.seeds_needed_range``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from erbench import stats

EFFECT = 1.0  # F1 points: the gap the report asks about
TARGET_POWER = 0.8
MAX_SEEDS = 1000


@dataclass(frozen=True)
class PowerRow:
    n: int
    mean_diff: float
    diffs_std: float  # sample std of the paired differences (nan for n < 2)
    # power and seeds_needed are nan / None where diffs_std is 0: the seeds then carry no estimate of noise
    power_observed: float  # power to detect the observed |mean difference| with n pairs
    power_effect: float  # power to detect `effect` with n pairs
    seeds_needed: int | None  # pairs needed for TARGET_POWER at `effect`; None beyond MAX_SEEDS or n < 2
    effect: float
    alpha: float  # the level power is computed at: Holm's most demanding, alpha_family / family_size
    target_power: float
    family_size: int = 1
    seeds_needed_low: int | None = None  # seeds needed at the lower / upper 95% confidence bound of the sd
    seeds_needed_high: int | None = None

    def verdict(self, significant: bool) -> str:
        """'significant', or 'not significant' with the power and the seeds a 1-point gap needs."""
        if significant:
            return "significant"
        if self.n < 2 or math.isnan(self.diffs_std):
            return "not significant (n < 2: no test)"
        if self.diffs_std == 0:
            return "not significant; the same difference on every seed: no estimate of noise, no power analysis"
        return (f"not significant; power {self.power_effect:.2f} for a {self.effect:g}-pt gap with n={self.n} at "
                f"alpha/m={self.alpha:.3g} (m={self.family_size}); {self.needed_text()} seeds needed for "
                f"{self.target_power:.0%}")

    def needed_text(self) -> str:
        """'14 (5-180)': plug-in seeds needed and the range over the sd's confidence interval."""
        if self.n < 2 or not self.diffs_std > 0:
            return "–"

        def text(v: int | None) -> str:
            return str(v) if v is not None else f"> {MAX_SEEDS}"

        if self.seeds_needed_low == self.seeds_needed_high == self.seeds_needed:
            return text(self.seeds_needed)
        return f"{text(self.seeds_needed)} ({text(self.seeds_needed_low)} to {text(self.seeds_needed_high)})"


def power_row(a: Sequence[float], b: Sequence[float], *, effect: float = EFFECT, alpha: float = stats.ALPHA,
              target_power: float = TARGET_POWER, family_size: int = 1) -> PowerRow:
    """Power analysis of one paired comparison (a: baseline, b: method) from its per-seed scores, at
    alpha / family_size (Holm's most demanding step for a family of that size)."""
    if family_size < 1:
        raise ValueError(f"family_size must be >= 1, got {family_size}")
    level = alpha / family_size
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired scores need equal lengths, got {x.size} and {y.size}")
    d = y - x
    n = int(d.size)
    if n < 2:
        return PowerRow(n, float(d.mean()) if n else math.nan, math.nan, math.nan, math.nan, None, effect, level,
                        target_power, family_size)
    sd = float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):  # a constant difference (identical systems included)
        return PowerRow(n, float(d.mean()), 0.0, math.nan, math.nan, None, effect, level, target_power, family_size)
    low, high = stats.seeds_needed_range(sd, n, effect, level, target_power, max_n=MAX_SEEDS)
    return PowerRow(
        n=n, mean_diff=float(d.mean()), diffs_std=sd,
        power_observed=stats.power_paired_t(sd, n, float(d.mean()), level),
        power_effect=stats.power_paired_t(sd, n, effect, level),
        seeds_needed=stats.seeds_needed(sd, effect, level, target_power, MAX_SEEDS),
        effect=effect, alpha=level, target_power=target_power, family_size=family_size,
        seeds_needed_low=low, seeds_needed_high=high)


def power_curve(diffs_std: float, ns: Sequence[int], effect: float = EFFECT, alpha: float = stats.ALPHA) -> list[float]:
    """Power of the paired t-test for each number of pairs in ns (for the seeds-needed figure)."""
    return [stats.power_paired_t(diffs_std, int(n), effect, alpha) for n in ns]


def per_seed_values(units: Sequence[tuple[int, int | None]], values: Sequence[float]) -> list[float]:
    """One value per seed: the mean over folds where the units have folds (a seed is one draw)."""
    by_seed: dict[int, list[float]] = {}
    for (seed, _), v in zip(units, values):
        by_seed.setdefault(seed, []).append(float(v))
    return [float(np.mean(by_seed[s])) for s in sorted(by_seed)]


def expected_max_curve(values: Sequence[float]) -> list[float]:
    """E[max F1 over k seeds] for k = 1..n (Dodge et al. 2019; the unbiased order-statistic estimator)."""
    return [stats.expected_max(values, k) for k in range(1, len(values) + 1)]
