"""An exclusive lock on a file (fcntl.flock): one `grid run` per checkout, one MLflow sqlite writer.

The lock belongs to the open file description, so it is released when the holder exits, even
when it is killed: no stale lock files to clean up. The holder's pid is written into the file
for the error message of whoever finds it taken.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from erbench.errors import ErbenchError


class LockHeld(ErbenchError, RuntimeError):
    """Raised by a non-blocking `file_lock` that another process holds."""

    exit_code = 2


@contextmanager
def file_lock(path: str | Path, *, blocking: bool = True, what: str = "") -> Iterator[Path]:
    """Hold an exclusive lock on PATH (created if missing) for the `with` block."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise LockHeld(f"{what or path} is held by another process (pid {holder}; lock file {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock
