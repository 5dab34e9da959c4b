"""The method registry: a method is a name bound to a head set, a loss and its options.

Adding a method is one `register` call. The same lower_snake_case name is used in params,
the DVC matrix, MLflow tags and run folder names. Options not named here keep the defaults
of `erbench.config.ModelOptions` (SpERT's settings); `--set key=value` overrides any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from erbench.config import ConfigError, ModelOptions, apply_overrides


@dataclass(frozen=True)
class Method:
    name: str
    description: str
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    display: str = ""  # the name tables and figures print (params report.display_names overrides it)


METHODS: dict[str, Method] = {}


def register(name: str, description: str, *, display: str, **options: Any) -> Method:
    if name in METHODS:
        raise ValueError(f"method '{name}' is already registered")
    unknown = set(options) - set(ModelOptions.__dataclass_fields__)
    if unknown:
        raise ValueError(f"method '{name}': unknown option(s) {sorted(unknown)}")
    METHODS[name] = Method(name, description, options, display)
    return METHODS[name]


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}' (known: {', '.join(sorted(METHODS))})")
    return METHODS[name]


def method_options(name: str, overrides: dict[str, Any] | None = None) -> ModelOptions:
    """The method's ModelOptions with `overrides` (params or --set) applied and validated."""
    method = get_method(name)
    options = apply_overrides(ModelOptions(), method.options, f"method {name}")
    options = apply_overrides(options, overrides or {}, f"method {name} overrides")
    if options.heads == "spert" and options.iou_mode == "soft_target":
        raise ConfigError(f"method {name}: iou_mode=soft_target needs heads=multitask (SpERT heads use a softmax)")
    return options


_MT = dict(heads="multitask", iou_mode="scale", entity_logits="raw", neg_entity_count=120, neg_relation_count=120)

register("spert", "SpERT (Eberts & Ulges 2020): softmax entity classifier, sigmoid relation classifier",
         display="SpERT")
register("spert_mt", "SpERT.MT (Xue & Lu 2023): identification + classification heads, IoU-scaled "
         "negatives, entity logits in the pair representation, 120/120 negatives", display="SpERT.MT", **_MT)
register("spert_focal", "SpERT with focal loss (gamma 2; alpha 0.25 on relations)", display="SpERT + focal",
         loss="focal")
register("spert_cb", "SpERT with class-balanced loss (effective number, beta 0.9999)",
         display="SpERT + CB", loss="class_balanced")
register("spert_mt_no_iou", "SpERT.MT without IoU scaling (plain BCE for identification)",
         display="SpERT.MT w/o IoU", **{**_MT, "iou_mode": "none"})
register("spert_mt_no_logits", "SpERT.MT without entity logits in the pair representation",
         display="SpERT.MT w/o logits", **{**_MT, "entity_logits": "none"})
register("spert_mt_no_mt", "SpERT.MT without the multi-task split: SpERT heads, keeping IoU scaling "
         "(on the entity loss of negatives) and entity logits", display="SpERT.MT w/o MT", **{**_MT, "heads": "spert"})
