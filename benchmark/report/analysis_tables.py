"""Everything the report shows beside the main table, computed from one ReportTables:

- ``power``: per comparison of the main table, the power of the paired t-test and the seeds a 1-point
  gap needs (benchmark.analysis.seeds), printed next to every "not significant" verdict;
- ``expected_max``: E[max F1 over k seeds], k = 1..n, per dataset, column and method;
- ``errors``: entity and relation error kinds per run (benchmark.analysis.errors), mean per method;
- ``seen``: the seen / unseen tables (benchmark.report.seen_tables), when the training data is staged;
- ``per_type``: per-type F1 from the runs' metrics.json, mean +- std per method;
- ``learning``: dev F1 per epoch from the runs' metrics.json history, when the runs evaluated dev;
- ``replication``: per baseline, method and column label, on how many datasets the method is
  significantly better (markers), and the partial-conjunction count (Benjamini & Heller 2008, Dror et
  al. 2017) from the one-sided per-dataset p-values;
- ``sensitivity``: each declared choice against its method as specified and SpERT (report.choices);
- ``reproduction``: each published number (params `report.published`) beside the measured mean, its t
  interval, the min-max over seeds and the expected maximum over the paper's k seeds, with a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from erbench import stats
from erbench.analysis import errors as error_kinds
from erbench.analysis.seeds import PowerRow, expected_max_curve, per_seed_values, power_row
from erbench.config import PublishedResult
from erbench.report import choices
from erbench.report.overlap import rescored_datasets
from erbench.report.seen_tables import WHY, SeenTables, build_seen
from erbench.report.tables import ReportTables, Unit


@dataclass(frozen=True)
class ErrorCell:
    dataset: str
    method: str
    units: tuple[Unit, ...]
    entity: dict[str, tuple[int, ...]]  # kind -> count per run
    relation: dict[str, tuple[int, ...]]

    def mean(self, group: str, kind: str) -> float:
        return float(np.mean(getattr(self, group)[kind]))


@dataclass(frozen=True)
class TypeScore:
    mean: float
    std: float
    n: int
    support: float  # gold occurrences in one run's evaluation split (mean over runs)


@dataclass(frozen=True)
class Curve:
    dataset: str
    method: str
    metric: str  # e.g. dev/rel_strict/micro_f1
    epochs: tuple[int, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    n: tuple[int, ...]


@dataclass(frozen=True)
class Replication:
    baseline: str
    method: str
    label: str  # NER | RE | RE+
    datasets: tuple[str, ...]
    pvalues: tuple[float, ...]  # one-sided decision p-values of "method better", per dataset
    significant: int  # datasets where the marker says better (Holm within the baseline's family)
    pc_pvalues: tuple[float, ...]  # partial-conjunction p-values for u = 1..N
    replicated: int  # the largest u with pc p-value <= alpha


REPRO_INSIDE = "inside the seed distribution"
REPRO_BEST = "matches the best of k rather than the mean"
REPRO_OUTSIDE = "outside the measured range"


@dataclass(frozen=True)
class Reproduction:
    dataset: str
    method: str
    metric: str
    value: float  # published
    source: str
    seeds: int  # k: the paper's number of seeds
    note: str
    n: int  # measured seeds (folds averaged per seed)
    mean: float
    ci_low: float
    ci_high: float
    low: float  # min over seeds
    high: float  # max over seeds
    expected_max: float  # E[max of k seeds], nan when k > n
    verdict: str


def reproduction_verdict(value: float, per_seed: list[float], k: int) -> tuple[stats.Summary, float, str]:
    """Which part of the measured seed distribution a published number matches.

    Outside [min, max] over seeds: "outside the measured range"; else above the t interval of the mean
    and nearer to the expected maximum of k seeds than to the mean: "matches the best of k rather than
    the mean"; else "inside the seed distribution"."""
    s = stats.summarize(per_seed)
    emax = stats.expected_max(per_seed, k) if per_seed else math.nan
    low, high = min(per_seed), max(per_seed)
    tol = 1e-9
    if value < low - tol or value > high + tol:
        return s, emax, REPRO_OUTSIDE
    above = math.isnan(s.ci_high) or value > s.ci_high
    if above and not math.isnan(emax) and abs(value - emax) < abs(value - s.mean):
        return s, emax, REPRO_BEST
    return s, emax, REPRO_INSIDE


@dataclass(frozen=True, eq=False)
class Analysis:
    power: dict[tuple[str, str, str, str], PowerRow]  # (baseline, dataset, setting, method)
    expected_max: dict[tuple[str, str, str], tuple[float, ...]]  # (dataset, setting, method)
    errors: dict[tuple[str, str], ErrorCell]  # (dataset, method)
    seen: SeenTables | None
    per_type: dict[tuple[str, str, str], dict[str, TypeScore]]  # (dataset, setting, method) -> type -> score
    learning: tuple[Curve, ...]
    notes: tuple[str, ...]
    replication: tuple[Replication, ...] = ()
    reproduction: tuple[Reproduction, ...] = ()
    sensitivity: tuple[dict, ...] = ()  # declared choices against their method and SpERT (report.choices)

    def power_of(self, result) -> PowerRow:
        return self.power[(result.baseline, result.column.dataset, result.column.setting, result.method)]


def build_analysis(tables: ReportTables, *, data_root: Path | None = None, custom: Mapping | None = None,
                   ar_trials: int | None = None, seed: int | None = None,
                   published: Sequence[PublishedResult] = ()) -> Analysis:
    """The analyses of one report; data_root=None skips the seen/unseen split (it needs the training data)."""
    notes: list[str] = []
    read_notes: list[str] = []  # runs without documents, first noted here (after the main table's notes)
    alpha = tables.settings["alpha"]
    power = {(r.baseline, r.column.dataset, r.column.setting, r.method):
             power_row(r.a, r.b, alpha=alpha, family_size=r.family_size) for rs in tables.results.values() for r in rs}
    expected = {}
    for (d, s, m), cell in tables.cells.items():
        expected[(d, s, m)] = tuple(expected_max_curve(per_seed_values(cell.units, cell.values)))
    ar = tables.settings["ar_trials"] if ar_trials is None else ar_trials
    seen_tables = build_seen(tables, data_root, custom, notes, read_notes, ar_trials=ar,
                             seed=tables.settings["seed"] if seed is None else seed)
    if data_root is None:
        notes.append("seen/unseen split not computed: no data root given (erbench report --data-root)")
    repro = _reproduction(tables, published, notes)
    errors = _errors(tables, read_notes)
    sensitivity, unpooled = choices.sensitivity(tables)
    return Analysis(power, expected, errors, seen_tables, _per_type(tables), _learning(tables),
                    tuple(dict.fromkeys([*read_notes, *notes, *unpooled])), _replication(tables), repro, sensitivity)


def _replication(tables: ReportTables) -> tuple[Replication, ...]:
    """Per baseline, method and column label over the datasets that compare them (2 or more)."""
    out = []
    alpha = tables.settings["alpha"]
    rescored = rescored_datasets(r for runs in tables.runs.values() for r in runs.values())  # not a dataset
    for base, rs in tables.results.items():
        groups: dict[tuple[str, str], list] = {}
        for r in rs:
            if r.column.dataset not in rescored:
                groups.setdefault((r.method, r.column.label), []).append(r)
        for (m, label), group in groups.items():
            if len(group) < 2:
                continue
            one_sided = []
            for r in group:
                p, diff = r.comparison.decision_pvalue, r.comparison.mean_diff
                one_sided.append(math.nan if math.isnan(p) else (p / 2 if diff > 0 else 1 - p / 2))
            pc, count = stats.partial_conjunction(one_sided, alpha)
            out.append(Replication(base, m, label, tuple(r.column.dataset for r in group), tuple(one_sided),
                                   sum(r.direction > 0 for r in group), tuple(pc), count))
    return tuple(out)


def _reproduction(tables: ReportTables, published: Sequence[PublishedResult], notes: list[str]
                  ) -> tuple[Reproduction, ...]:
    out = []
    for pub in published:
        setting, _, average = pub.metric.partition("/")
        cell = tables.cells.get((pub.dataset, setting, pub.method))
        what = f"published {pub.dataset}/{pub.method} {pub.metric} = {pub.value:g} ({pub.source})"
        if cell is None:
            notes.append(f"{what}: no runs of that method on that dataset; no reproduction verdict")
            continue
        if cell.column.average != average.removesuffix("_f1"):
            notes.append(f"{what}: the table reports {cell.column.key} for {pub.dataset}; no reproduction verdict "
                         "(use --average to report the other average)")
            continue
        per_seed = per_seed_values(cell.units, cell.values)
        s, emax, verdict = reproduction_verdict(pub.value, per_seed, pub.seeds)
        if pub.seeds > len(per_seed):
            notes.append(f"{what}: the paper used {pub.seeds} seeds, the runs have {len(per_seed)}; the expected "
                         f"maximum of {pub.seeds} seeds cannot be estimated (shown as –)")
        out.append(Reproduction(pub.dataset, pub.method, pub.metric, pub.value, pub.source, pub.seeds, pub.note,
                                s.n, s.mean, s.ci_low, s.ci_high, min(per_seed), max(per_seed), emax, verdict))
    return tuple(out)


def _errors(tables: ReportTables, read_notes: list[str]) -> dict[tuple[str, str], ErrorCell]:
    out = {}
    for (d, m), by_unit in tables.runs.items():
        units, ents, rels = [], [], []
        for unit in sorted(by_unit, key=lambda u: (u[0], -1 if u[1] is None else u[1])):
            rec = by_unit[unit]
            docs = tables.docs.of(rec, WHY, read_notes)
            if docs is None:
                continue
            gold, pred, types = docs
            got = error_kinds.run_errors(gold, pred, types, no_overlapping=bool(rec.protocol.get("no_overlapping")))
            units.append(unit)
            ents.append(got["entity"])
            rels.append(got["relation"])
        if units:
            out[(d, m)] = ErrorCell(d, m, tuple(units),
                                    {k: tuple(e[k] for e in ents) for k in error_kinds.ENTITY_KINDS},
                                    {k: tuple(r[k] for r in rels) for k in error_kinds.RELATION_KINDS})
    return dict(sorted(out.items(), key=lambda kv: (list(tables.datasets).index(kv[0][0]),
                                                    tables.methods.index(kv[0][1]))))


def _per_type(tables: ReportTables) -> dict[tuple[str, str, str], dict[str, TypeScore]]:
    out = {}
    for (d, m), by_unit in tables.runs.items():
        for setting in ("ner", "rel", "rel_strict"):
            values: dict[str, list[float]] = {}
            support: dict[str, list[float]] = {}
            for rec in by_unit.values():
                prefix = f"{rec.protocol.get('eval_split', 'test')}/{setting}/per_type/"
                for key, value in rec.metrics.items():
                    if key.startswith(prefix) and key.endswith("/f1"):
                        t = key[len(prefix):-3]
                        values.setdefault(t, []).append(value)
                        support.setdefault(t, []).append(rec.metrics.get(f"{prefix}{t}/support", float("nan")))
            if values:
                out[(d, setting, m)] = {t: _type_score(v, support[t]) for t, v in sorted(values.items())}
    return out


def _type_score(values: list[float], support: list[float]) -> TypeScore:
    s = stats.summarize(values)
    return TypeScore(s.mean, s.std, s.n, float(np.nanmean(support)) if not np.all(np.isnan(support)) else float("nan"))


def _learning(tables: ReportTables) -> tuple[Curve, ...]:
    curves = []
    for d in tables.datasets:
        avg = tables.datasets[d].average
        metric = f"dev/{tables.datasets[d].relation}/{avg}_f1"
        for m in tables.methods:
            by_epoch: dict[int, list[float]] = {}
            for rec in (tables.runs.get((d, m)) or {}).values():
                for h in rec.history:
                    value = h.get(metric)
                    if isinstance(h.get("epoch"), int) and isinstance(value, (int, float)):
                        by_epoch.setdefault(h["epoch"], []).append(float(value))
            if by_epoch:
                epochs = tuple(sorted(by_epoch))
                summaries = [stats.summarize(by_epoch[e]) for e in epochs]
                curves.append(Curve(d, m, metric, epochs, tuple(s.mean for s in summaries),
                                    tuple(s.std for s in summaries), tuple(s.n for s in summaries)))
    return tuple(curves)
