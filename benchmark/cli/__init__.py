"""The `erbench` command line: a thin click group over plain functions.

One module per command group; each parses options, builds config objects and calls one library
function. `_common` holds what they share (console, --quiet, the error boundary, the params reader).
Bad input ends with a one-line error naming what and where, and exit status 2.
"""

from __future__ import annotations

import click
from erbench.cli import bench, calibrate, checkpoint, data, grid, methods, records, report, suite, train
from erbench.cli._common import is_quiet, quiet_third_party


@click.group()
@click.option("--quiet", is_flag=True, help="No progress bars (also when CI=true).")
@click.version_option(package_name="erbench")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """erbench: span-based joint entity and relation extraction, reproducibly benchmarked."""
    ctx.obj = {"quiet": quiet}
    if is_quiet(ctx):
        quiet_third_party()


for command in (data.data, train.train, methods.methods, checkpoint.evaluate, checkpoint.predict, bench.bench,
                suite.suite, report.report, records.results, grid.grid, calibrate.calibrate, calibrate.diagnose):
    main.add_command(command)
