"""The method registry: a method is a name bound to a head set, a loss and its options.

Adding a method is one `register` call. The same lower_snake_case name is used in params,
the DVC matrix, MLflow tags and run folder names. Options not named here keep the defaults
of `erbench.models.options.ModelOptions` (SpERT's settings); `--set key=value` overrides any of them.

Methods, losses, head sets and statistics may also come from outside the repository: a Python file
named in params (`methods_include: [path/to/my_methods.py]`, loaded by `load_files`) or an installed
distribution's entry point in the group `erbench.methods` (a module, imported by `load_entry_points`).
Either simply calls `register`, `register_loss`, `register_heads` or `register_statistic` when imported.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from erbench.models.heads import HEADS, get_heads
from erbench.models.losses import LOSSES, get_loss
from erbench.models.options import INTERPRETATION, ConfigError, ModelOptions, apply_overrides
from erbench.models.statistics import check_names

ENTRY_POINT_GROUP = "erbench.methods"


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
    load_entry_points()
    if name not in METHODS:
        raise ConfigError(f"unknown method '{name}' (known: {', '.join(sorted(METHODS))})")
    return METHODS[name]


def method_options(name: str, overrides: dict[str, Any] | None = None) -> ModelOptions:
    """The method's ModelOptions with `overrides` (params or --set) applied and validated."""
    method = get_method(name)
    options = apply_overrides(ModelOptions(), method.options, f"method {name}")
    options = apply_overrides(options, overrides or {}, f"method {name} overrides")
    try:
        check_options(options)
    except ConfigError as exc:
        raise ConfigError(f"method {name}: {exc}") from None
    return options


def interpretation(name: str, options: ModelOptions) -> str:
    """'as registered', or the interpretation options (`INTERPRETATION`) this run sets away from method
    `name`'s registered reading, as 'key=value, ...' (recorded in every run's protocol)."""
    registered = apply_overrides(ModelOptions(), get_method(name).options, f"method {name}")
    changed = [f"{k}={getattr(options, k)}" for k in INTERPRETATION if getattr(options, k) != getattr(registered, k)]
    return ", ".join(changed) or "as registered"


def check_options(options: ModelOptions) -> None:
    """The names `heads` and `loss` are registered together, and the heads accept the options."""
    heads = get_heads(options.heads)
    if (options.heads, options.loss) not in LOSSES:
        owners = [h for h, n in LOSSES if n == options.loss]
        if owners:
            shown = " or ".join(getattr(HEADS.get(h), "display", h) for h in owners)
            raise ConfigError(f"loss: '{options.loss}' applies to {shown} heads only (heads={options.heads})")
    loss = get_loss(options.heads, options.loss)
    check_names(loss.needs, f"loss {loss.name} (heads {loss.heads})")
    heads.check(options)


_loaded_entry_points = False


def load_entry_points() -> list[str]:
    """Import every module of the `erbench.methods` entry-point group (once); -> their names."""
    global _loaded_entry_points
    if _loaded_entry_points:
        return []
    _loaded_entry_points = True
    names = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()  # an error in a plugin keeps its traceback: it points at the plugin's own line
        names.append(ep.name)
    return names


_loaded_files: dict[Path, str] = {}


def load_files(paths: Iterable[str | Path], source: str = "params methods_include") -> list[str]:
    """Import each Python file once (a file that registers methods, losses, heads or statistics);
    -> the module names. A missing file is a ConfigError naming it; an error inside the file keeps its
    traceback (it points at the user's own line)."""
    modules = []
    for raw in paths:
        if not isinstance(raw, (str, Path)):
            raise ConfigError(f"{source}: expected a list of paths to .py files, got {raw!r}")
        path = Path(raw).expanduser().resolve()
        if path in _loaded_files:
            modules.append(_loaded_files[path])
            continue
        if not path.is_file() or path.suffix != ".py":
            raise ConfigError(f"{source}: {raw}: not a Python file")
        name = f"erbench_include_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        _loaded_files[path] = name
        modules.append(name)
    return modules


def load_plugins(params: dict) -> list[str]:
    """Entry points, then the files of params `methods_include`, before any method is resolved."""
    include = params.get("methods_include") or []
    if isinstance(include, (str, Path)):
        raise ConfigError("params methods_include: expected a list of paths, got a single string")
    return load_entry_points() + load_files(include)


def plugin_digest(params: dict) -> dict:
    """What the plugins a run can load are, by content: each `methods_include` file (resolved path and
    sha256) and each `erbench.methods` entry point (its distribution and version). dvc.yaml's `plugins`
    stage writes it and the training stages depend on it; run folders record the include files."""
    include = params.get("methods_include") or []
    if isinstance(include, (str, Path)):
        raise ConfigError("params methods_include: expected a list of paths, got a single string")
    files = []
    for raw in include:
        path = Path(raw).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"params methods_include: {raw}: not a Python file")
        files.append({"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    points = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        points.append({"name": ep.name, "value": ep.value, "distribution": getattr(dist, "name", None),
                       "version": getattr(dist, "version", None)})
    return {"methods_include": files, "entry_points": sorted(points, key=lambda p: (p["name"], p["value"]))}


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
