"""Classifier heads: SpERT's and SpERT.MT's identification + classification (docs/methods.md).

A head set owns its linear layers, what it feeds into the pair vector and its decision rule; its
losses are registered in `erbench.models.losses` under the head set's name. A method is a choice of
head set, loss and options (models/registry.py), not a model subclass. Adding a head set is one
`@register_heads` class with the methods of `SpertHeads`.
"""

from __future__ import annotations

from dataclasses import fields

import torch
from erbench.models.options import MULTITASK_ONLY, ConfigError, ModelOptions
from torch import nn

HEADS: dict[str, type[nn.Module]] = {}


def register_heads(name: str, *, display: str):
    """Class decorator: register a head set under `name` (the value of the `heads` option)."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in HEADS:
            raise ValueError(f"heads '{name}' are already registered")
        cls.name, cls.display = name, display
        HEADS[name] = cls
        return cls

    return add


def get_heads(name: str) -> type[nn.Module]:
    if name not in HEADS:
        raise ConfigError(f"heads: expected one of {', '.join(HEADS)}, got '{name}'")
    return HEADS[name]


def _defaults_only(options: ModelOptions, names: tuple[str, ...], heads: str) -> None:
    default = {f.name: f.default for f in fields(ModelOptions)}
    for name in names:
        if getattr(options, name) != default[name]:
            raise ConfigError(f"{name}={getattr(options, name)} needs heads=multitask (heads={heads})")


# entity_logits modes that bound the logits before they enter the pair vector
BOUND = {"softmax": lambda x: torch.softmax(x, dim=-1), "sigmoid": torch.sigmoid}


def _linear(n_in: int, n_out: int, std: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.normal_(layer.weight, std=std)  # BERT's initializer_range, as SpERT's heads
    nn.init.zeros_(layer.bias)
    return layer


@register_heads("spert", display="SpERT")
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
    def check(options: ModelOptions) -> None:
        """Reject options these heads cannot honour."""
        if options.iou_mode == "soft_target":
            raise ConfigError("iou_mode=soft_target needs heads=multitask (SpERT heads use a softmax)")
        _defaults_only(options, MULTITASK_ONLY, "spert")

    @staticmethod
    def entity_features(out: dict[str, torch.Tensor], mode: str) -> torch.Tensor:
        """The entity logits the pair vector gets: raw, softmax- or sigmoid-bounded (layernorm: raw here,
        normalised by the model)."""
        logits = out["logits"]
        return BOUND[mode](logits) if mode in BOUND else logits

    @staticmethod
    def decide_entities(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """A span is an entity when its argmax is not 'no entity'; -> (mask [N], 0-based type [N])."""
        label = out["logits"].argmax(dim=-1)
        return label > 0, label - 1

    @staticmethod
    def entity_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, ent_type: torch.Tensor,
                          options: ModelOptions | None = None) -> torch.Tensor:
        """Softmax probability of the chosen entity type."""
        return torch.softmax(out["logits"][rows].float(), dim=-1).gather(1, (ent_type + 1).unsqueeze(1)).squeeze(1)

    @staticmethod
    def relation_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, rel_type: torch.Tensor,
                            options: ModelOptions | None = None) -> torch.Tensor:
        """Sigmoid probability of the relation type (the score the threshold compares)."""
        return torch.sigmoid(out["logits"][rows, rel_type].float())

    @staticmethod
    def decide_relations(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """Every type with sigmoid >= threshold gives a triple; -> (pair rows [K], type [K])."""
        hits = (torch.sigmoid(out["logits"]) >= options.rel_filter_threshold).nonzero()
        return hits[:, 0], hits[:, 1]


@register_heads("multitask", display="SpERT.MT")
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
    def check(options: ModelOptions) -> None:
        """Every option applies to these heads."""

    @staticmethod
    def entity_features(out: dict[str, torch.Tensor], mode: str) -> torch.Tensor:
        """l(s) = [z_id(s) ; type scores(s)]; `softmax` gives [sigmoid(z_id) ; softmax(scores)], `sigmoid`
        [sigmoid(z_id) ; sigmoid(scores)] (layernorm: raw here, normalised by the model)."""
        z, scores = out["id"].unsqueeze(-1), out["scores"]
        if mode in BOUND:
            return torch.cat([torch.sigmoid(z), BOUND[mode](scores)], dim=-1)
        return torch.cat([z, scores], dim=-1)

    @staticmethod
    def decision_score(out: dict[str, torch.Tensor], options: ModelOptions | None) -> torch.Tensor:
        """What the threshold compares: sigmoid(z_id) (`mt_decision: id`), or sigmoid(z_id) times the
        softmax probability of the argmax type (`mt_decision: product`)."""
        p_id = torch.sigmoid(out["id"])
        if options is not None and options.mt_decision == "product":
            return p_id * torch.softmax(out["scores"], dim=-1).amax(dim=-1)
        return p_id

    @staticmethod
    def decide_entities(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """Entity when its decision score >= entity_threshold, typed by the argmax of its type scores."""
        return MultiTaskHeads.decision_score(out, options) >= options.entity_threshold, out["scores"].argmax(dim=-1)

    @staticmethod
    def entity_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, ent_type: torch.Tensor,
                          options: ModelOptions | None = None) -> torch.Tensor:
        """The decision score of each row (the score the entity threshold compares)."""
        return MultiTaskHeads.decision_score({k: v[rows].float() for k, v in out.items()}, options)

    @staticmethod
    def relation_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, rel_type: torch.Tensor,
                            options: ModelOptions | None = None) -> torch.Tensor:
        """The decision score of each pair row (the score the relation threshold compares)."""
        return MultiTaskHeads.decision_score({k: v[rows].float() for k, v in out.items()}, options)

    @staticmethod
    def decide_relations(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """Related when the decision score >= rel_filter_threshold; one triple, argmax type [choice]."""
        rows = (MultiTaskHeads.decision_score(out, options) >= options.rel_filter_threshold).nonzero().squeeze(-1)
        return rows, out["scores"][rows].argmax(dim=-1)
