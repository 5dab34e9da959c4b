"""The run folder has one owner: erbench.runfolder names, writes and reads its files."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch
from erbench import runfolder
from erbench.files import MARKER, OutputExists
from erbench.runfolder import RunError

ROOT = Path(__file__).resolve().parents[1]
NAMES = {*runfolder.TEXT_FILES, runfolder.WEIGHTS}


def write_toy(out: Path, **kw) -> Path:
    return runfolder.write_run_folder(
        out, metrics={"run": {"name": out.name}, "metrics": {"test/ner/micro_f1": 50.0}},
        config={"run": {"seed": 1}, "types": {}}, predictions=[{"tokens": ["ä"], "gold": {}, "pred": {}}],
        steps=[{"step": 1, "time": 0.5, "loss": 2.0}, {"step": 2, "time": 1.0, "loss": 1.5}],
        environment={"python": "3"}, summary={"ner_micro_f1": 50.0}, **kw)


def test_written_folder_reads_back(tmp_path) -> None:
    out = write_toy(tmp_path / "spert-x-s1", weights={"w": torch.ones(2)})
    assert sorted(p.name for p in out.iterdir()) == sorted({MARKER, *NAMES})
    assert runfolder.read_metrics(out)["metrics"] == {"test/ner/micro_f1": 50.0}
    assert runfolder.read_config(out) == {"run": {"seed": 1}, "types": {}}
    assert [s["loss"] for s in runfolder.read_steps(out)] == [2.0, 1.5]
    assert [rec for _, rec in runfolder.read_jsonl(out / runfolder.PREDICTIONS)][0]["tokens"] == ["ä"]
    assert runfolder.weights_path(out) == out / runfolder.WEIGHTS
    assert json.loads((out / runfolder.SUMMARY).read_text()) == {"ner_micro_f1": 50.0}


def test_refuses_to_replace_without_force_and_names_missing_parts(tmp_path) -> None:
    out = write_toy(tmp_path / "run")
    with pytest.raises(OutputExists):
        write_toy(out)
    write_toy(out, force=True)
    with pytest.raises(RunError, match=r"model\.safetensors: no model weights"):
        runfolder.weights_path(out)
    (out / runfolder.CONFIG).write_text("{not json")
    with pytest.raises(RunError, match=r"config\.json: malformed JSON at line 1"):
        runfolder.read_config(out)
    with pytest.raises(RunError, match=r"metrics\.json: no such file"):
        runfolder.read_metrics(tmp_path)
    assert runfolder.read_steps(tmp_path) == []


def test_no_other_module_spells_a_run_file_name() -> None:
    """Code names the files through runfolder's constants; only docstrings and comments spell them.
    (summary.json is also a report folder's file, so only the names no other folder uses are checked.)"""
    run_only = NAMES - {runfolder.SUMMARY}
    offenders = []
    for path in [*(ROOT / "benchmark").rglob("*.py"), *(ROOT / "models").rglob("*.py")]:
        if path.name == "runfolder.py" or path == ROOT / "benchmark" / "files.py":  # files: legacy folders
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if node.value in run_only or any(f"/{n}" in node.value for n in run_only):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not offenders, offenders
