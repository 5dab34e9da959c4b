"""The project's own errors: what the command line turns into one red line instead of a traceback.

`ErbenchError` is every error erbench raises on purpose; `UserInputError` is the part caused by what
the user gave (a flag, a params key, a file, a run folder) and exits with status 2. Any other exception
is a bug and keeps its traceback. A leaf module: it imports nothing of erbench.
"""

from __future__ import annotations


class ErbenchError(Exception):
    """An error erbench raises on purpose; the CLI prints its message and exits with `exit_code`."""

    exit_code = 1


class UserInputError(ErbenchError, ValueError):
    """Bad input: a flag, params key, dataset file or run folder the user named. Exit status 2.

    Also a ValueError, so library callers that catch ValueError keep working."""

    exit_code = 2
