"""The document and type-inventory types the model and the harness share (docs/methods.md, Data).

Word indices throughout; an entity's `end` is exclusive. Parsing and validation of files live in
`erbench.datasets.load`, which re-exports these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Entity:
    type: str
    start: int  # word index, inclusive
    end: int  # word index, exclusive

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    @property
    def width(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Relation:
    type: str
    head: int  # index into Document.entities
    tail: int


@dataclass(frozen=True)
class Document:
    tokens: tuple[str, ...]
    entities: tuple[Entity, ...]
    relations: tuple[Relation, ...]
    orig_id: Any = None
    index: int = 0  # position in its file

    def to_json(self) -> dict:
        return {
            "tokens": list(self.tokens),
            "entities": [{"type": e.type, "start": e.start, "end": e.end} for e in self.entities],
            "relations": [{"type": r.type, "head": r.head, "tail": r.tail} for r in self.relations],
            "orig_id": self.orig_id,
        }


@dataclass(frozen=True)
class TypeInventory:
    """Entity and relation type names in file order; `symmetric` names relation types."""

    entities: tuple[str, ...]
    relations: tuple[str, ...]
    symmetric: frozenset[str] = frozenset()
    # type -> (short, verbose) names as the types file gives them (kept for reports and run folders)
    names: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False, hash=False)

    def _names(self, t: str) -> dict:
        short, verbose = self.names.get(t, (t, t))
        return {"short": short, "verbose": verbose}

    def to_json(self) -> dict:
        return {
            "entities": {t: self._names(t) for t in self.entities},
            "relations": {t: {**self._names(t), "symmetric": t in self.symmetric} for t in self.relations},
        }
