"""Classifier heads: SpERT's (SPEC 2) and SpERT.MT's identification + classification (SPEC 4).

A head set owns its linear layers, its loss and its decision rule, so a method is a choice of
head set plus options (models/registry.py), not a model subclass.
"""

from __future__ import annotations

import torch
from erbench.config import ModelOptions
from erbench.models import losses
from torch import nn


def _linear(n_in: int, n_out: int, std: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.normal_(layer.weight, std=std)  # BERT's initializer_range, as SpERT's heads
    nn.init.zeros_(layer.bias)
    return layer


class SpertHeads(nn.Module):
    """Entity: softmax over none + C types. Relation: R independent sigmoids (no 'none')."""

    def __init__(self, entity_in: int, relation_in: int, n_entity: int, n_relation: int, std: float = 0.02):
        super().__init__()
        self.entity_classifier = _linear(entity_in, 1 + n_entity, std)
        self.relation_classifier = _linear(relation_in, n_relation, std)
        self.logit_dim = 1 + n_entity

    def entity(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.entity_classifier(x)}

    def relation(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.relation_classifier(x)}

    @staticmethod
    def entity_features(out: dict[str, torch.Tensor], mode: str) -> torch.Tensor:
        logits = out["logits"]
        return torch.softmax(logits, dim=-1) if mode == "softmax" else logits

    @staticmethod
    def decide_entities(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """A span is an entity when its argmax is not 'no entity'; -> (mask [N], 0-based type [N])."""
        label = out["logits"].argmax(dim=-1)
        return label > 0, label - 1

    @staticmethod
    def entity_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, ent_type: torch.Tensor) -> torch.Tensor:
        """Softmax probability of the chosen entity type."""
        return torch.softmax(out["logits"][rows].float(), dim=-1).gather(1, (ent_type + 1).unsqueeze(1)).squeeze(1)

    @staticmethod
    def relation_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, rel_type: torch.Tensor) -> torch.Tensor:
        """Sigmoid probability of the relation type (the score the threshold compares)."""
        return torch.sigmoid(out["logits"][rows, rel_type].float())

    @staticmethod
    def decide_relations(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """Every type with sigmoid >= threshold gives a triple; -> (pair rows [K], type [K])."""
        hits = (torch.sigmoid(out["logits"]) >= options.rel_filter_threshold).nonzero()
        return hits[:, 0], hits[:, 1]

    @staticmethod
    def loss(ent, rel, batch, options: ModelOptions, class_weights: dict | None):
        weights = None
        if options.iou_mode == "scale":
            weights = losses.iou_scale(batch.ent_target > 0, batch.ent_iou, options.iou_delta)
        cw = class_weights or {}
        return losses.spert_loss(
            ent["logits"], batch.ent_target, rel["logits"], batch.rel_target, kind=options.loss,
            entity_weights=weights, cb_entity=cw.get("entity"), cb_relation=cw.get("relation"),
            gamma=options.focal_gamma, alpha_entity=options.focal_alpha_entity,
            alpha_relation=options.focal_alpha_relation,
        )


class MultiTaskHeads(nn.Module):
    """Identification logit + type scores, for entities and for relations (SpERT.MT)."""

    def __init__(self, entity_in: int, relation_in: int, n_entity: int, n_relation: int, std: float = 0.02):
        super().__init__()
        self.entity_id = _linear(entity_in, 1, std)
        self.entity_cls = _linear(entity_in, n_entity, std)
        self.relation_id = _linear(relation_in, 1, std)
        self.relation_cls = _linear(relation_in, n_relation, std)
        self.logit_dim = 1 + n_entity

    def entity(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"id": self.entity_id(x).squeeze(-1), "scores": self.entity_cls(x)}

    def relation(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"id": self.relation_id(x).squeeze(-1), "scores": self.relation_cls(x)}

    @staticmethod
    def entity_features(out: dict[str, torch.Tensor], mode: str) -> torch.Tensor:
        """l(s) = [z_id(s) ; type scores(s)]; `softmax` mode gives [sigmoid(z_id) ; softmax(scores)]."""
        z, scores = out["id"].unsqueeze(-1), out["scores"]
        if mode == "softmax":
            return torch.cat([torch.sigmoid(z), torch.softmax(scores, dim=-1)], dim=-1)
        return torch.cat([z, scores], dim=-1)

    @staticmethod
    def decide_entities(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """Entity when sigmoid(z_id) >= entity_threshold, typed by the argmax of its type scores."""
        return torch.sigmoid(out["id"]) >= options.entity_threshold, out["scores"].argmax(dim=-1)

    @staticmethod
    def entity_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, ent_type: torch.Tensor) -> torch.Tensor:
        """Identification probability sigmoid(z_id) (the score the entity threshold compares)."""
        return torch.sigmoid(out["id"][rows].float())

    @staticmethod
    def relation_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, rel_type: torch.Tensor) -> torch.Tensor:
        """Identification probability of the pair (the score the relation threshold compares)."""
        return torch.sigmoid(out["id"][rows].float())

    @staticmethod
    def decide_relations(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """Related when sigmoid(identification) >= rel_filter_threshold; one triple, argmax type [choice]."""
        rows = (torch.sigmoid(out["id"]) >= options.rel_filter_threshold).nonzero().squeeze(-1)
        return rows, out["scores"][rows].argmax(dim=-1)

    @staticmethod
    def loss(ent, rel, batch, options: ModelOptions, class_weights: dict | None):
        return losses.multitask_loss(
            ent["id"], ent["scores"], batch.ent_target, batch.ent_iou, rel["id"], rel["scores"], batch.rel_target,
            iou_mode=options.iou_mode, delta=options.iou_delta, ranking=options.ranking, margin=options.margin,
            weights=(options.weight_entity_id, options.weight_entity_cls, options.weight_rel_id,
                     options.weight_rel_cls),
        )


HEADS = {"spert": SpertHeads, "multitask": MultiTaskHeads}
