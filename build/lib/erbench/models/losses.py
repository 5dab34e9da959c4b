"""Every method's loss, as pure functions of tensors (SPEC 2, 4, 5). The trainer steps the optimizer.

Per-sample terms are computed first, multiplied by per-sample weights (IoU scaling,
class-balanced weights), then reduced the way SpERT reduces: mean over the batch's entity
samples; mean over relation types, then mean over the batch's relation samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def entity_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy per entity sample; logits [N, 1 + C], targets [N] -> [N]."""
    return F.cross_entropy(logits, targets, reduction="none")


def entity_focal(logits: torch.Tensor, targets: torch.Tensor, gamma: float, alpha: float | None = None) -> torch.Tensor:
    """Softmax focal loss -(1 - p_y)^gamma log p_y per sample (Lin et al. 2017); alpha weighs non-none classes."""
    log_p = F.log_softmax(logits, dim=-1).gather(1, targets.unsqueeze(1)).squeeze(1)
    loss = -((1.0 - log_p.exp()) ** gamma) * log_p
    if alpha is not None:
        loss = loss * torch.where(targets > 0, alpha, 1.0 - alpha)
    return loss


def relation_bce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per relation sample and type; [N, R] -> [N, R]."""
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none")


def relation_focal(logits: torch.Tensor, targets: torch.Tensor, gamma: float, alpha: float | None) -> torch.Tensor:
    """Sigmoid focal loss per type, -alpha_t (1 - p_t)^gamma log p_t (as torchvision's); [N, R] -> [N, R]."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha is not None:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss


def class_balanced_weights(counts: list[float], beta: float) -> torch.Tensor:
    """Effective-number weights (Cui et al. 2019): w_c = (1 - beta) / (1 - beta^n_c), scaled so the
    classes present in the training data sum to their number.

    A class with no training samples is never a target, so it is left out of the normalisation and
    given weight 0 (giving it n_c = 1 and keeping it in would shrink every real class's weight by the
    ratio of its effective number to 1: about 50x for CoNLL04's relation classes at beta 0.9999).
    """
    n = torch.tensor([float(c) for c in counts], dtype=torch.float64)
    present = n > 0
    if not bool(present.any()):
        raise ValueError("class-balanced weights: every class has zero training samples")
    if beta == 0.0:
        w = torch.ones_like(n)
    else:
        w = (1.0 - beta) / (1.0 - torch.pow(torch.tensor(beta, dtype=torch.float64), n.clamp(min=1.0)))
    w = torch.where(present, w, torch.zeros_like(w))
    return (w * int(present.sum()) / w.sum()).float()


def iou_scale(targets_gold: torch.Tensor, iou: torch.Tensor, delta: float) -> torch.Tensor:
    """Per-sample weight 1 + delta * IoU*(s) for negatives, 1 for positives (SPEC 4)."""
    return torch.where(targets_gold, torch.ones_like(iou), 1.0 + delta * iou)


def identification_bce(
    logits: torch.Tensor, is_gold: torch.Tensor, iou: torch.Tensor, mode: str, delta: float
) -> torch.Tensor:
    """Entity identification BCE per span with IoU-based dynamic scaling; logits [N] -> [N].

    mode "scale": negatives weighted by 1 + delta * IoU*; "soft_target": target IoU* for
    negatives (1 for positives); "none": plain BCE.
    """
    if mode == "soft_target":
        target = torch.where(is_gold, torch.ones_like(iou), iou)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss = F.binary_cross_entropy_with_logits(logits, is_gold.float(), reduction="none")
    if mode == "scale":
        loss = loss * iou_scale(is_gold, iou, delta)
    return loss


def ranking_loss(scores: torch.Tensor, gold: torch.Tensor, margin: float, kind: str = "hinge") -> torch.Tensor:
    """Pairwise ranking loss per sample between gold and non-gold types; scores, gold [N, K] -> [N].

    hinge: mean over (k gold, l not gold) of max(0, margin - (s_k - s_l)); a sample with no
    non-gold type costs 0. lsep: log(1 + sum over the same pairs of exp(s_l - s_k)).
    """
    gold = gold.bool()
    diff = scores.unsqueeze(2) - scores.unsqueeze(1)  # [N, K, K]: s_k - s_l
    valid = gold.unsqueeze(2) & ~gold.unsqueeze(1)
    if kind == "hinge":
        terms = torch.clamp(margin - diff, min=0.0) * valid
        return terms.sum(dim=(1, 2)) / valid.sum(dim=(1, 2)).clamp(min=1)
    if kind == "lsep":
        exp_terms = torch.exp(-diff).masked_fill(~valid, 0.0)
        return torch.log1p(exp_terms.sum(dim=(1, 2)))
    raise ValueError(f"ranking: expected hinge or lsep, got '{kind}'")


def mean_or_zero(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return values.mean() if values.numel() else like.new_zeros(())


def spert_loss(
    entity_logits: torch.Tensor, entity_targets: torch.Tensor, rel_logits: torch.Tensor, rel_targets: torch.Tensor,
    *, kind: str = "ce", entity_weights: torch.Tensor | None = None, cb_entity: torch.Tensor | None = None,
    cb_relation: torch.Tensor | None = None, gamma: float = 2.0, alpha_entity: float | None = None,
    alpha_relation: float | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """SpERT's L = L_e + L_r with the loss kind of SPEC 5 (ce, focal, class_balanced)."""
    if kind == "focal":
        ent = entity_focal(entity_logits, entity_targets, gamma, alpha_entity)
    else:
        ent = entity_ce(entity_logits, entity_targets)
    if kind == "class_balanced":
        ent = ent * cb_entity[entity_targets]
    if entity_weights is not None:
        ent = ent * entity_weights
    loss_e = ent.mean()
    if rel_logits.shape[0] == 0:
        return loss_e, {"entity": loss_e.detach(), "relation": loss_e.new_zeros(())}
    if kind == "focal":
        rel = relation_focal(rel_logits, rel_targets, gamma, alpha_relation).mean(dim=-1)
    else:
        rel = relation_bce(rel_logits, rel_targets).mean(dim=-1)
    if kind == "class_balanced":
        positive = rel_targets.sum(dim=-1)
        type_w = (rel_targets * cb_relation[1:]).sum(dim=-1) / positive.clamp(min=1)
        rel = rel * torch.where(positive > 0, type_w, cb_relation[0].expand_as(type_w))
    loss_r = rel.mean()
    return loss_e + loss_r, {"entity": loss_e.detach(), "relation": loss_r.detach()}


def multitask_loss(
    ent_id: torch.Tensor, ent_scores: torch.Tensor, entity_targets: torch.Tensor, entity_iou: torch.Tensor,
    rel_id: torch.Tensor, rel_scores: torch.Tensor, rel_targets: torch.Tensor, *, iou_mode: str, delta: float,
    ranking: str, margin: float, weights: tuple[float, float, float, float],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """SpERT.MT's L = L_ent_id + L_ent_cls + L_rel_id + L_rel_cls (SPEC 4), each weighted."""
    is_gold = entity_targets > 0
    l_ent_id = identification_bce(ent_id, is_gold, entity_iou, iou_mode, delta).mean()
    gold_types = F.one_hot(entity_targets[is_gold] - 1, ent_scores.shape[-1])
    l_ent_cls = mean_or_zero(ranking_loss(ent_scores[is_gold], gold_types, margin, ranking), l_ent_id)
    related = rel_targets.sum(dim=-1) > 0
    if rel_id.shape[0]:
        l_rel_id = F.binary_cross_entropy_with_logits(rel_id, related.float())
    else:
        l_rel_id = l_ent_id.new_zeros(())
    l_rel_cls = mean_or_zero(ranking_loss(rel_scores[related], rel_targets[related], margin, ranking), l_ent_id)
    w = weights
    total = w[0] * l_ent_id + w[1] * l_ent_cls + w[2] * l_rel_id + w[3] * l_rel_cls
    parts = {"entity_id": l_ent_id, "entity_cls": l_ent_cls, "relation_id": l_rel_id, "relation_cls": l_rel_cls}
    return total, {k: v.detach() for k, v in parts.items()}
