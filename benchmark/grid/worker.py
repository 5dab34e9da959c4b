"""One grid stage on a worker: the stage's own dvc.yaml command, run in node-local scratch space.

The command runs in the checkout (the same path on every node, or `--worker-root`), reading
the params file as it was when the driver submitted the stage and writing its run folder into
a scratch folder, never into the checkout. The worker hands back the folder's files as bytes
(weights only when asked); the driver installs them. Before running, the worker checks that its
checkout's code and data hash like the driver's, so a node with a different checkout fails
loudly instead of producing results for other code.

Failures come in two kinds: `StageFailed` (the command exited with an error, or the checkout
differs: reported, not retried) and `WorkerDied` (the command was killed by a signal, e.g. the
OOM killer or a node going down: retried up to max_retries).

`python -m erbench.grid.worker CMD...` is the launcher every command goes through: it asks
Linux to kill the command when its worker process dies (PR_SET_PDEATHSIG), so a cancelled or
lost task leaves no orphan training behind on a node.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from erbench.grid.pipeline import Fingerprints, option_value
from erbench.tracking import log_run


class StageFailed(Exception):
    """The stage's command failed (or could not run here); `log` holds the end of its output."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message, log)
        self.message, self.log = message, log

    def __str__(self) -> str:
        return self.message


class WorkerDied(Exception):
    """The stage's command was killed by a signal; the executor may run it again elsewhere."""


@dataclass(frozen=True)
class StageTask:
    """Everything a worker needs to run one stage, as the driver saw it at submission."""

    name: str
    cmd: str
    out_dir: str
    outs: tuple[str, ...]  # file names the run folder must hold
    root: str  # the checkout on the worker
    params: dict[str, str] = field(default_factory=dict)  # params file -> its text at submission
    deps: dict[str, str] = field(default_factory=dict)  # dependency path -> content hash at submission
    weights: bool = False
    threads: int = 1
    scratch: str | None = None
    tracking: dict | None = None  # {"uri", "experiment", "tags"} when workers log (MLflow server)


@dataclass
class RunResult:
    name: str
    files: dict[str, bytes]
    node: dict
    seconds: float
    mlflow_run_id: str | None = None


def scratch_argv(cmd: str, run_dir: Path, params: dict[str, Path], root: Path | None = None) -> list[str]:
    """The stage's command with --out pointing into scratch and --params at the submitted copy.

    A training (`erbench ... train`) keeps its epoch state (erbench.resume) where the stage would
    keep it under `dvc repro` in the checkout at `root`, not in the scratch folder, which goes with
    the task: a stage re-run after its worker died continues after its last finished epoch.
    """
    argv = shlex.split(cmd)
    out = option_value(argv, "--out")
    if out is None:
        raise StageFailed(f"cmd has no --out: {cmd}")
    if root is not None and "train" in argv and option_value(argv, "--resume-dir") is None:
        from erbench.resume import state_folder

        argv += ["--resume-dir", str(state_folder(root / out))]
    result, i = [], 0
    while i < len(argv):
        flag, eq, value = argv[i].partition("=")
        if flag in ("--out", "--params"):
            if not eq:
                i += 1
                value = argv[i] if i < len(argv) else ""
            value = str(run_dir) if flag == "--out" else str(params.get(os.path.normpath(value), value))
            result += [flag, value]
        else:
            result.append(argv[i])
        i += 1
    return result


def worker_env(threads: int) -> dict[str, str]:
    """The command's environment: no MLflow logging of its own, pinned threads, this Python's bin first."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env.update(ERBENCH_NO_TRACKING="1", OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               PYTHONUNBUFFERED="1", PATH=bindir + os.pathsep + env.get("PATH", ""),
               ERBENCH_GRID_PARENT=str(os.getpid()))
    return env


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_stage(task: StageTask, node: dict, notify: Callable[[dict], None] | None = None) -> RunResult:
    """Run one stage in scratch space and return its run folder's files."""
    start = time.monotonic()
    if notify:
        notify({"stage": task.name, "node": node})
    root = Path(task.root)
    where = f"{root} on {node.get('host', '?')}"
    if not (root / "dvc.yaml").is_file():
        raise StageFailed(f"{task.name}: no checkout at {where} (give the checkout's path there with --worker-root)")
    fingerprints = Fingerprints(root)
    differ = [dep for dep, digest in task.deps.items() if fingerprints.path(dep) != digest]
    if differ:
        raise StageFailed(f"{task.name}: the checkout at {where} differs from the driver's in {', '.join(differ)}")
    scratch = Path(tempfile.mkdtemp(prefix="erbench-grid-", dir=task.scratch))
    try:
        params = {}
        for i, (rel, text) in enumerate(sorted(task.params.items())):
            target = scratch / f"params-{i}" / Path(rel).name
            target.parent.mkdir()
            target.write_text(text)
            params[os.path.normpath(rel)] = target
        run_dir = scratch / Path(task.out_dir).name  # the same folder name: MLflow's run key uses it
        argv = scratch_argv(task.cmd, run_dir, params, root)
        proc = subprocess.run([sys.executable, "-m", "erbench.grid.worker", *argv], cwd=root,
                              env=worker_env(task.threads), capture_output=True, text=True)
        log = _tail(proc.stdout + "\n" + proc.stderr)
        if proc.returncode < 0:
            raise WorkerDied(f"{task.name}: killed by signal {-proc.returncode} on {node.get('host', '?')}")
        if proc.returncode != 0:
            last = (log.splitlines() or ["(no output)"])[-1]
            raise StageFailed(f"{task.name}: exit status {proc.returncode}: {last}", log)
        files = {p.name: p.read_bytes() for p in sorted(run_dir.iterdir())
                 if p.is_file() and (task.weights or p.suffix != ".safetensors")}
        missing = [name for name in task.outs if name not in files]
        if missing:
            raise StageFailed(f"{task.name}: the command wrote no {', '.join(missing)}", log)
        run_id = None
        if task.tracking:
            tags = {**task.tracking["tags"], **node_tags(node)}
            os.chdir(root)  # log_run tags the run with the git commit of the working directory
            run_id = log_run(run_dir, uri=task.tracking["uri"], experiment=task.tracking["experiment"],
                             extra_tags=tags)
        return RunResult(task.name, files, node, time.monotonic() - start, run_id)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def node_tags(node: dict) -> dict[str, str]:
    return {"erbench.node": str(node.get("host", "")), "erbench.node_ip": str(node.get("ip", "")),
            "erbench.node_id": str(node.get("node_id", "")), "erbench.gpu_ids": ",".join(node.get("gpus", []))}


def _exec_with_parent_death(argv: list[str]) -> None:
    """Become ARGV, killed with SIGKILL when the worker that started us dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        if str(os.getppid()) != os.environ.get("ERBENCH_GRID_PARENT", str(os.getppid())):
            os._exit(137)  # the worker died before prctl took effect
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    _exec_with_parent_death(sys.argv[1:])
