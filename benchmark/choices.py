"""params `choices`: named variants of a method, each an override set of model or train options.

    choices:
      datasets: [conll04]       # empty: no variant runs
      kfold_datasets: [ade]     # k-fold datasets: each variant on every fold of grid.folds
      seeds: [1]
      variants:
        spert_mt_thr_dev: {method: spert_mt, set: {thresholds: dev}}

dvc.yaml's `choices` stage runs each variant on each dataset and seed as
`erbench train --choice NAME` into runs/choices/NAME-DATASET-sSEED (`choices_kfold`, on the folds of
a k-fold dataset: runs/choices/NAME-DATASET-sSEED-fFOLD); the run is reported under the
variant's name, with the method it varies recorded beside it (metrics.json run.base_method). The
variants are one flat mapping (not nested per method) because DVC's matrix expands one level.
"""

from __future__ import annotations

from typing import Any

from erbench.config import ConfigError, run_name

KEYS = ("method", "set")


def variants(params) -> dict[str, dict]:
    """name -> {"method": M, "set": {...}} of a Params' choices (erbench.params: the section's keys
    and types are checked there), each entry validated; ConfigError names the params key."""
    raw = params.choices.variants
    out = {}
    for name, entry in raw.items():
        where = f"params choices.variants.{name}"
        if not isinstance(name, str) or not name.replace("_", "").isalnum() or not name.islower():
            raise ConfigError(f"{where}: a variant name must be lower_snake_case (it names run folders)")
        if not isinstance(entry, dict) or not isinstance(entry.get("method"), str):
            raise ConfigError(f"{where}: expected {{method: M, set: {{option: value, ...}}}}")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown key '{unknown[0]}' (valid: {', '.join(KEYS)})")
        overrides = entry.get("set") or {}
        if not isinstance(overrides, dict):
            raise ConfigError(f"{where}.set: expected a mapping option: value")
        out[name] = {"method": entry["method"], "set": dict(overrides)}
    return out


def variant(params, name: str, method: str | None) -> dict[str, Any]:
    """The variant NAME; its method must be `method` when one is given (--method)."""
    found = variants(params)
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigError(f"--choice: no variant '{name}' in params choices.variants (known: {known})")
    entry = found[name]
    if method and method != entry["method"]:
        raise ConfigError(f"--choice {name}: params choices.variants.{name}.method is {entry['method']}, "
                          f"not --method {method}")
    return entry


def run_names(params) -> list[str]:
    """The run folders (relative to runs/) dvc.yaml's `choices` and `choices_kfold` stages write for these
    params."""
    names, choices = sorted(variants(params)), params.choices
    return ([f"choices/{run_name(v, d, s)}" for d in choices.datasets for v in names for s in choices.seeds]
            + [f"choices/{run_name(v, d, s, f)}" for d in choices.kfold_datasets for f in params.grid.folds
               for v in names for s in choices.seeds])
