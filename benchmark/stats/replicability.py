"""Replicability across datasets: on how many of N datasets does an effect hold?

Dror, Baumer, Bogomolov & Reichart (2017), "Replicability Analysis for Natural Language Processing:
Testing Significance with Multiple Datasets", TACL 5, after Benjamini & Heller (2008), "Screening for
partial conjunction hypotheses". With one p-value per dataset, p_(1) <= ... <= p_(N) sorted ascending,
the partial-conjunction null H^(u) is "the effect holds on fewer than u of the N datasets", and its
p-value combines the N - u + 1 largest p-values:

    Bonferroni  p^(u) = min(1, (N - u + 1) * p_(u))                         (any dependence)
    Fisher      p^(u) = 1 - F_chi2(2(N - u + 1))(-2 * sum_{i=u..N} ln p_(i))   (independent datasets)

Counting (Dror et al. 2017, the "counting" procedure of their replicability framework): the
partial-conjunction p-values are made non-decreasing in u, p~^(u) = max_{v <= u} p^(v), and
k_hat = max{u : p~^(u) <= alpha} (0 when none): with the familywise error at alpha, the effect holds on
at least k_hat datasets. Which datasets
(its "identification" procedure): the k_hat datasets with the smallest p-values; for Bonferroni these are
exactly the datasets Holm's procedure rejects at alpha, so each of them is identified with the
familywise error controlled; Fisher's k_hat can exceed the number Holm identifies (Fisher counts, it
does not point), so its datasets are the k_hat smallest p-values, named as such.

Pure functions of arrays: the last axis holds the N datasets, so a simulation passes many rows at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats
from erbench.stats.base import ALPHA

METHODS = ("bonferroni", "fisher")


def partial_conjunction_pvalues(pvalues, method: str = "bonferroni") -> np.ndarray:
    """p^(u) for u = 1..N along the last axis (the paper's formulas, before the counting step makes
    them monotone); inputs in any order, each in [0, 1]."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    p = np.sort(np.asarray(pvalues, dtype=float), axis=-1)
    if p.size and (np.isnan(p).any() or p.min() < 0 or p.max() > 1):
        raise ValueError("partial conjunction needs p-values in [0, 1] (no nan)")
    n = p.shape[-1]
    remaining = n - np.arange(n)  # N - u + 1 for u = 1..N
    if method == "bonferroni":
        return np.minimum(1.0, remaining * p)
    with np.errstate(divide="ignore"):
        logs = -2.0 * np.log(p)  # p = 0 -> inf -> p^(u) = 0
    tail = np.flip(np.cumsum(np.flip(logs, axis=-1), axis=-1), axis=-1)  # sum_{i=u..N} -2 ln p_(i)
    return scipy.stats.chi2.sf(tail, 2 * remaining)


def monotone(pc) -> np.ndarray:
    """The counting step: p~^(u) = max over v <= u of p^(v) (non-decreasing in u)."""
    return np.maximum.accumulate(np.asarray(pc, dtype=float), axis=-1)


def count_effects(pvalues, alpha: float = ALPHA, method: str = "bonferroni") -> np.ndarray | int:
    """k_hat = max{u : p~^(u) <= alpha} along the last axis (0 where no u qualifies)."""
    pc = monotone(partial_conjunction_pvalues(pvalues, method))
    k = np.count_nonzero(pc <= alpha, axis=-1)  # p~ is non-decreasing: the qualifying u are 1..k_hat
    return int(k) if np.ndim(k) == 0 else k


@dataclass(frozen=True)
class Replicability:
    """One comparison's replicability over N datasets by one method (bonferroni | fisher)."""

    method: str
    alpha: float
    pvalues: tuple[float, ...]  # per dataset, in the caller's order
    order: tuple[int, ...]  # dataset indices by ascending p-value (ties: the caller's order)
    pc_pvalues: tuple[float, ...]  # p^(u), u = 1..N (the paper's formula)
    pc_monotone: tuple[float, ...]  # p~^(u) = max_{v <= u} p^(v): what the count reads
    k_hat: int  # the effect holds on at least k_hat of the N datasets (familywise error alpha)
    identified: tuple[int, ...]  # dataset indices of the k_hat smallest p-values


def partial_conjunction(pvalues: Sequence[float], alpha: float = ALPHA, method: str = "bonferroni"
                        ) -> Replicability:
    """Dror et al.'s counting and identification for one comparison (p-values one per dataset)."""
    p = np.asarray(pvalues, dtype=float).ravel()
    order = tuple(int(i) for i in np.argsort(p, kind="stable"))
    raw = partial_conjunction_pvalues(p, method) if p.size else np.zeros(0)
    mono = monotone(raw) if p.size else np.zeros(0)
    k = int(np.count_nonzero(mono <= alpha))
    return Replicability(method, alpha, tuple(float(v) for v in p), order, tuple(float(v) for v in raw),
                         tuple(float(v) for v in mono), k, order[:k])


def one_sided(two_sided: float, mean_diff: float) -> float:
    """The one-sided p of "b better than a" from a symmetric two-sided test's p and the sign of the
    mean difference (p/2 when b - a > 0, else 1 - p/2); nan stays nan."""
    if math.isnan(two_sided) or math.isnan(mean_diff):
        return math.nan
    return two_sided / 2 if mean_diff > 0 else 1 - two_sided / 2
