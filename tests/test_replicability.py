"""erbench.stats.replicability against Dror et al. (2017)'s formulas worked by hand, and by simulation.

Bonferroni p^(u) = (N - u + 1) p_(u); Fisher p^(u) = 1 - F_chi2(2(N-u+1))(-2 sum_{i>=u} ln p_(i)), here
written out with the closed form of the chi-square tail for even degrees of freedom,
P(chi2_2m > x) = exp(-x/2) sum_{j<m} (x/2)^j / j!, and cross-checked with scipy.stats.combine_pvalues.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from erbench import stats
from erbench.stats.replicability import count_effects, monotone, partial_conjunction_pvalues


def chi2_tail_even(x: float, dof: int) -> float:
    m = dof // 2
    return math.exp(-x / 2) * sum((x / 2) ** j / math.factorial(j) for j in range(m))


def fisher_by_hand(p_sorted: list[float], u: int) -> float:
    tail = p_sorted[u - 1:]
    return chi2_tail_even(-2 * sum(math.log(v) for v in tail), 2 * len(tail))


def test_bonferroni_hand_worked():
    # p = [0.01, 0.04, 0.3] given out of order: p^(1) = 3 * 0.01, p^(2) = 2 * 0.04, p^(3) = 1 * 0.3
    rep = stats.partial_conjunction([0.3, 0.01, 0.04], 0.05, "bonferroni")
    assert rep.pc_pvalues == pytest.approx([0.03, 0.08, 0.3])
    assert rep.pc_monotone == pytest.approx([0.03, 0.08, 0.3])
    assert rep.k_hat == 1 and rep.identified == (1,)  # the dataset with p = 0.01
    assert stats.partial_conjunction([0.9, 0.8], 0.05, "bonferroni").pc_pvalues == pytest.approx([1.0, 0.9])  # capped
    # [0.01, 0.02, 0.03]: 0.03, 0.04, 0.03 -> every u qualifies: the effect holds on all three datasets
    assert stats.partial_conjunction([0.01, 0.02, 0.03], 0.05).k_hat == 3


def test_counting_makes_the_partial_conjunction_pvalues_monotone():
    # p = [0.04, 0.04]: p^(1) = 2 * 0.04 = 0.08 > alpha, p^(2) = 0.04 <= alpha. Without the running maximum
    # max{u : p^(u) <= alpha} would claim both datasets while "at least one" is not even established.
    rep = stats.partial_conjunction([0.04, 0.04], 0.05, "bonferroni")
    assert rep.pc_pvalues == pytest.approx([0.08, 0.04])
    assert rep.pc_monotone == pytest.approx([0.08, 0.08])
    assert rep.k_hat == 0 and rep.identified == ()
    assert monotone([0.2, 0.1, 0.3]).tolist() == [0.2, 0.2, 0.3]


def test_fisher_hand_worked_and_scipy():
    p = [0.01, 0.04, 0.3]
    # u=1: x = -2 (ln 0.01 + ln 0.04 + ln 0.3) = 18.056, dof 6; u=2: x = -2 (ln 0.04 + ln 0.3) = 8.846, dof 4
    # -> exp(-4.4229) (1 + 4.4229) = 0.0651; u=3: dof 2 -> exp(ln 0.3) = 0.3
    rep = stats.partial_conjunction(p, 0.05, "fisher")
    hand = [fisher_by_hand(sorted(p), u) for u in (1, 2, 3)]
    assert hand[1] == pytest.approx(math.exp(-4.42285) * 5.42285, rel=1e-4) and hand[2] == pytest.approx(0.3)
    assert rep.pc_pvalues == pytest.approx(hand, rel=1e-12)
    for u in (1, 2, 3):  # Fisher's combination of the N - u + 1 largest p-values
        assert rep.pc_pvalues[u - 1] == pytest.approx(scipy.stats.combine_pvalues(sorted(p)[u - 1:], "fisher").pvalue)
    assert rep.k_hat == 1 and rep.identified == (0,)
    # Fisher pools evidence Bonferroni cannot: [0.03, 0.04, 0.5] -> Bonferroni 3 * 0.03 = 0.09 (k = 0);
    # Fisher u=1: x = 14.837, dof 6 -> exp(-7.4186)(1 + 7.4186 + 7.4186^2 / 2) = 0.0216 (k = 1)
    p = [0.03, 0.04, 0.5]
    fisher = stats.partial_conjunction(p, 0.05, "fisher")
    assert fisher.pc_pvalues[0] == pytest.approx(fisher_by_hand(sorted(p), 1)) and fisher.pc_pvalues[0] < 0.05
    assert fisher.k_hat == 1 and stats.partial_conjunction(p, 0.05, "bonferroni").k_hat == 0


def test_edges_and_bad_input():
    assert stats.partial_conjunction([], 0.05).k_hat == 0
    assert stats.partial_conjunction([0.0, 0.5], 0.05, "fisher").pc_pvalues[0] == 0.0  # ln 0: the tail is 0
    assert stats.partial_conjunction([1.0, 1.0], 0.05, "fisher").pc_pvalues == pytest.approx([1.0, 1.0])
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        partial_conjunction_pvalues([0.1, math.nan])
    with pytest.raises(ValueError, match="method must be one of bonferroni, fisher"):
        partial_conjunction_pvalues([0.1], "simes")
    assert stats.one_sided(0.04, 1.5) == pytest.approx(0.02) and stats.one_sided(0.04, -1.5) == pytest.approx(0.98)
    assert math.isnan(stats.one_sided(math.nan, 1.0))


@pytest.mark.parametrize("method", ["bonferroni", "fisher"])
@pytest.mark.parametrize("n_datasets,n_effects", [(3, 0), (3, 1), (3, 2), (5, 2), (5, 4)])
def test_type_one_error_of_at_least_u_by_simulation(method, n_datasets, n_effects):
    """The effect holds on k < u datasets (alternatives: tiny p; true nulls: uniform p, independent):
    "at least u = k + 1" is claimed (k_hat >= u) in at most alpha of the draws, up to Monte Carlo error."""
    rng = np.random.default_rng(1000 * n_datasets + 10 * n_effects + (method == "fisher"))
    reps, alpha = 20000, 0.05
    p = rng.uniform(size=(reps, n_datasets))
    p[:, :n_effects] = 1e-12
    k_hat = count_effects(p, alpha, method)
    rate = float(np.mean(k_hat >= n_effects + 1))
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps), rate
    assert np.all(k_hat >= n_effects)  # the true effects are all found: the test has power where it should
    if n_effects == 0 and method == "fisher":  # the global null: Fisher's test is exact, so the rate is ~alpha
        assert rate > alpha - 3 * math.sqrt(alpha * (1 - alpha) / reps)


def test_vectorised_rows_equal_one_at_a_time():
    p = np.random.default_rng(3).uniform(size=(50, 4)) ** 3
    for method in ("bonferroni", "fisher"):
        rows = count_effects(p, 0.05, method)
        assert rows.tolist() == [stats.partial_conjunction(r, 0.05, method).k_hat for r in p]
