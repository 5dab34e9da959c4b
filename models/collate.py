"""Batches: padding, and word spans -> word-piece ranges, built in this one place.

Samples of all documents of a batch are flattened into rows that carry their document's
index, so no [batch x spans x tokens] mask is ever built; the model pools each row's piece
range with `erbench.models.spans.RangeMax`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from erbench.models.encoder import EncodedDocument
from erbench.models.sampling import TrainSample
from erbench.models.spans import enumerate_spans, relation_context


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    ent_doc: torch.Tensor  # [N] document of each entity row
    ent_start: torch.Tensor  # [N] first piece
    ent_end: torch.Tensor  # [N] one past the last piece
    ent_width: torch.Tensor  # [N] width in words (width embedding index)
    ent_target: torch.Tensor  # [N] 0 = none, k = type k - 1
    ent_iou: torch.Tensor  # [N] IoU* with gold (1 for gold)
    rel_head: torch.Tensor  # [M] entity row of the head
    rel_tail: torch.Tensor  # [M]
    ctx_start: torch.Tensor  # [M] context piece range (empty when the arguments touch)
    ctx_end: torch.Tensor  # [M]
    rel_target: torch.Tensor  # [M, R] multi-hot
    ent_words: np.ndarray | None = None  # [N, 2] word spans (inference bookkeeping)
    windows: list | None = None  # per document its EncodedDocument.windows (None: all fit the encoder)
    # training: the rows of gold entities (ent_target > 0) and of related pairs (any rel_target), known
    # when collating, so that a loss selecting them need not ask the device (a boolean mask would)
    ent_gold_rows: torch.Tensor | None = None
    rel_related_rows: torch.Tensor | None = None

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            moved[f.name] = value.to(device, non_blocking=non_blocking) if isinstance(value, torch.Tensor) else value
        return Batch(**moved)

    def pin_memory(self) -> Batch:
        return Batch(**{f.name: (v.pin_memory() if isinstance(v := getattr(self, f.name), torch.Tensor) else v)
                        for f in fields(self)})


def pad_inputs(docs: list[EncodedDocument], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(d.input_ids) for d in docs)
    ids = np.full((len(docs), length), pad_id, dtype=np.int64)
    mask = np.zeros((len(docs), length), dtype=np.int64)
    for i, d in enumerate(docs):
        ids[i, : len(d.input_ids)] = d.input_ids
        mask[i, : len(d.input_ids)] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def word_to_piece(doc: EncodedDocument, spans: np.ndarray) -> np.ndarray:
    """Word spans [s, e) -> piece ranges [first piece of s, one past the last piece of e - 1)."""
    if len(spans) == 0:
        return spans.reshape(0, 2)
    return np.stack([doc.word_starts[spans[:, 0]], doc.word_ends[spans[:, 1] - 1]], axis=1)


def windows_of(docs: list[EncodedDocument]) -> list | None:
    plans = [d.windows for d in docs]
    return plans if any(p is not None for p in plans) else None


def _long(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.int64))


def collate_train(
    docs: list[EncodedDocument], samples: list[TrainSample], pad_id: int, n_relation: int, max_width_index: int
) -> Batch:
    ent_doc, ent_pieces, ent_width, ent_target, ent_iou = [], [], [], [], []
    rel_head, rel_tail, rel_target = [], [], []
    offset = 0
    for i, (doc, sample) in enumerate(zip(docs, samples)):
        n = len(sample.entity_spans)
        ent_doc.append(np.full(n, i))
        ent_pieces.append(word_to_piece(doc, sample.entity_spans))
        ent_width.append(sample.entity_spans[:, 1] - sample.entity_spans[:, 0])
        ent_target.append(sample.entity_types)
        ent_iou.append(sample.entity_iou)
        rel_head.append(sample.rel_pairs[:, 0] + offset)
        rel_tail.append(sample.rel_pairs[:, 1] + offset)
        rel_target.append(sample.rel_types)
        offset += n
    pieces = np.concatenate(ent_pieces).reshape(-1, 2)
    heads, tails = np.concatenate(rel_head), np.concatenate(rel_tail)
    ctx_start, ctx_end = relation_context(pieces[heads], pieces[tails])
    ids, mask = pad_inputs(docs, pad_id)
    targets, rel_targets = np.concatenate(ent_target), np.concatenate(rel_target).reshape(-1, n_relation)
    return Batch(
        ids, mask, _long(np.concatenate(ent_doc)), _long(pieces[:, 0]), _long(pieces[:, 1]),
        _long(np.minimum(np.concatenate(ent_width), max_width_index)), _long(targets),
        torch.as_tensor(np.concatenate(ent_iou), dtype=torch.float32), _long(heads), _long(tails),
        _long(ctx_start), _long(ctx_end), torch.as_tensor(rel_targets, dtype=torch.float32),
        windows=windows_of(docs), ent_gold_rows=_long(np.flatnonzero(targets > 0)),
        rel_related_rows=_long(np.flatnonzero(rel_targets.sum(axis=1) > 0)),
    )


def collate_candidates(docs: list[EncodedDocument], pad_id: int, max_span_size: int, n_relation: int) -> Batch:
    """Inference: every span of width <= max_span_size of every document; no relation rows yet."""
    ent_doc, ent_words, ent_pieces = [], [], []
    for i, doc in enumerate(docs):
        spans = enumerate_spans(doc.n_words, max_span_size)
        ent_doc.append(np.full(len(spans), i))
        ent_words.append(spans)
        ent_pieces.append(word_to_piece(doc, spans))
    words = np.concatenate(ent_words).reshape(-1, 2)
    pieces = np.concatenate(ent_pieces).reshape(-1, 2)
    ids, mask = pad_inputs(docs, pad_id)
    n = len(words)
    empty = torch.zeros(0, dtype=torch.long)
    return Batch(
        ids, mask, _long(np.concatenate(ent_doc)), _long(pieces[:, 0]), _long(pieces[:, 1]),
        _long(words[:, 1] - words[:, 0]), torch.zeros(n, dtype=torch.long), torch.ones(n), empty, empty, empty,
        empty, torch.zeros(0, n_relation), ent_words=words, windows=windows_of(docs),
    )
