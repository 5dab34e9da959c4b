"""Golden, invariance and determinism tests of erbench.stats (fixed seeds, CPU only, fast)."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
import scipy.stats
from erbench import stats
from hypothesis import given, settings
from hypothesis import strategies as st

T_975_DF2 = 4.30265272975  # Student t quantile 0.975 with 2 degrees of freedom


def _scores(seed: int, n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = 0.6 + 0.02 * rng.standard_normal(n)
    return a, a + shift + 0.01 * rng.standard_normal(n)


def _doc_counts(seed: int, n_docs: int, gain: int = 0) -> tuple[list[dict], list[dict]]:
    """Two systems on the same documents (same gold); b finds `gain` more true positives per document."""
    rng = np.random.default_rng(seed)
    docs_a, docs_b = [], []
    for _ in range(n_docs):
        doc_a, doc_b = {}, {}
        for t in ("Work_For", "Kill", "Live_In"):
            if rng.random() < 0.3:
                continue
            gold = int(rng.integers(1, 5)) + gain
            tp_a, tp_b = int(rng.integers(0, gold - gain + 1)), int(rng.integers(0, gold - gain + 1))
            tp_b = min(gold, tp_b + gain) if gain else tp_b
            doc_a[t] = (tp_a, int(rng.integers(0, 3)), gold - tp_a)
            doc_b[t] = (tp_b, int(rng.integers(0, 3)), gold - tp_b)
        docs_a.append(doc_a)
        docs_b.append(doc_b)
    return docs_a, docs_b


# ---------------------------------------------------------------- summaries


def test_summarize_hand_computed():
    s = stats.summarize([1.0, 2.0, 3.0])
    half = T_975_DF2 * 1.0 / math.sqrt(3)
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)
    assert s.ci_low == pytest.approx(2.0 - half, rel=1e-10)
    assert s.ci_high == pytest.approx(2.0 + half, rel=1e-10)


def test_summarize_small_n():
    one = stats.summarize([0.7])
    assert (one.n, one.mean) == (1, 0.7) and math.isnan(one.std) and math.isnan(one.ci_low)
    assert stats.summarize([]).n == 0 and math.isnan(stats.summarize([]).mean)


def test_expected_max_equals_enumeration_of_k_subsets():
    scores = np.random.default_rng(3).normal(70, 1, size=7)
    for k in range(1, 8):
        subsets = [max(c) for c in itertools.combinations(scores, k)]
        assert stats.expected_max(scores, k) == pytest.approx(np.mean(subsets), rel=1e-12)
    assert stats.expected_max(scores, 1) == pytest.approx(np.mean(scores))
    assert stats.expected_max([0.0, 1.0], 2) == 1.0  # the only 2-subset has maximum 1 (with replacement: 0.75)
    assert math.isnan(stats.expected_max(scores, 8))  # k > n: no k-subset to take the maximum of
    with pytest.raises(ValueError):
        stats.expected_max(scores, 0)


def test_expected_max_unbiased_by_simulation():
    """N(0,1), n=5 observed seeds, k=3: the estimator's mean is E[max of 3] = 0.8463 (plug-in: biased low)."""
    draws = np.random.default_rng(0).standard_normal((4000, 5))
    est = np.array([stats.expected_max(row, 3) for row in draws])
    true = 3 / (2 * math.sqrt(math.pi))  # E[max of 3 N(0,1)] = 3 / (2 sqrt(pi))
    assert abs(est.mean() - true) < 4 * est.std() / math.sqrt(est.size)


# ---------------------------------------------------------------- seed-level tests


@pytest.mark.parametrize("n", [3, 5, 10])
def test_paired_tests_equal_scipy(n):
    a, b = _scores(n, n, shift=0.01)
    assert stats.paired_t_test(a, b) == pytest.approx(scipy.stats.ttest_rel(b, a).pvalue, rel=1e-12)
    expected = scipy.stats.wilcoxon(b, a, method="exact").pvalue
    assert stats.wilcoxon_test(a, b) == pytest.approx(expected, rel=1e-12)


def test_wilcoxon_with_ties_and_zeros_equals_scipy_auto():
    a = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    d = np.array([0.0, 0.25, 0.25, -0.125, 0.5, 0.375])
    assert stats.wilcoxon_test(a, a + d) == pytest.approx(scipy.stats.wilcoxon(d).pvalue, rel=1e-12)


def test_identical_systems_never_significant():
    a, _ = _scores(0, 5)
    assert stats.paired_t_test(a, a.copy()) == 1.0
    assert stats.wilcoxon_test(a, a.copy()) == 1.0
    docs, _ = _doc_counts(0, 50)
    assert stats.approximate_randomization(docs, docs, seed=0, trials=500) == 1.0


def test_constant_gain_has_no_t_verdict_and_falls_back_to_sign_flip():
    a = np.array([0.60, 0.61, 0.62, 0.605, 0.615])
    assert math.isnan(stats.paired_t_test(a, a + 0.05))  # sd 0 (up to float noise): no estimate of noise
    assert math.isnan(stats.paired_t_test([0.5], [0.6]))
    assert stats.sign_flip_test(a, a + 0.05) == pytest.approx(2 / 2**5)
    cmp = stats.compare_paired(a, a + 0.05, seed=0, with_aso=False)
    assert cmp.decision_test == "sign-flip" and cmp.decision_pvalue == pytest.approx(0.0625)
    assert math.isnan(cmp.diff_ci_low) and math.isnan(cmp.cohens_dz)
    assert cmp.tost_pvalue == pytest.approx(1 / 2**5)  # a constant 0.05 lies inside the +-1 margin
    noisy = stats.compare_paired(a, a + [0.05, 0.04, 0.06, 0.05, 0.03], seed=0, with_aso=False)
    assert noisy.decision_test == "t" and noisy.decision_pvalue == noisy.t_pvalue


def test_sign_flip_equals_enumeration():
    d = np.array([0.7, -0.2, 1.1, 0.4])
    observed = abs(d.mean())
    flips = [abs((d * np.array(s)).mean()) >= observed - 1e-12 for s in itertools.product([1, -1], repeat=4)]
    assert stats.sign_flip_test(np.zeros(4), d) == pytest.approx(np.mean(flips))
    assert stats.sign_flip_test([0.5], [0.7]) == 1.0  # one pair: both sign patterns are as extreme


def test_wilcoxon_min_attainable_pvalue():
    assert stats.min_wilcoxon_pvalue(3) == 0.25
    assert stats.min_wilcoxon_pvalue(5) == 0.0625
    for n in (3, 5):  # all differences positive and distinct: the exact test reaches its floor
        a = np.full(n, 0.5)
        assert stats.wilcoxon_test(a, a + 0.01 * np.arange(1, n + 1)) == stats.min_wilcoxon_pvalue(n)
        cmp = stats.compare_paired(a, a + 0.01 * np.arange(1, n + 1), seed=0, with_aso=False)
        assert cmp.min_attainable_pvalue["wilcoxon"] == stats.min_wilcoxon_pvalue(n)


def test_t_interval_equals_scipy():
    a, b = _scores(1, 5, shift=0.01)
    expected = scipy.stats.ttest_rel(b, a).confidence_interval(0.95)
    assert stats.t_interval(a, b) == pytest.approx((expected.low, expected.high), rel=1e-12)
    assert all(math.isnan(v) for v in stats.t_interval([0.5], [0.6]))


@pytest.mark.parametrize("n", [3, 4])
def test_t_interval_covers_at_small_n(n):
    """Simulated coverage of the 95% interval of the mean difference at 3-4 seeds (the percentile
    bootstrap covered 76-78% here)."""
    rng = np.random.default_rng(n)
    a = rng.normal(70, 1, size=(3000, n))
    b = a + 0.5 + rng.normal(0, 1, size=(3000, n))
    hits = [lo <= 0.5 <= hi for lo, hi in (stats.t_interval(x, y) for x, y in zip(a, b))]
    assert np.mean(hits) >= 0.93


def test_tost_of_identical_systems_is_the_exact_sign_flip_test():
    """All differences equal: no t-test, but the exact one-sided sign-flip tests of d + margin and
    margin - d (scipy's permutation_test), so identical systems are equivalent once n seeds allow it."""
    a = np.array([0.60, 0.61, 0.62, 0.605, 0.615])
    assert stats.tost(a, a.copy(), 1.0) == pytest.approx(1 / 2**5)  # equivalent at 5% with 5 seeds
    assert stats.tost(a[:3], a[:3].copy(), 1.0) == pytest.approx(1 / 2**3)  # 3 seeds cannot show it at 5%
    assert stats.tost(a, a + 0.5, 1.0) == pytest.approx(1 / 2**5)  # constant, inside the margin
    assert stats.tost(a, a + 1.5, 1.0) == 1.0  # constant, outside
    shifted = np.zeros(5) + 1.0
    ref = scipy.stats.permutation_test((shifted,), np.mean, permutation_type="samples", alternative="greater",
                                       n_resamples=np.inf).pvalue
    assert stats.tost(a, a.copy(), 1.0) == pytest.approx(ref)
    cmp = stats.compare_paired(a, a.copy(), seed=0, with_aso=False)
    assert cmp.tost_pvalue == pytest.approx(1 / 32)
    # type-I error of the equivalence claim under a true difference at the margin, noise-free: never
    assert stats.tost(a, a + 1.0, 1.0) == 1.0


def test_tost_known_cases_and_scipy():
    a = np.full(5, 70.0)
    close = a + np.array([0.1, -0.1, 0.05, 0.0, 0.02])
    assert stats.tost(a, close, 1.0) < 0.001  # tiny differences, tiny noise: equivalent within 1 point
    assert stats.tost(a, a + np.array([2.0, -2.0, 1.0, 0.5, -1.5]), 1.0) > 0.1  # noisy: inconclusive at 5%
    assert stats.tost(a, a + np.array([3.1, 2.9, 3.0, 3.05, 2.95]), 1.0) > 0.99  # clearly 3 points apart
    d = close - a
    low = scipy.stats.ttest_1samp(d, -1.0, alternative="greater").pvalue
    high = scipy.stats.ttest_1samp(d, 1.0, alternative="less").pvalue
    assert stats.tost(a, close, 1.0) == pytest.approx(max(low, high), rel=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(200):  # duality: TOST p < 0.05 exactly when the 90% t interval lies inside (-1, 1)
        x = rng.normal(70, 1, 4)
        y = x + rng.normal(rng.uniform(-1.5, 1.5), rng.uniform(0.05, 1), 4)
        lo, hi = stats.t_interval(x, y, confidence=0.90)
        assert (stats.tost(x, y, 1.0) < 0.05) == (-1 < lo and hi < 1)
    with pytest.raises(ValueError):
        stats.tost(a, close, 0.0)


def test_cohens_dz_from_scipy_t():
    a, b = _scores(4, 6, shift=0.01)
    t = scipy.stats.ttest_rel(b, a).statistic
    assert stats.cohens_dz(a, b) == pytest.approx(t / math.sqrt(6), rel=1e-12)


def test_corrected_resampled_t_from_scipy():
    d = np.random.default_rng(2).normal(0.3, 1.0, 30)  # 3 seeds x 10 folds
    t = scipy.stats.ttest_1samp(d, 0.0).statistic * math.sqrt((1 / 30) / (1 / 30 + 1 / 9))
    expected = 2 * scipy.stats.t.sf(abs(t), 29)
    assert stats.corrected_resampled_t_test(d, 1 / 9) == pytest.approx(expected, rel=1e-10)
    assert stats.corrected_resampled_t_test(d, 1 / 9) > scipy.stats.ttest_1samp(d, 0.0).pvalue


def test_corrected_interval_covers_at_its_level_and_matches_the_test():
    """k-fold differences share a training-set effect: d_j = mu + sqrt(rho) Z0 + sqrt(1 - rho) Z_j with
    rho = n_test / n_total = 1/k, the correlation Nadeau & Bengio's correction assumes. The corrected 95%
    interval covers mu in 95% of repetitions (± 3 Monte Carlo se); the plain t interval on the same folds
    covers far less. The interval excludes 0 exactly when the corrected test rejects at 5%."""
    rng = np.random.default_rng(5)
    reps, k, mu = 3000, 10, 1.5
    rho = 1 / k
    d = mu + math.sqrt(rho) * rng.normal(0, 1, (reps, 1)) + math.sqrt(1 - rho) * rng.normal(0, 1, (reps, k))
    intervals = np.array([stats.corrected_resampled_interval(row, 1 / (k - 1)) for row in d])
    covered = np.mean((intervals[:, 0] <= mu) & (mu <= intervals[:, 1]))
    se = math.sqrt(0.05 * 0.95 / reps)
    assert abs(covered - 0.95) < 3 * se
    plain = scipy.stats.ttest_1samp(d, mu, axis=1).pvalue >= 0.05  # the uncorrected t interval covers mu
    assert np.mean(plain) < 0.95 - 10 * se
    for row, (low, high) in zip(d[:200] - mu + 0.8, intervals[:200] - mu + 0.8):  # shifted: some reject, some not
        rejects = stats.corrected_resampled_t_test(row, 1 / (k - 1)) < 0.05
        assert rejects == (low > 0 or high < 0)
    assert all(math.isnan(x) for x in stats.corrected_resampled_interval([1.0, 1.0, 1.0], 0.5))
    assert all(math.isnan(x) for x in stats.corrected_resampled_interval([1.0], 0.5))


def test_fold_design_type_one_error():
    """Null data, 3 seeds x 10 folds, a seed effect shared by the folds of a seed (one seed fixes the
    initialisation and data order of every fold). Folds averaged per seed, the marker's test keeps its 5%
    (± 3 Monte Carlo se); the (seed, fold)-unit t-test the report used before rejects far more often."""
    from erbench.report.compare import per_seed_means

    rng = np.random.default_rng(0)
    reps, seeds, folds = 1500, 3, 10
    units = [(s, f) for s in range(seeds) for f in range(folds)]
    d = rng.normal(0, 1, (reps, seeds, 1)) + rng.normal(0, 1, (reps, seeds, folds))
    a = rng.normal(70, 1, (reps, seeds, folds))
    b = a + d
    rejected = []
    for x, y in zip(a.reshape(reps, -1), b.reshape(reps, -1)):
        rejected.append(stats.paired_t_test(per_seed_means(units, x), per_seed_means(units, y)) < 0.05)
    se = math.sqrt(0.05 * 0.95 / reps)
    assert abs(np.mean(rejected) - 0.05) < 3 * se
    unit_level = np.mean(scipy.stats.ttest_1samp(d.reshape(reps, -1), 0.0, axis=1).pvalue < 0.05)
    assert unit_level > 0.3
    # the corrected resampled t-test on independent (seed, fold) differences stays at or below 5%
    indep = rng.normal(0, 1, (reps, seeds * folds))
    corrected = np.mean([stats.corrected_resampled_t_test(row, 1 / (folds - 1)) < 0.05 for row in indep])
    assert corrected < 0.05 + 3 * se


@pytest.mark.filterwarnings("ignore:Division by zero encountered in violation ratio")
def test_aso_direction_identity_and_global_rng():
    pytest.importorskip("deepsig")
    a = np.array([0.60, 0.61, 0.62, 0.605, 0.615])
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    same = stats.aso(a, a.copy(), seed=0, num_bootstrap=100)
    better = stats.aso(a, a + 0.05, seed=0, num_bootstrap=100)
    worse = stats.aso(a + 0.05, a, seed=0, num_bootstrap=100)
    assert same >= stats.ASO_THRESHOLD  # identical systems: not significant (deepsig gives 1.0)
    assert better < stats.ASO_TAU and worse > stats.ASO_THRESHOLD
    assert np.array_equal(np.random.get_state()[1], before)


@pytest.mark.filterwarnings("ignore:Division by zero encountered in violation ratio")
def test_aso_with_se_equals_deepsig():
    deepsig = pytest.importorskip("deepsig")
    a, b = _scores(5, 5, shift=0.01)
    eps, se = stats.aso_with_se(a, b, seed=3, confidence=0.99, num_bootstrap=100)
    expected = deepsig.aso(b, a, confidence_level=0.99, num_bootstrap_iterations=100, seed=3, show_progress=False)
    assert eps == pytest.approx(expected, rel=1e-12) and eps == stats.aso(a, b, seed=3, confidence=0.99,
                                                                          num_bootstrap=100)
    assert 0 < se < 0.1


def test_compare_paired_fields():
    a, b = _scores(2, 5, shift=0.02)
    docs_a, docs_b = _doc_counts(2, 40, gain=1)
    cmp = stats.compare_paired(
        a, b, seed=3, with_aso=False, counts_a=docs_a, counts_b=docs_b, ar_trials=500
    )
    assert cmp.n == 5 and cmp.mean_diff == pytest.approx(float(np.mean(b - a)))
    assert (cmp.diff_ci_low, cmp.diff_ci_high) == stats.t_interval(a, b)
    assert cmp.cohens_dz == stats.cohens_dz(a, b) and cmp.tost_pvalue == stats.tost(a, b, 1.0)
    assert cmp.ar_mc_se == pytest.approx(math.sqrt(cmp.ar_pvalue * (1 - cmp.ar_pvalue) / 500))
    assert cmp.t_pvalue == stats.paired_t_test(a, b) and cmp.wilcoxon_pvalue == stats.wilcoxon_test(a, b)
    assert math.isnan(cmp.aso_epsilon)
    assert cmp.ar_pvalue == stats.approximate_randomization(docs_a, docs_b, seed=3, trials=500)
    assert cmp.min_attainable_pvalue == {"t": 0.0, "wilcoxon": 0.0625, "sign-flip": 0.0625, "ar": 1 / 501}
    assert stats.compare_paired(a, b, seed=3, with_aso=False).ar_pvalue is None
    with pytest.raises(ValueError):
        stats.compare_paired(a, b, seed=3, with_aso=False, counts_a=docs_a)


# ---------------------------------------------------------------- approximate randomization


def test_f1_helpers_hand_computed():
    pooled = np.array([[3, 1, 2], [0, 0, 0], [0, 2, 1]])  # types: (tp, fp, fn); the middle one is absent
    assert float(stats.micro_f1_from_array(pooled)) == pytest.approx(6 / (6 + 3 + 3))
    assert float(stats.macro_f1_from_array(pooled)) == pytest.approx((6 / 9 + 0.0) / 2)
    batch = np.stack([pooled, np.zeros_like(pooled)])
    assert stats.macro_f1_from_array(batch).tolist() == pytest.approx([1 / 3, 0.0])


def test_ar_constant_gain_always_significant():
    docs_a = [{"Work_For": (2, 1, 2)} for _ in range(200)]
    docs_b = [{"Work_For": (3, 1, 1)} for _ in range(200)]  # one more TP on every document
    for metric in (stats.micro_f1_from_array, stats.macro_f1_from_array):
        assert stats.approximate_randomization(docs_a, docs_b, metric, seed=0, trials=2000) < 0.01


def test_ar_symmetric_and_deterministic():
    docs_a, docs_b = _doc_counts(5, 120)
    p = stats.approximate_randomization(docs_a, docs_b, seed=11, trials=3000)
    assert 0.0 < p < 1.0
    assert stats.approximate_randomization(docs_b, docs_a, seed=11, trials=3000) == p
    assert stats.approximate_randomization(docs_a, docs_b, seed=11, trials=3000) == p
    assert stats.approximate_randomization(docs_a, docs_b, seed=12, trials=3000) != p


def test_ar_equals_naive_loop():
    docs_a, docs_b = _doc_counts(9, 30, gain=1)
    trials = 300
    swap = np.random.default_rng(4).random((trials, len(docs_a))) < 0.5

    def f1(docs):
        tp, fp, fn = (sum(c[i] for doc in docs for c in doc.values()) for i in range(3))
        return 2 * tp / (2 * tp + fp + fn)

    observed = abs(f1(docs_b) - f1(docs_a))
    hits = 0
    for row in swap:
        new_a = [b if s else a for a, b, s in zip(docs_a, docs_b, row, strict=True)]
        new_b = [a if s else b for a, b, s in zip(docs_a, docs_b, row, strict=True)]
        hits += abs(f1(new_b) - f1(new_a)) >= observed - 1e-12
    expected = (hits + 1) / (trials + 1)
    assert stats.approximate_randomization(docs_a, docs_b, seed=4, trials=trials, batch=trials) == expected


def test_ar_duplicated_seeds_leave_p_unchanged():
    """The same pair of outputs repeated S times (S seeds with identical runs) carries no more evidence:
    with one swap per document shared by its copies, p stays within Monte Carlo error of S=1."""
    docs_a, docs_b = _doc_counts(7, 60, gain=0)
    arr_a, arr_b, _ = stats.counts_to_arrays(docs_a, docs_b)
    trials = 4000
    base = stats.approximate_randomization(arr_a, arr_b, seed=1, trials=trials)
    se = math.sqrt(base * (1 - base) / trials)
    assert 0.05 < base < 0.95
    for copies in (3, 10):
        rep_a, rep_b = np.concatenate([arr_a] * copies), np.concatenate([arr_b] * copies)
        groups = np.tile(np.arange(len(docs_a)), copies)
        p = stats.approximate_randomization(rep_a, rep_b, seed=copies + 1, trials=trials, groups=groups)
        assert abs(p - base) < 4 * math.sqrt(2) * se
        # without the shared swap (every copy a new document) the same outputs look like new evidence
        assert stats.approximate_randomization(rep_a, rep_b, seed=copies + 1, trials=trials) < base - 4 * se
    with pytest.raises(ValueError, match="one id per document"):
        stats.approximate_randomization(arr_a, arr_b, seed=0, trials=10, groups=[0, 1])


def test_ar_rejects_unpaired_documents():
    with pytest.raises(ValueError, match="gold"):
        stats.approximate_randomization([{"Kill": (1, 0, 1)}], [{"Kill": (1, 0, 0)}], seed=0, trials=10)
    with pytest.raises(ValueError, match="numbers of documents"):
        stats.approximate_randomization([{}], [{}, {}], seed=0, trials=10)


def test_ar_500_docs_10000_trials_is_fast():
    docs_a, docs_b = _doc_counts(6, 500)
    arr_a, _, types = stats.counts_to_arrays(docs_a, docs_b)
    assert arr_a.shape == (500, len(types), 3)
    start = time.perf_counter()
    stats.approximate_randomization(docs_a, docs_b, seed=0, trials=10000)
    assert time.perf_counter() - start < 10.0  # ~0.1-0.3 s on a laptop; loose bound for busy CI machines


# ---------------------------------------------------------------- corrections and power


def test_holm_hand_computed():
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = stats.holm([0.01, math.nan, 0.04])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1]) and out[2] == pytest.approx(0.04)
    assert stats.holm([0.5, 0.6]) == [1.0, 1.0]
    assert stats.holm([]) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.floats(0.0, 1.0), st.just(math.nan), st.sampled_from([0.01, 0.02])), max_size=12),
    st.randoms(use_true_random=False),
)
def test_holm_order_invariant_and_monotone(pvalues, random):
    perm = list(range(len(pvalues)))
    random.shuffle(perm)
    adjusted = stats.holm(pvalues)
    shuffled = stats.holm([pvalues[i] for i in perm])
    assert np.array_equal(np.array(shuffled), np.array([adjusted[i] for i in perm]), equal_nan=True)
    for p, q in zip(pvalues, adjusted, strict=True):
        assert math.isnan(q) if math.isnan(p) else p <= q <= 1.0
    pairs = sorted((p, q) for p, q in zip(pvalues, adjusted, strict=True) if not math.isnan(p))
    assert all(q1 <= q2 for (_, q1), (_, q2) in itertools.pairwise(pairs))


def test_power_monotone_and_matches_simulation():
    assert stats.power_paired_t(1.0, 10, 0.0) == pytest.approx(0.05)
    by_n = [stats.power_paired_t(1.0, n, 0.5) for n in (3, 5, 10, 20, 40)]
    by_effect = [stats.power_paired_t(1.0, 10, e) for e in (0.1, 0.5, 1.0, 2.0)]
    assert by_n == sorted(by_n) and by_effect == sorted(by_effect)
    diffs = np.random.default_rng(0).normal(1.0, 1.0, size=(20000, 10))
    simulated = np.mean(scipy.stats.ttest_1samp(diffs, 0.0, axis=1).pvalue < 0.05)
    assert stats.power_paired_t(1.0, 10, 1.0) == pytest.approx(simulated, abs=0.015)


@pytest.mark.parametrize(("std", "effect"), [(1.0, 0.5), (0.8, 1.0), (0.3, 0.2), (2.0, 3.0)])
def test_seeds_needed_consistent_with_power(std, effect):
    n = stats.seeds_needed(std, effect)
    assert n is not None and n >= 2
    assert stats.power_paired_t(std, n, effect) >= 0.8
    assert n == 2 or stats.power_paired_t(std, n - 1, effect) < 0.8
    if n > 2:
        assert stats.seeds_needed(std, effect, max_n=n - 1) is None
    assert stats.seeds_needed(1.0, 0.0) is None


def test_power_at_holm_level_and_seeds_needed_range():
    from erbench.analysis.seeds import power_row

    a = np.array([70.0, 71.0, 69.5])
    b = a + np.array([0.4, 1.0, 0.1])
    sd = float(np.std(b - a, ddof=1))
    row = power_row(a, b, family_size=4)
    assert row.alpha == pytest.approx(0.0125) and row.family_size == 4
    assert row.power_effect == pytest.approx(stats.power_paired_t(sd, 3, 1.0, 0.0125))
    assert row.seeds_needed == stats.seeds_needed(sd, 1.0, 0.0125)
    assert row.seeds_needed_low <= row.seeds_needed <= row.seeds_needed_high
    assert "alpha/m=0.0125 (m=4)" in row.verdict(False)
    assert power_row(a, b).power_effect > row.power_effect  # the uncorrected level overstates power


def test_sd_bounds_cover_by_simulation():
    """The chi-square interval of the sd covers the true sd in ~95% of samples at n=3."""
    draws = np.random.default_rng(5).normal(0, 2.0, (3000, 3))
    hits = [lo <= 2.0 <= hi for lo, hi in (stats.sd_bounds(float(np.std(r, ddof=1)), 3) for r in draws)]
    assert abs(np.mean(hits) - 0.95) < 0.015
    low, high = stats.seeds_needed_range(1.0, 3, 1.0)
    assert low < stats.seeds_needed(1.0, 1.0) < high


def test_decision_note():
    assert stats.DECISION_TEST == "t"
    small, large = stats.decision_note(3), stats.decision_note(10)
    assert "paired t-test" in small and "Holm" in small and "ASO" in small
    fams = stats.decision_note(3, 0.05, {"spert": 12, "spert_mt": 8}, folds=True)
    assert "spert (12 comparisons: every method compared with spert" in fams and "spert_mt (8 comparisons" in fams
    assert "across the comparisons of this table" not in fams and "folds of each seed are averaged" in fams
    assert "alpha/m" in fams and "0.0042 for m=12" in fams
    assert "Nadeau-Bengio" in stats.decision_note(3, 0.05, {"spert": 2}, folds=True, fold_test="corrected")
    assert "0.25" in small and "Wilcoxon" in small and "Warning" in small
    assert "Warning" not in large
    assert "0.0625" in stats.decision_note(5)
