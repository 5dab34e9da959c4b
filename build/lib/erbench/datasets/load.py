"""Load and validate SpERT-format JSON into typed, immutable documents (SPEC section 1).

Every rejection names the file, the document index and the field, so a user can fix the
input without reading this code. What real corpora legitimately contain is kept as it is:
nested and overlapping entities, entities wider than the span limit, exact duplicate
relations (SciERC train has four); `erbench.datasets.stats` counts them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """Bad input data; the message names file, document index and field."""


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

    def to_json(self) -> dict:
        return {
            "entities": {t: {"short": t, "verbose": t} for t in self.entities},
            "relations": {
                t: {"short": t, "verbose": t, "symmetric": t in self.symmetric} for t in self.relations
            },
        }


def _read_json(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def parse_types(raw: Any, source: str) -> TypeInventory:
    if not isinstance(raw, dict):
        raise DataError(f"{source}: types file must be a JSON object with 'entities' and 'relations'")
    for key in ("entities", "relations"):
        if key not in raw:
            raise DataError(f"{source}: missing key '{key}'")
        if not isinstance(raw[key], dict):
            raise DataError(f"{source}: '{key}' must be an object mapping type names to descriptions")
    if not raw["entities"]:
        raise DataError(f"{source}: 'entities' lists no entity type")
    symmetric = set()
    for name, spec in raw["relations"].items():
        flag = spec.get("symmetric", False) if isinstance(spec, dict) else None
        if not isinstance(flag, bool):
            raise DataError(f"{source}: relations.{name}.symmetric must be true or false")
        if flag:
            symmetric.add(name)
    return TypeInventory(tuple(raw["entities"]), tuple(raw["relations"]), frozenset(symmetric))


def load_types(path: str | Path) -> TypeInventory:
    return parse_types(_read_json(Path(path)), str(path))


def _int_field(obj: dict, key: str, where: str) -> int:
    if key not in obj:
        raise DataError(f"{where}: missing key '{key}'")
    value = obj[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError(f"{where}.{key}: expected an integer, got {type(value).__name__} {value!r}")
    return value


def _parse_document(raw: Any, i: int, source: str, types: TypeInventory | None) -> Document:
    where = f"{source}: document {i}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object, got {type(raw).__name__}")
    for key in ("tokens", "entities", "relations"):
        if key not in raw:
            raise DataError(f"{where}: missing key '{key}'")
        if not isinstance(raw[key], list):
            raise DataError(f"{where}: '{key}' must be a list, got {type(raw[key]).__name__}")
    tokens = raw["tokens"]
    for j, tok in enumerate(tokens):
        if not isinstance(tok, str):
            raise DataError(f"{where}: tokens[{j}] must be a string, got {type(tok).__name__}")
    if not tokens:
        raise DataError(f"{where}: 'tokens' is empty")
    entities: list[Entity] = []
    seen_spans: dict[tuple[int, int], int] = {}
    for j, ent in enumerate(raw["entities"]):
        ew = f"{where}: entities[{j}]"
        if not isinstance(ent, dict):
            raise DataError(f"{ew}: expected an object, got {type(ent).__name__}")
        if "type" not in ent:
            raise DataError(f"{ew}: missing key 'type'")
        etype = ent["type"]
        start, end = _int_field(ent, "start", ew), _int_field(ent, "end", ew)
        if start >= end:
            raise DataError(f"{ew}: empty span (start={start} >= end={end})")
        if start < 0 or end > len(tokens):
            raise DataError(f"{ew}: span [{start}, {end}) out of range for {len(tokens)} tokens")
        if types is not None and etype not in types.entities:
            raise DataError(f"{ew}.type: '{etype}' is not an entity type of the types file")
        if (start, end) in seen_spans:
            raise DataError(f"{ew}: duplicate entity span [{start}, {end}) (also entities[{seen_spans[(start, end)]}])")
        seen_spans[(start, end)] = j
        entities.append(Entity(str(etype), start, end))
    relations: list[Relation] = []
    for j, rel in enumerate(raw["relations"]):
        rw = f"{where}: relations[{j}]"
        if not isinstance(rel, dict):
            raise DataError(f"{rw}: expected an object, got {type(rel).__name__}")
        if "type" not in rel:
            raise DataError(f"{rw}: missing key 'type'")
        head, tail = _int_field(rel, "head", rw), _int_field(rel, "tail", rw)
        for key, value in (("head", head), ("tail", tail)):
            if not 0 <= value < len(entities):
                raise DataError(f"{rw}.{key}: entity index {value} out of range for {len(entities)} entities")
        if head == tail:
            raise DataError(f"{rw}: head and tail are the same entity ({head})")
        if types is not None and rel["type"] not in types.relations:
            raise DataError(f"{rw}.type: '{rel['type']}' is not a relation type of the types file")
        relations.append(Relation(str(rel["type"]), head, tail))
    return Document(tuple(tokens), tuple(entities), tuple(relations), raw.get("orig_id"), i)


def parse_documents(raw: Any, source: str, types: TypeInventory | None = None) -> list[Document]:
    if not isinstance(raw, list):
        raise DataError(f"{source}: expected a JSON list of documents, got {type(raw).__name__}")
    return [_parse_document(d, i, source, types) for i, d in enumerate(raw)]


def load_documents(path: str | Path, types: TypeInventory | None = None) -> list[Document]:
    """Read and validate one SpERT JSON file; `types` checks every type name when given."""
    return parse_documents(_read_json(Path(path)), str(path), types)
