"""The model options every method chooses from, and typed dataclasses from plain dicts.

A leaf module: the model package and the harness both import it, it imports neither. Unknown
keys and wrong types are errors that name the key and where it came from. Which heads and losses
exist is the registries' business (`erbench.models.heads`, `erbench.models.losses`); the method
registry checks those names (`erbench.models.registry.method_options`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, fields
from typing import Any


class ConfigError(ValueError):
    """A bad parameter; the message names the key and its source."""


@dataclass(frozen=True)
class ModelOptions:
    """Everything a method may change: model parts, sampling, loss and inference (docs/methods.md).

    `heads` names a registered head set (`erbench.models.heads.HEADS`) and `loss` one of the losses
    registered for it (`erbench.models.losses.LOSSES`); `method_options` checks both names.
    """

    max_span_size: int = 10
    width_embedding_dim: int = 25
    width_embedding_count: int = 100
    dropout: float = 0.1
    neg_entity_count: int = 100
    neg_relation_count: int = 100
    # relation negatives: "gold" (SpERT: unrelated pairs of gold entities) or "with_nonentity"
    # (unrelated pairs of any two sampled spans, gold or negative-sampled)
    rel_negatives: str = "gold"
    max_pairs: int = 1000
    rel_filter_threshold: float = 0.4
    # heads: "spert" (softmax over none + types, sigmoid per relation type) or "multitask"
    # (identification + classification, SpERT.MT)
    heads: str = "spert"
    # the loss, among those registered for the heads: SpERT heads "ce", "focal", "class_balanced";
    # multitask heads "ce" (SpERT.MT's own four-term loss; the name every run folder records)
    loss: str = "ce"
    focal_gamma: float = 2.0
    focal_alpha_entity: float | None = None
    focal_alpha_relation: float | None = 0.25
    cb_beta: float = 0.9999
    # how a class-balanced model's scores become decisions (docs/methods.md, "Class-balanced decision"):
    # weighted (SpERT's rules on the scores as trained) | corrected (the weights' prior shift removed)
    cb_decision: str = "weighted"
    # SpERT.MT's options (docs/methods.md, SpERT.MT)
    iou_mode: str = "none"  # scale | soft_target | downweight | none
    iou_delta: float = 1.0
    iou_positive: str = "one"  # one (positives weigh 1) | scaled (positives weigh 1 + iou_delta)
    ranking: str = "hinge"  # hinge | lsep | crcnn
    margin: float = 1.0
    entity_logits: str = "none"  # raw | softmax | sigmoid | layernorm | cls | none
    detach_entity_logits: bool = False
    entity_threshold: float = 0.5
    weight_entity_id: float = 1.0
    weight_entity_cls: float = 1.0
    weight_rel_id: float = 1.0
    weight_rel_cls: float = 1.0
    # how the four terms are normalised: term (each a mean over its own samples) | side (each side's
    # two sums over that side's sample count) | pooled (all four sums over all samples of the batch)
    mt_loss_norm: str = "term"
    # id (sigmoid(z_id) >= threshold) | product (sigmoid(z_id) * the classifier's probability of its type) |
    # cls (the classifier alone, as SpERT decides) | both (the identification threshold and the classifier)
    mt_decision: str = "id"
    # what SpERT.MT's type classifiers train on (docs/methods.md, "SpERT.MT's unstated choices"): gold
    # (gold spans / related pairs, no "none" output) | all (every sample, with a "none" output, as SpERT's
    # classifiers) | accepted (gold plus the samples the identification head accepts: a cascade)
    mt_cls_scope: str = "gold"
    # ranking=crcnn (dos Santos, Xiang & Zhou 2015): margins m+, m- and scale gamma
    crcnn_margin_pos: float = 2.5
    crcnn_margin_neg: float = 0.5
    crcnn_gamma: float = 2.0
    # one hidden layer (head_hidden units, activation, dropout) in front of every head; 0: none
    head_hidden: int = 0
    head_activation: str = "relu"  # relu | gelu
    head_dropout: float = 0.1
    # decoding only: args multiplies a pair's relation decision score by sigmoid(z_id) of both arguments
    rel_gate: str = "none"

    def __post_init__(self) -> None:
        _choice(self, "iou_mode", ("scale", "soft_target", "none", "downweight"))
        _choice(self, "iou_positive", ("one", "scaled"))
        _choice(self, "ranking", ("hinge", "lsep", "crcnn"))
        _choice(self, "entity_logits", ENTITY_LOGITS)
        _choice(self, "rel_negatives", ("gold", "with_nonentity"))
        _choice(self, "mt_loss_norm", ("term", "side", "pooled"))
        _choice(self, "mt_decision", ("id", "product", "cls", "both"))
        _choice(self, "mt_cls_scope", ("gold", "all", "accepted"))
        _choice(self, "head_activation", ("relu", "gelu"))
        _choice(self, "rel_gate", ("none", "args"))
        _choice(self, "cb_decision", ("weighted", "corrected"))
        if self.cb_decision == "corrected" and self.loss != "class_balanced":
            raise ConfigError(f"cb_decision=corrected undoes the class weights of loss class_balanced; this "
                              f"model's loss is '{self.loss}' (it has no class weights to undo)")
        for name in ("max_span_size", "width_embedding_dim", "max_pairs"):
            _positive(self, name)
        for name in ("neg_entity_count", "neg_relation_count"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.max_span_size >= self.width_embedding_count:
            raise ConfigError("max_span_size: must be smaller than width_embedding_count")
        if self.head_hidden < 0:
            raise ConfigError(f"head_hidden: must be >= 0 (0: no hidden layer), got {self.head_hidden}")
        if self.crcnn_gamma <= 0:
            raise ConfigError(f"crcnn_gamma: must be > 0, got {self.crcnn_gamma}")
        for name in ("rel_filter_threshold", "entity_threshold", "dropout", "head_dropout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}: must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.cb_beta < 1.0:
            raise ConfigError(f"cb_beta: must lie in [0, 1), got {self.cb_beta}")
        _check_combinations(self)


ENTITY_LOGITS = ("raw", "softmax", "sigmoid", "layernorm", "cls", "none")
# SpERT.MT's unstated choices (docs/methods.md, "SpERT.MT's unstated choices") and the class-balanced
# baseline's decision (cb_decision): a run that sets one of them away from its method's registered value
# records it in its protocol (`interpretation`), and the report shows it as a variant
INTERPRETATION = ("mt_loss_norm", "rel_negatives", "entity_logits", "detach_entity_logits", "mt_decision",
                  "iou_positive", "mt_cls_scope", "ranking", "crcnn_margin_pos", "crcnn_margin_neg", "crcnn_gamma",
                  "iou_mode", "head_hidden", "head_activation", "head_dropout", "rel_gate", "cb_decision")
# the options that read SpERT.MT's multitask heads (other heads reject a value other than the default)
MULTITASK_ONLY = ("mt_loss_norm", "mt_decision", "mt_cls_scope", "crcnn_margin_pos", "crcnn_margin_neg",
                  "crcnn_gamma", "rel_gate")
# the options that only decide how a trained model's scores become predictions (`erbench evaluate --set`)
DECODING = ("entity_threshold", "rel_filter_threshold", "mt_decision", "rel_gate", "cb_decision")


def has_none_output(options: ModelOptions) -> bool:
    """Whether SpERT.MT's entity classifier has a "none" output (1 + C logits) and its relation classifier
    sees negatives (docs/methods.md, "SpERT.MT's unstated choices": mt_cls_scope all or accepted, except
    with ranking crcnn, which has no score for none)."""
    return options.mt_cls_scope != "gold" and options.ranking != "crcnn"


def _check_combinations(options: ModelOptions) -> None:
    """Refuse readings that make no sense together; the message names the keys."""
    if options.mt_decision in ("cls", "both") and options.mt_cls_scope == "gold":
        raise ConfigError(f"mt_decision={options.mt_decision} needs mt_cls_scope all or accepted (with "
                          "mt_cls_scope=gold the type classifiers never see a negative: they cannot say 'none')")
    if options.entity_logits == "cls" and not has_none_output(options):
        raise ConfigError("entity_logits=cls needs a classifier with a 'none' output: mt_cls_scope all or accepted "
                          f"and ranking other than crcnn (mt_cls_scope={options.mt_cls_scope}, "
                          f"ranking={options.ranking})")
    if options.ranking == "lsep" and options.mt_cls_scope != "gold":
        raise ConfigError(f"ranking=lsep needs mt_cls_scope=gold (with mt_cls_scope={options.mt_cls_scope} the "
                          "classifiers train by cross-entropy, or by ranking=crcnn)")
    if options.iou_mode == "downweight" and options.iou_positive != "one":
        raise ConfigError("iou_positive=scaled needs iou_mode=scale (iou_mode=downweight weighs positives 1)")


def _choice(obj: Any, name: str, allowed: tuple[str, ...]) -> None:
    value = getattr(obj, name)
    if value not in allowed:
        raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got '{value}'")


def _positive(obj: Any, name: str) -> None:
    if getattr(obj, name) <= 0:
        raise ConfigError(f"{name}: must be > 0, got {getattr(obj, name)}")


def _coerce(value: Any, annotation: Any, key: str, source: str) -> Any:
    """Check `value` against a field annotation; ints are accepted where floats are expected."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key, source)
            except ConfigError:
                continue
        raise ConfigError(f"{source}: '{key}' has the wrong type: {value!r}")
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a mapping, got {type(value).__name__}")
        return from_dict(annotation, value, f"{source}: {key}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
    else:
        return value
    raise ConfigError(f"{source}: '{key}' must be {annotation.__name__}, got {type(value).__name__} {value!r}")


def from_dict(cls: type, data: dict, source: str = "config") -> Any:
    """Build dataclass `cls` from `data`; unknown keys and wrong types raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key '{unknown[0]}' (valid keys: {', '.join(sorted(known))})")
    kwargs = {k: _coerce(v, hints[k], k, source) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def apply_overrides(options: Any, overrides: dict[str, Any], source: str = "--set") -> Any:
    """Return a copy of a dataclass with `overrides` applied, validated like `from_dict`."""
    merged = {**dataclasses.asdict(options), **overrides}
    return from_dict(type(options), merged, source)
