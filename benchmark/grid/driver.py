"""`erbench grid run`: dvc.yaml's stale train stages, run on a cluster, landed in the checkout.

1. take the grid lock (one driver per checkout); stage data first if a `prepare` stage is stale, and
   write the plugins' digest (`plugins`, which the train stages depend on);
2. plan: the train-like stages (`--only` glob) that DVC would re-run, and a fingerprint of each;
3. submit one task per stage to the executor (Ray or local processes);
4. as runs finish: install each folder atomically, `dvc commit` them in batches, log them to
   MLflow (one writer); failures are reported with the stage's name and error, never committed;
5. when no train stage is left stale, `dvc repro`: only `report` runs.

CTRL-C cancels what is running and still commits what finished. Running the command again
submits only what is still stale.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from erbench.errors import ErbenchError, UserInputError
from erbench.files import write_text_atomic
from erbench.grid.executors import make_executor
from erbench.grid.land import STATE_DIR, Lander, deferred_sigint, tracking_settings
from erbench.grid.pipeline import TRAIN_GROUPS, Fingerprints, dvc_stages, grid_stage, stale_names
from erbench.grid.worker import StageTask, node_tags, run_stage
from erbench.lock import file_lock
from erbench.params import Params


class GridError(ErbenchError, RuntimeError):
    """The grid could not be run (a dvc command failed, another driver holds the lock, ...)."""

    exit_code = 2


@dataclass(frozen=True)
class GridOptions:
    root: Path
    engine: str = "ray"
    address: str | None = None
    cpus_per_run: float = 1
    gpus_per_run: float | None = None  # None: 1 on a cluster with GPUs, else 0
    max_retries: int = 3
    only: str | None = None
    workers: int | None = None  # local engines: parallel runs (default: cores / cpus_per_run)
    weights: bool = False
    worker_root: str | None = None
    scratch: str | None = None
    repro: bool = True
    commit_every: float = 30.0
    params: Params = field(default_factory=Params)  # the pipeline's params (tracking, suite), as the CLI read them
    records: Path | None = None  # save each committed run's light record below it (erbench.records), e.g. results/SUITE


@dataclass
class GridSummary:
    planned: int = 0
    stale: int = 0
    submitted: int = 0
    committed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    discarded: dict[str, str] = field(default_factory=dict)
    log_errors: dict[str, str] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    logged: int = 0
    interrupted: bool = False
    repro: str = "not run"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.discarded or self.interrupted) and not self.repro.startswith("failed")

    def line(self) -> str:
        retried = sum(1 for n in self.attempts.values() if n > 1)
        return (f"grid: {self.planned} stages, {self.stale} stale, {self.submitted} submitted, "
                f"{len(self.committed)} committed, {len(self.failed)} failed, {len(self.discarded)} discarded, "
                f"{retried} retried, {self.logged} logged to MLflow; dvc repro: {self.repro}"
                + ("; interrupted" if self.interrupted else ""))


def dvc(root: Path, *args: str) -> str:
    """Run a dvc command in the checkout; its output, or GridError with its last lines."""
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise GridError(f"dvc {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout + proc.stderr


def cluster_tags(cluster: dict, kind: str) -> dict[str, str]:
    """The cluster's nodes and resources, for every MLflow run's tags."""
    import json

    nodes = [f"{n.get('host')}/{n.get('ip')} CPU={n.get('CPU', 0):g} GPU={n.get('GPU', 0):g}"
             for n in cluster.get("nodes", [])]
    res = cluster.get("resources", {})
    return {"erbench.executor": kind, "erbench.cluster.address": str(cluster.get("address", "")),
            "erbench.cluster.nodes": str(len(nodes)), "erbench.cluster.cpus": f"{res.get('CPU', 0):g}",
            "erbench.cluster.gpus": f"{res.get('GPU', 0):g}", "erbench.cluster": json.dumps(nodes)[:4000]}


@contextmanager
def _chdir(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


# what the train stages depend on that a grid does not run itself (`plugins` runs every time: a digest)
PRE_STAGES = ("prepare", "plugins")


def run_grid(opts: GridOptions, view, fn: Callable = run_stage) -> GridSummary:
    """Plan, run, land and report the grid; see the module docstring. FN runs one stage (tests stub it)."""
    from dvc.repo import Repo

    root = Path(opts.root).resolve()
    with file_lock(root / STATE_DIR / "driver.lock", blocking=False, what="`erbench grid run` in this checkout"), \
            _chdir(root):  # DVC's Python API resolves the stages' paths against the working directory
        summary = GridSummary()
        start = time.perf_counter()
        with Repo(str(root)) as repo:
            stale_prepare = sorted(stale_names(repo, dvc_stages(repo, PRE_STAGES)))
        if stale_prepare:
            view.note(f"before the grid: dvc repro {' '.join(stale_prepare)}")
            dvc(root, "repro", *stale_prepare)
        summary.timings["prepare"] = time.perf_counter() - start
        with Repo(str(root)) as repo:
            left = _run(repo, root, opts, view, fn, summary)
        if summary.interrupted or left:
            summary.repro = f"skipped: {left} train stage(s) still stale" if left else "skipped (interrupted)"
        elif opts.repro:
            start = time.perf_counter()
            try:
                out = dvc(root, "repro")
            except GridError as exc:
                summary.repro = f"failed: {exc}"
            else:
                ran = [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")]
                # `plugins` (the plugins' digest) runs when plugins_dir or methods_include changed: it is
                # not a result, so say what else ran
                work = [name for name in ran if name != "plugins"]
                summary.repro = (f"ran {', '.join(work)}" if work else "nothing to run") + (
                    " (and the plugins digest)" if "plugins" in ran else "")
            summary.timings["dvc repro"] = time.perf_counter() - start
        return summary


def _run(repo, root: Path, opts: GridOptions, view, fn: Callable, summary: GridSummary) -> int:
    """Plan and execute; return how many train-like stages are still stale afterwards."""
    import fnmatch

    start = time.perf_counter()
    every = dvc_stages(repo, TRAIN_GROUPS)
    chosen = [s for s in every if not opts.only or fnmatch.fnmatchcase(s.addressing, opts.only)]
    stale = stale_names(repo, chosen)
    stages = [grid_stage(s) for s in chosen if s.addressing in stale]
    summary.planned, summary.stale = len(chosen), len(stages)
    summary.timings["plan"] = time.perf_counter() - start
    if opts.only and not chosen:
        raise GridError(f"--only {opts.only}: no train stage matches (e.g. {every[0].addressing if every else '-'})")
    tracking = tracking_settings(opts.params, root)
    fingerprints = Fingerprints(root)
    lander = Lander(repo, root, fingerprints, tracking, commit_every=opts.commit_every)
    if not stages:
        view.note(f"grid: all {len(chosen)} train stage(s) are up to date: nothing to submit")
    else:
        _execute(repo, root, opts, view, fn, summary, stages, tracking, fingerprints, lander)
    try:
        lander.finish()
    except KeyboardInterrupt:
        summary.interrupted = True
    summary.committed, summary.discarded = lander.committed, lander.discarded
    summary.log_errors, summary.logged = lander.log_errors, len(lander.logged)
    summary.timings.update(lander.timings)
    stale_left = stale - set(summary.committed)
    if opts.only and not stale_left:
        stale_left = stale_names(repo, [s for s in every if s.addressing not in set(summary.committed)])
    return len(stale_left)


def _execute(repo, root, opts, view, fn, summary, stages, tracking, fingerprints, lander) -> None:
    from erbench.resume import saved_epoch, state_folder

    start = time.perf_counter()
    snapshots = {s.name: fingerprints.snapshot(s) for s in stages}
    texts = {file: (root / file).read_text() for s in stages for file, _ in s.params}
    summary.timings["fingerprint"] = time.perf_counter() - start
    executor = make_executor(opts.engine, address=opts.address, cpus_per_run=opts.cpus_per_run,
                             gpus_per_run=opts.gpus_per_run, max_retries=opts.max_retries, workers=opts.workers, fn=fn)
    try:
        cluster = executor.cluster()
        base_tags = {"suite": tracking.suite, **cluster_tags(cluster, executor.kind)}
        view.begin([s.name for s in stages], cluster, executor.note)
        start = time.perf_counter()
        by_name = {s.name: s for s in stages}
        for stage in stages:
            tags = {**base_tags, "erbench.stage": stage.name}
            executor.submit(StageTask(
                stage.name, stage.cmd, stage.out_dir, tuple(Path(o).name for o in stage.outs),
                opts.worker_root or str(root), {f: texts[f] for f, _ in stage.params}, snapshots[stage.name]["deps"],
                weights=opts.weights, threads=max(1, int(opts.cpus_per_run)), scratch=opts.scratch,
                tracking={"uri": tracking.uri, "experiment": tracking.experiment, "tags": tags}
                if tracking.workers_log else None))
        summary.submitted = len(stages)
        summary.timings["submit"] = time.perf_counter() - start
        pending = set(by_name)
        try:
            while pending:
                with deferred_sigint():  # CTRL-C lands the results already received, then stops
                    started, outcomes = executor.wait(0.5)
                    for event in started:
                        saved = saved_epoch(state_folder(root / by_name[event.name].out_dir))
                        view.started(event.name, event.node, saved)
                    for outcome in outcomes:
                        pending.discard(outcome.name)
                        _land(outcome, by_name[outcome.name], snapshots, lander, view, summary, root, base_tags)
                    if lander.due():
                        view.committed(_commit(lander, view, opts, by_name, root))
                    lander.collect_logged()
        except KeyboardInterrupt:
            summary.interrupted = True
            view.note("[yellow]interrupted: cancelling the runs still going; committing the finished ones[/]")
            executor.shutdown(cancel=True)
            executor = None
        try:
            view.committed(_commit(lander, view, opts, by_name, root))
        except KeyboardInterrupt:
            summary.interrupted = True
            view.committed(lander.committed)
    finally:
        if executor is not None:
            executor.shutdown(cancel=summary.interrupted)


def _commit(lander, view, opts: GridOptions, by_name: dict, root: Path) -> list[str]:
    """`dvc commit` the installed runs; with opts.records also save their light records there (a record that
    differs from its run folder is left as it is and named: `erbench results save --force` replaces it)."""
    names = lander.commit()
    if names and opts.records is not None:
        from erbench.records import save_records

        runs = root / "runs"
        folders = [Path(by_name[n].out_dir).relative_to("runs").as_posix() for n in names]
        try:
            done = save_records(runs, root / opts.records, folders)
            view.note(f"saved {len(done.saved)} run record(s) to {opts.records}")
        except UserInputError as exc:
            view.note(f"[yellow]warning:[/] run records not saved: {exc}")
    return names


def _land(outcome, stage, snapshots, lander, view, summary, root: Path, base_tags: dict) -> None:
    summary.attempts[outcome.name] = outcome.attempts
    result = outcome.result
    if result is None:
        summary.failed[outcome.name] = outcome.error or "failed"
        if outcome.log:
            log = write_text_atomic(root / STATE_DIR / "logs" / f"{outcome.name}.log", outcome.log + "\n")
            summary.failed[outcome.name] += f" (log: {log.relative_to(root)})"
        view.finished(outcome.name, "failed", error=summary.failed[outcome.name])
        return
    tags = {**base_tags, **node_tags(result.node), "erbench.stage": stage.name,
            "erbench.attempts": str(outcome.attempts), "erbench.run_seconds": f"{result.seconds:.1f}"}
    if lander.install(stage, snapshots[stage.name], result.files, tags):
        view.finished(stage.name, "done", result.node, result.seconds)
    else:
        view.finished(stage.name, "discarded", result.node, result.seconds, lander.discarded[stage.name])
