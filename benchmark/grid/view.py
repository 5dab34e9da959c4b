"""What `erbench grid run` shows: a live table (done / running / failed / queued, per node), or one
line per event where there is no terminal (CI, logs), and a summary table at the end."""

from __future__ import annotations

import time
from collections import Counter, defaultdict

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text


def node_label(node: dict) -> str:
    node_id = str(node.get("node_id", ""))
    host = node.get("host") or node.get("ip") or "?"
    return f"{host} {node_id[:8]}" if node_id and node_id != "local" else str(host)


class GridView:
    """Counts per state and per node; rendered live on a terminal, else printed as event lines."""

    def __init__(self, console: Console, live: bool):
        self.console, self.live = console, live
        self._live: Live | None = None
        self.total = 0
        self.running: dict[str, str] = {}  # stage -> node label
        self.state: Counter = Counter()
        self.per_node: dict[str, Counter] = defaultdict(Counter)
        self.seconds: Counter = Counter()
        self.nodes: list[dict] = []
        self.start = time.monotonic()

    def __enter__(self) -> GridView:
        return self

    def __exit__(self, *exc) -> None:
        if self._live:
            self._live.stop()
            self._live = None

    def note(self, text: str) -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    def begin(self, names: list[str], cluster: dict, note: str = "") -> None:
        self.total, self.nodes = len(names), cluster.get("nodes", [])
        res = cluster.get("resources", {})
        self.note(f"grid: {len(names)} stale stage(s) -> {cluster.get('address', '?')}: {len(self.nodes)} node(s), "
                  f"{res.get('CPU', 0):g} CPU, {res.get('GPU', 0):g} GPU")
        if note:
            self.note(f"[yellow]{note}[/]")
        if self.live:
            self._live = Live(get_renderable=self.render, console=self.console, refresh_per_second=2, transient=True)
            self._live.start()

    def started(self, name: str, node: dict, resumes_after: int = 0) -> None:
        """`resumes_after`: the last epoch whose training state the checkout holds for the stage (erbench.resume)."""
        label = node_label(node)
        then = f"; its training state is saved after epoch {resumes_after}" if resumes_after else ""
        if name in self.running:
            self.state["retried"] += 1
            self.per_node[self.running[name]]["retried"] += 1
            if not self.live:
                self.note(f"retrying {name} on {label} (node id {node.get('node_id', '')}{then})")
        elif not self.live:
            self.note(f"started {name} on {label} (node id {node.get('node_id', '')}{then})")
        self.running[name] = label

    def finished(self, name: str, state: str, node: dict | None = None, seconds: float = 0.0,
                 error: str = "") -> None:
        """STATE: done, failed or discarded."""
        label = node_label(node) if node else self.running.get(name, "?")
        self.running.pop(name, None)
        self.state[state] += 1
        self.per_node[label][state] += 1
        self.seconds[label] += seconds
        if not self.live or state != "done":
            text = f"{state} {name} on {label} ({seconds:.1f} s)" if state == "done" else f"{state}: {error or name}"
            self.note(text if state == "done" else f"[red]{text}[/]")

    def committed(self, names: list[str]) -> None:
        self.state["committed"] += len(names)
        if names and not self.live:
            self.note(f"committed {len(names)} stage(s) (dvc.lock)")

    def render(self) -> Group:
        finished = self.state["done"] + self.state["failed"] + self.state["discarded"]
        queued = self.total - finished - len(self.running)
        head = Text.assemble(
            (f"done {self.state['done']}", "green"), "  ", (f"running {len(self.running)}", "cyan"), "  ",
            (f"failed {self.state['failed'] + self.state['discarded']}", "red"), "  ", f"queued {max(queued, 0)}",
            "  ", f"committed {self.state['committed']}", "  ", f"retried {self.state['retried']}",
            "  ", f"{time.monotonic() - self.start:.0f} s")
        table = Table(box=None, pad_edge=False)
        for col in ("node", "CPU", "GPU", "running", "done", "failed"):
            table.add_column(col)
        labels = [node_label(n) for n in self.nodes]
        labels += sorted(set(self.per_node) - set(labels))
        for label in labels:
            res = next((n for n in self.nodes if node_label(n) == label), {})
            running = [s for s, where in self.running.items() if where == label]
            shown = ", ".join(running[:2]) + (f" +{len(running) - 2}" if len(running) > 2 else "")
            table.add_row(label, f"{res.get('CPU', '')}", f"{res.get('GPU', '')}", shown,
                          str(self.per_node[label]["done"]), str(self.per_node[label]["failed"]))
        return Group(head, table)

    def summary(self, summary) -> None:
        """The closing table: per node, then every failed or discarded stage with its reason."""
        if self._live:
            self._live.stop()
            self._live = None
        if summary.stale:
            table = Table(title=f"erbench grid run: {summary.stale} stale of {summary.planned} stages")
            for col in ("node", "done", "failed", "retried", "run time"):
                table.add_column(col, justify="right" if col != "node" else "left")
            for label, counts in sorted(self.per_node.items()):
                table.add_row(label, str(counts["done"]), str(counts["failed"] + counts["discarded"]),
                              str(counts["retried"]), f"{self.seconds[label]:.0f} s")
            self.console.print(table)
        for name, error in sorted({**summary.failed, **summary.discarded}.items()):
            self.note(f"[red]not committed[/] {name}: {error}")
        for name, error in sorted(summary.log_errors.items()):
            self.note(f"[yellow]not logged[/] {name}: {error} (logged at the next `erbench grid run`)")
        self.note(summary.line())
