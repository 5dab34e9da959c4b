"""Classifier heads: SpERT's and SpERT.MT's identification + classification (docs/methods.md).

A head set owns its linear layers, what it feeds into the pair vector and its decision rule; its
losses are registered in `erbench.models.losses` under the head set's name. A method is a choice of
head set, loss and options (models/registry.py), not a model subclass. Adding a head set is one
`@register_heads` class with the methods of `SpertHeads`.
"""

from __future__ import annotations

from dataclasses import fields

import torch
from erbench.models import multitask
from erbench.models.options import MULTITASK_ONLY, ConfigError, ModelOptions, has_none_output
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


def _linear(n_in: int, n_out: int, std: float, generator: torch.Generator | None = None) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    if generator is None:
        nn.init.normal_(layer.weight, std=std)  # BERT's initializer_range, as SpERT's heads
    else:
        nn.init.normal_(layer.weight, std=std, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


def head_layer(n_in: int, n_out: int, std: float, options: ModelOptions | None,
               generator: torch.Generator | None = None) -> nn.Module:
    """One head: a linear layer, or with `head_hidden` N > 0 (docs/methods.md) linear -> activation ->
    dropout -> linear, the hidden layer drawn first."""
    if options is None or options.head_hidden == 0:
        return _linear(n_in, n_out, std, generator)
    hidden = _linear(n_in, options.head_hidden, std, generator)
    return nn.Sequential(hidden, ACTIVATIONS[options.head_activation](), nn.Dropout(options.head_dropout),
                         _linear(options.head_hidden, n_out, std, generator))


@register_heads("spert", display="SpERT")
class SpertHeads(nn.Module):
    """Entity: softmax over none + C types. Relation: R independent sigmoids (no 'none')."""

    def __init__(self, entity_in: int, relation_in: int, n_entity: int, n_relation: int, std: float = 0.02,
                 options: ModelOptions | None = None):
        super().__init__()
        self.entity_classifier = head_layer(entity_in, 1 + n_entity, std, options)
        self.relation_classifier = head_layer(relation_in, n_relation, std, options)
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
        if options.ranking == "crcnn":
            raise ConfigError("ranking=crcnn needs heads=multitask (SpERT heads train by cross-entropy)")
        _defaults_only(options, MULTITASK_ONLY, "spert")

    @staticmethod
    def entity_features(out: dict[str, torch.Tensor], mode: str, options: ModelOptions | None = None) -> torch.Tensor:
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
    """Identification logit + type scores, for entities and for relations (SpERT.MT). With `mt_cls_scope`
    all or accepted (not crcnn) the entity type scores have a "none" column first (1 + C outputs)."""

    def __init__(self, entity_in: int, relation_in: int, n_entity: int, n_relation: int, std: float = 0.02,
                 options: ModelOptions | None = None):
        super().__init__()
        scope = options.mt_cls_scope if options is not None else "gold"
        if scope == "gold":  # the order every run before mt_cls_scope used
            self.entity_id = head_layer(entity_in, 1, std, options)
            self.entity_cls = head_layer(entity_in, n_entity, std, options)
            self.relation_id = head_layer(relation_in, 1, std, options)
            self.relation_cls = head_layer(relation_in, n_relation, std, options)
        else:  # the classifiers draw what SpERT's two heads draw; the identification layers draw from their
            # own generator (seeded from the run's seed), leaving the global stream where SpERT leaves it
            self.entity_cls = head_layer(entity_in, n_entity + has_none_output(options), std, options)
            self.relation_cls = head_layer(relation_in, n_relation, std, options)
            generator = torch.Generator().manual_seed(torch.initial_seed() + 1)
            with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws are discarded
                self.entity_id = head_layer(entity_in, 1, std, options, generator)
                self.relation_id = head_layer(relation_in, 1, std, options, generator)
        self.logit_dim = 1 + n_entity

    def entity(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"id": self.entity_id(x).squeeze(-1), "scores": self.entity_cls(x)}

    def relation(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"id": self.relation_id(x).squeeze(-1), "scores": self.relation_cls(x)}

    @staticmethod
    def check(options: ModelOptions) -> None:
        """Every option applies to these heads (ModelOptions refuses the combinations that do not)."""

    @staticmethod
    def entity_features(out: dict[str, torch.Tensor], mode: str, options: ModelOptions | None = None) -> torch.Tensor:
        """l(s) = [z_id(s) ; type scores(s)]; `softmax` gives [sigmoid(z_id) ; softmax(scores)], `sigmoid`
        [sigmoid(z_id) ; sigmoid(scores)] (layernorm: raw here, normalised by the model); `cls`: the
        classifier's 1 + C logits (none first). With a "none" output the type scores are its C type columns."""
        if mode == "cls":
            return out["scores"]
        z, scores = out["id"].unsqueeze(-1), out["scores"]
        if options is not None and has_none_output(options):
            scores = multitask.type_scores(scores, options, "entity")
        if mode in BOUND:
            return torch.cat([torch.sigmoid(z), BOUND[mode](scores)], dim=-1)
        return torch.cat([z, scores], dim=-1)

    @staticmethod
    def decision_score(out: dict[str, torch.Tensor], options: ModelOptions | None,
                       side: str = "entity") -> torch.Tensor:
        """What the threshold compares: sigmoid(z_id) (`mt_decision: id`, and `both`), or sigmoid(z_id)
        times the classifier's probability of its argmax type (`product`; a softmax over the types with
        `mt_cls_scope: gold`, see `multitask.type_probabilities`); `cls`: that probability alone. A
        relation's `gate` (`rel_gate: args`) multiplies sigmoid(z_id)."""
        p_id = torch.sigmoid(out["id"])
        if "gate" in out:
            p_id = p_id * out["gate"]
        if options is None or options.mt_decision in ("id", "both"):
            return p_id
        if options.mt_decision == "product" and options.mt_cls_scope == "gold" and options.ranking != "crcnn":
            return p_id * torch.softmax(out["scores"], dim=-1).amax(dim=-1)
        p_type = multitask.type_probabilities(out["scores"], options, side).amax(dim=-1)
        return p_id * p_type if options.mt_decision == "product" else p_type

    @staticmethod
    def decide_entities(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """Entity when its decision score >= entity_threshold (`mt_decision` id, product), when the
        classifier says so (cls), or both; typed by the argmax of its type scores."""
        if options.mt_decision in ("id", "product") and options.mt_cls_scope == "gold":
            return MultiTaskHeads.decision_score(out, options) >= options.entity_threshold, out["scores"].argmax(dim=-1)
        ent_type = multitask.type_scores(out["scores"], options, "entity").argmax(dim=-1)
        if options.mt_decision in ("id", "product"):
            return MultiTaskHeads.decision_score(out, options) >= options.entity_threshold, ent_type
        accepts = multitask.entity_classifier_accepts(out["scores"], options)
        if options.mt_decision == "both":
            accepts = accepts & (torch.sigmoid(out["id"]) >= options.entity_threshold)
        return accepts, ent_type

    @staticmethod
    def entity_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, ent_type: torch.Tensor,
                          options: ModelOptions | None = None) -> torch.Tensor:
        """The decision score of each row (the score the entity threshold compares; `cls`: the
        classifier's probability of the chosen type, as SpERT's)."""
        sub = {k: v[rows].float() for k, v in out.items()}
        if options is not None and options.mt_decision == "cls":
            probs = multitask.type_probabilities(sub["scores"], options, "entity")
            return probs.gather(1, ent_type.unsqueeze(1)).squeeze(1)
        return MultiTaskHeads.decision_score(sub, options)

    @staticmethod
    def relation_confidence(out: dict[str, torch.Tensor], rows: torch.Tensor, rel_type: torch.Tensor,
                            options: ModelOptions | None = None) -> torch.Tensor:
        """The decision score of each pair row (the score the relation threshold compares; `cls`: the
        type's sigmoid, times the gate with `rel_gate: args`)."""
        sub = {k: v[rows].float() for k, v in out.items()}
        if options is not None and options.mt_decision == "cls":
            p = torch.sigmoid(sub["scores"].gather(1, rel_type.unsqueeze(1)).squeeze(1))
            return p * sub["gate"] if "gate" in sub else p
        return MultiTaskHeads.decision_score(sub, options, "relation")

    @staticmethod
    def decide_relations(out: dict[str, torch.Tensor], options: ModelOptions) -> tuple[torch.Tensor, torch.Tensor]:
        """`mt_decision` id, product: related when the decision score >= rel_filter_threshold; one triple,
        argmax type [choice]. cls: every type the classifier accepts gives a triple (as SpERT); both: the
        types the classifier accepts, of pairs whose sigmoid(z_id) >= rel_filter_threshold."""
        if options.mt_decision in ("id", "product"):
            score = MultiTaskHeads.decision_score(out, options, "relation")
            rows = (score >= options.rel_filter_threshold).nonzero().squeeze(-1)
            return rows, out["scores"][rows].argmax(dim=-1)
        accepts = multitask.relation_classifier_accepts(out, options)
        if options.mt_decision == "both":
            accepts = accepts & (MultiTaskHeads.decision_score(out, options) >= options.rel_filter_threshold
                                 ).unsqueeze(-1)
        hits = accepts.nonzero()
        return hits[:, 0], hits[:, 1]
