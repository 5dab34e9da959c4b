"""Configuration: plain dicts (params.yaml, --set overrides) -> frozen, typed dataclasses.

Unknown keys and wrong types are errors that name the key and where it came from. Nothing
below the CLI reads argv, the environment or params files: functions receive these objects.
`ModelOptions` and the dict -> dataclass helpers live in the leaf module `erbench.models.options`
(the model package imports nothing from the harness); they are re-exported here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from erbench.models.options import ConfigError, ModelOptions, _choice, _positive, apply_overrides, from_dict

__all__ = ["ConfigError", "ModelOptions", "RunConfig", "TrainOptions", "apply_overrides", "from_dict",
           "parse_value", "split_overrides"]


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
    # CUDA only (docs/methods.md "Speed and determinism on CPU and GPU"): TF32 for fp32 matmuls, and
    # deterministic kernels only (an op without one fails naming it); CPU runs are deterministic as they are
    tf32: bool = False
    deterministic: bool = True
    # the next step's batch (sampling, collation, pinned copy) prepared by a background thread while the
    # current step runs, drawing the same samples in the same order: auto (thread on CUDA, inline on CPU) |
    # thread | inline (each batch prepared at the start of its own step)
    prepare_ahead: str = "auto"
    max_length: int = 0  # word pieces incl. [CLS]/[SEP]; 0 = the encoder's own limit
    long_documents: str = "window"  # window (overlapping windows, every word kept) | truncate | error
    eval_dev_every_epoch: bool = True
    save_weights: bool = True
    log_every: int = 100  # optimizer steps between two training-loss records (0: none)
    # spec: the method's entity_threshold / rel_filter_threshold; dev: both chosen on the dev split after
    # training (erbench.calibrate; docs/methods.md "Thresholds"), never on test
    thresholds: str = "spec"
    thresholds_same_split: bool = False  # thresholds: dev where the dev split is also the eval split (optimistic)

    def __post_init__(self) -> None:
        _choice(self, "precision", ("fp32", "bf16"))
        _choice(self, "prepare_ahead", ("auto", "thread", "inline"))
        _choice(self, "thresholds", ("spec", "dev"))
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


def run_name(method: str, dataset: str, seed: int, fold: int | None = None, negatives: int | None = None) -> str:
    """The run's name, its folder's name and its MLflow run name: spert-conll04-s3, spert-ade-s1-f4,
    spert-conll04-n50-s1 (a negative-sample sweep run). dvc.yaml spells the same pattern
    (tests/test_params.py checks it)."""
    sweep = "" if negatives is None else f"-n{negatives}"
    return f"{method}-{dataset}{sweep}-s{seed}" + ("" if fold is None else f"-f{fold}")


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
    # a named variant of `method` (params `choices`): its name is the run's method id in tables
    choice: str | None = None
    choice_set: dict | None = None  # the variant's overrides, as params states them
    # params methods_include as resolved paths: the files that registered the run's method, loss or
    # heads; loading the run folder (evaluate, predict, calibrate) imports them again
    methods_include: tuple[str, ...] = ()

    @property
    def run_method(self) -> str:
        """The method id the run is reported under: the choice's name, else the method."""
        return self.choice or self.method

    @property
    def run_name(self) -> str:
        return run_name(self.run_method, self.dataset, self.seed, self.fold)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


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


def split_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """`["neg_entity_count=50", "loss=focal"]` -> {"neg_entity_count": 50, "loss": "focal"}."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set: expected key=value, got '{pair}'")
        result[key.strip()] = parse_value(value)
    return result


# ---------------------------------------------------------------- the report section of params.yaml

REPORT_METRICS = tuple(f"{s}/{a}_f1" for s in ("ner", "rel", "rel_strict") for a in ("micro", "macro"))


@dataclass(frozen=True)
class PublishedResult:
    """One published number the report checks the runs against (params `report.published`)."""

    dataset: str
    method: str
    metric: str  # a report column key: ner|rel|rel_strict / micro_f1|macro_f1
    value: float  # F1 in percent
    source: str  # where it was published
    seeds: int  # how many seeds the paper's number summarises (k of the expected maximum)
    note: str = ""

    def __post_init__(self) -> None:
        _choice(self, "metric", REPORT_METRICS)
        if not 0 <= self.value <= 100:
            raise ConfigError(f"value: F1 in percent must lie in [0, 100], got {self.value}")
        _positive(self, "seeds")
        for name in ("dataset", "method", "source"):
            if not getattr(self, name):
                raise ConfigError(f"{name}: must be a non-empty string")
