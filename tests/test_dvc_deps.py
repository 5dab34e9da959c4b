"""Every module a dvc.yaml stage executes is a dependency of that stage, so DVC re-runs the stage when
code that can change its outputs changes (an untracked module means stale results reported as fresh).

A stage's command is `erbench [--quiet] COMMAND ...`; the modules it executes are those reachable in the
import graph (function-level imports included) from the command's module `erbench.cli.COMMAND`. The
group module `erbench.cli` (which imports every command to list them) is not followed. A few modules
cannot change any output; they are named below with the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.test_imports import import_graph, package_files

ROOT = Path(__file__).resolve().parents[1]

# modules that cannot change a stage's outputs
CANNOT_CHANGE_OUTPUTS = {
    "erbench.errors": "error types and their one-line messages",
    "erbench.progress": "progress bars and epoch lines on the terminal (read-only on the training)",
    "erbench.cli._common": "the console, the quiet flag, shared click options",
    "erbench.tracking": "MLflow logging while a run trains and after it is written (the store is not a stage output)",
    "erbench.lock": "the file lock the MLflow logging takes",
}

# `erbench COMMAND` -> the module that defines it
COMMANDS = {"train": "erbench.cli.train", "data": "erbench.cli.data", "report": "erbench.cli.report",
            "methods": "erbench.cli.methods"}


def executed_modules(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen and nxt != "erbench.cli":
                seen.add(nxt)
                todo.append(nxt)
    return seen


def stage_commands() -> list[tuple[str, str, list[str]]]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    out = []
    for name, stage in stages.items():
        words = [w for w in stage["cmd"].split() if w != "--quiet"]
        assert words[0] == "erbench", f"stage {name}: its command is not erbench: {stage['cmd']}"
        deps = [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]
        out.append((name, words[1], deps))
    return out


def covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == d.rstrip("/") or rel.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.fixture(scope="module")
def graph_and_files():
    files = package_files()
    if not all(path.is_relative_to(ROOT) for path in files.values()):
        pytest.skip("erbench is not installed from this checkout (editable install expected)")
    return import_graph(files, function_level=True), files


def test_every_stage_runs_a_known_command() -> None:
    assert {command for _, command, _ in stage_commands()} <= set(COMMANDS)


@pytest.mark.parametrize("stage, command, deps", stage_commands(), ids=[s for s, _, _ in stage_commands()])
def test_a_stage_depends_on_every_module_it_executes(graph_and_files, stage, command, deps) -> None:
    graph, files = graph_and_files
    modules = executed_modules(graph, COMMANDS[command]) - set(CANNOT_CHANGE_OUTPUTS)
    missing = sorted(files[m].relative_to(ROOT).as_posix() for m in modules if not covered(files[m], deps))
    assert not missing, f"dvc.yaml stage {stage} runs code it does not depend on: {missing}"


def test_the_check_sees_a_missing_module(graph_and_files) -> None:
    """The optimizer was once missing from the training stages' deps: the check must name it."""
    graph, files = graph_and_files
    modules = executed_modules(graph, "erbench.cli.train")
    assert "erbench.optim" in modules and "erbench.models.spert" in modules and "erbench.report" not in modules
    assert not covered(files["erbench.optim"], ["models", "benchmark/train.py"])
    assert covered(files["erbench.models.spert"], ["models"])
