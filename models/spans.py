"""Spans: enumeration in words, IoU, and exact max-pooling over word-piece ranges.

SpERT max-pools a span's word pieces with a dense [batch x spans x tokens x hidden] masked
tensor. `RangeMax` gives the same numbers without it: a sparse table (level j holds the max
over 2**j consecutive pieces) answers any range [a, b) as the max of two overlapping
windows, so a span or a relation context costs two gathers. Empty ranges (adjacent or
overlapping relation arguments) pool to a zero vector, as SpERT does. `naive_range_max` is
the dense reference that the equivalence tests compare against.

Rows are gathered with `index_select`, never with advanced indexing (`x[idx]`): on CPU with
more than one thread, the backward of `x[idx]` accumulates repeated indices with atomic adds
once a gather holds 32768 elements or more, so the order of the float additions (and the
trained weights) changes from run to run; `index_select`'s backward (`index_add_`) adds them
in index order. `gather_rows` is the one helper the model uses for that.
"""

from __future__ import annotations

import functools

import numpy as np
import torch


def enumerate_spans(n_words: int, max_width: int) -> np.ndarray:
    """All word spans [start, end) of width 1..max_width, by width then start (SpERT's order)."""
    rows = [(i, i + w) for w in range(1, max_width + 1) for i in range(0, n_words - w + 1)]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two word spans [start, end) (SPEC 4)."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / (max(a[1], b[1]) - min(a[0], b[0]))


def max_iou(spans: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """IoU*(s): each span's largest IoU with any gold span (0 when there is none)."""
    if len(gold) == 0 or len(spans) == 0:
        return np.zeros(len(spans), dtype=np.float32)
    s0, s1 = spans[:, None, 0], spans[:, None, 1]
    g0, g1 = gold[None, :, 0], gold[None, :, 1]
    inter = np.clip(np.minimum(s1, g1) - np.maximum(s0, g0), 0, None)
    union = np.maximum(s1, g1) - np.minimum(s0, g0)
    return (inter / union).max(axis=1).astype(np.float32)


def relation_context(h_span: np.ndarray, t_span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Piece range strictly between two piece spans; start >= end (empty) when they touch or overlap."""
    first_h = h_span[:, 1] <= t_span[:, 0]
    first_t = t_span[:, 1] <= h_span[:, 0]
    start = np.where(first_h, h_span[:, 1], np.where(first_t, t_span[:, 1], 0))
    end = np.where(first_h, t_span[:, 0], np.where(first_t, h_span[:, 0], 0))
    return start, end


def gather_rows(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x[index] along dim 0 with a backward that is bitwise reproducible at any thread count."""
    return x.index_select(0, index)


class RangeMax:
    """Exact max over piece ranges [start, end) of hidden states h [batch, pieces, hidden]."""

    def __init__(self, h: torch.Tensor):
        batch, length, hidden = h.shape
        levels = [h]
        width = 1
        while width * 2 <= length:
            prev = levels[-1]
            nxt = torch.maximum(prev[:, : length - width], prev[:, width:])
            # pad to full length so all levels stack; padded cells are never read
            levels.append(torch.cat([nxt, prev[:, length - width :]], dim=1))
            width *= 2
        self.table = torch.stack(levels)  # [levels, batch, length, hidden]
        self.batch, self.length, self.hidden = batch, length, hidden
        self._log2 = _log2_table(length, h.device)

    def query(self, batch_idx: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
        """Max-pool rows [start, end) of document batch_idx; empty ranges give zeros. -> [N, hidden]."""
        if batch_idx.numel() == 0:
            return self.table.new_zeros((0, self.hidden))
        size = end - start
        empty = size <= 0
        size = torch.where(empty, torch.ones_like(size), size)
        start = torch.where(empty, torch.zeros_like(start), start)
        level = self._log2[size]
        flat = self.table.reshape(-1, self.hidden)
        base = (level * self.batch + batch_idx) * self.length
        left = gather_rows(flat, base + start)
        right = gather_rows(flat, base + start + size - (1 << level))
        # unconditionally: asking whether any range is empty would wait for the device (a no-op mask
        # leaves every value and gradient bit for bit as it is)
        return torch.maximum(left, right).masked_fill(empty.unsqueeze(-1), 0.0)


@functools.lru_cache(maxsize=64)
def _log2_table(length: int, device: torch.device) -> torch.Tensor:
    """floor(log2(n)) for n = 0..length (0 for n < 2), on `device`: built and copied once per length."""
    log2 = np.zeros(length + 1, dtype=np.int64)
    for n in range(2, length + 1):
        log2[n] = log2[n // 2] + 1
    return torch.from_numpy(log2).to(device)


def naive_range_max(h: torch.Tensor, batch_idx: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """SpERT's dense masked max-pool (reference for tests): -1e30 outside the range, zero if empty."""
    positions = torch.arange(h.shape[1], device=h.device)
    mask = (positions[None, :] >= start[:, None]) & (positions[None, :] < end[:, None])  # [N, T]
    rows = h[batch_idx]  # [N, T, H]
    pooled = (rows + (~mask).unsqueeze(-1).to(h.dtype) * -1e30).max(dim=1).values
    return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))
