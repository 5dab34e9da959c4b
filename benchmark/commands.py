"""`erbench evaluate`, `predict` and `bench`: commands that work on checkpoints and measure speed."""

from __future__ import annotations

import json
from pathlib import Path

import click
from erbench.cli import DATA_ROOT, _quiet, console, friendly_errors, load_params
from rich.console import Console
from rich.table import Table


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True, help="Split of the run's dataset to score.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DATA_ROOT, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the metrics (JSON) here instead of printing them.")
@click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
@friendly_errors
def evaluate(ctx, run_dir: Path, split: str, data_root: Path, device: str, out: Path | None, params_path) -> None:
    """Re-score the checkpoint in RUN_DIR on a split of its dataset."""
    from erbench.datasets.registry import resolve
    from erbench.datasets.stage import load_split
    from erbench.models.encoder import encode_documents
    from erbench.progress import Progress
    from erbench.runner import load_checkpoint, score_predictions
    from erbench.train import evaluate as run_eval
    from erbench.train import pick_device

    model, tokenizer, cfg, types, max_len = load_checkpoint(run_dir, device)
    spec = resolve(cfg.dataset, (load_params(params_path).get("data") or {}).get("custom"), data_root)
    docs, _ = load_split(data_root, spec, spec.split_key(split, cfg.fold))
    encoded, encoding = encode_documents(tokenizer, docs, max_len, cfg.train.long_documents)
    if encoding.warning(split):
        console.print(f"[yellow]warning:[/] {encoding.warning(split)}", highlight=False, soft_wrap=True)
    with Progress(enabled=not _quiet(ctx)) as progress:
        preds = run_eval(model, encoded, tokenizer.pad_token_id, pick_device(device), cfg.train.eval_batch_size,
                         "fp32", progress)
    from dataclasses import replace

    metrics = score_predictions(docs, preds, types, replace(cfg, eval_split=split))
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


@click.command()
@click.option("--dataset", default="conll04", show_default=True)
@click.option("--split", default="train", show_default=True)
@click.option("--encoder", default="minilm", show_default=True)
@click.option("--method", default="spert", show_default=True)
@click.option("--sentences", type=int, default=200, show_default=True, help="Sentences per measurement.")
@click.option("--batch-size", type=int, default=2, show_default=True)
@click.option("--eval-batch-size", type=int, default=8, show_default=True)
@click.option("--threads", type=int, default=0, help="torch threads (0: torch's default).")
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32", show_default=True)
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DATA_ROOT, show_default=True)
@click.option("--checkpoint", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A trained run folder of this method: inference then decodes a trained model.")
@click.option("--optimizer", type=click.Choice(["adamw_legacy", "adamw"]), default=None,
              help="Default: the training default (adamw_legacy).")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def bench(dataset, split, encoder, method, sentences, batch_size, eval_batch_size, threads, device, precision,
          data_root, checkpoint, optimizer, as_json) -> None:
    """Training and inference throughput and peak memory of a method vs the bare encoder."""
    from erbench.bench import run_bench

    result = run_bench(dataset=dataset, split=split, encoder=encoder, method=method, sentences=sentences,
                       batch_size=batch_size, eval_batch_size=eval_batch_size, threads=threads, device=device,
                       precision=precision, data_root=data_root, checkpoint=checkpoint, optimizer=optimizer)
    for warning in result["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    table = Table(title=f"erbench bench: {method} vs bare {encoder} on {dataset}/{split} ({result['device']})")
    for col in ("phase", "method sent/s", "bare sent/s", "ratio (bare/method time)", "peak RSS MB"):
        table.add_column(col)
    for phase in ("train", "inference"):
        r = result[phase]
        table.add_row(phase, f"{r['method_sps']:.1f}", f"{r['bare_sps']:.1f}", f"{r['cost_ratio']:.2f}x",
                      f"{r['peak_rss_mb']:.0f}")
    Console().print(table)
    steps = Table(title=f"one training step of {method}, phase by phase ({result['optimizer']})")
    for col in ("phase", "ms/step", "share"):
        steps.add_column(col)
    b = result["breakdown"]
    for phase, ms in b["ms_per_step"].items():
        steps.add_row(phase, f"{ms:.1f}", f"{100 * b['share'][phase]:.1f}%")
    steps.add_row("bare encoder step (fwd+bwd+opt)", f"{b['bare_encoder_ms_per_step']:.1f}", "")
    Console().print(steps)
    console.print(result["note"])


def register_commands(group: click.Group) -> None:
    from erbench.calibrate_command import calibrate, diagnose
    from erbench.grid.command import grid
    from erbench.report.command import report
    from erbench.suites import suite

    for command in (evaluate, predict, bench, suite, report, grid, calibrate, diagnose):
        group.add_command(command)
