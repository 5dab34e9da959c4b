"""Configuration: plain dicts (params.yaml, --set overrides) -> frozen, typed dataclasses.

Unknown keys and wrong types are errors that name the key and where it came from. Nothing
below the CLI reads argv, the environment or params files: functions receive these objects.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from typing import Any


class ConfigError(ValueError):
    """A bad parameter; the message names the key and its source."""


@dataclass(frozen=True)
class ModelOptions:
    """Everything a method may change: model parts, sampling, loss and inference (SPEC 2, 4, 5)."""

    max_span_size: int = 10
    width_embedding_dim: int = 25
    width_embedding_count: int = 100
    dropout: float = 0.1
    neg_entity_count: int = 100
    neg_relation_count: int = 100
    max_pairs: int = 1000
    rel_filter_threshold: float = 0.4
    # heads: "spert" (softmax over none + types, sigmoid per relation type) or "multitask"
    # (identification + classification, SPEC 4)
    heads: str = "spert"
    # loss on SpERT heads: "ce" (SpERT), "focal" or "class_balanced" (SPEC 5)
    loss: str = "ce"
    focal_gamma: float = 2.0
    focal_alpha_entity: float | None = None
    focal_alpha_relation: float | None = 0.25
    cb_beta: float = 0.9999
    # SPEC 4 options
    iou_mode: str = "none"  # scale | soft_target | none
    iou_delta: float = 1.0
    ranking: str = "hinge"  # hinge | lsep
    margin: float = 1.0
    entity_logits: str = "none"  # raw | softmax | none
    detach_entity_logits: bool = False
    entity_threshold: float = 0.5
    weight_entity_id: float = 1.0
    weight_entity_cls: float = 1.0
    weight_rel_id: float = 1.0
    weight_rel_cls: float = 1.0

    def __post_init__(self) -> None:
        _choice(self, "heads", ("spert", "multitask"))
        _choice(self, "loss", ("ce", "focal", "class_balanced"))
        _choice(self, "iou_mode", ("scale", "soft_target", "none"))
        _choice(self, "ranking", ("hinge", "lsep"))
        _choice(self, "entity_logits", ("raw", "softmax", "none"))
        for name in ("max_span_size", "width_embedding_dim", "max_pairs"):
            _positive(self, name)
        for name in ("neg_entity_count", "neg_relation_count"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if self.max_span_size >= self.width_embedding_count:
            raise ConfigError("max_span_size: must be smaller than width_embedding_count")
        for name in ("rel_filter_threshold", "entity_threshold", "dropout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}: must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.cb_beta < 1.0:
            raise ConfigError(f"cb_beta: must lie in [0, 1), got {self.cb_beta}")
        if self.heads == "multitask" and self.loss != "ce":
            raise ConfigError(f"loss: '{self.loss}' applies to SpERT heads only (heads=multitask)")


@dataclass(frozen=True)
class TrainOptions:
    """The optimisation and runtime settings of one run (SPEC 2 'Optimisation')."""

    encoder: str = "minilm"
    epochs: int = 20
    batch_size: int = 2
    eval_batch_size: int = 8
    lr: float = 5e-5
    # adamw_legacy: the reference SpERT's AdamW (no bias correction, eps 1e-6, decay after the
    # step); adamw: torch.optim.AdamW (fused where built). See benchmark/optim.py.
    optimizer: str = "adamw_legacy"
    weight_decay: float = 0.01
    warmup: float = 0.1
    max_grad_norm: float = 1.0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default
    max_length: int = 0  # word pieces incl. [CLS]/[SEP]; 0 = the encoder's own limit
    long_documents: str = "window"  # window (overlapping windows, every word kept) | truncate | error
    eval_dev_every_epoch: bool = True
    save_weights: bool = True
    log_every: int = 100  # optimizer steps between two training-loss records (0: none)

    def __post_init__(self) -> None:
        _choice(self, "precision", ("fp32", "bf16"))
        _choice(self, "optimizer", ("adamw_legacy", "adamw"))
        if self.log_every < 0:
            raise ConfigError(f"log_every: must be >= 0, got {self.log_every}")
        _choice(self, "long_documents", ("window", "truncate", "error"))
        for name in ("epochs", "batch_size", "eval_batch_size"):
            _positive(self, name)
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device: expected auto, cpu, cuda or cuda:N, got '{self.device}'")
        if not 0.0 <= self.warmup <= 1.0:
            raise ConfigError(f"warmup: must lie in [0, 1], got {self.warmup}")
        if self.lr <= 0:
            raise ConfigError(f"lr: must be > 0, got {self.lr}")


@dataclass(frozen=True)
class RunConfig:
    """One training run: identity (dataset, method, seed, fold), the protocol, and all options."""

    dataset: str
    method: str
    seed: int
    fold: int | None = None
    train_split: str = "train"
    eval_split: str = "test"
    dev_split: str | None = "dev"
    no_overlapping: bool = False
    model: ModelOptions = field(default_factory=ModelOptions)
    train: TrainOptions = field(default_factory=TrainOptions)

    @property
    def run_name(self) -> str:
        fold = "" if self.fold is None else f"-f{self.fold}"
        return f"{self.method}-{self.dataset}-s{self.seed}{fold}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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


def parse_value(text: str) -> Any:
    """Parse the value of a `--set key=value` override with YAML scalars (1, 0.5, true, null)."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string; users mean a number
        try:
            return float(value) if any(c in value.lower() for c in ".e") else int(value)
        except ValueError:
            return value
    return value


def apply_overrides(options: Any, overrides: dict[str, Any], source: str = "--set") -> Any:
    """Return a copy of a dataclass with `overrides` applied, validated like `from_dict`."""
    merged = {**dataclasses.asdict(options), **overrides}
    return from_dict(type(options), merged, source)


def split_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`["neg_entity_count=50", "loss=focal"]` -> {"neg_entity_count": 50, "loss": "focal"}."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set: expected key=value, got '{pair}'")
        result[key.strip()] = parse_value(value)
    return result
