"""dvc.lock written in time proportional to the stages that changed, not to the whole grid.

DVC rewrites dvc.lock with a round-trip YAML parser and dumper in pure Python: for the paper
grid (1,000 stages, 1.8 MB) that is tens of seconds per commit. The grid driver commits many
times during a run, so it keeps dvc.lock as one YAML text chunk per stage, re-dumps only the
entries that DVC serialised for the stages it commits (`dvc.stage.serialize.to_lockfile`), and
writes the file atomically. The text is plain YAML with DVC's layout (schema, then stages in
order); DVC reads it like its own. If anything else wrote dvc.lock meanwhile (its stat changed),
the file is parsed again first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from erbench.files import write_text_atomic

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(obj) -> str:
    return yaml.dump(obj, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=1 << 30,
                     allow_unicode=True)


def _chunk(name: str, entry: dict) -> str:
    plain = json.loads(json.dumps(entry))  # OrderedDicts and tuples -> dicts and lists, order kept
    return "".join("  " + line + "\n" for line in _dump({name: plain}).splitlines())


class LockWriter:
    """Update entries of one dvc.lock; the caller holds DVC's repository lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._signature: tuple | None = None
        self._top: dict = {}
        self._schema = "2.0"
        self._chunks: dict[str, str] = {}

    def _stat(self) -> tuple | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _load(self) -> None:
        signature = self._stat()
        if signature is not None and signature == self._signature:
            return
        data = yaml.load(self.path.read_text(), Loader=Loader) if signature else None
        data = data or {}
        self._top = {k: v for k, v in data.items() if k not in ("schema", "stages")}
        self._schema = data.get("schema", "2.0")
        self._chunks = {name: _chunk(name, entry) for name, entry in (data.get("stages") or {}).items()}

    def update(self, entries: dict[str, dict]) -> None:
        """Replace or add the lock entries of these stages and write dvc.lock atomically."""
        self._load()
        for name, entry in entries.items():
            self._chunks[name] = _chunk(name, entry)
        text = _dump({"schema": self._schema}) + "stages:\n" + "".join(self._chunks.values())
        if self._top:
            text += _dump(json.loads(json.dumps(self._top)))
        mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
        write_text_atomic(self.path, text)
        os.chmod(self.path, mode)
        self._signature = self._stat()
