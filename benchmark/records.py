"""Run records: the light part of finished run folders, kept in the repository so that a study's results
last and travel (a fresh clone regenerates its report offline, with the same numbers).

    results/<suite>/<run>/      <run> as under runs/: spert-conll04-s1, spert-ade-s1-f3,
                                choices/NAME-DATASET-sSEED, sweep/...
        config.json  metrics.json  summary.json  environment.json  predictions.jsonl   (always)
        steps.jsonl                                                                     (when the run has one)

No weights (model.safetensors) and no resume state: `erbench report` needs neither, but re-decoding a run
(`erbench evaluate`, `calibrate`, `predict`) does, and is not possible from a record. A record is a run
folder in every other respect (erbench's marker, the same file names), so every reader of run folders reads
it: `erbench report results/conll04-cpu`, `erbench.results("results")`, params `report.records`.

Predictions are kept as plain JSON lines (0.23 MB a CoNLL04 test run, 0.46 MB SciERC, 0.30 MB an ADE fold):
git stores every object zlib-compressed, so a gzip of our own would save the repository nothing and cost
readable diffs (docs/methods.md, "Run records").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from erbench import runfolder
from erbench.errors import UserInputError
from erbench.files import write_folder_atomic, written_by_erbench

REQUIRED = (runfolder.CONFIG, runfolder.METRICS, runfolder.SUMMARY, runfolder.ENVIRONMENT, runfolder.PREDICTIONS)
OPTIONAL = (runfolder.STEPS,)  # the step log; runs written before it existed have none
RESULTS_DIR = Path("results")


class RecordError(UserInputError):
    """A run folder that cannot be saved as a record, or a saved record that may not be replaced."""


@dataclass
class SaveReport:
    """What save_records did, run name by run name."""

    saved: list[str] = field(default_factory=list)  # new records
    replaced: list[str] = field(default_factory=list)  # differing records replaced (force)
    unchanged: list[str] = field(default_factory=list)  # records identical to their run folder
    unfinished: list[str] = field(default_factory=list)  # grid runs without metrics.json (save_records' names)


def finished_runs(runs_dir: Path) -> list[str]:
    """The run folders below runs_dir (folders holding metrics.json), as paths relative to it; hidden
    folders (resume states, folders being written) are skipped."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise RecordError(f"{runs_dir}: no such folder of runs")
    names = []
    for metrics in sorted(runs_dir.rglob(runfolder.METRICS)):
        rel = metrics.parent.relative_to(runs_dir)
        if rel.parts and not any(part.startswith(".") for part in rel.parts):
            names.append(rel.as_posix())
    return names


def missing_files(folder: Path) -> list[str]:
    """The files of REQUIRED that `folder` lacks."""
    return [name for name in REQUIRED if not (Path(folder) / name).is_file()]


def record_files(folder: Path) -> dict[str, bytes]:
    """The light files of a run folder, by name (REQUIRED, and OPTIONAL where present)."""
    folder = Path(folder)
    return {name: (folder / name).read_bytes() for name in (*REQUIRED, *OPTIONAL) if (folder / name).is_file()}


def differing_files(record: Path, files: dict[str, bytes]) -> list[str]:
    """The names whose bytes differ between a saved record and `files` (either side missing counts)."""
    record = Path(record)
    names = sorted({*files, *(p.name for p in record.iterdir() if p.name in (*REQUIRED, *OPTIONAL))})
    return [n for n in names if not (record / n).is_file() or (record / n).read_bytes() != files.get(n)]


def _check_run(folder: Path) -> None:
    """A complete run folder whose metrics.json the report can read; RecordError names what is wrong."""
    from erbench.report.collect import read_run

    missing = missing_files(folder)
    if missing:
        raise RecordError(f"{folder}: not a complete run folder: missing {', '.join(missing)} (a record needs "
                          f"{', '.join(REQUIRED)}); is the run finished?")
    try:
        read_run(Path(folder) / runfolder.METRICS)
    except UserInputError as exc:
        raise RecordError(f"not saved: {exc}") from None


def save_records(runs_dir: Path, dest: Path, names: Iterable[str] | None = None, *, force: bool = False,
                 skip_unfinished: bool = False) -> SaveReport:
    """Copy the light part of the run folders `names` (relative to runs_dir; None: every finished run
    below it) to dest/NAME.

    Every run is checked before anything is written: an incomplete run folder (a missing REQUIRED file)
    or a saved record whose files differ from its run folder's is an error naming them, and nothing is
    written; with `force` differing records are replaced (never a folder erbench did not write). A record
    identical to its run folder is left as it is. With `skip_unfinished`, named runs that have no
    metrics.json yet (a grid still running) are listed in the report's `unfinished` instead of refused.
    """
    runs_dir, dest = Path(runs_dir), Path(dest)
    report = SaveReport()
    if names is None:
        names = finished_runs(runs_dir)
    plan: list[tuple[str, dict[str, bytes], bool]] = []  # (name, files, replace)
    differing = []
    for name in names:
        folder = runs_dir / name
        if skip_unfinished and not (folder / runfolder.METRICS).is_file():
            report.unfinished.append(name)
            continue
        _check_run(folder)
        files = record_files(folder)
        target = dest / name
        if not target.exists() or (target.is_dir() and not any(target.iterdir())):
            plan.append((name, files, False))
            continue
        if not target.is_dir() or not written_by_erbench(target, "run"):
            raise RecordError(f"{target}: exists and is not a run record erbench wrote; refusing to replace it")
        changed = differing_files(target, files)
        if not changed:
            report.unchanged.append(name)
        elif force:
            plan.append((name, files, True))
        else:
            differing.append(f"{target} ({', '.join(changed)})")
    if differing:
        raise RecordError(f"{len(differing)} saved record(s) differ from their run folder, e.g. {differing[0]}; "
                          "give --force to replace them")
    for name, files, replace in plan:
        write_folder_atomic(dest / name, files, kind="run", force=replace)
        (report.replaced if replace else report.saved).append(name)
    return report


def record_dirs(folders: Sequence[str | Path], where: str = "params report.records") -> list[Path]:
    """The record folders a report reads beside its runs; each must hold at least one run's metrics.json."""
    out = []
    for i, folder in enumerate(folders):
        path = Path(folder)
        if not path.is_dir() or not any(path.rglob(runfolder.METRICS)):
            raise RecordError(f"{where}[{i}]: {path}: no saved run records there (no metrics.json below it; "
                              "`erbench results save` writes them)")
        out.append(path)
    return out
