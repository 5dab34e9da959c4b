"""Outputs: atomic writes (a temporary file or folder beside the target, then `os.replace`), created
with the user's umask, and the one rule for output folders: an existing non-empty folder is refused
unless `force`, and even then only a folder erbench wrote itself is replaced.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from erbench.errors import UserInputError

# Written into every folder erbench writes as a whole (run folders, reports); `kind` says which.
MARKER = ".erbench"
# Folders written before the marker existed are recognised by the file that defines them, or (what
# `dvc repro` leaves after removing a stage's declared outputs) by holding nothing but erbench's names.
LEGACY_MARKERS = {"run": "config.json", "report": "stats.json"}
_FIGURES = ("per_seed", "errors", "seeds_needed", "neg_sweep", "learning_curves")
KNOWN_NAMES = {
    "run": {"config.json", "metrics.json", "predictions.jsonl", "steps.jsonl", "model.safetensors"},
    "report": {"results.tex", "results_standalone.tex", "results.md", "index.html", "stats.json", "seen_unseen.tex",
               "plots", *(f"{f}.{x}" for f in _FIGURES for x in ("png", "pdf"))},
}


class OutputExists(UserInputError):
    """An output folder exists and may not be replaced; the message names it and the way out."""


def current_umask() -> int:
    """The process umask, read without changing it where /proc allows (Linux), else set and restored."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _public(path: str | Path, directory: bool = False) -> None:
    """Give a tempfile-made file (0600) or folder (0700) the mode a plain open()/mkdir() would have."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def make_temp_folder(beside: Path, prefix: str) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=beside))
    _public(tmp, directory=True)
    return tmp


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        _public(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def written_by_erbench(folder: Path, kind: str) -> bool:
    """Whether `folder` is a `kind` folder ("run" or "report") that erbench wrote."""
    marker = folder / MARKER
    if marker.is_file():
        try:
            return json.loads(marker.read_text()).get("kind") == kind
        except (OSError, ValueError, AttributeError):
            return False
    if all(p.name in KNOWN_NAMES[kind] for p in folder.iterdir()) and not (folder / LEGACY_MARKERS[kind]).exists():
        return True  # an older folder of erbench's whose defining file dvc removed before re-running the stage
    legacy = folder / LEGACY_MARKERS[kind]
    if not legacy.is_file():
        return False
    try:
        content = json.loads(legacy.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and ("run" in content if kind == "run" else "files" in content)


def check_output_folder(out_dir: str | Path, *, force: bool, kind: str, option: str = "--out") -> None:
    """Refuse an existing non-empty `out_dir` unless `force`; with `force`, refuse anything but a
    `kind` folder erbench wrote. Under `dvc repro` (DVC_STAGE set) dvc owns the outputs: force."""
    out_dir = Path(out_dir)
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise OutputExists(f"{option} {out_dir}: exists and is not a folder")
    if not any(out_dir.iterdir()):
        return
    force = force or bool(os.environ.get("DVC_STAGE"))
    if not force:
        raise OutputExists(f"{option} {out_dir}: folder exists and is not empty; give --force to replace it "
                           f"(only a {kind} folder erbench wrote is ever replaced)")
    if not written_by_erbench(out_dir, kind):
        raise OutputExists(f"{option} {out_dir}: not a {kind} folder written by erbench (no {MARKER} or "
                           f"{LEGACY_MARKERS[kind]} of erbench's); refusing to replace it, even with --force")


def check_output_file(path: str | Path, *, force: bool, option: str = "--out") -> None:
    """Refuse an existing file at a path the user named unless `force` (a folder is refused always)."""
    path = Path(path)
    if path.is_dir():
        raise OutputExists(f"{option} {path}: is a folder; name a file")
    if path.exists() and not force:
        raise OutputExists(f"{option} {path}: file exists; give --force to replace it")


def replace_folder(tmp: Path, out_dir: Path) -> None:
    """Rename the finished folder `tmp` into place; an old `out_dir` is removed only after the swap."""
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
        try:
            os.replace(tmp, out_dir)
        except BaseException:
            os.replace(old, out_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)


def write_folder_atomic(out_dir: str | Path, files: dict[str, bytes | str],
                        also: Callable[[Path], None] | None = None, *, kind: str = "run",
                        force: bool = False) -> Path:
    """Write `files` (name -> content) into a temporary folder beside `out_dir`, call `also(tmp)` for
    anything written by another library (weights), then rename the folder into place.

    An existing non-empty `out_dir` is replaced only when `force` and erbench wrote it as a `kind`
    folder (check_output_folder). An error or CTRL-C leaves neither a half-written folder nor the
    temporary one."""
    out_dir = Path(out_dir)
    check_output_folder(out_dir, force=force, kind=kind)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_folder(out_dir.parent, f".{out_dir.name}.tmp-")
    try:
        for name, content in {MARKER: json.dumps({"kind": kind}) + "\n", **files}.items():
            (tmp / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        if also is not None:
            also(tmp)
            for path in tmp.rglob("*"):  # other writers (safetensors) may create private files
                _public(path, directory=path.is_dir())
        replace_folder(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
