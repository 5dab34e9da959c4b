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
