"""params.yaml as one frozen, typed tree, parsed once.

    Params
      suite       the suite's name (experiment name default, report label)
      grid        datasets x methods x seeds (+ kfold_datasets x folds): dvc.yaml's train stages
      ablations   more methods on some datasets, same seeds
      sweep       negative-sample counts x methods x seeds
      data        stage, mirror, synthetic (SyntheticConfig), custom (your own datasets)
      protocol    per dataset: splits, no_overlapping, encoder
      train       TrainOptions
      methods     per method: ModelOptions overrides
      tracking    MLflow: enabled, uri, experiment
      report      erbench report's defaults
      methods_include  files that register methods (erbench.models.registry.load_plugins)
      plugins_dir      the folder that holds them, which dvc.yaml's plugins stage tracks

Unknown keys and wrong types are errors naming the file and the key path, e.g.
`params.yaml: report.latex.flot: unknown key (valid: float, label, signature)`. A section added
later is one more dataclass field. Only the CLI reads a params file; the rest receives `Params`.
Runs are named by `run_name` (erbench.config), MLflow experiments by `Params.experiment_name`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from erbench.config import ConfigError, ModelOptions, PublishedResult, TrainOptions, run_name
from erbench.datasets.registry import custom_spec
from erbench.datasets.synthetic import SyntheticConfig
from erbench.errors import UserInputError

__all__ = ["Params", "parse_params", "read_params", "run_name"]

LATEX_FLOATS = ("auto", "table", "table*", "resizebox")
LATEX_SIGNATURES = ("note", "comment")


@dataclass(frozen=True)
class Grid:
    datasets: tuple[str, ...] = ()
    kfold_datasets: tuple[str, ...] = ()
    folds: tuple[int, ...] = ()
    methods: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Ablations:
    datasets: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choices:
    """Named variants of a method (erbench.choices): run on `datasets` x `seeds` into runs/choices/, and on
    `kfold_datasets` x grid.folds x `seeds` (ADE) into runs/choices/NAME-DATASET-sSEED-fFOLD."""
    datasets: tuple[str, ...] = ()
    kfold_datasets: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # NAME: {method: M, set: {...}}


@dataclass(frozen=True)
class Sweep:
    datasets: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    neg_counts: tuple[int, ...] = ()
    seeds: tuple[int, ...] = ()


@dataclass(frozen=True)
class Data:
    stage: tuple[str, ...] = ()
    mirror: str | None = None
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    custom: dict[str, dict] = field(default_factory=dict)  # checked by datasets.registry.custom_spec

    def __post_init__(self) -> None:
        for name, entry in self.custom.items():
            custom_spec(name, entry)


@dataclass(frozen=True)
class Protocol:
    """A dataset's evaluation protocol; None keeps the dataset's own default."""

    train_split: str | None = None
    eval_split: str | None = None
    dev_split: str | None = None
    no_overlapping: bool | None = None
    encoder: str | None = None


@dataclass(frozen=True)
class Tracking:
    enabled: bool = False
    uri: str | None = None  # None: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db
    experiment: str | None = None  # None: the suite's name


@dataclass(frozen=True)
class Latex:
    float: str = "auto"
    signature: str = "note"
    label: str | None = None

    def __post_init__(self) -> None:
        if self.float not in LATEX_FLOATS:
            raise ConfigError(f"float: expected one of {', '.join(LATEX_FLOATS)}, got {self.float!r}")
        if self.signature not in LATEX_SIGNATURES:
            raise ConfigError(f"signature: expected one of {', '.join(LATEX_SIGNATURES)}, got {self.signature!r}")
        if self.label is not None and (not self.label.strip() or any(c in self.label for c in "{}\\%# ")):
            raise ConfigError(f"label: expected a LaTeX label such as tab:results, got {self.label!r}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Report:
    """`erbench report`'s defaults; a flag given on the command line wins."""

    baselines: tuple[str, ...] = ()
    alpha: float = 0.05
    seed: int = 0
    ar_trials: int = 10000
    aso_bootstrap: int = 1000
    allow_mixed: bool = False
    equivalence_margin: float = 1.0  # F1 points: TOST splits "not significant" into equivalent / inconclusive
    fold_test: str = "seed"  # k-fold data: seed (folds averaged per seed) | corrected (Nadeau & Bengio)
    latex_comparisons: bool = False  # results.tex also gets a table of Δ [t CI], p and epsilon_min
    published: tuple[PublishedResult, ...] = ()  # published numbers the runs are checked against
    display_names: dict[str, str] = field(default_factory=dict)
    latex: Latex = field(default_factory=Latex)
    # folders of saved run records (`erbench results save`, e.g. results/conll04-cpu) the report reads
    # beside the params grid's run folders: another suite's runs, reused and not retrained
    records: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha: must lie in (0, 1), got {self.alpha}")
        for name in ("ar_trials", "aso_bootstrap"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}: must be >= 0, got {getattr(self, name)}")
        if not self.equivalence_margin > 0:
            raise ConfigError(f"equivalence_margin: must be > 0, got {self.equivalence_margin}")
        if self.fold_test not in ("seed", "corrected"):
            raise ConfigError(f"fold_test: expected one of seed, corrected, got {self.fold_test!r}")


@dataclass(frozen=True)
class Params:
    suite: str = ""
    grid: Grid = field(default_factory=Grid)
    ablations: Ablations = field(default_factory=Ablations)
    sweep: Sweep = field(default_factory=Sweep)
    choices: Choices = field(default_factory=Choices)
    data: Data = field(default_factory=Data)
    protocol: dict[str, Protocol] = field(default_factory=dict)
    train: TrainOptions = field(default_factory=TrainOptions)
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)  # ModelOptions keys, checked below
    tracking: Tracking = field(default_factory=Tracking)
    report: Report = field(default_factory=Report)
    methods_include: tuple[str, ...] = ()  # Python files that register methods, losses, statistics
    plugins_dir: str = "plugins"  # the folder holding them: dvc.yaml's plugins stage depends on it

    def plugins(self) -> dict:
        """What erbench.models.registry.load_plugins reads."""
        return {"methods_include": list(self.methods_include)}

    def experiment_name(self) -> str:
        """The MLflow experiment: tracking.experiment, else the suite's name, else erbench."""
        return self.tracking.experiment or self.suite or "erbench"

    def method_overrides(self, method: str) -> dict[str, Any]:
        return dict(self.methods.get(method) or {})

    def run_folders(self) -> list[str]:
        """The run folders (relative to runs/) that dvc.yaml's train, train_kfold, ablation and sweep
        stages write for these params. A sweep run that repeats a main run (same method, dataset, seed
        and negative counts) is left out, so the main table pairs each setting once."""
        from erbench.models.registry import method_options  # on use: the model registry may load torch

        grid, ablations, sweep = self.grid, self.ablations, self.sweep
        names = [run_name(m, d, s) for d in grid.datasets for m in grid.methods for s in grid.seeds]
        names += [run_name(m, d, s, f) for d in grid.kfold_datasets for f in grid.folds for m in grid.methods
                  for s in grid.seeds]
        names += [run_name(m, d, s) for d in ablations.datasets for m in ablations.methods for s in grid.seeds]
        from erbench.choices import run_names

        names += run_names(self)  # choices/NAME-DATASET-sSEED
        main = set(names)
        for d in sweep.datasets:
            for m in sweep.methods:
                opts = method_options(m, self.method_overrides(m))
                for n in sweep.neg_counts:
                    for s in sweep.seeds:
                        if run_name(m, d, s) in main and opts.neg_entity_count == n == opts.neg_relation_count:
                            continue
                        names.append(f"sweep/{run_name(m, d, s, negatives=n)}")
        return names


_MODEL_HINTS = typing.get_type_hints(ModelOptions)


def _type_name(annotation: Any) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is tuple:
        return f"a list of {_type_name(typing.get_args(annotation)[0])}"
    if typing.get_origin(annotation) is dict:
        return "a mapping"
    return "null" if annotation is type(None) else getattr(annotation, "__name__", str(annotation))


def _parse(value: Any, annotation: Any, path: str, source: str) -> Any:
    """`value` as `annotation`; a ConfigError names `source: path`."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(annotation):
            return None
        for option in typing.get_args(annotation):
            if option is not type(None):
                try:
                    return _parse(value, option, path, source)
                except ConfigError:
                    continue
        raise ConfigError(f"{source}: {path}: expected {_type_name(annotation)}, got {value!r}")
    if dataclasses.is_dataclass(annotation):
        return parse_section(annotation, value, path, source)
    if origin is tuple:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: {path}: expected {_type_name(annotation)}, got {value!r}")
        item = typing.get_args(annotation)[0]
        return tuple(_parse(v, item, f"{path}[{i}]", source) for i, v in enumerate(value))
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {path}: expected a mapping, got {value!r}")
        item = typing.get_args(annotation)[1]
        return {str(k): _parse(v, item, f"{path}.{k}", source) for k, v in value.items()}
    ok = {bool: lambda v: isinstance(v, bool), int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, int | float) and not isinstance(v, bool), str: lambda v: isinstance(v, str)}
    if annotation in ok:
        if ok[annotation](value):
            return float(value) if annotation is float else value
        raise ConfigError(f"{source}: {path}: expected {annotation.__name__}, got {type(value).__name__} {value!r}")
    return value


def parse_section(cls: type, data: Any, path: str, source: str) -> Any:
    """Dataclass `cls` from the mapping at `path`; unknown keys and wrong types name the key path."""
    where = f"{source}: {path}" if path else source
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls)
    known = sorted(f.name for f in dataclasses.fields(cls))
    for key in data:
        if key not in hints:
            raise ConfigError(f"{source}: {_join(path, key)}: unknown key (valid: {', '.join(known)})")
    kwargs = {k: _parse(v, hints[k], _join(path, k), source) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (ConfigError, UserInputError) as exc:  # a __post_init__ check (ConfigError, SyntheticConfig's own)
        raise ConfigError(f"{where}: {exc}") from None


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def parse_params(raw: dict | None, source: str = "params.yaml", sections: tuple[str, ...] | None = None) -> Params:
    """The Params of a params mapping (as yaml.safe_load returns it). `sections`: parse only these
    top-level keys (the others keep their defaults and are not checked), for a command that reads a
    pipeline's params file for one part of it (`erbench grid run`: suite and tracking)."""
    raw = raw or {}
    if sections is not None:
        raw = {k: v for k, v in raw.items() if k in sections}
    params = parse_section(Params, raw, "", source)
    for method, overrides in params.methods.items():
        for key, value in (overrides or {}).items():
            if key not in _MODEL_HINTS:
                raise ConfigError(f"{source}: methods.{method}.{key}: unknown key (valid: model options "
                                  f"{', '.join(sorted(_MODEL_HINTS))})")
            _parse(value, _MODEL_HINTS[key], f"methods.{method}.{key}", source)
    return params


def read_params(path: str | Path | None, sections: tuple[str, ...] | None = None) -> Params:
    """Params from a file, only when one is named: a params.yaml that merely sits in the working
    directory never changes a run silently (dvc.yaml's stages pass `--params params.yaml`)."""
    import yaml

    if path is None:
        return Params()
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: params file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return parse_params(raw, str(path), sections)
