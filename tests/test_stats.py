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


def test_expected_max():
    scores = [0.3, 0.9, 0.5, 0.7]
    assert stats.expected_max(scores, 1) == pytest.approx(np.mean(scores))
    assert stats.expected_max([0.0, 1.0], 2) == pytest.approx(0.75)  # 1 - (1/2)^2
    assert stats.expected_max(scores, 500) == pytest.approx(0.9, abs=1e-12)
    values = [stats.expected_max(scores, k) for k in range(1, 10)]
    assert all(x <= y for x, y in itertools.pairwise(values))
    with pytest.raises(ValueError):
        stats.expected_max(scores, 0)


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


def test_constant_gain_t_and_float_noise():
    a = np.array([0.60, 0.61, 0.62, 0.605, 0.615])
    assert stats.paired_t_test(a, a + 0.05) == 0.0  # b - a is only equal up to float noise
    assert math.isnan(stats.paired_t_test([0.5], [0.6]))


def test_wilcoxon_min_attainable_pvalue():
    assert stats.min_wilcoxon_pvalue(3) == 0.25
    assert stats.min_wilcoxon_pvalue(5) == 0.0625
    for n in (3, 5):  # all differences positive and distinct: the exact test reaches its floor
        a = np.full(n, 0.5)
        assert stats.wilcoxon_test(a, a + 0.01 * np.arange(1, n + 1)) == stats.min_wilcoxon_pvalue(n)
        cmp = stats.compare_paired(a, a + 0.01 * np.arange(1, n + 1), seed=0, n_boot=200, with_aso=False)
        assert cmp.min_attainable_pvalue["wilcoxon"] == stats.min_wilcoxon_pvalue(n)


def test_bootstrap_ci_contains_mean_and_is_deterministic():
    a, b = _scores(1, 10, shift=0.01)
    low, high = stats.paired_bootstrap_ci(a, b, seed=7, n_boot=2000)
    assert low <= float(np.mean(b - a)) <= high
    assert stats.paired_bootstrap_ci(a, b, seed=7, n_boot=2000) == (low, high)
    assert stats.paired_bootstrap_ci(a, b, seed=8, n_boot=2000) != (low, high)
    narrow = stats.paired_bootstrap_ci(a, b, seed=7, n_boot=2000, confidence=0.5)
    assert low <= narrow[0] <= narrow[1] <= high
    assert all(math.isnan(v) for v in stats.paired_bootstrap_ci([0.5], [0.6], seed=0))


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


def test_compare_paired_fields():
    a, b = _scores(2, 5, shift=0.02)
    docs_a, docs_b = _doc_counts(2, 40, gain=1)
    cmp = stats.compare_paired(
        a, b, seed=3, n_boot=500, with_aso=False, counts_a=docs_a, counts_b=docs_b, ar_trials=500
    )
    assert cmp.n == 5 and cmp.mean_diff == pytest.approx(float(np.mean(b - a)))
    assert (cmp.diff_ci_low, cmp.diff_ci_high) == stats.paired_bootstrap_ci(a, b, seed=3, n_boot=500)
    assert cmp.t_pvalue == stats.paired_t_test(a, b) and cmp.wilcoxon_pvalue == stats.wilcoxon_test(a, b)
    assert math.isnan(cmp.aso_epsilon)
    assert cmp.ar_pvalue == stats.approximate_randomization(docs_a, docs_b, seed=3, trials=500)
    assert cmp.min_attainable_pvalue == {"t": 0.0, "wilcoxon": 0.0625, "ar": 1 / 501}
    assert stats.compare_paired(a, b, seed=3, n_boot=100, with_aso=False).ar_pvalue is None
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


def test_decision_note():
    assert stats.DECISION_TEST == "t"
    small, large = stats.decision_note(3), stats.decision_note(10)
    assert "paired t-test" in small and "Holm" in small and "ASO" in small
    assert "0.25" in small and "Wilcoxon" in small and "Warning" in small
    assert "Warning" not in large
    assert "0.0625" in stats.decision_note(5)
