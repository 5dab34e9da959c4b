"""The grid driver's own overhead at the paper grid's size (a measurement script, not a test).

Expands the paper suite to about 1,000 train stages (7 methods x CoNLL04, SciERC and ADE's 10
folds x 12 seeds = 1,008) in a temporary copy of this checkout, stubs the datasets, starts a
simulated 8-node Ray cluster on 127.0.0.1 (1 CPU and 1 logical GPU per node) and runs the real
driver (`run_grid`) with a stub worker that returns a realistic run folder at once. What is
left is the driver's time: planning (DVC index + staleness), fingerprints, submission,
installing folders, `dvc commit`, and the MLflow writer (in the background). A second grid run
then plans again with everything up to date (zero tasks). `--compare` also times the
alternatives on samples: `dvc status --json`, DVC's per-stage `Stage.status()`, `dvc commit -f`.

    python scripts/grid_scale_bench.py [--seeds 12] [--nodes 8] [--commit-every 30] [--compare] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray on the loopback interface only
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["spert", "spert_mt", "spert_focal", "spert_cb", "spert_mt_no_iou", "spert_mt_no_logits", "spert_mt_no_mt"]


def sh(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout


def build_repo(dest: Path, seeds: int) -> None:
    import yaml

    files = sh(["git", "ls-files"], ROOT).split()
    for name in files:
        if not name.startswith(("runs/", "data/", "reports/")) and (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    params = yaml.safe_load((ROOT / "suites" / "paper.yaml").read_text())
    params["grid"]["methods"] = METHODS
    params["grid"]["seeds"] = list(range(1, seeds + 1))
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rng = __import__("random").Random(0)
    for dataset in params["data"]["stage"]:  # stub datasets, recorded as staged
        (dest / "data" / "raw" / dataset).mkdir(parents=True)
        for part in ("train", "dev", "test"):
            (dest / "data" / "raw" / dataset / f"{part}.json").write_bytes(rng.randbytes(300_000))
    env = ["-c", "user.name=bench", "-c", "user.email=bench@example.org"]
    sh(["git", "init", "-q"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", *env, "commit", "-qm", "scale"], dest)
    sh([sys.executable, "-m", "dvc", "commit", "-f", *[f"prepare@{d}" for d in params["data"]["stage"]]], dest)


def stub_files(name: str) -> dict[str, bytes]:
    """A run folder of a real run's size: metrics 11 KB, config 2.4 KB, predictions ~200 KB."""
    run = {"name": name, "dataset": "conll04", "method": "spert", "seed": 1, "fold": None}
    metrics = {f"test/{k}/{m}": 0.5 for k in ("ner", "rel", "rel_strict") for m in ("micro_f1", "macro_f1", "p", "r")}
    result = {"run": run, "protocol": {"epochs": 20}, "metrics": metrics, "timing": {"train_seconds": 1.0},
              "history": [{"epoch": e, "train/loss": 1 / e} for e in range(1, 21)], "environment": {"device": "cuda"},
              "data": {"sha256": {"train": "0" * 64}}, "pad": "x" * 9000}
    config = {"run": {"train": {"encoder": "bert-base-cased"}, "name": name}, "pad": "y" * 2000}
    line = json.dumps({"doc": name, "entities": [[0, 2, "Loc"]] * 8, "relations": [[0, 1, "Live_In"]] * 4})
    return {"metrics.json": json.dumps(result).encode(), "config.json": json.dumps(config).encode(),
            "predictions.jsonl": ((line + "\n") * (200_000 // len(line))).encode()}


def stub_run(task, node, notify=None):
    """Stands in for `erbench.grid.worker.run_stage`: no command, the folder comes back at once."""
    from erbench.grid.worker import RunResult

    if notify:
        notify({"stage": task.name, "node": node})
    return RunResult(task.name, stub_files(Path(task.out_dir).name), node, 0.0)


def start_cluster(nodes: int):
    import ray._private.ray_constants as ray_constants
    from ray.cluster_utils import Cluster

    ray_constants.ENABLE_RAY_CLUSTER = False
    args = {"num_cpus": 1, "num_gpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 100 * 2**20}
    cluster = Cluster(initialize_head=True, head_node_args={**args, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(**args)
    cluster.wait_for_nodes()
    return cluster


def grid(repo: Path, address: str, commit_every: float = 30.0):
    from erbench.grid.driver import GridOptions, run_grid
    from erbench.grid.view import GridView
    from rich.console import Console

    out = io.StringIO()
    start = time.perf_counter()
    with GridView(Console(file=out, width=160), live=False) as view:
        opts = GridOptions(repo, address=address, repro=False, commit_every=commit_every)
        summary = run_grid(opts, view, fn=stub_run)
    return summary, time.perf_counter() - start, out.getvalue()


def compare(repo: Path, sample: int) -> dict:
    """The alternatives the driver does not use, timed on samples of the grid."""
    from dvc.repo import Repo
    from erbench.grid.pipeline import TRAIN_GROUPS, dvc_stages, stale_names

    result = {}
    start = time.perf_counter()
    sh([sys.executable, "-m", "dvc", "status", "--json"], repo)
    result["dvc status --json (CLI, all stages), s"] = time.perf_counter() - start
    os.chdir(repo)
    with Repo(str(repo)) as r:
        stages = dvc_stages(r, TRAIN_GROUPS)
        start = time.perf_counter()
        with r.lock:
            [s.status() for s in stages[:sample]]
        result["Stage.status() per stage (DVC API), s"] = (time.perf_counter() - start) / sample
        start = time.perf_counter()
        stale_names(r, stages)
        result["stale_names per stage (driver), s"] = (time.perf_counter() - start) / len(stages)
    names = [s.addressing for s in stages[:sample]]  # committed already: `-f` redoes all of the work
    start = time.perf_counter()
    sh([sys.executable, "-m", "dvc", "commit", "-f", *names], repo)
    result["dvc commit -f (CLI) per stage, s"] = (time.perf_counter() - start) / sample
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--nodes", type=int, default=8)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--sample", type=int, default=10)
    parser.add_argument("--commit-every", type=float, default=30.0, help="seconds between commit batches")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repository")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="erbench-grid-scale-"))
    repo = tmp / "erbench"
    cluster = None
    try:
        start = time.perf_counter()
        build_repo(repo, args.seeds)
        print(f"repository with the expanded paper grid: {repo} ({time.perf_counter() - start:.0f} s)")
        start = time.perf_counter()
        cluster = start_cluster(args.nodes)
        print(f"{args.nodes}-node Ray cluster at {cluster.address} ({time.perf_counter() - start:.0f} s)")
        first, wall, log = grid(repo, cluster.address, args.commit_every)
        n = first.submitted
        driver = sum(first.timings.get(k, 0.0) for k in ("plan", "fingerprint", "submit", "install", "commit"))
        batches = sum(1 for line in log.splitlines() if line.startswith("committed "))
        report = {"stages": first.planned, "submitted": n, "committed": len(first.committed), "commit batches": batches,
                  "logged to MLflow": first.logged, "wall s (first run, incl. cluster connect)": wall,
                  **{f"{k} s": v for k, v in sorted(first.timings.items())},
                  "driver overhead per stage s (plan+fingerprint+submit+install+commit)": driver / max(n, 1),
                  "MLflow logging per stage s (background thread)":
                      first.timings.get("mlflow_log (background)", 0.0) / max(first.logged, 1)}
        print(log.splitlines()[-1])
        again, wall2, log2 = grid(repo, cluster.address)
        report["second run: submitted"] = again.submitted
        report["second run: plan s"] = again.timings.get("plan", 0.0)
        report["second run: wall s"] = wall2
        if args.compare:
            report.update(compare(repo, args.sample))
        for key, value in report.items():
            print(f"{key:75s} {value:10.4f}" if isinstance(value, float) else f"{key:75s} {value:>10}")
        if args.json:
            args.json.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        if cluster is not None:
            cluster.shutdown()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
