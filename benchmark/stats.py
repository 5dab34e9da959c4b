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
marker's model). Reported beside it, never replacing it: ASO (``epsilon_min`` of Almost Stochastic Order,
at confidence 1 - alpha/m for a family of m; b is flagged almost stochastically better with the strict
tau = 0.2) and the sentence-level approximate randomization test on pooled test predictions (on
per-document sufficient statistics with one swap per document and trial, shared by both systems and by
every seed's copy of the document).

Conventions: ``a`` is the baseline, ``b`` the challenger, differences are ``b - a``; inputs are paired by
position. Every random function takes an explicit ``seed`` (an int or a ``numpy.random.Generator``);
nothing here touches a global RNG (deepsig seeds NumPy's global RNG, so ``aso`` restores its state) or
does I/O. deepsig (GPL-3.0) is an optional dependency imported inside ``aso`` only.
"""

from __future__ import annotations

import importlib
import inspect
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
    return bool(np.ptp(d) <= 1e-12 * _scale(x, y))


def t_interval(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of mean(b - a) over the pairs (the paired t-test's model); nan for
    n < 2 and where every difference is equal (no estimate of noise)."""
    x, y, d = _paired(a, b)
    if d.size < 2 or _no_noise(x, y, d):
        return math.nan, math.nan
    half = float(scipy.stats.t.ppf((1 + confidence) / 2, d.size - 1)) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return float(d.mean()) - half, float(d.mean()) + half


def paired_t_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided paired t-test p-value; 1.0 for identical systems; nan for n < 2 and for a constant
    non-zero difference (sd 0: no estimate of noise, no t-test verdict; see ``sign_flip_test``)."""
    x, y, d = _paired(a, b)
    if d.size < 2:
        return math.nan
    if np.max(np.abs(d)) <= 1e-12 * _scale(x, y):
        return 1.0
    if _no_noise(x, y, d):
        return math.nan
    return float(scipy.stats.ttest_rel(y, x).pvalue)


def sign_flip_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Exact two-sided sign-flip (paired permutation) p-value of mean(b - a), enumerating all 2^n sign
    patterns (scipy.stats.permutation_test; Monte Carlo with 100000 draws above n=16). A constant
    non-zero difference gets its smallest attainable value, 2 / 2^n."""
    x, y, d = _paired(a, b)
    if d.size == 0:
        return math.nan
    r = np.round(d / _scale(x, y), 12) * _scale(x, y)  # float noise must not break the tie of equal means
    if not np.any(r):
        return 1.0
    if r.size == 1:  # scipy needs two observations; the two sign patterns of one give |mean| equal: p = 1
        return 1.0
    res = scipy.stats.permutation_test((r,), np.mean, permutation_type="samples", alternative="two-sided",
                                       n_resamples=np.inf if r.size <= 16 else 100000, random_state=0)
    return float(res.pvalue)


def corrected_resampled_t_test(diffs: Sequence[float], test_train_ratio: float) -> float:
    """Nadeau & Bengio's (2003) corrected repeated-resampling t-test on fold-level differences b - a.

    The variance of the mean is inflated from s^2 / J to (1/J + n_test/n_train) s^2 because the J
    resamples (here seeds x folds) share training data; for k-fold cross-validation n_test/n_train is
    1/(k-1). Two-sided, J - 1 degrees of freedom; nan for J < 2 and for a constant difference.
    """
    d = np.asarray(diffs, dtype=float).ravel()
    if d.size < 2:
        return math.nan
    if test_train_ratio <= 0:
        raise ValueError(f"test_train_ratio must be > 0, got {test_train_ratio}")
    scale = max(1.0, float(np.max(np.abs(d))))
    if np.max(np.abs(d)) <= 1e-12 * scale:
        return 1.0
    if np.ptp(d) <= 1e-12 * scale:
        return math.nan
    se = math.sqrt((1 / d.size + test_train_ratio) * float(d.var(ddof=1)))
    return float(2 * scipy.stats.t.sf(abs(float(d.mean())) / se, d.size - 1))


def tost(a: Sequence[float], b: Sequence[float], margin: float) -> float:
    """Two one-sided paired t-tests of equivalence: p < alpha says |mean(b - a)| < margin at level alpha
    (max of scipy's one-sided ttest_1samp against -margin and +margin); nan without an estimate of noise."""
    x, y, d = _paired(a, b)
    if margin <= 0:
        raise ValueError(f"equivalence margin must be > 0, got {margin}")
    if d.size < 2 or _no_noise(x, y, d):
        return math.nan
    low = scipy.stats.ttest_1samp(d, -margin, alternative="greater").pvalue
    high = scipy.stats.ttest_1samp(d, margin, alternative="less").pvalue
    return float(max(low, high))


def cohens_dz(a: Sequence[float], b: Sequence[float]) -> float:
    """Standardised paired effect size d_z = mean(b - a) / sd(b - a); nan for n < 2 or sd 0."""
    x, y, d = _paired(a, b)
    if d.size < 2 or _no_noise(x, y, d):
        return math.nan
    return float(d.mean() / d.std(ddof=1))


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
    """epsilon_min of ASO that b is stochastically dominant over a (flag b better when < ASO_TAU);
    equal to deepsig.aso(b, a, ...) for the same seed. See ``aso_with_se``."""
    return aso_with_se(a, b, seed=seed, confidence=confidence, num_bootstrap=num_bootstrap)[0]


def aso_with_se(
    a: Sequence[float], b: Sequence[float], *, seed: Seed, confidence: float = 0.95, num_bootstrap: int = 1000
) -> tuple[float, float]:
    """(epsilon_min, its Monte Carlo standard error) of ASO that b is stochastically dominant over a.

    Computed with deepsig's own pieces, as deepsig.aso does (deepsig.aso(scores_a, scores_b) tests
    "A better than B", so b goes first): epsilon_min = eps_W2 - sigma_hat / c * z_{1-confidence}, where
    sigma_hat is c times the sd of the B bootstrap violation ratios. Only sigma_hat is random given the
    scores; its Monte Carlo se is sqrt((m4 - s^4) / B) / (2 s) of those ratios (delta method), so
    se(epsilon_min) = |z| * that. For a family of m comparisons pass confidence = 1 - alpha/m
    (Bonferroni); deepsig's num_comparisons moves the confidence only part of the way and is not used.
    """
    module = _deepsig()
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**31 - 1))
    scores_a, scores_b = np.asarray(b, dtype=float), np.asarray(a, dtype=float)
    dt = inspect.signature(module.aso).parameters["dt"].default  # as deepsig.aso integrates
    state = np.random.get_state()  # deepsig seeds NumPy's global RNG; leave it as we found it
    try:
        ratio = module.compute_violation_ratio(scores_a=scores_a, scores_b=scores_b, dt=dt)
        samples = np.array(module.get_bootstrapped_violation_ratios(
            scores_a, scores_b, module.get_quantile_function(scores_a), module.get_quantile_function(scores_b),
            num_bootstrap, dt, 1, False, int(seed), None))
    finally:
        np.random.set_state(state)
    const = math.sqrt(scores_a.size * scores_b.size / (scores_a.size + scores_b.size))
    z = float(scipy.stats.norm.ppf(1 - confidence))
    sigma = float(np.std(const * (samples - ratio)))
    eps = float(np.clip(ratio - sigma / const * z, 0, 1))
    s = float(samples.std())
    if samples.size < 2 or s == 0:
        return eps, 0.0
    m4 = float(np.mean((samples - samples.mean()) ** 4))
    se = abs(z) * math.sqrt(max(m4 - s**4, 0.0) / samples.size) / (2 * s)
    return eps, se


def _deepsig():
    try:
        module = importlib.import_module("deepsig.aso")  # the module (the package re-exports the function)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "erbench.stats.aso needs the optional package deep-significance (GPL-3.0): pip install deepsig"
        ) from err
    return module


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
    groups: Sequence[int] | np.ndarray | None = None,
) -> float:
    """Paired approximate randomization p-value of |metric(b) - metric(a)| on the same documents.

    counts_*: per document, type -> (tp, fp, fn) (as benchmark.scoring.document_counts), or dense
    [docs, types, 3] arrays. metric_fn maps POOLED counts [..., types, 3] to scores [...] and must be
    vectorised over leading axes (micro_f1_from_array, macro_f1_from_array). Each trial swaps the two
    systems' statistics of each document with probability 1/2 (one swap draw per document, shared by
    all its types and by both systems); p = (#{trial diff >= observed} + 1) / (trials + 1).

    groups: one id per row; rows with the same id are copies of one document (the same test sentence
    scored in several seeds' runs) and share one swap decision, so pooling seeds adds no evidence the
    documents do not carry: repeating identical runs leaves p unchanged. None: every row its own document.
    """
    arr_a, arr_b = _count_arrays(counts_a, counts_b)
    n_rows, inner = arr_a.shape[0], arr_a.shape[1:]
    total_a, total_b = arr_a.sum(axis=0).astype(float), arr_b.sum(axis=0).astype(float)
    observed = abs(float(metric_fn(total_b)) - float(metric_fn(total_a)))
    tol = 1e-12 * max(1.0, observed)
    delta = (arr_b - arr_a).reshape(n_rows, -1).astype(float)  # what moves from b to a when a doc swaps
    if groups is not None:
        ids = np.asarray(groups).ravel()
        if ids.shape != (n_rows,):
            raise ValueError(f"groups needs one id per document row: {ids.size} ids for {n_rows} rows")
        _, inverse = np.unique(ids, return_inverse=True)
        merged = np.zeros((int(inverse.max()) + 1, delta.shape[1]))
        np.add.at(merged, inverse, delta)  # the copies of a document swap together: add their deltas
        delta = merged
    n_docs = delta.shape[0]
    rng = _rng(seed)
    hits = 0
    for start in range(0, trials, batch):
        size = min(batch, trials - start)
        swap = (rng.random((size, n_docs)) < 0.5).astype(float)
        moved = (swap @ delta).reshape(size, *inner)  # integer-valued, exact in float64
        diff = np.abs(metric_fn(total_b - moved) - metric_fn(total_a + moved))
        hits += int(np.count_nonzero(diff >= observed - tol))
    return (hits + 1) / (trials + 1)


def ar_mc_se(pvalue: float | None, trials: int) -> float | None:
    """Monte Carlo standard error of an approximate-randomization p-value from `trials` trials:
    sqrt(p (1 - p) / trials) (binomial count of exceedances)."""
    if pvalue is None or math.isnan(pvalue) or trials < 1:
        return None
    return math.sqrt(pvalue * (1 - pvalue) / trials)


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


def partial_conjunction(pvalues: Sequence[float], alpha: float = ALPHA) -> tuple[list[float], int]:
    """Replicability over N datasets (Benjamini & Heller 2008; Dror et al. 2017).

    pvalues: one one-sided p per dataset. The Bonferroni partial-conjunction p-value of "the effect
    holds on at least u of the N datasets" is (N - u + 1) p_(u); made monotone in u, the largest u
    whose value is <= alpha is the number of datasets on which the effect is established with the
    familywise error controlled. Returns (monotone p-values for u = 1..N, that count). nan p-values
    are left out of N.
    """
    p = np.sort(np.asarray([v for v in pvalues if not math.isnan(v)], dtype=float))
    n = p.size
    if n == 0:
        return [], 0
    pc = np.maximum.accumulate(np.minimum(1.0, (n - np.arange(n)) * p))
    return pc.tolist(), int(np.count_nonzero(pc <= alpha))


# ---------------------------------------------------------------- one comparison, everything reported


@dataclass(frozen=True)
class Comparison:
    n: int  # paired seeds (folds averaged per seed)
    mean_diff: float  # mean of b - a
    diff_ci_low: float  # Student-t interval of the mean difference (nan: n < 2 or no estimate of noise)
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
    the paired t-test on the per-seed means. With an int seed every randomised part uses that same seed,
    so each number equals its own function's result for that seed."""
    if fold_test not in ("seed", "corrected"):
        raise ValueError(f"fold_test must be 'seed' or 'corrected', got {fold_test!r}")
    x, y, d = _paired(a, b)
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
    if fold_diffs is not None and n_folds >= 2:
        corrected = corrected_resampled_t_test(fold_diffs, 1 / (n_folds - 1))
    if fold_test == "corrected" and fold_diffs is not None and n_folds >= 2:
        test, decision = "corrected-t", corrected
        if math.isnan(decision) and len(fold_diffs) >= 2:
            test, decision = "sign-flip", flip_p
    elif n >= 2 and math.isnan(t_p):
        test, decision = "sign-flip", flip_p  # sd 0: no t-test verdict, the exact permutation p decides
    else:
        test, decision = "t", t_p
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
    )


def family_phrase(families: Mapping[str, int]) -> str:
    """What each Holm family is: 'spert (12 comparisons: every other method vs spert on every dataset and
    column)'; families are per baseline (one table of comparisons each)."""
    return "; ".join(f"{b} ({m} comparison{'s' if m != 1 else ''}: every method compared with {b} on every "
                     "dataset and column)" for b, m in families.items())


def decision_note(n: int, alpha: float = ALPHA, families: Mapping[str, int] | None = None, *, folds: bool = False,
                  fold_test: str = "seed", equivalence_margin: float = 1.0) -> str:
    """The sentence printed under a table: which test decides the markers, over which Holm families,
    and warnings for small n."""
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
    note = (
        f"Markers: two-sided paired t-test on {unit} (n={n} seeds), Holm-corrected {where}, alpha={alpha:g}; "
        "where every per-seed difference is equal there is no estimate of noise and the exact sign-flip "
        f"test decides (smallest p = 2/2^n). Intervals of Δ: Student-t. Power and seeds needed are computed at "
        f"Holm's most demanding level alpha/m (m = the family's size; {alpha / worst:.2g} for m={worst}). "
        f"Equivalence: TOST at ±{equivalence_margin:g} F1 points, Holm within the family. Reported beside "
        "the marker: ASO epsilon_min (deep-significance) at confidence 1 - alpha/m, b flagged almost "
        f"stochastically better when epsilon_min < tau={ASO_TAU:g}, and sentence-level approximate "
        "randomization on pooled test predictions (one swap per document shared by every seed's copy)."
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
