"""Corpus statistics a loss may declare it needs (`register_loss(..., needs=(...))`).

Each statistic is one function of the encoded training split, its type inventory and the model
options, computed once per run before the first step and handed to the loss as `stats[name]`.
Adding one is a `@register_statistic` function here or in a plugin file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from erbench.models.documents import TypeInventory
from erbench.models.encoder import EncodedDocument
from erbench.models.losses import class_balanced_weights
from erbench.models.options import ConfigError, ModelOptions
from erbench.models.sampling import class_counts

Statistic = Callable[[list[EncodedDocument], TypeInventory, ModelOptions, dict[str, Any]], Any]
STATISTICS: dict[str, Statistic] = {}


def register_statistic(name: str):
    """Decorator: `fn(encoded, types, options, known)`, where `known` holds the statistics computed
    before it in the same call (a statistic may build on another through `corpus_statistics`)."""

    def add(fn: Statistic) -> Statistic:
        if name in STATISTICS:
            raise ValueError(f"statistic '{name}' is already registered")
        STATISTICS[name] = fn
        return fn

    return add


def check_names(names: Iterable[str], where: str) -> None:
    unknown = sorted(set(names) - set(STATISTICS))
    if unknown:
        raise ConfigError(f"{where}: needs unknown corpus statistic '{unknown[0]}' (known: {', '.join(STATISTICS)})")


def corpus_statistics(names: Iterable[str], encoded: list[EncodedDocument], types: TypeInventory,
                      options: ModelOptions, device: torch.device | None = None) -> dict[str, Any]:
    """{name: value} for each of `names`; tensors (also inside dicts) are moved to `device`."""
    names = list(dict.fromkeys(names))
    check_names(names, "corpus_statistics")
    known: dict[str, Any] = {}
    for name in names:
        if name not in known:
            known[name] = STATISTICS[name](encoded, types, options, known)
    return {name: _to(known[name], device) for name in names}


def _to(value: Any, device: torch.device | None) -> Any:
    if device is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value


@register_statistic("class_counts")
def _class_counts(encoded, types, options, known) -> dict[str, list[float]]:
    """Per-class sample counts of one epoch: entity [none, types...], relation [none, types...]."""
    return class_counts(encoded, types, neg_entity_count=options.neg_entity_count,
                        neg_relation_count=options.neg_relation_count, max_span_size=options.max_span_size,
                        rel_negatives=options.rel_negatives)


@register_statistic("class_weights")
def _class_weights(encoded, types, options, known) -> dict[str, torch.Tensor]:
    """Effective-number weights (class-balanced loss) of the class counts at `cb_beta`."""
    if "class_counts" not in known:
        known["class_counts"] = _class_counts(encoded, types, options, known)
    # a side with no samples at all (a split without any pair of entities has no relation samples)
    # never reaches the loss: its weights are never used, so it gets ones instead of an error
    return {k: class_balanced_weights(v, options.cb_beta) if any(c > 0 for c in v)
            else torch.ones(len(v)) for k, v in known["class_counts"].items()}
