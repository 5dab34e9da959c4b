"""How many seeds are enough: power of the paired t-test from the observed per-seed differences, the
seeds needed to detect a gap, and the expected maximum over k seeds (Dodge et al. 2019).

A "not significant" verdict with 3 seeds usually says little: with the observed standard deviation of
the paired differences, the test may have had almost no chance to detect a 1-point gap. ``power_row``
puts numbers on that; ``expected_max_curve`` shows how much a best-of-k number flatters a method.
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
    alpha: float
    target_power: float

    def verdict(self, significant: bool) -> str:
        """'significant', or 'not significant' with the power and the seeds a 1-point gap needs."""
        if significant:
            return "significant"
        if self.n < 2 or math.isnan(self.diffs_std):
            return "not significant (n < 2: no test)"
        if self.diffs_std == 0:
            return "not significant; the same difference on every seed: no estimate of noise, no power analysis"
        needed = f"{self.seeds_needed}" if self.seeds_needed is not None else f"> {MAX_SEEDS}"
        return (f"not significant; power {self.power_effect:.2f} for a {self.effect:g}-pt gap with n={self.n}; "
                f"{needed} seeds needed for {self.target_power:.0%}")


def power_row(a: Sequence[float], b: Sequence[float], *, effect: float = EFFECT, alpha: float = stats.ALPHA,
              target_power: float = TARGET_POWER) -> PowerRow:
    """Power analysis of one paired comparison (a: baseline, b: method) from its per-seed scores."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"paired scores need equal lengths, got {x.size} and {y.size}")
    d = y - x
    n = int(d.size)
    if n < 2:
        return PowerRow(n, float(d.mean()) if n else math.nan, math.nan, math.nan, math.nan, None, effect, alpha,
                        target_power)
    sd = float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):  # a constant difference (identical systems included)
        return PowerRow(n, float(d.mean()), 0.0, math.nan, math.nan, None, effect, alpha, target_power)
    return PowerRow(
        n=n, mean_diff=float(d.mean()), diffs_std=sd,
        power_observed=stats.power_paired_t(sd, n, float(d.mean()), alpha),
        power_effect=stats.power_paired_t(sd, n, effect, alpha),
        seeds_needed=stats.seeds_needed(sd, effect, alpha, target_power, MAX_SEEDS),
        effect=effect, alpha=alpha, target_power=target_power)


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
    """E[max F1 over k seeds] for k = 1..n (Dodge et al. 2019; draws with replacement from the observed)."""
    return [stats.expected_max(values, k) for k in range(1, len(values) + 1)]
