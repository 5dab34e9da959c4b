"""Epoch checkpoints: an interrupted training continues after its last finished epoch.

A 20-epoch CoNLL04 run takes longer on a CPU than many machines or sessions stay up. After every
epoch the training writes its whole state (weights, optimizer and schedule, the NumPy, torch and
Python random states, the history so far) to `<out's folder>/.erbench-resume/<out's name>/`; the
next `erbench train` with the same `--out` continues from there, and its run is the run an
uninterrupted training writes, bit for bit (tests/test_resume.py kills one and compares).

A state is used only when its fingerprint matches: the complete run configuration, the data's
sha256, the source the training runs (the train stages' code in dvc.yaml, and the plugin files), torch's version,
the thread count and the device. Anything else starts from epoch 1 and says why. The state is
removed once the run folder is written; `--no-resume` ignores (and replaces) it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

FOLDER = ".erbench-resume"
STATE = "state.pt"
FINGERPRINT = "fingerprint.json"
VERSION = 1


def state_folder(out_dir: str | Path) -> Path:
    """Where the epoch state of the run written to `out_dir` lives (beside it, hidden)."""
    out = Path(out_dir).absolute()
    return out.parent / FOLDER / out.name


def saved_epoch(folder: Path) -> int:
    """The last epoch whose state is saved in `folder` (0: none)."""
    try:
        return int(json.loads((Path(folder) / FINGERPRINT).read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


# The code a training runs, relative to the erbench package (all of erbench.models besides): the train
# stages' code dependencies in dvc.yaml (tests/test_resume.py keeps the two the same). A change elsewhere
# (the report, the grid driver) leaves a saved state valid; one here starts the run over, as DVC does.
TRAINING_SOURCES = ("datasets", "cli/train.py", "params.py", "choices.py", "config.py", "runner.py", "train.py",
                    "steps.py", "runtime.py", "optim.py", "resume.py", "calibrate.py", "scoring.py", "runfolder.py",
                    "environment.py", "files.py")


def training_files() -> list[tuple[str, Path]]:
    """(name, path) of every source file in TRAINING_SOURCES and erbench.models, sorted by name."""
    import erbench
    import erbench.models

    package, models = Path(erbench.__file__).parent, Path(erbench.models.__file__).parent
    files = {("models/" + str(p.relative_to(models)), p) for p in models.rglob("*.py")}
    for source in TRAINING_SOURCES:
        path = package / source
        files |= ({(f"{source}/{p.relative_to(path)}", p) for p in path.rglob("*.py")} if path.is_dir()
                  else {(source, path)})
    return sorted(files)


def code_digest(extra_files: tuple[str, ...] = ()) -> str:
    """sha256 over the training's source files (name and content) and `extra_files` (plugins)."""
    digest = hashlib.sha256()
    for name, path in [*training_files(), *((str(Path(f)), Path(f)) for f in extra_files)]:
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"<missing>") + b"\0")
    return digest.hexdigest()


def fingerprint(config: dict, data_sha256: dict | None, device: str, extra_files: tuple[str, ...] = ()) -> dict:
    """What must be equal for a saved state to continue this run exactly."""
    current = {"version": VERSION, "config": config, "data": data_sha256 or {}, "code": code_digest(extra_files),
               "torch": torch.__version__, "threads": torch.get_num_threads(), "device": device}
    return json.loads(json.dumps(current, default=str))  # as it reads back from fingerprint.json


def _changed_keys(saved: Any, current: Any, prefix: str = "") -> list[str]:
    if isinstance(saved, dict) and isinstance(current, dict):
        return [k for key in sorted(set(saved) | set(current))
                for k in _changed_keys(saved.get(key), current.get(key), f"{prefix}{key}.")]
    return [] if saved == current else [prefix.rstrip(".")]


def _difference(saved: dict, current: dict) -> str:
    """'' when `saved` continues `current`, else why not, in words."""
    for key in current:
        if saved.get(key) != current[key]:
            if key == "config":
                keys = _changed_keys(saved.get("config"), current["config"])
                return f"the run configuration differs ({', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''})"
            if key in ("code", "data"):
                return f"the {key} changed since"
            if key == "version":
                return "it was written in another format"
            name = {"threads": "the thread count", "torch": "torch's version", "device": "the device"}.get(key, key)
            return f"{name} differs ({saved.get(key)} then, {current[key]} now)"
    return ""


def random_states(rng: np.random.Generator) -> dict:
    legacy = np.random.get_state(legacy=False)  # the global MT19937 (its key as a list: no arrays in the state)
    legacy = {**legacy, "state": {"key": legacy["state"]["key"].tolist(), "pos": legacy["state"]["pos"]}}
    states = {"numpy_generator": rng.bit_generator.state, "numpy_global": legacy, "python": random.getstate(),
              "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(rng: np.random.Generator, states: dict) -> None:
    rng.bit_generator.state = states["numpy_generator"]
    legacy = states["numpy_global"]
    np.random.set_state({**legacy, "state": {"key": np.asarray(legacy["state"]["key"], dtype=np.uint32),
                                              "pos": legacy["state"]["pos"]}})
    random.setstate(states["python"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


@dataclass
class EpochState:
    """Where an interrupted run stands: the epoch it finished and what the next epoch needs."""

    epoch: int
    model: dict
    optimizer: dict
    scheduler: dict
    random: dict
    loop: dict[str, Any] = field(default_factory=dict)  # history, step log, counters, seconds


class Resumer:
    """Saves an `EpochState` after every epoch and offers the matching one back (see the module text)."""

    def __init__(self, folder: Path, fingerprint: dict, *, enabled: bool = True, say=print):
        self.folder, self.fingerprint, self.enabled, self.say = Path(folder), fingerprint, enabled, say

    def load(self) -> EpochState | None:
        state_file, print_file = self.folder / STATE, self.folder / FINGERPRINT
        if not state_file.is_file():
            return None
        if not self.enabled:
            self.say(f"resume: --no-resume: the state at {self.folder} is not used (epoch 1; it is replaced)")
            return None
        try:
            saved = json.loads(print_file.read_text())
            why = _difference(saved, self.fingerprint)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            why = f"its fingerprint is unreadable ({exc})"
        if why:
            self.say(f"resume: not continuing from {self.folder}: {why}; training starts at epoch 1")
            return None
        raw = torch.load(state_file, map_location="cpu", weights_only=True)
        state = EpochState(**raw)
        self.say(f"resume: continuing after epoch {state.epoch} (state at {self.folder})")
        return state

    def save(self, state: EpochState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{STATE}.{os.getpid()}.tmp"
        torch.save(state.__dict__, tmp)
        os.replace(tmp, self.folder / STATE)  # the state and its fingerprint are each replaced whole
        tmp_print = self.folder / f".{FINGERPRINT}.{os.getpid()}.tmp"
        tmp_print.write_text(json.dumps({"epoch": state.epoch, **self.fingerprint}, indent=1, default=str) + "\n")
        os.replace(tmp_print, self.folder / FINGERPRINT)

    def clear(self) -> None:
        """Remove this run's state (the run folder is written); a shared .erbench-resume parent goes once empty."""
        for name in (STATE, FINGERPRINT):
            (self.folder / name).unlink(missing_ok=True)
            for partial in self.folder.glob(f".{name}.*.tmp"):  # a save cut short by a kill (any process)
                partial.unlink(missing_ok=True)
        for folder in (self.folder, self.folder.parent):
            if folder != self.folder and folder.name != FOLDER:
                break  # a --resume-dir's parent is the user's
            try:
                folder.rmdir()
            except OSError:  # not empty (another run's state, a file not erbench's) or gone
                break
