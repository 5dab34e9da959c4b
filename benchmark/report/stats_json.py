"""stats.json: every number behind the tables (and, given an Analysis, the analyses) as JSON-able data,
nan as None. Numbers stay numbers here; the only text is what names them (metric keys, markers).
"""

from __future__ import annotations

import math
from importlib import metadata
from typing import Any

import pandas as pd
from erbench.report import analysis_render as extra
from erbench.report.render import marker_legend, note, report_warnings
from erbench.report.tables import ReportTables, best_means
from erbench.report.text import DIGITS


def jsonable(obj: Any) -> Any:
    """nan and inf -> None, tuples -> lists, numpy scalars -> Python numbers, recursively."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _unit(u) -> dict:
    return {"seed": u[0], "fold": u[1]}


def _version() -> str:
    try:
        return metadata.version("erbench")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "unknown"


def stats_dict(tables: ReportTables, analysis=None) -> dict:
    """Every number behind the tables (and, given an Analysis, the analyses), JSON-able (nan -> None)."""
    best = best_means(tables, DIGITS)
    summaries = []
    for (d, s, m), cell in tables.cells.items():
        summ = cell.summary
        summaries.append({
            "dataset": d, "setting": s, "label": cell.column.label, "metric": cell.column.key, "method": m,
            "n": summ.n, "mean": summ.mean, "std": summ.std, "ci95_low": summ.ci_low, "ci95_high": summ.ci_high,
            "best": round(summ.mean, DIGITS) == best.get((d, s)),
            "values": [{**_unit(u), "value": v} for u, v in zip(cell.units, cell.values)]})
    legend = {b: (tb, tw) for b, _, _, tb, tw in marker_legend(tables)}
    comparisons = {}
    for base, results in tables.results.items():
        rows = []
        for r in results:
            c = r.comparison
            rows.append({
                "dataset": r.column.dataset, "setting": r.column.setting, "metric": r.column.key,
                "baseline": base, "method": r.method, "n": c.n, "units": [_unit(u) for u in r.units],
                "baseline_values": r.a, "method_values": r.b, "mean_diff": c.mean_diff,
                "diff_ci95": [c.diff_ci_low, c.diff_ci_high], "diff_ci95_method": c.ci_method,
                "t_pvalue": c.t_pvalue, "t_pvalue_holm": r.t_holm, "decision_test": c.decision_test,
                "decision_why": c.decision_why,
                "decision_pvalue": c.decision_pvalue, "decision_pvalue_holm": r.t_holm,
                "sign_flip_pvalue": c.sign_flip_pvalue, "corrected_t_pvalue": c.corrected_t_pvalue,
                "n_folds_averaged": c.n_folds, "fold_units": [_unit(u) for u in r.fold_units],
                "cohens_dz": c.cohens_dz, "tost_pvalue": c.tost_pvalue, "tost_pvalue_holm": r.tost_holm,
                "equivalence_margin": c.equivalence_margin, "outcome": r.outcome, "aso_confidence": c.aso_confidence,
                "aso_epsilon_min_mc_se": c.aso_mc_se, "aso_better_tau": r.aso_better, "ar_pvalue_mc_se": c.ar_mc_se,
                "wilcoxon_pvalue": c.wilcoxon_pvalue, "aso_epsilon_min": c.aso_epsilon, "ar_pvalue": c.ar_pvalue,
                "ar_pvalue_holm": r.ar_holm, "min_attainable_pvalue": c.min_attainable_pvalue,
                "significant": r.significant, "direction": r.direction,
                "marker": {1: legend[base][0], -1: legend[base][1], 0: None}[r.direction]})
        comparisons[base] = {"holm_family_size": len(results), "results": rows}
    matrix = tables.matrix
    runs = matrix.drop_duplicates(["path", "dataset"])[["dataset", "method", "seed", "fold", "neg_entity_count",
                                            "neg_relation_count", "path", "in_table"]]
    runs = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in runs.astype(object).to_dict("records")]
    out = {
        "format": "erbench-report/1",
        "erbench_version": _version(),
        "settings": tables.settings,
        "datasets": {d: {"average": i.average, "signature": i.signature, "protocol": i.protocol,
                         "seeds": i.seeds, "folds": i.folds, "n_runs": i.n_runs} for d, i in tables.datasets.items()},
        "columns": [{"dataset": c.dataset, "setting": c.setting, "label": c.label, "average": c.average,
                     "metric": c.key} for c in tables.columns],
        "methods": tables.methods,
        "summaries": summaries,
        "comparisons": comparisons,
        "markers": {b: {"better": tb, "worse": tw} for b, (tb, tw) in legend.items()},
        "decision_note": note(tables),
        "warnings": tables.warnings,
        "runs": runs,
    }
    if analysis is not None:
        out.update(extra.analysis_json(tables, analysis))
        out["warnings"] = report_warnings(tables, analysis)
        if analysis.sensitivity:
            out["interpretation_sensitivity"] = list(analysis.sensitivity)
    return jsonable(out)
