"""The verdict across datasets: on how many of the report's datasets does a method beat a baseline?

Replicability analysis (Dror, Baumer, Bogomolov & Reichart 2017, TACL; erbench.stats.replicability):
per baseline, method and metric, one p-value per dataset, combined into partial-conjunction p-values
for "better on at least u of the N datasets" by Bonferroni and by Fisher, the number k_hat of datasets
on which the gain is established (familywise error alpha) and which datasets.

The metrics: each dataset's headline relation setting (CoNLL04 RE+ micro, SciERC RE micro, ADE RE+
macro: its own column, not one label across datasets) and NER. The per-dataset p-value is directional,
as in Dror et al.: the one-sided p of "method better than baseline" from the two-sided p of the
dataset's marker test (the decision p before Holm: p/2 when the mean difference is positive, else
1 - p/2). A dataset whose comparison has no test (one pair) enters with p = 1 and is named. Pure
computing; across_render formats it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from erbench import stats
from erbench.report.overlap import rescored_datasets
from erbench.report.tables import ReportTables, display_name

METRICS = (("relation", "the headline relation column"), ("ner", "NER"))  # key, words


@dataclass(frozen=True)
class AcrossRow:
    baseline: str
    method: str
    metric: str  # relation | ner
    datasets: tuple[str, ...]  # in the report's dataset order
    columns: tuple[str, ...]  # per dataset the column compared, e.g. "RE+ (micro)"
    tests: tuple[str, ...]  # per dataset the marker's test (decision_test)
    mean_diffs: tuple[float, ...]  # per dataset, method - baseline
    pvalues: tuple[float, ...]  # per dataset, one-sided p of "method better" (1.0 where untested)
    untested: tuple[str, ...]  # datasets without a p-value (counted as p = 1)
    marked: int  # datasets where the main table marks the method better (Holm within its family)
    bonferroni: stats.Replicability
    fisher: stats.Replicability

    def identified(self, method: str) -> tuple[str, ...]:
        rep = self.bonferroni if method == "bonferroni" else self.fisher
        return tuple(self.datasets[i] for i in rep.identified)


@dataclass(frozen=True)
class Across:
    rows: tuple[AcrossRow, ...]
    alpha: float
    why_absent: str = ""  # why there are no rows ("" when there are)


def across_datasets(tables: ReportTables) -> Across:
    """Every (baseline, method, metric) compared on two or more datasets, in the report's order."""
    alpha = tables.settings["alpha"]
    # a re-scoring of another dataset's runs (ADE with overlapping entities kept) is not a dataset of its own
    rescored = rescored_datasets(r for runs in tables.runs.values() for r in runs.values())
    names = [d for d in tables.datasets if d not in rescored]
    if len(names) < 2:
        return Across((), alpha, f"one dataset in this report ({', '.join(display_name(d) for d in names) or 'none'}): "
                                 "a verdict across datasets needs two or more")
    rows = []
    for base, results in tables.results.items():
        for method in dict.fromkeys(r.method for r in results):
            for metric, _ in METRICS:
                group = [r for r in results if r.method == method and r.column.dataset in names and r.column.setting
                         == (tables.datasets[r.column.dataset].relation if metric == "relation" else "ner")]
                group.sort(key=lambda r: names.index(r.column.dataset))
                if len(group) >= 2:
                    rows.append(_row(base, method, metric, group, alpha))
    why = "" if rows else "no method is compared with a baseline on two or more datasets"
    return Across(tuple(rows), alpha, why)


def _row(base: str, method: str, metric: str, group: list, alpha: float) -> AcrossRow:
    one = [stats.one_sided(r.comparison.decision_pvalue, r.comparison.mean_diff) for r in group]
    untested = tuple(r.column.dataset for r, p in zip(group, one) if math.isnan(p))
    pvalues = tuple(1.0 if math.isnan(p) else p for p in one)
    return AcrossRow(base, method, metric, tuple(r.column.dataset for r in group),
                     tuple(f"{r.column.label} ({r.column.average})" for r in group),
                     tuple(r.comparison.decision_test for r in group), tuple(r.comparison.mean_diff for r in group),
                     pvalues, untested, sum(r.direction > 0 for r in group),
                     stats.partial_conjunction(pvalues, alpha, "bonferroni"),
                     stats.partial_conjunction(pvalues, alpha, "fisher"))
