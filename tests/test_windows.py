"""Policy long_documents=window: over-long documents keep every word (models/encoder.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from erbench.config import ModelOptions
from erbench.datasets.load import Document, Entity, Relation
from erbench.models.collate import collate_candidates, collate_train
from erbench.models.encoder import encode_documents, load_tokenizer, plan_windows, tiny_encoder
from erbench.models.sampling import sample_document
from erbench.models.spert import SpanRelationModel

from tests.conftest import make_types

TYPES = make_types(("Peop", "Org"), ("Work_For",))
MAX = 16  # pieces incl. [CLS] and [SEP]: 14 per window


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("tiny-random")


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    m = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, ModelOptions(neg_entity_count=5))
    return m.eval()


def long_doc(n_words: int = 45, index: int = 0) -> Document:
    words = ["john", "smith", "works", "for", "acme", "corporation", "in", "paris", "."]
    tokens = tuple(words[i % len(words)] for i in range(n_words))
    entities = tuple(e for k in range(0, n_words - 5, 9)
                     for e in (Entity("Peop", k, k + 2), Entity("Org", k + 4, k + 6)))
    relations = tuple(Relation("Work_For", 2 * i, 2 * i + 1) for i in range(len(entities) // 2))
    return Document(tokens, entities, relations, None, index)


def short_doc(index: int = 1) -> Document:
    return Document(("mary", "works", "for", "acme", "."), (Entity("Peop", 0, 1), Entity("Org", 3, 4)),
                    (Relation("Work_For", 0, 1),), None, index)


def test_windows_cover_every_word_within_the_limit() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        lengths = rng.integers(1, 5, size=rng.integers(1, 60))
        ends = 1 + np.cumsum(lengths)
        starts = ends - lengths
        if ends[-1] + 1 <= MAX:
            continue
        plan = plan_windows(starts, ends, MAX)
        total = int(ends[-1]) + 1
        assert plan[0][0] == 1 and plan[-1][1] == total - 1  # first and last word, then [SEP]
        assert plan[0][2] == 0 and plan[-1][3] == total  # [CLS] .. [SEP] all supplied
        for (lo, hi, take_lo, take_hi), nxt in zip(plan, [*plan[1:], None]):
            assert hi - lo <= MAX - 2 and lo in set(starts) and hi in set(ends)  # word-aligned, fits
            assert lo <= max(take_lo, 1) and take_hi <= max(hi, total if nxt is None else hi)
            if nxt is not None:
                assert nxt[0] < hi, "consecutive windows overlap"
                assert take_hi == nxt[2], "every position is supplied by exactly one window"


def test_no_word_and_no_gold_entity_of_a_long_document_is_lost(tokenizer) -> None:
    doc = long_doc()
    truncated, cut = encode_documents(tokenizer, [doc], MAX, "truncate")
    assert cut.cut_entities > 0 and cut.cut_words > 0, "the document must be too long for this test"
    assert "gold entities cut" in cut.warning("test")
    encoded, report = encode_documents(tokenizer, [doc], MAX, "window")
    enc = encoded[0]
    assert enc.n_words == len(doc.tokens) and not enc.truncated and len(enc.windows) >= 3
    assert report.truncated_documents == report.cut_words == report.cut_entities == 0
    assert report.windowed_documents == 1 and report.warning("test") is None
    sample = sample_document(enc, TYPES, np.random.default_rng(0), neg_entity_count=5, neg_relation_count=5,
                             max_span_size=10)
    gold = {tuple(s) for s, t in zip(sample.entity_spans.tolist(), sample.entity_types.tolist()) if t > 0}
    assert gold == {e.span for e in doc.entities}
    assert int(sample.rel_types.sum()) == len(doc.relations)
    batch = collate_candidates(encoded, 0, 10, 1)
    assert batch.ent_words[:, 1].max() == len(doc.tokens)  # spans reach the last word


def test_a_fitting_document_gets_exactly_the_plain_encoding(tokenizer, model) -> None:
    docs = [short_doc(0), short_doc(1)]
    plain, _ = encode_documents(tokenizer, docs, MAX, "truncate")
    windowed, report = encode_documents(tokenizer, docs, MAX, "window")
    assert report.windowed_documents == 0
    for a, b in zip(plain, windowed):
        assert b.windows is None and np.array_equal(a.input_ids, b.input_ids)
    batch = collate_candidates(windowed, tokenizer.pad_token_id, 10, 1)
    assert batch.windows is None
    with torch.no_grad():
        h, _ = model.encode(batch)
        ref = model.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
    assert torch.equal(h, ref)  # bitwise


def test_each_word_comes_from_its_window_and_seam_spans_are_pooled(tokenizer, model) -> None:
    encoded, _ = encode_documents(tokenizer, [long_doc(), short_doc()], MAX, "window")
    batch = collate_candidates(encoded, tokenizer.pad_token_id, 10, 1)
    enc = encoded[0]
    with torch.no_grad():
        h, table = model.encode(batch)
        ids = torch.as_tensor(enc.input_ids)
        alone = []
        for lo, hi, _, _ in enc.windows:  # each window encoded on its own, as a reader would
            seg = torch.cat([ids[:1], ids[lo:hi], ids[-1:]]).unsqueeze(0)
            alone.append(model.encoder(input_ids=seg, attention_mask=torch.ones_like(seg)).last_hidden_state[0])
        for k, (lo, _, take_lo, take_hi) in enumerate(enc.windows):
            for p in range(take_lo, take_hi):
                torch.testing.assert_close(h[0, p], alone[k][p - lo + 1], rtol=1e-5, atol=1e-5)
        # the short document in the same batch keeps its own encoding
        n = len(encoded[1].input_ids)
        ref = model.encoder(input_ids=torch.as_tensor(encoded[1].input_ids)[None]).last_hidden_state[0]
        torch.testing.assert_close(h[1, :n], ref, rtol=1e-5, atol=1e-5)
        # a span across the first seam: its pooled vector is the max over pieces of both windows
        seam = enc.windows[0][3]
        w = int(np.searchsorted(enc.word_starts, seam))  # first word owned by window 1
        s, e = int(enc.word_starts[w - 1]), int(enc.word_ends[w])
        pooled = table.query(torch.tensor([0]), torch.tensor([s]), torch.tensor([e]))[0]
        left = alone[0][s - enc.windows[0][0] + 1: seam - enc.windows[0][0] + 1]
        right = alone[1][seam - enc.windows[1][0] + 1: e - enc.windows[1][0] + 1]
        torch.testing.assert_close(pooled, torch.cat([left, right]).max(dim=0).values, rtol=1e-5, atol=1e-5)


def test_training_and_inference_run_on_long_documents(tokenizer, model) -> None:
    encoded, _ = encode_documents(tokenizer, [long_doc(), short_doc()], MAX, "window")
    rng = np.random.default_rng(0)
    samples = [sample_document(d, TYPES, rng, neg_entity_count=5, neg_relation_count=5, max_span_size=10)
               for d in encoded]
    batch = collate_train(encoded, samples, tokenizer.pad_token_id, 1, model.options.width_embedding_count - 1)
    model.train()
    loss, _ = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss)
    model.zero_grad()
    model.eval()
    preds = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"))
    assert [p.tokens for p in preds] == [d.doc.tokens for d in encoded]
    assert all(e.end <= len(preds[0].tokens) for e in preds[0].entities)


def test_training_encodes_long_documents_window_by_window(tokenizer, model) -> None:
    """Training sees what inference sees: no encoder call longer than the limit (a real encoder has 512
    positions; the tiny one has more, so only the call lengths can show a whole-document pass)."""
    encoded, _ = encode_documents(tokenizer, [long_doc(), short_doc()], MAX, "window")
    rng = np.random.default_rng(0)
    samples = [sample_document(d, TYPES, rng, neg_entity_count=5, neg_relation_count=5, max_span_size=10)
               for d in encoded]
    batch = collate_train(encoded, samples, tokenizer.pad_token_id, 1, model.options.width_embedding_count - 1)
    assert batch.input_ids.shape[1] > MAX
    lengths = []
    hook = model.encoder.register_forward_pre_hook(
        lambda _m, args, kwargs: lengths.append(kwargs["input_ids"].shape[1]), with_kwargs=True)
    try:
        model.train()
        loss, _ = model.loss(batch)
    finally:
        hook.remove()
        model.eval()
    assert torch.isfinite(loss) and lengths and max(lengths) <= MAX, lengths
