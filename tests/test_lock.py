"""requirements.lock: every dependency of pyproject.toml (extras included) pinned to one exact version,
torch as its CPU build, and the environment the tests run in installed from it (`make setup`)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+", body), f"not an exact pin: {line!r}"
        name, version = body.split("==")
        assert _norm(name) not in pins, f"{name} pinned twice"
        pins[_norm(name)] = version
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        reqs += [Requirement(r) for r in extra]
    return reqs


def test_lock_pins_every_declared_dependency_exactly():
    pins = _lock()
    assert len(pins) > 50  # the whole tree, not just the direct dependencies
    for req in _declared():
        name = _norm(req.name)
        assert name in pins, f"{req.name} (pyproject.toml) is missing from requirements.lock: run `make lock`"
        assert req.specifier.contains(Version(pins[name]), prereleases=True), \
            f"requirements.lock pins {req.name}=={pins[name]}, outside pyproject's {req}: run `make lock`"


def test_torch_is_the_cpu_build_and_no_cuda_wheels():
    pins = _lock()
    constraint = (ROOT / "torch-cpu.txt").read_text()
    assert f"torch=={pins['torch']}" in constraint and pins["torch"].endswith("+cpu")
    assert not [n for n in pins if n.startswith(("nvidia-", "triton"))]


def test_lock_records_how_it_was_made():
    head = LOCK.read_text().splitlines()[:2]
    assert "uv pip compile pyproject.toml" in head[1] and "--extra dev --extra cluster" in head[1]
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q -r $(LOCK)" in makefile and "uv pip compile pyproject.toml" in makefile
    assert "make lock" in (ROOT / "README.md").read_text()


def test_this_environment_is_the_locked_one():
    """`make setup` installs the lock, so the tests run on exactly its versions (a hand-made venv may not)."""
    pins = _lock()
    installed = {_norm(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}
    if installed.get("erbench") is None:
        pytest.skip("erbench is not installed")
    differ = {n: (v, installed.get(n)) for n, v in pins.items() if installed.get(n) != v}
    assert not differ, f"installed versions differ from requirements.lock (lock, installed): {differ}; `make setup`"
