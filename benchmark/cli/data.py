"""`erbench data stage` and `erbench data stats`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from erbench.cli._common import console, data_root_option, friendly_errors, params_option
from erbench.config import ConfigError
from erbench.params import read_params
from rich.console import Console


@click.group()
def data() -> None:
    """Stage datasets and describe them."""


@data.command("stage")
@click.argument("name")
@click.option("--mirror", type=click.Path(file_okay=False, path_type=Path),
              help="Local directory holding the files (NAME/FILE or FILE); else $ERBENCH_DATA_MIRROR, "
                   "params data.mirror, or the canonical URLs.")
@data_root_option
@params_option("params.yaml with data.custom datasets and data.synthetic settings.")
@friendly_errors
def data_stage(name: str, mirror: Path | None, data_root: Path, params_path: Path | None) -> None:
    """Copy or download dataset NAME into DATA_ROOT/raw/NAME, verify sha256 and validate it. A dataset of
    your own staged before is staged again from the source files its STAGED.json records (no --params)."""
    from erbench.datasets.registry import resolve, staged_custom
    from erbench.datasets.stage import stage_dataset

    data = read_params(params_path).data
    spec = resolve(name, data.custom, data_root)  # a custom name that shadows a built-in is an error
    if spec.custom is not None and name not in (data.custom or {}):  # known from its STAGED.json only
        spec = staged_custom(data_root, name, restage=True)
    source = "--mirror"
    if mirror is None and os.environ.get("ERBENCH_DATA_MIRROR"):
        mirror, source = Path(os.environ["ERBENCH_DATA_MIRROR"]), "$ERBENCH_DATA_MIRROR"
    elif mirror is None and data.mirror:
        mirror, source = Path(data.mirror), "params data.mirror"
    synthetic = data.synthetic if spec.generated else None  # only the generated corpus reads data.synthetic
    if mirror is not None and not mirror.is_dir() and not spec.generated:
        raise ConfigError(f"{source}: {mirror} is not a directory")
    target = stage_dataset(spec, data_root, mirror=mirror, synthetic=synthetic)
    manifest = json.loads((target / "STAGED.json").read_text())
    counts = ", ".join(f"{k} {v}" for k, v in manifest["documents"].items())
    console.print(f"staged [bold]{name}[/] into {target} from {manifest['origin']} (sha256 verified): {counts}",
                  soft_wrap=True, highlight=False)


@data.command("stats")
@click.argument("name")
@data_root_option
@click.option("--max-span-size", type=int, default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@params_option()
@friendly_errors
def data_stats(name: str, data_root: Path, max_span_size: int, as_json: bool, params_path: Path | None) -> None:
    """Per-split counts, overlaps, wide entities, duplicate relations and negative:positive ratios."""
    from erbench.datasets.registry import resolve
    from erbench.datasets.stage import load_split
    from erbench.datasets.stats import render_stats, split_stats

    spec = resolve(name, read_params(params_path).data.custom, data_root)
    result = {}
    for split in spec.splits:
        docs, types = load_split(data_root, spec, split)
        result[split] = split_stats(docs, types, max_span_size)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        render_stats(name, result, Console())
