"""The embedded `synthetic` corpus: determinism, validity, difficulty features, knobs, atomic writing."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from erbench.datasets import synthetic
from erbench.datasets.load import load_documents, load_types, parse_documents, parse_types
from erbench.datasets.synthetic import SyntheticConfig, describe, generate, write_synthetic
from hypothesis import given, settings
from hypothesis import strategies as st

SMALL = SyntheticConfig(train_size=60, dev_size=15, test_size=30)


@pytest.fixture(scope="module")
def default_corpus():
    return generate(SyntheticConfig())


def _spans_per_entity(docs: list[dict], max_width: int = 10) -> float:
    spans = sum(min(max_width, len(d["tokens"]) - i) for d in docs for i in range(len(d["tokens"])))
    return spans / sum(len(d["entities"]) for d in docs)


def _negative_pairs_per_relation(docs: list[dict]) -> float:
    pairs = sum(len(d["entities"]) * (len(d["entities"]) - 1) for d in docs)
    relations = sum(len(d["relations"]) for d in docs)
    return (pairs - relations) / relations


def _surface(doc: dict, ent: dict) -> str:
    return " ".join(doc["tokens"][ent["start"]:ent["end"]])


def test_same_seed_same_json_and_other_seed_differs():
    a, b = generate(SMALL), generate(SMALL)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c = generate(SyntheticConfig(train_size=60, dev_size=15, test_size=30, seed=1))
    assert json.dumps(a[0]) != json.dumps(c[0])


def test_output_validates_and_sizes_match(default_corpus):
    splits, types_raw = default_corpus
    types = parse_types(types_raw, "synthetic_types.json")
    assert set(splits) == {"train", "dev", "test", "train_dev"}
    for name, docs in splits.items():
        parsed = parse_documents(docs, f"synthetic_{name}.json", types=types)
        assert len(parsed) == len(docs)
        assert all(list(d) == ["tokens", "entities", "relations", "orig_id"] for d in docs)
    assert [len(splits[s]) for s in ("train", "dev", "test", "train_dev")] == [240, 60, 120, 300]
    assert splits["train_dev"] == splits["train"] + splits["dev"]
    ids = [d["orig_id"] for s in ("train", "dev", "test") for d in splits[s]]
    assert len(set(ids)) == len(ids)


def test_custom_sizes_and_empty_splits():
    splits, _ = generate(SyntheticConfig(train_size=7, dev_size=0, test_size=3))
    assert [len(splits[s]) for s in ("train", "dev", "test", "train_dev")] == [7, 0, 3, 7]


def test_types_file_has_symmetric_relation_types_stored_in_text_order(default_corpus):
    splits, types_raw = default_corpus
    symmetric = parse_types(types_raw, "types").symmetric
    assert {"Partner_Of", "Sibling_Of"} <= symmetric
    seen = 0
    for docs in splits.values():
        for d in docs:
            for r in d["relations"]:
                if r["type"] in symmetric:
                    head, tail = d["entities"][r["head"]], d["entities"][r["tail"]]
                    assert (head["start"], head["end"]) < (tail["start"], tail["end"])
                    seen += 1
    assert seen > 20


def test_every_type_occurs_in_train(default_corpus):
    splits, types_raw = default_corpus
    train = splits["train"]
    assert {e["type"] for d in train for e in d["entities"]} == set(types_raw["entities"])
    assert {r["type"] for d in train for r in d["relations"]} == set(types_raw["relations"])


def test_difficulty_features_present(default_corpus):
    splits, _ = default_corpus
    docs = splits["train_dev"] + splits["test"]
    nested = [(d, a, b) for d in docs for a in d["entities"] for b in d["entities"]
              if a is not b and a["start"] <= b["start"] and b["end"] <= a["end"]]
    assert len(nested) > 30
    assert any(a["type"] == "Org" and b["type"] == "Loc" for _, a, b in nested)  # University of Lisbon
    assert any(e["end"] - e["start"] >= 3 for d in docs for e in d["entities"])  # multi-word names
    types_of = defaultdict(set)
    for d in docs:
        for e in d["entities"]:
            types_of[_surface(d, e)].add(e["type"])
    assert sum(len(t) > 1 for t in types_of.values()) >= 3  # e.g. Hartley: Peop and Org
    # direction depends on the template: Work_For (Peop -> Org) with the person before and after the org
    orders = {d["entities"][r["head"]]["start"] < d["entities"][r["tail"]]["start"]
              for d in docs for r in d["relations"] if r["type"] == "Work_For"}
    assert orders == {True, False}
    no_relation = [d for d in docs if not d["relations"]]
    assert any(len(d["entities"]) >= 2 for d in no_relation)  # pairs exist, none related
    unrelated = sum(len(d["entities"]) - len({i for r in d["relations"] for i in (r["head"], r["tail"])})
                    for d in docs if d["relations"])
    assert unrelated > 50  # decoys next to related entities


def test_no_sentence_repeated_within_or_across_splits(default_corpus):
    splits, _ = default_corpus
    sentences = [tuple(d["tokens"]) for s in ("train", "dev", "test") for d in splits[s]]
    assert len(set(sentences)) == len(sentences)


def test_knobs_move_the_negative_positive_ratio():
    base = {"train_size": 200, "dev_size": 0, "test_size": 0, "max_tokens": 60}
    quiet, noisy = (generate(SyntheticConfig(**base, distractors=d))[0]["train"] for d in (0.0, 3.0))
    assert _spans_per_entity(noisy) > 1.3 * _spans_per_entity(quiet)
    assert sum(map(len, (d["tokens"] for d in noisy))) > sum(map(len, (d["tokens"] for d in quiet)))
    dense, sparse = (generate(SyntheticConfig(**base, relation_density=p))[0]["train"] for p in (0.9, 0.1))
    assert _negative_pairs_per_relation(sparse) > 2 * _negative_pairs_per_relation(dense)
    few = generate(SyntheticConfig(**base, min_entities=1, max_entities=2))[0]["train"]
    assert sum(len(d["relations"]) for d in few) < sum(len(d["relations"]) for d in dense) / 2


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    min_entities=st.integers(0, 4), extra=st.integers(0, 4), density=st.floats(0, 1),
    distractors=st.floats(0, 4), max_tokens=st.integers(24, 60), seed=st.integers(0, 2**32),
)
def test_bounds_hold_for_any_knobs(min_entities, extra, density, distractors, max_tokens, seed):
    config = SyntheticConfig(train_size=12, dev_size=3, test_size=5, min_entities=min_entities,
                             max_entities=max(1, min_entities + extra), relation_density=density,
                             distractors=distractors, max_tokens=max_tokens, seed=seed)
    splits, types_raw = generate(config)
    parse_documents(splits["train_dev"] + splits["test"], "synthetic", types=parse_types(types_raw, "types"))
    for d in splits["train_dev"] + splits["test"]:
        assert len(d["tokens"]) <= max_tokens
        assert config.min_entities <= len(d["entities"]) <= config.max_entities


def test_label_noise_touches_train_only():
    clean, _ = generate(SMALL)
    noisy, _ = generate(SyntheticConfig(train_size=60, dev_size=15, test_size=30, label_noise=0.3))
    assert noisy["dev"] == clean["dev"] and noisy["test"] == clean["test"]
    assert [d["tokens"] for d in noisy["train"]] == [d["tokens"] for d in clean["train"]]
    assert noisy["train"] != clean["train"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("train_size", 0), ("dev_size", -1), ("test_size", 1.5), ("min_entities", -1), ("max_entities", 0),
     ("max_entities", 99), ("relation_density", 1.5), ("relation_density", float("nan")),
     ("distractors", -0.1), ("max_tokens", 5), ("max_tokens", True), ("label_noise", 0.9), ("seed", -3),
     ("seed", "0")],
)
def test_bad_config_raises_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"SyntheticConfig.{field}"):
        SyntheticConfig(**{field: value})


def test_min_above_max_and_infeasible_length_are_rejected():
    with pytest.raises(ValueError, match="min_entities"):
        SyntheticConfig(min_entities=5, max_entities=3)
    with pytest.raises(ValueError, match="max_tokens"):
        generate(SyntheticConfig(train_size=1, dev_size=0, test_size=0, min_entities=12, max_entities=12,
                                 max_tokens=16))


def test_describe_says_what_it_is_not():
    text = describe()
    assert "synthetic" in text and "not comparable" in text and "offline" in text
    assert "not comparable" in " ".join(synthetic.__doc__.split())


def test_write_synthetic_writes_loadable_files_and_overwrites(tmp_path):
    dest = tmp_path / "data" / "synthetic"
    paths = write_synthetic(dest, SMALL)
    assert set(paths) == {"train", "dev", "test", "train_dev", "types"}
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        f"synthetic_{k}.json" for k in ("train", "dev", "test", "train_dev", "types"))
    types = load_types(paths["types"])
    splits, _ = generate(SMALL)
    for split in ("train", "dev", "test", "train_dev"):
        assert [d.to_json() for d in load_documents(paths[split], types)] == splits[split]
    write_synthetic(dest, SyntheticConfig(train_size=5, dev_size=2, test_size=3, seed=4))
    assert len(load_documents(paths["train"], types)) == 5
    assert sorted(p.name for p in dest.parent.iterdir()) == ["synthetic"]  # no temporary folder left


def test_write_synthetic_leaves_nothing_behind_on_failure(tmp_path, monkeypatch):
    real_dumps, calls = json.dumps, []

    def failing_dumps(*args, **kwargs):
        calls.append(1)
        if len(calls) > 70:  # fail midway, after some files are written
            raise OSError("disk full")
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(synthetic.json, "dumps", failing_dumps)
    dest = tmp_path / "synthetic"
    with pytest.raises(OSError, match="disk full"):
        write_synthetic(dest, SMALL)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(synthetic.json, "dumps", real_dumps)
    paths = write_synthetic(dest, SMALL)
    before = {p: p.read_bytes() for p in paths.values()}
    calls.clear()
    monkeypatch.setattr(synthetic.json, "dumps", failing_dumps)
    with pytest.raises(OSError, match="disk full"):
        write_synthetic(dest, SyntheticConfig(train_size=80, dev_size=15, test_size=30, seed=2))
    assert {p: p.read_bytes() for p in paths.values()} == before  # an existing folder is left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]
