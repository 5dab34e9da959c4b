"""Every method's loss (docs/methods.md): pure functions of tensors, and the loss registry.

Per-sample terms are computed first, multiplied by per-sample weights (IoU scaling,
class-balanced weights), then reduced the way SpERT reduces: mean over the batch's entity
samples; mean over relation types, then mean over the batch's relation samples.

A registered loss is one function `fn(ent, rel, batch, options, stats) -> (total, parts)`: the head
set's entity and relation outputs, the training `Batch`, the `ModelOptions` and the corpus statistics
it declared with `needs` (names of `erbench.models.statistics.STATISTICS`, computed once per run).
`parts` maps each term's name to its (undetached) value; the trainer logs them and their gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from erbench.models.multitask import classifier_terms
from erbench.models.options import ConfigError

if TYPE_CHECKING:
    from erbench.models.collate import Batch
    from erbench.models.options import ModelOptions

LossResult = tuple[torch.Tensor, dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Loss:
    name: str
    heads: str  # the head set whose outputs it reads
    fn: Callable[[dict, dict, Batch, ModelOptions, Mapping[str, Any]], LossResult]
    needs: tuple[str, ...] = ()  # corpus statistics it reads from `stats`
    description: str = ""


LOSSES: dict[tuple[str, str], Loss] = {}  # (heads, name) -> Loss


def register_loss(name: str, *, heads: str, description: str, needs: tuple[str, ...] = ()):
    """Decorator: register `fn(ent, rel, batch, options, stats)` as loss `name` of head set `heads`."""

    def add(fn):
        if (heads, name) in LOSSES:
            raise ValueError(f"loss '{name}' of heads '{heads}' is already registered")
        LOSSES[(heads, name)] = Loss(name, heads, fn, tuple(needs), description)
        return fn

    return add


def get_loss(heads: str, name: str) -> Loss:
    """The loss `name` of head set `heads` (`erbench.models.registry.method_options` explains a miss)."""
    if (heads, name) not in LOSSES:
        own = [n for h, n in LOSSES if h == heads]
        raise ConfigError(f"loss: expected one of {', '.join(own)}, got '{name}'")
    return LOSSES[(heads, name)]


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


def iou_scale(targets_gold: torch.Tensor, iou: torch.Tensor, delta: float, positive: str = "one") -> torch.Tensor:
    """Per-sample weight 1 + delta * IoU*(s) for negatives; positives weigh 1 (`positive="one"`, as
    the method states) or 1 + delta, the same formula at IoU* = 1 (`positive="scaled"`)."""
    positive_weight = torch.ones_like(iou) if positive == "one" else torch.full_like(iou, 1.0 + delta)
    return torch.where(targets_gold, positive_weight, 1.0 + delta * iou)


def identification_bce(
    logits: torch.Tensor, is_gold: torch.Tensor, iou: torch.Tensor, mode: str, delta: float, positive: str = "one"
) -> torch.Tensor:
    """Entity identification BCE per span with IoU-based dynamic scaling; logits [N] -> [N].

    mode "scale": negatives weighted by 1 + delta * IoU* (positives by `iou_scale`'s `positive`);
    "soft_target": target IoU* for negatives (1 for positives); "downweight": negatives weighted by
    1 - IoU* (Locate-and-Label's direction; positives 1); "none": plain BCE.
    """
    if mode == "soft_target":
        target = torch.where(is_gold, torch.ones_like(iou), iou)
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    loss = F.binary_cross_entropy_with_logits(logits, is_gold.float(), reduction="none")
    if mode == "scale":
        loss = loss * iou_scale(is_gold, iou, delta, positive)
    elif mode == "downweight":
        loss = loss * iou_downweight(is_gold, iou)
    return loss


def iou_downweight(targets_gold: torch.Tensor, iou: torch.Tensor) -> torch.Tensor:
    """Per-sample weight 1 - IoU*(s) for negatives, 1 for positives (`iou_mode: downweight`)."""
    return torch.where(targets_gold, torch.ones_like(iou), 1.0 - iou)


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
    """SpERT's L = L_e + L_r with the built-in per-sample terms `kind`: ce, focal or class_balanced
    (cross-entropy times the class weights `cb_entity`, `cb_relation`); see the registered losses below."""
    if kind == "focal":
        ent = entity_focal(entity_logits, entity_targets, gamma, alpha_entity)
    else:
        ent = entity_ce(entity_logits, entity_targets)
    if kind == "class_balanced":
        ent = ent * cb_entity[entity_targets]
    if entity_weights is not None:
        ent = ent * entity_weights
    if rel_logits.shape[0] == 0:
        return spert_reduce(ent, None)
    if kind == "focal":
        rel = relation_focal(rel_logits, rel_targets, gamma, alpha_relation).mean(dim=-1)
    else:
        rel = relation_bce(rel_logits, rel_targets).mean(dim=-1)
    if kind == "class_balanced":
        positive = rel_targets.sum(dim=-1)
        type_w = (rel_targets * cb_relation[1:]).sum(dim=-1) / positive.clamp(min=1)
        rel = rel * torch.where(positive > 0, type_w, cb_relation[0].expand_as(type_w))
    return spert_reduce(ent, rel)


def spert_reduce(entity_terms: torch.Tensor, relation_terms: torch.Tensor | None) -> LossResult:
    """SpERT's reduction of per-sample terms: L = mean entity term + mean relation term (the relation
    term 0 when the batch has no relation sample)."""
    loss_e = entity_terms.mean()
    if relation_terms is None or relation_terms.shape[0] == 0:
        return loss_e, {"entity": loss_e, "relation": loss_e.new_zeros(())}
    loss_r = relation_terms.mean()
    return loss_e + loss_r, {"entity": loss_e, "relation": loss_r}


def multitask_loss(
    ent_id: torch.Tensor, ent_scores: torch.Tensor, entity_targets: torch.Tensor, entity_iou: torch.Tensor,
    rel_id: torch.Tensor, rel_scores: torch.Tensor, rel_targets: torch.Tensor, *, iou_mode: str, delta: float,
    ranking: str, margin: float, weights: tuple[float, float, float, float], norm: str = "term",
    iou_positive: str = "one", options: ModelOptions | None = None, gold_rows: torch.Tensor | None = None,
    related_rows: torch.Tensor | None = None,
) -> LossResult:
    """SpERT.MT's L = w1 L_ent_id + w2 L_ent_cls + w3 L_rel_id + w4 L_rel_cls, each term normalised by
    `norm` (`mt_loss_norm`): "term", a mean over its own samples (all entity samples, gold spans, all
    pairs, related pairs); "side", a sum over the count of its side's samples (entity samples for both
    entity terms, pairs for both relation terms), so a gold span's typing weighs what its
    identification weighs; "pooled", a sum over the count of all four terms' samples together.

    `options` with `mt_cls_scope` all / accepted or `ranking: crcnn` give the classification terms of
    `erbench.models.multitask.classifier_terms` (docs/methods.md, "SpERT.MT's unstated choices").
    `gold_rows`, `related_rows`: the indices of the gold entity rows and related pairs (the batch's
    `ent_gold_rows`, `rel_related_rows`); given, rows are selected without a boolean mask, whose size only
    the device knows (a host sync on CUDA), with the same values and gradients."""
    is_gold = entity_targets > 0
    related = rel_targets.sum(dim=-1) > 0

    def gold(x: torch.Tensor) -> torch.Tensor:
        return x[is_gold] if gold_rows is None else x.index_select(0, gold_rows)

    def rel(x: torch.Tensor) -> torch.Tensor:
        return x[related] if related_rows is None else x.index_select(0, related_rows)

    other = options is not None and (options.mt_cls_scope != "gold" or options.ranking == "crcnn")
    if other:
        ent_cls, rel_cls = classifier_terms(ent_id, ent_scores, entity_targets, rel_id, rel_scores, rel_targets,
                                            options)
    else:  # SpERT.MT as specified: pairwise ranking of the gold types on gold spans and related pairs
        # one-hot by comparison: F.one_hot checks its labels' range on the host (a sync, off CUDA); same rows
        labels = gold(entity_targets) - 1
        gold_types = (labels.unsqueeze(-1) == torch.arange(ent_scores.shape[-1], device=labels.device)).long()
    terms = {  # in this order on the specified reading: the autograd graph of every run before these options
        "entity_id": identification_bce(ent_id, is_gold, entity_iou, iou_mode, delta, iou_positive),
        "entity_cls": ent_cls if other else ranking_loss(gold(ent_scores), gold_types, margin, ranking),
        "relation_id": F.binary_cross_entropy_with_logits(rel_id, related.float(), reduction="none"),
        "relation_cls": rel_cls if other else ranking_loss(rel(rel_scores), rel(rel_targets), margin, ranking),
    }
    n_ent, n_rel = ent_id.shape[0], rel_id.shape[0]
    zero = ent_id.new_zeros(())
    if norm == "term":  # .mean(), as before these options existed (sum / n may differ in the last bit)
        parts = {k: v.mean() if v.shape[0] else zero for k, v in terms.items()}
    elif norm == "side":
        counts = {"entity_id": n_ent, "entity_cls": n_ent, "relation_id": n_rel, "relation_cls": n_rel}
    elif norm == "pooled":
        counts = dict.fromkeys(terms, sum(v.shape[0] for v in terms.values()))
    else:
        raise ValueError(f"mt_loss_norm: expected term, side or pooled, got '{norm}'")
    if norm != "term":
        parts = {k: v.sum() / counts[k] if v.shape[0] else zero for k, v in terms.items()}
    w = weights
    total = (w[0] * parts["entity_id"] + w[1] * parts["entity_cls"] + w[2] * parts["relation_id"]
             + w[3] * parts["relation_cls"])
    return total, parts


# -- the registered losses ---------------------------------------------------------------------------
def _iou_weights(batch: Batch, options: ModelOptions) -> torch.Tensor | None:
    if options.iou_mode == "downweight":
        return iou_downweight(batch.ent_target > 0, batch.ent_iou)
    if options.iou_mode != "scale":
        return None
    return iou_scale(batch.ent_target > 0, batch.ent_iou, options.iou_delta, options.iou_positive)


@register_loss("ce", heads="spert", description="SpERT: softmax cross-entropy (entities) + per-type BCE (relations)")
def spert_ce(ent: dict, rel: dict, batch: Batch, options: ModelOptions, stats: Mapping[str, Any]) -> LossResult:
    return spert_loss(ent["logits"], batch.ent_target, rel["logits"], batch.rel_target, kind="ce",
                      entity_weights=_iou_weights(batch, options))


@register_loss("focal", heads="spert", description="softmax focal loss (entities), sigmoid focal loss (relations)")
def spert_focal(ent: dict, rel: dict, batch: Batch, options: ModelOptions, stats: Mapping[str, Any]) -> LossResult:
    return spert_loss(ent["logits"], batch.ent_target, rel["logits"], batch.rel_target, kind="focal",
                      entity_weights=_iou_weights(batch, options), gamma=options.focal_gamma,
                      alpha_entity=options.focal_alpha_entity, alpha_relation=options.focal_alpha_relation)


@register_loss("class_balanced", heads="spert", needs=("class_weights",),
               description="cross-entropy weighted by the effective number of samples of each class")
def spert_class_balanced(ent: dict, rel: dict, batch: Batch, options: ModelOptions,
                         stats: Mapping[str, Any]) -> LossResult:
    weights = stats["class_weights"]
    return spert_loss(ent["logits"], batch.ent_target, rel["logits"], batch.rel_target, kind="class_balanced",
                      entity_weights=_iou_weights(batch, options), cb_entity=weights["entity"],
                      cb_relation=weights["relation"])


@register_loss("ce", heads="multitask", description="SpERT.MT: identification BCE (IoU-scaled) + pairwise ranking "
               "for types, on both sides (the name 'ce' is the default every run folder records)")
def multitask(ent: dict, rel: dict, batch: Batch, options: ModelOptions, stats: Mapping[str, Any]) -> LossResult:
    return multitask_loss(
        ent["id"], ent["scores"], batch.ent_target, batch.ent_iou, rel["id"], rel["scores"], batch.rel_target,
        iou_mode=options.iou_mode, delta=options.iou_delta, ranking=options.ranking, margin=options.margin,
        weights=(options.weight_entity_id, options.weight_entity_cls, options.weight_rel_id, options.weight_rel_cls),
        norm=options.mt_loss_norm, iou_positive=options.iou_positive, options=options,
        gold_rows=batch.ent_gold_rows, related_rows=batch.rel_related_rows,
    )
