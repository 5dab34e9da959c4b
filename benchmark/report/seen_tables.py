"""Seen / unseen tables: P/R/F1 per partition (benchmark.analysis.seen) and method, compared with the
main table's machinery (paired t-test per seed with folds averaged per seed, Holm per baseline,
sentence-level approximate randomization on the partition's per-document counts with one swap per
document shared by the seeds' copies; ASO is not run here).

Partitions need each run's training split: it is loaded from the staged data (``data_root``, as
`erbench data stage` writes it) for the run's dataset, fold and train_split. When the staged data
is absent, or its sha256 differs from what the runs recorded, that dataset's section is skipped
with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from erbench import stats
from erbench.analysis import seen
from erbench.analysis.seeds import PowerRow, power_row
from erbench.config import ConfigError
from erbench.datasets.load import DataError
from erbench.datasets.registry import resolve
from erbench.datasets.stage import StageError, StaleDataError, load_split, staged_manifest
from erbench.errors import UserInputError
from erbench.report.collect import RunRecord
from erbench.report.compare import Options, Pair, Planned, Unit, Verdict, plan_families, run_families, unit_key
from erbench.report.overlap import SETTING_OF
from erbench.report.tables import ReportTables
from erbench.scoring import scores_from_counts

WHY = "the seen/unseen split, the error breakdown and the sentence browser skip it"


@dataclass(frozen=True)
class PartCell:
    dataset: str
    setting: str
    partition: str
    method: str
    units: tuple[Unit, ...]
    p: tuple[float, ...]
    r: tuple[float, ...]
    f1: tuple[float, ...]
    gold: tuple[int, ...]  # gold tuples of the partition per run
    predicted: tuple[int, ...]
    summary: stats.Summary  # of f1


@dataclass(frozen=True)
class PartResult(Verdict):
    dataset: str
    setting: str
    partition: str
    baseline: str
    method: str
    units: tuple[Unit, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]
    comparison: stats.Comparison
    t_holm: float
    ar_holm: float | None
    alpha: float
    power: PowerRow


@dataclass(frozen=True, eq=False)
class SeenTables:
    settings: dict[str, tuple[str, ...]]  # dataset -> ("ner", its headline relation setting)
    average: dict[str, str]
    shares: dict[tuple[str, str], dict[str, int]]  # (dataset, setting) -> partition -> gold tuples (one seed)
    cells: dict[tuple[str, str, str, str], PartCell]  # (dataset, setting, partition, method)
    results: dict[str, tuple[PartResult, ...]]
    skipped: dict[str, str]  # dataset -> why it has no section


def _indexes(tables: ReportTables, dataset: str, data_root: Path, custom: Mapping | None) -> dict:
    """(fold, train split) -> TrainIndex for every run of the dataset; raises ValueError with the reason."""
    # a table of re-scored runs (report.overlap: ade_overlapping) partitions by its runs' own training data
    source = next((r.protocol.get(SETTING_OF) for (d, _), runs in tables.runs.items() if d == dataset
                   for r in runs.values() if r.protocol.get(SETTING_OF)), None) or dataset
    spec = resolve(source, dict(custom or {}), data_root)
    if spec is None:
        raise UserInputError(f"dataset {source} is not registered (built-in or params data.custom)")
    manifest = staged_manifest(data_root, source)
    out = {}
    for (d, _), by_unit in tables.runs.items():
        if d != dataset:
            continue
        for rec in by_unit.values():
            split = rec.protocol.get("train_split") or "train"
            key = (rec.fold, split)
            file = spec.splits[spec.split_key(split, rec.fold)].name
            recorded = ((rec.data or {}).get("sha256") or {}).get(file)
            staged = (manifest.get("sha256") or {}).get(file)
            if recorded and staged and recorded != staged:
                raise UserInputError(f"staged {file} (sha256 {staged[:12]}) is not the file {rec.label} was trained on "
                                 f"(sha256 {recorded[:12]})")
            if key not in out:
                docs, types = load_split(data_root, spec, spec.split_key(split, rec.fold))
                out[key] = seen.train_index(docs, types)
    return out


def _part_scores(counts, average: str) -> tuple[float, float, float]:
    s = scores_from_counts(counts)[average]
    return s["p"], s["r"], s["f1"]


def build_seen(tables: ReportTables, data_root: Path | None, custom: Mapping | None, notes: list[str],
               read_notes: list[str], *, ar_trials: int, seed: int) -> SeenTables | None:
    """Partition every table run's test tuples; None when no dataset could be partitioned. notes gets
    the datasets skipped, read_notes the runs without documents."""
    if data_root is None:
        return None
    names = list(tables.datasets)
    settings = {d: ("ner", tables.datasets[d].relation) for d in names}
    average = {d: tables.datasets[d].average for d in names}
    skipped: dict[str, str] = {}
    counts: dict[tuple[str, str, str], dict[str, list]] = {}  # (run path, dataset, setting) -> partition -> counts
    shares: dict[tuple[str, str], dict[str, int]] = {}
    cells: dict[tuple[str, str, str, str], PartCell] = {}
    for d in names:
        try:
            indexes = _indexes(tables, d, Path(data_root), custom)
        except StaleDataError:  # the user's data changed since staging: stop, naming the file (never a skip)
            raise
        except (StageError, DataError, ConfigError, ValueError, KeyError, OSError) as exc:
            skipped[d] = str(exc)
            notes.append(f"{d}: no seen/unseen split ({exc})")
            continue
        for m in tables.methods:
            by_unit = tables.runs.get((d, m)) or {}
            for setting in settings[d]:
                rows: dict[str, list] = {p: [] for p in seen.partitions_of(setting)}
                for unit in sorted(by_unit, key=unit_key):
                    rec = by_unit[unit]
                    docs = tables.docs.of(rec, WHY, read_notes)
                    if docs is None:
                        continue
                    gold, pred, types = docs
                    index = indexes[(rec.fold, rec.protocol.get("train_split") or "train")]
                    parts = seen.partition_counts(gold, pred, types, index, setting,
                                                  no_overlapping=bool(rec.protocol.get("no_overlapping", False)))
                    counts[(str(rec.path), rec.dataset, setting)] = parts
                    for part, doc_counts in parts.items():
                        g = sum(c[0] + c[2] for doc in doc_counts for c in doc.values())
                        pr = sum(c[0] + c[1] for doc in doc_counts for c in doc.values())
                        rows[part].append((unit, *_part_scores(doc_counts, average[d]), g, pr))
                for part, got in rows.items():
                    if got:
                        f1 = tuple(x[3] for x in got)
                        cells[(d, setting, part, m)] = PartCell(
                            d, setting, part, m, tuple(x[0] for x in got), tuple(x[1] for x in got),
                            tuple(x[2] for x in got), f1, tuple(x[4] for x in got), tuple(x[5] for x in got),
                            stats.summarize(f1))
    if len(skipped) == len(names) or not cells:
        return None
    for d in names:
        for setting in settings[d] if d not in skipped else ():
            shares[(d, setting)] = _shares(tables, d, setting, counts)
    results = _compare(tables, cells, counts, settings, average, ar_trials=ar_trials, seed=seed)
    return SeenTables({d: s for d, s in settings.items() if d not in skipped}, average, shares, cells,
                      results, skipped)


def _shares(tables: ReportTables, dataset: str, setting: str, counts: dict) -> dict[str, int]:
    """Gold tuples per partition over the test documents of one seed (every fold) of the first method."""
    total = dict.fromkeys(seen.partitions_of(setting), 0)
    for m in tables.methods:
        keyed = [(u, r) for u, r in (tables.runs.get((dataset, m)) or {}).items()
                 if (str(r.path), r.dataset, setting) in counts]
        if not keyed:
            continue
        first = min(u[0] for u, _ in keyed)
        for unit, rec in keyed:
            if unit[0] == first:
                for part, docs in counts[(str(rec.path), rec.dataset, setting)].items():
                    total[part] += sum(c[0] + c[2] for doc in docs for c in doc.values())
        break
    return total


def _pooled(tables: ReportTables, runs_a: list[RunRecord], runs_b: list[RunRecord], setting: str, part: str,
            counts: dict) -> tuple[list, list] | None:
    pooled_a, pooled_b, ids = [], [], []
    for ra, rb in zip(runs_a, runs_b):
        ca, cb = counts.get((str(ra.path), ra.dataset, setting)), counts.get((str(rb.path), rb.dataset, setting))
        if ca is None or cb is None or not tables.docs.same_gold(ra, rb, setting):
            return None
        pooled_a.extend(ca[part])
        pooled_b.extend(cb[part])
        ids.extend((ra.fold, j) for j in range(len(ca[part])))  # a seed's copy of a document: same fold, place
    index: dict = {}
    return pooled_a, pooled_b, [index.setdefault(k, len(index)) for k in ids]


def _compare(tables: ReportTables, cells: dict, counts: dict, settings: dict, average: dict, *, ar_trials: int,
             seed: int) -> dict[str, tuple[PartResult, ...]]:
    """The main table's comparison loop over the partitions (keys: dataset, setting, partition); no ASO."""
    alpha = tables.settings["alpha"]
    keys = [(d, setting, part) for d, sets in settings.items() for setting in sets
            for part in seen.partitions_of(setting)]
    planned = plan_families(list(tables.settings["baselines"]), tables.methods, keys,
                            lambda key, m: getattr(cells.get((*key, m)), "units", None))
    pairs = {base: [_pair(plan, tables, cells, counts, average, ar_trials) for plan in plans if plan.common]
             for base, plans in planned.items()}
    return {base: tuple(PartResult(*t.pair.planned.key, base, t.pair.planned.method, t.units, t.a, t.b, t.comparison,
                                   t.t_holm, t.ar_holm, alpha,
                                   power_row(t.a, t.b, alpha=alpha, family_size=t.family_size))
                        for t in tested)
            for base, tested in run_families(pairs, Options(seed, alpha, ar_trials)).items()}


def _pair(plan: Planned, tables: ReportTables, cells: dict, counts: dict, average: dict, ar_trials: int) -> Pair:
    """F1 of both methods on the partition per paired unit, and the partition's pooled counts."""
    (d, setting, part), base, m = plan.key, plan.baseline, plan.method
    va, vb = (dict(zip(cells[(d, setting, part, x)].units, cells[(d, setting, part, x)].f1)) for x in (base, m))
    pooled = groups = None
    if ar_trials > 0:
        got = _pooled(tables, [tables.runs[(d, base)][u] for u in plan.common],
                      [tables.runs[(d, m)][u] for u in plan.common], setting, part, counts)
        if got is not None:
            pooled, groups = got[:2], got[2]
    return Pair(plan, tuple(va[u] for u in plan.common), tuple(vb[u] for u in plan.common), average[d], pooled,
                groups)
