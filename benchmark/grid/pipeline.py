"""What dvc.yaml says about the grid: its train stages, which are stale, their fingerprints, and commits.

dvc.yaml's train-like matrix stages (`train`, `train_kfold`, `ablation`, `choices`, `choices_kfold`, `sweep`)
are the one definition of the grid; everything here reads them through DVC's Python API (the same
resolution `dvc repro` uses), never by parsing dvc.yaml again.

A stage's *fingerprint* hashes what its result depends on: its command, the content of every
dependency path (code and data) and the values of its params keys. The driver takes one at
submission and refuses to commit a result whose stage fingerprints differently at commit time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from erbench.errors import UserInputError

TRAIN_GROUPS = ("train", "train_kfold", "ablation", "choices", "choices_kfold", "sweep")
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}


class PipelineError(UserInputError):
    """dvc.yaml does not describe a grid this command can run."""


@dataclass(frozen=True)
class GridStage:
    """One train-like stage as DVC resolves it (`train@synthetic-spert-1`)."""

    name: str
    cmd: str
    out_dir: str  # the command's --out folder, relative to the checkout
    outs: tuple[str, ...]
    deps: tuple[str, ...]  # paths: code and data
    params: tuple[tuple[str, tuple[str, ...]], ...]  # (params file, keys)

    @property
    def group(self) -> str:
        return self.name.split("@", 1)[0]


def option_value(argv: list[str], flag: str) -> str | None:
    for i, token in enumerate(argv):
        if token == flag and i + 1 < len(argv):
            return argv[i + 1]
        if token.startswith(flag + "="):
            return token.split("=", 1)[1]
    return None


def grid_stage(stage) -> GridStage:
    """A GridStage from a resolved dvc Stage; its outs must lie in the folder its command writes."""
    from dvc.dependency.param import ParamsDependency

    if not isinstance(stage.cmd, str):
        raise PipelineError(f"dvc.yaml: stage {stage.addressing}: a grid stage runs one command, not a list")
    cmd = stage.cmd
    out_dir = option_value(shlex.split(cmd), "--out")
    outs = tuple(str(o.def_path) for o in stage.outs)
    if out_dir is None:
        raise PipelineError(f"dvc.yaml: stage {stage.addressing}: its cmd has no --out folder: {cmd}")
    out_dir = os.path.normpath(out_dir)
    stray = [o for o in outs if os.path.dirname(os.path.normpath(o)) != out_dir]
    if stray:
        raise PipelineError(f"dvc.yaml: stage {stage.addressing}: out {stray[0]} is not inside --out {out_dir}")
    deps, params = [], []
    for dep in stage.deps:
        if isinstance(dep, ParamsDependency):
            params.append((str(dep.def_path), tuple(dep.params or ())))
        else:
            deps.append(str(dep.def_path))
    return GridStage(stage.addressing, cmd, out_dir, outs, tuple(deps), tuple(params))


def dvc_stages(repo, groups: Iterable[str]) -> list:
    """The resolved dvc stages of the named dvc.yaml groups, in dvc.yaml order."""
    wanted = set(groups)
    return [s for s in repo.index.stages if s.addressing.split("@", 1)[0] in wanted]


def grid_stages(repo, only: str | None = None) -> list[GridStage]:
    """Every train-like stage, optionally only those whose name matches the glob ONLY."""
    stages = [grid_stage(s) for s in dvc_stages(repo, TRAIN_GROUPS)]
    if only:
        stages = [s for s in stages if fnmatch.fnmatchcase(s.name, only)]
    return stages


def stale_names(repo, stages: list) -> set[str]:
    """Names of the stages that `dvc status` would report, hashing each shared dependency once.

    DVC's own status re-hashes `models/` and re-parses params.yaml for every stage (about 30-50 ms
    a stage, most of a minute for the paper grid); this is the same comparison against dvc.lock
    (command, dependency hashes, params values, outputs and their cache) with the dependency
    hashes and params values computed once per path and key set. tests/test_grid_units.py checks
    it against `Stage.status()`.
    """
    from dvc.dependency.param import ParamsDependency

    dep_hashes: dict[str, object] = {}
    params: dict[tuple, dict] = {}
    result = set()
    with repo.lock:
        for stage in stages:
            if stage.frozen:
                continue
            stale = stage.cmd_changed or stage.always_changed
            for dep in stage.deps:
                if stale:
                    break
                if isinstance(dep, ParamsDependency):
                    recorded = dep.hash_info.value if dep.hash_info else None
                    key = (dep.def_path, tuple(dep.params))
                    if key not in params:
                        params[key] = dep.read_params() if dep.exists else None
                    stale = recorded is None or params[key] is None or _params_differ(recorded, params[key],
                                                                                       dep.params)
                else:
                    if dep.def_path not in dep_hashes:
                        dep_hashes[dep.def_path] = dep.get_hash() if dep.exists else None
                    stale = not dep.hash_info or dep_hashes[dep.def_path] != dep.hash_info
            stale = stale or any(out.status() for out in stage.outs)
            if stale:
                result.add(stage.addressing)
    return result


def _params_differ(recorded: dict, actual: dict, keys) -> bool:
    for key in keys or sorted(set(actual) | set(recorded)):
        if key not in actual or key not in recorded:
            return True
        value = actual[key]
        if value != recorded[key] and not (isinstance(value, tuple) and list(value) == recorded[key]):
            return True
    return False


def commit_stages(repo, names: list[str], lock) -> None:
    """`dvc commit -f NAMES` in one pass: hash and cache every stage's outputs, then update dvc.lock once.

    Measured on the paper grid (scripts/grid_scale_bench.py), `dvc commit -f a b c` costs seconds a
    stage: it rewrites the whole dvc.lock (a 1,000-stage lock is 1.8 MB of YAML, parsed and dumped
    in pure Python) once per stage. Here each stage is saved and its outputs cached as DVC does
    (without the run cache, and without re-linking the workspace copy it just hashed), and the
    lock entries DVC serialises are written by `lock` (a LockWriter) in one go.
    """
    from dvc.stage import serialize

    by_name = {s.addressing: s for s in repo.index.stages}
    entries = {}
    with repo.lock:
        for name in names:
            stage = by_name[name]
            stage.save(run_cache=False)
            stage.commit(relink=False)
            entries.update(serialize.to_lockfile(stage))
        lock.update(entries)


def lookup(params: dict, key: str):
    value = params
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class Fingerprints:
    """Content hashes of dependency paths and params values, re-hashing only files whose stat changed."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._files: dict[str, tuple[tuple, str]] = {}
        self._params: dict[str, tuple[tuple, dict]] = {}

    @staticmethod
    def _signature(st: os.stat_result) -> tuple:
        return st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns

    def _file(self, path: Path) -> str:
        st = path.stat()
        sig = self._signature(st)
        cached = self._files.get(str(path))
        if cached and cached[0] == sig:
            return cached[1]
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        self._files[str(path)] = (sig, digest.hexdigest())
        return digest.hexdigest()

    def path(self, rel: str) -> str:
        """sha256 over a file, or over a folder's files (relative names + content); 'missing' if absent."""
        full = self.root / rel
        if full.is_file():
            return self._file(full)
        if not full.is_dir():
            return "missing"
        digest = hashlib.sha256()
        for dirpath, dirnames, filenames in os.walk(full):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                if name.endswith(".pyc"):
                    continue
                file = Path(dirpath) / name
                digest.update(f"{file.relative_to(full).as_posix()}\0{self._file(file)}\0".encode())
        return digest.hexdigest()

    def params_file(self, rel: str) -> dict:
        import yaml

        full = self.root / rel
        sig = self._signature(full.stat())
        cached = self._params.get(rel)
        if cached is None or cached[0] != sig:
            cached = (sig, yaml.safe_load(full.read_text()) or {})
            self._params[rel] = cached
        return cached[1]

    def params_values(self, stage: GridStage) -> dict:
        return {f"{file}:{key}": lookup(self.params_file(file), key) if key else self.params_file(file)
                for file, keys in stage.params for key in (keys or ("",))}

    def deps(self, stage: GridStage) -> dict[str, str]:
        return {dep: self.path(dep) for dep in stage.deps}

    def snapshot(self, stage: GridStage) -> dict:
        """What the stage's result depends on: its command, dependency hashes and params values."""
        return {"cmd": stage.cmd, "deps": self.deps(stage), "params": self.params_values(stage)}

    def changed(self, stage: GridStage, before: dict) -> list[str]:
        """What differs from an earlier snapshot: 'cmd', dependency paths, 'FILE:KEY' params."""
        now = self.snapshot(stage)
        diff = ["cmd"] if now["cmd"] != before["cmd"] else []
        for part in ("deps", "params"):
            keys = sorted(set(now[part]) | set(before[part]))
            diff += [k for k in keys if now[part].get(k) != before[part].get(k)]
        return diff
