"""Find run folders (`metrics.json` written by `erbench train`) and read them into RunRecords.

Only the keys the report needs are validated, each rejection naming the file. Predictions are read
later and only when a sentence-level test needs them (`load_documents`, `RunRecord.predictions_path`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from erbench.datasets.load import Document, TypeInventory, parse_documents, parse_types
from erbench.runfolder import CONFIG, METRICS, PREDICTIONS, RunError, read_config, read_json, read_jsonl

__all__ = ["RunError", "RunRecord", "collect_runs", "load_documents", "load_types_of", "read_run",
           "truncation_warnings", "variant_display", "variant_id", "variant_notes"]

VARIANT_SEP = "+"  # METHOD+KEY=VALUE,...: a variant's id (erbench evaluate --out-run; interpretation variants)


@dataclass(frozen=True)
class RunRecord:
    dataset: str
    method: str
    seed: int
    fold: int | None
    metrics: dict[str, float] = field(compare=False, hash=False, repr=False)
    protocol: dict[str, Any] = field(compare=False, hash=False, repr=False)
    path: Path = Path(".")  # the run folder (holding metrics.json)
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)  # sha256, encodings
    history: tuple[dict, ...] = field(default=(), compare=False, hash=False, repr=False)  # per epoch
    environment: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)  # torch, ...

    @property
    def negatives(self) -> tuple[int | None, int | None]:
        return self.protocol.get("neg_entity_count"), self.protocol.get("neg_relation_count")

    @property
    def unit(self) -> tuple[int, int | None]:
        """What pairs two methods' runs: the seed, and the fold on cross-validated datasets."""
        return self.seed, self.fold

    @property
    def label(self) -> str:
        fold = "" if self.fold is None else f" fold {self.fold}"
        return f"{self.dataset}/{self.method} seed {self.seed}{fold}"

    @property
    def predictions_path(self) -> Path:
        return self.path / PREDICTIONS


def _int_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def read_run(metrics_file: Path) -> RunRecord:
    """One run from its metrics.json; RunError names the file and the missing or bad key."""
    raw = read_json(metrics_file)
    if not isinstance(raw, dict):
        raise RunError(f"{metrics_file}: expected a JSON object with 'run', 'protocol' and 'metrics'")
    for key in ("run", "protocol", "metrics"):
        if not isinstance(raw.get(key), dict):
            raise RunError(f"{metrics_file}: missing or non-object key '{key}'")
    run = raw["run"]
    for key in ("dataset", "method"):
        if not isinstance(run.get(key), str) or not run[key]:
            raise RunError(f"{metrics_file}: run.{key} must be a non-empty string, got {run.get(key)!r}")
    seed, fold = run.get("seed"), run.get("fold")
    if seed is None or not _int_or_none(seed):
        raise RunError(f"{metrics_file}: run.seed must be an integer, got {seed!r}")
    if not _int_or_none(fold):
        raise RunError(f"{metrics_file}: run.fold must be an integer or null, got {fold!r}")
    metrics = {}
    for key, value in raw["metrics"].items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RunError(f"{metrics_file}: metrics.{key} must be a finite number, got {value!r}")
        metrics[key] = float(value)
    protocol = dict(raw["protocol"])
    if protocol.get("dataset", run["dataset"]) != run["dataset"]:
        raise RunError(f"{metrics_file}: protocol.dataset {protocol['dataset']!r} != run.dataset {run['dataset']!r}")
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    history = tuple(h for h in raw.get("history") or () if isinstance(h, dict))
    environment = raw.get("environment") if isinstance(raw.get("environment"), dict) else {}
    return RunRecord(run["dataset"], run["method"], seed, fold, metrics, protocol, metrics_file.parent, data, history,
                     environment)


def _metrics_files(root: Path) -> list[Path]:
    if root.is_file():
        if root.name != METRICS:
            raise RunError(f"{root}: not a {METRICS} file or a folder of runs")
        return [root]
    if not root.is_dir():
        raise RunError(f"{root}: no such folder")
    found = []
    for path in sorted(root.rglob(METRICS)):
        if not any(part.startswith(".") for part in path.relative_to(root).parts):  # temp folders of writers
            found.append(path)
    return found


def variant_id(base: str, changes: Iterable[str]) -> str:
    """The method id of a variant: BASE+KEY=VALUE,KEY=VALUE (what it sets away from BASE, in order)."""
    parts = [str(c).replace(" ", "") for c in changes]
    return f"{base}{VARIANT_SEP}{','.join(parts)}" if parts else base


def variant_display(method: str, display: str) -> str:
    """'SpERT.MT (mt_loss_norm=side)' for the variant id 'spert_mt+mt_loss_norm=side' of a method
    printed as 'SpERT.MT' (tables.display_names)."""
    _, _, changes = method.partition(VARIANT_SEP)
    return f"{display} ({changes.replace(',', ', ')})"


def _interpretation_variants(records: list[RunRecord]) -> list[RunRecord]:
    """Runs of one dataset and method that set SpERT.MT's interpretation options (protocol
    `interpretation`, from `erbench train --set`, without a declared choice) differently are not one
    table row: each run away from the registered reading becomes the variant METHOD+KEY=VALUE,...
    (protocol choice, base_method and choice_set, as a declared choice records them), so the report
    shows each reading as its own row and in "Interpretation sensitivity". Runs of a method that all
    share one reading stay as they are (the protocol card names it)."""
    from erbench.analysis.protocol import UNRECORDED

    def reading(rec: RunRecord) -> str:
        return str(rec.protocol.get("interpretation", UNRECORDED["interpretation"]))

    groups: dict[tuple[str, str], set[str]] = {}
    for rec in records:
        if not rec.protocol.get("choice"):
            groups.setdefault((rec.dataset, rec.method), set()).add(reading(rec))
    out = []
    for rec in records:
        value = reading(rec)
        if rec.protocol.get("choice") or len(groups[(rec.dataset, rec.method)]) < 2 or value == "as registered":
            out.append(rec)
            continue
        changes = [part.strip() for part in value.split(",") if "=" in part]
        name = variant_id(rec.method, changes)
        protocol = {**rec.protocol, "choice": name, "base_method": rec.method,
                    "choice_set": dict(part.split("=", 1) for part in changes), "variant_of": "interpretation"}
        out.append(replace(rec, method=name, protocol=protocol))
    return out


def variant_notes(records: Iterable[RunRecord]) -> list[str]:
    """The lines saying which runs collect_runs reported as interpretation variants."""
    named: dict[tuple[str, str, str], list[str]] = {}
    for rec in records:
        if rec.protocol.get("variant_of") == "interpretation":
            base = str(rec.protocol.get("base_method"))
            named.setdefault((rec.dataset, base, rec.method), []).append(f"seed {rec.seed}" + (
                "" if rec.fold is None else f" fold {rec.fold}"))
    records = list(records)
    lines = [f"{dataset}: {len(units)} {base} run(s) set interpretation options away from the method's registered "
             f"reading without a declared choice; reported as the variant {name} ({', '.join(units)})"
             for (dataset, base, name), units in sorted(named.items())]
    for dataset, base in sorted({(d, b) for d, b, _ in named}):
        if not any(r.dataset == dataset and r.method == base for r in records):
            lines.append(f"{dataset}: no {base} run reads {base} as registered (each sets a reading of its own): "
                         f"{base} has no row, and comparisons against it have no runs")
    return lines


def collect_runs(paths: Iterable[Path]) -> list[RunRecord]:
    """Every run below the given folders (or metrics.json files), sorted by identity.

    Hidden folders (temporary run folders being written) are skipped; a folder reached twice is read
    once. Runs of one method trained with different interpretation options become variants
    (_interpretation_variants; variant_notes says which). Two different folders with the same dataset,
    method, seed, fold and negative-sample counts are then an error: the report would not know which
    to pair.
    """
    seen: set[Path] = set()
    records: list[RunRecord] = []
    for root in paths:
        for metrics_file in _metrics_files(Path(root)):
            resolved = metrics_file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            records.append(read_run(metrics_file))
    records = _interpretation_variants(records)
    by_key: dict[tuple, RunRecord] = {}
    for rec in records:
        key = (rec.dataset, rec.method, rec.seed, rec.fold, *rec.negatives)
        if key in by_key:
            why = ""
            if VARIANT_SEP in rec.method:
                why = (f" (both are the variant {rec.method}: a run trained with these options, relabelled by its "
                       "reading, or a checkpoint re-decoded with them by `erbench evaluate --out-run`)")
            raise RunError(
                f"duplicate run {rec.label} (negatives {rec.negatives}): {by_key[key].path / METRICS} and "
                f"{rec.path / METRICS}{why}; report them separately"
            )
        by_key[key] = rec
    return sorted(records, key=lambda r: (r.dataset, r.method, r.seed, -1 if r.fold is None else r.fold,
                                          str(r.negatives), str(r.path)))


def truncation(record: RunRecord) -> dict[str, dict]:
    """split -> its encoding report, for the splits of the run that lost words to truncation."""
    data = record.data or {}
    parts = data.get("encoding") or {"train": data.get("train_encoding") or {}, "eval": data.get("eval_encoding") or {}}
    return {part: r for part, r in parts.items() if isinstance(r, dict) and r.get("truncated_documents")}


def truncation_warnings(records: Iterable[RunRecord], allow_truncated: bool = False) -> list[str]:
    """One line per run that truncated documents; RunError when a run's evaluation split lost gold
    entities (its scores miss them) unless `allow_truncated`."""
    lines, refused = [], []
    for rec in records:
        for part, r in truncation(rec).items():
            lines.append(f"{rec.label}: {part}: {r['truncated_documents']} of {r.get('documents', '?')} documents "
                         f"truncated, {r.get('cut_words', 0)} words and {r.get('cut_entities', 0)} gold entities cut")
            if part.startswith("eval") and r.get("cut_entities"):
                refused.append(f"{rec.label} ({r['cut_entities']} gold entities)")
    if refused and not allow_truncated:
        raise RunError(f"{len(refused)} run(s) lost gold entities of their evaluation split to truncation, e.g. "
                       f"{refused[0]}; retrain with long_documents=window or give --allow-truncated")
    return lines


def load_types_of(record: RunRecord) -> TypeInventory | None:
    """The run's type inventory from its config.json (symmetric relation types matter for scoring)."""
    config = record.path / CONFIG
    if not config.is_file():
        return None
    raw = read_config(record.path)
    if not isinstance(raw, dict) or "types" not in raw:
        raise RunError(f"{config}: missing key 'types'")
    return parse_types(raw["types"], f"{config}: types")


def load_documents(record: RunRecord) -> tuple[list[Document], list[Document]]:
    """(gold, predicted) documents of the run's evaluation split, in predictions.jsonl order."""
    path = record.predictions_path
    gold, pred = [], []
    for line_no, rec in read_jsonl(path):
        if not isinstance(rec, dict) or not all(isinstance(rec.get(k), dict) for k in ("gold", "pred")):
            raise RunError(f"{path}: line {line_no}: expected an object with 'tokens', 'gold' and 'pred'")
        gold.append({"tokens": rec.get("tokens"), **rec["gold"]})
        pred.append({"tokens": rec.get("tokens"), **rec["pred"]})
    return parse_documents(gold, f"{path} (gold)"), parse_documents(pred, f"{path} (pred)")
