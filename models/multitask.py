"""SpERT.MT's classifier readings beyond the specified one: the scopes a type classifier trains on, CR-CNN's
ranking loss, and the decision rules that read a classifier with a "none" output (docs/methods.md,
"SpERT.MT's unstated choices"). Pure functions of tensors; `erbench.models.heads` and
`erbench.models.losses` call them only when an option is set away from its default.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from erbench.models.options import ModelOptions, has_none_output


# -- losses -----------------------------------------------------------------------------------------------
def crcnn_loss(scores: torch.Tensor, gold: torch.Tensor, margin_pos: float, margin_neg: float,
               gamma: float) -> torch.Tensor:
    """CR-CNN's ranking loss (dos Santos, Xiang & Zhou 2015) per sample; scores, gold [N, K] -> [N].

    "None" has no score. A sample with gold types Y pays the mean over y in Y of
    log(1 + exp(gamma (m+ - s_y))) plus log(1 + exp(gamma (m- + s_c))), c the best-scoring type outside
    Y (no such term when Y holds every type); a negative sample (Y empty) pays only the second term,
    c its best type. With one gold type this is the published loss; the mean over Y is our
    multi-label form for relations.
    """
    gold = gold.bool()
    n_gold = gold.sum(dim=-1)
    positive = (F.softplus(gamma * (margin_pos - scores)) * gold).sum(dim=-1) / n_gold.clamp(min=1)
    best_wrong = scores.masked_fill(gold, float("-inf")).amax(dim=-1)
    has_wrong = n_gold < scores.shape[-1]
    negative = F.softplus(gamma * (margin_neg + torch.where(has_wrong, best_wrong, torch.zeros_like(best_wrong))))
    return positive + torch.where(has_wrong, negative, torch.zeros_like(negative))


def trained_rows(is_positive: torch.Tensor, z_id: torch.Tensor, scope: str, threshold: float) -> torch.Tensor | None:
    """The samples a classifier trains on: gold ones (`gold`), every one (`all`: None, no indexing), or
    gold ones plus those the identification head accepts, sigmoid(z_id) >= threshold, detached (`accepted`)."""
    if scope == "all":
        return None
    if scope == "accepted":
        return is_positive | (torch.sigmoid(z_id.detach()) >= threshold)
    return is_positive


def classifier_terms(ent_id: torch.Tensor, ent_scores: torch.Tensor, entity_targets: torch.Tensor,
                     rel_id: torch.Tensor, rel_scores: torch.Tensor, rel_targets: torch.Tensor,
                     options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample entity and relation classification terms of `mt_cls_scope` all / accepted, or of
    `ranking: crcnn` at any scope. With a "none" output (not crcnn) they are SpERT's: softmax
    cross-entropy over none + C types, and per-type sigmoid BCE averaged over types."""
    ent_rows = trained_rows(entity_targets > 0, ent_id, options.mt_cls_scope, options.entity_threshold)
    rel_rows = trained_rows(rel_targets.sum(dim=-1) > 0, rel_id, options.mt_cls_scope, options.rel_filter_threshold)
    if ent_rows is not None:
        ent_scores, entity_targets = ent_scores[ent_rows], entity_targets[ent_rows]
    if rel_rows is not None:
        rel_scores, rel_targets = rel_scores[rel_rows], rel_targets[rel_rows]
    if options.ranking == "crcnn":
        crcnn = (options.crcnn_margin_pos, options.crcnn_margin_neg, options.crcnn_gamma)
        gold_types = F.one_hot(entity_targets, ent_scores.shape[-1] + 1)[:, 1:]
        return crcnn_loss(ent_scores, gold_types, *crcnn), crcnn_loss(rel_scores, rel_targets, *crcnn)
    ent = F.cross_entropy(ent_scores, entity_targets, reduction="none")
    rel = F.binary_cross_entropy_with_logits(rel_scores, rel_targets, reduction="none").mean(dim=-1)
    return ent, rel


# -- decisions --------------------------------------------------------------------------------------------
def type_scores(scores: torch.Tensor, options: ModelOptions, side: str) -> torch.Tensor:
    """The C (or R) type columns of a classifier's output: the entity "none" column dropped."""
    return scores[..., 1:] if side == "entity" and has_none_output(options) else scores


def type_probabilities(scores: torch.Tensor, options: ModelOptions, side: str) -> torch.Tensor:
    """Each type's probability as the classifier was trained: a softmax over the C types (`mt_cls_scope:
    gold`, SpERT.MT as specified), over none + C types without the none column (entity, with a none
    output), a sigmoid per type (relations with a none output; CR-CNN's scores, typed when > 0)."""
    if options.ranking == "crcnn":
        return torch.sigmoid(scores)
    if not has_none_output(options):
        return torch.softmax(scores, dim=-1)
    if side == "entity":
        return torch.softmax(scores, dim=-1)[..., 1:]
    return torch.sigmoid(scores)


def entity_classifier_accepts(scores: torch.Tensor, options: ModelOptions) -> torch.Tensor:
    """The classifier's own entity decision [N]: its argmax is not "none" (as SpERT decides); CR-CNN: the
    best type's score is above 0."""
    if options.ranking == "crcnn":
        return scores.amax(dim=-1) > 0
    return scores.argmax(dim=-1) > 0


def relation_classifier_accepts(out: dict[str, torch.Tensor], options: ModelOptions) -> torch.Tensor:
    """The classifier's own decision per pair and type [N, R]: sigmoid >= rel_filter_threshold (as SpERT
    decides); CR-CNN: score above 0 (sigmoid > 0.5). With `rel_gate: args` (mt_decision cls) the
    probability is first multiplied by the arguments' gate."""
    p = torch.sigmoid(out["scores"])
    if "gate" in out and options.mt_decision == "cls":
        p = p * out["gate"].unsqueeze(-1)
    return p > 0.5 if options.ranking == "crcnn" else p >= options.rel_filter_threshold


def argument_gate(entity_id: torch.Tensor, head: torch.Tensor, tail: torch.Tensor) -> torch.Tensor:
    """`rel_gate: args`: sigmoid(z_id) of a pair's head times that of its tail [K]."""
    p = torch.sigmoid(entity_id)
    return p.index_select(0, head) * p.index_select(0, tail)
