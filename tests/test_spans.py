"""Span enumeration, IoU and the sparse-table max-pool (RangeMax == SpERT's dense masked max-pool)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from erbench.models.spans import RangeMax, enumerate_spans, iou, max_iou, naive_range_max, relation_context
from hypothesis import given
from hypothesis import strategies as st


# -- RangeMax == naive_range_max ----------------------------------------------------------------
def random_ranges(gen: torch.Generator, batch: int, length: int, n: int):
    """Random [start, end) ranges incl. empty (start >= end) and full ones."""
    doc = torch.randint(0, batch, (n,), generator=gen)
    start = torch.randint(0, length + 1, (n,), generator=gen)
    end = torch.randint(0, length + 1, (n,), generator=gen)
    # always include the full range, a width-1 range and both kinds of empty range of every document
    extra_doc = torch.arange(batch).repeat_interleave(4)
    extra_start = torch.tensor([0, length - 1, 0, length]).repeat(batch)
    extra_end = torch.tensor([length, length, 0, length - 1 if length > 1 else 0]).repeat(batch)
    return torch.cat([doc, extra_doc]), torch.cat([start, extra_start]), torch.cat([end, extra_end])


@pytest.mark.parametrize("length", list(range(1, 41)))
def test_range_max_matches_naive_values_and_gradients(length: int) -> None:
    gen = torch.Generator().manual_seed(length)
    batch, hidden = 3, 5
    base = torch.randn(batch, length, hidden, generator=gen)
    doc, start, end = random_ranges(gen, batch, length, 60)
    assert bool(((end - start) <= 0).any()) and bool(((start == 0) & (end == length)).any())
    # integer upstream gradients: sums of gradients are exact whatever the accumulation order
    upstream = torch.randint(-3, 4, (len(doc), hidden), generator=gen).float()

    h_fast = base.clone().requires_grad_(True)
    fast = RangeMax(h_fast).query(doc, start, end)
    (fast * upstream).sum().backward()

    h_naive = base.clone().requires_grad_(True)
    naive = naive_range_max(h_naive, doc, start, end)
    (naive * upstream).sum().backward()

    assert torch.equal(fast, naive)
    assert torch.equal(h_fast.grad, h_naive.grad)
    empty = (end - start) <= 0
    assert torch.equal(fast[empty], torch.zeros(int(empty.sum()), hidden))


def test_range_max_empty_query_and_single_piece() -> None:
    h = torch.randn(2, 7, 4)
    table = RangeMax(h)
    none = torch.zeros(0, dtype=torch.long)
    assert table.query(none, none, none).shape == (0, 4)
    one = table.query(torch.tensor([1]), torch.tensor([3]), torch.tensor([4]))
    assert torch.equal(one[0], h[1, 3])


# -- enumerate_spans --------------------------------------------------------------------------
def test_enumerate_spans_order_by_width_then_start() -> None:
    spans = enumerate_spans(4, 3).tolist()
    assert spans == [[0, 1], [1, 2], [2, 3], [3, 4], [0, 2], [1, 3], [2, 4], [0, 3], [1, 4]]


@pytest.mark.parametrize("n_words,max_width", [(1, 10), (5, 1), (5, 10), (12, 10), (3, 3), (10, 10)])
def test_enumerate_spans_count(n_words: int, max_width: int) -> None:
    spans = enumerate_spans(n_words, max_width)
    w = min(n_words, max_width)
    assert len(spans) == sum(n_words - k + 1 for k in range(1, w + 1))
    assert spans.dtype == np.int64 and spans.shape[1] == 2
    widths = spans[:, 1] - spans[:, 0]
    assert widths.min() >= 1 and widths.max() <= max_width and spans[:, 1].max() <= n_words
    assert len({tuple(s) for s in spans.tolist()}) == len(spans)


def test_enumerate_spans_empty_document() -> None:
    assert enumerate_spans(0, 10).shape == (0, 2)


# -- iou ---------------------------------------------------------------------------------------
spans_st = st.tuples(st.integers(0, 30), st.integers(1, 12)).map(lambda sw: (sw[0], sw[0] + sw[1]))


@given(spans_st, spans_st)
def test_iou_properties(a: tuple[int, int], b: tuple[int, int]) -> None:
    value = iou(a, b)
    assert value == iou(b, a)
    assert 0.0 <= value <= 1.0
    assert (value == 1.0) == (a == b)
    if a[1] <= b[0] or b[1] <= a[0]:  # disjoint or adjacent
        assert value == 0.0
    else:
        assert value > 0.0


def test_iou_hand_values() -> None:
    assert iou((0, 2), (0, 2)) == 1.0
    assert iou((0, 2), (1, 3)) == pytest.approx(1 / 3)
    assert iou((0, 4), (1, 2)) == pytest.approx(1 / 4)  # nested
    assert iou((0, 2), (2, 4)) == 0.0  # adjacent
    assert iou((0, 1), (5, 6)) == 0.0


def test_max_iou() -> None:
    gold = np.array([[0, 2], [4, 5]])
    spans = np.array([[0, 2], [0, 1], [1, 3], [3, 5], [2, 4], [5, 6], [0, 6]])
    expected = [1.0, 0.5, 1 / 3, 0.5, 0.0, 0.0, 2 / 6]
    np.testing.assert_allclose(max_iou(spans, gold), expected, rtol=1e-6)
    assert max_iou(spans, gold).dtype == np.float32
    assert max_iou(spans, np.zeros((0, 2), dtype=np.int64)).tolist() == [0.0] * len(spans)
    assert max_iou(np.zeros((0, 2), dtype=np.int64), gold).shape == (0,)


@given(spans_st, st.lists(spans_st, min_size=1, max_size=5))
def test_max_iou_agrees_with_iou(span: tuple[int, int], gold: list[tuple[int, int]]) -> None:
    got = max_iou(np.array([span]), np.array(gold))[0]
    assert got == pytest.approx(max(iou(span, g) for g in gold), rel=1e-6)


# -- relation_context ---------------------------------------------------------------------------
def context(h: tuple[int, int], t: tuple[int, int]) -> tuple[int, int]:
    start, end = relation_context(np.array([h]), np.array([t]))
    return int(start[0]), int(end[0])


def test_relation_context_between_in_both_orders() -> None:
    assert context((1, 3), (6, 8)) == (3, 6)
    assert context((6, 8), (1, 3)) == (3, 6)


@pytest.mark.parametrize("h,t", [
    ((1, 3), (3, 5)),  # adjacent, head first
    ((3, 5), (1, 3)),  # adjacent, tail first
    ((1, 4), (3, 6)),  # overlapping
    ((3, 6), (1, 4)),
    ((1, 6), (2, 4)),  # nested
    ((2, 4), (1, 6)),
    ((2, 4), (2, 4)),  # identical
])
def test_relation_context_empty_when_touching(h: tuple[int, int], t: tuple[int, int]) -> None:
    start, end = context(h, t)
    assert start >= end


def test_relation_context_vectorised() -> None:
    h = np.array([[1, 3], [6, 8], [1, 3]])
    t = np.array([[6, 8], [1, 3], [3, 5]])
    start, end = relation_context(h, t)
    assert start[:2].tolist() == [3, 3] and end[:2].tolist() == [6, 6]
    assert start[2] >= end[2]
