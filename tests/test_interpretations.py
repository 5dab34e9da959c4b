"""SpERT.MT's unstated choices as options: each changes exactly what it says (docs/methods.md), and the
per-part gradient norms the training step measures."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pytest
import torch
from erbench.analysis import protocol
from erbench.models import losses
from erbench.models.collate import collate_train
from erbench.models.documents import Document, Entity, Relation, TypeInventory
from erbench.models.encoder import encode_documents, tiny_encoder
from erbench.models.heads import MultiTaskHeads
from erbench.models.options import ConfigError
from erbench.models.registry import interpretation, method_options
from erbench.models.sampling import class_counts, sample_document
from erbench.models.spert import SpanRelationModel
from erbench.train import train_step

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one torch thread per module

TYPES = TypeInventory(("Peop", "Org", "Loc"), ("Work_For", "Live_In"))
DOCS = [
    Document(("John", "Smith", "works", "for", "Acme", "in", "Paris", "."),
             (Entity("Peop", 0, 2), Entity("Org", 4, 5), Entity("Loc", 6, 7)),
             (Relation("Work_For", 0, 1), Relation("Live_In", 0, 2))),
    Document(("Mary", "lives", "in", "Berlin", "."), (Entity("Peop", 0, 1), Entity("Loc", 3, 4)),
             (Relation("Live_In", 0, 1),)),
]


@pytest.fixture(scope="module")
def encoded(tokenizer):
    return encode_documents(tokenizer, DOCS, 64)[0]


def batch_of(encoded, options, seed: int = 0):
    rng = np.random.default_rng(seed)
    samples = [sample_document(d, TYPES, rng, neg_entity_count=options.neg_entity_count,
                               neg_relation_count=options.neg_relation_count, max_span_size=options.max_span_size,
                               rel_negatives=options.rel_negatives) for d in encoded]
    return samples, collate_train(encoded, samples, 0, len(TYPES.relations), options.width_embedding_count - 1)


# -- rel_negatives --------------------------------------------------------------------------------------
def test_with_nonentity_negatives_include_pairs_with_a_non_gold_argument(encoded) -> None:
    for mode, expect_nonentity in (("gold", False), ("with_nonentity", True)):
        options = method_options("spert_mt", {"rel_negatives": mode, "neg_entity_count": 20})
        samples, _ = batch_of(encoded, options)
        for enc, sample in zip(encoded, samples):
            n_gold = int((sample.entity_types > 0).sum())
            negative = sample.rel_types.sum(axis=1) == 0
            args = sample.rel_pairs[negative]
            has_nonentity = bool((args >= n_gold).any())
            assert has_nonentity == expect_nonentity, (mode, args)
            gold = {tuple(e.span) for e in enc.doc.entities}
            for i, j in args.tolist():  # never a related pair, never one span twice
                assert tuple(sample.entity_spans[i]) != tuple(sample.entity_spans[j])
                if i < n_gold and j < n_gold:
                    assert tuple(sample.entity_spans[i]) in gold
            positives = {tuple(p) for p in sample.rel_pairs[~negative].tolist()}
            assert not positives & {tuple(p) for p in args.tolist()}


def test_class_counts_match_the_negative_pairs_drawn(encoded) -> None:
    """n_none of the class-balanced counts is the number of negative pairs sampling really draws."""
    for mode in ("gold", "with_nonentity"):
        for neg_rel in (3, 10_000):
            options = method_options("spert", {"rel_negatives": mode, "neg_entity_count": 6,
                                               "neg_relation_count": neg_rel})
            samples, _ = batch_of(encoded, options)
            drawn = sum(int((s.rel_types.sum(axis=1) == 0).sum()) for s in samples)
            counts = class_counts(encoded, TYPES, neg_entity_count=6, neg_relation_count=neg_rel,
                                  max_span_size=options.max_span_size, rel_negatives=mode)
            assert counts["relation"][0] == drawn, (mode, neg_rel)


# -- mt_loss_norm ---------------------------------------------------------------------------------------
def mt_inputs(requires_grad: bool = False):
    torch.manual_seed(0)
    ent_id = torch.zeros(6, requires_grad=requires_grad)  # sigmoid 0.5: d BCE / d z = 0.5 - target
    ent_scores = torch.zeros(6, 3, requires_grad=requires_grad)  # every hinge active: d / d s_gold = -1
    ent_targets = torch.tensor([1, 2, 0, 0, 0, 0])
    iou = torch.tensor([1.0, 1.0, 0.0, 0.5, 0.0, 0.2])
    rel_id = torch.randn(4)
    rel_scores = torch.randn(4, 2)
    rel_targets = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    return ent_id, ent_scores, ent_targets, iou, rel_id, rel_scores, rel_targets


KW = dict(iou_mode="none", delta=1.0, ranking="hinge", margin=1.0, weights=(1.0, 1.0, 1.0, 1.0))


def test_loss_norm_term_side_pooled_divide_each_sum_as_documented() -> None:
    ent_id, ent_scores, ent_targets, iou, rel_id, rel_scores, rel_targets = args = mt_inputs()
    gold = ent_targets > 0
    related = rel_targets.sum(-1) > 0
    sums = {
        "entity_id": losses.identification_bce(ent_id, gold, iou, "none", 1.0).sum(),
        "entity_cls": losses.ranking_loss(ent_scores[gold], torch.nn.functional.one_hot(ent_targets[gold] - 1, 3),
                                          1.0).sum(),
        "relation_id": torch.nn.functional.binary_cross_entropy_with_logits(rel_id, related.float(),
                                                                            reduction="sum"),
        "relation_cls": losses.ranking_loss(rel_scores[related], rel_targets[related], 1.0).sum(),
    }
    counts = {"term": {"entity_id": 6, "entity_cls": 2, "relation_id": 4, "relation_cls": 2},
              "side": {"entity_id": 6, "entity_cls": 6, "relation_id": 4, "relation_cls": 4},
              "pooled": dict.fromkeys(sums, 14)}
    for norm, n in counts.items():
        total, parts = losses.multitask_loss(*args, norm=norm, **KW)
        for key in sums:
            assert float(parts[key]) == pytest.approx(float(sums[key]) / n[key], rel=1e-6), (norm, key)
        assert float(total) == pytest.approx(sum(float(sums[k]) / n[k] for k in sums), rel=1e-6)
    default, _ = losses.multitask_loss(*args, **KW)
    assert torch.equal(default, losses.multitask_loss(*args, norm="term", **KW)[0])


def test_side_norm_gives_a_gold_span_the_same_gradient_scale_from_typing_as_from_identification() -> None:
    ratios = {}
    for norm in ("term", "side"):
        ent_id, ent_scores, *rest = mt_inputs(requires_grad=True)
        total, _ = losses.multitask_loss(ent_id, ent_scores, *rest, norm=norm, **KW)
        total.backward()
        # gold row 0: identification d/dz = (0.5 - 1) / n; typing d/ds_gold = -1 / n' (hinge slope 1)
        ratios[norm] = float(ent_scores.grad[0, 0] / ent_id.grad[0])
    assert ratios["side"] == pytest.approx(2.0)  # the same 1 / n_entity_samples on both terms
    assert ratios["term"] == pytest.approx(2.0 * 6 / 2)  # typing weighs n_entity / n_gold = 3x more


def test_unknown_norm_is_refused() -> None:
    with pytest.raises(ConfigError, match="mt_loss_norm: expected one of term, side, pooled"):
        method_options("spert_mt", {"mt_loss_norm": "equal"})


# -- iou_positive -----------------------------------------------------------------------------------------
def test_iou_positive_scaled_weighs_gold_spans_one_plus_delta() -> None:
    gold, iou = torch.tensor([True, False, False]), torch.tensor([1.0, 0.5, 0.0])
    assert losses.iou_scale(gold, iou, 0.8).tolist() == pytest.approx([1.0, 1.4, 1.0])
    assert losses.iou_scale(gold, iou, 0.8, "scaled").tolist() == pytest.approx([1.8, 1.4, 1.0])
    logits = torch.tensor([0.3, -0.2, 0.1])
    one = losses.identification_bce(logits, gold, iou, "scale", 0.8)
    scaled = losses.identification_bce(logits, gold, iou, "scale", 0.8, "scaled")
    assert float(scaled[0]) == pytest.approx(1.8 * float(one[0])) and torch.equal(scaled[1:], one[1:])


# -- entity logits in the pair vector -------------------------------------------------------------------------
def pair_inputs(model, batch):
    """The tensor the relation heads see (dropout 0), captured by a hook."""
    seen = {}
    layer = model.heads.relation_id if hasattr(model.heads, "relation_id") else model.heads.relation_classifier
    handle = layer.register_forward_hook(lambda mod, inp, out: seen.setdefault("x", inp[0]))
    try:
        model(batch)
    finally:
        handle.remove()
    return seen["x"]


@pytest.mark.parametrize("mode", ["sigmoid", "softmax", "layernorm"])
def test_bounded_entity_logits(tokenizer, encoded, mode: str) -> None:
    options = method_options("spert_mt", {"entity_logits": mode, "dropout": 0.0, "neg_entity_count": 5})
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, options).train()
    _, batch = batch_of(encoded, options)
    x = pair_inputs(model, batch)
    k = 1 + len(TYPES.entities)
    for part in (x[:, -2 * k:-k], x[:, -k:]):  # l(head), l(tail)
        if mode == "layernorm":
            assert part.mean(dim=-1).abs().max() < 1e-5
            var = part.var(dim=-1, unbiased=False)  # 1 up to LayerNorm's eps against tiny logits
            assert bool((var > 0.5).all() and (var < 1.0 + 1e-4).all())
        else:
            assert bool((part >= 0).all() and (part <= 1).all())
            if mode == "softmax":
                assert torch.allclose(part[:, 1:].sum(-1), torch.ones(len(part)))
    assert (model.logit_norm is not None) == (mode == "layernorm")


@pytest.mark.parametrize("detach", [False, True])
def test_detached_entity_logits_pass_no_relation_gradient_to_the_entity_heads(tokenizer, encoded, detach) -> None:
    options = method_options("spert_mt", {"detach_entity_logits": detach, "dropout": 0.0, "neg_entity_count": 5})
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, options).train()
    _, batch = batch_of(encoded, options)
    _, parts = model.loss(batch)
    (parts["relation_id"] + parts["relation_cls"]).backward()
    grads = [model.heads.entity_id.weight.grad, model.heads.entity_cls.weight.grad]
    if detach:
        assert all(g is None or float(g.abs().max()) == 0.0 for g in grads)
    else:
        assert all(g is not None and float(g.abs().max()) > 0.0 for g in grads)
    assert float(model.heads.relation_id.weight.grad.abs().max()) > 0.0


# -- mt_decision ------------------------------------------------------------------------------------------
def test_product_decision_multiplies_identification_by_the_type_probability() -> None:
    out = {"id": torch.tensor([2.2, 2.2, -3.0]),
           "scores": torch.tensor([[0.0, 0.0, 0.0], [9.0, 0.0, 0.0], [9.0, 0.0, 0.0]])}
    by_id = method_options("spert_mt")
    product = method_options("spert_mt", {"mt_decision": "product"})
    p = torch.sigmoid(torch.tensor(2.2))
    assert MultiTaskHeads.decide_entities(out, by_id)[0].tolist() == [True, True, False]
    assert MultiTaskHeads.decide_entities(out, product)[0].tolist() == [False, True, False]  # p/3 < 0.5
    conf = MultiTaskHeads.entity_confidence(out, torch.tensor([0, 1]), torch.tensor([0, 0]), product)
    assert conf.tolist() == pytest.approx([float(p) / 3, float(p * torch.softmax(out["scores"][1], -1)[0])])
    rows, types = MultiTaskHeads.decide_relations(out, replace(product, rel_filter_threshold=0.4))
    assert rows.tolist() == [1] and types.tolist() == [0]


def test_multitask_only_options_are_refused_on_spert_heads() -> None:
    for key, value in (("mt_decision", "product"), ("mt_loss_norm", "side")):
        with pytest.raises(ConfigError, match=f"{key}={value} needs heads=multitask"):
            method_options("spert", {key: value})


# -- recorded: the run's protocol and the card ---------------------------------------------------------------
def test_interpretation_names_what_a_run_changed_from_its_method() -> None:
    assert interpretation("spert_mt", method_options("spert_mt")) == "as registered"
    assert interpretation("spert_mt_no_logits", method_options("spert_mt_no_logits")) == "as registered"
    changed = method_options("spert_mt", {"mt_loss_norm": "side", "rel_negatives": "with_nonentity"})
    assert interpretation("spert_mt", changed) == "mt_loss_norm=side, rel_negatives=with_nonentity"


@dataclass
class Run:
    method: str
    seed: int
    protocol: dict = field(default_factory=dict)
    dataset: str = "conll04"
    fold: int | None = None
    data: dict = field(default_factory=dict)

    @property
    def negatives(self):
        return 120, 120

    @property
    def label(self) -> str:
        return f"{self.method}-s{self.seed}"


def test_the_card_shows_interpretations_and_refuses_one_method_with_two() -> None:
    base = {"eval_split": "test", "encoder": "minilm"}
    same = [Run("spert_mt", s, {**base, "interpretation": "as registered"}) for s in (1, 2)]
    card = protocol.protocol_card("conll04", same + [Run("spert", 1, base)], average="micro")
    assert not card.mismatches and "interpretation" not in {r.key for r in card.rows}
    mixed = same + [Run("spert_mt", 3, {**base, "interpretation": "mt_loss_norm=side"})]
    card = protocol.protocol_card("conll04", mixed, average="micro")
    assert [m.key for m in card.mismatches] == ["interpretation:spert_mt"]
    assert "mt_loss_norm=side" in card.row("interpretation").value and card.row("interpretation").mixed


# -- gradient norms of each loss part ---------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["spert", "spert_mt"])
def test_grad_norms_are_measured_without_changing_the_step(tokenizer, encoded, method: str) -> None:
    options = method_options(method, {"dropout": 0.0, "neg_entity_count": 5})
    results, params = [], []
    for grad_norms in (False, True):
        torch.manual_seed(0)
        model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, options).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        values = train_step(model, encoded, np.random.default_rng(0), optimizer, pad_id=tokenizer.pad_token_id,
                            device=torch.device("cpu"), grad_norms=grad_norms)
        results.append(values)
        params.append([p.detach().clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*params))  # the update is bit-for-bit the same
    plain, measured = results
    parts = [k for k in plain if k != "loss"]
    assert {k: measured[k] for k in plain} == plain
    assert sorted(k for k in measured if k.startswith("grad_norm/")) == sorted(f"grad_norm/{p}" for p in parts)
    assert all(measured[f"grad_norm/{p}"] > 0 for p in parts)
    # the total's gradient is the weighted sum of the parts' (all weights 1): triangle inequality
    torch.manual_seed(0)
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, options).train()
    _, batch = batch_of(encoded, options)
    total, parts_t, hidden = model.loss_and_hidden(batch)
    (g_total,) = torch.autograd.grad(total, hidden, retain_graph=True)
    norms = [float(torch.autograd.grad(v, hidden, retain_graph=True)[0].norm()) for v in parts_t.values()]
    assert float(g_total.norm()) <= sum(norms) * (1 + 1e-5)
