"""`erbench evaluate` and `erbench predict`: commands that work on a trained run folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click
from erbench import runfolder
from erbench.cli._common import console, data_root_option, friendly_errors, is_quiet, params_option, warn
from erbench.config import ConfigError, apply_overrides, split_overrides
from erbench.models.options import DECODING  # the options that only decide how scores become predictions
from erbench.params import read_params


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True, help="Split of the run's dataset to score.")
@data_root_option
@click.option("--device", default="auto", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the full metrics (JSON) to this file (refused when it exists, unless --force).")
@click.option("--json", "as_json", is_flag=True, help="Print the full metrics as JSON instead of the one summary line.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help=f"Decode with another value of a decoding option ({', '.join(DECODING)}); the weights "
                   "stay as trained.")
@click.option("--out-run", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the re-scored split as a new run folder, which `erbench report` compares like a "
                   "trained run: the run's training record, eval split SPLIT and, with --set, the variant "
                   "METHOD+KEY=VALUE,... (the original is never changed).")
@click.option("--force", is_flag=True, help="Replace an existing file at --out, or an existing erbench run folder at "
                                           "--out-run.")
@click.option("--allow-same-split", is_flag=True,
              help="--out-run on the split the run's thresholds were tuned on (optimistic scores; recorded, warned).")
@params_option()
@click.pass_context
@friendly_errors
def evaluate(ctx, run_dir: Path, split: str, data_root: Path, device: str, out: Path | None, as_json: bool, sets,
             out_run, force, allow_same_split, params_path) -> None:
    """Re-score the checkpoint in RUN_DIR on a split of its dataset and print one line: NER, RE and RE+
    micro F1. --json prints the flat metrics (`SPLIT/ner/micro_f1`, ...) and `decoding`, the decoding
    options used; --out writes them to a file."""
    from erbench.datasets.registry import resolve
    from erbench.datasets.stage import load_split
    from erbench.models.encoder import encode_documents
    from erbench.progress import Progress
    from erbench.runner import load_checkpoint, score_predictions
    from erbench.train import evaluate as run_eval
    from erbench.train import pick_device

    overrides = split_overrides(sets)
    other = sorted(set(overrides) - set(DECODING))
    if other:
        raise ConfigError(f"--set: '{other[0]}' is not a decoding option (evaluate re-decodes a trained model: "
                          f"{', '.join(DECODING)}); train a new run to change it")
    if out is not None:
        from erbench.files import check_output_file

        check_output_file(out, force=force)
    if out_run is not None:
        from erbench.files import check_output_folder

        target, source = Path(out_run).resolve(), Path(run_dir).resolve()
        if target == source:
            raise ConfigError(f"--out-run: {out_run} is the run folder being evaluated; the original is never "
                              "overwritten")
        if source in target.parents:
            raise ConfigError(f"--out-run: {out_run} lies inside the run folder {run_dir}; a report of that folder "
                              "would find both runs: write it beside the original")
        check_output_folder(out_run, force=force, kind="run", option="--out-run")
    model, tokenizer, cfg, types, max_len = load_checkpoint(run_dir, device)
    trained = cfg
    if overrides:
        model.options = apply_overrides(model.options, overrides, "--set")
        model.heads.check(model.options)
        cfg = replace(cfg, model=model.options)
    if model.options.cb_decision == "corrected" and model.cb_offsets is None:
        raise ConfigError(f"{Path(run_dir) / runfolder.METRICS}: records no class weights (data.class_weights and "
                          "data.class_counts), so cb_decision=corrected has nothing to undo")
    custom = read_params(params_path).data.custom
    spec = resolve(cfg.dataset, custom, data_root)
    docs, _ = load_split(data_root, spec, spec.split_key(split, cfg.fold))
    encoded, encoding = encode_documents(tokenizer, docs, max_len, cfg.train.long_documents)
    if encoding.warning(split):
        warn(encoding.warning(split))
    if out_run is not None:
        result = write_rescored_run(run_dir, out_run, model, tokenizer, trained, cfg, types, overrides, docs, encoded,
                                    encoding, split, data_root, spec, pick_device(device), force=force,
                                    allow_same_split=allow_same_split, progress_enabled=not is_quiet(ctx))
        for warning in result["rescored_from"]["warnings"]:
            warn(warning)
        metrics = dict(result["metrics"])
        console.print(f"wrote run {result['run']['name']} ({result['run']['method']}, {split}) to {out_run}",
                      highlight=False)
    else:
        with Progress(enabled=not is_quiet(ctx)) as progress:
            preds = run_eval(model, encoded, tokenizer.pad_token_id, pick_device(device), cfg.train.eval_batch_size,
                             "fp32", progress)
        metrics = score_predictions(docs, preds, types, replace(cfg, eval_split=split))
    metrics["decoding"] = {k: getattr(model.options, k) for k in DECODING}
    text = json.dumps(metrics, indent=1)
    if out:
        from erbench.files import write_text_atomic

        write_text_atomic(out, text + "\n")
    if as_json:
        click.echo(text)
    else:
        click.echo(summary_line(Path(run_dir).name, split, metrics) + (f"  ->  {out}" if out else ""))


def summary_line(name: str, split: str, metrics: dict) -> str:
    """`NAME SPLIT: NER x  RE y  RE+ z (micro F1)`, as the line `erbench train` ends with."""
    def f1(key: str) -> str:
        value = metrics.get(f"{split}/{key}/micro_f1")
        return "n/a" if value is None else f"{value:.2f}"

    return f"{name} {split}: NER {f1('ner')}  RE {f1('rel')}  RE+ {f1('rel_strict')} (micro F1; --json for all metrics)"


def rescored_variant(trained, decoded, overrides: dict) -> tuple[str | None, dict | None]:
    """(choice id, choice set) of a run re-decoded with `overrides`. A declared choice (or calibrated
    run) gets its id + '+KEY=VALUE,...' of the overrides. A plain run gets its method + every option
    it now sets away from the method's registered reading: SpERT.MT's interpretation options (the
    training's, e.g. a `--set mt_loss_norm=side` run, and the decoding's), then the thresholds, so the
    id names the weights' reading too (report.collect.variant_id). Overrides that change nothing keep
    the run's identity."""
    from erbench.models.options import INTERPRETATION
    from erbench.models.registry import method_options
    from erbench.report.collect import VARIANT_SEP, variant_id

    changes = {k: v for k, v in overrides.items() if getattr(trained.model, k) != getattr(decoded.model, k)}
    if not changes:
        return trained.choice, trained.choice_set
    if trained.choice:  # a named variant: its name, and what this decoding changes (merged into one part)
        base, sep, rest = trained.choice.partition(VARIANT_SEP)
        parts = dict(p.split("=", 1) for p in rest.split(",")) if sep and all("=" in p for p in rest.split(",")) \
            else None
        if parts is None:
            base, parts = trained.choice, {}
        parts.update({k: str(v) for k, v in changes.items()})
        return variant_id(base, [f"{k}={v}" for k, v in parts.items()]), {**(trained.choice_set or {}), **changes}
    registered = method_options(trained.method)
    full = {k: getattr(decoded.model, k) for k in INTERPRETATION
            if getattr(decoded.model, k) != getattr(registered, k)}
    full.update({k: v for k, v in sorted(changes.items()) if k not in INTERPRETATION})
    if not full:  # the decoding undid the only option the training had set: the method as registered
        return None, None
    return variant_id(trained.method, [f"{k}={v}" for k, v in full.items()]), full


def write_rescored_run(run_dir: Path, out_run: Path, model, tokenizer, trained, cfg, types, overrides: dict,
                       docs, encoded, encoding, split: str, data_root: Path, spec, device, *, force: bool,
                       allow_same_split: bool = False, progress_enabled: bool = True) -> dict:
    """The run folder of a checkpoint re-decoded on `split` (erbench evaluate --out-run): the original's
    training record (history, training timing and memory, steps, environment, weights) with the new
    split's metrics, predictions, entity-score diagnostics, encoding record and evaluation time;
    thresholds set by hand replace a tuned record; `rescored_from` names the original and what changed."""
    import hashlib
    import time
    from dataclasses import asdict

    from erbench import runfolder
    from erbench.cli.calibrate import _check_data
    from erbench.datasets.stage import load_split, staged_manifest
    from erbench.progress import Progress
    from erbench.runner import decode_eval, protocol, run_identity, score_predictions, summary
    from erbench.train import prediction_records
    from safetensors.torch import load_file

    original = runfolder.read_metrics(run_dir)
    config = runfolder.read_config(run_dir)
    _check_data(run_dir, (original.get("data") or {}).get("sha256"), staged_manifest(data_root, spec.name)["sha256"])
    train_docs, _ = load_split(data_root, spec, spec.split_key(trained.train_split, trained.fold))
    seen = {d.tokens for d in train_docs}
    if split != trained.eval_split and docs and all(d.tokens in seen for d in docs):
        raise ConfigError(f"--split {split}: every document of it is in the run's training split "
                          f"'{trained.train_split}'; a run folder of scores on training data would compare as "
                          "held-out results (print them without --out-run)")
    recorded = dict(original.get("thresholds") or {})
    set_by_hand = [k for k in ("entity_threshold", "rel_filter_threshold")
                   if getattr(trained.model, k) != getattr(cfg.model, k)]
    tuned_on = (recorded.get("dev_split") or trained.dev_split) if recorded.get("mode") == "dev" else None
    notes = []  # what this re-decoding adds to the run's warnings
    if tuned_on and not set_by_hand:
        if split == tuned_on:
            if not allow_same_split:
                raise ConfigError(f"--split {split}: the run's thresholds were tuned on '{tuned_on}', so its scores "
                                  "there are optimistic; score another split, or allow it explicitly "
                                  "(--allow-same-split: recorded and warned)")
            notes.append(f"thresholds tuned on '{tuned_on}' and scored on '{split}', the same split: the scores are "
                         "optimistic (allowed explicitly)")
        for key in ("mt_decision", "rel_gate", "cb_decision"):  # the scores the thresholds were tuned on changed
            if getattr(trained.model, key) != getattr(cfg.model, key):
                notes.append(f"thresholds tuned on '{tuned_on}' for {key}={getattr(trained.model, key)}, applied "
                             f"here with {key}={getattr(cfg.model, key)}")
    choice, choice_set = rescored_variant(trained, cfg, overrides)
    new_cfg = replace(cfg, eval_split=split, choice=choice, choice_set=choice_set,
                      train=replace(cfg.train, thresholds_same_split=bool(notes and split == tuned_on)
                                    or cfg.train.thresholds_same_split))
    start = time.perf_counter()
    with Progress(enabled=progress_enabled) as progress:
        predictions, diagnostics = decode_eval(model, encoded, tokenizer.pad_token_id, device, new_cfg, docs, progress)
    eval_seconds = time.perf_counter() - start
    metrics = score_predictions(docs, predictions, types, new_cfg)
    proto = protocol(new_cfg)
    if set_by_hand:  # neither SPEC nor tuned on dev: the tuned record no longer describes the decoding
        thresholds = {"mode": "set", "entity": model.options.entity_threshold,
                      "relation": model.options.rel_filter_threshold, "spec": recorded.get("spec"),
                      "set": set_by_hand, "replaced": {k: recorded.get(k) for k in ("mode", "entity", "relation",
                                                                                    "dev_split") if k in recorded}}
        proto["thresholds"] = "set"
    else:
        thresholds = {**recorded, "entity": model.options.entity_threshold,
                      "relation": model.options.rel_filter_threshold}
        if tuned_on:
            thresholds["same_split"] = split == tuned_on
    from erbench.calibrate import edge_warning

    dropped = {edge_warning(recorded)} if set_by_hand else set()
    if recorded.get("mode") == "dev" and split != trained.eval_split:  # the old same-split line, if any
        dropped.add(f"thresholds tuned on '{tuned_on}' and scored on '{trained.eval_split}', the same split: the "
                    "scores are optimistic (allowed explicitly)")
    warnings = [w for w in original.get("warnings") or []
                if w not in dropped and not w.startswith(f"{trained.eval_split}:")]  # the old eval split's cuts
    if encoding.warning(split):
        warnings.append(encoding.warning(split))
    warnings += notes
    data = dict(original.get("data") or {})
    data["eval_encoding"] = asdict(encoding)
    data["encoding"] = {**{k: v for k, v in (data.get("encoding") or {}).items() if not k.startswith("eval:")},
                        f"eval:{split}": asdict(encoding)}
    timing = dict(original.get("timing") or {})
    timing.update(eval_seconds=eval_seconds,
                  eval_sentences_per_s=len(encoded) / eval_seconds if eval_seconds else float("nan"))
    digest = hashlib.sha256((Path(run_dir) / runfolder.METRICS).read_bytes()).hexdigest()
    result = {**original, "run": run_identity(new_cfg), "protocol": proto, "metrics": metrics, "thresholds": thresholds,
              "diagnostics": {**(original.get("diagnostics") or {}), "entity_scores": {"split": split, **diagnostics}},
              "data": data, "timing": timing, "warnings": warnings,
              "rescored_from": {"path": str(run_dir), "metrics_sha256": digest, "split": split, "eval_split":
                                trained.eval_split, "set": dict(overrides), "warnings": notes,
                                "timing": "eval_seconds and eval_sentences_per_s: this re-decoding; the rest: the "
                                          "training"}}
    new_config = {**config, "run": new_cfg.to_dict(),
                  "thresholds": {k: v for k, v in thresholds.items() if k != "dev_scores"}}
    env_file = Path(run_dir) / runfolder.ENVIRONMENT
    weights = runfolder.weights_path(run_dir)
    runfolder.write_run_folder(out_run, metrics=result, config=new_config,
                               predictions=prediction_records(docs, predictions), steps=runfolder.read_steps(run_dir),
                               environment=runfolder.read_json(env_file) if env_file.is_file() else {},
                               summary=summary(result, split), weights=load_file(str(weights)), force=force)
    return result


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("input_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write predictions here; default: standard output.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "spert"]), default="jsonl", show_default=True,
              help="jsonl: one document a line; spert: one JSON list in SpERT's format.")
@click.option("--device", default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing file at --out.")
@friendly_errors
def predict(run_dir: Path, input_file: Path, out: Path | None, fmt: str, device: str, force: bool) -> None:
    """Run the checkpoint in RUN_DIR on INPUT_FILE: plain text (one document per line, split into words and
    punctuation as the corpora are; a blank line is an empty document), JSON lines ({"tokens": [...]} or
    {"text": "..."} per line, with an optional "id" or "orig_id"), or a JSON list. Every entity carries its
    text and confidence, every relation its confidence, every document its input id; output order is input
    order. An empty INPUT_FILE is an error (exit 2)."""
    from erbench.predict import format_predictions, load_run, predict_tokens, read_inputs

    if out is not None:
        from erbench.files import check_output_file

        check_output_file(out, force=force)
    inputs = read_inputs(input_file)
    run = load_run(run_dir, device)
    result = format_predictions(predict_tokens(run, [t for t, _ in inputs], run.config.train.eval_batch_size,
                                               [i for _, i in inputs]), fmt)
    if out:
        from erbench.files import write_text_atomic

        write_text_atomic(out, result)
    else:
        click.echo(result, nl=False)
