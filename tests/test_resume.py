"""An interrupted training continues after its last finished epoch and writes the run an
uninterrupted training writes, bit for bit; a state that does not match the run is not used."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from erbench import resume
from erbench.cli import main
from erbench.datasets.registry import BUILTIN
from erbench.datasets.stage import stage_dataset
from erbench.datasets.synthetic import SyntheticConfig

EPOCHS = 6
TRAIN = [sys.executable, "-c", "from erbench.cli import main; main()", "--quiet", "train", "--dataset", "synthetic",
         "--method", "spert_mt", "--seed", "3", "--encoder", "tiny-random", "--epochs", str(EPOCHS),
         "--set", "threads=1", "--set", "device=cpu", "--set", "batch_size=4", "--set", "neg_entity_count=20",
         "--set", "lr=1e-3", "--set", "log_every=5", "--set", "eval_dev_every_epoch=true"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "ERBENCH_NO_TRACKING": "1"}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume") / "data"
    stage_dataset(BUILTIN["synthetic"], root, synthetic=SyntheticConfig(train_size=18, dev_size=4, test_size=6))
    return root


def train(root: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*TRAIN, "--data-root", str(root), "--out", str(out), *extra], env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def saved_epoch(out: Path) -> int:
    return resume.saved_epoch(resume.state_folder(out))


def kill_after(root: Path, out: Path, epoch: int, *extra: str) -> int:
    """Start a training, SIGKILL it once it has saved `epoch` (as a machine going down would); -> the saved epoch."""
    proc = subprocess.Popen([*TRAIN, "--data-root", str(root), "--out", str(out), *extra], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while saved_epoch(out) < epoch and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the training ended before it could be interrupted"
    reached = saved_epoch(out)
    assert epoch <= reached < EPOCHS
    assert not (out / "metrics.json").exists()
    return reached


def run_files(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    return {
        "weights": (folder / "model.safetensors").read_bytes(),
        "predictions": (folder / "predictions.jsonl").read_bytes(),
        "metrics": metrics["metrics"],
        "history": [{k: v for k, v in r.items() if k.startswith(("train/", "dev/"))} for r in metrics["history"]],
        "steps": [{k: v for k, v in json.loads(line).items() if k not in ("time", "seconds")}
                  for line in (folder / "steps.jsonl").read_text().splitlines()],
        "resumed": metrics["timing"]["resumed_after_epochs"],
    }


@pytest.mark.slow
def test_a_killed_training_resumes_and_writes_the_uninterrupted_run(data_root: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    train(data_root, whole, "--set", "save_weights=true")
    assert not (tmp_path / resume.FOLDER).exists()  # an uninterrupted run leaves no state behind

    cut = tmp_path / "cut"
    first = kill_after(data_root, cut, 2, "--set", "save_weights=true")
    second = kill_after(data_root, cut, first + 2, "--set", "save_weights=true")  # interrupted twice
    done = train(data_root, cut, "--set", "save_weights=true")
    assert f"resume: continuing after epoch {second}" in done.stderr

    a, b = run_files(whole), run_files(cut)
    assert a["resumed"] == [] and b["resumed"] == [first, second]
    assert len(b["history"]) == EPOCHS and b["steps"] and a["steps"] == b["steps"]
    for key in ("metrics", "history", "predictions", "weights"):
        assert a[key] == b[key], key
    assert not resume.state_folder(cut).exists() and not (tmp_path / resume.FOLDER).exists()


class Interrupted(Exception):
    pass


def in_process_run(root: Path, out: Path, *, epochs: int = 3, stop_after: int | None = None,
                   resume_mode: bool | None = True) -> tuple[dict | None, list[str]]:
    """execute_run as `erbench train` calls it; `stop_after`: raise out of the training after that epoch."""
    from erbench.cli.train import build_run_config
    from erbench.params import read_params
    from erbench.runner import execute_run

    sets = ("threads=1", "device=cpu", "batch_size=4", "neg_entity_count=20", "lr=1e-3")
    cfg = build_run_config("synthetic", "spert_mt", 3, None, None, None, None, "tiny-random", epochs, sets,
                           read_params(None), root)

    def on_epoch(epoch: int, record: dict) -> None:
        if epoch == stop_after:
            raise Interrupted

    lines: list[str] = []
    try:
        result = execute_run(cfg, root, out, on_epoch=on_epoch, resume=resume_mode, say=lines.append)
    except Interrupted:
        result = None
    return result, lines


@pytest.mark.usefixtures("one_thread")
def test_a_state_of_another_configuration_or_no_resume_starts_over(data_root: Path, tmp_path: Path,
                                                                     monkeypatch) -> None:
    out = tmp_path / "run"
    assert in_process_run(data_root, out, stop_after=1)[0] is None
    assert (resume.state_folder(out) / resume.STATE).is_file() and not out.exists()
    result, lines = in_process_run(data_root, out, epochs=4)  # another run for the same folder
    assert len(lines) == 1 and "not continuing from" in lines[0] and "train.epochs" in lines[0], lines
    assert result["timing"]["resumed_after_epochs"] == [] and len(result["history"]) == 4

    other = tmp_path / "other"
    in_process_run(data_root, other, stop_after=2)
    result, lines = in_process_run(data_root, other, resume_mode=False)
    assert len(lines) == 1 and "--no-resume" in lines[0]
    assert result["timing"]["resumed_after_epochs"] == []
    assert not (tmp_path / resume.FOLDER).exists()

    kept = tmp_path / "elsewhere" / "state"  # --resume-dir: the state where it is asked to be
    seen: list[Path] = []
    monkeypatch.setattr(resume.Resumer, "save", lambda self, state: seen.append(self.folder))
    args = [a for a in TRAIN[3:] if a != str(EPOCHS)]
    args[args.index("--epochs")] = "--epochs=1"
    done = CliRunner().invoke(main, [*args, "--data-root", str(data_root), "--out", str(tmp_path / "fourth"),
                                     "--resume-dir", str(kept)])
    assert done.exit_code == 0, done.output
    assert seen == [kept] and not (tmp_path / resume.FOLDER).exists()

    third = tmp_path / "third"  # a library call without resume neither saves nor reads a state
    in_process_run(data_root, third, stop_after=1, resume_mode=None)
    assert not (tmp_path / resume.FOLDER).exists()


@pytest.mark.usefixtures("one_thread")
def test_resuming_after_the_last_epoch_only_evaluates(data_root: Path, tmp_path: Path) -> None:
    whole, _ = in_process_run(data_root, tmp_path / "whole", resume_mode=None)
    out = tmp_path / "cut"
    assert in_process_run(data_root, out, stop_after=3)[0] is None  # killed after its state, before its folder
    result, lines = in_process_run(data_root, out)
    assert lines == [f"resume: continuing after epoch 3 (state at {resume.state_folder(out)})"]
    assert result["timing"]["resumed_after_epochs"] == [3]
    assert result["metrics"] == whole["metrics"]
    assert [r["train/loss"] for r in result["history"]] == [r["train/loss"] for r in whole["history"]]


def fake_state(epoch: int = 4) -> resume.EpochState:
    return resume.EpochState(epoch, {"w": torch.ones(2)}, {"state": {}}, {"last_epoch": 8}, {"torch": torch.zeros(3)},
                             {"history": [{"epoch": 1, "train/loss": 0.5}]})


def test_the_fingerprint_names_what_differs(tmp_path: Path) -> None:
    base = resume.fingerprint({"seed": 1, "train": {"lr": 5e-5, "epochs": 20}}, {"train.json": "ab"}, "cpu")
    resume.Resumer(tmp_path, base).save(fake_state())
    lines: list[str] = []
    assert resume.Resumer(tmp_path, base, say=lines.append).load().epoch == 4
    assert lines == [f"resume: continuing after epoch 4 (state at {tmp_path})"]
    changes = {
        "the run configuration differs (train.lr)": {**base, "config": {**base["config"],
                                                                        "train": {"lr": 1e-4, "epochs": 20}}},
        "the code changed since": {**base, "code": "0" * 64},
        "the data changed since": {**base, "data": {"train.json": "cd"}},
        "the thread count differs (": {**base, "threads": base["threads"] + 1},
    }
    for why, other in changes.items():
        lines = []
        assert resume.Resumer(tmp_path, other, say=lines.append).load() is None
        assert len(lines) == 1 and why in lines[0] and "epoch 1" in lines[0], lines
    (tmp_path / resume.FINGERPRINT).write_text("{not json")
    lines = []
    assert resume.Resumer(tmp_path, base, say=lines.append).load() is None
    assert "unreadable" in lines[0]


def test_the_digest_covers_what_the_train_stages_depend_on_and_nothing_else() -> None:
    import yaml

    root = Path(__file__).resolve().parents[1]
    deps = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train"]["deps"]
    code = {d.removeprefix("benchmark/") if d.startswith("benchmark/") else d for d in deps
            if d.startswith(("benchmark/", "models"))}
    assert code == {*resume.TRAINING_SOURCES, "models"}
    names = {name for name, _ in resume.training_files()}
    assert "train.py" in names and "models/spert.py" in names and "datasets/load.py" in names
    assert not any(n.startswith(("grid/", "report/", "stats/")) for n in names)


def test_the_fingerprint_covers_the_code_and_plugin_files(tmp_path: Path) -> None:
    plugin = tmp_path / "my_method.py"
    plugin.write_text("X = 1\n")
    before = resume.code_digest((str(plugin),))
    plugin.write_text("X = 2\n")
    assert resume.code_digest((str(plugin),)) != before
    assert resume.code_digest() == resume.code_digest()


def test_clear_removes_only_this_runs_state(tmp_path: Path) -> None:
    mark = resume.fingerprint({"seed": 1}, {}, "cpu")
    mine, theirs = resume.state_folder(tmp_path / "a"), resume.state_folder(tmp_path / "b")
    own = tmp_path / "mine" / "state"  # a --resume-dir: its parent is not erbench's to remove
    resume.Resumer(own, mark).save(fake_state())
    resume.Resumer(own, mark).clear()
    assert not own.exists() and own.parent.is_dir()
    for folder in (mine, theirs):
        resume.Resumer(folder, mark).save(fake_state())
    (mine / f".{resume.STATE}.12345.tmp").write_bytes(b"half a state")  # a save that a kill cut short
    resume.Resumer(mine, mark).clear()
    assert not mine.exists() and (theirs / resume.STATE).is_file()
    resume.Resumer(theirs, mark).clear()
    assert not (tmp_path / resume.FOLDER).exists()
