"""The `erbench` command line: a thin click group over plain functions.

One module per command group; each parses options, builds config objects and calls one library
function. `_common` holds what they share (console, --quiet, the error boundary, the params reader).
Bad input ends with a one-line error naming what and where, and exit status 2.
"""

from __future__ import annotations

from erbench.runtime import set_process_policy

set_process_policy()  # before anything imports torch: OpenMP reads its wait policy once, when it loads

import click  # noqa: E402
from erbench.cli import bench, calibrate, checkpoint, data, grid, methods, report, suite, train  # noqa: E402
from erbench.cli._common import is_quiet, quiet_third_party  # noqa: E402


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
                suite.suite, report.report, grid.grid, calibrate.calibrate, calibrate.diagnose):
    main.add_command(command)
