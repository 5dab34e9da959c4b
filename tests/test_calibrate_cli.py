"""`erbench train --set thresholds=dev` and `erbench calibrate` end to end (synthetic data, tiny encoder)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from erbench.calibrate import GRID, RELATION_GRID
from erbench.cli import main
from erbench.datasets.registry import BUILTIN
from erbench.datasets.stage import stage_dataset
from erbench.datasets.synthetic import SyntheticConfig

FAST = ["--encoder", "tiny-random", "--epochs", "1", "--set", "device=cpu", "--set", "threads=1",
        "--set", "neg_entity_count=10", "--set", "neg_relation_count=4", "--set", "lr=1e-3", "--no-track"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("calib") / "data"
    stage_dataset(BUILTIN["synthetic"], root, synthetic=SyntheticConfig(train_size=8, dev_size=4, test_size=4))
    return root


def train(data_root: Path, out: Path, *args: str):
    return CliRunner().invoke(main, ["--quiet", "train", "--dataset", "synthetic", "--seed", "1", *FAST,
                                     "--data-root", str(data_root), "--out", str(out), *args])


@pytest.mark.parametrize(("args", "message"), [
    (["--dev-split", "none"], "train option thresholds: dev: thresholds tuned on dev need a dev split"),
    (["--dev-split", "test"], "train option thresholds: dev: the dev split 'test' is the test split"),
    (["--eval-split", "dev"], "is also the evaluation split"),
])
def test_train_refuses_thresholds_on_a_missing_same_or_test_split(data_root, tmp_path, args, message):
    result = train(data_root, tmp_path / "run", "--method", "spert", "--set", "thresholds=dev", *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "run").exists()


def test_train_tunes_on_dev_and_records_it_everywhere(data_root, tmp_path):
    out = tmp_path / "run"
    result = train(data_root, out, "--method", "spert_mt", "--set", "thresholds=dev")
    assert result.exit_code == 0, result.output
    assert "thresholds tuned on dev (rel_strict/micro_f1): entity 0.5 -> " in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    thr = metrics["thresholds"]
    assert thr["mode"] == "dev" and thr["dev_split"] == "dev" and thr["spec"] == {"entity": 0.5, "relation": 0.4}
    assert thr["entity"] in GRID and thr["relation"] in RELATION_GRID
    assert thr["encoder_calls"] == 1  # 4 dev docs, batch 8
    assert len(thr["dev_scores"]) == (19 * 23 if thr["entity_searched"] else 23)
    best = max(r["headline"] for r in thr["dev_scores"])
    assert thr["chosen_scores"]["rel_strict"] == best
    assert metrics["protocol"]["thresholds"] == "dev"
    assert config["run"]["model"]["entity_threshold"] == thr["entity"]  # the eval split was decoded with them
    assert config["run"]["model"]["rel_filter_threshold"] == thr["relation"]
    assert config["thresholds"]["mode"] == "dev" and "dev_scores" not in config["thresholds"]
    diag = metrics["diagnostics"]["entity_scores"]
    assert diag["score"] == "sigmoid(z_id)" and diag["split"] == "test"
    assert all(sum(g["counts"]) == g["n"] for g in diag["groups"].values())


def test_calibrate_writes_a_new_run_folder_and_never_tunes_on_test(data_root, tmp_path):
    run = tmp_path / "spert_mt-synthetic-s1"  # train -> dev, as the interpretation study runs
    # spans of at most 3 words: an untrained model calls most spans entities at the grid's low end, and
    # the grid decodes every ordered pair of them
    result = train(data_root, run, "--method", "spert_mt", "--eval-split", "dev", "--set", "save_weights=true",
                   "--set", "max_span_size=3")
    assert result.exit_code == 0, result.output
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir()}

    def calibrate(*args: str):
        return CliRunner().invoke(main, ["calibrate", str(run), "--data-root", str(data_root), *args])

    refused = calibrate("--dev-split", "test")
    assert refused.exit_code == 2 and "erbench calibrate --dev-split: the dev split 'test' is the test split" \
        in refused.output
    refused = calibrate("--dev-split", "dev")
    assert refused.exit_code == 2 and "also the evaluation split" in refused.output
    refused = calibrate("--dev-split", "dev", "--allow-same-split", "--out", str(run))
    assert refused.exit_code == 2 and "never overwritten" in refused.output

    done = calibrate("--dev-split", "dev", "--allow-same-split")
    assert done.exit_code == 0, done.output
    assert "warning: thresholds tuned on 'dev' and scored on 'dev', the same split" in done.output
    new = tmp_path / "spert_mt-synthetic-s1-devthr"
    assert f"->  {new}" in done.output.replace("\n", "")
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir()} == before
    metrics = json.loads((new / "metrics.json").read_text())
    assert metrics["run"]["method"] == "spert_mt+devthr" and metrics["run"]["base_method"] == "spert_mt"
    assert metrics["protocol"]["thresholds"] == "dev" and metrics["protocol"]["choice"] == "spert_mt+devthr"
    assert metrics["thresholds"]["same_split"] is True and metrics["calibrated_from"]["path"] == str(run)
    assert any("optimistic" in w for w in metrics["warnings"])
    assert (new / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()
    original = json.loads((run / "metrics.json").read_text())
    if (metrics["thresholds"]["entity"], metrics["thresholds"]["relation"]) == (0.5, 0.4):
        assert metrics["metrics"] == original["metrics"]  # the same thresholds decode the same predictions
    again = calibrate("--dev-split", "dev", "--allow-same-split")
    assert again.exit_code == 2 and "folder exists and is not empty" in again.output
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracked = calibrate("--dev-split", "dev", "--allow-same-split", "--force", "--track", "--mlflow-uri", uri)
    assert tracked.exit_code == 0, tracked.output
    assert "logged to MLflow" in tracked.output
    from mlflow.tracking import MlflowClient

    (logged,) = MlflowClient(uri).search_runs([e.experiment_id for e in MlflowClient(uri).search_experiments()])
    assert logged.data.tags["mlflow.runName"] == metrics["run"]["name"]
    assert logged.data.tags["erbench.calibrated_from"] == str(run)
    assert logged.data.metrics["dev/ner/micro_f1"] == pytest.approx(metrics["metrics"]["dev/ner/micro_f1"])

    diag = CliRunner().invoke(main, ["diagnose", str(new), "--data-root", str(data_root)])
    assert diag.exit_code == 0, diag.output
    assert json.loads(diag.output)["groups"] == metrics["diagnostics"]["entity_scores"]["groups"]
