"""Every loss against hand-computed values, the reductions of SPEC 2, and the equivalences between them."""

from __future__ import annotations

import math

import pytest
import torch
from erbench.models import losses

LN2 = math.log(2.0)


def t(values, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


def close(a: torch.Tensor, expected, tol: float = 1e-6) -> None:
    torch.testing.assert_close(a, torch.as_tensor(expected, dtype=a.dtype), rtol=tol, atol=tol)


def softmax_nll(row: list[float], y: int) -> float:
    return -(row[y] - math.log(sum(math.exp(v) for v in row)))


def softplus(z: float) -> float:
    return math.log1p(math.exp(z))


def bce(z: float, target: float) -> float:
    return softplus(z) - target * z


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


# -- entity side --------------------------------------------------------------------------------------
def test_entity_ce() -> None:
    rows = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [2.0, -1.0, 0.5]]
    targets = [2, 1, 0]
    close(losses.entity_ce(t(rows), t(targets, torch.long)), [softmax_nll(r, y) for r, y in zip(rows, targets)])
    close(losses.entity_ce(t([[0.0, 0.0, 0.0]]), t([1], torch.long)), [math.log(3.0)])


def test_entity_focal() -> None:
    rows = [[1.0, 2.0, 3.0], [0.0, math.log(3.0), 0.0]]  # second row: p_1 = 3 / 5
    targets = [2, 1]
    expected = []
    for r, y in zip(rows, targets):
        p = math.exp(-softmax_nll(r, y))
        expected.append(-((1 - p) ** 2) * math.log(p))
    close(losses.entity_focal(t(rows), t(targets, torch.long), gamma=2.0), expected)
    close(losses.entity_focal(t([rows[1]]), t([1], torch.long), gamma=2.0), [0.16 * -math.log(0.6)])
    # alpha weighs typed targets by alpha and 'no entity' by 1 - alpha
    rows0 = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    got = losses.entity_focal(t(rows0), t([0, 2], torch.long), gamma=1.0, alpha=0.25)
    base = (2 / 3) * math.log(3.0)
    close(got, [0.75 * base, 0.25 * base])


# -- relation side -----------------------------------------------------------------------------------
def test_relation_bce() -> None:
    logits = [[0.0, math.log(3.0)], [-1.0, 2.0]]
    targets = [[1.0, 1.0], [0.0, 1.0]]
    expected = [[LN2, -math.log(0.75)], [bce(-1.0, 0.0), bce(2.0, 1.0)]]
    close(losses.relation_bce(t(logits), t(targets)), expected)


def test_relation_focal() -> None:
    z = math.log(3.0)  # sigmoid = 0.75
    got = losses.relation_focal(t([[z, z]]), t([[1.0, 0.0]]), gamma=2.0, alpha=0.25)
    # target 1: p_t = 0.75; target 0: p_t = 0.25 (torchvision's sigmoid_focal_loss)
    expected = [[0.25 * 0.25**2 * -math.log(0.75), 0.75 * 0.75**2 * -math.log(0.25)]]
    close(got, expected)
    no_alpha = losses.relation_focal(t([[z, z]]), t([[1.0, 0.0]]), gamma=2.0, alpha=None)
    close(no_alpha, [[0.25**2 * -math.log(0.75), 0.75**2 * -math.log(0.25)]])


# -- class-balanced weights -------------------------------------------------------------------------
def test_class_balanced_weights_hand_values() -> None:
    # beta 0.5, n = [1, 3]: raw w = [0.5 / 0.5, 0.5 / 0.875] = [1, 4/7]; normalised to sum 2
    close(losses.class_balanced_weights([1, 3], 0.5), [14 / 11, 8 / 11])
    w = losses.class_balanced_weights([100, 10, 1, 5000], 0.99)
    raw = [(1 - 0.99) / (1 - 0.99**n) for n in (100, 10, 1, 5000)]
    close(w, [r * 4 / sum(raw) for r in raw], tol=1e-5)
    assert w.sum().item() == pytest.approx(4.0, rel=1e-6)
    assert w.dtype == torch.float32
    assert w[2] > w[1] > w[0] > w[3]  # rarer classes weigh more


def test_class_balanced_weights_edge_cases() -> None:
    close(losses.class_balanced_weights([7, 1, 300], 0.0), [1.0, 1.0, 1.0])
    # a class with no samples is never a target: weight 0, and it stays out of the normalisation
    zero = losses.class_balanced_weights([0, 1, 9], 0.9)
    assert torch.isfinite(zero).all()
    assert zero[0].item() == 0.0
    close(zero[1:], losses.class_balanced_weights([1, 9], 0.9))
    assert zero.sum().item() == pytest.approx(2.0, rel=1e-6)
    with pytest.raises(ValueError, match="zero training samples"):
        losses.class_balanced_weights([0, 0], 0.9)


def test_class_balanced_absent_class_does_not_shrink_the_others() -> None:
    # CoNLL04-like relation counts (none + 5 types) at beta 0.9999; one type absent must leave the
    # present classes' weights as they are without it (the old n = 1 rule shrank them ~50x)
    counts = [9000.0, 300.0, 250.0, 400.0, 200.0, 320.0]
    full = losses.class_balanced_weights(counts, 0.9999)
    with_absent = losses.class_balanced_weights(counts[:3] + [0.0] + counts[3:], 0.9999)
    close(with_absent[[0, 1, 2, 4, 5, 6]], full, tol=1e-6)
    assert with_absent[3].item() == 0.0
    assert full[1:].min().item() > 0.5  # every real type keeps a weight of order 1 (the old rule: ~0.02)


# -- IoU scaling and identification ------------------------------------------------------------------
def test_iou_scale() -> None:
    got = losses.iou_scale(t([True, False, False], torch.bool), t([1.0, 0.5, 0.0]), delta=2.0)
    close(got, [1.0, 2.0, 1.0])


def test_identification_bce_modes() -> None:
    logits = t([1.0, 1.0, -0.5])
    is_gold = t([True, False, False], torch.bool)
    iou = t([1.0, 0.5, 0.25])
    plain = [bce(1.0, 1.0), bce(1.0, 0.0), bce(-0.5, 0.0)]
    close(losses.identification_bce(logits, is_gold, iou, "none", delta=3.0), plain)
    close(losses.identification_bce(logits, is_gold, iou, "scale", delta=2.0),
          [plain[0], plain[1] * 2.0, plain[2] * 1.5])
    close(losses.identification_bce(logits, is_gold, iou, "soft_target", delta=2.0),
          [bce(1.0, 1.0), bce(1.0, 0.5), bce(-0.5, 0.25)])


# -- ranking -----------------------------------------------------------------------------------------
def test_ranking_hinge_single_label() -> None:
    scores = t([[0.0, 1.0, 0.5], [2.0, 1.0, 0.5], [0.0, 0.2, 0.0]])
    gold = t([[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    # row 0: (1 - (0 - 1)) = 2, (1 - (0 - 0.5)) = 1.5 -> 1.75; row 1: margins met -> 0;
    # row 2: (1 - 0.2) twice -> 0.8
    close(losses.ranking_loss(scores, gold, margin=1.0), [1.75, 0.0, 0.8])
    close(losses.ranking_loss(scores[:1], gold[:1], margin=0.5), [(1.5 + 1.0) / 2])


def test_ranking_hinge_multi_label_and_all_gold() -> None:
    scores = t([[0.0, 1.0, 0.5], [0.3, -2.0, 4.0]])
    gold = t([[1, 1, 0], [1, 1, 1]])
    # row 0 pairs (gold, non-gold): (0, 2): 1 - (0 - 0.5) = 1.5; (1, 2): 1 - 0.5 = 0.5 -> mean 1.0
    close(losses.ranking_loss(scores, gold, margin=1.0), [1.0, 0.0])


def test_ranking_lsep() -> None:
    scores = t([[0.0, 1.0, 0.5], [0.0, 1.0, 0.5], [0.3, -2.0, 4.0]])
    gold = t([[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    expected = [
        math.log(1 + math.exp(1.0) + math.exp(0.5)),
        math.log(1 + math.exp(0.5 - 0.0) + math.exp(0.5 - 1.0)),
        0.0,
    ]
    close(losses.ranking_loss(scores, gold, margin=1.0, kind="lsep"), expected)


def test_ranking_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="hinge or lsep"):
        losses.ranking_loss(t([[0.0, 1.0]]), t([[1, 0]]), 1.0, kind="softmax")


# -- SpERT's loss and reductions -------------------------------------------------------------------
ENT_LOGITS = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [2.0, -1.0, 0.5]]
ENT_TARGETS = [2, 1, 0]
REL_LOGITS = [[0.0, math.log(3.0), -1.0], [2.0, -1.0, 0.5]]
REL_TARGETS = [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def spert_inputs():
    return t(ENT_LOGITS), t(ENT_TARGETS, torch.long), t(REL_LOGITS), t(REL_TARGETS)


def test_spert_loss_reductions() -> None:
    ent = [softmax_nll(r, y) for r, y in zip(ENT_LOGITS, ENT_TARGETS)]
    rel = [sum(bce(z, y) for z, y in zip(zs, ys)) / 3 for zs, ys in zip(REL_LOGITS, REL_TARGETS)]
    total, parts = losses.spert_loss(*spert_inputs())
    assert total.item() == pytest.approx(sum(ent) / 3 + sum(rel) / 2, rel=1e-6)
    assert parts["entity"].item() == pytest.approx(sum(ent) / 3, rel=1e-6)
    assert parts["relation"].item() == pytest.approx(sum(rel) / 2, rel=1e-6)


def test_spert_loss_without_relation_samples_is_the_entity_loss() -> None:
    el, et, _, _ = spert_inputs()
    total, parts = losses.spert_loss(el, et, torch.zeros(0, 3), torch.zeros(0, 3))
    ent = sum(softmax_nll(r, y) for r, y in zip(ENT_LOGITS, ENT_TARGETS)) / 3
    assert total.item() == pytest.approx(ent, rel=1e-6)
    assert parts["relation"].item() == 0.0


def test_spert_loss_entity_weights() -> None:
    el, et, rl, rt = spert_inputs()
    w = t([1.0, 2.0, 0.5])
    _, parts = losses.spert_loss(el, et, rl, rt, entity_weights=w)
    ent = [softmax_nll(r, y) for r, y in zip(ENT_LOGITS, ENT_TARGETS)]
    assert parts["entity"].item() == pytest.approx((ent[0] + 2 * ent[1] + 0.5 * ent[2]) / 3, rel=1e-6)


def test_spert_loss_class_balanced_hand_weights() -> None:
    el, et, rl, rt = spert_inputs()
    cb_e = t([0.5, 1.0, 1.5])  # none, type 1, type 2
    cb_r = t([0.2, 1.0, 3.0, 0.8])  # none, three relation types
    total, parts = losses.spert_loss(el, et, rl, rt, kind="class_balanced", cb_entity=cb_e, cb_relation=cb_r)
    ent = [softmax_nll(r, y) for r, y in zip(ENT_LOGITS, ENT_TARGETS)]
    rel = [sum(bce(z, y) for z, y in zip(zs, ys)) / 3 for zs, ys in zip(REL_LOGITS, REL_TARGETS)]
    ent_expected = (1.5 * ent[0] + 1.0 * ent[1] + 0.5 * ent[2]) / 3
    rel_expected = ((1.0 + 3.0) / 2 * rel[0] + 0.2 * rel[1]) / 2  # multi-label pair: mean of its weights
    assert parts["entity"].item() == pytest.approx(ent_expected, rel=1e-6)
    assert parts["relation"].item() == pytest.approx(rel_expected, rel=1e-6)
    assert total.item() == pytest.approx(ent_expected + rel_expected, rel=1e-6)


def test_spert_loss_focal_hand_values() -> None:
    el, et, rl, rt = spert_inputs()
    _, parts = losses.spert_loss(el, et, rl, rt, kind="focal", gamma=2.0, alpha_entity=None, alpha_relation=0.25)
    ent = []
    for r, y in zip(ENT_LOGITS, ENT_TARGETS):
        p = math.exp(-softmax_nll(r, y))
        ent.append(-((1 - p) ** 2) * math.log(p))
    rel = []
    for zs, ys in zip(REL_LOGITS, REL_TARGETS):
        terms = []
        for z, y in zip(zs, ys):
            p_t = sigmoid(z) if y else 1 - sigmoid(z)
            terms.append((0.25 if y else 0.75) * (1 - p_t) ** 2 * bce(z, y))
        rel.append(sum(terms) / 3)
    assert parts["entity"].item() == pytest.approx(sum(ent) / 3, rel=1e-5)
    assert parts["relation"].item() == pytest.approx(sum(rel) / 2, rel=1e-5)


# -- equivalences -------------------------------------------------------------------------------------
def random_batch(seed: int, n: int = 12, c: int = 4, m: int = 9, r: int = 3):
    g = torch.Generator().manual_seed(seed)
    el = torch.randn(n, 1 + c, generator=g) * 3
    et = torch.randint(0, 1 + c, (n,), generator=g)
    rl = torch.randn(m, r, generator=g) * 3
    rt = (torch.rand(m, r, generator=g) < 0.3).float()
    return el, et, rl, rt


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_focal_gamma_zero_without_alpha_is_spert_ce(seed: int) -> None:
    batch = random_batch(seed)
    ce, ce_parts = losses.spert_loss(*batch, kind="ce")
    focal, focal_parts = losses.spert_loss(*batch, kind="focal", gamma=0.0, alpha_entity=None, alpha_relation=None)
    torch.testing.assert_close(focal, ce, rtol=1e-6, atol=1e-7)
    for key in ce_parts:
        torch.testing.assert_close(focal_parts[key], ce_parts[key], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_class_balanced_beta_zero_is_spert_ce(seed: int) -> None:
    batch = random_batch(seed)
    cb_e = losses.class_balanced_weights([500, 3, 40, 7, 1], 0.0)
    cb_r = losses.class_balanced_weights([300, 2, 5, 90], 0.0)  # all present (an absent class weighs 0)
    ce, _ = losses.spert_loss(*batch, kind="ce")
    cb, _ = losses.spert_loss(*batch, kind="class_balanced", cb_entity=cb_e, cb_relation=cb_r)
    torch.testing.assert_close(cb, ce, rtol=1e-6, atol=1e-7)


# -- SpERT.MT's loss ------------------------------------------------------------------------------------
def mt_inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    ent_id = torch.randn(6, generator=g)
    ent_scores = torch.randn(6, 3, generator=g)
    ent_targets = t([1, 3, 0, 0, 2, 0], torch.long)
    ent_iou = t([1.0, 1.0, 0.5, 0.0, 1.0, 0.25])
    rel_id = torch.randn(4, generator=g)
    rel_scores = torch.randn(4, 2, generator=g)
    rel_targets = t([[1, 0], [1, 1], [0, 0], [0, 0]])
    return ent_id, ent_scores, ent_targets, ent_iou, rel_id, rel_scores, rel_targets


def test_multitask_loss_parts_and_weights() -> None:
    ent_id, ent_scores, ent_targets, ent_iou, rel_id, rel_scores, rel_targets = mt_inputs()
    weights = (1.0, 2.0, 0.5, 3.0)
    total, parts = losses.multitask_loss(ent_id, ent_scores, ent_targets, ent_iou, rel_id, rel_scores, rel_targets,
                                         iou_mode="scale", delta=1.0, ranking="hinge", margin=1.0, weights=weights)
    gold = ent_targets > 0
    # hand-built parts from the per-sample definitions
    ent_id_expected = []
    for z, g_, u in zip(ent_id.tolist(), gold.tolist(), ent_iou.tolist()):
        ent_id_expected.append(bce(z, 1.0) if g_ else (1 + u) * bce(z, 0.0))
    ent_cls_expected = []
    for row, y in zip(ent_scores[gold].tolist(), (ent_targets[gold] - 1).tolist()):
        ent_cls_expected.append(sum(max(0.0, 1.0 - (row[y] - row[k])) for k in range(3) if k != y) / 2)
    rel_id_expected = [bce(z, y) for z, y in zip(rel_id.tolist(), [1.0, 1.0, 0.0, 0.0])]
    s0 = rel_scores[0].tolist()
    rel_cls_expected = [max(0.0, 1.0 - (s0[0] - s0[1])), 0.0]  # pair 1 carries every type -> 0
    expected = {
        "entity_id": sum(ent_id_expected) / 6, "entity_cls": sum(ent_cls_expected) / 3,
        "relation_id": sum(rel_id_expected) / 4, "relation_cls": sum(rel_cls_expected) / 2,
    }
    for key, value in expected.items():
        assert parts[key].item() == pytest.approx(value, rel=1e-5), key
    weighted = sum(w * expected[k] for w, k in zip(weights, ("entity_id", "entity_cls", "relation_id", "relation_cls")))
    assert total.item() == pytest.approx(weighted, rel=1e-5)
    unit, unit_parts = losses.multitask_loss(ent_id, ent_scores, ent_targets, ent_iou, rel_id, rel_scores,
                                             rel_targets, iou_mode="scale", delta=1.0, ranking="hinge", margin=1.0,
                                             weights=(1.0, 1.0, 1.0, 1.0))
    assert unit.item() == pytest.approx(sum(v.item() for v in unit_parts.values()), rel=1e-6)


def test_multitask_iou_none_equals_scale_with_delta_zero() -> None:
    args = mt_inputs(3)
    kw = dict(ranking="lsep", margin=1.0, weights=(1.0, 1.0, 1.0, 1.0))
    none, _ = losses.multitask_loss(*args, iou_mode="none", delta=5.0, **kw)
    zero, _ = losses.multitask_loss(*args, iou_mode="scale", delta=0.0, **kw)
    torch.testing.assert_close(none, zero, rtol=0, atol=0)
    scaled, _ = losses.multitask_loss(*args, iou_mode="scale", delta=1.0, **kw)
    assert scaled.item() > none.item()  # negatives that overlap gold cost more


def test_multitask_without_relations_or_gold() -> None:
    ent_id, ent_scores, _, ent_iou, _, _, _ = mt_inputs()
    no_gold = torch.zeros(6, dtype=torch.long)
    total, parts = losses.multitask_loss(ent_id, ent_scores, no_gold, ent_iou, torch.zeros(0), torch.zeros(0, 2),
                                         torch.zeros(0, 2), iou_mode="none", delta=1.0, ranking="hinge", margin=1.0,
                                         weights=(1.0, 1.0, 1.0, 1.0))
    assert parts["entity_cls"].item() == 0.0
    assert parts["relation_id"].item() == 0.0 and parts["relation_cls"].item() == 0.0
    assert total.item() == pytest.approx(sum(bce(z, 0.0) for z in ent_id.tolist()) / 6, rel=1e-6)
    assert torch.isfinite(total)


def test_class_weights_of_a_split_without_relation_samples() -> None:
    """A training split with no pair of entities has no relation samples: spert_cb trains (the relation
    weights are never used) instead of failing on an all-zero count."""
    from erbench.models.documents import Document, Entity, TypeInventory
    from erbench.models.encoder import encode_documents, load_tokenizer
    from erbench.models.registry import method_options
    from erbench.models.statistics import corpus_statistics

    types = TypeInventory(("Peop", "Org"), ("Work_For",))
    docs = [Document(("mary", "sleeps", "."), (Entity("Peop", 0, 1),), (), None, i) for i in range(3)]
    encoded, _ = encode_documents(load_tokenizer("tiny-random"), docs, 64)
    stats = corpus_statistics(["class_counts", "class_weights"], encoded, types, method_options("spert_cb"))
    assert sum(stats["class_counts"]["relation"]) == 0 and sum(stats["class_counts"]["entity"]) > 0
    assert stats["class_weights"]["relation"].tolist() == [1.0, 1.0]
    assert stats["class_weights"]["entity"][0] > 0  # the entity side is weighed as before
