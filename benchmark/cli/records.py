"""`erbench results save | readme`: keep finished runs' light records in the repository, and write the
README's results section from a report."""

from __future__ import annotations

from pathlib import Path

import click
from erbench import runfolder
from erbench.cli._common import console, friendly_errors, params_option, warn


@click.group()
def results() -> None:
    """Saved run records (results/SUITE/RUN) and the README's results section."""


@results.command("save")
@click.argument("runs_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"))
@params_option("Save exactly the params grid's runs (as dvc.yaml names them) that have finished; the suite's "
               "name is params `suite`.")
@click.option("--suite", default=None, help="The records' folder under --to (default: params `suite`).")
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Where the suites' record folders live.")
@click.option("--force", is_flag=True, help="Replace saved records that differ from their run folder.")
@friendly_errors
def save(runs_dir: Path, params_path: Path | None, suite: str | None, to: Path, force: bool) -> None:
    """Copy the light part of finished run folders below RUNS_DIR (config, metrics, summary, environment,
    predictions, step log; no weights) to TO/SUITE/RUN, for committing.

    A run folder missing one of these files is refused (naming it), and so is a saved record that differs
    from its run folder unless --force; identical records are left as they are, so the command can be
    repeated while a grid runs."""
    from erbench.config import ConfigError
    from erbench.params import read_params
    from erbench.records import save_records

    names = None
    if params_path is not None:
        params = read_params(params_path)
        suite = suite or params.suite or None
        names = params.run_folders()
    if not suite:
        raise ConfigError("--suite: name the suite the runs belong to (or give --params with a `suite`)")
    if "/" in suite or suite.startswith("."):
        raise ConfigError(f"--suite {suite}: expected a plain name such as conll04-cpu")
    dest = to / suite
    done = save_records(runs_dir, dest, names, force=force, skip_unfinished=names is not None)
    for label, items in (("saved", done.saved), ("replaced", done.replaced), ("unchanged", done.unchanged)):
        if items:
            console.print(f"{label}: {len(items)} record(s) in {dest}: {', '.join(items)}", highlight=False)
    if done.unfinished:
        console.print(f"[yellow]not finished[/] (no {runs_dir / 'RUN' / runfolder.METRICS} yet, not saved): "
                      f"{len(done.unfinished)} run(s) of the params grid: {', '.join(done.unfinished)}",
                      highlight=False)
    if not (done.saved or done.replaced or done.unchanged):
        warn(f"no finished run below {runs_dir}; nothing saved")


@results.command("readme")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"),
              show_default=True, help="The report folder `erbench report` wrote (results.md, stats.json).")
@click.option("--readme", type=click.Path(dir_okay=False, path_type=Path), default=Path("README.md"),
              show_default=True)
@params_option("The params the report was made with: the suite's name (params `suite`).")
@click.option("--suite", default=None, help="The suite that produced the runs (default: params `suite`).")
@friendly_errors
def readme(report_dir: Path, readme: Path, params_path: Path | None, suite: str | None) -> None:
    """Rewrite README's results section (between its erbench results markers) from a report: the result
    tables, the across-datasets verdict when the report has one, and the interpretation sensitivity, with
    the suite, the commit and the training time that produced them. Nothing outside the markers changes."""
    from erbench.params import read_params
    from erbench.readme import write_readme_results

    if suite is None and params_path is not None:
        suite = read_params(params_path).suite or None
    section = write_readme_results(readme, report_dir, suite=suite)
    console.print(f"wrote the results section of {readme} ({section.count(chr(10))} lines) from {report_dir}",
                  highlight=False)
