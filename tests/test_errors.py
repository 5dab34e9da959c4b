"""The CLI's error boundary: the project's own errors become one line and exit 2; anything else is a bug
and keeps its traceback."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from erbench.analysis.protocol import ProtocolMismatch
from erbench.cli._common import friendly_errors
from erbench.config import ConfigError
from erbench.datasets.load import DataError
from erbench.datasets.stage import StageError
from erbench.errors import ErbenchError, UserInputError
from erbench.files import OutputExists
from erbench.grid.driver import GridError
from erbench.grid.pipeline import PipelineError
from erbench.lock import LockHeld
from erbench.models.encoder import EncoderError, LongDocumentError
from erbench.report.collect import RunError


@pytest.mark.parametrize("cls", [DataError, RunError, OutputExists, PipelineError, ProtocolMismatch])
def test_input_errors_are_user_input_errors(cls) -> None:
    assert issubclass(cls, UserInputError) and issubclass(cls, ValueError) and cls.exit_code == 2


@pytest.mark.parametrize("cls", [StageError, GridError, LockHeld])
def test_failures_the_cli_reports_exit_2(cls) -> None:  # ConfigError: defined by erbench.models, caught by name
    assert issubclass(cls, ErbenchError) and issubclass(cls, RuntimeError) and cls.exit_code == 2


def _command(exc: BaseException) -> click.Command:
    @click.command()
    @friendly_errors
    def cmd() -> None:
        raise exc

    return cmd


@pytest.mark.parametrize("exc", [ConfigError("params.yaml: train.lr: expected float"), UserInputError("--fold: 11"),
                                 EncoderError("encoder 'nope': not found"), LongDocumentError("doc 3: 900 tokens"),
                                 LockHeld("grid lock is held")])
def test_own_errors_are_one_line_and_exit_2(exc) -> None:
    result = CliRunner().invoke(_command(exc))
    assert result.exit_code == 2
    assert "Traceback" not in result.output and str(exc) in result.output


@pytest.mark.parametrize("exc", [ValueError("a bug"), FileNotFoundError("some/file"), KeyError("k"),
                                 TypeError("bad call")])
def test_other_errors_keep_their_traceback(exc) -> None:
    result = CliRunner().invoke(_command(exc))
    assert result.exit_code == 1 and result.exception is exc


def test_a_project_error_that_is_not_input_keeps_its_own_exit_code() -> None:
    class Broken(ErbenchError):
        pass

    result = CliRunner().invoke(_command(Broken("state is broken")))
    assert result.exit_code == 1 and "state is broken" in result.output and result.exception is not None
