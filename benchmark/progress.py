"""Progress bars (rich) that stay quiet in CI (`CI=true`) or with `--quiet`.

On a terminal the bars redraw in place. When stderr is not a terminal (a log file, `nohup`, a
scheduler's output), bars would print nothing until the end, so progress is written as plain
lines instead: one per advance of a short task (epochs), one when a long task (an epoch's steps)
finishes, each with the elapsed time and, where it can be estimated, the time left.

`epoch_line` is the line `erbench train` prints after every epoch (the mean training loss and its
parts, the dev scores when dev is evaluated every epoch, the epoch's time); `Progress.say` prints it
above the bars. It is a log line, not a progress bar: `--quiet` and `CI=true` keep it.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress

SHORT_TASK = 100  # tasks of at most this many units get a line per advance; longer ones a line when done


@dataclass
class _Task:
    description: str
    total: int
    done: int = 0
    start: float = field(default_factory=lambda: time.monotonic())
    already: int = 0  # units done before this process (a resumed run's epochs): not in the rate


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


DEV_SCORES = (("ner", "NER"), ("rel", "RE"), ("rel_strict", "RE+"))


def epoch_line(epoch: int, epochs: int, record: dict) -> str:
    """'epoch 2/5: loss 0.4123 (entity 0.2012, relation 0.2111) | dev NER 81.20 RE 52.10 RE+ 50.30
    (micro F1) | 12.3 s, 34.5 sent/s' from one history record of train_model."""
    parts = [f"epoch {epoch}/{epochs}:"]
    if "train/loss" in record:
        inner = [f"{k[len('train/'):]} {v:.4f}" for k, v in record.items()
                 if k.startswith("train/") and k != "train/loss" and isinstance(v, float)]
        parts.append(f"loss {record['train/loss']:.4f}" + (f" ({', '.join(inner)})" if inner else ""))
    dev = [f"{label} {record[f'dev/{key}/micro_f1']:.2f}" for key, label in DEV_SCORES
           if record.get(f"dev/{key}/micro_f1") is not None]
    if dev:
        parts.append("| dev " + " ".join(dev) + " (micro F1)")
    if "seconds" in record:
        parts.append(f"| {record['seconds']:.1f} s" + (f", {record['sentences_per_s']:.1f} sent/s"
                                                      if record.get("sentences_per_s") else ""))
    return " ".join(parts)


class Progress:
    """A small facade over rich.progress; `enabled=False` makes every call a no-op.

    `lines` chooses plain lines over bars; None (the default) picks lines when stderr is not a terminal.
    """

    def __init__(self, enabled: bool = True, *, lines: bool | None = None, stream=None):
        self.enabled = enabled
        self._rich = None
        self._stream = stream if stream is not None else sys.stderr
        if lines is None:
            lines = not getattr(self._stream, "isatty", lambda: False)()
        self._lines: dict[int, _Task] | None = {} if enabled and lines else None
        if enabled and not lines:
            self._rich = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TimeRemainingColumn(), transient=True, console=Console(file=self._stream),
            )

    def __enter__(self) -> Progress:
        if self._rich:
            self._rich.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._rich:
            self._rich.stop()

    def add(self, description: str, total: int, completed: int = 0):
        """A task of `total` units; `completed` of them done before (a resumed run): shown as done,
        left out of the time-left estimate."""
        if self._lines is not None:
            key = len(self._lines) + 1
            self._lines[key] = _Task(description, int(total), done=int(completed), already=int(completed))
            return key
        return self._rich.add_task(description, total=total, completed=completed) if self._rich else None

    def advance(self, task, amount: int = 1) -> None:
        if self._lines is not None and task in self._lines:
            self._line(self._lines[task], amount)
        elif self._rich and task is not None:
            self._rich.advance(task, amount)

    def remove(self, task) -> None:
        if self._lines is not None:
            self._lines.pop(task, None)
        elif self._rich and task is not None:
            self._rich.remove_task(task)

    def say(self, line: str) -> None:
        """A log line (an epoch's summary): above the bars when they are drawn, else on the stream, also
        when progress is disabled (--quiet, CI=true)."""
        if self._rich:
            self._rich.console.print(line, highlight=False, soft_wrap=True)
        else:
            print(line, file=self._stream, flush=True)

    def _line(self, task: _Task, amount: int) -> None:
        task.done += amount
        finished = task.done >= task.total
        if not (finished or task.total <= SHORT_TASK):
            return
        elapsed = time.monotonic() - task.start
        text = f"{task.description}: {task.done}/{task.total} ({_duration(elapsed)} elapsed"
        if not finished and task.done > task.already:
            text += f", ~{_duration(elapsed / (task.done - task.already) * (task.total - task.done))} left"
        print(text + ")", file=self._stream, flush=True)
