"""`erbench results readme`: README's results section written from a report's files, only between its
markers, with the report's own numbers. The report is made by the real report code from hand-built runs
(tests/test_report.py's CoNLL04 and ADE runs, plus a declared choice for the sensitivity section)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from erbench.readme import BEGIN, END, split_sections
from erbench.report import build_report

from tests.test_report import CONLL, CONLL_DOCS, CONLL_TYPES, FAST, make_runs, write_run

OUTSIDE_BEFORE = "# my project\n\nHand-written text, kept byte for byte.\n\n## Results\n\n"
OUTSIDE_AFTER = "\n## Later\n\nMore hand-written text.\n"
TRAIN_MIN = 30.5


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    runs = make_runs(tmp_path_factory.mktemp("runs"))
    for seed, scores in CONLL["spert_mt"].items():  # a declared choice: the interpretation sensitivity section
        run = write_run(runs, "conll04", "mine", seed, None, tuple(v + 0.25 * seed for v in scores), CONLL_DOCS,
                        CONLL_TYPES, good=True, folder=f"choices/mine-conll04-s{seed}")
        metrics = json.loads((run / "metrics.json").read_text())
        metrics["protocol"].update(choice="mine", base_method="spert_mt", choice_set={"mt_decision": "product"})
        (run / "metrics.json").write_text(json.dumps(metrics))
    for metrics in sorted(runs.rglob("metrics.json")):
        if not any(p.startswith(".") for p in metrics.relative_to(runs).parts):
            (metrics.parent / "summary.json").write_text(json.dumps({"train_min": TRAIN_MIN}))
            (metrics.parent / "environment.json").write_text(json.dumps({"cpu": "Test CPU @ 2 GHz"}))
    out = tmp_path_factory.mktemp("report")
    build_report([runs], out, git_commit="abc1234", **FAST)
    return out


def _readme(tmp_path: Path, inside: str = "old text\n") -> Path:
    path = tmp_path / "README.md"
    path.write_text(OUTSIDE_BEFORE + BEGIN + "\n" + inside + END + OUTSIDE_AFTER)
    return path


def _run(report: Path, readme: Path, *extra: str):
    from erbench.cli import main

    return CliRunner().invoke(main, ["results", "readme", "--report", str(report), "--readme", str(readme),
                                     "--suite", "study-cpu", *extra])


def _table(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if line.startswith("| Method |"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    return lines[start:end]


def test_rewrites_only_between_the_markers(report_dir, tmp_path):
    readme = _readme(tmp_path)
    result = _run(report_dir, readme)
    assert result.exit_code == 0, result.output
    text = readme.read_text()
    assert text.startswith(OUTSIDE_BEFORE + BEGIN + "\n") and text.endswith(END + OUTSIDE_AFTER)
    assert "old text" not in text
    first = text
    assert _run(report_dir, readme).exit_code == 0 and readme.read_text() == first  # idempotent


def test_its_numbers_are_the_reports(report_dir, tmp_path):
    readme = _readme(tmp_path)
    assert _run(report_dir, readme).exit_code == 0
    inside = readme.read_text().split(BEGIN + "\n", 1)[1].split(END, 1)[0].splitlines()
    report_md = (report_dir / "results.md").read_text().splitlines()
    assert _table(inside) == _table(report_md)  # the table, row for row
    stats = json.loads((report_dir / "stats.json").read_text())
    rows = {line.split(" | ")[0].strip("| "): line for line in _table(inside)[2:]}
    names = {"spert": "SpERT", "spert_mt": "SpERT.MT", "spert_focal": "SpERT + focal", "mine": "mine"}
    for summary in stats["summaries"]:
        assert f"{summary['mean']:.2f}" in rows[names[summary["method"]]], summary
    _, sections = split_sections("\n".join(inside))
    assert "Interpretation sensitivity" not in sections  # one level down under README's own heading
    assert "### Interpretation sensitivity" in inside
    sensitivity = (report_dir / "results.md").read_text().split("## Interpretation sensitivity", 1)[1]
    assert sensitivity.split("\n## ")[0].strip() in "\n".join(inside)
    header = next(line for line in inside if line)
    assert "suite `study-cpu`" in header and "commit `abc1234`" in header
    n_runs = sum(1 for r in stats["runs"] if r["in_table"])
    assert f"{n_runs} runs in the tables" in header
    assert f"{n_runs * TRAIN_MIN / 60:.1f} run-hours" in header and "Test CPU @ 2 GHz" in header


def test_a_readme_without_markers_is_refused_and_left_alone(report_dir, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n" + BEGIN + "\n")
    result = _run(report_dir, readme)
    assert result.exit_code == 2 and "marker" in result.output and str(readme) in result.output
    assert readme.read_text() == "# no markers\n" + BEGIN + "\n"


def test_the_suite_must_be_named_and_the_report_must_exist(report_dir, tmp_path):
    from erbench.cli import main

    readme = _readme(tmp_path)
    result = CliRunner().invoke(main, ["results", "readme", "--report", str(report_dir), "--readme", str(readme)])
    assert result.exit_code == 2 and "suite" in result.output
    result = _run(tmp_path / "nothing", readme)
    assert result.exit_code == 2 and "results.md" in result.output
    assert "old text" in readme.read_text()


def test_the_projects_readme_has_the_markers_once():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1 and text.index(BEGIN) < text.index(END)
