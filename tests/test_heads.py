"""Decision rules of both head sets (SPEC 2 and 4 'Inference') and how predictions become documents."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from erbench.config import ModelOptions
from erbench.datasets.load import Document, Entity, Relation
from erbench.models.encoder import encode_documents, tiny_encoder
from erbench.models.heads import MultiTaskHeads, SpertHeads
from erbench.models.spans import enumerate_spans
from erbench.models.spert import SpanRelationModel

from tests.conftest import make_types

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one torch thread per module

AT_04 = math.log(0.4 / 0.6)  # sigmoid(AT_04) == 0.4


def t(values, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


# -- SpERT ----------------------------------------------------------------------------------------------
def test_spert_entity_rule_argmax_not_none() -> None:
    logits = t([[5.0, 1.0, 1.0], [0.0, 3.0, 1.0], [0.0, 1.0, 3.0], [2.0, 1.9, -1.0]])
    mask, types = SpertHeads.decide_entities({"logits": logits}, ModelOptions())
    assert mask.tolist() == [False, True, True, False]
    assert types[mask].tolist() == [0, 1]


def test_spert_relation_rule_every_type_at_or_above_threshold() -> None:
    logits = t([[AT_04, -5.0, 3.0], [AT_04 - 1e-3, 0.0, -9.0], [-9.0, -9.0, -9.0]])
    rows, types = SpertHeads.decide_relations({"logits": logits}, ModelOptions())
    assert list(zip(rows.tolist(), types.tolist())) == [(0, 0), (0, 2), (1, 1)]
    # the threshold is an option
    rows, types = SpertHeads.decide_relations({"logits": logits}, ModelOptions(rel_filter_threshold=0.9))
    assert list(zip(rows.tolist(), types.tolist())) == [(0, 2)]


def test_spert_entity_features() -> None:
    logits = t([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.equal(SpertHeads.entity_features({"logits": logits}, "raw"), logits)
    soft = SpertHeads.entity_features({"logits": logits}, "softmax")
    assert soft.shape == (2, 3)
    torch.testing.assert_close(soft, torch.softmax(logits, dim=-1))
    torch.testing.assert_close(soft.sum(dim=-1), torch.ones(2))


# -- SpERT.MT -------------------------------------------------------------------------------------------
def test_multitask_entity_rule() -> None:
    out = {"id": t([0.0, -0.01, 2.0, -3.0]), "scores": t([[1.0, 2.0], [5.0, 0.0], [3.0, -1.0], [0.0, 9.0]])}
    mask, types = MultiTaskHeads.decide_entities(out, ModelOptions())
    assert mask.tolist() == [True, False, True, False]  # sigmoid(0) = 0.5 is an entity
    assert types[mask].tolist() == [1, 0]
    mask, _ = MultiTaskHeads.decide_entities(out, ModelOptions(entity_threshold=0.9))
    assert mask.tolist() == [False, False, False, False]


def test_multitask_relation_rule() -> None:
    out = {"id": t([AT_04, AT_04 - 1e-3, 4.0]), "scores": t([[0.0, 1.0, 0.5], [9.0, 0.0, 0.0], [2.0, 1.0, 3.0]])}
    rows, types = MultiTaskHeads.decide_relations(out, ModelOptions())
    assert rows.tolist() == [0, 2]
    assert types.tolist() == [1, 2]  # one triple per pair: the argmax type
    rows, types = MultiTaskHeads.decide_relations({"id": t([]), "scores": torch.zeros(0, 3)}, ModelOptions())
    assert rows.numel() == 0 and types.numel() == 0


def test_multitask_entity_features() -> None:
    out = {"id": t([0.5, -1.0]), "scores": t([[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]])}
    raw = MultiTaskHeads.entity_features(out, "raw")
    assert raw.shape == (2, 4)
    assert torch.equal(raw[:, 0], out["id"]) and torch.equal(raw[:, 1:], out["scores"])
    soft = MultiTaskHeads.entity_features(out, "softmax")
    assert soft.shape == (2, 4)
    torch.testing.assert_close(soft[:, 0], torch.sigmoid(out["id"]))
    torch.testing.assert_close(soft[:, 1:], torch.softmax(out["scores"], dim=-1))


def test_heads_shapes() -> None:
    spert = SpertHeads(10, 20, n_entity=3, n_relation=2)
    assert spert.entity(torch.zeros(4, 10))["logits"].shape == (4, 4)
    assert spert.relation(torch.zeros(5, 20))["logits"].shape == (5, 2)
    mt = MultiTaskHeads(10, 20, n_entity=3, n_relation=2)
    ent = mt.entity(torch.zeros(4, 10))
    rel = mt.relation(torch.zeros(5, 20))
    assert ent["id"].shape == (4,) and ent["scores"].shape == (4, 3)
    assert rel["id"].shape == (5,) and rel["scores"].shape == (5, 2)
    assert spert.logit_dim == mt.logit_dim == 4


# -- predict: from decisions to documents -----------------------------------------------------------------
TYPES = make_types(("Peop", "Org"), ("Work_For", "Near"))
MAX_SPAN = 3


def row_of(n_words: int, span: tuple[int, int], offset: int = 0) -> int:
    """Row of a span among collate_candidates' rows (width, then start; documents one after another)."""
    return offset + enumerate_spans(n_words, MAX_SPAN).tolist().index(list(span))


@pytest.mark.parametrize("heads", ["spert", "multitask"])
def test_predict_symmetric_text_order_and_duplicates(tokenizer, monkeypatch, heads: str) -> None:
    docs = [Document(("a", "b", "c", "d", "e"), (), (), orig_id="x", index=0),
            Document(("f", "g", "h", "i"), (), (), orig_id="y", index=1)]
    encoded, _ = encode_documents(tokenizer, docs, 64)
    options = ModelOptions(max_span_size=MAX_SPAN, heads=heads, dropout=0.0,
                           entity_logits="raw" if heads == "multitask" else "none")
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, options).eval()
    n0 = len(enumerate_spans(5, MAX_SPAN))
    chosen = {  # row -> entity type index
        row_of(5, (0, 1)): 0, row_of(5, (4, 5)): 1, row_of(5, (2, 4)): 1,
        row_of(4, (1, 2), n0): 1, row_of(4, (3, 4), n0): 0,
    }
    seen = {}

    def decide_entities(out, opts):
        n = next(iter(out.values())).shape[0]
        seen["n"] = n
        mask = torch.zeros(n, dtype=torch.bool)
        types = torch.zeros(n, dtype=torch.long)
        for row, ty in chosen.items():
            mask[row], types[row] = True, ty
        return mask, types

    # predicted entity rows in order: doc 0 -> (0,1), (4,5), (2,4); doc 1 -> (1,2), (3,4).
    # candidate pairs: doc 0: (0,1) (0,2) (1,0) (1,2) (2,0) (2,1); doc 1: (3,4) (4,3)
    def decide_relations(out, opts):
        seen["pairs"] = next(iter(out.values())).shape[0]
        return torch.tensor([3, 5, 2, 7]), torch.tensor([1, 1, 0, 0])

    monkeypatch.setattr(model.heads, "decide_entities", decide_entities)
    monkeypatch.setattr(model.heads, "decide_relations", decide_relations)
    preds = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"))

    assert seen == {"n": n0 + len(enumerate_spans(4, MAX_SPAN)), "pairs": 8}
    assert preds[0].entities == (Entity("Peop", 0, 1), Entity("Org", 4, 5), Entity("Org", 2, 4))
    # Near on (Org 4-5, Org 2-4) is put in text order; Near on the reversed pair is a duplicate;
    # Work_For keeps its direction (not symmetric)
    assert preds[0].relations == (Relation("Near", 2, 1), Relation("Work_For", 1, 0))
    assert preds[1].entities == (Entity("Org", 1, 2), Entity("Peop", 3, 4))
    assert preds[1].relations == (Relation("Work_For", 1, 0),)
    assert [p.tokens for p in preds] == [d.tokens for d in docs]
    assert [(p.orig_id, p.index) for p in preds] == [("x", 0), ("y", 1)]


def test_predict_without_entities_returns_empty_documents(tokenizer, monkeypatch) -> None:
    docs = [Document(("a", "b", "c"), (), ())]
    encoded, _ = encode_documents(tokenizer, docs, 64)
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, ModelOptions(max_span_size=MAX_SPAN)).eval()

    def none(out, opts):
        n = out["logits"].shape[0]
        return torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.long)

    monkeypatch.setattr(model.heads, "decide_entities", none)
    (pred,) = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"))
    assert pred.entities == () and pred.relations == ()


def test_predict_unpatched_is_consistent_with_the_rule(tokenizer) -> None:
    """Without patches: every predicted entity has width <= max_span_size and relations index entities."""
    docs = [Document(tuple("abcdef"), (), ())]
    encoded, _ = encode_documents(tokenizer, docs, 64)
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=1), TYPES, ModelOptions(max_span_size=MAX_SPAN)).eval()
    torch.nn.init.constant_(model.heads.entity_classifier.bias, 0.0)
    model.heads.entity_classifier.bias.data[1] = 10.0  # every span is a Peop
    (pred,) = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"))
    assert len(pred.entities) == len(enumerate_spans(6, MAX_SPAN))
    assert all(e.type == "Peop" and e.width <= MAX_SPAN for e in pred.entities)
    keys = [(r.head, r.tail, r.type) for r in pred.relations]
    assert len(keys) == len(set(keys))
    assert all(r.head != r.tail for r in pred.relations)
    n = len(pred.entities)
    assert all(0 <= r.head < n and 0 <= r.tail < n for r in pred.relations)
    near = [r for r in pred.relations if r.type == "Near"]
    assert all(pred.entities[r.head].start <= pred.entities[r.tail].start for r in near)


@pytest.mark.parametrize("heads", ["spert", "multitask"])
def test_predict_pair_chunks_do_not_change_predictions(tokenizer, heads: str) -> None:
    """Scoring candidate pairs in chunks of max_pairs (SPEC 2) gives the same triples as one chunk."""
    docs = [Document(tuple("abcdef"), (), ()), Document(tuple("ghij"), (), ())]
    encoded, _ = encode_documents(tokenizer, docs, 64)
    options = ModelOptions(max_span_size=MAX_SPAN, heads=heads,
                           entity_logits="raw" if heads == "multitask" else "none")
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=2), TYPES, options).eval()
    if heads == "spert":
        model.heads.entity_classifier.bias.data[:] = torch.tensor([0.0, 10.0, 0.0])
    else:
        model.heads.entity_id.bias.data[:] = 10.0
    one_chunk = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"))
    assert sum(len(p.relations) for p in one_chunk) > 0
    model.options = replace(options, max_pairs=7)
    chunked = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"))
    assert chunked == one_chunk
