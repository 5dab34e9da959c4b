"""The one training loop (SPEC 2 'Optimisation', SPEC 6) and the run folder it writes.

AdamW (fused where supported), no weight decay on biases and LayerNorm, linear warm-up then
linear decay, gradient clipping, shuffled batches with the last incomplete one dropped,
negatives redrawn every epoch; the last epoch's model is evaluated. One seed fixes Python,
NumPy and torch. The run folder is written into a temporary folder and renamed into place,
so an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from erbench import runtime, scoring
from erbench.config import RunConfig
from erbench.datasets.load import Document, TypeInventory
from erbench.errors import UserInputError
from erbench.models.collate import Batch
from erbench.models.decision import cb_offsets
from erbench.models.encoder import EncodedDocument, encode_documents, encoder_max_length, load_encoder
from erbench.models.spert import SpanRelationModel
from erbench.models.statistics import corpus_statistics
from erbench.optim import make_optimizer
from erbench.progress import Progress
from erbench.resume import EpochState, Resumer, random_states, restore_random_states
from erbench.steps import DeviceSums, batches_ahead, prepare_batch, prepares_ahead


@dataclass
class RunData:
    """What a run reads: the staged splits (already validated) and the dataset's fingerprint."""

    types: TypeInventory
    train: list[Document]
    eval: list[Document]
    dev: list[Document] | None = None
    sha256: dict[str, str] | None = None


def seed_everything(seed: int) -> np.random.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError(f"device '{name}' was asked for, but CUDA is not available")
    return torch.device(name)


def peak_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / (1024 * 1024) if sys.platform == "darwin" else usage / 1024


def autocast(device: torch.device, precision: str):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


PHASES = ("sampling_collation", "encoder_forward", "pooling", "heads_losses", "backward", "optimizer")


@dataclass
class StepTimer:
    """Seconds spent in each phase of `train_step` (PHASES), summed over the steps it timed.

    Each section waits for the device at both ends (CUDA is asynchronous), so the phases add up
    to the step's wall time; on CPU that wait costs nothing.
    """

    device: torch.device
    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def section(self, name: str):
        self._sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def _untimed(name: str):
    return contextlib.nullcontext()


def loss_statistics(model: SpanRelationModel, encoded: list[EncodedDocument], device: torch.device) -> dict:
    """The corpus statistics the model's loss declared (`Loss.needs`), on `device`; {} when none."""
    return corpus_statistics(model.loss_spec.needs, encoded, model.types, model.options, device)


def part_grad_norms(parts: dict[str, torch.Tensor], hidden: torch.Tensor) -> dict[str, float]:
    """L2 norm of each loss part's gradient w.r.t. the encoder's last hidden states (the shared input
    every part's gradient reaches the encoder through). Backpropagates through the heads and pooling
    only, never the encoder; a part with no path to `hidden` (e.g. no relation sample) gets 0."""
    norms = {}
    for name, value in parts.items():
        if not value.requires_grad:
            norms[name] = 0.0
            continue
        (grad,) = torch.autograd.grad(value, hidden, retain_graph=True, allow_unused=True)
        norms[name] = 0.0 if grad is None else float(grad.float().norm())
    return norms


def train_step(model: SpanRelationModel, docs: list[EncodedDocument], rng: np.random.Generator,
               optimizer: torch.optim.Optimizer, *, pad_id: int, device: torch.device, precision: str = "fp32",
               stats: dict | None = None, max_grad_norm: float | None = 1.0, scheduler=None,
               timer: StepTimer | None = None, grad_norms: bool = False, batch: Batch | None = None,
               read: bool = True) -> dict:
    """One optimizer step on `docs`: draw samples, collate, forward, loss, backward, clip, step.

    The one training step of the harness: the training loop, `erbench bench` and the tests call it.
    `stats`: the loss's corpus statistics (`loss_statistics`). `max_grad_norm=None` skips clipping;
    `timer` sums each phase's seconds; `batch`: `docs`' batch, already prepared (`prepare_batch`).
    -> the loss and its parts as floats, or with `read=False` as detached tensors on `device` (the step
    then never waits for the device); with `grad_norms`, also `grad_norm/<part>` floats (see
    `part_grad_norms`; the update itself is unchanged).
    """
    section = timer.section if timer else _untimed
    with section("sampling_collation"):
        if batch is None:
            batch = prepare_batch(model, docs, rng, pad_id=pad_id)
        batch = batch.to(device, non_blocking=device.type == "cuda")
    with autocast(device, precision):
        loss, parts, hidden = model.loss_and_hidden(batch, stats, section=section)
    norms = part_grad_norms(parts, hidden) if grad_norms else {}
    with section("backward"):
        loss.backward()
    with section("optimizer"):
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    values = {"loss": loss.detach(), **{k: v.detach() for k, v in parts.items()}}
    if read:
        values = {k: float(v) for k, v in values.items()}
    return {**values, **{f"grad_norm/{k}": v for k, v in norms.items()}}


def evaluate(model: SpanRelationModel, encoded: list[EncodedDocument], pad_id: int, device: torch.device,
             batch_size: int, precision: str = "fp32", progress: Progress | None = None) -> list[Document]:
    model.eval()
    predictions: list[Document] = []
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))  # less padding
    task = progress.add("predict", len(encoded)) if progress else None
    with autocast(device, precision):
        for lo in range(0, len(order), batch_size):
            chunk = [encoded[i] for i in order[lo: lo + batch_size]]
            predictions.extend(model.predict(chunk, pad_id, device))
            if progress:
                progress.advance(task, len(chunk))
    if progress:
        progress.remove(task)
    by_index = dict(zip(order, predictions))
    return [by_index[i] for i in range(len(encoded))]


def train_model(cfg: RunConfig, data: RunData, *, progress: Progress | None = None,
                on_epoch: Callable[[int, dict], None] | None = None, encoder=None, resume: Resumer | None = None):
    """Train one run; return (model, tokenizer, history, info). `encoder` = (model, tokenizer) injects one.

    `resume`: save the training's state after every epoch and continue from a matching saved one
    (erbench.resume); `info["resumed_after_epochs"]` lists the epochs a run continued after.
    """
    opts, tcfg = cfg.model, cfg.train
    if tcfg.threads:
        torch.set_num_threads(tcfg.threads)
    rng = seed_everything(cfg.seed)
    device = pick_device(tcfg.device)
    if device.type == "cuda":  # before the run's first CUDA op; the CPU path sets nothing
        runtime.configure_cuda(tf32=tcfg.tf32, deterministic=tcfg.deterministic)
    transformer, tokenizer = encoder if encoder is not None else load_encoder(tcfg.encoder, seed=cfg.seed)
    max_len = tcfg.max_length or encoder_max_length(transformer, tokenizer)
    train_enc, train_report = encode_documents(tokenizer, data.train, max_len, tcfg.long_documents)
    dev_enc, dev_report = None, None
    if data.dev:
        dev_enc, dev_report = encode_documents(tokenizer, data.dev, max_len, tcfg.long_documents)
    torch.manual_seed(cfg.seed)
    model = SpanRelationModel(transformer, data.types, opts).to(device)
    counts = corpus_statistics(["class_counts"], train_enc, data.types, opts)["class_counts"]
    stats = loss_statistics(model, train_enc, device)
    if opts.cb_decision == "corrected":  # decoding only: the dev and eval decisions undo the class weights
        model.cb_offsets = cb_offsets(counts, {k: v.tolist() for k, v in stats["class_weights"].items()})
    steps_per_epoch = len(train_enc) // tcfg.batch_size
    if steps_per_epoch == 0:
        raise UserInputError(f"train split has {len(train_enc)} documents, fewer than batch_size={tcfg.batch_size}")
    total = steps_per_epoch * tcfg.epochs
    optimizer = make_optimizer(model, tcfg.optimizer, tcfg.lr, tcfg.weight_decay)
    from transformers import get_linear_schedule_with_warmup

    scheduler = get_linear_schedule_with_warmup(optimizer, int(tcfg.warmup * total), total)
    pad_id = tokenizer.pad_token_id
    history: list[dict] = []
    train_seconds = 0.0
    steps: list[dict] = []  # the training loss every `log_every` optimizer steps
    window: dict[str, float] = {}
    global_step, run_start = 0, time.time()
    first_epoch, resumed = 1, []
    saved = resume.load() if resume else None
    if saved is not None:
        model.load_state_dict(saved.model)
        optimizer.load_state_dict(saved.optimizer)
        scheduler.load_state_dict(saved.scheduler)
        restore_random_states(rng, saved.random)
        loop = saved.loop
        history, steps, window = loop["history"], loop["steps"], loop["window"]
        global_step, train_seconds = loop["global_step"], loop["train_seconds"]
        run_start = time.time() - loop["elapsed"]
        resumed = [*loop["resumed_after_epochs"], saved.epoch]
        first_epoch = saved.epoch + 1
    # a resumed run's restored epochs show as done but stay out of the time-left estimate
    epoch_task = progress.add("epochs", tcfg.epochs, completed=first_epoch - 1) if progress else None
    for epoch in range(first_epoch, tcfg.epochs + 1):
        model.train()
        start = time.perf_counter()
        order = rng.permutation(len(train_enc))
        epoch_sums = DeviceSums(device=device)
        window_sums = DeviceSums(window, device)  # a resumed run continues the saved window

        def prepare(k: int, order=order) -> Batch:
            docs = [train_enc[i] for i in order[k * tcfg.batch_size: (k + 1) * tcfg.batch_size]]
            return prepare_batch(model, docs, rng, pad_id=pad_id, pin=device.type == "cuda")

        step_task = progress.add(f"epoch {epoch}", steps_per_epoch) if progress else None
        for batch in batches_ahead(prepare, steps_per_epoch, prepares_ahead(tcfg.prepare_ahead, device)):
            lr_used = optimizer.param_groups[0]["lr"]
            logging_step = bool(tcfg.log_every) and (global_step + 1) % tcfg.log_every == 0
            values = train_step(model, [], rng, optimizer, pad_id=pad_id, device=device, precision=tcfg.precision,
                                stats=stats, max_grad_norm=tcfg.max_grad_norm, scheduler=scheduler,
                                grad_norms=logging_step, batch=batch, read=False)
            norms = {k: values.pop(k) for k in [k for k in values if k.startswith("grad_norm/")]}
            epoch_sums.add(values)
            window_sums.add(values)
            global_step += 1
            if logging_step:  # loss parts: means over the window; gradient norms: of this step only
                steps.append({"step": global_step, "epoch": epoch, "time": time.time(),
                              "seconds": time.time() - run_start, "lr": lr_used,
                              **{f"train/{k}": v / tcfg.log_every for k, v in window_sums.floats().items()},
                              **{f"train/{k}": v for k, v in norms.items()}})
                window_sums = DeviceSums(device=device)
            if progress:
                progress.advance(step_task)
        losses_sum, window = epoch_sums.floats(), window_sums.floats()
        seconds = time.perf_counter() - start
        train_seconds += seconds
        record = {"epoch": epoch, "time": time.time(), "seconds": seconds,
                  "sentences_per_s": steps_per_epoch * tcfg.batch_size / seconds}
        record.update({f"train/{k}": v / steps_per_epoch for k, v in losses_sum.items()})
        if dev_enc is not None and tcfg.eval_dev_every_epoch:
            dev_pred = evaluate(model, dev_enc, pad_id, device, tcfg.eval_batch_size, tcfg.precision)
            dev_scores = scoring.score(data.dev, dev_pred, data.types, no_overlapping=cfg.no_overlapping)
            record.update(scoring.flatten_metrics({k: {kk: vv for kk, vv in v.items() if kk != "per_type"}
                                                   for k, v in dev_scores.items()}, "dev"))
        history.append(record)
        if resume:
            resume.save(EpochState(epoch, model.state_dict(), optimizer.state_dict(), scheduler.state_dict(),
                                   random_states(rng),
                                   {"history": history, "steps": steps, "window": window, "global_step": global_step,
                                    "train_seconds": train_seconds, "elapsed": time.time() - run_start,
                                    "resumed_after_epochs": resumed}))
        if on_epoch:
            on_epoch(epoch, record)
        if progress:
            progress.remove(step_task)
            progress.advance(epoch_task)
    info = {
        "device": str(device), "max_length": max_len, "train_encoding": asdict(train_report),
        "dev_encoding": asdict(dev_report) if dev_report else None,
        "class_counts": counts, "steps": total, "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / tcfg.epochs,
        "train_sentences_per_s": total * tcfg.batch_size / train_seconds if train_seconds else float("nan"),
        "class_weights": ({k: v.tolist() for k, v in stats["class_weights"].items()}
                          if "class_weights" in stats else None),
        "steps_log": steps, "resumed_after_epochs": resumed,
    }
    return model, tokenizer, history, info


def prediction_records(gold: list[Document], pred: list[Document]) -> list[dict]:
    """One JSON object per document: tokens, gold and predicted entities and relations."""
    rows = []
    for g, p in zip(gold, pred):
        gj, pj = g.to_json(), p.to_json()
        rows.append({"index": g.index, "orig_id": g.orig_id, "tokens": gj["tokens"],
                     "gold": {"entities": gj["entities"], "relations": gj["relations"]},
                     "pred": {"entities": pj["entities"], "relations": pj["relations"]}})
    return rows


def state_dict_for_saving(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
