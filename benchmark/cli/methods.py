"""`erbench methods`: the registered methods and their options."""

from __future__ import annotations

from pathlib import Path

import click
from erbench.cli._common import friendly_errors
from erbench.params import read_params


@click.command()
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A params file whose methods_include files are loaded first.")
@friendly_errors
def methods(params_path: Path | None) -> None:
    """List the registered methods (built in, from entry points and from params methods_include)."""
    from erbench.models.registry import METHODS, load_plugins

    load_plugins(read_params(params_path).plugins())
    for method in METHODS.values():
        opts = ", ".join(f"{k}={v}" for k, v in method.options.items()) or "SpERT defaults"
        click.echo(f"{method.name}: {method.description}\n    {opts}")
