"""`erbench bench`: training and inference throughput of a method against the bare encoder."""

from __future__ import annotations

import json
from pathlib import Path

import click
from erbench.cli._common import console, data_root_option, friendly_errors, warn
from rich.console import Console
from rich.table import Table


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
@data_root_option
@click.option("--checkpoint", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="A trained run folder of this method: inference then decodes a trained model.")
@click.option("--optimizer", type=click.Choice(["adamw_legacy", "adamw"]), default=None,
              help="Default: the training default (adamw_legacy).")
@click.option("--attention", type=click.Choice(["sdpa", "eager"]), default=None,
              help="The encoder's attention implementation (default: transformers' own choice).")
@click.option("--compile", "compile_encoder", is_flag=True,
              help="torch.compile the encoder (inductor); compilation is timed apart (compile_seconds).")
@click.option("--encoder-config", type=click.Choice(["minilm", "bert-base"]), default=None,
              help="A randomly initialised encoder of this configuration instead of --encoder (no download; the "
                   "offline MiniLM tokenizer).")
@click.option("--prepare-ahead", type=click.Choice(["auto", "thread", "inline"]), default="auto", show_default=True,
              help="As the training option: the next batch prepared by a thread (auto: on CUDA).")
@click.option("--tf32/--no-tf32", default=False, show_default=True, help="CUDA: TF32 for fp32 matmuls.")
@click.option("--deterministic/--no-deterministic", default=True, show_default=True,
              help="CUDA: deterministic kernels only, as training runs by default.")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def bench(dataset, split, encoder, method, sentences, batch_size, eval_batch_size, threads, device, precision,
          data_root, checkpoint, optimizer, attention, compile_encoder, encoder_config, prepare_ahead, tf32,
          deterministic, as_json) -> None:
    """Training and inference throughput and peak memory of a method vs the bare encoder."""
    from erbench.bench import run_bench

    if encoder_config and checkpoint:
        raise click.UsageError("--encoder-config and --checkpoint: a checkpoint brings its own encoder; give one")
    result = run_bench(dataset=dataset, split=split, encoder=encoder, method=method, sentences=sentences,
                       batch_size=batch_size, eval_batch_size=eval_batch_size, threads=threads, device=device,
                       precision=precision, data_root=data_root, checkpoint=checkpoint, optimizer=optimizer,
                       attention=attention, compile_encoder=compile_encoder, encoder_config=encoder_config,
                       prepare_ahead=prepare_ahead, tf32=tf32, deterministic=deterministic)
    for warning in result["warnings"]:
        warn(warning)
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    device_name = result["device"] + (f", {result['gpu']}" if result["gpu"] else "")
    table = Table(title=f"erbench bench: {method} vs bare {result['encoder']} on {dataset}/{split} ({device_name}, "
                        f"{result['precision']})")
    cuda = result["gpu"] is not None
    for col in ("phase", "method sent/s", "bare sent/s", "ratio (method/bare time)", "peak RSS MB",
                *(["peak GPU MB (method / bare)"] if cuda else [])):
        table.add_column(col)
    for phase in ("train", "inference"):
        r = result[phase]
        gpu = [f"{r['peak_cuda_mb']['method']:.0f} / {r['peak_cuda_mb']['bare']:.0f}"] if cuda else []
        table.add_row(phase, f"{r['method_sps']:.1f}", f"{r['bare_sps']:.1f}", f"{r['cost_ratio']:.2f}x",
                      f"{r['peak_rss_mb']:.0f}", *gpu)
    Console().print(table)
    steps = Table(title=f"one training step of {method}, phase by phase ({result['optimizer']}, attention "
                        f"{result['attention']}{', compiled' if result['compiled'] else ''})")
    for col in ("phase", "ms/step", "share"):
        steps.add_column(col)
    b = result["breakdown"]
    for phase, ms in b["ms_per_step"].items():
        steps.add_row(phase, f"{ms:.1f}", f"{100 * b['share'][phase]:.1f}%")
    steps.add_row("bare encoder step (fwd+bwd+opt)", f"{b['bare_encoder_ms_per_step']:.1f}", "")
    Console().print(steps)
    console.print(result["note"])
    pad = result["padding"]
    console.print(f"padding: {100 * pad['train_share']:.1f}% of the training batches' positions "
                  f"({100 * pad['eval_share']:.1f}% at inference, length-sorted); the bare encoder on length-sorted "
                  f"training batches ({100 * pad['sorted_share']:.1f}% padding) runs {pad['bound_speedup']:.2f}x "
                  "as fast: the most a padding-free training step could gain", highlight=False)
    if result["compiled"]:
        console.print(f"compilation (the first pass over the training batches): {result['compile_seconds']:.1f} s")
