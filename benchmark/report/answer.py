"""The report's answer in words: one sentence per comparison on each dataset's headline column, generated
from the verdicts (compare.Verdict), the first lines of results.md and index.html and what `erbench
report` prints. Every number in a sentence is the comparison's own (stats.json): the mean paired
difference, its t interval, the Holm-adjusted p-value of the decision test and the family size.

The comparisons table (`comparisons_frame`, reports/comparisons.csv) holds every test of every comparison
on every column, as numbers, for readers who want more than the table's default columns.
"""

from __future__ import annotations

import math

import pandas as pd
from erbench.report.tables import ReportTables, Result, display_name, method_name
from erbench.report.text import format_p


def headline_results(tables: ReportTables) -> list[Result]:
    """The comparisons on each dataset's headline relation column, in table order (baseline, dataset, method)."""
    return [r for rs in tables.results.values() for r in rs
            if r.column.setting == tables.datasets[r.column.dataset].relation]


def _points(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 0.05 else f"{x:.2f}"


def answer_sentence(tables: ReportTables, r: Result) -> str:
    """'On CoNLL04, SpERT.MT is 7.7 RE+ points below SpERT (95% CI -8.6 to -6.8, 3 paired seeds),
    significant after Holm over 12 comparisons (p=0.004).'"""
    c = r.comparison
    info = tables.datasets[r.column.dataset]
    where = f"On {info.display or display_name(r.column.dataset)}"
    name, base, label = method_name(tables, r.method), method_name(tables, r.baseline), r.column.label
    if math.isnan(c.mean_diff):
        return f"{where}, {name} and {base} share no run to compare on {label}."
    side = "above" if c.mean_diff > 0 else "below"
    text = (f"{where}, {name} is {_points(abs(c.mean_diff))} {label} points {side} {base}" if c.mean_diff
            else f"{where}, {name} scores the same {label} as {base}")
    if c.ci_method == "corrected-t":  # the fold is the unit (one seed, or report.fold_test=corrected)
        units = (f"{len(r.fold_units)} folds of one seed" if c.n == 1
                 else f"{c.n_folds} folds x {c.n} seeds") + ", Nadeau-Bengio corrected"
    else:
        units = f"{c.n} paired seed{'s' if c.n != 1 else ''}" + (" (folds averaged)" if r.fold_units else "")
    if not math.isnan(c.diff_ci_low):
        text += f" (95% CI {c.diff_ci_low:+.1f} to {c.diff_ci_high:+.1f}, {units})"
    else:
        text += f" ({units}, " + ("every difference equal: no interval)" if c.n > 1 else "no interval)")
    if math.isnan(r.t_holm):
        return f"{text}: no test is possible with {units}, so no verdict."
    holm = f"Holm over {r.family_size} comparison{'s' if r.family_size != 1 else ''}"
    if r.significant:
        return f"{text}, significant after {holm} (p={format_p(r.t_holm)})."
    if r.equivalent:
        return (f"{text}, not significantly different after {holm} (p={format_p(r.t_holm)}) and equivalent within "
                f"±{c.equivalence_margin:g} points (TOST).")
    return (f"{text}, not significant after {holm} (p={format_p(r.t_holm)}) and not shown equivalent: "
            "inconclusive, more seeds are needed to tell.")


def answer_lines(tables: ReportTables) -> list[str]:
    """One sentence per comparison and dataset (headline column); a line saying so when there is none."""
    results = headline_results(tables)
    if not results:
        return ["No comparison: the report has one method per dataset or no baseline among its methods."]
    return [answer_sentence(tables, r) for r in results]


def comparisons_frame(tables: ReportTables, analysis=None) -> pd.DataFrame:
    """Every comparison on every column with every test, as numbers (reports/comparisons.csv)."""
    rows = []
    for base, results in tables.results.items():
        for r in results:
            c = r.comparison
            row = {"dataset": r.column.dataset, "setting": r.column.setting, "average": r.column.average,
                   "baseline": base, "method": r.method, "n": c.n, "mean_diff": c.mean_diff,
                   "ci_low": c.diff_ci_low, "ci_high": c.diff_ci_high, "p_t": c.t_pvalue,
                   "decision_test": c.decision_test, "p_decision_holm": r.t_holm, "family_size": r.family_size,
                   "significant": r.significant, "cohens_dz": c.cohens_dz, "p_tost_holm": r.tost_holm,
                   "outcome": r.outcome, "p_wilcoxon": c.wilcoxon_pvalue,
                   "min_p_wilcoxon": c.min_attainable_pvalue["wilcoxon"], "aso_epsilon": c.aso_epsilon,
                   "aso_mc_se": c.aso_mc_se, "p_ar_pooled": c.ar_pvalue, "ar_mc_se": c.ar_mc_se,
                   "p_ar_holm": r.ar_holm, "sign_flip_p": c.sign_flip_pvalue, "corrected_t_p": c.corrected_t_pvalue}
            if analysis is not None:
                row["verdict"] = analysis.power_of(r).verdict(r.significant)
            rows.append(row)
    return pd.DataFrame(rows)
