"""Run records (erbench.records, `erbench results save`): the light part of finished runs, kept in the
repository; a report from the records equals the report from the run folders.

Two tiny runs are trained by `erbench train` (tiny random BERT, the tiny staged dataset), saved to a
results folder, and reported from both places.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from erbench.records import REQUIRED, finished_runs, save_records

from tests.conftest import tiny_train_args

METHODS = ("spert", "spert_mt")


@pytest.fixture(scope="module")
def two_runs(staged, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(data root, params, runs folder) with spert-tiny-s1 and spert_mt-tiny-s1 trained by `erbench train`."""
    from erbench.cli import main

    root, params = staged
    runs = tmp_path_factory.mktemp("study") / "runs"
    for method in METHODS:
        out = runs / f"{method}-tiny-s1"
        result = CliRunner().invoke(main, tiny_train_args(root, params, out, "--method", method,
                                                          "--set", "save_weights=true"))
        assert result.exit_code == 0, result.output
        assert (out / "model.safetensors").is_file()  # the weights exist, and must not travel
    return root, params, runs


def _invoke(*args: str):
    from erbench.cli import main

    return CliRunner().invoke(main, list(args))


def _save(runs: Path, dest: Path, *extra: str):
    return _invoke("results", "save", str(runs), "--suite", "tiny-suite", "--to", str(dest), *extra)


def test_save_copies_the_light_part_and_never_the_weights(two_runs, tmp_path):
    _, _, runs = two_runs
    result = _save(runs, tmp_path / "results")
    assert result.exit_code == 0, result.output
    assert "saved: 2 record(s)" in result.output
    for method in METHODS:
        run, record = runs / f"{method}-tiny-s1", tmp_path / "results" / "tiny-suite" / f"{method}-tiny-s1"
        names = {p.name for p in record.iterdir() if not p.name.startswith(".")}
        assert names == {*REQUIRED, "steps.jsonl"}  # the step log too; no model.safetensors
        for name in names:
            assert (record / name).read_bytes() == (run / name).read_bytes(), name
    again = _save(runs, tmp_path / "results")  # repeatable while a grid runs: identical records stay
    assert again.exit_code == 0 and "unchanged: 2 record(s)" in again.output and "saved:" not in again.output


def test_a_differing_record_is_replaced_only_with_force(two_runs, tmp_path):
    _, _, runs = two_runs
    dest = tmp_path / "results"
    assert _save(runs, dest).exit_code == 0
    record = dest / "tiny-suite" / "spert-tiny-s1"
    (record / "summary.json").write_text("{}\n")
    refused = _save(runs, dest)
    assert refused.exit_code == 2
    assert f"{record} (summary.json)" in refused.output and "--force" in refused.output
    assert (record / "summary.json").read_text() == "{}\n"  # nothing written
    forced = _save(runs, dest, "--force")
    assert forced.exit_code == 0 and "replaced: 1 record(s)" in forced.output
    assert (record / "summary.json").read_bytes() == (runs / "spert-tiny-s1" / "summary.json").read_bytes()


def test_an_incomplete_run_folder_is_refused_naming_what_is_missing(two_runs, tmp_path):
    _, _, runs = two_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    (copy / "spert_mt-tiny-s1" / "environment.json").unlink()
    (copy / "spert_mt-tiny-s1" / "predictions.jsonl").unlink()
    result = _save(copy, tmp_path / "results")
    assert result.exit_code == 2
    assert "spert_mt-tiny-s1: not a complete run folder: missing environment.json, predictions.jsonl" in result.output
    assert not (tmp_path / "results").exists()  # the complete run was not saved either: nothing half-written


def test_a_folder_that_is_not_a_record_is_never_replaced(two_runs, tmp_path):
    _, _, runs = two_runs
    mine = tmp_path / "results" / "tiny-suite" / "spert-tiny-s1"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    result = _save(runs, tmp_path / "results", "--force")
    assert result.exit_code == 2 and "not a run record erbench wrote" in result.output
    assert (mine / "notes.txt").read_text() == "mine"


def test_save_with_params_takes_the_grid_and_lists_unfinished_runs(two_runs, tmp_path):
    _, _, runs = two_runs
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"suite": "tiny-grid", "grid": {"datasets": ["tiny"], "methods": [
        "spert", "spert_mt", "spert_cb"], "seeds": [1]}}))
    result = _invoke("results", "save", str(runs), "--params", str(params), "--to", str(tmp_path / "results"))
    assert result.exit_code == 0, result.output
    assert "saved: 2 record(s)" in result.output and "not finished" in result.output
    assert "spert_cb-tiny-s1" in result.output
    assert finished_runs(tmp_path / "results" / "tiny-grid") == ["spert-tiny-s1", "spert_mt-tiny-s1"]


def test_save_needs_a_suite_name(two_runs, tmp_path):
    _, _, runs = two_runs
    result = _invoke("results", "save", str(runs), "--to", str(tmp_path))
    assert result.exit_code == 2 and "--suite" in result.output


def _report(*args: str) -> dict:
    result = _invoke("--quiet", "report", *args, "--ar-trials", "200", "--aso-bootstrap", "0")
    assert result.exit_code == 0, result.output
    return result


def _without_paths(stats: dict) -> dict:
    stats = json.loads(json.dumps(stats))
    for run in stats["runs"]:
        run.pop("path")
    return stats


def test_the_report_from_records_equals_the_report_from_run_folders(two_runs, tmp_path):
    """A fresh clone has the records and no run folders: the numbers must not move."""
    root, _, runs = two_runs
    save_records(runs, tmp_path / "results" / "tiny-suite")
    _report(str(runs), "--out", str(tmp_path / "from_runs"), "--data-root", str(root))
    _report(str(tmp_path / "results" / "tiny-suite"), "--out", str(tmp_path / "from_records"),
            "--data-root", str(root))
    a, b = tmp_path / "from_runs", tmp_path / "from_records"
    stats_a, stats_b = (json.loads((d / "stats.json").read_text()) for d in (a, b))
    assert len(stats_a["runs"]) == 2 and stats_a["summaries"]
    assert stats_a.get("seen_unseen")  # the analyses that read predictions ran on both
    assert _without_paths(stats_a) == _without_paths(stats_b)
    for name in ("summary.json", "results.tex", "results.md", "plots/per_seed.csv", "plots/errors.csv"):
        assert (a / name).read_text() == (b / name).read_text(), name


def test_report_params_records_reads_another_suites_records(two_runs, tmp_path):
    """study-cpu's way: a params file whose grid trains nothing reads the saved records (report.records)."""
    root, _, runs = two_runs
    save_records(runs, tmp_path / "results" / "tiny-suite")
    params = tmp_path / "study.yaml"
    params.write_text(yaml.safe_dump({"suite": "study", "report": {
        "records": [str(tmp_path / "results" / "tiny-suite")], "ar_trials": 200, "aso_bootstrap": 0}}))
    _report(str(tmp_path / "no-runs-here"), "--params", str(params), "--out", str(tmp_path / "study"),
            "--data-root", str(root))
    _report(str(runs), "--out", str(tmp_path / "direct"), "--data-root", str(root))
    assert ((tmp_path / "study" / "summary.json").read_text() == (tmp_path / "direct" / "summary.json").read_text())
    params.write_text(yaml.safe_dump({"suite": "study", "report": {"records": [str(tmp_path / "nowhere")]}}))
    result = _invoke("report", "--params", str(params), "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and "report.records[0]" in result.output and "nowhere" in result.output
