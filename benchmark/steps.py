"""The host side of the training step: its batch prepared (one step ahead where that pays), and its
losses summed on the device, so that a step never waits for the device (docs/methods.md "Speed and
determinism on CPU and GPU").

Neither changes what a run computes: batches are prepared by the same calls in the same order, so they
draw the same samples; the sums are the ones the loop took in Python floats (tests/test_step.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from erbench.models.collate import Batch, collate_train
from erbench.models.encoder import EncodedDocument
from erbench.models.sampling import sample_document
from erbench.models.spert import SpanRelationModel


def prepare_batch(model: SpanRelationModel, docs: list[EncodedDocument], rng: np.random.Generator, *, pad_id: int,
                  pin: bool = False) -> Batch:
    """One step's training batch: draw each document's samples from `rng` (in document order), collate;
    `pin` puts it in page-locked memory, so that its copy to a CUDA device need not block the host."""
    opts, types = model.options, model.types
    samples = [sample_document(d, types, rng, neg_entity_count=opts.neg_entity_count,
                               neg_relation_count=opts.neg_relation_count, max_span_size=opts.max_span_size,
                               rel_negatives=opts.rel_negatives)
               for d in docs]
    batch = collate_train(docs, samples, pad_id, len(types.relations), opts.width_embedding_count - 1)
    return batch.pin_memory() if pin else batch


def batches_ahead(prepare: Callable[[int], Batch], steps: int, ahead: bool) -> Iterator[Batch]:
    """prepare(0), ..., prepare(steps - 1), called in this order. With `ahead`, one background thread
    prepares step k + 1's batch while the caller runs step k (never more than one ahead): as the calls
    and their random draws keep their order and nothing else draws from their generator meanwhile, the
    batches are the ones prepared inline (tests/test_step.py)."""
    if not ahead:
        for k in range(steps):
            yield prepare(k)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="erbench-batches") as pool:
        pending = pool.submit(prepare, 0) if steps else None
        for k in range(steps):
            batch = pending.result()  # re-raises what prepare raised
            pending = pool.submit(prepare, k + 1) if k + 1 < steps else None
            yield batch


def prepares_ahead(option: str, device: torch.device) -> bool:
    """TrainOptions.prepare_ahead: auto prepares ahead on CUDA, where the device computes while the host
    prepares; on the CPU the thread would compete with the step for the same cores."""
    return option == "thread" or (option == "auto" and device.type == "cuda")


class DeviceSums:
    """Running float64 sums of loss parts, kept where the losses are (no host sync per step); `floats`
    reads them. float64 sums of float32 values in step order equal the Python float sums of the same
    values, so records read from them are what summing `float(loss)` per step gave."""

    def __init__(self, start: dict[str, float] | None = None, device: torch.device | None = None):
        self.sums = {k: torch.tensor(v, dtype=torch.float64, device=device) for k, v in (start or {}).items()}

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for key, value in values.items():
            value = value.to(torch.float64)
            self.sums[key] = (self.sums[key] if key in self.sums else torch.zeros_like(value)) + value

    def floats(self) -> dict[str, float]:
        if not self.sums:
            return {}
        read = torch.stack(list(self.sums.values())).cpu().tolist()  # one host sync
        return dict(zip(self.sums, read))
