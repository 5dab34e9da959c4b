"""The one comparison loop of the report: every family of paired tests (the main table, seen / unseen,
the interpretation-sensitivity section) is planned, tested and Holm-corrected here.

A family belongs to one baseline: every other method against it on every key the family has (a main
table column; a seen / unseen partition of a column). Each pair of methods is compared once, in the
family of the first baseline that has both. Per pair, the paired (seed, fold) units are averaged per
seed (the seed is the unit of replication: docs/methods.md, "Seeds and the protocol") and
`stats.compare_paired` runs on the per-seed values; within a family the decision p-values, the
sentence-level approximate randomization p-values and the TOST p-values are each Holm-adjusted.
Everything returned is frozen data; the text of these numbers is the formatters' business.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from erbench import stats

Unit = tuple[int, int | None]  # (seed, fold)


def unit_key(unit: Unit) -> tuple[int, int]:
    """Sort key of units: by seed, then fold (no fold first)."""
    return unit[0], -1 if unit[1] is None else unit[1]


def per_seed_units(units: Sequence[Unit]) -> tuple[Unit, ...]:
    """The seeds of (seed, fold) units, each once, as (seed, None) units in seed order."""
    return tuple((s, None) for s in sorted({u[0] for u in units}))


def per_seed_means(units: Sequence[Unit], values: Sequence[float]) -> list[float]:
    """One value per seed (in seed order): the mean over its folds; values without folds pass through."""
    by_seed: dict[int, list[float]] = {}
    for (s, _), v in zip(units, values):
        by_seed.setdefault(s, []).append(float(v))
    return [float(np.mean(by_seed[s])) for s in sorted(by_seed)]


class Verdict:
    """The decision of a paired comparison with a Holm-adjusted decision p-value (`t_holm`: the paired
    t-test, or the sign-flip / corrected test named by comparison.decision_test) at `alpha`."""

    comparison: stats.Comparison
    t_holm: float
    alpha: float

    @property
    def significant(self) -> bool:
        return bool(self.t_holm < self.alpha)  # nan (n < 2) is never significant

    @property
    def direction(self) -> int:
        """+1 significantly better than the baseline, -1 significantly worse, 0 neither."""
        return int(np.sign(self.comparison.mean_diff)) if self.significant else 0

    @property
    def equivalent(self) -> bool:
        """TOST: |Δ| < the equivalence margin at alpha (Holm within the family); never when significant."""
        holm = getattr(self, "tost_holm", math.nan)
        return bool(not self.significant and holm < self.alpha)

    @property
    def outcome(self) -> str:
        """'better' / 'worse' / 'equivalent within ±1' / 'inconclusive' (not significant, not equivalent)."""
        if self.direction:
            return "better" if self.direction > 0 else "worse"
        if self.equivalent:
            return f"equivalent within ±{self.comparison.equivalence_margin:g}"
        return "inconclusive"


@dataclass(frozen=True)
class Planned:
    """A pair of methods a family compares on one key, before any value is read."""

    key: Hashable
    baseline: str
    method: str
    common: tuple[Unit, ...]  # units both have, in unit order
    unpaired: tuple[Unit, ...]  # units only one of them has, in unit order


@dataclass(frozen=True, eq=False)
class Pair:
    """One comparison's inputs: per paired unit the baseline's (a) and the method's (b) score, and the
    pooled per-document counts of both sides for the sentence-level test (None: not run)."""

    planned: Planned
    a: tuple[float, ...]
    b: tuple[float, ...]
    average: str  # micro | macro: how the sentence-level test scores pooled counts
    pooled: tuple[Sequence, Sequence] | None = None
    groups: Any = None  # one id per pooled document: copies of a document swap together
    n_folds: int = 0  # folds of the dataset when the units have folds (fold-level test), else 0


@dataclass(frozen=True)
class Options:
    """How a family tests: shared by every pair of it. aso_bootstrap=0: no ASO."""

    seed: int
    alpha: float
    ar_trials: int
    aso_bootstrap: int = 0
    equivalence_margin: float = 1.0
    fold_test: str = "seed"


@dataclass(frozen=True, eq=False)
class Tested(Verdict):
    """A pair's comparison on its per-seed values, with the family's Holm-adjusted p-values."""

    pair: Pair
    units: tuple[Unit, ...]  # the seeds compared
    a: tuple[float, ...]  # per seed
    b: tuple[float, ...]
    comparison: stats.Comparison
    t_holm: float
    ar_holm: float | None
    tost_holm: float
    alpha: float
    family_size: int
    fold_units: tuple[Unit, ...]  # the (seed, fold) units averaged per seed, if the units have folds


def plan_families(baselines: Sequence[str], methods: Sequence[str], keys: Iterable[Hashable],
                  units_of: Callable[[Hashable, str], Iterable[Unit] | None]) -> dict[str, tuple[Planned, ...]]:
    """Per baseline, every (key, method) pair its family compares: the methods after the baselines
    already done, on the keys where both have units (units_of(key, method): None or empty when none)."""
    keys = list(keys)
    out = {}
    for i, base in enumerate(baselines):
        done = set(baselines[: i + 1])
        planned = []
        for key in keys:
            base_units = set(units_of(key, base) or ())
            if not base_units:
                continue
            for m in methods:
                other = set(units_of(key, m) or ())
                if m in done or not other:
                    continue
                planned.append(Planned(key, base, m, tuple(sorted(base_units & other, key=unit_key)),
                                       tuple(sorted(base_units ^ other, key=unit_key))))
        out[base] = tuple(planned)
    return out


def compare_pair(pair: Pair, options: Options, family_size: int = 1) -> stats.Comparison:
    """stats.compare_paired on the pair's per-seed means; ASO at confidence 1 - alpha / family_size."""
    units = pair.planned.common
    a, b = per_seed_means(units, pair.a), per_seed_means(units, pair.b)
    metric_fn = stats.macro_f1_from_array if pair.average == "macro" else stats.micro_f1_from_array
    counts_a, counts_b = (None, None) if pair.pooled is None else pair.pooled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # deepsig's division-by-zero notes
        return stats.compare_paired(
            a, b, seed=options.seed, aso_bootstrap=max(options.aso_bootstrap, 1),
            aso_confidence=1 - options.alpha / family_size, with_aso=options.aso_bootstrap > 0 and len(a) >= 2,
            counts_a=counts_a, counts_b=counts_b, metric_fn=metric_fn, ar_trials=max(options.ar_trials, 1),
            ar_groups=pair.groups, equivalence_margin=options.equivalence_margin,
            fold_diffs=[y - x for x, y in zip(pair.a, pair.b)] if pair.n_folds else None,
            n_folds=pair.n_folds, fold_test=options.fold_test)


def run_family(pairs: Sequence[Pair], options: Options) -> tuple[Tested, ...]:
    """Every pair of one family compared, with Holm over the family's decision, AR and TOST p-values."""
    family = len(pairs)
    comps = [compare_pair(p, options, family) for p in pairs]
    t_holm = stats.holm([c.decision_pvalue for c in comps])
    ar_holm = stats.holm([math.nan if c.ar_pvalue is None else c.ar_pvalue for c in comps])
    tost_holm = stats.holm([c.tost_pvalue for c in comps])
    return tuple(
        Tested(p, per_seed_units(p.planned.common), tuple(per_seed_means(p.planned.common, p.a)),
               tuple(per_seed_means(p.planned.common, p.b)), c, t_holm[i],
               None if c.ar_pvalue is None else ar_holm[i], tost_holm[i], options.alpha, family,
               p.planned.common if p.n_folds else ())
        for i, (p, c) in enumerate(zip(pairs, comps)))


def run_families(pairs: Mapping[str, Sequence[Pair]], options: Options) -> dict[str, tuple[Tested, ...]]:
    """run_family for every baseline with at least one pair (a baseline alone has no family)."""
    return {base: run_family(ps, options) for base, ps in pairs.items() if ps}
