"""The numbers of the report's "Interpretation sensitivity" section (analysis_render.md_sensitivity prints it).

A declared choice (params `choices`, or `erbench calibrate`'s `+devthr` runs) records its name as the
run's method and the method it varies in its protocol (`choice`, `base_method`). Per dataset and
variant the section gives the headline score, its difference from the method as specified and from
SpERT, each with the number of paired units and the test behind it: the main tables' comparison
(Holm-corrected within its baseline's family) where one exists, else the same comparison
(compare.compare_pair on the per-seed means of the paired units) as a family of one, uncorrected and
marked so. With one seed the per-seed t-test has no p-value; the
sentence-level approximate randomisation test over the pooled documents is then the one shown.

The entity-score figure of declared choices is figures.entity_scores_figure.
Rows are plain JSON-able dicts: stats.json carries them as they are.
"""

from __future__ import annotations

import math

from erbench.report.compare import Options, Pair, compare_pair, per_seed_units, plan_families
from erbench.report.tables import ReportTables, Result, document_ids
from erbench.report.text import unit_text

REFERENCE = "spert"


def _choice_methods(tables: ReportTables) -> dict[tuple[str, str], tuple[str, dict]]:
    """(dataset, variant) -> (its base method, its overrides) for every declared choice in the tables."""
    out = {}
    for (dataset, method), by_unit in tables.runs.items():
        rec = next(iter(by_unit.values()))
        if rec.protocol.get("choice"):
            out[(dataset, method)] = (str(rec.protocol.get("base_method") or "?"), rec.protocol.get("choice_set") or {})
    return out


def _found(tables: ReportTables, dataset: str, setting: str, a: str, b: str) -> Result | None:
    for result in tables.results.get(a, ()):
        if result.method == b and result.column.dataset == dataset and result.column.setting == setting:
            return result
    return None


def _compare(tables: ReportTables, dataset: str, setting: str, a: str, b: str, notes: list[str]) -> dict | None:
    """b against a on the headline column: the tables' Result, else the same comparison (compare.compare_pair)
    on the paired units, as a family of one (uncorrected)."""
    if a == b:
        return None
    result = _found(tables, dataset, setting, a, b)
    if result is not None:
        comp, t_p, ar_p, corrected = result.comparison, result.t_holm, result.ar_holm, "Holm"
        units = result.units
    else:
        runs_a, runs_b = tables.runs.get((dataset, a)), tables.runs.get((dataset, b))
        if not runs_a or not runs_b:
            return {"n": 0, "missing": a if not runs_a else b}
        (plan,) = plan_families([a], [b], [setting], lambda _, m: tables.runs.get((dataset, m)))[a]
        if not plan.common:
            return {"n": 0, "missing": "paired units"}
        units = per_seed_units(plan.common)
        settings = tables.settings
        pooled = groups = None
        if settings.get("ar_trials", 0) > 0:
            pooled = tables.docs.paired([runs_a[u] for u in plan.common], [runs_b[u] for u in plan.common], setting,
                                        f"{dataset}: {b} vs {a}", notes)
            if pooled is not None:
                groups = document_ids(tables.docs, [runs_a[u] for u in plan.common])
        cell_a, cell_b = tables.cells[(dataset, setting, a)], tables.cells[(dataset, setting, b)]
        pair = Pair(plan, tuple(cell_a.values[cell_a.units.index(u)] for u in plan.common),
                    tuple(cell_b.values[cell_b.units.index(u)] for u in plan.common),
                    settings.get("metric_average", {}).get(dataset, "micro"), pooled, groups)
        comp = compare_pair(pair, Options(settings.get("seed", 0), settings["alpha"], settings.get("ar_trials", 0)))
        t_p, ar_p, corrected = comp.t_pvalue, comp.ar_pvalue, "uncorrected"
    if comp.n >= 2 and not math.isnan(t_p):
        test, p = f"paired t-test over seeds ({corrected})", t_p
    elif ar_p is not None and not math.isnan(ar_p):
        test, p = f"approximate randomisation over documents ({corrected})", ar_p
    else:
        test, p = "none (one paired run and no document-level counts)", math.nan
    return {"n": comp.n, "diff": comp.mean_diff, "ci": [comp.diff_ci_low, comp.diff_ci_high], "test": test, "p": p,
            "units": [unit_text(u) for u in units]}


def sensitivity(tables: ReportTables) -> tuple[tuple[dict, ...], tuple[str, ...]]:
    """One row per dataset and declared choice: score, and its differences (see the module docstring);
    and the notes of pairs without a sentence-level test."""
    rows, notes = [], []
    for (dataset, variant), (base, overrides) in sorted(_choice_methods(tables).items()):
        info = tables.datasets[dataset]
        setting = info.relation
        cell = tables.cells.get((dataset, setting, variant))
        if cell is None:
            continue
        rows.append({
            "dataset": dataset, "variant": variant, "base_method": base, "set": overrides,
            "metric": f"{setting}/{info.average}_f1", "split": ", ".join(info.protocol.get("eval_split", [])),
            "n": cell.summary.n, "mean": cell.summary.mean, "std": cell.summary.std,
            "vs_specified": _compare(tables, dataset, setting, base, variant, notes),
            "vs_spert": _compare(tables, dataset, setting, REFERENCE, variant, notes),
        })
    return tuple(rows), tuple(notes)
