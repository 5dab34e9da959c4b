"""`erbench evaluate` and `erbench predict`: commands that work on a trained run folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click
from erbench.cli._common import console, data_root_option, friendly_errors, is_quiet, params_option
from erbench.config import ConfigError, apply_overrides, split_overrides
from erbench.params import read_params

# the options that only decide how a trained model's scores become predictions
DECODING = ("entity_threshold", "rel_filter_threshold", "mt_decision")


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True, help="Split of the run's dataset to score.")
@data_root_option
@click.option("--device", default="auto", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the metrics (JSON) here instead of printing them.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help=f"Decode with another value of a decoding option ({', '.join(DECODING)}); the weights "
                   "stay as trained.")
@params_option()
@click.pass_context
@friendly_errors
def evaluate(ctx, run_dir: Path, split: str, data_root: Path, device: str, out: Path | None, sets, params_path) -> None:
    """Re-score the checkpoint in RUN_DIR on a split of its dataset. The output is the flat metrics
    (`SPLIT/ner/micro_f1`, ...) and `decoding`: the decoding options used."""
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
    model, tokenizer, cfg, types, max_len = load_checkpoint(run_dir, device)
    if overrides:
        model.options = apply_overrides(model.options, overrides, "--set")
        model.heads.check(model.options)
        cfg = replace(cfg, model=model.options)
    spec = resolve(cfg.dataset, read_params(params_path).data.custom, data_root)
    docs, _ = load_split(data_root, spec, spec.split_key(split, cfg.fold))
    encoded, encoding = encode_documents(tokenizer, docs, max_len, cfg.train.long_documents)
    if encoding.warning(split):
        console.print(f"[yellow]warning:[/] {encoding.warning(split)}", highlight=False, soft_wrap=True)
    with Progress(enabled=not is_quiet(ctx)) as progress:
        preds = run_eval(model, encoded, tokenizer.pad_token_id, pick_device(device), cfg.train.eval_batch_size,
                         "fp32", progress)
    metrics = score_predictions(docs, preds, types, replace(cfg, eval_split=split))
    metrics["decoding"] = {k: getattr(model.options, k) for k in DECODING}
    text = json.dumps(metrics, indent=1)
    if out:
        from erbench.files import write_text_atomic

        write_text_atomic(out, text + "\n")
    else:
        click.echo(text)


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("input_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write predictions here; default: standard output.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "spert"]), default="jsonl", show_default=True,
              help="jsonl: one document a line; spert: one JSON list in SpERT's format.")
@click.option("--device", default="auto", show_default=True)
@friendly_errors
def predict(run_dir: Path, input_file: Path, out: Path | None, fmt: str, device: str) -> None:
    """Run the checkpoint in RUN_DIR on INPUT_FILE: plain text (one whitespace-tokenised document per
    line; a blank line is an empty document), JSON lines ({"tokens": [...]} or {"text": "..."} per line),
    or a JSON list. Every entity and relation carries its confidence; output order is input order."""
    from erbench.predict import format_predictions, load_run, read_inputs

    token_lists = read_inputs(input_file)
    run = load_run(run_dir, device)
    result = format_predictions(run.predict(token_lists), fmt)
    if out:
        from erbench.files import write_text_atomic

        write_text_atomic(out, result)
    else:
        click.echo(result, nl=False)
