"""The report's "Interpretation sensitivity" section and the entity-score figure.

A declared choice (params `choices`, or `erbench calibrate`'s `+devthr` runs) records its name as the
run's method and the method it varies in its protocol (`choice`, `base_method`). Per dataset and
variant the section gives the headline score, its difference from the method as specified and from
SpERT, each with the number of paired units and the test behind it: the main tables' comparison
(Holm-corrected within its baseline's family) where one exists, else the same `stats.compare_paired`
on the paired units, uncorrected and marked so. With one seed the per-seed t-test has no p-value; the
sentence-level approximate randomisation test over the pooled documents is then the one shown.

`entity_scores_figure`: per method, the distribution of the entity score (sigmoid(z_id) for SpERT.MT)
on gold, near-miss and far spans of the eval split, pooled over the method's runs (metrics.json
diagnostics.entity_scores).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from erbench import stats
from erbench.report.tables import ReportTables, Result, method_name, unit_text

REFERENCE = "spert"
GROUPS = (("gold", "gold spans"), ("near_miss", "near misses (IoU > 0)"), ("far", "far negatives"))


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


def _compare(tables: ReportTables, dataset: str, setting: str, a: str, b: str) -> dict | None:
    """b against a on the headline column: the tables' Result, else compare_paired on the paired units."""
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
        units = tuple(sorted(set(runs_a) & set(runs_b), key=lambda u: (u[0], -1 if u[1] is None else u[1])))
        if not units:
            return {"n": 0, "missing": "paired units"}
        cell_a, cell_b = tables.cells[(dataset, setting, a)], tables.cells[(dataset, setting, b)]
        va = [cell_a.values[cell_a.units.index(u)] for u in units]
        vb = [cell_b.values[cell_b.units.index(u)] for u in units]
        settings = tables.settings
        pooled = None
        if settings.get("ar_trials", 0) > 0:
            pooled = tables.docs.paired([runs_a[u] for u in units], [runs_b[u] for u in units], setting,
                                        f"{dataset}: {b} vs {a}")
        average = settings.get("metric_average", {}).get(dataset, "micro")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            comp = stats.compare_paired(
                va, vb, seed=settings.get("seed", 0), n_boot=settings.get("n_boot", 10000), with_aso=False,
                counts_a=None if pooled is None else pooled[0], counts_b=None if pooled is None else pooled[1],
                metric_fn=stats.macro_f1_from_array if average == "macro" else stats.micro_f1_from_array,
                ar_trials=max(settings.get("ar_trials", 0), 1))
        t_p, ar_p, corrected = comp.t_pvalue, comp.ar_pvalue, "uncorrected"
    if comp.n >= 2 and not math.isnan(t_p):
        test, p = f"paired t-test over seeds ({corrected})", t_p
    elif ar_p is not None and not math.isnan(ar_p):
        test, p = f"approximate randomisation over documents ({corrected})", ar_p
    else:
        test, p = "none (one paired run and no document-level counts)", math.nan
    return {"n": comp.n, "diff": comp.mean_diff, "ci": [comp.diff_ci_low, comp.diff_ci_high], "test": test, "p": p,
            "units": [unit_text(u) for u in units]}


def sensitivity(tables: ReportTables) -> list[dict]:
    """One row per dataset and declared choice: score, and its differences (see the module docstring)."""
    rows = []
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
            "vs_specified": _compare(tables, dataset, setting, base, variant),
            "vs_spert": _compare(tables, dataset, setting, REFERENCE, variant),
        })
    return rows


def _diff_text(c: dict | None) -> str:
    if c is None:
        return "(itself)"
    if not c.get("n"):
        return f"no run of {c.get('missing', '?')}"
    p = "" if math.isnan(c["p"]) else f", p={c['p']:.3g}"
    return f"{c['diff']:+.2f} (n={c['n']}, {c['test']}{p})"


def markdown(tables: ReportTables, rows: list[dict] | None = None) -> list[str]:
    """The section's Markdown lines (empty without declared choices)."""
    rows = sensitivity(tables) if rows is None else rows
    if not rows:
        return []
    lines = ["## Interpretation sensitivity", "",
             "Each declared choice (a named override set of a method) on its dataset's headline, against the "
             "method as specified and against SpERT, paired by seed (and fold).", "",
             "| Dataset | Variant | Varies | Overrides | Split | Score | vs as specified | vs SpERT |",
             "|:--|:--|:--|:--|:--|--:|:--|:--|"]
    for r in rows:
        sets = ", ".join(f"{k}={v}" for k, v in sorted(r["set"].items())) or "none"
        std = "" if math.isnan(r["std"]) else f" ± {r['std']:.2f}"
        lines.append(f"| {tables.datasets[r['dataset']].display} | {method_name(tables, r['variant'])} | "
                     f"{method_name(tables, r['base_method'])} | {sets} | {r['split']} | {r['mean']:.2f}{std} "
                     f"(n={r['n']}) | {_diff_text(r['vs_specified'])} | {_diff_text(r['vs_spert'])} |")
    lines += ["", "Differences: variant minus the other method's mean over the paired units, in F1 points. "
              "Holm: the main table's test, corrected within its baseline's comparisons; uncorrected: this "
              "section's own test on the same units.", ""]
    return lines


def _json_safe(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def stats_entry(rows: list[dict]) -> list[dict]:
    return [_json_safe(r) for r in rows]


# -- the entity-score figure -------------------------------------------------------------------------
def entity_score_data(tables: ReportTables) -> dict[str, dict]:
    """method -> {"score": name, "bins": [...], "groups": {group: counts summed over its table runs}}."""
    out: dict[str, dict] = {}
    for (_, method), by_unit in sorted(tables.runs.items()):
        for rec in by_unit.values():
            diag = _diagnostics(rec)
            if not diag:
                continue
            entry = out.setdefault(method, {"score": diag["score"], "bins": diag["bins"], "runs": 0,
                                            "groups": {g: np.zeros(len(diag["bins"]) - 1, dtype=np.int64)
                                                       for g, _ in GROUPS}})
            if entry["bins"] != diag["bins"] or entry["score"] != diag["score"]:
                continue
            entry["runs"] += 1
            for g, _ in GROUPS:
                entry["groups"][g] += np.asarray(diag["groups"][g]["counts"], dtype=np.int64)
    return out


def _diagnostics(rec) -> dict | None:
    from erbench import runfolder

    raw = runfolder.read_metrics(rec.path)  # the report read it already: an error here is a real one
    return ((raw.get("diagnostics") or {}).get("entity_scores")) or None


def entity_scores_figure(tables: ReportTables, data: dict | None = None):
    """One panel per method with identification heads (sigmoid(z_id)); None when no run has them."""
    from erbench.report.figures import column_figure

    return column_figure(_entity_scores_figure)(tables, data)


def _entity_scores_figure(tables: ReportTables, data: dict | None):
    from erbench.report.figures import COLUMN_WIDTH_IN, new_figure

    data = entity_score_data(tables) if data is None else data
    methods = [m for m, d in data.items() if d["score"] == "sigmoid(z_id)" and d["runs"]]
    if not methods:
        return None
    fig = new_figure(1.5 * len(methods) + 0.4, COLUMN_WIDTH_IN)
    axes = fig.subplots(len(methods), 1, sharex=True, squeeze=False)[:, 0]
    colours = {"gold": "#1b9e77", "near_miss": "#d95f02", "far": "#7570b3"}
    for ax, method in zip(axes, methods):
        entry = data[method]
        edges = np.asarray(entry["bins"])
        for group, label in GROUPS:
            counts = entry["groups"][group]
            total = counts.sum()
            share = counts / total if total else counts.astype(float)
            ax.stairs(share, edges, label=f"{label} (n={total})", color=colours[group], linewidth=1.0)
        ax.set_title(f"{method_name(tables, method)} ({entry['runs']} run{'s' if entry['runs'] != 1 else ''})")
        ax.set_ylabel("share of spans")
        ax.legend(frameon=False)
    axes[-1].set_xlabel("sigmoid(z_id) on the eval split")
    return fig
