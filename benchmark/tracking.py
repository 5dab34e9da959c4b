"""MLflow: every finished run becomes one MLflow run, logged once, after its folder is written.

A run is keyed by its name and the hash of its config.json (tag `erbench.run_key`): logging the
same finished run again is a no-op, while a re-run with changed options is a new MLflow run.

Watching a run: `erbench train` with tracking on opens the MLflow run when training starts
(`LiveRun`, status RUNNING in the UI, its real start time) and logs each epoch's loss and dev
scores as the epoch ends; `log_run(..., live=...)` then completes that same run with everything
else and marks it FINISHED (an interrupted or failed training is marked KILLED or FAILED). Each
write takes the store's lock only for itself, so parallel runs share one sqlite store. The grid's
workers (ERBENCH_NO_TRACKING=1) log nothing live: the driver logs each finished run afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

from erbench import runfolder
from erbench.lock import file_lock

DEFAULT_URI = "sqlite:///mlflow.db"
ENV_TAGS = ("python", "device_type", "cpu", "threads", "cuda", "cudnn", "gpu")  # tagged as env.<key>


def resolve_uri(explicit: str | None = None, params_uri: str | None = None) -> str:
    """Precedence: an explicit flag, then $MLFLOW_TRACKING_URI, then params, then a local sqlite file."""
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or params_uri or DEFAULT_URI


def git_commit(cwd: Path | None = None) -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if commit.returncode != 0:
        return "unknown"
    return commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def flatten(prefix: str, value, out: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = str(value)
    return out


def run_key(run_dir: Path) -> str:
    digest = hashlib.sha256((Path(run_dir) / runfolder.CONFIG).read_bytes()).hexdigest()[:16]
    return f"{Path(run_dir).name}:{digest}"


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _experiment_id(client, name: str, uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:///"):  # keep artifacts beside the database, not in the working directory
        db = Path(uri[len("sqlite:///"):]).resolve()
        location = (db.parent / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


def store_lock(uri: str):
    """One writer at a time for a sqlite store: parallel runs (`dvc queue start -j N`) take a lock file
    beside the database (`mlflow.db.lock`); other stores (an MLflow server) take many writers."""
    if not uri.startswith("sqlite:///"):
        return contextlib.nullcontext()
    db = Path(uri[len("sqlite:///"):])
    return file_lock(db.with_name(db.name + ".lock"), what=f"MLflow store {db}")


class LiveRun:
    """An MLflow run opened when a training starts; `log_epoch` logs an epoch's metrics as it ends.

    A failed write (a locked or unreachable store) does not stop the training: it is returned as a
    warning line once and live logging stops; the run's folder is logged as usual at the end.
    """

    def __init__(self, uri: str, experiment: str, run_name: str, tags: dict[str, str]):
        with store_lock(uri):
            client = _client(uri)
            exp_id = _experiment_id(client, experiment, uri)
            self.run_id = client.create_run(exp_id, run_name=run_name,
                                            tags={**tags, "mlflow.runName": run_name}).info.run_id
        self.uri, self.epochs, self.failed = uri, set(), False

    def log_epoch(self, epoch: int, record: dict) -> str | None:
        """Log one history record (train_model's on_epoch); -> a warning line when the write failed."""
        from mlflow.entities import Metric

        if self.failed:
            return None
        stamp = int(record.get("time", time.time()) * 1000)
        metrics = [Metric(k, float(v), stamp, int(epoch)) for k, v in record.items()
                   if k not in ("epoch", "time") and isinstance(v, (int, float)) and not isinstance(v, bool)]
        try:
            with store_lock(self.uri):
                _client(self.uri).log_batch(self.run_id, metrics=metrics)
        except Exception as exc:  # the training goes on; the finished folder is logged at the end
            self.failed = True
            return f"MLflow live logging stopped after epoch {epoch - 1} ({type(exc).__name__}: {exc})"
        self.epochs.add(int(epoch))
        return None

    def end(self, status: str) -> None:
        """Mark an unfinished run KILLED or FAILED (the training stopped before its folder was written)."""
        with store_lock(self.uri):
            _client(self.uri).set_terminated(self.run_id, status)


def log_run(run_dir: Path, *, uri: str, experiment: str, extra_tags: dict[str, str] | None = None,
            log_weights: bool = False, live: LiveRun | None = None) -> str:
    """Log a finished run folder to MLflow; return the MLflow run id (the existing one if logged before).
    `live`: complete that run (its epochs are logged already) instead of creating one."""
    with store_lock(uri):
        return _log_run(run_dir, uri=uri, experiment=experiment, extra_tags=extra_tags, log_weights=log_weights,
                        live=live)


def _log_run(run_dir: Path, *, uri: str, experiment: str, extra_tags: dict[str, str] | None,
             log_weights: bool, live: LiveRun | None = None) -> str:
    from mlflow.entities import Metric, Param, RunTag

    run_dir = Path(run_dir)
    result, config = runfolder.read_metrics(run_dir), runfolder.read_config(run_dir)
    client = _client(uri)
    exp_id = _experiment_id(client, experiment, uri)
    key = run_key(run_dir)
    if live is None:
        found = client.search_runs([exp_id], filter_string=f"tags.`erbench.run_key` = '{key}'", max_results=1)
        if found and found[0].info.status == "FINISHED":
            return found[0].info.run_id
    run = result["run"]
    env = result.get("environment", {})
    tags = {
        "erbench.run_key": key, "dataset": run["dataset"], "method": run["method"], "seed": str(run["seed"]),
        "fold": str(run["fold"]), "encoder": config["run"]["train"]["encoder"], "git_commit": git_commit(),
        "device": env.get("device", ""), "torch": env.get("torch", ""), "transformers": env.get("transformers", ""),
        "dataset_sha256": json.dumps(result.get("data", {}).get("sha256", {}), sort_keys=True),
        "mlflow.runName": run["name"],
    }
    tags.update({f"env.{k}": str(env[k]) for k in ENV_TAGS if env.get(k) is not None})
    tags.update(extra_tags or {})
    if live is None:
        run_id = client.create_run(exp_id, run_name=run["name"], tags=tags).info.run_id
    else:
        run_id = live.run_id
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    logged = live.epochs if live is not None else set()
    try:
        params = flatten("", {k: v for k, v in config["run"].items()}, {})
        params.update(flatten("protocol", result.get("protocol", {}), {}))
        if config.get("thresholds"):  # mode, the values decoded with, SPEC values, dev split and metric
            params.update(flatten("thresholds", config["thresholds"], {}))
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in result["metrics"].items() if v is not None]
        for entry in result.get("history", []):  # per epoch, at the time the epoch ended (unless logged live)
            step, stamp = int(entry["epoch"]), int(entry.get("time", now / 1000) * 1000)
            if step in logged:
                continue
            metrics += [Metric(k, float(v), stamp, step) for k, v in entry.items()
                        if k not in ("epoch", "time") and v is not None]
        for entry in runfolder.read_steps(run_dir):  # the training loss every N optimizer steps, with times
            step, stamp = int(entry["step"]), int(entry["time"] * 1000)
            metrics += [Metric(f"step/{k}", float(v), stamp, step) for k, v in entry.items()
                        if k not in ("step", "time", "epoch") and v is not None]
        for part in ("train_encoding", "eval_encoding"):  # long documents: how many were truncated or split
            counts = (result.get("data") or {}).get(part) or {}
            metrics += [Metric(f"data/{part}/{k}", float(v), now, 0) for k, v in counts.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)]
        metrics += [Metric(f"timing/{k}", float(v), now, 0) for k, v in result.get("timing", {}).items()
                    if isinstance(v, (int, float))]
        for part, report in (result.get("data") or {}).get("encoding", {}).items():  # long documents, per split
            metrics += [Metric(f"data/{part}/{k}", float(v), now, 0) for k, v in report.items()
                        if k in ("truncated_documents", "cut_words", "cut_entities", "windowed_documents")]
        if result.get("warnings"):
            client.set_tag(run_id, "erbench.warnings", "\n".join(result["warnings"])[:5000])
        param_list = [Param(k, v[:6000]) for k, v in params.items()]
        for i in range(0, len(param_list), 100):
            client.log_batch(run_id, params=param_list[i: i + 100])
        for i in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[i: i + 1000])
        client.log_batch(run_id, tags=[RunTag("erbench.logged", "true")])
        for name in runfolder.TEXT_FILES + ((runfolder.WEIGHTS,) if log_weights else ()):
            if (run_dir / name).is_file():
                client.log_artifact(run_id, str(run_dir / name))
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    return run_id
