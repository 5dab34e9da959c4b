"""The `erbench` command line: a thin click group over plain functions.

One module per command group; each parses options, builds config objects and calls one library
function. `_common` holds what they share (console, --quiet, the error boundary, the params reader).
Bad input ends with a one-line error naming what and where, and exit status 2.
"""

from __future__ import annotations

from erbench.runtime import set_process_policy

set_process_policy()  # before anything imports torch: OpenMP reads its wait policy once, when it loads

import click  # noqa: E402
from erbench.cli import bench, calibrate, checkpoint, data, grid, methods, records, report, suite, train  # noqa: E402
from erbench.cli._common import is_quiet, quiet_third_party  # noqa: E402


class QuietAnywhere(click.Group):
    """`--quiet` is the root's option but may be given anywhere on the line (`erbench train ... --quiet`):
    it is moved in front of the subcommand before parsing (not after a `--`)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        if "--quiet" in args[1:end]:
            args = ["--quiet", *(a for a in args[:end] if a != "--quiet"), *args[end:]]
        return super().parse_args(ctx, args)


@click.group(cls=QuietAnywhere)
@click.option("--quiet", is_flag=True, help="No progress bars (also when CI=true); may be given after the "
                                            "subcommand too.")
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
