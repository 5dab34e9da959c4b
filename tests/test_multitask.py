"""SpERT.MT read the way the field builds multi-task extractors (docs/methods.md, "SpERT.MT's unstated
choices"): classifier scopes with a "none" output, CR-CNN ranking, the cls / both decisions, hidden-layer
heads, IoU downweighting, the classifier's logits in the pair vector and the argument gate; each on a
hand-made batch (its loss value and its decision), and the auxiliary reading that is SpERT bit for bit."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from erbench.models import losses, multitask
from erbench.models.documents import Document, Entity, Relation
from erbench.models.encoder import encode_documents, tiny_encoder
from erbench.models.heads import MultiTaskHeads, SpertHeads
from erbench.models.options import DECODING, ConfigError
from erbench.models.registry import interpretation, method_options
from erbench.models.spert import SpanRelationModel
from erbench.optim import make_optimizer
from erbench.train import train_step
from torch import nn

from tests.test_interpretations import DOCS as INTERPRETATION_DOCS
from tests.test_interpretations import TYPES

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one torch thread per module

DOCS = [  # test_interpretations' two documents and two more
    *INTERPRETATION_DOCS,
    Document(("Omar", "joined", "Globex", "near", "Oslo", "."), (Entity("Peop", 0, 1), Entity("Org", 2, 3),
             Entity("Loc", 4, 5)), (Relation("Work_For", 0, 1),)),
    Document(("Lena", "stayed", "in", "Lima", "."), (Entity("Peop", 0, 1), Entity("Loc", 3, 4)),
             (Relation("Live_In", 0, 1),)),
]
ALL = {"mt_cls_scope": "all"}


def sp(x: float) -> float:
    return math.log1p(math.exp(x))


# -- options: names, refusals, records ------------------------------------------------------------------------
@pytest.mark.parametrize(("overrides", "keys"), [
    ({"mt_decision": "cls"}, ("mt_decision=cls", "mt_cls_scope")),
    ({"mt_decision": "both"}, ("mt_decision=both", "mt_cls_scope")),
    ({"entity_logits": "cls"}, ("entity_logits=cls", "mt_cls_scope=gold")),
    ({"entity_logits": "cls", "mt_cls_scope": "all", "ranking": "crcnn"}, ("entity_logits=cls", "ranking=crcnn")),
    ({"ranking": "lsep", "mt_cls_scope": "all"}, ("ranking=lsep", "mt_cls_scope")),
    ({"iou_mode": "downweight", "iou_positive": "scaled"}, ("iou_positive=scaled", "iou_mode")),
    ({"head_hidden": -1}, ("head_hidden",)),
    ({"head_activation": "tanh"}, ("head_activation",)),
    ({"crcnn_gamma": 0.0}, ("crcnn_gamma",)),
    ({"rel_gate": "pair"}, ("rel_gate",)),
])
def test_readings_that_make_no_sense_are_refused_naming_their_keys(overrides, keys) -> None:
    with pytest.raises(ConfigError) as info:
        method_options("spert_mt", overrides)
    assert all(k in str(info.value) for k in keys), str(info.value)


@pytest.mark.parametrize(("key", "value"), [("mt_cls_scope", "all"), ("rel_gate", "args"), ("ranking", "crcnn"),
                                            ("crcnn_margin_pos", 1.0)])
def test_multitask_readings_are_refused_on_spert_heads(key, value) -> None:
    with pytest.raises(ConfigError, match=f"{key}={value} needs heads=multitask"):
        method_options("spert", {key: value})


def test_new_readings_are_recorded_in_the_interpretation_and_two_are_decoding_only() -> None:
    options = method_options("spert_mt", {"mt_cls_scope": "all", "mt_decision": "cls", "ranking": "crcnn",
                                          "head_hidden": 8, "iou_mode": "downweight"})
    assert interpretation("spert_mt", options) == ("mt_decision=cls, mt_cls_scope=all, ranking=crcnn, "
                                                   "iou_mode=downweight, head_hidden=8")
    assert interpretation("spert", method_options("spert", {"head_hidden": 150, "head_activation": "gelu"})) \
        == "head_hidden=150, head_activation=gelu"
    assert interpretation("spert_mt", method_options("spert_mt", {"rel_gate": "args"})) == "rel_gate=args"
    assert {"mt_decision", "rel_gate"} <= set(DECODING) and "mt_cls_scope" not in DECODING


# -- 1. mt_cls_scope: what the classifiers train on ---------------------------------------------------------
ENT_ID = torch.tensor([3.0, -3.0, 1.0, -1.0])  # sigmoid: 0.95 / 0.05 / 0.73 / 0.27
ENT_SCORES = torch.tensor([[0.0, 2.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                           [2.0, 0.0, 1.0, 0.0]])  # none + 3 types
ENT_TARGETS = torch.tensor([1, 0, 0, 0])
REL_ID = torch.tensor([2.0, 1.0, -2.0])
REL_SCORES = torch.tensor([[1.0, -1.0], [0.0, 0.0], [-1.0, 2.0]])
REL_TARGETS = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])


def ce(row: list[float], target: int) -> float:
    return math.log(sum(math.exp(v) for v in row)) - row[target]


def bce(logit: float, target: float) -> float:
    return sp(logit) - target * logit


def terms(**overrides):
    options = method_options("spert_mt", overrides)
    return multitask.classifier_terms(ENT_ID, ENT_SCORES, ENT_TARGETS, REL_ID, REL_SCORES, REL_TARGETS, options)


def test_scope_all_trains_softmax_and_sigmoid_classifiers_with_none_on_every_sample() -> None:
    ent, rel = terms(**ALL)
    assert ent.tolist() == pytest.approx([ce(r, t) for r, t in zip(ENT_SCORES.tolist(), ENT_TARGETS.tolist())])
    want = [sum(bce(s, t) for s, t in zip(r, y)) / 2 for r, y in zip(REL_SCORES.tolist(), REL_TARGETS.tolist())]
    assert rel.tolist() == pytest.approx(want)


def test_scope_accepted_adds_what_identification_accepts_with_a_none_target() -> None:
    ent, rel = terms(mt_cls_scope="accepted")  # entity_threshold 0.5: rows 0 (gold) and 2; relation 0.4: rows 0, 1
    assert ent.tolist() == pytest.approx([ce(ENT_SCORES[0].tolist(), 1), ce(ENT_SCORES[2].tolist(), 0)])
    assert rel.tolist() == pytest.approx([(bce(1.0, 1.0) + bce(-1.0, 0.0)) / 2, bce(0.0, 0.0)])
    ent_high, _ = terms(mt_cls_scope="accepted", entity_threshold=0.8)  # only the gold row
    assert ent_high.tolist() == pytest.approx([ce(ENT_SCORES[0].tolist(), 1)])


def test_multitask_loss_sums_the_scoped_terms_with_the_identification_terms() -> None:
    options = method_options("spert_mt", {**ALL, "iou_mode": "none"})
    iou = torch.zeros(4)
    total, parts = losses.multitask_loss(ENT_ID, ENT_SCORES, ENT_TARGETS, iou, REL_ID, REL_SCORES, REL_TARGETS,
                                         iou_mode="none", delta=1.0, ranking="hinge", margin=1.0,
                                         weights=(1.0, 2.0, 1.0, 1.0), options=options)
    ent, rel = terms(**ALL)
    assert float(parts["entity_cls"]) == pytest.approx(float(ent.mean()))
    assert float(parts["relation_cls"]) == pytest.approx(float(rel.mean()))
    ent_id_want = sum(bce(z, float(t > 0)) for z, t in zip(ENT_ID.tolist(), ENT_TARGETS.tolist())) / 4
    assert float(parts["entity_id"]) == pytest.approx(ent_id_want)
    assert float(total) == pytest.approx(ent_id_want + 2 * float(ent.mean()) + float(parts["relation_id"])
                                         + float(rel.mean()))


def test_scope_all_heads_have_a_none_output_and_crcnn_none() -> None:
    for overrides, width in (({}, 3), (ALL, 4), ({"mt_cls_scope": "accepted"}, 4),
                             ({**ALL, "ranking": "crcnn"}, 3), ({"ranking": "crcnn"}, 3)):
        heads = MultiTaskHeads(10, 20, 3, 2, options=method_options("spert_mt", overrides))
        assert heads.entity_cls.out_features == width and heads.relation_cls.out_features == 2, overrides


# -- 3. ranking: crcnn ---------------------------------------------------------------------------------------
def test_crcnn_loss_matches_the_published_terms_and_our_multi_label_form() -> None:
    scores = torch.tensor([[3.0, 1.0, -1.0], [0.2, -0.5, 0.1], [3.0, 2.0, -1.0], [3.0, 2.0, 1.0]])
    gold = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 1, 0], [1, 1, 1]])
    got = multitask.crcnn_loss(scores, gold, 2.5, 0.5, 2.0).tolist()
    assert got == pytest.approx([
        sp(2 * (2.5 - 3.0)) + sp(2 * (0.5 + 1.0)),  # gold type 0, best wrong type 1
        sp(2 * (0.5 + 0.2)),  # a negative pays only for its best type
        (sp(2 * (2.5 - 3.0)) + sp(2 * (2.5 - 2.0))) / 2 + sp(2 * (0.5 - 1.0)),  # mean over gold types
        (sp(2 * (2.5 - 3.0)) + sp(2 * (2.5 - 2.0)) + sp(2 * (2.5 - 1.0))) / 3,  # no wrong type left
    ])


def test_crcnn_trains_on_the_scope_gold_without_negatives_all_with_them() -> None:
    scores = ENT_SCORES[:, 1:]  # no "none" score
    crcnn = dict(ranking="crcnn", crcnn_margin_pos=2.0, crcnn_margin_neg=1.0, crcnn_gamma=1.0)
    gold = multitask.classifier_terms(ENT_ID, scores, ENT_TARGETS, REL_ID, REL_SCORES, REL_TARGETS,
                                      method_options("spert_mt", crcnn))
    every = multitask.classifier_terms(ENT_ID, scores, ENT_TARGETS, REL_ID, REL_SCORES, REL_TARGETS,
                                       method_options("spert_mt", {**crcnn, **ALL}))
    assert gold[0].tolist() == pytest.approx([sp(2.0 - 2.0) + sp(1.0 + 0.0)])
    assert every[0].tolist() == pytest.approx([sp(0.0) + sp(1.0), sp(1.0), sp(1.0), sp(1.0 + 1.0)])
    assert gold[1].tolist() == pytest.approx([sp(2.0 - 1.0) + sp(1.0 - 1.0)])  # the related pair only
    assert every[1].tolist() == pytest.approx([sp(1.0) + sp(0.0), sp(1.0), sp(1.0 + 2.0)])


def test_crcnn_types_a_span_only_when_its_best_score_is_above_zero() -> None:
    options = method_options("spert_mt", {**ALL, "ranking": "crcnn", "mt_decision": "cls"})
    out = {"id": torch.zeros(3), "scores": torch.tensor([[0.5, 2.0, -1.0], [-0.1, -0.2, -3.0], [-1.0, 0.0, 0.3]])}
    mask, ent_type = MultiTaskHeads.decide_entities(out, options)
    assert mask.tolist() == [True, False, True] and ent_type[mask].tolist() == [1, 2]
    rel = {"id": torch.zeros(2), "scores": torch.tensor([[0.4, 0.1], [-0.3, -0.1]])}
    rows, types = MultiTaskHeads.decide_relations(rel, options)  # multi-label: each type with score > 0
    assert rows.tolist() == [0, 0] and types.tolist() == [0, 1]


# -- 2. mt_decision cls / both / product with a "none" output --------------------------------------------------
def ent_out():
    return {"id": ENT_ID, "scores": ENT_SCORES}


def test_cls_decides_by_the_argmax_against_none_as_spert() -> None:
    options = method_options("spert_mt", {**ALL, "mt_decision": "cls"})
    mask, ent_type = MultiTaskHeads.decide_entities(ent_out(), options)
    assert mask.tolist() == [True, False, False, False] and int(ent_type[0]) == 0  # type 0 = column 1
    spert_mask, spert_type = SpertHeads.decide_entities({"logits": ENT_SCORES}, options)
    assert torch.equal(mask, spert_mask) and torch.equal(ent_type[mask], spert_type[mask])
    strict = replace(options, entity_threshold=0.99)  # the threshold is not read
    assert mask.tolist() == MultiTaskHeads.decide_entities(ent_out(), strict)[0].tolist()
    conf = MultiTaskHeads.entity_confidence(ent_out(), torch.tensor([0]), torch.tensor([0]), options)
    assert float(conf[0]) == pytest.approx(float(torch.softmax(ENT_SCORES[0], -1)[1]))


def test_both_needs_the_identification_threshold_and_the_classifier() -> None:
    out = {"id": torch.tensor([3.0, -3.0, 3.0]), "scores": torch.tensor([[0.0, 2.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0],
                                                                        [2.0, 0.0, 1.0, 0.0]])}
    both = method_options("spert_mt", {**ALL, "mt_decision": "both"})
    assert MultiTaskHeads.decide_entities(out, both)[0].tolist() == [True, False, False]
    by_id = method_options("spert_mt", ALL)  # id: the threshold alone, typed over the C type columns
    mask, ent_type = MultiTaskHeads.decide_entities(out, by_id)
    assert mask.tolist() == [True, False, True] and ent_type.tolist() == [0, 0, 1]


def test_product_with_a_none_output_uses_the_type_probability_of_the_full_softmax() -> None:
    options = method_options("spert_mt", {**ALL, "mt_decision": "product", "entity_threshold": 0.3})
    p_id = torch.sigmoid(ENT_ID)
    p_type = torch.softmax(ENT_SCORES, -1)[:, 1:].amax(-1)
    mask, _ = MultiTaskHeads.decide_entities(ent_out(), options)
    assert mask.tolist() == (p_id * p_type >= 0.3).tolist() == [True, False, False, False]
    conf = MultiTaskHeads.entity_confidence(ent_out(), torch.tensor([0, 2]), torch.tensor([0, 0]), options)
    assert conf.tolist() == pytest.approx([float(p_id[0] * p_type[0]), float(p_id[2] * p_type[2])])
    rel = {"id": REL_ID, "scores": REL_SCORES}
    rel_p = torch.sigmoid(REL_ID) * torch.sigmoid(REL_SCORES).amax(-1)  # relations: per-type sigmoids
    rows, types = MultiTaskHeads.decide_relations(rel, replace(options, rel_filter_threshold=0.5))
    assert rows.tolist() == (rel_p >= 0.5).nonzero().squeeze(-1).tolist() == [0] and types.tolist() == [0]


def test_relation_cls_and_both_give_every_accepted_type() -> None:
    rel = {"id": torch.tensor([2.0, -2.0, 2.0]), "scores": torch.tensor([[1.0, 0.0], [3.0, 3.0], [-1.0, -2.0]])}
    cls = method_options("spert_mt", {**ALL, "mt_decision": "cls"})  # sigmoid >= 0.4: 0.73, 0.5 / 0.95 x2
    rows, types = MultiTaskHeads.decide_relations(rel, cls)
    assert list(zip(rows.tolist(), types.tolist())) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    conf = MultiTaskHeads.relation_confidence(rel, rows, types, cls)
    assert conf.tolist() == pytest.approx(torch.sigmoid(torch.tensor([1.0, 0.0, 3.0, 3.0])).tolist())
    rows, types = MultiTaskHeads.decide_relations(rel, replace(cls, mt_decision="both"))  # pair 1 fails id
    assert list(zip(rows.tolist(), types.tolist())) == [(0, 0), (0, 1)]


# -- 7. rel_gate: args ------------------------------------------------------------------------------------------
def test_rel_gate_multiplies_the_relation_score_by_both_arguments_identification() -> None:
    gate = multitask.argument_gate(torch.tensor([2.0, 0.0, -1.0]), torch.tensor([0, 2]), torch.tensor([1, 0]))
    s = torch.sigmoid(torch.tensor([2.0, 0.0, -1.0]))
    assert gate.tolist() == pytest.approx([float(s[0] * s[1]), float(s[2] * s[0])])
    rel = {"id": torch.tensor([2.0, 2.0]), "scores": torch.tensor([[1.0, 0.0], [1.0, 0.0]]),
           "gate": torch.tensor([0.9, 0.3])}
    options = method_options("spert_mt", {"rel_gate": "args"})
    rows, _ = MultiTaskHeads.decide_relations(rel, options)  # sigmoid(2) = 0.88: x 0.9 passes, x 0.3 not
    assert rows.tolist() == [0]
    assert MultiTaskHeads.decide_relations({k: rel[k] for k in ("id", "scores")}, options)[0].tolist() == [0, 1]
    conf = MultiTaskHeads.relation_confidence(rel, rows, torch.tensor([0]), options)
    assert float(conf[0]) == pytest.approx(float(torch.sigmoid(torch.tensor(2.0)) * 0.9))
    cls = method_options("spert_mt", {**ALL, "mt_decision": "cls", "rel_gate": "args"})
    rows, types = MultiTaskHeads.decide_relations(rel, cls)  # sigmoid(1) 0.73 x 0.9 = 0.66; x 0.3 = 0.22
    assert list(zip(rows.tolist(), types.tolist())) == [(0, 0), (0, 1)]  # type 1: 0.5 x 0.9 = 0.45 >= 0.4


@pytest.fixture(scope="module")
def encoded(tokenizer):
    return encode_documents(tokenizer, DOCS, 64)[0]


def test_the_model_gates_pairs_with_its_own_entity_scores(tokenizer, encoded) -> None:
    options = method_options("spert_mt", {"rel_gate": "args"})
    torch.manual_seed(0)
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, options).eval()
    from erbench.models.collate import collate_train
    from erbench.models.sampling import sample_document

    rng = np.random.default_rng(0)
    samples = [sample_document(d, TYPES, rng, neg_entity_count=5, neg_relation_count=5, max_span_size=10)
               for d in encoded]
    batch = collate_train(encoded, samples, 0, 2, 99)
    ent, rel = model(batch)
    want = torch.sigmoid(ent["id"])[batch.rel_head] * torch.sigmoid(ent["id"])[batch.rel_tail]
    assert torch.allclose(rel["gate"], want)
    plain = SpanRelationModel(tiny_encoder(tokenizer, seed=0), TYPES, method_options("spert_mt")).eval()
    assert "gate" not in plain(batch)[1]


# -- 4. head_hidden --------------------------------------------------------------------------------------------
def test_head_hidden_puts_one_hidden_layer_in_front_of_every_head() -> None:
    options = method_options("spert", {"head_hidden": 8, "head_activation": "gelu", "head_dropout": 0.2})
    heads = SpertHeads(10, 20, 3, 2, options=options)
    for layer, n_in, n_out in ((heads.entity_classifier, 10, 4), (heads.relation_classifier, 20, 2)):
        assert isinstance(layer, nn.Sequential) and len(layer) == 4
        assert (layer[0].in_features, layer[0].out_features, layer[3].out_features) == (n_in, 8, n_out)
        assert isinstance(layer[1], nn.GELU) and layer[2].p == 0.2
    mt = MultiTaskHeads(10, 20, 3, 2, options=method_options("spert_mt", {"head_hidden": 8}))
    for name in ("entity_id", "entity_cls", "relation_id", "relation_cls"):
        layer = getattr(mt, name)
        assert isinstance(layer, nn.Sequential) and isinstance(layer[1], nn.ReLU) and layer[0].out_features == 8
    x = torch.randn(5, 10)
    relu = nn.functional.relu(x @ mt.entity_id[0].weight.T + mt.entity_id[0].bias)
    mt.eval()
    assert torch.allclose(mt.entity(x)["id"], (relu @ mt.entity_id[3].weight.T + mt.entity_id[3].bias).squeeze(-1))
    assert isinstance(SpertHeads(10, 20, 3, 2, options=method_options("spert")).entity_classifier, nn.Linear)


# -- 5. iou_mode: downweight -----------------------------------------------------------------------------------
def test_downweight_multiplies_a_negatives_identification_loss_by_one_minus_iou() -> None:
    logits = torch.tensor([0.3, -0.2, 0.1, 0.4])
    gold = torch.tensor([True, False, False, False])
    iou = torch.tensor([1.0, 0.5, 0.0, 0.8])
    got = losses.identification_bce(logits, gold, iou, "downweight", 1.0).tolist()
    assert got == pytest.approx([bce(0.3, 1.0), 0.5 * bce(-0.2, 0.0), bce(0.1, 0.0), 0.2 * bce(0.4, 0.0)])
    assert losses.iou_downweight(gold, iou).tolist() == pytest.approx([1.0, 0.5, 1.0, 0.2])


# -- 6. entity_logits: cls ----------------------------------------------------------------------------------
def test_entity_logits_cls_appends_the_classifiers_logits_none_included() -> None:
    options = method_options("spert_mt", {**ALL, "mt_decision": "cls", "entity_logits": "cls"})
    assert torch.equal(MultiTaskHeads.entity_features(ent_out(), "cls", options), ENT_SCORES)
    raw = MultiTaskHeads.entity_features(ent_out(), "raw", replace(options, entity_logits="raw"))
    assert torch.equal(raw, torch.cat([ENT_ID.unsqueeze(-1), ENT_SCORES[:, 1:]], dim=-1))  # 1 + C, none dropped


# -- 8. the auxiliary reading is SpERT -----------------------------------------------------------------------
AUXILIARY = {"mt_cls_scope": "all", "mt_decision": "cls", "weight_entity_id": 0.0, "weight_rel_id": 0.0,
             "iou_mode": "none", "entity_logits": "none", "neg_entity_count": 100, "neg_relation_count": 100}


def train_and_predict(tokenizer, encoded, method: str, overrides: dict, steps: int = 4):
    options = method_options(method, overrides)
    encoder = tiny_encoder(tokenizer, seed=0)
    torch.manual_seed(1)  # as the trainer seeds before it builds the model
    model = SpanRelationModel(encoder, TYPES, options).train()
    optimizer = make_optimizer(model, "adamw_legacy", 5e-3, 0.01)
    rng = np.random.default_rng(1)
    logs = [train_step(model, encoded[2 * (i % 2): 2 * (i % 2) + 2], rng, optimizer, pad_id=tokenizer.pad_token_id,
                       device=torch.device("cpu")) for i in range(steps)]
    model.eval()
    preds, conf = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"), confidence=True)
    return model, logs, preds, conf


def test_spert_mt_with_auxiliary_identification_is_spert_bit_for_bit(tokenizer, encoded) -> None:
    spert, spert_logs, spert_preds, spert_conf = train_and_predict(tokenizer, encoded, "spert", {})
    mt, mt_logs, mt_preds, mt_conf = train_and_predict(tokenizer, encoded, "spert_mt", AUXILIARY)
    for a, b in zip(spert_logs, mt_logs):
        assert (a["loss"], a["entity"], a["relation"]) == (b["loss"], b["entity_cls"], b["relation_cls"])
    assert len({log["loss"] for log in spert_logs}) == len(spert_logs)  # the steps really train
    pairs = {"entity_classifier": "entity_cls", "relation_classifier": "relation_cls"}
    mt_params = dict(mt.named_parameters())
    for name, value in spert.named_parameters():
        key = ".".join(pairs.get(p, p) for p in name.split("."))
        assert torch.equal(value, mt_params[key]), name
    assert spert_preds == mt_preds and spert_conf == mt_conf
    assert any(d.entities for d in spert_preds)


def test_the_identification_layers_leave_the_global_random_stream_where_spert_leaves_it(tokenizer) -> None:
    after = []
    for method, overrides in (("spert", {}), ("spert_mt", AUXILIARY)):
        encoder = tiny_encoder(tokenizer, seed=0)
        torch.manual_seed(3)
        SpanRelationModel(encoder, TYPES, method_options(method, overrides))
        after.append(torch.get_rng_state())
    assert torch.equal(after[0], after[1])
