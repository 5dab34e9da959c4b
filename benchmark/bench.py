"""Throughput benchmark: a method's training step and inference against the bare encoder's.

The bare encoder does the same work a method's encoder does on the same batches (forward,
backward and an optimizer step for training; forward only for inference), so the ratio isolates
what SpERT's sampling, pooling, heads and decoding cost on top. The method's training steps are
`erbench.train.train_step` itself, timed phase by phase (`breakdown`: sampling and collation,
encoder forward, pooling, heads and losses, backward, optimizer step).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from erbench import runtime
from erbench.config import TrainOptions
from erbench.datasets.registry import resolve
from erbench.datasets.stage import load_split
from erbench.models.collate import pad_inputs
from erbench.models.encoder import encode_documents, encoder_max_length, load_encoder
from erbench.models.registry import method_options
from erbench.models.spert import SpanRelationModel
from erbench.optim import make_optimizer
from erbench.steps import batches_ahead, prepare_batch, prepares_ahead
from erbench.train import (
    PHASES,
    StepTimer,
    loss_statistics,
    peak_rss_mb,
    pick_device,
    seed_everything,
    train_step,
)

WARMUP_STEPS = 3

# Randomly initialised encoders of a named configuration (`--encoder-config`): speed does not depend on
# the weights, so no download. Sizes as published: all-MiniLM-L6-v2 (Wang et al. 2020's MiniLM, 6 layers,
# 384 wide) and BERT-base (Devlin et al. 2019). Both take the offline MiniLM tokenizer (BERT-base uncased's
# WordPiece vocabulary of 30522 pieces; SpERT's cased BERT-base has 28996, a smaller embedding table).
ENCODER_CONFIGS = {
    "minilm": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536},
    "bert-base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
}


def random_encoder(name: str, seed: int = 0, attention: str | None = None):
    """(a randomly initialised BERT of configuration `name` (ENCODER_CONFIGS), the offline MiniLM tokenizer)."""
    from erbench.models.encoder import load_tokenizer
    from transformers import BertConfig, BertModel

    tokenizer = load_tokenizer("minilm")
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=512, **ENCODER_CONFIGS[name])
    if attention:
        config._attn_implementation = attention
    torch.manual_seed(seed)
    return BertModel(config, add_pooling_layer=False), tokenizer


def _timed(fn, steps: int, warmup: int = WARMUP_STEPS) -> float:
    for i in range(min(warmup, steps)):
        fn(i)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(steps):
        fn(i)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


class CudaPeak:
    """Peak CUDA memory (MiB) allocated since the last reading; None off CUDA."""

    def __init__(self, device: torch.device):
        self.device = device
        self.read()

    def read(self) -> float | None:
        if self.device.type != "cuda":
            return None
        peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        torch.cuda.reset_peak_memory_stats(self.device)
        return peak


def padding_share(batches) -> float:
    """The share of the encoder's input positions that are padding."""
    real = sum(len(e.input_ids) for b in batches for e in b)
    total = sum(max(len(e.input_ids) for e in b) * len(b) for b in batches)
    return 1.0 - real / total if total else 0.0


def run_bench(*, dataset: str, split: str, encoder: str, method: str, sentences: int, batch_size: int,
              eval_batch_size: int, threads: int, device: str, precision: str, data_root: Path,
              checkpoint: Path | None = None, optimizer: str | None = None, attention: str | None = None,
              compile_encoder: bool = False, encoder_config: str | None = None, prepare_ahead: str = "auto",
              tf32: bool = False, deterministic: bool = True) -> dict:
    """Measure a method against the bare encoder; `checkpoint` (a run folder) gives inference a trained model.

    `attention` picks the encoder's attention implementation (sdpa, eager; None: transformers' default);
    `compile_encoder` wraps the encoder in `torch.compile` (inductor) for both sides, and the seconds its
    first steps take (compilation included) are reported apart as `compile_seconds`. `encoder_config`
    (ENCODER_CONFIGS) replaces `encoder` by a randomly initialised one of that configuration;
    `prepare_ahead`, `tf32`, `deterministic`: as the training's options of those names."""
    if threads:
        torch.set_num_threads(threads)
    rng = seed_everything(0)
    dev = pick_device(device)
    cuda_settings = runtime.configure_cuda(tf32=tf32, deterministic=deterministic) if dev.type == "cuda" else None
    spec = resolve(dataset)
    docs, types = load_split(data_root, spec, spec.split_key(split, 0 if spec.folds else None))
    docs = docs[:sentences]
    opts = method_options(method)
    if encoder_config:
        transformer, tokenizer = random_encoder(encoder_config, attention=attention)
        encoder = f"random {encoder_config} configuration (MiniLM tokenizer)"
    else:
        transformer, tokenizer = load_encoder(encoder, attention=attention)
    attention_used = getattr(transformer.config, "_attn_implementation", None)
    compile_seconds = None
    if compile_encoder:
        transformer = torch.compile(transformer)
    # truncate: the bare encoder below takes one window per document, so both sides see the same pieces
    encoded, _ = encode_documents(tokenizer, docs, encoder_max_length(transformer, tokenizer), "truncate")
    pad = tokenizer.pad_token_id
    amp = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16")
    cfg = TrainOptions(**({"optimizer": optimizer} if optimizer else {}))
    train_batches = [encoded[i: i + batch_size] for i in range(0, len(encoded) - batch_size + 1, batch_size)]
    by_length = sorted(encoded, key=lambda e: len(e.input_ids))  # as erbench.train.evaluate batches
    eval_batches = [by_length[i: i + eval_batch_size] for i in range(0, len(by_length), eval_batch_size)]
    # the same batch size over length-sorted sentences: next to no padding (a bound, see "padding" below)
    sorted_batches = [by_length[i: i + batch_size] for i in range(0, len(by_length) - batch_size + 1, batch_size)]

    # bare encoder: forward + backward + optimizer step / forward only
    transformer.to(dev).train()
    peak = CudaPeak(dev)
    bare_opt = make_optimizer(transformer, cfg.optimizer, cfg.lr, cfg.weight_decay)

    def bare_step(i: int, batches=train_batches) -> None:
        ids, mask = pad_inputs(batches[i % len(batches)], pad)
        with amp:
            h = transformer(input_ids=ids.to(dev), attention_mask=mask.to(dev)).last_hidden_state
        h.float().mean().backward()
        bare_opt.step()
        bare_opt.zero_grad(set_to_none=True)

    if compile_encoder:  # compile (and recompile per new shape) outside the timed passes
        start = time.perf_counter()
        for i in range(len(train_batches)):
            bare_step(i)
        compile_seconds = time.perf_counter() - start
    bare_train = _timed(bare_step, len(train_batches))
    bare_sorted = _timed(lambda i: bare_step(i, sorted_batches), len(sorted_batches))
    rss_bare_train, cuda_bare_train = peak_rss_mb(), peak.read()
    transformer.eval()

    @torch.no_grad()
    def bare_infer(i: int) -> None:
        ids, mask = pad_inputs(eval_batches[i % len(eval_batches)], pad)
        with amp:
            transformer(input_ids=ids.to(dev), attention_mask=mask.to(dev))

    bare_eval = _timed(bare_infer, len(eval_batches))
    cuda_bare_eval = peak.read()

    # the method: sampling + collation + encoder + pooling + heads + loss + step / full decoding
    torch.manual_seed(0)
    model = SpanRelationModel(transformer, types, opts).to(dev).train()
    optimizer = make_optimizer(model, cfg.optimizer, cfg.lr, cfg.weight_decay)

    stats = loss_statistics(model, encoded, dev)
    timer = StepTimer(dev)

    def method_step(i: int, timed: StepTimer | None = None, batch=None) -> None:
        train_step(model, train_batches[i % len(train_batches)], rng, optimizer, pad_id=pad, device=dev,
                   precision=precision, stats=stats, max_grad_norm=cfg.max_grad_norm, timer=timed, batch=batch,
                   read=False)

    ahead = prepares_ahead(prepare_ahead, dev)

    def method_pass(_: int) -> None:  # as the training loop steps: batches prepared ahead where it does
        def prepare(k: int):
            return prepare_batch(model, train_batches[k], rng, pad_id=pad, pin=dev.type == "cuda")

        for k, batch in enumerate(batches_ahead(prepare, len(train_batches), ahead)):
            method_step(k, batch=batch)

    for i in range(min(WARMUP_STEPS, len(train_batches))):
        method_step(i)
    method_train = _timed(method_pass, 1, warmup=0)
    for i in range(len(train_batches)):  # a second pass, phase by phase (the sections' waits stay out of the above)
        method_step(i, timer)
    per_step = {k: timer.seconds.get(k, 0.0) / len(train_batches) for k in PHASES}
    step_total = sum(per_step.values())
    rss_method_train, cuda_method_train = peak_rss_mb(), peak.read()
    if checkpoint is not None:  # decode with a trained model: an untrained one calls every span an entity
        from erbench.runner import load_checkpoint

        model, _, _, _, _ = load_checkpoint(checkpoint, str(dev))
        if attention:
            model.encoder.set_attn_implementation(attention)
        if compile_encoder:
            model.encoder = torch.compile(model.encoder)
            with torch.no_grad():
                for i in range(len(eval_batches)):  # compile outside the timed pass
                    model.predict(eval_batches[i], pad, dev)
    model.eval()

    def method_infer(i: int) -> None:
        with amp:
            model.predict(eval_batches[i % len(eval_batches)], pad, dev)

    method_eval = _timed(method_infer, len(eval_batches))
    cuda_method_eval = peak.read()
    n_train = len(train_batches) * batch_size
    pred_entities = sum(len(p.entities) for b in eval_batches[:2] for p in model.predict(b, pad, dev))
    warnings = []
    if checkpoint is None:
        warnings.append(f"inference decoded an untrained model ({len(train_batches)} bench steps only): it calls "
                        "nearly every span an entity and decodes all their pairs, so its inference numbers and ratio "
                        "say little about a trained model's; pass --checkpoint RUN_FOLDER (a trained run of this "
                        "method) for meaningful inference numbers")
    result = {
        "device": str(dev), "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "threads": torch.get_num_threads(), "thread_policy": runtime.thread_policy(),
        "encoder": encoder, "encoder_config": encoder_config,
        "precision": precision, "prepare_ahead": ahead, "cuda_settings": cuda_settings, "method": method,
        "sentences": len(encoded), "avg_pieces": float(np.mean([len(e.input_ids) for e in encoded])),
        "train": {"method_sps": n_train / method_train, "bare_sps": n_train / bare_train,
                  "cost_ratio": method_train / bare_train, "peak_rss_mb": max(rss_bare_train, rss_method_train),
                  "peak_cuda_mb": {"bare": cuda_bare_train, "method": cuda_method_train}},
        "breakdown": {"ms_per_step": {k: 1e3 * v for k, v in per_step.items()},
                      "share": {k: v / step_total if step_total else float("nan") for k, v in per_step.items()},
                      "bare_encoder_ms_per_step": 1e3 * bare_train / len(train_batches)},
        "padding": {
            "train_share": padding_share(train_batches), "sorted_share": padding_share(sorted_batches),
            "eval_share": padding_share(eval_batches),
            "bare_sorted_sps": len(sorted_batches) * batch_size / bare_sorted,
            "bound_speedup": bare_train / bare_sorted * len(sorted_batches) / len(train_batches),
            "note": "the bare encoder on length-sorted batches of the same size: the most that removing the "
                    "padding from the training batches (which keep SpERT's random order) could gain"},
        "optimizer": cfg.optimizer,
        "attention": attention_used, "compiled": compile_encoder, "compile_seconds": compile_seconds,
        "warnings": warnings,
        "inference": {"method_sps": len(encoded) / method_eval, "bare_sps": len(encoded) / bare_eval,
                      "cost_ratio": method_eval / bare_eval, "peak_rss_mb": peak_rss_mb(),
                      "peak_cuda_mb": {"bare": cuda_bare_eval, "method": cuda_method_eval}},
        "note": (f"ratios are method time / bare-encoder time on the same batches (batch {batch_size} train, "
                 f"{eval_batch_size} inference, {precision}); inference decoded "
                 + (f"the trained checkpoint {checkpoint}" if checkpoint else "a model trained only by this bench")
                 + f" ({pred_entities} entities predicted in the first "
                 f"{min(2, len(eval_batches)) * eval_batch_size} sentences)"),
    }
    return result
