"""`erbench calibrate` (a finished run's thresholds tuned on dev, written as a new run folder) and
`erbench diagnose` (the entity-score distribution of a run's eval split)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import click
from erbench import runfolder
from erbench.cli._common import console, data_root_option, friendly_errors, params_option, warn
from erbench.errors import UserInputError
from erbench.params import read_params

SUFFIX = "+devthr"  # the calibrated run's method id: the original's with this suffix


def _check_data(run_dir: Path, recorded: dict, manifest: dict) -> None:
    """The staged files the run was trained and scored on must be the ones staged now."""
    for name, digest in (recorded or {}).items():
        now = manifest.get(name)
        if now != digest:
            raise UserInputError(f"{run_dir / runfolder.METRICS}: data file {name} had sha256 {str(digest)[:12]}, "
                                 f"the staged copy has {str(now)[:12]}; stage the run's data before calibrating it")


def calibrate_run(run_dir: Path, dev_split: str, data_root: Path, out: Path, *, force: bool = False,
                  allow_same_split: bool = False, device: str = "auto", custom: dict | None = None) -> dict:
    """Tune the checkpoint's thresholds on `dev_split`, re-decode its eval split, write run folder OUT."""
    from erbench.calibrate import edge_warning
    from erbench.datasets.registry import resolve
    from erbench.datasets.stage import load_split, staged_manifest
    from erbench.files import check_output_folder
    from erbench.models.encoder import encode_documents
    from erbench.runner import (
        decode_eval,
        load_checkpoint,
        protocol,
        run_identity,
        score_predictions,
        summary,
        threshold_split_check,
        tune_thresholds,
    )
    from erbench.train import RunData, pick_device, prediction_records

    run_dir = Path(run_dir)
    check_output_folder(out, force=force, kind="run")
    original = runfolder.read_metrics(run_dir)
    config = runfolder.read_config(run_dir)
    model, tokenizer, cfg, types, max_len = load_checkpoint(run_dir, device)
    target = pick_device(device)
    recorded = config.get("thresholds") or {}
    spec_values = recorded.get("spec") or {"entity": cfg.model.entity_threshold,
                                           "relation": cfg.model.rel_filter_threshold}
    choice_set = {**(cfg.choice_set or {}), "thresholds": "dev"}
    tuned = replace(cfg, dev_split=dev_split, choice=cfg.run_method + SUFFIX, choice_set=choice_set,
                    train=replace(cfg.train, thresholds="dev", thresholds_same_split=allow_same_split))
    spec = resolve(cfg.dataset, custom, data_root)
    _check_data(run_dir, (original.get("data") or {}).get("sha256"), staged_manifest(data_root, spec.name)["sha256"])
    train, _ = load_split(data_root, spec, spec.split_key(cfg.train_split, cfg.fold))
    evaluation, _ = load_split(data_root, spec, spec.split_key(cfg.eval_split, cfg.fold))
    dev, _ = load_split(data_root, spec, spec.split_key(dev_split, cfg.fold))
    data = RunData(types, train, evaluation, dev)
    warning = threshold_split_check(tuned, data, data_root, custom, option="erbench calibrate --dev-split")
    thresholds = tune_thresholds(model, tokenizer, dev, types, tuned, max_len, target, spec.custom,
                                 (spec_values["entity"], spec_values["relation"]))
    thresholds["same_split"] = bool(warning)
    model.options = replace(model.options, entity_threshold=thresholds["entity"],
                            rel_filter_threshold=thresholds["relation"])
    eval_enc, _ = encode_documents(tokenizer, evaluation, max_len, cfg.train.long_documents)
    predictions, diagnostics = decode_eval(model, eval_enc, tokenizer.pad_token_id, target, tuned, evaluation)
    metrics = score_predictions(evaluation, predictions, types, tuned)
    digest = hashlib.sha256((run_dir / runfolder.METRICS).read_bytes()).hexdigest()
    result = {**original, "run": run_identity(tuned), "protocol": protocol(tuned), "metrics": metrics,
              "thresholds": thresholds,
              "diagnostics": {**(original.get("diagnostics") or {}),
                              "entity_scores": {"split": cfg.eval_split, **diagnostics}},
              "warnings": [*(original.get("warnings") or []), *([warning] if warning else []),
                           *([edge] if (edge := edge_warning(thresholds)) else [])],
              "calibrated_from": {"path": str(run_dir), "metrics_sha256": digest, "dev_split": dev_split}}
    decoded = replace(tuned, model=model.options)
    new_config = {**config, "run": decoded.to_dict(),
                  "thresholds": {k: v for k, v in thresholds.items() if k != "dev_scores"}}
    from safetensors.torch import load_file

    env_file = run_dir / runfolder.ENVIRONMENT  # the training's steps and environment, unchanged
    runfolder.write_run_folder(out, metrics=result, config=new_config,
                               predictions=prediction_records(evaluation, predictions),
                               steps=runfolder.read_steps(run_dir), environment=runfolder.read_json(env_file)
                               if env_file.is_file() else {}, summary=summary(result, cfg.eval_split),
                               weights=load_file(str(runfolder.weights_path(run_dir))), force=force)
    return result


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dev-split", required=True, help="The split of the run's dataset the thresholds are tuned on.")
@data_root_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The new run folder (default: RUN_DIR-devthr); the original is never changed.")
@click.option("--force", is_flag=True, help="Replace an existing erbench run folder at OUT.")
@click.option("--allow-same-split", is_flag=True,
              help="Allow a dev split that is also the run's eval split (optimistic scores; recorded, warned).")
@click.option("--device", default="auto", show_default=True)
@params_option("A params file (data.custom datasets; tracking settings).")
@click.option("--track/--no-track", default=None,
              help="Log the calibrated run to MLflow (default: params tracking.enabled, else off).")
@click.option("--mlflow-uri", default=None, help="Tracking URI (else $MLFLOW_TRACKING_URI, params, sqlite:///mlflow.db).")
@friendly_errors
def calibrate(run_dir, dev_split, data_root, out, force, allow_same_split, device, params_path, track,
              mlflow_uri) -> None:
    """Tune a finished run's entity and relation thresholds on DEV_SPLIT (one forward pass, joint grid:
    entity 0.05..0.95, relation 0.05..0.99; ties go to the method's values) and write the re-decoded
    eval split as a new run folder."""
    from erbench.calibrate import new_run_folder

    target = new_run_folder(run_dir, out, force)
    params = read_params(params_path)
    custom = params.data.custom
    result = calibrate_run(run_dir, dev_split, data_root, target, force=force, allow_same_split=allow_same_split,
                           device=device, custom=custom)
    for warning in result["warnings"]:
        warn(warning)
    t, split, m = result["thresholds"], result["protocol"]["eval_split"], result["metrics"]
    spec_scores = t["spec_scores"] or {}
    console.print(
        f"[bold]{result['run']['name']}[/] thresholds on {dev_split} ({t['metric']}, {t['search']} grid): "
        f"entity {t['spec']['entity']} -> {t['entity']}"
        + ("" if t["entity_searched"] else " (not used by these heads)")
        + f", relation {t['spec']['relation']} -> {t['relation']}; dev {t['metric']} "
        f"{spec_scores.get(t['metric'].split('/')[0], float('nan')):.2f} -> "
        f"{t['chosen_scores'][t['metric'].split('/')[0]]:.2f}  |  {split}: NER {m[f'{split}/ner/micro_f1']:.2f}  "
        f"RE {m[f'{split}/rel/micro_f1']:.2f}  RE+ {m[f'{split}/rel_strict/micro_f1']:.2f}  ->  {target}",
        highlight=False)
    if track if track is not None else params.tracking.enabled:  # as `erbench train` logs a run
        from erbench.tracking import log_run, resolve_uri

        uri = resolve_uri(mlflow_uri, params.tracking.uri)
        experiment = params.experiment_name()
        run_id = log_run(target, uri=uri, experiment=experiment,
                         extra_tags={"suite": params.suite, "erbench.calibrated_from": str(run_dir)})
        console.print(f"logged to MLflow ({uri}, experiment {experiment}): run {run_id}")


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default=None, help="Default: the run's eval split.")
@data_root_option
@click.option("--device", default="auto", show_default=True)
@params_option("A params file (for data.custom datasets).")
@friendly_errors
def diagnose(run_dir, split, data_root, device, params_path) -> None:
    """Print (JSON) the entity score (sigmoid(z_id), or 1 - p(no entity) for SpERT heads) on gold,
    near-miss and far spans of a split, from one forward pass of the run's checkpoint."""
    from erbench.calibrate import score_split, span_diagnostics
    from erbench.datasets.registry import resolve
    from erbench.datasets.stage import load_split
    from erbench.models.encoder import encode_documents
    from erbench.runner import load_checkpoint
    from erbench.train import pick_device

    model, tokenizer, cfg, _, max_len = load_checkpoint(run_dir, device)
    split = split or cfg.eval_split
    spec = resolve(cfg.dataset, read_params(params_path).data.custom, data_root)
    docs, _ = load_split(data_root, spec, spec.split_key(split, cfg.fold))
    encoded, _ = encode_documents(tokenizer, docs, max_len, cfg.train.long_documents)
    cache = score_split(model, encoded, tokenizer.pad_token_id, pick_device(device), cfg.train.eval_batch_size)
    click.echo(json.dumps({"run": str(run_dir), "split": split, **span_diagnostics(cache, docs)}, indent=1))
