"""One value matrix of every run's headline scores, and the summaries and paired comparisons behind
every table (SPEC section 3 and 6).

The matrix is long: one row per run and headline column (dataset, method, seed, fold, metric, value,
plus the run's negative-sample counts and folder). Everything rendered later is computed from it:

- columns: per dataset NER / RE / RE+ F1, micro by default, macro where the dataset's headline is
  macro (ADE); ``metric_average`` overrides per dataset;
- cells: per dataset x column x method, ``stats.summarize`` over the runs' units (seed, fold);
- results: per baseline (one table, one Holm family), every other method vs the baseline per dataset
  and column with ``stats.compare_paired``, paired by (seed, fold) on the units both have. The
  sentence-level approximate randomization test pools test predictions over the paired units (per
  document counts of every paired run, concatenated in the same unit order for both methods).

When a method has runs with several negative-sample counts (a sweep), its table cell uses the setting
with the most runs (ties: closest to SpERT's default 100); the others appear in the sweep figure.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmark import stats
from benchmark.report.collect import RunRecord, load_documents, load_types_of
from benchmark.scoring import document_counts

SETTINGS = (("ner", "NER"), ("rel", "RE"), ("rel_strict", "RE+"))
DEFAULT_AVERAGE = {"ade": "macro"}  # SPEC 3: ADE's headline is macro; every other dataset micro
HEADLINE_RELATION = {"scierc": "rel"}  # SPEC 3: SciERC's headline is RE (boundaries); others RE+
DATASET_ORDER = ("conll04", "scierc", "ade")
DISPLAY = {"conll04": "CoNLL04", "scierc": "SciERC", "ade": "ADE"}
DEFAULT_NEGATIVES = 100  # SPEC 2: SpERT's neg_entity_count = neg_relation_count = 100

Unit = tuple[int, int | None]  # (seed, fold)


@dataclass(frozen=True)
class Column:
    dataset: str
    setting: str  # ner | rel | rel_strict
    label: str  # NER | RE | RE+
    average: str  # micro | macro

    @property
    def key(self) -> str:
        return f"{self.setting}/{self.average}_f1"


@dataclass(frozen=True)
class Cell:
    column: Column
    method: str
    units: tuple[Unit, ...]
    values: tuple[float, ...]
    summary: stats.Summary


@dataclass(frozen=True)
class Result:
    """One method (b) against one baseline (a) on one column, with its Holm-adjusted p-values."""

    column: Column
    baseline: str
    method: str
    units: tuple[Unit, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]
    comparison: stats.Comparison
    t_holm: float
    ar_holm: float | None
    alpha: float

    @property
    def significant(self) -> bool:
        return bool(self.t_holm < self.alpha)  # nan (n < 2) is never significant

    @property
    def direction(self) -> int:
        """+1 significantly better than the baseline, -1 significantly worse, 0 neither."""
        return int(np.sign(self.comparison.mean_diff)) if self.significant else 0


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    average: str
    protocol: dict[str, list]  # signature field -> sorted distinct values over the table's runs
    seeds: tuple[int, ...]
    folds: tuple[int, ...]
    n_runs: int
    signature: str


@dataclass(frozen=True, eq=False)
class ReportTables:
    matrix: pd.DataFrame  # every run; column in_table marks the runs the tables use
    datasets: dict[str, DatasetInfo]
    columns: tuple[Column, ...]
    methods: tuple[str, ...]
    cells: dict[tuple[str, str, str], Cell]  # (dataset, setting, method)
    results: dict[str, tuple[Result, ...]]  # baseline -> its table's comparisons
    warnings: tuple[str, ...]
    settings: dict[str, Any]


def averages_for(datasets: Sequence[str], metric_average: Mapping[str, str] | None) -> dict[str, str]:
    merged = {**DEFAULT_AVERAGE, **(metric_average or {})}
    for name, avg in merged.items():
        if avg not in ("micro", "macro"):
            raise ValueError(f"metric_average[{name!r}] must be 'micro' or 'macro', got {avg!r}")
    return {d: merged.get(d, "micro") for d in datasets}


def dataset_order(names) -> list[str]:
    known = [d for d in DATASET_ORDER if d in names]
    return known + sorted(set(names) - set(known))


def display_name(dataset: str) -> str:
    return DISPLAY.get(dataset, dataset)


def unit_text(unit: Unit) -> str:
    return f"seed {unit[0]}" + ("" if unit[1] is None else f" fold {unit[1]}")


def _unit_key(unit: Unit) -> tuple[int, int]:
    return unit[0], -1 if unit[1] is None else unit[1]


def value_matrix(records: Sequence[RunRecord], metric_average: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Long table: one row per run and headline column (NER / RE / RE+ F1 at the dataset's average)."""
    averages = averages_for(sorted({r.dataset for r in records}), metric_average)
    rows = []
    for rec in records:
        split = rec.protocol.get("eval_split", "test")
        for setting, _ in SETTINGS:
            metric = f"{split}/{setting}/{averages[rec.dataset]}_f1"
            if metric not in rec.metrics:
                raise ValueError(f"{rec.path / 'metrics.json'}: no metric '{metric}' among its "
                                 f"{len(rec.metrics)} metrics")
            rows.append({"dataset": rec.dataset, "method": rec.method, "seed": rec.seed, "fold": rec.fold,
                         "metric": metric, "setting": setting, "value": rec.metrics[metric],
                         "neg_entity_count": rec.negatives[0], "neg_relation_count": rec.negatives[1],
                         "path": str(rec.path)})
    columns = ["dataset", "method", "seed", "fold", "metric", "setting", "value", "neg_entity_count",
               "neg_relation_count", "path"]
    df = pd.DataFrame(rows, columns=columns)
    for col in ("fold", "neg_entity_count", "neg_relation_count"):
        df[col] = df[col].astype("Int64")
    df["seed"] = df["seed"].astype("int64")
    return df


def _negatives_rank(item) -> tuple:
    (ne, nr), count = item
    return (-count, abs(ne - DEFAULT_NEGATIVES) + abs(nr - DEFAULT_NEGATIVES), ne, nr)


def _select_negatives(df: pd.DataFrame, notes: list[str]) -> pd.Series:
    """Mark the runs the tables use: per dataset x method, one negative-sample setting."""
    keep = pd.Series(False, index=df.index)
    for (dataset, method), group in df.groupby(["dataset", "method"], sort=True):
        negs = group[["neg_entity_count", "neg_relation_count"]].astype("float64").fillna(-1.0)
        counts = negs.value_counts()
        if len(counts) == 1:
            keep[group.index] = True
            continue
        (ne, nr), _ = min(counts.items(), key=_negatives_rank)
        chosen = (negs["neg_entity_count"] == ne) & (negs["neg_relation_count"] == nr)
        keep[group.index[chosen.to_numpy()]] = True
        settings = ", ".join(f"{int(e)}/{int(r)}" for e, r in sorted(counts.index))
        notes.append(f"{dataset}/{method}: runs with negatives (entity/relation) {settings}; the table uses "
                     f"{int(ne)}/{int(nr)} (most runs; ties go to {DEFAULT_NEGATIVES}), the others are in neg_sweep")
    return keep


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "?" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _dataset_info(name: str, average: str, recs: Sequence[RunRecord], notes: list[str]) -> DatasetInfo:
    fields: dict[str, dict[str, list[str]]] = {}  # field -> value -> methods

    def add(field: str, value: str, method: str) -> None:
        fields.setdefault(field, {}).setdefault(value, [])
        if method not in fields[field][value]:
            fields[field][value].append(method)

    for r in recs:
        p = r.protocol
        add("enc", _fmt(p.get("encoder")), r.method)
        add("split", f"{_fmt(p.get('train_split'))}->{_fmt(p.get('eval_split', 'test'))}", r.method)
        add("ep", _fmt(p.get("epochs")), r.method)
        add("sel", _fmt(p.get("selected_epoch")), r.method)
        add("no_overlap", _fmt(p.get("no_overlapping")), r.method)
        add("neg", f"{_fmt(r.negatives[0])}/{_fmt(r.negatives[1])}", r.method)
        add("bs", _fmt(p.get("batch_size")), r.method)
        add("lr", _fmt(p.get("lr")), r.method)
        add("span", _fmt(p.get("max_span_size")), r.method)
    protocol = {f: sorted(v) for f, v in fields.items()}
    for field, values in fields.items():
        # negatives are a method's own option (SpERT 100, SpERT.MT 120), not a protocol mismatch
        per_method = [m for ms in values.values() for m in ms]
        if field == "neg" and len(per_method) == len(set(per_method)):
            continue
        if len(values) > 1:
            detail = "; ".join(f"{v} ({', '.join(sorted(m))})" for v, m in sorted(values.items()))
            notes.append(f"{name}: protocol differs between runs, {field}: {detail}")
    seeds = tuple(sorted({r.seed for r in recs}))
    folds = tuple(sorted({r.fold for r in recs if r.fold is not None}))
    shown = {**protocol, "avg": [average], "seeds": [str(len(seeds))]}
    if folds:
        shown["folds"] = [str(len(folds))]
    order = ("enc", "split", "ep", "sel", "avg", "no_overlap", "neg", "bs", "lr", "span", "seeds", "folds")
    parts = [name] + [f"{f}:{','.join(shown[f])}" for f in order if f in shown]
    return DatasetInfo(name, average, protocol, seeds, folds, len(recs), "|".join(parts))


class _Counts:
    """Per-document (tp, fp, fn) of runs, read lazily from predictions.jsonl and cached per report."""

    def __init__(self, notes: list[str]):
        self.notes = notes
        self.docs: dict[str, tuple | None] = {}
        self.counts: dict[tuple[str, str], list] = {}

    def _docs(self, rec: RunRecord):
        key = str(rec.path)
        if key not in self.docs:
            types = load_types_of(rec)
            if not rec.predictions_path.is_file() or types is None:
                missing = "predictions.jsonl" if not rec.predictions_path.is_file() else "config.json (types)"
                self.notes.append(f"{rec.label}: no {missing}; the sentence-level test skips its comparisons")
                self.docs[key] = None
            else:
                gold, pred = load_documents(rec)
                self.docs[key] = (gold, pred, types)
        return self.docs[key]

    def of(self, rec: RunRecord, setting: str):
        docs = self._docs(rec)
        if docs is None:
            return None
        key = (str(rec.path), setting)
        if key not in self.counts:
            gold, pred, types = docs
            no_overlapping = bool(rec.protocol.get("no_overlapping", False))
            self.counts[key] = document_counts(gold, pred, types, setting, no_overlapping=no_overlapping)
        return self.counts[key]

    def paired(self, runs_a: Sequence[RunRecord], runs_b: Sequence[RunRecord], setting: str, what: str):
        """Concatenated counts of both sides, or None (with a note) when they cannot be paired."""
        pooled_a, pooled_b = [], []
        for ra, rb in zip(runs_a, runs_b):
            ca, cb = self.of(ra, setting), self.of(rb, setting)
            if ca is None or cb is None:
                return None
            gold_a, gold_b = self._docs(ra)[0], self._docs(rb)[0]
            same = len(ca) == len(cb) and all(
                ga.tokens == gb.tokens and {t: c[0] + c[2] for t, c in da.items() if c[0] + c[2]}
                == {t: c[0] + c[2] for t, c in db.items() if c[0] + c[2]}
                for ga, gb, da, db in zip(gold_a, gold_b, ca, cb))
            if not same:
                self.notes.append(f"{what}: {ra.label} and {rb.label} were not evaluated on the same gold "
                                  "documents; no sentence-level test")
                return None
            pooled_a.extend(ca)
            pooled_b.extend(cb)
        return pooled_a, pooled_b


def build_tables(
    records: Sequence[RunRecord],
    *,
    baselines: Sequence[str] = ("spert", "spert_mt"),
    alpha: float = stats.ALPHA,
    seed: int = 0,
    aso_bootstrap: int = 1000,
    ar_trials: int = 10000,
    n_boot: int = 10000,
    metric_average: Mapping[str, str] | None = None,
) -> ReportTables:
    """Summaries and paired comparisons of the runs; aso_bootstrap=0 or ar_trials=0 skips that test."""
    if not records:
        raise ValueError("no runs to report")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    notes: list[str] = []
    matrix = value_matrix(records, metric_average)
    matrix["in_table"] = _select_negatives(matrix, notes)
    table = matrix[matrix["in_table"]]
    names = dataset_order(set(table["dataset"]))
    averages = averages_for(names, metric_average)
    by_path = {str(r.path): r for r in records}
    used = {p: by_path[p] for p in table["path"].unique()}
    datasets = {d: _dataset_info(d, averages[d], [r for r in used.values() if r.dataset == d], notes) for d in names}
    columns = tuple(Column(d, s, label, averages[d]) for d in names for s, label in SETTINGS)
    present = [b for b in baselines if b in set(table["method"])]
    methods = tuple(dict.fromkeys([*present, *sorted(set(table["method"]))]))
    if not present:
        notes.append(f"no run of the baselines ({', '.join(baselines) or 'none given'}); no significance tests")

    runs: dict[tuple[str, str], dict[Unit, RunRecord]] = {}
    values: dict[tuple[str, str, str], dict[Unit, float]] = {}
    for row in table.itertuples(index=False):
        unit = (int(row.seed), None if pd.isna(row.fold) else int(row.fold))
        runs.setdefault((row.dataset, row.method), {})[unit] = by_path[row.path]
        values.setdefault((row.dataset, row.setting, row.method), {})[unit] = float(row.value)
    cells = {}
    for col in columns:
        for m in methods:
            got = values.get((col.dataset, col.setting, m))
            if got:
                units = tuple(sorted(got, key=_unit_key))
                vals = tuple(got[u] for u in units)
                cells[(col.dataset, col.setting, m)] = Cell(col, m, units, vals, stats.summarize(vals))
    for (d, m), by_unit in sorted(runs.items()):
        if len(by_unit) < 2:
            notes.append(f"{d}/{m}: only {len(by_unit)} run; no standard deviation and no significance test")

    with_aso = aso_bootstrap > 0
    if with_aso and importlib.util.find_spec("deepsig") is None:
        notes.append("ASO skipped: the optional package deepsig is not installed")
        with_aso = False
    counts = _Counts(notes)
    results: dict[str, tuple[Result, ...]] = {}
    for i, base in enumerate(present):
        done = set(present[: i + 1])
        raw = []
        for col in columns:
            base_runs = runs.get((col.dataset, base))
            if not base_runs:
                continue
            for m in methods:
                other = runs.get((col.dataset, m))
                if m in done or not other:  # each pair of methods is compared once, in the first table
                    continue
                what = f"{col.dataset}: {m} vs {base}"
                common = sorted(set(base_runs) & set(other), key=_unit_key)
                only = sorted(set(base_runs) ^ set(other), key=_unit_key)
                if only and col.setting == SETTINGS[0][0]:
                    miss = ", ".join(f"{unit_text(u)} (only {base if u in base_runs else m})" for u in only)
                    notes.append(f"{what}: {len(common)} paired runs; unpaired: {miss}")
                if not common:
                    continue
                a = [values[(col.dataset, col.setting, base)][u] for u in common]
                b = [values[(col.dataset, col.setting, m)][u] for u in common]
                pooled = None
                if ar_trials > 0:
                    pooled = counts.paired([base_runs[u] for u in common], [other[u] for u in common],
                                           col.setting, what)
                metric_fn = stats.macro_f1_from_array if col.average == "macro" else stats.micro_f1_from_array
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # deepsig's division-by-zero notes
                    comp = stats.compare_paired(
                        a, b, seed=seed, n_boot=n_boot, aso_bootstrap=max(aso_bootstrap, 1),
                        with_aso=with_aso and len(common) >= 2,
                        counts_a=None if pooled is None else pooled[0],
                        counts_b=None if pooled is None else pooled[1],
                        metric_fn=metric_fn, ar_trials=max(ar_trials, 1))
                raw.append((col, m, tuple(common), tuple(a), tuple(b), comp))
        t_holm = stats.holm([r[-1].t_pvalue for r in raw])
        ar_raw = [math.nan if r[-1].ar_pvalue is None else r[-1].ar_pvalue for r in raw]
        ar_holm = stats.holm(ar_raw)
        if not raw:
            continue  # the baseline is the only method: no table of comparisons
        results[base] = tuple(
            Result(col, base, m, units, a, b, comp, t_holm[i], None if comp.ar_pvalue is None else ar_holm[i], alpha)
            for i, (col, m, units, a, b, comp) in enumerate(raw))
    settings = {"baselines": list(results), "alpha": alpha, "seed": seed, "aso_bootstrap": aso_bootstrap if with_aso
                else 0, "ar_trials": ar_trials, "n_boot": n_boot, "decision_test": stats.DECISION_TEST,
                "correction": "holm", "metric_average": averages}
    return ReportTables(matrix, datasets, columns, methods, cells, results, tuple(dict.fromkeys(notes)), settings)


def min_pairs(tables: ReportTables) -> int:
    """The smallest number of paired units of any comparison (or of any cell without comparisons)."""
    ns = [r.comparison.n for rs in tables.results.values() for r in rs]
    return min(ns) if ns else min((c.summary.n for c in tables.cells.values()), default=0)


def best_means(tables: ReportTables, digits: int = 2) -> dict[tuple[str, str], float]:
    """Per (dataset, setting), the best mean as displayed (rounded), so displayed ties are all bold."""
    best: dict[tuple[str, str], float] = {}
    for (d, s, _), cell in tables.cells.items():
        mean = round(cell.summary.mean, digits)
        if not math.isnan(mean) and mean > best.get((d, s), -math.inf):
            best[(d, s)] = mean
    return best
