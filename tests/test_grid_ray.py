"""`erbench grid run` on a real two-node Ray cluster on this machine, over the micro suite.

Both nodes bind to 127.0.0.1 only and offer 1 CPU and 1 logical GPU each, so every run asks for
a GPU (the scheduling path of a GPU cluster) while training on the CPU. The micro suite is the
project's own pipeline (tiny random encoder, tiny synthetic data, 2 methods x 2 seeds) in a
temporary git repository, as in tests/test_pipeline.py. The tests run in order on one cluster:
a first grid run that loses a node mid-run, a second that submits nothing, a third with a stage
that fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.project_copy import copy_project

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STAGES = [f"train@synthetic-{m}-{s}" for m in ("spert", "spert_mt") for s in (1, 2)]
pytestmark = pytest.mark.slow

# Ray on the loopback interface only (read when ray is imported: set before any import of it)
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def cluster():
    ray_cluster_utils = pytest.importorskip("ray.cluster_utils")
    import ray._private.ray_constants as ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before this module set the variable
    node = {"num_cpus": 1, "num_gpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 80 * 2**20}
    cluster = ray_cluster_utils.Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    cluster.node_args = node
    yield cluster
    cluster.shutdown()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, dict]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    dest = tmp_path_factory.mktemp("grid") / "erbench"
    env = copy_project(dest, extra_env={"PYTHONUNBUFFERED": "1"})  # read the driver's lines as they come
    return dest, env


def grid_run(repo, cluster, on_line=None) -> tuple[int, str]:
    """`erbench grid run --address ...`, reading its output as it comes (ON_LINE may act on a line)."""
    dest, env = repo
    proc = subprocess.Popen([str(BIN / "erbench"), "grid", "run", "--address", cluster.address, "--commit-every", "0"],
                            cwd=dest, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 600
    for line in proc.stdout:
        lines.append(line)
        if on_line:
            on_line(line)
        assert time.monotonic() < deadline, "".join(lines)
    proc.wait(timeout=60)
    return proc.returncode, "".join(lines)


def mlflow_runs(dest: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{dest / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("micro")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def dvc_stale(repo) -> set[str]:
    """`dvc status`'s stale stages."""
    dest, env = repo
    return set(json.loads(_run([str(BIN / "dvc"), "status", "--json"], dest, env)))


def training_process(method: str, seed: str, timeout: float = 120.0) -> bool:
    """Wait (bounded) until an `erbench train` process of this stage runs: a poll, not a fixed sleep."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in psutil.process_iter(["cmdline"]):
            cmd = proc.info["cmdline"] or []
            pairs = set(zip(cmd, cmd[1:]))
            if "train" in cmd and {("--method", method), ("--seed", seed)} <= pairs:
                return True
        time.sleep(0.05)
    return False


def test_grid_on_two_nodes_survives_a_lost_node(repo, cluster):
    dest, env = repo
    worker = next(iter(cluster.worker_nodes))
    removed = []

    def remove_worker_when_busy(line: str) -> None:
        match = re.match(r"started (\S+) on .*\(node id (\w+)\)", line)
        if match and match.group(2) == worker.node_id and not removed:
            _, method, seed = match.group(1).split("-")
            assert training_process(method, seed), f"no training process for {match.group(1)} within 120 s"
            cluster.remove_node(worker, allow_graceful=False)  # mid-run: its command is training
            removed.append(match.group(1))
            cluster.add_node(**cluster.node_args)  # a replacement joins, as on a real cluster

    code, out = grid_run(repo, cluster, remove_worker_when_busy)
    assert code == 0, out
    assert removed, out
    assert re.search(rf"retrying {re.escape(removed[0])} on ", out), out
    assert "grid: 4 stages, 4 stale, 4 submitted, 4 committed, 0 failed" in out
    assert "dvc repro: ran report" in out
    assert dvc_stale(repo) == set()
    for stage in STAGES:
        method, seed = stage.split("-")[1:]
        assert json.loads((dest / "runs" / f"{method}-synthetic-s{seed}" / "metrics.json").read_text())["run"]["seed"] \
            == int(seed)
    runs = mlflow_runs(dest)
    assert sorted(r.data.tags["erbench.stage"] for r in runs) == sorted(STAGES)
    assert {r.info.status for r in runs} == {"FINISHED"}
    tags = runs[0].data.tags
    assert tags["erbench.cluster.nodes"] == "2" and tags["erbench.cluster.gpus"] == "2"
    assert tags["erbench.gpu_ids"] == "0" and tags["erbench.node_ip"] == "127.0.0.1"
    assert "CPU=1 GPU=1" in tags["erbench.cluster"]


def test_second_grid_run_submits_nothing(repo, cluster):
    code, out = grid_run(repo, cluster)
    assert code == 0, out
    assert "nothing to submit" in out and "4 stages, 0 stale, 0 submitted" in out
    assert "dvc repro: nothing to run" in out
    assert len(mlflow_runs(repo[0])) == 4


def test_failing_stage_is_reported_and_the_others_land(repo, cluster):
    dest, _ = repo
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["train"]["lr"] = 4.0e-3  # every stage is stale ...
    params["methods"]["spert_mt"] = {"iou_mode": "bogus"}  # ... and spert_mt's raise
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    code, out = grid_run(repo, cluster)
    assert code == 1, out
    assert re.search(r"train@synthetic-spert_mt-1: exit status 2: error: .*iou_mode", out), out
    assert "4 stale, 4 submitted, 2 committed, 2 failed" in out
    assert dvc_stale(repo) == {"train@synthetic-spert_mt-1", "train@synthetic-spert_mt-2", "report"}
    names = [r.data.tags["erbench.stage"] for r in mlflow_runs(dest) if r.info.status == "FINISHED"]
    assert sorted(names) == sorted(STAGES + ["train@synthetic-spert-1", "train@synthetic-spert-2"])
