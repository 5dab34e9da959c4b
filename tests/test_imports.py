"""The installed erbench package has no import cycles, and its leaf modules import nothing above them.

The graph is built with `ast` from the files the installed `erbench` and `erbench.models` come from.
An edge A -> B means that executing A imports B: `import B`, `from B import x`, `from B import submodule`
(an edge to B.submodule), and the `__init__` of each package on B's path that A is not inside of.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest


def package_files() -> dict[str, Path]:
    """Module name -> source file, for every module the installed erbench package holds (the checkout's
    file, where the strict editable install's link tree points)."""
    out = {}
    for package in ("erbench", "erbench.models"):
        root = Path(importlib.util.find_spec(package).submodule_search_locations[0])
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if package == "erbench" and parts[0] == "models":  # a folder named models inside the harness
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path.resolve()
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(body: list[ast.stmt]):
    """Import statements that run when the module is imported (not those inside functions or classes)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node.test):
            yield from module_level_imports(node.body)
            yield from module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from module_level_imports(block)
        elif isinstance(node, ast.With):
            yield from module_level_imports(node.body)


def all_imports(tree: ast.Module):
    """Every import statement, function-level ones included."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def import_graph(files: dict[str, Path], function_level: bool = False) -> dict[str, set[str]]:
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = all_imports(tree) if function_level else module_level_imports(tree.body)
        targets = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: resolved against the importing module's package
                    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        package = package.rpartition(".")[0]
                    base = f"{package}.{base}" if base else package
                wanted = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for target in wanted:
                while target and target not in files:  # erbench.x.attribute -> erbench.x
                    target = target.rpartition(".")[0]
                parts = target.split(".") if target else []
                for i in range(1, len(parts) + 1):  # each package __init__ on the way runs too
                    step = ".".join(parts[:i])
                    if step in files and step != name and not name.startswith(step + "."):
                        targets.add(step)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


@pytest.fixture(scope="module")
def files() -> dict[str, Path]:
    return package_files()


@pytest.fixture(scope="module")
def deferred(files) -> dict[str, set[str]]:
    """The graph with function-level imports too."""
    return import_graph(files, function_level=True)


def test_the_graph_sees_the_whole_package(files, deferred) -> None:
    graph = import_graph(files)
    assert {"erbench", "erbench.cli", "erbench.cli._common", "erbench.models.spert", "erbench.report.render"} <= set(
        files)
    assert "erbench.report.text" in graph["erbench.report.render"]  # from erbench.report.text import ...
    assert {"erbench.cli.train", "erbench.cli._common"} <= graph["erbench.cli"]  # from erbench.cli import train
    assert "erbench.lock" in graph["erbench.tracking"]
    assert {"erbench.report.collect", "erbench.report"} <= deferred["erbench.cli.report"]  # its package __init__ too


def test_find_cycle_reports_a_cycle_and_accepts_a_dag() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_cycle_among_module_level_imports(files) -> None:
    cycle = find_cycle(import_graph(files))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_cycle_even_through_function_level_imports(deferred) -> None:
    """A function-level import does not make a cycle acceptable: it only defers it."""
    cycle = find_cycle(deferred)
    assert cycle is None, "import cycle (through a function-level import): " + " -> ".join(cycle)


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_the_cli_helpers_reach_no_command(deferred) -> None:
    reached = reachable(deferred, "erbench.cli._common")
    assert not {m for m in reached if m.startswith("erbench.cli")}, sorted(reached)


@pytest.mark.parametrize("leaf, allowed", [("erbench.errors", set()), ("erbench.report.text", set()),
                                            ("erbench.lock", {"erbench.errors"})])
def test_leaf_modules_import_nothing_above_them(deferred, leaf, allowed) -> None:
    assert reachable(deferred, leaf) <= allowed
