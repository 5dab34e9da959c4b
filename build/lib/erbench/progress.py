"""Progress bars (rich) that stay quiet in CI (`CI=true`) or with `--quiet`."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    """A small facade over rich.progress; `enabled=False` makes every call a no-op."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._rich = None
        if enabled:
            self._rich = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TimeRemainingColumn(), transient=True,
            )

    def __enter__(self) -> Progress:
        if self._rich:
            self._rich.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._rich:
            self._rich.stop()

    def add(self, description: str, total: int):
        return self._rich.add_task(description, total=total) if self._rich else None

    def advance(self, task, amount: int = 1) -> None:
        if self._rich and task is not None:
            self._rich.advance(task, amount)

    def remove(self, task) -> None:
        if self._rich and task is not None:
            self._rich.remove_task(task)
