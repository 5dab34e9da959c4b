"""The run folder: its file names, how it is written (atomically, as one folder) and how it is read.

    metrics.json        every metric, the protocol, timing, per-epoch history, data hashes, warnings
    summary.json        the headline numbers (dvc.yaml's metrics)
    config.json         the full RunConfig, the type inventory and the encoder's max length
    predictions.jsonl   gold and predicted entities and relations, one evaluation document a line
    steps.jsonl         the training loss every `log_every` optimizer steps
    environment.json    packages, devices and threads the run used
    model.safetensors   the weights (when train.save_weights)

`erbench train` (runner) writes it; the report (report.collect), MLflow logging (tracking) and
`evaluate` / `predict` (runner.load_checkpoint) read it through this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from erbench.errors import UserInputError
from erbench.files import write_folder_atomic

METRICS = "metrics.json"
SUMMARY = "summary.json"
CONFIG = "config.json"
PREDICTIONS = "predictions.jsonl"
STEPS = "steps.jsonl"
ENVIRONMENT = "environment.json"
WEIGHTS = "model.safetensors"
TEXT_FILES = (METRICS, SUMMARY, CONFIG, PREDICTIONS, STEPS, ENVIRONMENT)  # all but the weights


class RunError(UserInputError):
    """A run folder that cannot be read; the message names the file."""


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=1) + "\n"


def write_run_folder(out_dir: str | Path, *, metrics: dict, config: dict, predictions: list[dict],
                     steps: list[dict], environment: dict, summary: dict, weights: dict | None = None,
                     force: bool = False) -> Path:
    """Write a run folder atomically into `out_dir` (an existing non-empty one only with `force`, and
    only if erbench wrote it as a run folder); `weights` (a state dict) go to model.safetensors."""
    files = {METRICS: _json(metrics), CONFIG: _json(config), PREDICTIONS: jsonl(predictions), STEPS: jsonl(steps),
             ENVIRONMENT: _json(environment), SUMMARY: _json(summary)}

    def save_weights(tmp: Path) -> None:
        from safetensors.torch import save_file

        save_file(weights, str(tmp / WEIGHTS), metadata={"format": "pt"})

    return write_folder_atomic(out_dir, files, save_weights if weights is not None else None, kind="run",
                               force=force)


def read_json(path: Path) -> Any:
    """A run file's JSON; RunError names the file when it is missing, unreadable or malformed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: no such file; not a run folder written by `erbench train`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def read_metrics(folder: Path) -> Any:
    return read_json(Path(folder) / METRICS)


def read_config(folder: Path) -> Any:
    return read_json(Path(folder) / CONFIG)


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, record) for each non-blank line of a JSON-lines run file."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise RunError(f"{path}: line {line_no}: malformed JSON: {exc.msg}") from None


def read_steps(folder: Path) -> list[dict]:
    """steps.jsonl's records; [] for a run folder written before it existed."""
    path = Path(folder) / STEPS
    return [rec for _, rec in read_jsonl(path)] if path.is_file() else []


def weights_path(folder: Path) -> Path:
    """The run's model.safetensors; RunError when it was not saved."""
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise RunError(f"{path}: no model weights in this run folder; train it again with weights: params "
                       "`train.save_weights: true` or `erbench train ... --set save_weights=true` (a `erbench grid "
                       "run` also needs --weights to bring them back from its workers)")
    return path
