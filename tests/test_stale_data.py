"""Issue 27 (2): a user's edited source file is never trained, evaluated or reported on stale; `erbench data
stage NAME` re-stages a dataset STAGED.json knows without --params. One tiny dataset, one tiny run."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from erbench.cli import main

from tests.conftest import tiny_train_args, write_tiny_dataset
from tests.test_robust import one_line_error


@pytest.fixture()
def edited(tmp_path, trained):
    """(data root, params, the edited train.json, a copy of the trained run): the tiny dataset staged, then
    its train.json edited by the user (one document dropped) without staging again."""
    params = write_tiny_dataset(tmp_path / "src")
    root = tmp_path / "data"
    result = CliRunner().invoke(main, ["--quiet", "data", "stage", "tiny", "--params", str(params),
                                       "--data-root", str(root)])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "spert-tiny-s1"
    shutil.copytree(trained, run)
    source = tmp_path / "src" / "train.json"
    docs = json.loads(source.read_text())
    source.write_text(json.dumps(docs[:-1]))
    return root, params, source, run


def test_train_evaluate_report_and_stats_stop_on_an_edited_source(edited, tmp_path) -> None:
    root, params, source, run = edited
    restage = f"erbench data stage tiny --data-root {root}"
    out = tmp_path / "runs" / "new"
    one_line_error(CliRunner().invoke(main, tiny_train_args(root, params, out)), str(source), "changed since",
                   restage)
    assert not out.exists()
    # known from STAGED.json alone (no --params): the same line
    args = tiny_train_args(root, params, out)
    args = args[:args.index("--params")]
    one_line_error(CliRunner().invoke(main, args), str(source), restage)
    one_line_error(CliRunner().invoke(main, ["--quiet", "evaluate", str(run), "--data-root", str(root),
                                             "--device", "cpu"]), str(source), restage)
    one_line_error(CliRunner().invoke(main, ["--quiet", "report", str(run.parent), "--out", str(tmp_path / "r"),
                                             "--aso-bootstrap", "0", "--ar-trials", "0", "--data-root", str(root)]),
                   str(source), restage)
    assert not (tmp_path / "r").exists()
    one_line_error(CliRunner().invoke(main, ["--quiet", "data", "stats", "tiny", "--data-root", str(root)]),
                   str(source))


def test_data_stage_without_params_restages_from_the_recorded_sources(edited) -> None:
    root, _, source, _ = edited
    before = json.loads((root / "raw" / "tiny" / "STAGED.json").read_text())
    result = CliRunner().invoke(main, ["--quiet", "data", "stage", "tiny", "--data-root", str(root)])
    assert result.exit_code == 0, result.output  # today: "unknown dataset 'tiny'"
    after = json.loads((root / "raw" / "tiny" / "STAGED.json").read_text())
    assert after["documents"]["train"] == before["documents"]["train"] - 1
    assert after["sha256"]["tiny_train.json"] != before["sha256"]["tiny_train.json"]
    assert after["custom"] == before["custom"]  # the declaration and its sources are kept
    assert (root / "raw" / "tiny" / "tiny_train.json").read_bytes() == source.read_bytes()
    result = CliRunner().invoke(main, ["--quiet", "data", "stats", "tiny", "--data-root", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["train"]["documents"] == after["documents"]["train"]


def test_a_source_that_no_longer_exists_is_not_checked(edited) -> None:
    """A data/raw copied to another machine (a cluster node) has no source files: the staged copy is used."""
    root, _, source, _ = edited
    shutil.rmtree(source.parent)
    result = CliRunner().invoke(main, ["--quiet", "data", "stats", "tiny", "--data-root", str(root), "--json"])
    assert result.exit_code == 0, result.output
