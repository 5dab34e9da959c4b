"""`erbench train`: one run from the method registry, params and flags into a run folder."""

from __future__ import annotations

import os
from pathlib import Path

import click
from erbench.cli._common import console, data_root_option, friendly_errors, is_quiet, params_option
from erbench.config import ConfigError, RunConfig, TrainOptions, apply_overrides, split_overrides
from erbench.params import Params, Protocol, read_params


def build_run_config(dataset, method, seed, fold, train_split, eval_split, dev_split, encoder, epochs, sets,
                     params: Params, data_root: Path | None = None, choice: str | None = None) -> RunConfig:
    """RunConfig from the method registry, then params (`train`, `methods.M`, `protocol.D`), then flags and --set.

    Split flags left unset take the dataset's protocol from params (e.g. CoNLL04: train_dev -> test),
    else train -> test with per-epoch dev scores; `no_overlapping` defaults to the dataset's
    literature setting (ADE) and is always written to the run's config.
    """
    from erbench.datasets.registry import resolve
    from erbench.models.registry import load_plugins, method_options

    load_plugins(params.plugins())  # methods_include and the erbench.methods entry points, before any name
    spec = resolve(dataset, params.data.custom, data_root)
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
    options = method_options(method, params.method_overrides(method))
    options = apply_overrides(options, {k: v for k, v in overrides.items() if k in model_keys}, "--set")
    proto = params.protocol.get(dataset) or Protocol()
    train = params.train
    train_over = {k: v for k, v in overrides.items() if k in train_keys}
    if proto.encoder:  # the papers use a different encoder per dataset
        train_over.setdefault("encoder", proto.encoder)
    if encoder:
        train_over["encoder"] = encoder
    if epochs is not None:
        if epochs < 1:
            raise ConfigError(f"--epochs: must be >= 1, got {epochs}")
        train_over["epochs"] = epochs
    train = apply_overrides(train, train_over, "--set")
    train_split = train_split or proto.train_split or "train"
    eval_split = eval_split or proto.eval_split or "test"
    flag_dev, chosen_dev = dev_split, dev_split or proto.dev_split  # by the flag or the dataset's protocol
    # the default dev split is `dev` where the dataset has one; a dataset of one's own without it gets none
    dev_split = chosen_dev or ("none" if spec.folds or "dev" not in spec.splits else "dev")
    no_overlapping = spec.no_overlapping if proto.no_overlapping is None else proto.no_overlapping
    if spec.folds and fold is None:
        raise ConfigError(f"--fold: dataset {dataset} has {spec.folds} folds; give --fold 0..{spec.folds - 1}")
    if dev_split in ("none", None):
        dev_split = None
    for split in (train_split, eval_split):
        spec.split_key(split, fold)  # fails early, naming the dataset's splits
    if dev_split is not None:
        try:
            spec.split_key(dev_split, fold)
        except ConfigError as exc:
            where = "--dev-split" if flag_dev else f"params protocol.{dataset}.dev_split"
            raise ConfigError(f"{where} {dev_split}: {exc}; give --dev-split none (or params protocol.{dataset}."
                              "dev_split: none) to train without dev scores") from None
    include = tuple(str(Path(p).expanduser().resolve()) for p in params.methods_include)
    return RunConfig(dataset, method, seed, fold, train_split, eval_split, dev_split, bool(no_overlapping),
                     options, train, choice=choice, choice_set=choice_set, methods_include=include)


@click.command()
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
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue an interrupted training of the same run (same OUT, configuration, data and code) after "
                   "its last finished epoch; the state is saved after every epoch beside OUT, in .erbench-resume/, "
                   "and removed once OUT is written. --no-resume starts at epoch 1 and replaces a saved state.")
@click.option("--resume-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the training state is kept (default: beside OUT, .erbench-resume/NAME); `erbench grid run` "
                   "points it at the checkout's, so a grid's stage and `dvc repro` continue each other.")
@data_root_option
@params_option("A params file (train options, methods.M overrides, protocol.D); none is read unless named.")
@click.option("--track/--no-track", default=None,
              help="Log the run to MLflow: each epoch as it ends, then the finished run (default: params "
                   "tracking.enabled, else off).")
@click.option("--mlflow-uri", default=None, help="Tracking URI (else $MLFLOW_TRACKING_URI, params, sqlite:///mlflow.db).")
@click.pass_context
@friendly_errors
def train(ctx, dataset, fold, method, choice, seed, encoder, epochs, train_split, eval_split, dev_split, sets, out,
          force, resume, resume_dir, data_root, params_path, track, mlflow_uri) -> None:
    """Train one run and write OUT/metrics.json, predictions.jsonl, config.json, model.safetensors."""
    from erbench.files import check_output_folder
    from erbench.models.encoder import check_encoder
    from erbench.progress import Progress, epoch_line
    from erbench.runner import execute_run

    check_output_folder(out, force=force, kind="run")  # before the training, not after it
    params = read_params(params_path)
    cfg = build_run_config(dataset, method, seed, fold, train_split, eval_split, dev_split, encoder, epochs, sets,
                           params, data_root, choice=choice)
    check_encoder(cfg.train.encoder)
    no_tracking = os.environ.get("ERBENCH_NO_TRACKING") == "1"  # set by `erbench grid run` workers: the driver logs
    tracking = (track if track is not None else params.tracking.enabled) and not no_tracking
    live = None
    if tracking:  # opened now: the MLflow UI shows the run while it trains, each epoch as it ends
        from erbench.tracking import LiveRun, resolve_uri

        uri, experiment = resolve_uri(mlflow_uri, params.tracking.uri), params.experiment_name()
        live = LiveRun(uri, experiment, cfg.run_name, {"dataset": cfg.dataset, "method": cfg.method,
                                                        "seed": str(cfg.seed), "fold": str(cfg.fold),
                                                        "suite": params.suite})
    try:
        with Progress(enabled=not is_quiet(ctx)) as progress:
            def on_epoch(epoch: int, record: dict) -> None:  # reads the record only: the training is unchanged
                progress.say(epoch_line(epoch, cfg.train.epochs, record))
                if live is not None and (warning := live.log_epoch(epoch, record)):
                    progress.say(f"warning: {warning}")

            result = execute_run(cfg, data_root, out, custom=params.data.custom, progress=progress, force=force,
                                 resume=resume, resume_dir=resume_dir, on_epoch=on_epoch,
                                 say=lambda line: console.print(line, highlight=False, soft_wrap=True))
    except BaseException as exc:
        if live is not None:
            live.end("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        if not isinstance(exc, KeyboardInterrupt):
            raise
        from erbench.resume import saved_epoch, state_folder

        kept = resume_dir or state_folder(out)
        if epoch := saved_epoch(kept):
            console.print(f"[yellow]the training state after epoch {epoch} is kept in {kept}: the same "
                          "command continues from there (--no-resume starts at epoch 1)[/]", soft_wrap=True)
        raise
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
    if live is not None:
        from erbench.tracking import log_run

        run_id = log_run(out, uri=uri, experiment=experiment, extra_tags={"suite": params.suite}, live=live)
        console.print(f"logged to MLflow ({uri}, experiment {experiment}): run {run_id}")
