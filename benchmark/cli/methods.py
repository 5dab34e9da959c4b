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
                   "distribution and version) to this JSON file instead of listing (dvc.yaml's plugins stage, "
                   "which tracks params plugins_dir: an include file outside that folder is refused).")
@friendly_errors
def methods(params_path: Path | None, digest: Path | None) -> None:
    """List the registered methods (built in, from entry points and from params methods_include)."""
    from erbench.models.registry import METHODS, load_plugins, plugin_digest

    params = read_params(params_path)
    plugins = params.plugins()
    if digest is not None:
        from erbench.files import write_json_atomic

        source = params_path or Path("params.yaml")
        check_in_plugins_dir(plugins["methods_include"], params.plugins_dir, source)
        check_method_entries(params, source)
        write_json_atomic(digest, plugin_digest(plugins))
        return
    load_plugins(plugins)
    for method in METHODS.values():
        opts = ", ".join(f"{k}={v}" for k, v in method.options.items()) or "SpERT defaults"
        click.echo(f"{method.name}: {method.description}\n    {opts}")


def check_in_plugins_dir(include: list[str], plugins_dir: str, params_path: Path) -> None:
    """Under DVC only params plugins_dir is tracked (a stage cannot depend on a params list): an include
    file outside it would be edited without `dvc status` or `dvc repro` noticing. -> ConfigError naming it."""
    from erbench.config import ConfigError

    folder = Path(plugins_dir).expanduser().resolve()
    for raw in include:
        if not Path(raw).expanduser().resolve().is_relative_to(folder):
            raise ConfigError(f"{params_path}: methods_include: {raw} is outside plugins_dir ({plugins_dir}), the "
                              "only folder dvc.yaml's plugins stage tracks; move the file into it, or set plugins_dir "
                              "to the folder that holds it")


def check_method_entries(params, params_path: Path) -> None:
    """dvc.yaml's training stages read params `methods.<method>` for every method they train (grid, ablations,
    sweep); DVC stops at the first stage whose entry is missing, after the stages before it have trained.
    The plugins stage runs first, so it says so before anything trains. -> ConfigError naming the method."""
    from erbench.config import ConfigError

    stages = [("grid.methods", params.grid.methods, params.grid.datasets or params.grid.kfold_datasets),
              ("ablations.methods", params.ablations.methods, params.ablations.datasets),
              ("sweep.methods", params.sweep.methods, params.sweep.datasets)]
    for key, names, datasets in stages:
        for name in names if datasets else ():
            if name not in params.methods:
                raise ConfigError(f"{params_path}: methods: no entry for {name} (listed in {key}); dvc.yaml's "
                                  f"training stages read methods.{name}: add `  {name}: {{}}` under methods:")
