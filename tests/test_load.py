"""Validation of SpERT JSON (SPEC 1): every rejection names file, document index and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from erbench.datasets.load import (
    DataError,
    Entity,
    Relation,
    TypeInventory,
    load_documents,
    load_types,
    parse_types,
)

TYPES = {
    "entities": {"Peop": {"short": "P", "verbose": "People"},
                 "Org": {"short": "O", "verbose": "Organization"},
                 "Loc": {"short": "L", "verbose": "Location"}},
    "relations": {"Work_For": {"short": "W", "verbose": "Work for", "symmetric": False},
                  "Partner": {"short": "Pa", "verbose": "Partner of", "symmetric": True},
                  "Located_In": {"short": "LI", "verbose": "Located in"}},
}

GOOD = {
    "tokens": ["John", "Smith", "works", "for", "Acme", "in", "Paris", "."],
    "entities": [{"type": "Peop", "start": 0, "end": 2}, {"type": "Org", "start": 4, "end": 5},
                 {"type": "Loc", "start": 6, "end": 7}],
    "relations": [{"type": "Work_For", "head": 0, "tail": 1}, {"type": "Located_In", "head": 1, "tail": 2}],
    "orig_id": 42,
}


def write(path: Path, payload) -> Path:
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return path


@pytest.fixture
def types(tmp_path) -> TypeInventory:
    return load_types(write(tmp_path / "tiny_types.json", TYPES))


def load_bad(tmp_path: Path, types: TypeInventory, mutate) -> str:
    """Put a mutated copy of GOOD at index 1 (after a valid document) and return the error message."""
    bad = copy.deepcopy(GOOD)
    mutate(bad)
    path = write(tmp_path / "tiny_train.json", [GOOD, bad])
    with pytest.raises(DataError) as info:
        load_documents(path, types)
    return str(info.value)


def put(*keys_and_value):
    *keys, value = keys_and_value

    def mutate(doc):
        target = doc
        for k in keys[:-1]:
            target = target[k]
        target[keys[-1]] = value

    return mutate


def drop(*keys):
    def mutate(doc):
        target = doc
        for k in keys[:-1]:
            target = target[k]
        del target[keys[-1]]

    return mutate


INT = "expected an integer"

CASES = {
    # id: (mutation, substrings the message must contain besides the file name and "document 1")
    "missing tokens": (drop("tokens"), ["missing key 'tokens'"]),
    "missing entities": (drop("entities"), ["missing key 'entities'"]),
    "missing relations": (drop("relations"), ["missing key 'relations'"]),
    "tokens not a list": (put("tokens", "John Smith"), ["'tokens' must be a list", "str"]),
    "entities not a list": (put("entities", {}), ["'entities' must be a list", "dict"]),
    "token not a string": (put("tokens", 1, 7), ["tokens[1] must be a string", "int"]),
    "empty tokens": (lambda d: d.update(tokens=[], entities=[], relations=[]), ["'tokens' is empty"]),
    "entity not an object": (put("entities", 1, ["Org", 4, 5]), ["entities[1]", "expected an object"]),
    "entity missing type": (drop("entities", 0, "type"), ["entities[0]", "missing key 'type'"]),
    "entity missing start": (drop("entities", 0, "start"), ["entities[0]", "missing key 'start'"]),
    "entity missing end": (drop("entities", 2, "end"), ["entities[2]", "missing key 'end'"]),
    "start is a string": (put("entities", 0, "start", "0"), ["entities[0].start", INT, "str"]),
    "end is a float": (put("entities", 1, "end", 5.0), ["entities[1].end", INT, "float"]),
    "start is a bool": (put("entities", 0, "start", False), ["entities[0].start", INT, "bool"]),
    "empty span": (put("entities", 1, "end", 4), ["entities[1].end", "4 must be greater than start 4"]),
    "reversed span": (put("entities", 0, "start", 3), ["entities[0].end", "2 must be greater than start 3"]),
    "end past tokens": (put("entities", 2, "end", 9), ["entities[2].end", "9 is beyond the document's 8 tokens"]),
    "negative start": (put("entities", 0, "start", -1), ["entities[0].start", "-1 is negative"]),
    "type not a string": (put("entities", 0, "type", 3), ["entities[0].type", "expected a string", "int"]),
    "unknown entity type": (put("entities", 1, "type", "Company"),
                            ["entities[1].type", "'Company' is not an entity type"]),
    "duplicate entity span": (lambda d: d["entities"].append({"type": "Org", "start": 0, "end": 2}),
                              ["entities[3]", "duplicate entity span start=0, end=2", "also entities[0]"]),
    "relation not an object": (put("relations", 0, [0, 1]), ["relations[0]", "expected an object"]),
    "relation missing type": (drop("relations", 1, "type"), ["relations[1]", "missing key 'type'"]),
    "relation missing head": (drop("relations", 0, "head"), ["relations[0]", "missing key 'head'"]),
    "relation missing tail": (drop("relations", 0, "tail"), ["relations[0]", "missing key 'tail'"]),
    "head not an int": (put("relations", 0, "head", "0"), ["relations[0].head", INT]),
    "tail is a bool": (put("relations", 0, "tail", True), ["relations[0].tail", INT, "bool"]),
    "head out of range": (put("relations", 1, "head", 3),
                          ["relations[1].head", "entity index 3 out of range", "3 entities"]),
    "negative tail": (put("relations", 0, "tail", -1), ["relations[0].tail", "entity index -1 out of range"]),
    "head equals tail": (put("relations", 0, "tail", 0), ["relations[0]", "head and tail are the same"]),
    "unknown relation type": (put("relations", 1, "type", "Kill"),
                              ["relations[1].type", "'Kill' is not a relation type"]),
}


@pytest.mark.parametrize("mutate,expected", list(CASES.values()), ids=list(CASES))
def test_bad_document_is_rejected_with_file_index_and_field(tmp_path, types, mutate, expected):
    message = load_bad(tmp_path, types, mutate)
    assert "tiny_train.json" in message
    assert "document 1 (0-based)" in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_document_not_an_object(tmp_path, types):
    path = write(tmp_path / "tiny_dev.json", [GOOD, GOOD, "John works for Acme"])
    with pytest.raises(DataError, match=r"tiny_dev\.json: document 2 \(0-based\): expected an object, got str"):
        load_documents(path, types)


@pytest.mark.parametrize("payload,kind", [({"documents": []}, "dict"), ("null", "NoneType"), ("3", "int")])
def test_file_not_a_list(tmp_path, types, payload, kind):
    path = write(tmp_path / "tiny_test.json", payload if isinstance(payload, str) else json.dumps(payload))
    with pytest.raises(DataError, match=rf"tiny_test\.json: expected a JSON list of documents, got {kind}"):
        load_documents(path, types)


def test_malformed_json_names_line_and_column(tmp_path, types):
    text = json.dumps([GOOD], indent=1).splitlines()
    text.insert(3, '  "John",,')  # a syntax error on line 4
    path = write(tmp_path / "broken.json", "\n".join(text))
    with pytest.raises(DataError) as info:
        load_documents(path, types)
    message = str(info.value)
    assert "broken.json" in message and "malformed JSON" in message
    assert "line 4 column" in message


def test_not_utf8(tmp_path, types):
    path = tmp_path / "latin1.json"
    path.write_bytes('[{"tokens": ["Jos\xe9"]}]'.encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.json: not UTF-8"):
        load_documents(path, types)


def test_data_file_not_found(tmp_path, types):
    with pytest.raises(DataError, match=r"missing_train\.json: file not found"):
        load_documents(tmp_path / "missing_train.json", types)


# ---- types file -----------------------------------------------------------------------------------------


def test_types_are_read_in_file_order_with_symmetric_flags(types):
    assert types.entities == ("Peop", "Org", "Loc")
    assert types.relations == ("Work_For", "Partner", "Located_In")
    assert types.symmetric == frozenset({"Partner"})  # a missing flag means not symmetric


def test_types_round_trip_through_to_json(types):
    assert parse_types(types.to_json(), "x") == types


@pytest.mark.parametrize(
    "raw,expected",
    [
        ({"relations": {}}, "missing key 'entities'"),
        ({"entities": {"Peop": {}}}, "missing key 'relations'"),
        ({"entities": ["Peop"], "relations": {}}, "'entities' must be an object"),
        ({"entities": {"Peop": {}}, "relations": ["Work_For"]}, "'relations' must be an object"),
        ({"entities": {}, "relations": {}}, "'entities' lists no entity type"),
        ({"entities": {"Peop": {}}, "relations": {"Work_For": {"symmetric": "yes"}}},
         "relations.Work_For.symmetric must be true or false"),
        ({"entities": {"Peop": {}}, "relations": {"Work_For": {"symmetric": 1}}},
         "relations.Work_For.symmetric must be true or false"),
        ({"entities": {"Peop": {}}, "relations": {"Work_For": "W"}},
         "relations.Work_For must be an object (short, verbose, symmetric), got str"),
        ({"entities": {"Peop": "P"}, "relations": {}}, "entities.Peop must be an object"),
        ({"entities": {"Peop": {"verbose": 3}}, "relations": {}}, "entities.Peop.verbose must be a string"),
        (["Peop", "Org"], "must be a JSON object"),
    ],
    ids=["no entities", "no relations", "entities list", "relations list", "no entity type", "symmetric str",
         "symmetric int", "relation spec not object", "entity spec not object", "verbose not a string",
         "not an object"],
)
def test_bad_types_file(tmp_path, raw, expected):
    path = write(tmp_path / "tiny_types.json", raw)
    with pytest.raises(DataError) as info:
        load_types(path)
    assert "tiny_types.json" in str(info.value)
    assert expected in str(info.value)


def test_types_file_not_found_and_malformed(tmp_path):
    with pytest.raises(DataError, match=r"nope_types\.json: file not found"):
        load_types(tmp_path / "nope_types.json")
    with pytest.raises(DataError, match=r"bad_types\.json: malformed JSON at line 1 column"):
        load_types(write(tmp_path / "bad_types.json", '{"entities": '))


# ---- what real corpora contain is accepted and kept -----------------------------------------------------


def test_valid_file_loads_into_typed_documents(tmp_path, types):
    docs = load_documents(write(tmp_path / "ok.json", [GOOD, {**GOOD, "orig_id": "abc"}]), types)
    assert len(docs) == 2
    doc = docs[0]
    assert doc.tokens == tuple(GOOD["tokens"])
    assert doc.entities == (Entity("Peop", 0, 2), Entity("Org", 4, 5), Entity("Loc", 6, 7))
    assert doc.relations == (Relation("Work_For", 0, 1), Relation("Located_In", 1, 2))
    assert (doc.orig_id, doc.index, docs[1].orig_id, docs[1].index) == (42, 0, "abc", 1)
    assert doc.to_json() == GOOD


def test_nested_overlapping_wide_entities_and_duplicate_relations_are_kept(tmp_path, types):
    doc = {
        "tokens": [f"w{i}" for i in range(14)],
        "entities": [{"type": "Org", "start": 0, "end": 3},  # "University of Lisbon"
                     {"type": "Loc", "start": 2, "end": 3},  # nested "Lisbon"
                     {"type": "Org", "start": 2, "end": 5},  # overlaps the first, crosses its end
                     {"type": "Peop", "start": 0, "end": 12},  # wider than 10 words
                     {"type": "Peop", "start": 13, "end": 14}],
        "relations": [{"type": "Located_In", "head": 0, "tail": 1},
                      {"type": "Located_In", "head": 0, "tail": 1},  # exact duplicate
                      {"type": "Work_For", "head": 4, "tail": 0},
                      {"type": "Partner", "head": 4, "tail": 0}],  # same pair, second type
    }
    (loaded,) = load_documents(write(tmp_path / "nested.json", [doc]), types)
    assert len(loaded.entities) == 5
    assert loaded.entities[3].width == 12
    assert len(loaded.relations) == 4
    assert loaded.relations[0] == loaded.relations[1]
    assert loaded.to_json() == {**doc, "orig_id": None}


def test_without_types_any_type_name_is_accepted(tmp_path):
    doc = copy.deepcopy(GOOD)
    doc["entities"][0]["type"] = "Anything"
    doc["relations"][0]["type"] = "Whatever"
    (loaded,) = load_documents(write(tmp_path / "free.json", [doc]))
    assert loaded.entities[0].type == "Anything"
    assert loaded.relations[0].type == "Whatever"


def test_first_error_wins_in_document_order(tmp_path, types):
    bad0 = {**GOOD, "tokens": []}
    bad1 = copy.deepcopy(GOOD)
    del bad1["entities"]
    with pytest.raises(DataError, match=r"document 0 \(0-based\): 'tokens' is empty"):
        load_documents(write(tmp_path / "two.json", [bad0, bad1]), types)
