"""Every registered method builds and learns; the registry and its option handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from erbench.models.documents import Document, Entity, Relation
from erbench.models.encoder import encode_documents, tiny_encoder
from erbench.models.options import ConfigError, ModelOptions
from erbench.models.registry import METHODS, get_method, method_options, register
from erbench.models.spert import SpanRelationModel
from erbench.train import loss_statistics, train_step

from tests.conftest import make_types

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one torch thread per module

TYPES = make_types()
DOCS = [
    Document(("John", "Smith", "works", "for", "Acme", "in", "Paris", "."),
             (Entity("Peop", 0, 2), Entity("Org", 4, 5), Entity("Loc", 6, 7)),
             (Relation("Work_For", 0, 1), Relation("Live_In", 0, 2), Relation("Near", 2, 1))),
    Document(("Mary", "lives", "in", "Berlin", "near", "Potsdam", "."),
             (Entity("Peop", 0, 1), Entity("Loc", 3, 4), Entity("Loc", 5, 6)),
             (Relation("Live_In", 0, 1), Relation("Near", 1, 2))),
]
STEPS = 20


def train_losses(name: str, tokenizer, steps: int = STEPS) -> list[float]:
    options = method_options(name, {"dropout": 0.0})
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    encoded, _ = encode_documents(tokenizer, DOCS, 64)
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, options)
    stats = loss_statistics(model, encoded, torch.device("cpu"))
    assert ("class_weights" in stats) == (options.loss == "class_balanced")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    history = []
    for _ in range(steps):
        values = train_step(model, encoded, rng, optimizer, pad_id=tokenizer.pad_token_id, device=torch.device("cpu"),
                            stats=stats, max_grad_norm=None)
        assert all(np.isfinite(v) for v in values.values())
        history.append(values["loss"])
    return history


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_trains_and_its_loss_falls(tokenizer, name: str) -> None:
    history = train_losses(name, tokenizer)
    first, last = np.mean(history[:3]), np.mean(history[-3:])
    assert last < 0.8 * first, f"{name}: loss {first:.4f} -> {last:.4f} ({history})"


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_predicts(tokenizer, name: str) -> None:
    options = method_options(name)
    encoded, _ = encode_documents(tokenizer, DOCS, 64)
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, options).eval()
    preds = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"))
    assert len(preds) == len(DOCS)
    for pred, doc in zip(preds, DOCS):
        assert pred.tokens == doc.tokens
        assert all(e.type in TYPES.entities and e.width <= options.max_span_size for e in pred.entities)
        assert all(r.type in TYPES.relations for r in pred.relations)


# -- registry --------------------------------------------------------------------------------------
def test_registry_names_are_lower_snake_case_and_described() -> None:
    assert {"spert", "spert_mt", "spert_focal", "spert_cb"} <= set(METHODS)
    for name, method in METHODS.items():
        assert name == method.name and name.isidentifier() and name == name.lower()
        assert method.description
        assert isinstance(method_options(name), ModelOptions)


def test_registry_rejects_duplicates_and_unknown_options() -> None:
    before = dict(METHODS)
    with pytest.raises(ValueError, match="'spert' is already registered"):
        register("spert", "again", display="x")
    with pytest.raises(ValueError, match="unknown option"):
        register("spert_test_only", "bad", display="x", not_an_option=1)
    assert METHODS == before


def test_unknown_method_lists_the_valid_names() -> None:
    with pytest.raises(ConfigError) as exc:
        get_method("spert_xl")
    message = str(exc.value)
    assert "spert_xl" in message
    for name in METHODS:
        assert name in message
    with pytest.raises(ConfigError, match="unknown method"):
        method_options("nope")


def test_method_options_overrides() -> None:
    options = method_options("spert", {"neg_entity_count": 7, "loss": "focal", "focal_gamma": 1})
    assert (options.neg_entity_count, options.loss, options.focal_gamma) == (7, "focal", 1.0)
    assert method_options("spert_focal").loss == "focal"
    assert method_options("spert_cb").loss == "class_balanced"
    # an override wins over the method's own options
    assert method_options("spert_mt", {"neg_entity_count": 50}).neg_entity_count == 50


@pytest.mark.parametrize("overrides,pattern", [
    ({"bogus": 1}, "unknown key 'bogus'"),
    ({"loss": "hinge"}, "loss: expected one of ce, focal, class_balanced, got 'hinge'"),
    ({"iou_mode": "soft"}, "iou_mode: expected one of"),
    ({"neg_entity_count": "many"}, "'neg_entity_count' must be int"),
    ({"rel_filter_threshold": 1.5}, "rel_filter_threshold: must lie in"),
    ({"iou_mode": "soft_target"}, "soft_target needs heads=multitask"),
])
def test_method_options_rejects_bad_values(overrides: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        method_options("spert", overrides)


def test_focal_and_class_balanced_need_spert_heads() -> None:
    with pytest.raises(ConfigError, match="SpERT heads only"):
        method_options("spert_mt", {"loss": "focal"})


def test_spert_defaults_follow_the_paper() -> None:
    o = method_options("spert")
    assert (o.heads, o.loss, o.neg_entity_count, o.neg_relation_count) == ("spert", "ce", 100, 100)
    assert (o.max_span_size, o.width_embedding_dim, o.dropout, o.rel_filter_threshold) == (10, 25, 0.1, 0.4)
    assert (o.iou_mode, o.entity_logits) == ("none", "none")


def test_spert_mt_defaults() -> None:
    o = method_options("spert_mt")
    assert o.heads == "multitask"
    assert (o.neg_entity_count, o.neg_relation_count) == (120, 120)
    assert (o.iou_mode, o.iou_delta) == ("scale", 1.0)
    assert (o.entity_logits, o.detach_entity_logits) == ("raw", False)
    assert (o.ranking, o.margin, o.entity_threshold, o.rel_filter_threshold) == ("hinge", 1.0, 0.5, 0.4)
    assert method_options("spert_mt_no_iou").iou_mode == "none"
    assert method_options("spert_mt_no_logits").entity_logits == "none"
    no_mt = method_options("spert_mt_no_mt")
    assert (no_mt.heads, no_mt.iou_mode, no_mt.entity_logits) == ("spert", "scale", "raw")
