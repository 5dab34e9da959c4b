"""reports/summary.json: the table's headline means, the one DVC metric of the pipeline.

`dvc exp show` makes a column of every key of every declared metrics file, so per-run files give
runs x keys columns (about a hundred for the embedded suite). This file holds one number per table
headline cell instead: dataset -> method -> NER and RE+ (the dataset's headline relation setting)
means over the table's units at the dataset's headline average, plus the number of units (nine
columns for the embedded suite). RE (boundaries only) and the spread are in stats.json.
Each run's own headline numbers stay in its run folder (summary.json) and in MLflow.
"""

from __future__ import annotations

import math

from erbench.report.tables import ReportTables


def summary_dict(tables: ReportTables) -> dict:
    """{dataset: {"n": units, method: {"ner": mean, "<relation setting>": mean}}}, F1 as tabled, 2 decimals."""
    out: dict = {}
    for (dataset, setting, method), cell in sorted(tables.cells.items()):
        info = tables.datasets[dataset]
        if setting not in ("ner", info.relation):
            continue
        entry = out.setdefault(dataset, {})
        value = cell.summary.mean
        entry.setdefault(method, {})[setting] = None if math.isnan(value) else round(value, 2)
        entry["n"] = max(entry.get("n", 0), cell.summary.n)
    return out
