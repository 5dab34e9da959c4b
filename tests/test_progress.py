"""Progress off a terminal: plain lines (a log file shows how far a long run is), nothing when disabled."""

from __future__ import annotations

import io

from erbench.progress import Progress


def test_lines_when_not_a_terminal():
    stream = io.StringIO()
    with Progress(stream=stream) as progress:  # StringIO is not a terminal
        epochs = progress.add("epochs", 3)
        for _ in range(3):
            steps = progress.add("epoch", 500)
            for _ in range(500):
                progress.advance(steps)
            progress.remove(steps)
            progress.advance(epochs)
    lines = stream.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["epoch: 500/500", "epochs: 1/3", "epoch: 500/500",
                                                      "epochs: 2/3", "epoch: 500/500", "epochs: 3/3"]
    assert "left" in lines[1] and "left" not in lines[-1] and all("elapsed" in line for line in lines)


def test_disabled_writes_nothing():
    stream = io.StringIO()
    with Progress(enabled=False, stream=stream) as progress:
        task = progress.add("epochs", 2)
        progress.advance(task, 2)
    assert stream.getvalue() == ""


def test_terminal_gets_bars_not_lines():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    with Progress(stream=stream) as progress:
        task = progress.add("epochs", 2)
        progress.advance(task, 2)
    assert "epochs: 2/2" not in stream.getvalue()


def test_resumed_epochs_stay_out_of_the_time_left(monkeypatch):
    """A run resumed after 16 of 20 epochs: 4 min for the 17th leaves ~12 min (3 x 4), not 16 x 4 / 17 x 3."""
    clock = [1000.0]
    monkeypatch.setattr("erbench.progress.time.monotonic", lambda: clock[0])
    stream = io.StringIO()
    with Progress(stream=stream) as progress:
        task = progress.add("epochs", 20, completed=16)
        clock[0] += 240.0
        progress.advance(task)
    assert stream.getvalue().strip() == "epochs: 17/20 (4:00 elapsed, ~12:00 left)"
