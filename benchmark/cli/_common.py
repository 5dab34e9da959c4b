"""What every command shares: the stderr console, --quiet and the error boundary.

A leaf of the CLI package: it imports no command module, and no library module imports it.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path

import click
from erbench.config import ConfigError
from erbench.errors import ErbenchError
from rich.console import Console

# soft_wrap: a line is never broken at the console's width (80 columns when not a terminal: DVC's and the
# grid's logs), so a run id or a path stays on its line, to grep or copy
console = Console(stderr=True, soft_wrap=True)
DATA_ROOT = Path("data")


def is_quiet(ctx: click.Context) -> bool:
    """--quiet on the root command, or CI=true."""
    return bool((ctx.find_root().obj or {}).get("quiet")) or os.environ.get("CI", "").lower() == "true"


def quiet_third_party() -> None:
    """--quiet / CI=true: no progress bars or INFO lines from transformers, huggingface_hub, MLflow and
    alembic (also in subprocesses, through the environment); their warnings still reach stderr."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "warning")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("mlflow", "alembic", "transformers", "huggingface_hub", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if "transformers" in sys.modules:  # already imported: its progress switch was read at import time
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {message}", highlight=False)


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types that are the project's own: erbench's, and the model package's encoder errors
    (looked up only when a command has imported the encoder, which keeps `erbench --help` light)."""
    errors: list[type[BaseException]] = [ErbenchError, ConfigError]  # ConfigError: the model package's own
    encoder = sys.modules.get("erbench.models.encoder")
    if encoder is not None:
        errors += [encoder.EncoderError, encoder.LongDocumentError]
    return tuple(errors)


def friendly_errors(func):
    """Turn the project's own errors into one red line and their exit status (2 for bad input); any
    other exception is a bug and keeps its traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted: nothing half-written was left behind[/]")
            sys.exit(130)
        except Exception as exc:
            if not isinstance(exc, user_errors()):
                raise
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            sys.exit(getattr(exc, "exit_code", 2))

    return wrapper


# options several commands take
data_root_option = click.option("--data-root", type=click.Path(file_okay=False, path_type=Path), default=DATA_ROOT,
                                show_default=True)


def params_option(help: str | None = None):
    """--params FILE: none is read unless named."""
    return click.option("--params", "params_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help=help)
