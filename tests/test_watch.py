"""Watching a run (issue 27, item 5): `erbench train` prints one line per epoch (loss and dev scores), also
under --quiet, and with tracking on the MLflow run exists from the start, RUNNING, with each epoch's
metrics logged as the epoch ends; at the end the same run is completed, FINISHED, with its real duration.
Trains the tiny custom dataset with a tiny random BERT (conftest)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from erbench.cli import main
from erbench.progress import epoch_line

from tests.conftest import tiny_train_args

pytestmark = pytest.mark.usefixtures("one_thread")


def test_epoch_line():
    record = {"epoch": 2, "time": 1.0, "seconds": 12.34, "sentences_per_s": 5.0, "train/loss": 0.41234,
              "train/entity": 0.2, "dev/ner/micro_f1": 81.2, "dev/rel/micro_f1": 52.1, "dev/rel_strict/micro_f1": 50.3}
    assert epoch_line(2, 5, record) == ("epoch 2/5: loss 0.4123 (entity 0.2000) | dev NER 81.20 RE 52.10 RE+ 50.30 "
                                        "(micro F1) | 12.3 s, 5.0 sent/s")
    assert epoch_line(1, 1, {"train/loss": 1.0, "seconds": 2.0}) == "epoch 1/1: loss 1.0000 | 2.0 s"


def test_epochs_are_printed_and_logged_to_mlflow_as_they_end(staged, tmp_path, monkeypatch):
    from erbench import tracking
    from mlflow.tracking import MlflowClient

    root, params = staged
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    seen = []  # what the MLflow store shows right after each epoch was logged, while the training runs
    original = tracking.LiveRun.log_epoch

    def watched(self, epoch, record):
        warning = original(self, epoch, record)
        run = MlflowClient(uri).get_run(self.run_id)
        losses = MlflowClient(uri).get_metric_history(self.run_id, "train/loss")
        seen.append((epoch, run.info.status, [m.step for m in losses], "dev/rel_strict/micro_f1" in run.data.metrics))
        return warning

    monkeypatch.setattr(tracking.LiveRun, "log_epoch", watched)
    out = tmp_path / "run"
    args = tiny_train_args(root, params, out, "--track", "--mlflow-uri", uri, "--set", "eval_dev_every_epoch=true")
    args[args.index("--epochs") + 1] = "2"
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert seen == [(1, "RUNNING", [1], True), (2, "RUNNING", [1, 2], True)]
    lines = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]  # under --quiet too
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: loss ") and lines[1].startswith("epoch 2/2: loss ")
    assert re.search(r"\| dev NER \d+\.\d\d RE \d+\.\d\d RE\+ \d+\.\d\d \(micro F1\)", lines[0]), lines[0]
    client = MlflowClient(uri)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.info.status == "FINISHED" and run.data.tags["erbench.logged"] == "true"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [1, 2]  # not twice
    metrics = json.loads((out / "metrics.json").read_text())
    trained = sum(h["seconds"] for h in metrics["history"])
    duration = (run.info.end_time - run.info.start_time) / 1000
    assert duration >= trained, f"MLflow shows {duration:.2f} s for {trained:.2f} s of training"
    assert run.info.start_time / 1000 <= metrics["history"][0]["time"] - metrics["history"][0]["seconds"]


def test_a_failed_training_is_marked_failed_and_the_grid_worker_logs_nothing(staged, tmp_path, monkeypatch):
    from erbench import runner
    from erbench.errors import UserInputError
    from mlflow.tracking import MlflowClient

    root, params = staged
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    def broken(*args, **kwargs):
        raise UserInputError("the data broke")

    monkeypatch.setattr(runner, "execute_run", broken)
    result = CliRunner().invoke(main, tiny_train_args(root, params, tmp_path / "run", "--track", "--mlflow-uri", uri))
    assert result.exit_code == 2
    client = MlflowClient(uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.status for r in runs] == ["FAILED"]
    monkeypatch.setenv("ERBENCH_NO_TRACKING", "1")  # `erbench grid run` workers: the driver logs afterwards
    other = f"sqlite:///{tmp_path / 'worker.db'}"
    CliRunner().invoke(main, tiny_train_args(root, params, tmp_path / "run2", "--track", "--mlflow-uri", other))
    assert not (tmp_path / "worker.db").exists()
