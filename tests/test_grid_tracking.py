"""One writer at a time for a sqlite MLflow store: parallel `log_run`s (as under `dvc queue start -j N`,
or several `erbench train` processes) never fail with "database is locked"."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from erbench.tracking import log_run


def fake_run_folder(path: Path, method: str, seed: int) -> Path:
    """A run folder with the shape `erbench.runner.execute_run` writes (no training)."""
    path.mkdir(parents=True)
    metrics = {f"test/{k}/micro_f1": 0.1 * seed for k in ("ner", "rel", "rel_strict")}
    (path / "metrics.json").write_text(json.dumps({
        "run": {"name": path.name, "dataset": "synthetic", "method": method, "seed": seed, "fold": None},
        "protocol": {"dataset": "synthetic", "epochs": 1}, "metrics": metrics,
        "timing": {"train_seconds": 1.0}, "history": [{"epoch": 1, "train/loss": 0.5}],
        "data": {"sha256": {"train": "0" * 64}}, "environment": {"device": "cpu", "torch": "x", "transformers": "y"},
    }))
    (path / "config.json").write_text(json.dumps({"run": {"method": method, "seed": seed,
                                                          "train": {"encoder": "tiny-random"}}}))
    (path / "predictions.jsonl").write_text("{}\n")
    return path


def _log_many(uri: str, folders: list[str], barrier) -> list[str]:
    barrier.wait()  # all writers start together
    return [log_run(Path(f), uri=uri, experiment="parallel") for f in folders]


@pytest.mark.slow
def test_parallel_log_runs_to_one_sqlite_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    writers = 3
    folders = [[str(fake_run_folder(tmp_path / "runs" / f"m{w}-synthetic-s{s}", f"m{w}", s)) for s in (1, 2)]
               for w in range(writers)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(writers)
        with ctx.Pool(writers) as pool:
            ids = pool.starmap(_log_many, [(uri, f, barrier) for f in folders])
    assert len({i for batch in ids for i in batch}) == writers * 2
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("parallel").experiment_id])
    assert len(runs) == writers * 2 and {r.info.status for r in runs} == {"FINISHED"}
    assert (tmp_path / "mlflow.db.lock").is_file()
    assert log_run(Path(folders[0][0]), uri=uri, experiment="parallel") in ids[0]  # logged once
