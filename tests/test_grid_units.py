"""The grid driver's parts on a toy DVC pipeline (seconds, no training, no Ray).

The toy pipeline has dvc.yaml's shape (a `prepare` matrix, a `train` matrix over params lists
whose command writes `--out FOLDER`), with a command that can fail or sleep on request, so the
driver's planning, landing, faults and CTRL-C are checked exactly and fast; tests/test_grid_ray.py
runs the real micro suite on a two-node Ray cluster.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from erbench.grid.driver import GridOptions, run_grid
from erbench.grid.lockfile import LockWriter
from erbench.grid.pipeline import Fingerprints, GridStage, dvc_stages, stale_names
from erbench.grid.view import GridView
from erbench.grid.worker import run_stage, scratch_argv
from erbench.lock import LockHeld, file_lock
from rich.console import Console

DVC_YAML = """\
stages:
  prepare:
    matrix:
      dataset: [toy]
    cmd: python make_data.py ${item.dataset}
    deps: [make_data.py]
    outs:
      - data/raw/${item.dataset}
  train:
    matrix:
      method: ${grid.methods}
      seed: ${grid.seeds}
    cmd: python src/toy_train.py --params params.yaml --method ${item.method} --seed ${item.seed}
      --out runs/${item.method}-${item.seed}
    deps: [src, data/raw/toy]
    params:
      - methods.${item.method}
    outs:
      - runs/${item.method}-${item.seed}/config.json
    metrics:
      - runs/${item.method}-${item.seed}/metrics.json:
          cache: false
"""

MAKE_DATA = """\
import pathlib, sys
out = pathlib.Path("data/raw") / sys.argv[1]
out.mkdir(parents=True, exist_ok=True)
(out / "train.json").write_text("[1, 2, 3]\\n")
"""

TOY_TRAIN = """\
import argparse, json, os, pathlib, sys, time
import yaml
p = argparse.ArgumentParser()
for flag in ("--params", "--method", "--seed", "--out"):
    p.add_argument(flag)
a = p.parse_args()
opts = yaml.safe_load(open(a.params))["methods"][a.method] or {}
if opts.get("fail"):
    sys.exit("error: boom in " + a.method)
if opts.get("sleep"):
    pathlib.Path(opts["pidfile"] + a.seed).write_text(str(os.getpid()))
    time.sleep(opts["sleep"])
out = pathlib.Path(a.out)
out.mkdir(parents=True, exist_ok=True)
(out / "config.json").write_text(json.dumps({"method": a.method, "seed": a.seed, "opts": opts}))
(out / "metrics.json").write_text(json.dumps({"f1": int(a.seed) / 10}))
"""


def _params(methods: dict) -> dict:
    return {"grid": {"methods": list(methods), "seeds": [1, 2]}, "methods": methods}


def write_params(root: Path, methods: dict) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump(_params(methods), sort_keys=False))


@pytest.fixture()
def toy(tmp_path) -> Path:
    root = tmp_path / "toy"
    (root / "src").mkdir(parents=True)
    (root / "dvc.yaml").write_text(DVC_YAML)
    (root / "make_data.py").write_text(MAKE_DATA)
    (root / "src" / "toy_train.py").write_text(TOY_TRAIN)
    write_params(root, {"a": {}, "b": {}})
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    return root


def grid(root: Path, **kwargs):
    fn = kwargs.pop("fn", run_stage)
    kwargs = {"engine": "local", "workers": 2, "commit_every": 0.0, **kwargs}
    out = io.StringIO()
    with GridView(Console(file=out, width=200), live=False) as view:
        summary = run_grid(GridOptions(root, **kwargs), view, fn=fn)
        view.summary(summary)
    return summary, out.getvalue()


def dvc_stale(root: Path) -> set[str]:
    out = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=root, capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out))


def test_scratch_argv_points_out_and_params_into_scratch():
    cmd = "erbench --quiet train --params params.yaml --dataset synthetic --seed 1 --out runs/spert-synthetic-s1"
    argv = scratch_argv(cmd, Path("/s/spert-synthetic-s1"), {"params.yaml": Path("/s/p/params.yaml")})
    assert argv == ["erbench", "--quiet", "train", "--params", "/s/p/params.yaml", "--dataset", "synthetic",
                    "--seed", "1", "--out", "/s/spert-synthetic-s1"]
    assert scratch_argv("x --out=runs/a", Path("/s/a"), {})[-2:] == ["--out", "/s/a"]


def test_a_grid_training_keeps_its_epoch_state_where_dvc_repro_would():
    from erbench.resume import state_folder

    cmd = "erbench --quiet train --params params.yaml --dataset synthetic --seed 1 --out runs/spert-synthetic-s1"
    argv = scratch_argv(cmd, Path("/s/spert-synthetic-s1"), {}, root=Path("/checkout"))
    assert argv[-2:] == ["--resume-dir", "/checkout/runs/.erbench-resume/spert-synthetic-s1"]
    assert Path(argv[-1]) == state_folder(Path("/checkout") / "runs/spert-synthetic-s1")  # `erbench train`'s own
    assert "--resume-dir" not in scratch_argv("erbench report --out reports", Path("/s/r"), {}, root=Path("/c"))


def test_fingerprints_see_code_data_and_params_but_not_bytecode(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text("x = 1\n")
    (tmp_path / "params.yaml").write_text("methods: {a: {k: 1}, b: {k: 1}}\n")
    stage = GridStage("train@a", "cmd", "runs/a", ("runs/a/c.json",), ("src",), (("params.yaml", ("methods.a",)),))
    fp = Fingerprints(tmp_path)
    before = fp.snapshot(stage)
    (tmp_path / "src" / "__pycache__").mkdir()
    (tmp_path / "src" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "params.yaml").write_text("methods: {a: {k: 1}, b: {k: 2}}\n")  # another method's params
    assert fp.changed(stage, before) == []
    (tmp_path / "src" / "m.py").write_text("x = 2\n")
    (tmp_path / "params.yaml").write_text("methods: {a: {k: 3}, b: {k: 2}}\n")
    assert fp.changed(stage, before) == ["src", "params.yaml:methods.a"]


def test_file_lock_is_exclusive(tmp_path):
    with file_lock(tmp_path / "x.lock"):
        with pytest.raises(LockHeld, match=str(os.getpid())):
            with file_lock(tmp_path / "x.lock", blocking=False):
                pass
    with file_lock(tmp_path / "x.lock", blocking=False):  # released
        pass


def test_lock_writer_round_trips_through_dvc_and_keeps_order(tmp_path):
    from dvc.utils.serialize import load_yaml

    lock = tmp_path / "dvc.lock"
    lock.write_text("schema: '2.0'\nstages:\n  a:\n    cmd: echo a\n  b:\n    cmd: echo b\n")
    writer = LockWriter(lock)
    entry = {"cmd": "echo " + "x" * 200, "deps": [{"path": "src", "hash": "md5", "md5": "0" * 32 + ".dir",
                                                 "size": 10, "nfiles": 2}],
             "params": {"params.yaml": {"methods.a": {"lr": 5.0e-05, "k": [1, 2]}}},
             "outs": [{"path": "runs/a/config.json", "hash": "md5", "md5": "1" * 32, "size": 3}]}
    writer.update({"a": entry, "c": {"cmd": "echo c"}})
    data = load_yaml(str(lock))
    assert list(data["stages"]) == ["a", "b", "c"]
    assert data["stages"]["a"] == entry and data["schema"] == "2.0"
    lock.write_text(lock.read_text().replace("echo b", "echo B"))  # someone else wrote it meanwhile
    writer.update({"c": {"cmd": "echo C"}})
    data = load_yaml(str(lock))
    assert data["stages"]["b"] == {"cmd": "echo B"} and data["stages"]["c"] == {"cmd": "echo C"}


@pytest.mark.slow
def test_stale_names_agree_with_dvc_status(toy, monkeypatch):
    from dvc.repo import Repo

    monkeypatch.chdir(toy)  # DVC's API resolves paths against the working directory

    def both() -> tuple[set, set]:
        with Repo(str(toy)) as repo:
            stages = dvc_stages(repo, ["prepare", "train"])
            fast = stale_names(repo, stages)
            with repo.lock:
                slow = {s.addressing for s in stages if s.status()}
        return fast, slow

    fast, slow = both()
    assert fast == slow == {"prepare@toy", "train@a-1", "train@a-2", "train@b-1", "train@b-2"}
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=toy, check=True)
    assert both() == (set(), set())
    write_params(toy, {"a": {"lr": 2}, "b": {}})  # one method's params
    (toy / "runs" / "b-1" / "metrics.json").write_text("{}")  # an uncached output
    (toy / "runs" / "b-2" / "config.json").unlink()  # a deleted output
    fast, slow = both()
    assert fast == slow == {"train@a-1", "train@a-2", "train@b-1", "train@b-2"}
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=toy, check=True)
    (toy / "src" / "helper.py").write_text("# new code\n")
    fast, slow = both()
    assert fast == slow and len(fast) == 4


@pytest.mark.slow
def test_local_grid_commits_everything_then_submits_nothing(toy):
    summary, out = grid(toy)
    assert "before the grid: dvc repro prepare@toy" in out
    assert sorted(summary.committed) == ["train@a-1", "train@a-2", "train@b-1", "train@b-2"]
    assert summary.ok and summary.repro == "nothing to run", out
    assert dvc_stale(toy) == set()
    assert json.loads((toy / "runs" / "b-2" / "config.json").read_text())["seed"] == "2"
    assert not [p for p in (toy / "runs").iterdir() if p.name.startswith(".")]  # no temporary folders left
    again, out = grid(toy)
    assert (again.stale, again.submitted, again.committed) == (0, 0, [])
    assert "nothing to submit" in out


@pytest.mark.slow
def test_failing_stage_is_reported_and_the_others_land(toy):
    write_params(toy, {"a": {}, "b": {"fail": True}})
    summary, out = grid(toy)
    assert set(summary.failed) == {"train@b-1", "train@b-2"}
    assert "exit status 1: error: boom in b" in summary.failed["train@b-1"]
    assert (toy / ".dvc/tmp/erbench-grid/logs/train@b-1.log").is_file()
    assert sorted(summary.committed) == ["train@a-1", "train@a-2"]
    assert not summary.ok and summary.repro.startswith("skipped: 2 train stage(s) still stale")
    assert "not committed train@b-1" in out
    assert dvc_stale(toy) == {"train@b-1", "train@b-2"}
    assert not (toy / "runs" / "b-1").exists()


def edit_code_then_run(task, node, notify=None):
    """A worker that finds the code edited under it (as a user might, mid-grid)."""
    result = run_stage(task, node, notify)
    if task.name == "train@b-1":
        (Path(task.root) / "src" / "toy_train.py").write_text((Path(task.root) / "src/toy_train.py").read_text()
                                                              + "# edited\n")
    return result


@pytest.mark.slow
def test_results_of_changed_code_are_not_committed(toy):
    summary, _ = grid(toy, workers=1, fn=edit_code_then_run)  # one at a time: a-1, a-2, b-1, b-2
    assert sorted(summary.committed) == ["train@a-1", "train@a-2"]
    assert list(summary.discarded) == ["train@b-1"] and "src changed since submission" in summary.discarded["train@b-1"]
    assert "differs from the driver's in src" in summary.failed["train@b-2"]  # its worker saw the edit first
    assert not (toy / "runs" / "b-1").exists()
    assert dvc_stale(toy) == {"train@a-1", "train@a-2", "train@b-1", "train@b-2"}  # the code changed under all


@pytest.mark.slow
def test_ctrl_c_keeps_what_finished_and_leaves_no_orphans(toy, tmp_path):
    pidfile = str(tmp_path / "sleeper-")
    write_params(toy, {"a": {}, "b": {"sleep": 120, "pidfile": pidfile}})
    env = {**os.environ, "CI": "true", "PYTHONUNBUFFERED": "1"}
    driver = subprocess.Popen([str(Path(sys.executable).parent / "erbench"), "grid", "run", "--engine", "local",
                               "--workers", "2", "--commit-every", "1000"], cwd=toy, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not all(Path(pidfile + s).is_file() for s in "12"):
        assert time.monotonic() < deadline and driver.poll() is None, driver.stdout.read()
        time.sleep(0.2)
    sleepers = [int(Path(pidfile + s).read_text()) for s in "12"]
    driver.send_signal(signal.SIGINT)
    out = driver.communicate(timeout=120)[0]
    assert driver.returncode == 130, out
    assert "interrupted" in out
    assert dvc_stale(toy) == {"train@b-1", "train@b-2"}, out  # a's were committed on the way out
    assert sorted(p.name for p in (toy / "runs").iterdir()) == ["a-1", "a-2"]  # nothing half-written
    assert still_running(sleepers, timeout=60) == [], out  # a bounded wait for the exit, not a fixed sleep


def _running(pid: int) -> bool:
    """pid exists and has not exited (a zombie has exited; only its parent's wait is pending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return not Path("/proc").is_dir()  # no /proc (macOS): kill(pid, 0) is all we know


def still_running(pids: list[int], timeout: float) -> list[int]:
    """The pids that are still running after waiting up to `timeout` seconds for them to exit."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if _running(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _running(p)]
    return alive


@pytest.mark.slow
def test_still_running_sees_a_live_process_and_waits_for_its_exit(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        assert still_running([child.pid], timeout=0) == [child.pid]
        reaper = threading.Thread(target=child.wait)  # as init reaps an orphan
        reaper.start()
        assert still_running([child.pid], timeout=60) == []
        reaper.join()
    finally:
        child.kill()
        child.wait()


def test_live_view_renders_counts_per_node():
    from erbench.grid.driver import GridSummary

    out = io.StringIO()
    view = GridView(Console(file=out, width=120), live=False)
    nodes = [{"host": "gpu1", "node_id": "a" * 40, "CPU": 8, "GPU": 2}, {"host": "gpu2", "node_id": "b" * 40}]
    view.begin(["s1", "s2", "s3", "s4"], {"nodes": nodes, "resources": {"CPU": 16, "GPU": 4}, "address": "x:6379"})
    view.started("s1", nodes[0])
    view.started("s2", nodes[1])
    view.started("s2", nodes[0], resumes_after=7)  # retried elsewhere, from its saved training state
    view.finished("s1", "done", nodes[0], 3.0)
    view.finished("s3", "failed", nodes[1], error="s3: exit status 1: boom")
    Console(file=out, width=120).print(view.render())
    text = out.getvalue()
    assert "done 1  running 1  failed 1  queued 1" in text and "retried 1" in text
    assert "gpu1 aaaaaaaa" in text and "gpu2 bbbbbbbb" in text
    assert "retrying s2 on gpu1" in text and "its training state is saved after epoch 7" in text
    view.summary(GridSummary(planned=4, stale=4, failed={"s3": "s3: exit status 1: boom"}))
    assert "not committed s3: s3: exit status 1: boom" in out.getvalue()


def die_once(task, node, notify=None):
    """A worker whose process dies the first time it runs a stage (as under the OOM killer)."""
    from erbench.grid.worker import RunResult

    notify({"stage": task.name, "node": node})
    marker = Path(task.scratch) / f"{task.name}.died"
    if not marker.exists():
        marker.write_text("1")
        os._exit(1)  # the whole process, not an exception
    return RunResult(task.name, {"config.json": b"{}"}, node, 0.0)


@pytest.mark.slow
def test_local_executor_retries_a_dead_worker_process(tmp_path):
    from erbench.grid.executors import LocalExecutor
    from erbench.grid.worker import StageTask

    executor = LocalExecutor(workers=1, max_retries=1, fn=die_once)
    try:
        executor.submit(StageTask("train@x-1", "cmd --out runs/x", "runs/x", ("config.json",), str(tmp_path),
                                  scratch=str(tmp_path)))
        outcomes = []
        deadline = time.monotonic() + 60
        while not outcomes:
            assert time.monotonic() < deadline
            outcomes += executor.wait(0.5)[1]
    finally:
        executor.shutdown()
    assert outcomes[0].error is None and outcomes[0].attempts == 2


TOY_RUN = """\
import argparse, json, pathlib
p = argparse.ArgumentParser()
for flag in ("--params", "--method", "--seed", "--out"):
    p.add_argument(flag)
a = p.parse_args()
out = pathlib.Path(a.out)
out.mkdir(parents=True, exist_ok=True)
run = {"dataset": "toy", "method": a.method, "seed": int(a.seed), "fold": None}
(out / "metrics.json").write_text(json.dumps({"run": run, "protocol": {"dataset": "toy"}, "metrics": {"f1": 1.0}}))
for name in ("config.json", "summary.json", "environment.json"):
    (out / name).write_text(json.dumps({"name": name}))
(out / "predictions.jsonl").write_text("")
"""


def test_save_records_saves_each_committed_runs_light_record(toy):
    """`erbench grid run --save-records`: every committed run's record lands in results/SUITE as it is committed."""
    outs = "".join(f"      - runs/${{item.method}}-${{item.seed}}/{n}\n" for n in (
        "config.json", "summary.json", "environment.json", "predictions.jsonl"))
    text = DVC_YAML.replace("src/toy_train.py", "src/toy_run.py").replace(
        "      - runs/${item.method}-${item.seed}/config.json\n", outs)
    (toy / "dvc.yaml").write_text(text)
    (toy / "src" / "toy_run.py").write_text(TOY_RUN)
    summary, out = grid(toy, records=Path("results") / "toy-suite")
    assert summary.ok and len(summary.committed) == 4, out
    assert "run record(s) to results/toy-suite" in " ".join(out.split()), out
    for run in ("a-1", "a-2", "b-1", "b-2"):
        record = toy / "results" / "toy-suite" / run
        assert (record / "metrics.json").read_bytes() == (toy / "runs" / run / "metrics.json").read_bytes()
        assert (record / "predictions.jsonl").is_file()


def test_save_records_warns_and_keeps_going_on_incomplete_runs(toy):
    summary, out = grid(toy, records=Path("results") / "toy-suite")  # the toy writes no environment.json etc.
    assert summary.ok and len(summary.committed) == 4, out
    assert "run records not saved" in out and "missing" in out
    assert not (toy / "results").exists()


def test_the_local_engine_never_oversubscribes_the_usable_cpus() -> None:
    from erbench.errors import UserInputError
    from erbench.grid.executors import make_executor
    from erbench.runtime import usable_cpus

    cpus = usable_cpus()
    with pytest.raises(UserInputError, match=rf"--workers {cpus + 1} x --cpus-per-run 1 = {cpus + 1} threads"):
        make_executor("local", address=None, cpus_per_run=1, gpus_per_run=None, max_retries=0, workers=cpus + 1)
    executor = make_executor("local", address=None, cpus_per_run=1, gpus_per_run=None, max_retries=0, workers=None)
    try:
        assert executor.workers == cpus  # the default: as many one-thread runs as usable CPUs
    finally:
        executor.shutdown()
