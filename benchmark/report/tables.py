"""One value matrix of every run's headline scores, and the summaries and paired comparisons behind
every table (SPEC section 3 and 6).

The matrix is long: one row per run and headline column (dataset, method, seed, fold, metric, value,
plus the run's negative-sample counts and folder). Everything rendered later is computed from it:

- columns: per dataset NER / RE / RE+ F1, micro by default, macro where the dataset's headline is
  macro (ADE); ``metric_average`` overrides per dataset;
- cells: per dataset x column x method, ``stats.summarize`` over the runs' units (seed, fold);
- results: per baseline (one table, one Holm family: ``report.compare`` runs the loop), every other
  method vs the baseline per dataset and column with ``stats.compare_paired``, paired by seed on the
  units both have: on k-fold datasets the folds of each seed are averaged first (the seed is the unit
  of replication; ``fold_test="corrected"`` decides with Nadeau & Bengio's corrected t-test on the
  (seed, fold) differences instead). The sentence-level approximate randomization test pools test
  predictions over the paired runs; the copies of one test document in different seeds' runs share
  one swap decision.

When a method has runs with several negative-sample counts (a sweep), its table cell uses the setting
with the most runs (ties: closest to SpERT's default 100); the others appear in the sweep figure.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from erbench import stats
from erbench.analysis import protocol
from erbench.errors import UserInputError
from erbench.models.registry import METHODS
from erbench.report.collect import VARIANT_SEP, RunRecord, variant_display
from erbench.report.compare import (
    Options,
    Pair,
    Planned,
    Unit,
    Verdict,
    plan_families,
    run_families,
    unit_key,
)
from erbench.report.documents import RunDocs
from erbench.report.text import unit_text
from erbench.runfolder import METRICS

SETTINGS = (("ner", "NER"), ("rel", "RE"), ("rel_strict", "RE+"))
DEFAULT_AVERAGE = {"ade": "macro"}  # SPEC 3: ADE's headline is macro; every other dataset micro
HEADLINE_RELATION = {"scierc": "rel"}  # SPEC 3: SciERC's headline is RE (boundaries); others RE+
DATASET_ORDER = ("conll04", "scierc", "ade")
DISPLAY = {"conll04": "CoNLL04", "scierc": "SciERC", "ade": "ADE"}
DEFAULT_NEGATIVES = 100  # SPEC 2: SpERT's neg_entity_count = neg_relation_count = 100

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
class Result(Verdict):
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
    tost_holm: float = math.nan
    family_size: int = 1  # comparisons in this baseline's Holm family
    fold_units: tuple[Unit, ...] = ()  # the (seed, fold) runs averaged into the per-seed values, if folds

    @property
    def aso_better(self) -> bool:
        """ASO flags b almost stochastically better than a: epsilon_min below the strict tau."""
        return bool(self.comparison.aso_epsilon < stats.ASO_TAU)


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    average: str
    protocol: dict[str, list]  # signature field -> sorted distinct values over the table's runs
    seeds: tuple[int, ...]
    folds: tuple[int, ...]
    n_runs: int
    signature: str
    card: protocol.ProtocolCard
    relation: str = "rel_strict"  # the headline relation setting (SPEC 3, or a custom dataset's declaration)
    display: str = ""  # the name tables print ("" -> display_name(name))

    @property
    def mixed(self) -> tuple[str, ...]:
        return self.card.mixed


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
    runs: dict[tuple[str, str], dict[Unit, RunRecord]]  # (dataset, method) -> the table's runs by unit
    docs: RunDocs  # the runs' test documents, read once per report


def averages_for(datasets: Sequence[str], metric_average: Mapping[str, str] | None) -> dict[str, str]:
    merged = {**DEFAULT_AVERAGE, **(metric_average or {})}
    for name, avg in merged.items():
        if avg not in ("micro", "macro"):
            raise UserInputError(f"metric_average[{name!r}] must be 'micro' or 'macro', got {avg!r}")
    return {d: merged.get(d, "micro") for d in datasets}


def dataset_order(names) -> list[str]:
    known = [d for d in DATASET_ORDER if d in names]
    return known + sorted(set(names) - set(known))


def display_name(dataset: str) -> str:
    return DISPLAY.get(dataset, dataset)


def display_names(methods: Sequence[str], overrides: Mapping[str, str] | None = None,
                  where: str = "display_names") -> dict[str, str]:
    """{method id: printed name} for the methods: overrides, else the registry's default, else the id.

    Overrides must map method ids to non-empty strings, and no two methods may print the same name;
    a ValueError names `where` and the key. Raw ids stay in stats.json, file names and MLflow.
    """
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
            raise UserInputError(f"{where}.{key}: expected a non-empty string (the name to print), got {value!r}")
    unknown = sorted(set(overrides) - set(METHODS) - set(methods))
    if unknown:
        raise UserInputError(f"{where}: {', '.join(unknown)}: not a registered method nor one of the runs' methods "
                         f"(known: {', '.join(sorted(set(METHODS) | set(methods)))})")
    def default(m: str) -> str:
        if m in METHODS and METHODS[m].display:
            return METHODS[m].display
        base, sep, changes = m.partition(VARIANT_SEP)  # a variant METHOD+KEY=VALUE,...: 'SpERT.MT (KEY=VALUE, ...)'
        return variant_display(m, overrides.get(base) or default(base)) if sep and "=" in changes else m

    out = {m: overrides.get(m) or default(m) for m in methods}
    seen: dict[str, str] = {}
    for m, name in out.items():
        if name in seen:
            raise UserInputError(f"{where}: {seen[name]} and {m} would both print as {name!r}; give one another name")
        seen[name] = m
    return out


def method_name(tables: ReportTables, method: str) -> str:
    """The name a table or figure prints for a method id."""
    return tables.settings.get("display_names", {}).get(method, method)


def value_matrix(records: Sequence[RunRecord], metric_average: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Long table: one row per run and headline column (NER / RE / RE+ F1 at the dataset's average)."""
    averages = averages_for(sorted({r.dataset for r in records}), metric_average)
    rows = []
    for rec in records:
        split = rec.protocol.get("eval_split", "test")
        for setting, _ in SETTINGS:
            metric = f"{split}/{setting}/{averages[rec.dataset]}_f1"
            if metric not in rec.metrics:
                raise UserInputError(f"{rec.path / METRICS}: no metric '{metric}' among its "
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


def _dataset_info(name: str, average: str, recs: Sequence[RunRecord], notes: list[str], *, allow_mixed: bool,
                  git_commit: str, declared: Mapping | None = None) -> DatasetInfo:
    declared = declared or {}
    relation = declared.get("relation") or HEADLINE_RELATION.get(name, "rel_strict")
    card = protocol.protocol_card(name, recs, average=average, relation_headline=relation, git_commit=git_commit)
    if card.mismatches and not allow_mixed:
        raise protocol.ProtocolMismatch(card.mismatches)
    notes.extend(f"mixed protocol (--allow-mixed): {m.message()}" for m in card.mismatches)
    notes.extend(protocol.environment_warning(m) for m in card.environment)
    values = {f: list(v) for f, v in card.values.items()}
    values["neg"] = sorted(set(card.negatives.values()))
    seeds = tuple(sorted({r.seed for r in recs}))
    folds = tuple(sorted({r.fold for r in recs if r.fold is not None}))
    sig = protocol.signature(card, average=average, n_seeds=len(seeds), n_folds=len(folds))
    return DatasetInfo(name, average, values, seeds, folds, len(recs), sig, card, relation,
                       declared.get("display_name") or display_name(name))


def build_tables(
    records: Sequence[RunRecord],
    *,
    baselines: Sequence[str] = ("spert", "spert_mt"),
    alpha: float = stats.ALPHA,
    seed: int = 0,
    aso_bootstrap: int = 1000,
    ar_trials: int = 10000,
    metric_average: Mapping[str, str] | None = None,
    allow_mixed: bool = False,
    git_commit: str = "unknown",
    declared: Mapping[str, Mapping] | None = None,
    method_names: Mapping[str, str] | None = None,
    fold_test: str = "seed",
    equivalence_margin: float = 1.0,
    warnings: Sequence[str] = (),
) -> ReportTables:
    """Summaries and paired comparisons of the runs; aso_bootstrap=0 or ar_trials=0 skips that test.

    Runs of one dataset whose protocol differs (benchmark.analysis.protocol.REFUSED) raise
    ProtocolMismatch naming the key and the runs, unless allow_mixed (then the table is marked).
    `declared`: a custom dataset's declaration (display_name, relation, average) as staging recorded it;
    `metric_average` overrides its average.
    method_names overrides the printed names of methods (see display_names). warnings: what the caller
    found before (collect.truncation_warnings), listed after the table's own.
    """
    declared = declared or {}
    metric_average = {**{d: v["average"] for d, v in declared.items() if v.get("average")}, **(metric_average or {})}
    if not records:
        raise UserInputError("no runs to report")
    if not 0 < alpha < 1:
        raise UserInputError(f"alpha must lie in (0, 1), got {alpha}")
    if fold_test not in ("seed", "corrected"):
        raise UserInputError(f"fold_test must be 'seed' or 'corrected', got {fold_test!r}")
    if not equivalence_margin > 0:
        raise UserInputError(f"equivalence_margin must be > 0, got {equivalence_margin}")
    notes: list[str] = []
    matrix = value_matrix(records, metric_average)
    matrix["in_table"] = _select_negatives(matrix, notes)
    table = matrix[matrix["in_table"]]
    names = dataset_order(set(table["dataset"]))
    averages = averages_for(names, metric_average)
    by_path = {(str(r.path), r.dataset): r for r in records}  # one run can be two datasets' record (overlap)
    used = {k: by_path[k] for k in dict.fromkeys(zip(table["path"], table["dataset"]))}
    datasets = {d: _dataset_info(d, averages[d], [r for r in used.values() if r.dataset == d], notes,
                                 allow_mixed=allow_mixed, git_commit=git_commit, declared=declared.get(d))
                for d in names}
    columns = tuple(Column(d, s, label, averages[d]) for d in names for s, label in SETTINGS)
    present = [b for b in baselines if b in set(table["method"])]
    methods = tuple(dict.fromkeys([*present, *sorted(set(table["method"]))]))
    printed = display_names(methods, method_names)
    if not present:
        notes.append(f"no run of the baselines ({', '.join(baselines) or 'none given'}); no significance tests")

    runs: dict[tuple[str, str], dict[Unit, RunRecord]] = {}
    values: dict[tuple[str, str, str], dict[Unit, float]] = {}
    for row in table.itertuples(index=False):
        unit = (int(row.seed), None if pd.isna(row.fold) else int(row.fold))
        runs.setdefault((row.dataset, row.method), {})[unit] = by_path[(row.path, row.dataset)]
        values.setdefault((row.dataset, row.setting, row.method), {})[unit] = float(row.value)
    cells = {}
    for col in columns:
        for m in methods:
            got = values.get((col.dataset, col.setting, m))
            if got:
                units = tuple(sorted(got, key=unit_key))
                vals = tuple(got[u] for u in units)
                cells[(col.dataset, col.setting, m)] = Cell(col, m, units, vals, stats.summarize(vals))
    for (d, m), by_unit in sorted(runs.items()):
        if len(by_unit) < 2:
            notes.append(f"{d}/{m}: only {len(by_unit)} run; no standard deviation and no significance test")

    with_aso = aso_bootstrap > 0
    if with_aso and importlib.util.find_spec("deepsig") is None:
        notes.append("ASO skipped: the optional package deepsig is not installed")
        with_aso = False
    docs = RunDocs()
    planned = plan_families(present, methods, columns, lambda col, m: runs.get((col.dataset, m)))
    pairs = {base: [p for p in (_pair(plan, runs, values, datasets, docs, notes, ar_trials) for plan in plans)
                    if p is not None] for base, plans in planned.items()}
    options = Options(seed, alpha, ar_trials, aso_bootstrap if with_aso else 0, equivalence_margin, fold_test)
    results = {base: tuple(Result(t.pair.planned.key, base, t.pair.planned.method, t.units, t.a, t.b, t.comparison,
                                  t.t_holm, t.ar_holm, alpha, t.tost_holm, t.family_size, t.fold_units)
                           for t in tested)
               for base, tested in run_families(pairs, options).items()}
    settings = {"baselines": list(results), "alpha": alpha, "seed": seed, "aso_bootstrap": aso_bootstrap if with_aso
                else 0, "ar_trials": ar_trials, "decision_test": stats.DECISION_TEST, "fold_test": fold_test,
                "unit_of_replication": "seed", "correction": "holm", "equivalence_margin": equivalence_margin,
                "aso_confidence": "1 - alpha/m", "metric_average": averages, "allow_mixed": allow_mixed,
                "display_names": printed}
    return ReportTables(matrix, datasets, columns, methods, cells, results,
                        (*dict.fromkeys(notes), *warnings), settings, runs, docs)


def _pair(plan: Planned, runs: dict, values: dict, datasets: Mapping[str, DatasetInfo], docs: RunDocs,
          notes: list[str], ar_trials: int) -> Pair | None:
    """The main table's inputs of one planned comparison (None without paired units); notes the units
    only one side has (once per dataset, on its first column) and pools the sentence-level test's counts."""
    col, base, m = plan.key, plan.baseline, plan.method
    base_runs, other = runs[(col.dataset, base)], runs[(col.dataset, m)]
    what = f"{col.dataset}: {m} vs {base}"
    if plan.unpaired and col.setting == SETTINGS[0][0]:
        miss = ", ".join(f"{unit_text(u)} (only {base if u in base_runs else m})" for u in plan.unpaired)
        notes.append(f"{what}: {len(plan.common)} paired runs; unpaired: {miss}")
    if not plan.common:
        return None
    pooled = groups = None
    if ar_trials > 0:
        pooled = docs.paired([base_runs[u] for u in plan.common], [other[u] for u in plan.common], col.setting,
                             what, notes)
        if pooled is not None:
            groups = document_ids(docs, [base_runs[u] for u in plan.common])
    folded = any(u[1] is not None for u in plan.common)
    return Pair(plan, tuple(values[(col.dataset, col.setting, base)][u] for u in plan.common),
                tuple(values[(col.dataset, col.setting, m)][u] for u in plan.common), col.average, pooled, groups,
                len(datasets[col.dataset].folds) if folded else 0)


def document_ids(docs: RunDocs, runs: Sequence[RunRecord]) -> np.ndarray:
    """One id per pooled document row: the same test document (same fold, position and tokens) in
    different seeds' runs gets the same id, so approximate randomization swaps its copies together."""
    ids: dict[tuple, int] = {}
    out = []
    for rec in runs:
        gold = docs.of(rec)[0]
        for j, doc in enumerate(gold):
            out.append(ids.setdefault((rec.fold, j, tuple(doc.tokens)), len(ids)))
    return np.asarray(out, dtype=np.int64)


def families(tables: ReportTables) -> dict[str, int]:
    """Holm family size per baseline."""
    return {b: len(rs) for b, rs in tables.results.items()}


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
