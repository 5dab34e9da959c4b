"""The `erbench` command line: a thin click group over plain functions.

Every command turns its options into config objects and calls one function. Bad input ends
with a one-line error naming what and where, and exit status 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click
from erbench.config import ConfigError, RunConfig, TrainOptions, apply_overrides, split_overrides
from rich.console import Console

console = Console(stderr=True)
DATA_ROOT = Path("data")


def _quiet(ctx: click.Context) -> bool:
    return bool(ctx.find_root().obj.get("quiet")) or os.environ.get("CI", "").lower() == "true"


def quiet_third_party() -> None:
    """--quiet / CI=true: no progress bars or INFO lines from transformers, huggingface_hub, MLflow and
    alembic (also in subprocesses, through the environment); their warnings still reach stderr."""
    import logging

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("mlflow", "alembic", "transformers", "huggingface_hub", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if "transformers" in sys.modules:  # already imported: its progress switch was read at import time
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def friendly_errors(func):
    """Turn the project's input errors into one red line and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from erbench.datasets.load import DataError
        from erbench.datasets.stage import StageError
        from erbench.models.encoder import EncoderError, LongDocumentError

        try:
            return func(*args, **kwargs)
        except (ConfigError, DataError, StageError, LongDocumentError, EncoderError, FileNotFoundError,
                ValueError) as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: nothing half-written was left behind[/]")
            sys.exit(130)

    return wrapper


def load_params(path: Path | None) -> dict:
    """Read a params file only when one is named: a params.yaml that merely sits in the working
    directory never changes a run silently (dvc.yaml's stages pass `--params params.yaml`)."""
    import yaml

    if path is None:
        return {}
    try:
        params = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return params


@click.group()
@click.option("--quiet", is_flag=True, help="No progress bars (also when CI=true).")
@click.version_option(package_name="erbench")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """erbench: span-based joint entity and relation extraction, reproducibly benchmarked."""
    ctx.obj = {"quiet": quiet}
    if _quiet(ctx):
        quiet_third_party()


@main.group()
def data() -> None:
    """Stage datasets and describe them."""


@data.command("stage")
@click.argument("name")
@click.option("--mirror", type=click.Path(file_okay=False, path_type=Path),
              help="Local directory holding the files (NAME/FILE or FILE); else $ERBENCH_DATA_MIRROR, "
                   "params data.mirror, or the canonical URLs.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DATA_ROOT, show_default=True)
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="params.yaml with data.custom datasets and data.synthetic settings.")
@friendly_errors
def data_stage(name: str, mirror: Path | None, data_root: Path, params_path: Path | None) -> None:
    """Copy or download dataset NAME into DATA_ROOT/raw/NAME, verify sha256 and validate it."""
    from erbench.datasets.registry import resolve
    from erbench.datasets.stage import stage_dataset
    from erbench.datasets.synthetic import SyntheticConfig

    params = load_params(params_path).get("data", {}) or {}
    spec = resolve(name, params.get("custom"))  # a custom name that shadows a built-in is an error
    source = "--mirror"
    if mirror is None and os.environ.get("ERBENCH_DATA_MIRROR"):
        mirror, source = Path(os.environ["ERBENCH_DATA_MIRROR"]), "$ERBENCH_DATA_MIRROR"
    elif mirror is None and params.get("mirror"):
        mirror, source = Path(params["mirror"]), "params data.mirror"
    from erbench.config import from_dict

    synthetic = None
    if spec.generated:  # only the generated corpus reads data.synthetic
        synthetic = from_dict(SyntheticConfig, params.get("synthetic") or {}, "params data.synthetic")
    if mirror is not None and not mirror.is_dir() and not spec.generated:
        raise ConfigError(f"{source}: {mirror} is not a directory")
    target = stage_dataset(spec, data_root, mirror=mirror, synthetic=synthetic)
    manifest = json.loads((target / "STAGED.json").read_text())
    counts = ", ".join(f"{k} {v}" for k, v in manifest["documents"].items())
    console.print(f"staged [bold]{name}[/] into {target} from {manifest['origin']} (sha256 verified): {counts}",
                  soft_wrap=True, highlight=False)


@data.command("stats")
@click.argument("name")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DATA_ROOT, show_default=True)
@click.option("--max-span-size", type=int, default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@friendly_errors
def data_stats(name: str, data_root: Path, max_span_size: int, as_json: bool, params_path: Path | None) -> None:
    """Per-split counts, overlaps, wide entities, duplicate relations and negative:positive ratios."""
    from erbench.datasets.registry import resolve
    from erbench.datasets.stage import load_split
    from erbench.datasets.stats import render_stats, split_stats

    spec = resolve(name, (load_params(params_path).get("data", {}) or {}).get("custom"), data_root)
    result = {}
    for split in spec.splits:
        docs, types = load_split(data_root, spec, split)
        result[split] = split_stats(docs, types, max_span_size)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        render_stats(name, result, Console())


PROTOCOL_KEYS = {"train_split", "eval_split", "dev_split", "no_overlapping", "encoder"}


def build_run_config(dataset, method, seed, fold, train_split, eval_split, dev_split, encoder, epochs, sets,
                     params: dict, data_root: Path | None = None, choice: str | None = None) -> RunConfig:
    """RunConfig from the method registry, then params (`train`, `methods.M`, `protocol.D`), then flags and --set.

    Split flags left unset take the dataset's protocol from params (e.g. CoNLL04: train_dev -> test),
    else train -> test with per-epoch dev scores; `no_overlapping` defaults to the dataset's
    literature setting (ADE) and is always written to the run's config.
    """
    from erbench.config import from_dict
    from erbench.datasets.registry import resolve
    from erbench.models.registry import load_plugins, method_options

    load_plugins(params)  # params methods_include and the erbench.methods entry points, before any name is resolved
    spec = resolve(dataset, (params.get("data") or {}).get("custom"), data_root)
    overrides = split_overrides(sets)
    model_keys = set(RunConfig.__dataclass_fields__["model"].default_factory().__dataclass_fields__)
    train_keys = set(TrainOptions.__dataclass_fields__)
    choice_set = None
    if choice:  # params choices.variants.NAME: its method, and its overrides under the --set ones
        from erbench.choices import variant

        entry = variant(params, choice, method)
        method, choice_set = entry["method"], entry["set"]
        bad = sorted(set(choice_set) - model_keys - train_keys)
        if bad:
            raise ConfigError(f"params choices.variants.{choice}.set: unknown key '{bad[0]}' (model options: "
                              f"{', '.join(sorted(model_keys))}; train options: {', '.join(sorted(train_keys))})")
        overrides = {**choice_set, **overrides}
    if not method:
        raise ConfigError("--method: give a method (or --choice NAME of params choices.variants)")
    unknown = sorted(set(overrides) - model_keys - train_keys)
    if unknown:
        raise ConfigError(f"--set: unknown key '{unknown[0]}' (model options: {', '.join(sorted(model_keys))}; "
                          f"train options: {', '.join(sorted(train_keys))})")
    method_params = (params.get("methods") or {}).get(method) or {}
    options = method_options(method, method_params)
    options = apply_overrides(options, {k: v for k, v in overrides.items() if k in model_keys}, "--set")
    proto = (params.get("protocol") or {}).get(dataset) or {}
    bad = sorted(set(proto) - PROTOCOL_KEYS)
    if bad:
        valid = ", ".join(sorted(PROTOCOL_KEYS))
        raise ConfigError(f"params protocol.{dataset}: unknown key '{bad[0]}' (valid: {valid})")
    train = from_dict(TrainOptions, params.get("train") or {}, "params train")
    train_over = {k: v for k, v in overrides.items() if k in train_keys}
    if proto.get("encoder"):  # the papers use a different encoder per dataset
        train_over.setdefault("encoder", proto["encoder"])
    if encoder:
        train_over["encoder"] = encoder
    if epochs is not None:
        if epochs < 1:
            raise ConfigError(f"--epochs: must be >= 1, got {epochs}")
        train_over["epochs"] = epochs
    train = apply_overrides(train, train_over, "--set")
    train_split = train_split or proto.get("train_split", "train")
    eval_split = eval_split or proto.get("eval_split", "test")
    dev_split = dev_split or proto.get("dev_split", "none" if spec.folds else "dev")
    no_overlapping = proto.get("no_overlapping", spec.no_overlapping)
    if spec.folds and fold is None:
        raise ConfigError(f"--fold: dataset {dataset} has {spec.folds} folds; give --fold 0..{spec.folds - 1}")
    if dev_split in ("none", None):
        dev_split = None
    for split in (train_split, eval_split, dev_split):
        if split is not None:
            spec.split_key(split, fold)  # fails early, naming the dataset's splits
    return RunConfig(dataset, method, seed, fold, train_split, eval_split, dev_split, bool(no_overlapping),
                     options, train, choice=choice, choice_set=choice_set)


@main.command()
@click.option("--dataset", required=True, help="A staged dataset name (conll04, scierc, ade, synthetic, custom).")
@click.option("--fold", type=int, default=None, help="Fold index for k-fold datasets (ADE: 0..9).")
@click.option("--method", default=None, help="A registered method (see `erbench methods`).")
@click.option("--choice", default=None,
              help="A variant of params choices.variants (its method and option overrides; --set still wins).")
@click.option("--seed", type=int, required=True)
@click.option("--encoder", default=None, help="Encoder alias, local path or hub name (default: minilm).")
@click.option("--epochs", type=int, default=None)
@click.option("--train-split", default=None, help="Default: params protocol, else train.")
@click.option("--eval-split", default=None, help="Default: params protocol, else test.")
@click.option("--dev-split", default=None,
              help="Per-epoch dev scores; 'none' to skip. Default: params protocol, else dev.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a model or train option.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--force", is_flag=True, help="Replace an existing run folder at OUT (never a folder erbench did not "
                                           "write as a run folder).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DATA_ROOT, show_default=True)
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A params file (train options, methods.M overrides, protocol.D); none is read unless named.")
@click.option("--track/--no-track", default=None,
              help="Log the finished run to MLflow (default: params tracking.enabled, else off).")
@click.option("--mlflow-uri", default=None, help="Tracking URI (else $MLFLOW_TRACKING_URI, params, sqlite:///mlflow.db).")
@click.pass_context
@friendly_errors
def train(ctx, dataset, fold, method, choice, seed, encoder, epochs, train_split, eval_split, dev_split, sets, out,
          force, data_root, params_path, track, mlflow_uri) -> None:
    """Train one run and write OUT/metrics.json, predictions.jsonl, config.json, model.safetensors."""
    from erbench.files import check_output_folder
    from erbench.models.encoder import check_encoder
    from erbench.progress import Progress
    from erbench.runner import execute_run

    check_output_folder(out, force=force, kind="run")  # before the training, not after it
    params = load_params(params_path)
    cfg = build_run_config(dataset, method, seed, fold, train_split, eval_split, dev_split, encoder, epochs, sets,
                           params, data_root, choice=choice)
    check_encoder(cfg.train.encoder)
    with Progress(enabled=not _quiet(ctx)) as progress:
        result = execute_run(cfg, data_root, out, custom=(params.get("data") or {}).get("custom"),
                             progress=progress, force=force)
    for warning in result["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if result["thresholds"]["mode"] == "dev":
        thr = result["thresholds"]
        console.print(f"thresholds tuned on {cfg.dev_split} ({thr['metric']}): entity {thr['spec']['entity']} -> "
                      f"{thr['entity']}, relation {thr['spec']['relation']} -> {thr['relation']}", highlight=False)
    m, t = result["metrics"], result["timing"]
    split = cfg.eval_split
    console.print(
        f"[bold]{cfg.run_name}[/] {split}: NER {m[f'{split}/ner/micro_f1']:.2f}  RE {m[f'{split}/rel/micro_f1']:.2f}  "
        f"RE+ {m[f'{split}/rel_strict/micro_f1']:.2f} (micro F1)  |  {t['seconds_per_epoch']:.1f} s/epoch, "
        f"{t['train_sentences_per_s']:.1f} sent/s  ->  {out}", soft_wrap=True, highlight=False,
    )
    tracking = params.get("tracking") or {}
    no_tracking = os.environ.get("ERBENCH_NO_TRACKING") == "1"  # set by `erbench grid run` workers: the driver logs
    if (track if track is not None else bool(tracking.get("enabled", False))) and not no_tracking:
        from erbench.tracking import log_run, resolve_uri

        uri = resolve_uri(mlflow_uri, tracking.get("uri"))
        experiment = tracking.get("experiment") or params.get("suite") or "erbench"
        run_id = log_run(out, uri=uri, experiment=experiment, extra_tags={"suite": str(params.get("suite", ""))})
        console.print(f"logged to MLflow ({uri}, experiment {experiment}): run {run_id}")


@main.command()
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A params file whose methods_include files are loaded first.")
@friendly_errors
def methods(params_path: Path | None) -> None:
    """List the registered methods (built in, from entry points and from params methods_include)."""
    from erbench.models.registry import METHODS, load_plugins

    load_plugins(load_params(params_path))
    for method in METHODS.values():
        opts = ", ".join(f"{k}={v}" for k, v in method.options.items()) or "SpERT defaults"
        click.echo(f"{method.name}: {method.description}\n    {opts}")


from erbench.commands import register_commands  # noqa: E402

register_commands(main)
