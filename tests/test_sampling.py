"""Training samples (SPEC 2) on hand-made documents, and the collation of samples into batches."""

from __future__ import annotations

import numpy as np
import pytest
from erbench.datasets.load import Document, Entity, Relation
from erbench.models.collate import collate_candidates, collate_train, word_to_piece
from erbench.models.encoder import EncodedDocument, encode_documents, load_tokenizer
from erbench.models.sampling import TrainSample, canonical_relations, class_counts, sample_document
from erbench.models.spans import enumerate_spans

from tests.conftest import make_types

TYPES = make_types()

# words:   0      1       2      3     4      5
TOKENS = ("John", "Smith", "Rome", "at", "Acme", ".")
DOC = Document(
    TOKENS,
    (Entity("Peop", 0, 2), Entity("Org", 4, 5), Entity("Loc", 2, 3)),
    (
        Relation("Work_For", 0, 1),
        Relation("Live_In", 0, 1),  # a second type on the same pair: one sample, two ones
        Relation("Near", 1, 2),  # symmetric, written tail-first in the text: stored as (2, 1)
    ),
)


def encoded(doc: Document, lengths: list[int] | None = None, n_words: int | None = None) -> EncodedDocument:
    """A hand-made encoding: word i has lengths[i] pieces (1 each by default), [CLS] at piece 0."""
    lengths = lengths or [1] * len(doc.tokens)
    ends = 1 + np.cumsum(lengths)
    starts = ends - np.asarray(lengths)
    n = len(doc.tokens) if n_words is None else n_words
    ids = np.arange(int(ends[n - 1]) + 1, dtype=np.int64) + 1000
    return EncodedDocument(doc, ids, starts[:n].astype(np.int64), ends[:n].astype(np.int64), n)


def sample(enc: EncodedDocument, seed: int = 0, neg_e: int = 100, neg_r: int = 100, max_span: int = 3) -> TrainSample:
    return sample_document(enc, TYPES, np.random.default_rng(seed), neg_entity_count=neg_e,
                           neg_relation_count=neg_r, max_span_size=max_span)


def spans_of(s: TrainSample) -> list[tuple[int, int]]:
    return [tuple(x) for x in s.entity_spans.tolist()]


# -- entities -----------------------------------------------------------------------------------
def test_gold_entities_first_with_types() -> None:
    s = sample(encoded(DOC))
    assert spans_of(s)[:3] == [(0, 2), (4, 5), (2, 3)]
    assert s.entity_types[:3].tolist() == [1, 2, 3]
    assert s.entity_iou[:3].tolist() == [1.0, 1.0, 1.0]
    assert (s.entity_types[3:] == 0).all()
    assert s.entity_spans.dtype == np.int64 and s.entity_types.dtype == np.int64
    assert s.entity_iou.dtype == np.float32


def test_gold_entities_of_any_width() -> None:
    wide = Document(TOKENS, (Entity("Org", 0, 5), Entity("Peop", 5, 6)), ())
    s = sample(encoded(wide), max_span=2)
    assert spans_of(s)[:2] == [(0, 5), (5, 6)]
    assert ((s.entity_spans[2:, 1] - s.entity_spans[2:, 0]) <= 2).all()


@pytest.mark.parametrize("neg_e,max_span,expected", [(100, 3, 12), (5, 3, 5), (100, 1, 4), (0, 3, 0)])
def test_negative_spans(neg_e: int, max_span: int, expected: int) -> None:
    # 6 words, width <= 3: 6 + 5 + 4 = 15 spans, 3 of them gold -> 12 available; width 1: 6 - 2 gold
    s = sample(encoded(DOC), neg_e=neg_e, max_span=max_span)
    negatives = spans_of(s)[3:]
    assert len(negatives) == expected
    assert len(set(negatives)) == len(negatives)  # without replacement
    gold = {(0, 2), (4, 5), (2, 3)}
    assert not gold & set(negatives)
    assert all(1 <= e - b <= max_span and 0 <= b and e <= 6 for b, e in negatives)
    if neg_e >= 12:
        all_spans = {tuple(x) for x in enumerate_spans(6, max_span).tolist()}
        assert set(negatives) == all_spans - gold


def test_negative_iou_star_hand_example() -> None:
    expected = {  # IoU* with gold (0,2), (4,5), (2,3)
        (0, 1): 1 / 2, (1, 2): 1 / 2, (3, 4): 0.0, (5, 6): 0.0,
        (1, 3): 1 / 2, (2, 4): 1 / 2, (3, 5): 1 / 2, (4, 6): 1 / 2,
        (0, 3): 2 / 3, (1, 4): 1 / 3, (2, 5): 1 / 3, (3, 6): 1 / 3,
    }
    s = sample(encoded(DOC))
    got = dict(zip(spans_of(s)[3:], s.entity_iou[3:].tolist()))
    assert got.keys() == expected.keys()
    for span, value in expected.items():
        assert got[span] == pytest.approx(value, rel=1e-6), span


# -- relations ------------------------------------------------------------------------------------
def test_relation_positives_multi_hot_and_symmetric_order() -> None:
    s = sample(encoded(DOC))
    pairs = [tuple(p) for p in s.rel_pairs.tolist()]
    # positives first: (Peop, Org) with Work_For + Live_In; Near stored head-first in text order (Loc, Org)
    assert pairs[:2] == [(0, 1), (2, 1)]
    assert s.rel_types[0].tolist() == [1.0, 1.0, 0.0]
    assert s.rel_types[1].tolist() == [0.0, 0.0, 1.0]
    assert s.rel_types.dtype == np.float32


def test_relation_negatives_are_unrelated_gold_pairs() -> None:
    s = sample(encoded(DOC))
    pairs = [tuple(p) for p in s.rel_pairs.tolist()]
    negatives = pairs[2:]
    # 3 gold entities -> 6 ordered pairs, 2 positive; the reversed symmetric pair (1, 2) is a negative
    assert sorted(negatives) == [(0, 2), (1, 0), (1, 2), (2, 0)]
    assert (s.rel_types[2:] == 0).all()
    assert all(h != t and h < 3 and t < 3 for h, t in negatives)  # only gold entities (rows 0..2)


def test_relation_negative_count_is_capped() -> None:
    s = sample(encoded(DOC), neg_r=3)
    assert len(s.rel_pairs) == 2 + 3
    s = sample(encoded(DOC), neg_r=0)
    assert len(s.rel_pairs) == 2


def test_symmetric_relation_already_in_text_order_is_kept() -> None:
    doc = Document(TOKENS, DOC.entities, (Relation("Near", 2, 1),))
    assert canonical_relations(doc, TYPES, 6) == {(2, 1): {"Near"}}
    asym = Document(TOKENS, DOC.entities, (Relation("Work_For", 1, 0),))  # not symmetric: direction kept
    assert canonical_relations(asym, TYPES, 6) == {(1, 0): {"Work_For"}}


def test_document_without_entities() -> None:
    empty = Document(TOKENS, (), ())
    s = sample(encoded(empty), neg_e=4)
    assert len(s.entity_spans) == 4 and (s.entity_types == 0).all() and (s.entity_iou == 0).all()
    assert s.rel_pairs.shape == (0, 2) and s.rel_types.shape == (0, 3)


# -- determinism ----------------------------------------------------------------------------------
def long_doc() -> Document:
    tokens = tuple(f"w{i}" for i in range(20))
    ents = tuple(Entity("Peop", i, i + 1) for i in range(0, 20, 3))
    return Document(tokens, ents, (Relation("Work_For", 0, 1),))


def test_same_seed_same_samples_different_seed_different_negatives() -> None:
    enc = encoded(long_doc())
    a, b, c = sample(enc, seed=7, neg_e=10, neg_r=5), sample(enc, seed=7, neg_e=10, neg_r=5), \
        sample(enc, seed=8, neg_e=10, neg_r=5)
    for field in ("entity_spans", "entity_types", "entity_iou", "rel_pairs", "rel_types"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.entity_spans, c.entity_spans)
    assert not np.array_equal(a.rel_pairs, c.rel_pairs)
    n_gold = len(long_doc().entities)
    assert np.array_equal(a.entity_spans[:n_gold], c.entity_spans[:n_gold])  # gold part is fixed


# -- truncation ------------------------------------------------------------------------------------
def test_truncated_document_drops_entities_beyond_kept_words() -> None:
    enc = encoded(DOC, n_words=4)  # keeps "John Smith Rome at": Org (4, 5) is cut
    assert enc.truncated
    s = sample(enc)
    assert spans_of(s)[:2] == [(0, 2), (2, 3)]
    assert s.entity_types[:2].tolist() == [1, 3]
    assert s.entity_spans[:, 1].max() <= 4
    # both relations touch the cut entity: only the negatives between the two kept entities remain
    assert sorted(tuple(p) for p in s.rel_pairs.tolist()) == [(0, 1), (1, 0)]
    assert (s.rel_types == 0).all()
    # 4 words, width <= 3: 4 + 3 + 2 = 9 spans, 2 gold
    assert len(s.entity_spans) == 2 + 7


# -- class counts ------------------------------------------------------------------------------------
def test_class_counts_hand_example() -> None:
    counts = class_counts([encoded(DOC)], TYPES, neg_entity_count=5, neg_relation_count=3, max_span_size=3)
    assert counts == {"entity": [5.0, 1.0, 1.0, 1.0], "relation": [3.0, 1.0, 1.0, 1.0]}
    both = class_counts([encoded(DOC), encoded(DOC, n_words=4)], TYPES, neg_entity_count=5,
                        neg_relation_count=3, max_span_size=3)
    # truncated doc: 7 negative spans available (capped at 5), Peop and Loc kept, 2 unrelated pairs
    assert both == {"entity": [10.0, 2.0, 1.0, 2.0], "relation": [5.0, 1.0, 1.0, 1.0]}


# -- collation ----------------------------------------------------------------------------------------
def test_word_to_piece_multi_piece_words() -> None:
    enc = encoded(DOC, lengths=[1, 3, 2, 1, 1, 1])  # pieces: [CLS] 1 | 2 3 4 | 5 6 | 7 | 8 | 9
    spans = np.array([[0, 1], [1, 2], [1, 3], [0, 6], [2, 3]])
    assert word_to_piece(enc, spans).tolist() == [[1, 2], [2, 5], [2, 7], [1, 10], [5, 7]]
    assert word_to_piece(enc, np.zeros((0, 2), dtype=np.int64)).shape == (0, 2)


def test_word_to_piece_with_the_real_tokenizer() -> None:
    tok = load_tokenizer("tiny-random")
    doc = Document(("John", "unbelievably", "x"), (), ())
    (enc,), report = encode_documents(tok, [doc], 64)
    n_pieces = len(tok("unbelievably", add_special_tokens=False)["input_ids"])
    assert n_pieces > 1
    assert enc.word_starts.tolist() == [1, 2, 2 + n_pieces]
    assert enc.word_ends.tolist() == [2, 2 + n_pieces, 3 + n_pieces]
    assert len(enc.input_ids) == 3 + n_pieces + 1
    assert enc.input_ids[0] == tok.cls_token_id and enc.input_ids[-1] == tok.sep_token_id
    assert word_to_piece(enc, np.array([[1, 3]])).tolist() == [[2, 3 + n_pieces]]
    assert report.truncated_documents == 0


def test_collate_train_offsets_widths_and_context() -> None:
    enc_a = encoded(DOC, lengths=[1, 3, 2, 1, 1, 1])
    enc_b = encoded(DOC)
    sa = sample(enc_a, neg_e=2, neg_r=1)
    sb = sample(enc_b, neg_e=4, neg_r=2)
    batch = collate_train([enc_a, enc_b], [sa, sb], pad_id=0, n_relation=3, max_width_index=1)
    na, nb = len(sa.entity_spans), len(sb.entity_spans)
    assert batch.ent_doc.tolist() == [0] * na + [1] * nb
    # relation rows of the second document point at its own entity rows
    assert batch.rel_head.tolist() == sa.rel_pairs[:, 0].tolist() + (sb.rel_pairs[:, 0] + na).tolist()
    assert batch.rel_tail.tolist() == sa.rel_pairs[:, 1].tolist() + (sb.rel_pairs[:, 1] + na).tolist()
    assert batch.ent_doc[batch.rel_head].tolist() == [0] * len(sa.rel_pairs) + [1] * len(sb.rel_pairs)
    # width in words, clamped to the largest embedding index
    spans = np.concatenate([sa.entity_spans, sb.entity_spans])
    widths = spans[:, 1] - spans[:, 0]
    assert batch.ent_width.tolist() == np.minimum(widths, 1).tolist()
    assert batch.ent_width[0] == 1  # "John Smith" has width 2
    # piece ranges: document a's Peop (0, 2) covers pieces 1..4
    assert (batch.ent_start[0].item(), batch.ent_end[0].item()) == (1, 5)
    assert batch.ent_target.tolist() == sa.entity_types.tolist() + sb.entity_types.tolist()
    assert batch.rel_target.shape == (len(sa.rel_pairs) + len(sb.rel_pairs), 3)
    # first positive of a: (Peop [1, 5), Org [8, 9)) -> context pieces [5, 8)
    assert (batch.ctx_start[0].item(), batch.ctx_end[0].item()) == (5, 8)
    # padding: a has 10 pieces + [CLS]/[SEP] = 11, b has 8
    assert batch.input_ids.shape == (2, 11)
    assert batch.attention_mask.sum(dim=1).tolist() == [11, 8]
    assert (batch.input_ids[1, 8:] == 0).all()


def test_collate_candidates_enumerates_every_span() -> None:
    docs = [encoded(DOC), encoded(Document(("a", "b"), (), ()))]
    batch = collate_candidates(docs, pad_id=0, max_span_size=3, n_relation=3)
    assert len(batch.ent_words) == 15 + 3
    assert batch.ent_doc.tolist() == [0] * 15 + [1] * 3
    assert batch.ent_words[:15].tolist() == enumerate_spans(6, 3).tolist()
    assert batch.rel_head.numel() == 0 and batch.rel_target.shape == (0, 3)
