"""The wheel installs one top-level name, `erbench`; no source imports the folder names."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_built_wheel_installs_only_erbench(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("erbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"erbench"}, f"the wheel installs {sorted(top)}"
    assert "erbench/models/spert.py" in names and "erbench/cli/__init__.py" in names
    assert not any(n.startswith(("benchmark/", "models/")) for n in names)
    page = {f"erbench/report/templates/{f}" for f in ("report.html.j2", "report.css", "report.js")}
    assert page <= set(names), f"the report page's files are missing from the wheel: {sorted(page - set(names))}"


def test_no_source_imports_the_folder_names() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+(benchmark|models)\b", re.M)
    offenders = []
    for folder in ("benchmark", "models", "tests", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"import the installed name erbench, not the folder: {offenders}"


def test_static_tools_resolve_the_editable_install_to_the_checkout(tmp_path: Path) -> None:
    """mypy's own module finder, over this interpreter's site-packages (run from an empty folder, so only the
    installed package can answer), finds `erbench` in benchmark/ and `erbench.models` in models/: the
    editable install is a link tree (setuptools' strict mode), not an import hook static tools cannot read."""
    script = (
        "import sys\n"
        "from mypy.modulefinder import FindModuleCache, compute_search_paths\n"
        "from mypy.options import Options\n"
        "options = Options()\n"
        "options.python_executable = sys.executable\n"
        "cache = FindModuleCache(compute_search_paths([], options, '.'), None, options)\n"
        "for name in ('erbench', 'erbench.models', 'erbench.models.spert', 'erbench.cli.train'):\n"
        "    print(name, cache.find_module(name))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    expected = {"erbench": ROOT / "benchmark" / "__init__.py", "erbench.models": ROOT / "models" / "__init__.py",
                "erbench.models.spert": ROOT / "models" / "spert.py",
                "erbench.cli.train": ROOT / "benchmark" / "cli" / "train.py"}
    for name, path in expected.items():
        assert not found[name].startswith("ModuleNotFoundReason"), f"mypy cannot resolve {name}: {found[name]}"
        assert Path(found[name]).resolve() == path, f"{name} resolves to {found[name]}, not {path}"
