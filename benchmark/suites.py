"""Suites: complete params files under `suites/`; `erbench suite use NAME` makes one params.yaml."""

from __future__ import annotations

from pathlib import Path

from erbench.config import ConfigError
from erbench.files import write_text_atomic

SUITES_DIR = Path("suites")


def available(root: Path = SUITES_DIR) -> list[str]:
    return sorted(p.stem for p in Path(root).glob("*.yaml"))


def suite_text(name: str, root: Path = SUITES_DIR) -> str:
    path = Path(root) / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown suite '{name}' (known: {', '.join(available(root)) or 'none'}; looked in {root})")
    return path.read_text()


def use_suite(name: str, params: Path = Path("params.yaml"), root: Path = SUITES_DIR) -> Path:
    """Copy suites/NAME.yaml over params.yaml (atomically) after checking that it parses."""
    import yaml

    text = suite_text(name, root)
    parsed = yaml.safe_load(text)
    if not isinstance(parsed, dict) or parsed.get("suite") != name:
        raise ConfigError(f"{Path(root) / (name + '.yaml')}: expected a mapping with 'suite: {name}'")
    return write_text_atomic(params, text)
