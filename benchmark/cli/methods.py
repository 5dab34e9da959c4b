"""`erbench methods`: the registered methods and their options."""

from __future__ import annotations

from pathlib import Path

import click
from erbench.cli._common import friendly_errors
from erbench.params import read_params


@click.command()
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A params file whose methods_include files are loaded first.")
@click.option("--digest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the plugins' digest (each methods_include file's sha256, each entry point's "
                   "distribution and version) to this JSON file instead of listing (dvc.yaml's plugins stage).")
@friendly_errors
def methods(params_path: Path | None, digest: Path | None) -> None:
    """List the registered methods (built in, from entry points and from params methods_include)."""
    from erbench.models.registry import METHODS, load_plugins, plugin_digest

    plugins = read_params(params_path).plugins()
    if digest is not None:
        from erbench.files import write_json_atomic

        write_json_atomic(digest, plugin_digest(plugins))
        return
    load_plugins(plugins)
    for method in METHODS.values():
        opts = ", ".join(f"{k}={v}" for k, v in method.options.items()) or "SpERT defaults"
        click.echo(f"{method.name}: {method.description}\n    {opts}")
