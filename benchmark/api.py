"""The public Python API (`import erbench`): load a run and predict, collect results, compare methods.

    run = erbench.load_run("runs/spert-conll04-s1")
    run.predict(["John works for Acme ."])
    df = erbench.results("runs")          # one row per run
    table = erbench.compare(df)           # what `erbench report` tables, as a DataFrame
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

PROTOCOL_PREFIX = "protocol/"


def _records(paths: Sequence[str | Path]):
    from erbench.report.collect import collect_runs

    return collect_runs([Path(p) for p in paths])


def results(*run_dirs: str | Path):
    """A pandas DataFrame with one row per run folder below `run_dirs` (default "runs"): dataset,
    method, seed, fold, path, every final metric (`test/rel_strict/micro_f1`, ...) and every protocol
    field (`protocol/encoder`, ...)."""
    import pandas as pd

    rows = []
    for rec in _records(run_dirs or ("runs",)):
        row = {"dataset": rec.dataset, "method": rec.method, "seed": rec.seed, "fold": rec.fold,
               "path": str(rec.path)}
        row.update(rec.metrics)
        row.update({f"{PROTOCOL_PREFIX}{k}": v for k, v in rec.protocol.items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["fold"] = frame["fold"].astype("Int64")
    return frame


def compare(df, *, baselines: Sequence[str] = ("spert", "spert_mt"), alpha: float = 0.05, seed: int = 0,
            aso_bootstrap: int = 1000, ar_trials: int = 10000, metric_average: dict | None = None,
            allow_mixed: bool = False):
    """The report's comparison table for the runs of `df` (rows of `results()`): one row per dataset,
    setting (ner, rel, rel_strict) and method, with n, mean, std and 95% CI over seeds, and for each
    baseline the paired comparison the report marks (mean difference, Holm-corrected p-values, the
    marker). Same tests, same seeds, same numbers as `erbench report` with the same options."""
    import pandas as pd
    from erbench.report.stats_json import stats_dict
    from erbench.report.tables import build_tables

    if "path" not in df:
        raise ValueError("compare: expected the DataFrame of erbench.results() (it needs its 'path' column)")
    wanted = {str(Path(p).resolve()) for p in df["path"]}
    records = [r for r in _records(list(dict.fromkeys(df["path"]))) if str(Path(r.path).resolve()) in wanted]
    tables = build_tables(records, baselines=baselines, alpha=alpha, seed=seed, aso_bootstrap=aso_bootstrap,
                          ar_trials=ar_trials, metric_average=metric_average, allow_mixed=allow_mixed)
    stats = stats_dict(tables)
    keys = ["dataset", "setting", "method"]
    table = pd.DataFrame([{k: s[k] for k in [*keys, "metric", "n", "mean", "std", "ci95_low", "ci95_high", "best"]}
                          for s in stats["summaries"]])
    for base, block in stats["comparisons"].items():
        rows = [{**{k: r[k] for k in keys}, f"vs_{base}/mean_diff": r["mean_diff"],
                 f"vs_{base}/t_pvalue_holm": r["t_pvalue_holm"], f"vs_{base}/ar_pvalue_holm": r["ar_pvalue_holm"],
                 f"vs_{base}/aso_epsilon_min": r["aso_epsilon_min"], f"vs_{base}/significant": r["significant"],
                 f"vs_{base}/marker": r["marker"]} for r in block["results"]]
        if rows:
            table = table.merge(pd.DataFrame(rows), on=keys, how="left")
    table.attrs["warnings"] = list(tables.warnings)
    return table.set_index(keys)
