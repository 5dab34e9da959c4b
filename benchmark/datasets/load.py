"""Load and validate SpERT-format JSON into typed, immutable documents (SPEC section 1).

Every rejection names the file, the document index and the field, so a user can fix the
input without reading this code. What real corpora legitimately contain is kept as it is:
nested and overlapping entities, entities wider than the span limit, exact duplicate
relations (SciERC train has four); `erbench.datasets.stats` counts them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from erbench.errors import UserInputError
from erbench.models.documents import Document, Entity, Relation, TypeInventory


class DataError(UserInputError):
    """Bad input data; the message names file, document index and field."""


def _read_json(path: Path, label: str | None = None) -> Any:
    """Parse a JSON file; errors name `label` (the user's own path when `path` is a staged copy)."""
    label = label or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{label}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{label}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    if not text.strip():
        raise DataError(f"{label}: empty file (expected JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{label}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def parse_types(raw: Any, source: str) -> TypeInventory:
    if not isinstance(raw, dict):
        raise DataError(f"{source}: types file must be a JSON object with 'entities' and 'relations', "
                        f"got {type(raw).__name__}")
    for key in ("entities", "relations"):
        if key not in raw:
            raise DataError(f"{source}: missing key '{key}'")
        if not isinstance(raw[key], dict):
            raise DataError(f"{source}: '{key}' must be an object mapping type names to descriptions, "
                            f"got {type(raw[key]).__name__}")
    if not raw["entities"]:
        raise DataError(f"{source}: 'entities' lists no entity type")
    symmetric = set()
    names: dict[str, tuple[str, str]] = {}
    for key in ("entities", "relations"):
        for name, spec in raw[key].items():
            if not isinstance(spec, dict):
                raise DataError(f"{source}: {key}.{name} must be an object (short, verbose"
                                f"{', symmetric' if key == 'relations' else ''}), got {type(spec).__name__}")
            for part in ("short", "verbose"):
                if part in spec and not isinstance(spec[part], str):
                    raise DataError(f"{source}: {key}.{name}.{part} must be a string, got {spec[part]!r}")
            names[name] = (spec.get("short", name), spec.get("verbose", name))
            if key == "relations":
                flag = spec.get("symmetric", False)
                if not isinstance(flag, bool):
                    raise DataError(f"{source}: relations.{name}.symmetric must be true or false, got {flag!r}")
                if flag:
                    symmetric.add(name)
    return TypeInventory(tuple(raw["entities"]), tuple(raw["relations"]), frozenset(symmetric), names)


def load_types(path: str | Path, label: str | None = None) -> TypeInventory:
    return parse_types(_read_json(Path(path), label), label or str(path))


def _int_field(obj: dict, key: str, where: str) -> int:
    if key not in obj:
        raise DataError(f"{where}: missing key '{key}'")
    value = obj[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError(f"{where}.{key}: expected an integer, got {type(value).__name__} {value!r}")
    return value


def _parse_document(raw: Any, i: int, source: str, types: TypeInventory | None) -> Document:
    where = f"{source}: document {i} (0-based)"
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
        if not isinstance(etype, str):
            raise DataError(f"{ew}.type: expected a string, got {type(etype).__name__} {etype!r}")
        start, end = _int_field(ent, "start", ew), _int_field(ent, "end", ew)
        if start < 0:
            raise DataError(f"{ew}.start: {start} is negative (word indices are 0-based)")
        if end > len(tokens):
            raise DataError(f"{ew}.end: {end} is beyond the document's {len(tokens)} tokens (end is exclusive)")
        if start >= end:
            raise DataError(f"{ew}.end: {end} must be greater than start {start} (end is exclusive)")
        if types is not None and etype not in types.entities:
            raise DataError(f"{ew}.type: '{etype}' is not an entity type of the types file")
        if (start, end) in seen_spans:
            raise DataError(f"{ew}: duplicate entity span start={start}, end={end} "
                            f"(also entities[{seen_spans[(start, end)]}])")
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


def load_documents(path: str | Path, types: TypeInventory | None = None, label: str | None = None) -> list[Document]:
    """Read and validate one SpERT JSON file; `types` checks every type name when given; errors
    name `label` (default: the path)."""
    return parse_documents(_read_json(Path(path), label), label or str(path), types)
