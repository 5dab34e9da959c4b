"""`erbench suite list | show | use`."""

from __future__ import annotations

from pathlib import Path

import click
from erbench.cli._common import console, friendly_errors
from erbench.suites import available, description, suite_text, use_suite


@click.group()
def suite() -> None:
    """List, show or switch the benchmark suite (params.yaml)."""


@suite.command("list")
def suite_list() -> None:
    """The suites in ./suites, a line each: name and description (the suite file's first comment)."""
    names = available()
    width = max((len(n) for n in names), default=0)
    for name in names:
        click.echo(f"{name:<{width}}  {description(name)}".rstrip())


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
@click.option("--force", is_flag=True, help="Replace a params file that matches no suite (one edited by hand).")
@friendly_errors
def suite_use(name: str, params_path: Path, force: bool) -> None:
    """Make suite NAME the pipeline's params (then run `dvc repro`); a params file that matches no suite is
    replaced only with --force."""
    use_suite(name, params_path, force=force)
    console.print(f"params.yaml is now suite [bold]{name}[/]; run `dvc repro` (or `make repro`)")
