"""Significance tests, confidence intervals, corrections and power: pure functions of score arrays.

Which test decides the markers in erbench, and why. A table compares methods over 3-5 seeds, paired by
seed (and by fold on ADE). With so few pairs the exact two-sided Wilcoxon signed-rank test cannot reach
p < 0.05 at all: its smallest attainable p-value is 2 / 2^n, i.e. 0.25 at n=3 and 0.0625 at n=5. The
seed-level decision therefore uses the two-sided paired t-test on per-seed scores (``DECISION_TEST``),
Holm-corrected across the comparisons of one table. Reported beside it, never replacing it: ASO
(``epsilon_min`` of Almost Stochastic Order, the deep-significance recommendation; b is almost
stochastically better than a when epsilon_min < 0.5, and with the stricter tau = 0.2 when < 0.2) and the
sentence-level approximate randomization test on pooled test predictions (sacrebleu-style, on
per-document sufficient statistics with one shared swap per document and trial).

Conventions: ``a`` is the baseline, ``b`` the challenger, differences are ``b - a``; inputs are paired by
position. Every random function takes an explicit ``seed`` (an int or a ``numpy.random.Generator``);
nothing here touches a global RNG (deepsig seeds NumPy's global RNG, so ``aso`` restores its state) or
does I/O. deepsig (GPL-3.0) is an optional dependency imported inside ``aso`` only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats

DECISION_TEST = "t"  # the paired t-test on per-seed scores decides markers (see module docstring)
ALPHA = 0.05
ASO_THRESHOLD = 0.5  # epsilon_min below this: b is almost stochastically dominant over a
ASO_TAU = 0.2  # deep-significance's stricter recommended threshold
AR_BATCH = 1000  # trials per vectorised batch of approximate_randomization (part of its random stream)

Seed = int | np.random.Generator
DocCounts = Mapping[str, tuple[int, int, int]]  # type -> (tp, fp, fn) of one document
MetricFn = Callable[[np.ndarray], np.ndarray]  # pooled counts [..., types, 3] -> scores [...]


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int or numpy.random.Generator, got {type(seed).__name__}")


def _paired(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired scores need equal lengths, got {x.size} and {y.size}")
    return x, y, y - x


def _scale(x: np.ndarray, y: np.ndarray) -> float:
    """Magnitude of the scores; differences below 1e-12 of it are treated as float noise."""
    return max(1.0, float(np.max(np.abs(x), initial=0.0)), float(np.max(np.abs(y), initial=0.0)))


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
    """Expected maximum of k draws with replacement from the empirical distribution (Dodge et al., 2019)."""
    x = np.sort(np.asarray(scores, dtype=float).ravel())
    if x.size == 0 or k < 1:
        raise ValueError(f"expected_max needs scores and k >= 1, got {x.size} scores and k={k}")
    i = np.arange(1, x.size + 1)
    weights = (i / x.size) ** k - ((i - 1) / x.size) ** k
    return float(weights @ x)


# ---------------------------------------------------------------- seed-level paired tests


def paired_bootstrap_ci(
    a: Sequence[float], b: Sequence[float], *, seed: Seed, n_boot: int = 10000, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap CI of mean(b - a), resampling pair indices (the pairs stay together)."""
    _, _, d = _paired(a, b)
    if d.size < 2:
        return math.nan, math.nan
    idx = _rng(seed).integers(0, d.size, size=(n_boot, d.size))
    means = d[idx].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided paired t-test p-value; 1.0 for identical systems, 0.0 for a constant non-zero gain."""
    x, y, d = _paired(a, b)
    if d.size < 2:
        return math.nan
    tol = 1e-12 * _scale(x, y)
    if np.max(np.abs(d)) <= tol:
        return 1.0
    if np.ptp(d) <= tol:
        return 0.0
    return float(scipy.stats.ttest_rel(y, x).pvalue)


def wilcoxon_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value: exact without ties/zeros (n <= 50), else scipy's 'auto'
    (exhaustive permutations up to n=13, normal approximation above); 1.0 when all differences are zero."""
    x, y, d = _paired(a, b)
    if d.size == 0:
        return math.nan
    r = np.round(d / _scale(x, y), 12)  # float noise must not break ties or hide zeros
    if not np.any(r):
        return 1.0
    exact = r.size <= 50 and np.all(r != 0) and np.unique(np.abs(r)).size == r.size
    return float(scipy.stats.wilcoxon(r, method="exact" if exact else "auto").pvalue)


def min_wilcoxon_pvalue(n: int) -> float:
    """Smallest two-sided p-value the exact Wilcoxon test can give with n pairs: 2 / 2^n."""
    return math.nan if n < 1 else min(1.0, 2.0 ** (1 - n))


def aso(
    a: Sequence[float], b: Sequence[float], *, seed: Seed, confidence: float = 0.95, num_bootstrap: int = 1000
) -> float:
    """epsilon_min of ASO that b is stochastically dominant over a (< 0.5: b almost better; tau 0.2).

    deepsig.aso(scores_a, scores_b) tests "A better than B", so it is called as aso(b, a).
    """
    try:
        from deepsig import aso as deepsig_aso
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "erbench.stats.aso needs the optional package deep-significance (GPL-3.0): pip install deepsig"
        ) from err
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**31 - 1))
    state = np.random.get_state()  # deepsig seeds NumPy's global RNG; leave it as we found it
    try:
        eps = deepsig_aso(
            [float(v) for v in b],
            [float(v) for v in a],
            confidence_level=confidence,
            num_bootstrap_iterations=num_bootstrap,
            num_jobs=1,
            show_progress=False,
            seed=int(seed),
        )
    finally:
        np.random.set_state(state)
    return float(eps)


# ---------------------------------------------------------------- sentence-level approximate randomization


def micro_f1_from_array(counts: np.ndarray) -> np.ndarray:
    """Micro F1 (fraction, zero_division=0) of pooled counts [..., types, 3] (tp, fp, fn) -> [...]."""
    tp, fp, fn = np.moveaxis(np.asarray(counts, dtype=float).sum(axis=-2), -1, 0)
    den = 2 * tp + fp + fn
    return np.divide(2 * tp, den, out=np.zeros_like(den), where=den > 0)


def macro_f1_from_array(counts: np.ndarray) -> np.ndarray:
    """Macro F1 (fraction) of pooled counts [..., types, 3]: mean per-type F1 over the types with any
    gold or predicted occurrence (as benchmark.scoring; zero_division=0; 0 when there is none)."""
    tp, fp, fn = np.moveaxis(np.asarray(counts, dtype=float), -1, 0)
    den = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, den, out=np.zeros_like(den), where=den > 0)
    present = (den > 0).sum(axis=-1)
    return np.divide(f1.sum(axis=-1), present, out=np.zeros(present.shape), where=present > 0)


def counts_to_arrays(
    counts_a: Sequence[DocCounts], counts_b: Sequence[DocCounts]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Dense [docs, types, 3] count arrays of two systems on the same documents, and the sorted types."""
    if len(counts_a) != len(counts_b):
        raise ValueError(f"systems scored different numbers of documents: {len(counts_a)} vs {len(counts_b)}")
    types = sorted({t for doc in (*counts_a, *counts_b) for t in doc}, key=str)
    index = {t: i for i, t in enumerate(types)}
    arrays = []
    for counts in (counts_a, counts_b):
        arr = np.zeros((len(counts), len(types), 3), dtype=np.int64)
        for d, doc in enumerate(counts):
            for t, c in doc.items():
                arr[d, index[t]] = c
        arrays.append(arr)
    return arrays[0], arrays[1], types


def _count_arrays(counts_a, counts_b) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(counts_a, np.ndarray) and isinstance(counts_b, np.ndarray):
        arr_a, arr_b = counts_a, counts_b
        if arr_a.shape != arr_b.shape or arr_a.ndim != 3 or arr_a.shape[-1] != 3:
            raise ValueError(f"count arrays need one [docs, types, 3] shape: {arr_a.shape}, {arr_b.shape}")
    else:
        arr_a, arr_b, _ = counts_to_arrays(counts_a, counts_b)
    if arr_a.shape[0] == 0:
        raise ValueError("approximate randomization needs at least one document")
    gold_a, gold_b = arr_a[..., 0] + arr_a[..., 2], arr_b[..., 0] + arr_b[..., 2]
    if not np.array_equal(gold_a, gold_b):
        doc = int(np.flatnonzero((gold_a != gold_b).any(axis=1))[0])
        raise ValueError(f"gold counts (tp + fn) differ at document {doc}: the systems are not paired")
    return arr_a, arr_b


def approximate_randomization(
    counts_a: Sequence[DocCounts] | np.ndarray,
    counts_b: Sequence[DocCounts] | np.ndarray,
    metric_fn: MetricFn = micro_f1_from_array,
    *,
    seed: Seed,
    trials: int = 10000,
    batch: int = AR_BATCH,
) -> float:
    """Paired approximate randomization p-value of |metric(b) - metric(a)| on the same documents.

    counts_*: per document, type -> (tp, fp, fn) (as benchmark.scoring.document_counts), or dense
    [docs, types, 3] arrays. metric_fn maps POOLED counts [..., types, 3] to scores [...] and must be
    vectorised over leading axes (micro_f1_from_array, macro_f1_from_array). Each trial swaps the two
    systems' statistics of each document with probability 1/2 (one swap draw per document, shared by
    all its types and by both systems); p = (#{trial diff >= observed} + 1) / (trials + 1).
    """
    arr_a, arr_b = _count_arrays(counts_a, counts_b)
    n_docs, inner = arr_a.shape[0], arr_a.shape[1:]
    total_a, total_b = arr_a.sum(axis=0).astype(float), arr_b.sum(axis=0).astype(float)
    observed = abs(float(metric_fn(total_b)) - float(metric_fn(total_a)))
    tol = 1e-12 * max(1.0, observed)
    delta = (arr_b - arr_a).reshape(n_docs, -1).astype(float)  # what moves from b to a when a doc swaps
    rng = _rng(seed)
    hits = 0
    for start in range(0, trials, batch):
        size = min(batch, trials - start)
        swap = (rng.random((size, n_docs)) < 0.5).astype(float)
        moved = (swap @ delta).reshape(size, *inner)  # integer-valued, exact in float64
        diff = np.abs(metric_fn(total_b - moved) - metric_fn(total_a + moved))
        hits += int(np.count_nonzero(diff >= observed - tol))
    return (hits + 1) / (trials + 1)


# ---------------------------------------------------------------- corrections and power


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


# ---------------------------------------------------------------- one comparison, everything reported


@dataclass(frozen=True)
class Comparison:
    n: int
    mean_diff: float  # mean of b - a
    diff_ci_low: float  # paired bootstrap CI of the mean difference
    diff_ci_high: float
    t_pvalue: float
    wilcoxon_pvalue: float
    aso_epsilon: float  # nan when ASO was not run
    ar_pvalue: float | None  # None without per-document counts
    min_attainable_pvalue: dict[str, float]  # per test, the smallest p it can reach with this n


def compare_paired(
    a: Sequence[float],
    b: Sequence[float],
    *,
    seed: Seed,
    n_boot: int = 10000,
    confidence: float = 0.95,
    aso_confidence: float = 0.95,
    aso_bootstrap: int = 1000,
    with_aso: bool = True,
    counts_a: Sequence[DocCounts] | np.ndarray | None = None,
    counts_b: Sequence[DocCounts] | np.ndarray | None = None,
    metric_fn: MetricFn = micro_f1_from_array,
    ar_trials: int = 10000,
) -> Comparison:
    """Baseline a vs challenger b, paired per seed (and fold). With an int seed every randomised part
    uses that same seed, so each number equals its own function's result for that seed."""
    _, _, d = _paired(a, b)
    n = int(d.size)
    low, high = paired_bootstrap_ci(a, b, seed=seed, n_boot=n_boot, confidence=confidence)
    min_p = {"t": math.nan if n < 2 else 0.0, "wilcoxon": min_wilcoxon_pvalue(n)}
    ar = None
    if (counts_a is None) != (counts_b is None):
        raise ValueError("approximate randomization needs counts_a and counts_b together")
    if counts_a is not None:
        ar = approximate_randomization(counts_a, counts_b, metric_fn, seed=seed, trials=ar_trials)
        min_p["ar"] = 1.0 / (ar_trials + 1)
    eps = math.nan
    if with_aso:
        eps = aso(a, b, seed=seed, confidence=aso_confidence, num_bootstrap=aso_bootstrap)
    return Comparison(
        n=n,
        mean_diff=float(d.mean()) if n else math.nan,
        diff_ci_low=low,
        diff_ci_high=high,
        t_pvalue=paired_t_test(a, b),
        wilcoxon_pvalue=wilcoxon_test(a, b),
        aso_epsilon=eps,
        ar_pvalue=ar,
        min_attainable_pvalue=min_p,
    )


def decision_note(n: int, alpha: float = ALPHA) -> str:
    """The sentence printed under a table: which test decides the markers, and a warning for small n."""
    note = (
        f"Markers: two-sided paired t-test on per-seed scores (n={n}), Holm-corrected across the comparisons "
        f"of this table, alpha={alpha:g}; reported beside it: ASO epsilon_min (deep-significance, b better "
        f"when < {ASO_THRESHOLD:g}, strict tau={ASO_TAU:g}) and sentence-level approximate randomization "
        "on pooled test predictions."
    )
    if n < 2:
        note += f" Warning: with n={n} the paired t-test is undefined; no markers."
    min_w = min_wilcoxon_pvalue(n)
    if not min_w < alpha:
        note += (
            f" Warning: with n={n} the exact two-sided Wilcoxon test cannot reach p < {alpha:g} "
            f"(smallest attainable p = {min_w:g}), so it is not used for markers."
        )
    return note
