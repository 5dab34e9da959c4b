"""Landing finished runs in the checkout: install the folder, `dvc commit`, log to MLflow once.

A returned run folder is written to a temporary folder beside its place and renamed into place,
so no half-written folder ever appears. Installed folders are committed in batches (one dvc.lock
write per batch), after checking once more that the stage's code, data and params still hash as
they did at submission; a stage that changed is left uncommitted (and stays stale for the next
`grid run`). CTRL-C waits for a commit in progress.

MLflow has one writer: a single background thread of the driver logs each committed run
(`erbench.tracking.log_run`, idempotent), so a sqlite store never sees two writers and a slow
store never holds up the grid. Committed runs wait in a small journal until they are logged; a
driver stopped before that logs them at its next start.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from erbench.files import write_folder_atomic, write_json_atomic
from erbench.grid.lockfile import LockWriter
from erbench.grid.pipeline import Fingerprints, GridStage, commit_stages
from erbench.params import Params
from erbench.tracking import log_run, resolve_uri

STATE_DIR = Path(".dvc/tmp/erbench-grid")


@dataclass(frozen=True)
class Tracking:
    enabled: bool
    uri: str
    experiment: str
    suite: str

    @property
    def workers_log(self) -> bool:
        """A tracking server takes many writers: workers log their own runs."""
        return self.enabled and self.uri.startswith(("http://", "https://"))


def tracking_settings(params: Params, root: Path) -> Tracking:
    """params `tracking` as `erbench train` reads it; a relative sqlite path is taken from the checkout."""
    uri = resolve_uri(None, params.tracking.uri)
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{(root / uri[len('sqlite:///'):]).resolve()}"
    return Tracking(params.tracking.enabled, uri, params.experiment_name(), params.suite)


@contextmanager
def deferred_sigint():
    """Hold CTRL-C until the block is done (dvc.lock and the cache are never left half-updated)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def write_returned_folder(out_dir: Path, files: dict[str, bytes]) -> Path:
    """Install a worker's returned files (weights included, already bytes) atomically into OUT_DIR;
    the stage owns OUT_DIR, so an old run folder of erbench's there is replaced (nothing else is)."""
    return write_folder_atomic(out_dir, files, force=True)


class Journal:
    """Committed runs not yet logged to MLflow: {stage: {"out_dir", "tags"}}, kept on disk."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, dict] = json.loads(path.read_text()) if path.is_file() else {}

    def _write(self) -> None:
        if self.entries:
            write_json_atomic(self.path, self.entries)
        else:
            self.path.unlink(missing_ok=True)

    def add(self, entries: dict[str, dict]) -> None:
        self.entries.update(entries)
        self._write()

    def remove(self, names: list[str]) -> None:
        for name in names:
            self.entries.pop(name, None)
        self._write()


def _log(root: Path, tracking: Tracking, entry: dict) -> tuple[str, float]:
    start = time.perf_counter()
    run_id = log_run(root / entry["out_dir"], uri=tracking.uri, experiment=tracking.experiment,
                     extra_tags=entry["tags"])
    return run_id, time.perf_counter() - start


class Lander:
    """Install, commit and log the results the executor hands back."""

    def __init__(self, repo, root: Path, fingerprints: Fingerprints, tracking: Tracking, *,
                 commit_every: float = 30.0):
        self.repo, self.root, self.fingerprints, self.tracking = repo, root, fingerprints, tracking
        self.commit_every = commit_every
        self.lock = LockWriter(root / "dvc.lock")
        self.journal = Journal(root / STATE_DIR / "unlogged.json")
        self.installed: list[tuple[GridStage, dict, dict]] = []  # (stage, snapshot, MLflow tags)
        self.committed: list[str] = []
        self.discarded: dict[str, str] = {}
        self.logged: list[str] = []
        self.log_errors: dict[str, str] = {}
        self.timings: Counter = Counter()
        self._logger = ThreadPoolExecutor(1, thread_name_prefix="erbench-mlflow")
        self._logging: dict[Future, str] = {}
        self._last_commit = time.monotonic()
        if tracking.enabled and not tracking.workers_log:
            self._log(dict(self.journal.entries))  # left by a driver that stopped before logging them

    def install(self, stage: GridStage, snapshot: dict, files: dict[str, bytes], tags: dict) -> bool:
        """Write the run folder into place unless the stage changed since submission."""
        start = time.perf_counter()
        changed = self.fingerprints.changed(stage, snapshot)
        self.timings["fingerprint"] += time.perf_counter() - start
        if changed:
            self.discarded[stage.name] = f"not installed: {', '.join(changed[:4])} changed since submission"
            return False
        start = time.perf_counter()
        write_returned_folder(self.root / stage.out_dir, files)
        self.installed.append((stage, snapshot, tags))
        self.timings["install"] += time.perf_counter() - start
        return True

    def due(self) -> bool:
        return bool(self.installed) and time.monotonic() - self._last_commit >= self.commit_every

    def commit(self) -> list[str]:
        """`dvc commit` every installed stage that still fingerprints as submitted; return their names."""
        if not self.installed:
            return []
        batch, self.installed = self.installed, []
        start = time.perf_counter()
        ready = []
        for stage, snapshot, tags in batch:
            changed = self.fingerprints.changed(stage, snapshot)
            if changed:
                self.discarded[stage.name] = (f"installed but not committed: {', '.join(changed[:4])} changed "
                                              "since submission")
            else:
                ready.append((stage, tags))
        self.timings["fingerprint"] += time.perf_counter() - start
        start = time.perf_counter()
        names = [stage.name for stage, _ in ready]
        with deferred_sigint():
            commit_stages(self.repo, names, self.lock)
            self.committed += names
            entries = {stage.name: {"out_dir": stage.out_dir, "tags": tags} for stage, tags in ready}
            if self.tracking.enabled and not self.tracking.workers_log:
                self.journal.add(entries)
        self.timings["commit"] += time.perf_counter() - start
        self._last_commit = time.monotonic()
        if self.tracking.enabled and not self.tracking.workers_log:
            self._log(entries)
        return names

    def _log(self, entries: dict[str, dict]) -> None:
        for name, entry in entries.items():
            if (self.root / entry["out_dir"]).is_dir():
                self._logging[self._logger.submit(_log, self.root, self.tracking, entry)] = name
            else:
                self.journal.remove([name])

    def collect_logged(self, wait: bool = False) -> None:
        """Drop logged runs from the journal (a failed log stays there for the next run)."""
        if wait:
            for future in list(self._logging):
                future.exception()
        done = [f for f in self._logging if f.done()]
        names = []
        for future in done:
            name = self._logging.pop(future)
            if future.exception() is not None:
                self.log_errors[name] = f"MLflow: {type(future.exception()).__name__}: {future.exception()}"
                continue
            self.timings["mlflow_log (background)"] += future.result()[1]
            names.append(name)
        if names:
            self.logged += names
            self.journal.remove(names)

    def finish(self) -> None:
        """Wait for the MLflow writer to log what was committed."""
        self.collect_logged(wait=True)
        self._logger.shutdown(wait=True)
