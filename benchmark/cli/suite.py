"""`erbench suite list | show | use`."""

from __future__ import annotations

from pathlib import Path

import click
from erbench.cli._common import console, friendly_errors
from erbench.suites import available, suite_text, use_suite


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
@friendly_errors
def suite_show(name: str) -> None:
    """Print a suite's params."""
    click.echo(suite_text(name), nl=False)


@suite.command("use")
@click.argument("name")
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("params.yaml"),
              show_default=True)
@friendly_errors
def suite_use(name: str, params_path: Path) -> None:
    """Make suite NAME the pipeline's params (then run `dvc repro`)."""
    use_suite(name, params_path)
    console.print(f"params.yaml is now suite [bold]{name}[/]; run `dvc repro` (or `make repro`)")
