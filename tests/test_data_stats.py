"""Dataset statistics: golden values on hand-made documents, brute-force cross-checks, real corpora."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import pytest
from erbench.datasets.load import Document, Entity, Relation
from erbench.datasets.registry import BUILTIN
from erbench.datasets.stage import load_split, stage_dataset
from erbench.datasets.stats import candidate_span_count, render_stats, split_stats
from erbench.models.spans import enumerate_spans
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tests.conftest import make_types

TYPES = make_types(("X", "Y", "Z"), ("R", "S", "T"), symmetric=("S",))


def make_doc(n_tokens: int, entities: list[tuple], relations: list[tuple]) -> Document:
    return Document(tuple(f"w{i}" for i in range(n_tokens)), tuple(Entity(*e) for e in entities),
                    tuple(Relation(*r) for r in relations))


# Doc A, 6 tokens:  E0 X [0,3)  E1 Y [1,2) (inside E0)  E2 X [2,5) (crosses E0's end)  E3 Y [5,6)
#   relations R 0->3, R 0->3 (exact copy), S 0->3 (same pair, other type), R 3->0, S 1->2
# Doc B, 3 tokens:  E0 X [0,1)  E1 Y [2,3);  relations R 0->1 three times (two extra copies)
# Doc C, 1 token, nothing annotated.
DOC_A = make_doc(6, [("X", 0, 3), ("Y", 1, 2), ("X", 2, 5), ("Y", 5, 6)],
                 [("R", 0, 3), ("R", 0, 3), ("S", 0, 3), ("R", 3, 0), ("S", 1, 2)])
DOC_B = make_doc(3, [("X", 0, 1), ("Y", 2, 3)], [("R", 0, 1), ("R", 0, 1), ("R", 0, 1)])
DOC_C = make_doc(1, [], [])
DOCS = [DOC_A, DOC_B, DOC_C]


def test_golden_stats_with_span_limit_2():
    stats = split_stats(DOCS, TYPES, max_span_size=2)
    # candidate spans: A (L=6): 6 of width 1 + 5 of width 2 = 11; B (L=3): 3 + 2 = 5; C (L=1): 1
    # gold within width 2: A has E1, E3 (E0, E2 are 3 wide); B both -> 4; negatives 17 - 4 = 13
    # ordered pairs of distinct gold entities: A 4*3 = 12, B 2*1 = 2; related ordered pairs: A (0,3), (3,0),
    # (1,2); B (0,1) -> 4; negative pairs 14 - 4 = 10
    assert stats == {
        "documents": 3,
        "tokens": 10,
        "avg_tokens": 10 / 3,
        "max_tokens": 6,
        "entities": 6,
        "relations": 8,
        "entities_per_type": {"X": 3, "Y": 3, "Z": 0},
        "relations_per_type": {"R": 6, "S": 2, "T": 0},
        "overlapping_entities": 3,  # A: E0, E1, E2
        "overlapping_pairs": 2,  # A: (E0, E1), (E0, E2)
        "nested_entities": 2,  # A: E0 contains E1; E2 only crosses E0
        "max_span_size": 2,
        "entities_wider_than_span_limit": 2,
        "duplicate_relations": 3,  # A: one extra R 0->3; B: two extra R 0->1
        "candidate_spans": 17,
        "negative_spans": 13,
        "span_neg_pos_ratio": 13 / 6,
        "candidate_pairs": 14,
        "related_pairs": 4,
        "negative_pairs": 10,
        "pair_neg_pos_ratio": 10 / 8,
    }


def test_golden_stats_with_default_span_limit():
    stats = split_stats(DOCS, TYPES)
    # candidate spans: A 6*7/2 = 21, B 3*4/2 = 6, C 1 -> 28; all six entities fit: 22 negatives
    assert stats["max_span_size"] == 10
    assert stats["entities_wider_than_span_limit"] == 0
    assert (stats["candidate_spans"], stats["negative_spans"]) == (28, 22)
    assert stats["span_neg_pos_ratio"] == 22 / 6
    assert stats["pair_neg_pos_ratio"] == 10 / 8  # pairs do not depend on the span limit


def test_empty_split_and_zero_denominators():
    assert split_stats([], TYPES) == {
        "documents": 0, "tokens": 0, "avg_tokens": 0.0, "max_tokens": 0, "entities": 0, "relations": 0,
        "entities_per_type": {"X": 0, "Y": 0, "Z": 0}, "relations_per_type": {"R": 0, "S": 0, "T": 0},
        "overlapping_entities": 0, "overlapping_pairs": 0, "nested_entities": 0, "max_span_size": 10,
        "entities_wider_than_span_limit": 0, "duplicate_relations": 0, "candidate_spans": 0,
        "negative_spans": 0, "span_neg_pos_ratio": None, "candidate_pairs": 0, "related_pairs": 0,
        "negative_pairs": 0, "pair_neg_pos_ratio": None,
    }
    only_c = split_stats([DOC_C], TYPES)
    assert only_c["span_neg_pos_ratio"] is None and only_c["negative_spans"] == 1


def test_types_outside_the_inventory_are_still_counted():
    doc = make_doc(2, [("Q", 0, 1), ("X", 1, 2)], [("U", 0, 1)])
    stats = split_stats([doc], TYPES)
    assert stats["entities_per_type"] == {"X": 1, "Y": 0, "Z": 0, "Q": 1}
    assert stats["relations_per_type"] == {"R": 0, "S": 0, "T": 0, "U": 1}


def test_stats_are_json_able_and_order_invariant():
    stats = split_stats(DOCS, TYPES, 2)
    assert json.loads(json.dumps(stats)) == stats
    shuffled = DOCS[:]
    random.Random(0).shuffle(shuffled)
    assert split_stats(shuffled[::-1], TYPES, 2) == stats


def test_bad_span_limit():
    with pytest.raises(ValueError, match="max_span_size: must be >= 1"):
        split_stats(DOCS, TYPES, 0)


@pytest.mark.parametrize("n_tokens", range(0, 25))
@pytest.mark.parametrize("limit", [1, 2, 5, 10])
def test_candidate_span_count_matches_enumerate_spans(n_tokens, limit):
    assert candidate_span_count(n_tokens, limit) == len(enumerate_spans(n_tokens, limit))


@st.composite
def documents(draw):
    n = draw(st.integers(1, 12))
    spans = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, n)).filter(lambda s: s[0] < s[1]),
                          unique=True, max_size=8))
    ents = [(draw(st.sampled_from("XY")), a, b) for a, b in spans]
    rels = []
    if len(ents) >= 2:
        index = st.integers(0, len(ents) - 1)
        pair = st.tuples(index, index).filter(lambda p: p[0] != p[1])
        rels = [(draw(st.sampled_from("RS")), h, t) for h, t in draw(st.lists(pair, max_size=6))]
    return make_doc(n, ents, rels)


@settings(max_examples=150, deadline=None)
@given(st.lists(documents(), min_size=1, max_size=4), st.integers(1, 6))
def test_stats_agree_with_brute_force(docs, limit):
    overlapping = nested = wide = duplicates = negatives = related = 0
    for doc in docs:
        cover = [set(range(e.start, e.end)) for e in doc.entities]
        for i, a in enumerate(cover):
            others = [b for j, b in enumerate(cover) if j != i]
            overlapping += any(a & b for b in others)
            nested += any(a < b or b < a for b in others)
        wide += sum(e.width > limit for e in doc.entities)
        triples = [(r.head, r.tail, r.type) for r in doc.relations]
        duplicates += len(triples) - len(set(triples))
        candidates = {tuple(s) for s in enumerate_spans(len(doc.tokens), limit).tolist()}
        negatives += len(candidates - {e.span for e in doc.entities})
        related += len({(h, t) for h, t, _ in triples})
    stats = split_stats(docs, TYPES, limit)
    assert stats["overlapping_entities"] == overlapping
    assert stats["nested_entities"] == nested
    assert stats["entities_wider_than_span_limit"] == wide
    assert stats["duplicate_relations"] == duplicates
    assert stats["negative_spans"] == negatives
    assert stats["negative_pairs"] == stats["candidate_pairs"] - related


# ---- rendering -------------------------------------------------------------------------------------------


def render(stats: dict[str, dict]) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    render_stats("tiny", stats, console)
    return console.file.getvalue()


def test_render_shows_every_split_and_the_main_numbers():
    text = render({"train": split_stats(DOCS, TYPES, 2), "test": split_stats([DOC_B], TYPES, 2)})
    for part in ("tiny: size", "tiny: entity structure", "tiny: negatives per positive (span limit 2)",
                 "tiny: entities per type", "tiny: relations per type", "3.3", "2.2", "1.2", "wider than 2"):
        assert part in text, part
    assert text.count("train") == 5 and text.count("test") == 5  # one row in each table


def test_render_handles_empty_splits_and_missing_ratios():
    text = render({"train": split_stats([DOC_C], make_types(("X",), ()), 10)})
    assert " - " in text  # a ratio without positives
    assert "relations per type" not in text  # no relation types: no table
    assert render({}) == "tiny: no splits\n"


# ---- the real corpora (../shared/datasets; skipped when absent) -------------------------------------------


@pytest.fixture(scope="module")
def real_stats(shared_dir, tmp_path_factory) -> dict[str, dict[str, dict]]:
    """split_stats of every split of conll04 and scierc, staged once for this module."""
    root: Path = tmp_path_factory.mktemp("stats_data")
    result = {}
    for name in ("conll04", "scierc"):
        spec = BUILTIN[name]
        stage_dataset(spec, root, mirror=shared_dir / "datasets")
        result[name] = {}
        for split in spec.splits:
            docs, types = load_split(root, spec, split)
            result[name][split] = split_stats(docs, types)
    return result


def test_real_conll04_counts(real_stats):
    conll = real_stats["conll04"]
    got = {s: (conll[s]["documents"], conll[s]["entities"], conll[s]["relations"]) for s in conll}
    assert got == {"train": (922, 3377, 1283), "dev": (231, 893, 343), "test": (288, 1079, 422),
                   "train_dev": (1153, 4270, 1626)}
    assert [conll[s]["entities_wider_than_span_limit"] for s in ("train", "dev", "test")] == [2, 0, 0]
    assert all(conll[s]["overlapping_entities"] == 0 for s in conll)
    assert conll["train"]["entities_per_type"].keys() == {"Loc", "Org", "Peop", "Other"}
    assert sum(conll["train"]["entities_per_type"].values()) == 3377
    assert sum(conll["train"]["relations_per_type"].values()) == 1283


def test_real_scierc_properties(real_stats):
    sci = real_stats["scierc"]
    assert [sci[s]["documents"] for s in ("train", "dev", "test")] == [1861, 275, 551]
    assert [sci[s]["entities"] for s in ("train", "dev", "test")] == [5598, 811, 1685]
    assert [sci[s]["relations"] for s in ("train", "dev", "test")] == [3219, 455, 974]
    assert sci["train"]["duplicate_relations"] == 4
    assert sci["train_dev"]["duplicate_relations"] == 4
    assert sci["dev"]["duplicate_relations"] == sci["test"]["duplicate_relations"] == 0
    assert sci["train"]["overlapping_entities"] > 0
    assert sci["train"]["overlapping_pairs"] == 61  # SOURCES.md
    assert [sci[s]["entities_wider_than_span_limit"] for s in ("train", "dev", "test")] == [13, 3, 3]
    assert len(sci["train"]["entities_per_type"]) == 6 and len(sci["train"]["relations_per_type"]) == 7
