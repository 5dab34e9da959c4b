"""Everything the report shows beside the main table, computed from one ReportTables:

- ``power``: per comparison of the main table, the power of the paired t-test and the seeds a 1-point
  gap needs (benchmark.analysis.seeds), printed next to every "not significant" verdict;
- ``expected_max``: E[max F1 over k seeds], k = 1..n, per dataset, column and method;
- ``errors``: entity and relation error kinds per run (benchmark.analysis.errors), mean per method;
- ``seen``: the seen / unseen tables (benchmark.report.seen_tables), when the training data is staged;
- ``per_type``: per-type F1 from the runs' metrics.json, mean +- std per method;
- ``learning``: dev F1 per epoch from the runs' metrics.json history, when the runs evaluated dev;
- ``across``: the verdict across datasets (report.across: replicability analysis, Dror et al. 2017);
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
from erbench.report.across import Across, across_datasets
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
    verdict: str  # where the number falls, and whether the encoders differ (encoder_verdict)
    paper_encoder: str = ""  # the encoder the published number used (SPEC 3; "" not known)
    run_encoder: str = ""  # the encoder(s) of the measured runs
    same_encoder: bool | None = None  # None: the paper's encoder is not known
    placement: str = ""  # where the number falls in the seed distribution (REPRO_*), encoders aside


# The encoder behind each published number (SPEC 3's table): (dataset, method) first, then (dataset, "*").
# Each with the fragments a run's encoder name (its last path part, lower case) must contain to be that encoder.
PAPER_ENCODERS = {
    ("conll04", "*"): ("bert-base-cased", ("bert-base-cased",)),
    ("scierc", "*"): ("SciBERT (scivocab, cased)", ("scibert", "scivocab_cased")),
    ("ade", "*"): ("bert-base-cased", ("bert-base-cased",)),
    ("ade", "spert_mt"): ("BioBERT", ("biobert",)),
}


def paper_encoder(dataset: str, method: str) -> tuple[str, tuple[str, ...]]:
    """(the published number's encoder, the fragments that identify it); ("", ()) when not known."""
    return PAPER_ENCODERS.get((dataset, method)) or PAPER_ENCODERS.get((dataset, "*")) or ("", ())


def encoder_verdict(verdict: str, paper: str, runs: str, same: bool | None) -> str:
    """The verdict with both encoders named wherever they differ or the paper's is unknown: a run on
    another encoder does not fail to reproduce a number, it measures something else."""
    if same:
        return f"{verdict} (same encoder: {paper})"
    if same is None:
        return (f"{verdict}; the published number's encoder is not known to erbench (runs: {runs}), so this is "
                "no reproduction verdict until the encoders are compared")
    return (f"{verdict}; not a reproduction attempt: the runs use {runs}, the published number {paper} "
            "(a different encoder, so a gap is no failed reproduction)")


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
    across: Across | None = None  # the verdict across datasets (report.across)
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
                    tuple(dict.fromkeys([*read_notes, *notes, *unpooled])), across_datasets(tables), repro, sensitivity)


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
        paper, fragments = paper_encoder(pub.dataset, pub.method)
        encoders = sorted({str(r.protocol.get("encoder", "unrecorded"))
                           for r in tables.runs.get((pub.dataset, pub.method), {}).values()})
        same = (all(all(f in e.rstrip("/").rsplit("/", 1)[-1].lower() for f in fragments) for e in encoders)
                if fragments else None)
        run_encoder = ", ".join(encoders)
        if pub.seeds > len(per_seed):
            notes.append(f"{what}: the paper used {pub.seeds} seeds, the runs have {len(per_seed)}; the expected "
                         f"maximum of {pub.seeds} seeds cannot be estimated (shown as –)")
        out.append(Reproduction(pub.dataset, pub.method, pub.metric, pub.value, pub.source, pub.seeds, pub.note,
                                s.n, s.mean, s.ci_low, s.ci_high, min(per_seed), max(per_seed), emax,
                                encoder_verdict(verdict, paper, run_encoder, same), paper, run_encoder, same, verdict))
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
