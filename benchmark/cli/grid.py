"""`erbench grid run`: the click group over `erbench.grid.driver.run_grid`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from erbench.cli._common import console, friendly_errors, is_quiet
from erbench.params import read_params


@click.group()
def grid() -> None:
    """Run dvc.yaml's train stages in parallel: on a Ray cluster, a local Ray, or local processes."""


@grid.command("run")
@click.option("--engine", type=click.Choice(["ray", "local"]), default="ray", show_default=True,
              help="ray: Ray tasks (a cluster with --address, else a Ray started on this machine); "
                   "local: processes on this machine.")
@click.option("--address", default=None, metavar="HOST:PORT",
              help="A running Ray cluster (`ray start --head` prints it); default: start a local Ray.")
@click.option("--gpus-per-run", type=float, default=None,
              help="GPUs per run (default: 1 on a cluster with GPUs, else 0; a cluster without GPUs runs on CPU).")
@click.option("--cpus-per-run", type=float, default=1, show_default=True,
              help="CPUs per run; also the run's torch threads.")
@click.option("--max-retries", type=int, default=3, show_default=True,
              help="Re-runs of a stage whose worker process or node died (a stage that fails is not retried).")
@click.option("--only", default=None, metavar="GLOB", help="Only stages whose name matches, e.g. 'train@conll04-*'.")
@click.option("--workers", type=int, default=None,
              help="Local engines: runs at a time (default: CPU cores / --cpus-per-run).")
@click.option("--weights/--no-weights", default=False, show_default=True,
              help="Bring back model.safetensors (when params save it) besides metrics, predictions and config.")
@click.option("--worker-root", default=None, metavar="PATH",
              help="Where the checkout is on the workers (default: this checkout's path).")
@click.option("--scratch", default=None, metavar="DIR",
              help="Node-local scratch folder on the workers (default: $TMPDIR).")
@click.option("--repro/--no-repro", default=True, show_default=True,
              help="Finish with `dvc repro` (only `report` is left) once no train stage is stale.")
@click.option("--commit-every", type=float, default=30.0, show_default=True,
              help="Seconds between `dvc commit`s of finished runs.")
@click.option("--save-records", is_flag=True, default=False,
              help="Also save each committed run's light record (no weights) to results/SUITE/ for committing to "
                   "git, as `erbench results save runs --params params.yaml` does.")
@click.pass_context
@friendly_errors
def grid_run(ctx, engine, address, gpus_per_run, cpus_per_run, max_retries, only, workers, weights, worker_root,
             scratch, repro, commit_every, save_records) -> None:
    """Submit every stale train stage of dvc.yaml, one task each; commit what finishes; then `dvc repro`."""
    from erbench.grid.driver import GridOptions, run_grid
    from erbench.grid.view import GridView

    root = Path.cwd()
    if not (root / "dvc.yaml").is_file():
        raise click.UsageError("run `erbench grid run` in the checkout's root (where dvc.yaml is)")
    params_file = root / "params.yaml"  # the file dvc.yaml's stages name; the driver logs with its tracking
    params = read_params(params_file if params_file.is_file() else None, sections=("suite", "tracking"))
    if save_records and not params.suite:
        raise click.UsageError("--save-records: params.yaml names no `suite` (the records go to results/SUITE)")
    records = Path("results") / params.suite if save_records else None
    opts = GridOptions(root, engine, address, cpus_per_run, gpus_per_run, max_retries, only, workers, weights,
                       worker_root, scratch, repro, commit_every, params, records)
    live = console.is_terminal and not is_quiet(ctx)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with GridView(console, live) as view:  # GridError, LockHeld, PipelineError: friendly_errors, exit 2
        summary = run_grid(opts, view)
        view.summary(summary)
    if summary.interrupted:
        sys.exit(130)
    if not summary.ok:
        sys.exit(1)
