"""Suites: complete params files under `suites/`; `erbench suite use NAME` makes one params.yaml."""

from __future__ import annotations

from pathlib import Path

import click
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


@click.group()
def suite() -> None:
    """List, show or switch the benchmark suite (params.yaml)."""


@suite.command("list")
def suite_list() -> None:
    """Names of the suites in ./suites."""
    for name in available():
        click.echo(name)


@suite.command("show")
@click.argument("name")
def suite_show(name: str) -> None:
    """Print a suite's params."""
    from erbench.cli import friendly_errors

    friendly_errors(lambda: click.echo(suite_text(name), nl=False))()


@suite.command("use")
@click.argument("name")
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("params.yaml"),
              show_default=True)
def suite_use(name: str, params_path: Path) -> None:
    """Make suite NAME the pipeline's params (then run `dvc repro`)."""
    from erbench.cli import console, friendly_errors

    friendly_errors(use_suite)(name, params_path)
    console.print(f"params.yaml is now suite [bold]{name}[/]; run `dvc repro` (or `make repro`)")
