"""Tests of erbench.scoring against hand-computed cases, sklearn and SpERT's golden scores (SPEC 3)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from erbench.datasets.load import Document, Entity, Relation, TypeInventory, load_documents, load_types
from erbench.scoring import (
    PSEUDO_ENTITY_TYPE,
    SETTINGS,
    document_counts,
    document_tuples,
    flatten_metrics,
    score,
    scores_from_counts,
)
from hypothesis import given, settings
from hypothesis import strategies as st

TYPES = TypeInventory(
    entities=("Loc", "Org", "Peop"),
    relations=("Work_For", "Live_In", "Sym"),
    symmetric=frozenset({"Sym"}),
)
N_TOKENS = 8


def doc(entities=(), relations=(), n_tokens: int = N_TOKENS) -> Document:
    """A document from (start, end, type) entities and (type, head, tail) relations."""
    return Document(
        tokens=tuple(f"w{i}" for i in range(n_tokens)),
        entities=tuple(Entity(t, s, e) for s, e, t in entities),
        relations=tuple(Relation(t, h, tl) for t, h, tl in relations),
    )


def counts(gold: Document, pred: Document, setting: str, **kw) -> dict:
    return document_counts([gold], [pred], TYPES, setting, **kw)[0]


def prf(result: dict, average: str) -> tuple[float, float, float]:
    return tuple(pytest.approx(result[average][m]) for m in ("p", "r", "f1"))


# ---------------------------------------------------------------- hand-made cases


def test_wrong_type_is_one_fp_and_one_fn():
    gold = doc([(0, 1, "Loc"), (2, 3, "Peop")])
    pred = doc([(0, 1, "Org"), (2, 3, "Peop")])
    assert counts(gold, pred, "ner") == {"Loc": (0, 0, 1), "Org": (0, 1, 0), "Peop": (1, 0, 0)}
    ner = score([gold], [pred], TYPES)["ner"]
    assert prf(ner, "micro") == (50.0, 50.0, 50.0)
    # Loc 0/0/0, Org 0/0/0, Peop 100/100/100
    assert prf(ner, "macro") == (100 / 3, 100 / 3, 100 / 3)
    assert ner["per_type"]["Loc"]["support"] == 1
    assert ner["per_type"]["Org"]["support"] == 0
    assert ner["per_type"]["Org"]["p"] == 0.0


def test_symmetric_relation_reversed_is_correct():
    ents = [(0, 1, "Peop"), (3, 4, "Peop")]
    for gold_rel, pred_rel in ((("Sym", 0, 1), ("Sym", 1, 0)), (("Sym", 1, 0), ("Sym", 0, 1))):
        gold, pred = doc(ents, [gold_rel]), doc(ents, [pred_rel])
        assert counts(gold, pred, "rel_strict") == {"Sym": (1, 0, 0)}
        assert counts(gold, pred, "rel") == {"Sym": (1, 0, 0)}
    # head-first in text order
    assert document_tuples(doc(ents, [("Sym", 1, 0)]), TYPES, "rel_strict") == frozenset(
        {((0, 1, "Peop"), (3, 4, "Peop"), "Sym")}
    )


def test_non_symmetric_relation_reversed_is_wrong():
    ents = [(0, 1, "Peop"), (3, 4, "Org")]
    gold, pred = doc(ents, [("Work_For", 0, 1)]), doc(ents, [("Work_For", 1, 0)])
    assert counts(gold, pred, "rel_strict") == {"Work_For": (0, 1, 1)}
    assert counts(gold, pred, "rel") == {"Work_For": (0, 1, 1)}
    assert prf(score([gold], [pred], TYPES)["rel_strict"], "micro") == (0.0, 0.0, 0.0)


def test_nested_spans_are_separate_tuples():
    gold = doc([(0, 3, "Org"), (1, 2, "Loc")])
    pred = doc([(0, 3, "Org")])
    assert document_tuples(gold, TYPES, "ner") == frozenset({(0, 3, "Org"), (1, 2, "Loc")})
    assert counts(gold, pred, "ner") == {"Org": (1, 0, 0), "Loc": (0, 0, 1)}
    ner = score([gold], [pred], TYPES)["ner"]
    assert prf(ner, "micro") == (100.0, 50.0, 200 / 3)
    assert prf(ner, "macro") == (50.0, 50.0, 50.0)


def test_empty_predictions():
    gold = doc([(0, 1, "Peop"), (3, 4, "Org")], [("Work_For", 0, 1)])
    result = score([gold, doc()], [doc(), doc()], TYPES)
    for setting in SETTINGS:
        for average in ("micro", "macro"):
            assert prf(result[setting], average) == (0.0, 0.0, 0.0)
    assert result["ner"]["per_type"] == {
        "Org": {"p": 0.0, "r": 0.0, "f1": 0.0, "support": 1},
        "Peop": {"p": 0.0, "r": 0.0, "f1": 0.0, "support": 1},
    }


def test_empty_gold_and_empty_predictions():
    result = score([doc(), doc()], [doc(), doc()], TYPES)
    for setting in SETTINGS:
        assert result[setting]["per_type"] == {}
        for average in ("micro", "macro"):
            assert prf(result[setting], average) == (0.0, 0.0, 0.0)
    assert score([], [], TYPES)["ner"]["micro"] == {"p": 0.0, "r": 0.0, "f1": 0.0}


def test_macro_includes_type_only_predicted():
    gold = doc([(0, 1, "Loc")])
    pred = doc([(0, 1, "Loc"), (2, 3, "Org")])
    ner = score([gold], [pred], TYPES)["ner"]
    assert set(ner["per_type"]) == {"Loc", "Org"}
    assert prf(ner, "micro") == (50.0, 100.0, 200 / 3)
    assert prf(ner, "macro") == (50.0, 50.0, 50.0)  # Org's 0 pulls the mean down
    assert "Peop" not in ner["per_type"]  # a type seen nowhere is not averaged


def test_boundaries_vs_strict():
    gold = doc([(0, 1, "Peop"), (3, 4, "Org")], [("Work_For", 0, 1)])
    pred = doc([(0, 1, "Loc"), (3, 4, "Org")], [("Work_For", 0, 1)])
    assert counts(gold, pred, "rel") == {"Work_For": (1, 0, 0)}
    assert counts(gold, pred, "rel_strict") == {"Work_For": (0, 1, 1)}
    assert counts(gold, pred, "ner") == {"Peop": (0, 0, 1), "Loc": (0, 1, 0), "Org": (1, 0, 0)}
    assert document_tuples(pred, TYPES, "rel") == frozenset(
        {((0, 1, PSEUDO_ENTITY_TYPE), (3, 4, PSEUDO_ENTITY_TYPE), "Work_For")}
    )
    result = score([gold], [pred], TYPES)
    assert prf(result["rel"], "micro") == (100.0, 100.0, 100.0)
    assert prf(result["rel_strict"], "micro") == (0.0, 0.0, 0.0)


def test_relation_with_wrong_boundaries_is_wrong_in_both_settings():
    gold = doc([(0, 2, "Peop"), (3, 4, "Org")], [("Work_For", 0, 1)])
    pred = doc([(0, 1, "Peop"), (3, 4, "Org")], [("Work_For", 0, 1)])
    assert counts(gold, pred, "rel") == {"Work_For": (0, 1, 1)}
    assert counts(gold, pred, "rel_strict") == {"Work_For": (0, 1, 1)}


def test_duplicate_predicted_relations_collapse():
    ents = [(0, 1, "Peop"), (3, 4, "Peop"), (5, 6, "Loc")]
    gold = doc(ents, [("Work_For", 0, 1)])
    pred = doc(ents, [("Work_For", 0, 1), ("Work_For", 0, 1), ("Sym", 0, 1), ("Sym", 1, 0)])
    assert len(document_tuples(pred, TYPES, "rel_strict")) == 2
    assert counts(gold, pred, "rel_strict") == {"Work_For": (1, 0, 0), "Sym": (0, 1, 0)}


def test_no_overlapping_drops_overlapping_entities_and_relations():
    ents = [(0, 3, "Org"), (1, 2, "Loc"), (4, 5, "Peop"), (6, 7, "Loc"), (6, 7, "Org")]
    rels = [("Work_For", 2, 0), ("Live_In", 0, 1), ("Live_In", 2, 3)]
    d = doc(ents, rels)
    assert document_tuples(d, TYPES, "ner", no_overlapping=True) == frozenset({(4, 5, "Peop")})
    assert document_tuples(d, TYPES, "ner") == frozenset((s, e, t) for s, e, t in ents)
    # a relation is dropped only when its own two arguments overlap (as in SpERT), not when an
    # argument was dropped from the entity list
    assert document_tuples(d, TYPES, "rel_strict", no_overlapping=True) == frozenset(
        {((4, 5, "Peop"), (0, 3, "Org"), "Work_For"), ((4, 5, "Peop"), (6, 7, "Loc"), "Live_In")}
    )
    assert len(document_tuples(d, TYPES, "rel", no_overlapping=True)) == 2
    assert len(document_tuples(d, TYPES, "rel_strict")) == 3


def test_no_overlapping_identical_tuples_are_not_overlaps():
    d = doc([(0, 2, "Loc"), (0, 2, "Loc"), (3, 4, "Org"), (3, 4, "Peop")], [("Live_In", 2, 3)])
    assert document_tuples(d, TYPES, "ner", no_overlapping=True) == frozenset({(0, 2, "Loc")})
    # same span with another type overlaps, also as the two arguments of one relation
    assert document_tuples(d, TYPES, "rel_strict", no_overlapping=True) == frozenset()


def test_no_overlapping_applies_to_gold_and_predictions_separately():
    gold = doc([(0, 3, "Org"), (1, 2, "Loc"), (4, 5, "Peop")])
    pred = doc([(0, 3, "Org"), (4, 5, "Peop")])
    assert counts(gold, pred, "ner", no_overlapping=True) == {"Org": (0, 1, 0), "Peop": (1, 0, 0)}
    ner = score([gold], [pred], TYPES, no_overlapping=True)["ner"]
    assert prf(ner, "micro") == (50.0, 100.0, 200 / 3)


def test_score_rejects_misaligned_documents():
    with pytest.raises(ValueError, match="1 documents but predictions have 2"):
        score([doc()], [doc(), doc()], TYPES)
    with pytest.raises(ValueError, match="document 1: predicted tokens differ"):
        score([doc(), doc()], [doc(), doc(n_tokens=5)], TYPES)
    with pytest.raises(ValueError, match="unknown scoring setting 're'.*ner, rel, rel_strict"):
        document_tuples(doc(), TYPES, "re")


def test_flatten_metrics_keys():
    gold = doc([(0, 1, "Loc")], [])
    flat = flatten_metrics(score([gold], [gold], TYPES), "test")
    assert flat["test/ner/micro_f1"] == 100.0
    assert flat["test/ner/macro_p"] == 100.0
    assert flat["test/ner/per_type/Loc/f1"] == 100.0
    assert flat["test/ner/per_type/Loc/support"] == 1.0
    assert flat["test/rel_strict/micro_f1"] == 0.0
    assert all(isinstance(v, float) for v in flat.values())
    assert {k for k in flat if "per_type" not in k} == {
        f"test/{s}/{a}_{m}" for s in SETTINGS for a in ("micro", "macro") for m in ("p", "r", "f1")
    }
    assert "ner/micro_f1" in flatten_metrics(score([gold], [gold], TYPES), "")


# ---------------------------------------------------------------- sklearn cross-checks


def sklearn_scores(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict:
    from sklearn.metrics import precision_recall_fscore_support

    out = {}
    for average in ("micro", "macro"):
        p, r, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        out[average] = {"p": 100 * p, "r": 100 * r, "f1": 100 * f1}
    p, r, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    out["per_type"] = {
        t: {"p": 100 * p[i], "r": 100 * r[i], "f1": 100 * f1[i], "support": int(support[i])}
        for i, t in enumerate(labels)
    }
    return out


def assert_scores_equal(ours: dict, theirs: dict) -> None:
    for average in ("micro", "macro"):
        for m in ("p", "r", "f1"):
            assert ours[average][m] == pytest.approx(theirs[average][m], rel=1e-12, abs=1e-12)
    assert set(ours["per_type"]) == set(theirs["per_type"])
    for t, values in theirs["per_type"].items():
        assert ours["per_type"][t]["support"] == values["support"]
        for m in ("p", "r", "f1"):
            assert ours["per_type"][t][m] == pytest.approx(values[m], rel=1e-12, abs=1e-12)


LABEL = st.sampled_from(["none", "A", "B", "C", "D"])
PAIR = st.tuples(LABEL, LABEL).filter(lambda p: p != ("none", "none"))


@settings(max_examples=150, deadline=None)
@given(docs=st.lists(st.lists(PAIR, max_size=6), min_size=1, max_size=6))
def test_scores_from_counts_matches_sklearn(docs):
    """Random (gold, predicted) label pairs: pooled counts give sklearn's micro, macro and per-type."""
    per_doc = []
    for pairs in docs:
        c: dict[str, list[int]] = {}
        for g, p in pairs:
            if g == p:
                c.setdefault(g, [0, 0, 0])[0] += 1
                continue
            if p != "none":
                c.setdefault(p, [0, 0, 0])[1] += 1
            if g != "none":
                c.setdefault(g, [0, 0, 0])[2] += 1
        per_doc.append({t: tuple(v) for t, v in c.items()})
    flat = [pair for pairs in docs for pair in pairs]
    labels = sorted({x for pair in flat for x in pair} - {"none"})
    ours = scores_from_counts(per_doc)
    if not labels:
        assert ours["per_type"] == {} and ours["micro"]["f1"] == 0.0
        return
    assert_scores_equal(ours, sklearn_scores([g for g, _ in flat], [p for _, p in flat], labels))


def random_doc(rng: random.Random, n_tokens: int) -> Document:
    starts = [rng.randrange(n_tokens - 3) for _ in range(rng.randint(0, 5))]
    spans = sorted({(s, s + rng.randint(1, 3)) for s in starts})  # nested and overlapping spans occur
    entities = tuple(Entity(rng.choice(TYPES.entities), s, e) for s, e in spans)
    relations = []
    for _ in range(rng.randint(0, 4) if len(entities) > 1 else 0):
        head, tail = rng.sample(range(len(entities)), 2)
        relations.append(Relation(rng.choice(TYPES.relations), head, tail))
    return Document(tuple(f"w{i}" for i in range(n_tokens)), entities, tuple(relations))


@pytest.mark.parametrize("no_overlapping", [False, True])
def test_score_matches_spert_flattening_with_sklearn(no_overlapping):
    """Random documents, flattened the way SpERT's evaluator does (union per document), then sklearn."""
    rng = random.Random(13)
    gold = [random_doc(rng, 10) for _ in range(40)]
    pred = [random_doc(rng, 10) if rng.random() < 0.5 else g for g in gold]
    result = score(gold, pred, TYPES, no_overlapping=no_overlapping)
    for setting in SETTINGS:
        y_true, y_pred = [], []
        for g, p in zip(gold, pred):
            g_set = document_tuples(g, TYPES, setting, no_overlapping=no_overlapping)
            p_set = document_tuples(p, TYPES, setting, no_overlapping=no_overlapping)
            for item in g_set | p_set:
                y_true.append(item[-1] if item in g_set else "none")
                y_pred.append(item[-1] if item in p_set else "none")
        labels = sorted(set(y_true + y_pred) - {"none"})
        assert labels, "the random corpus should exercise every setting"
        assert_scores_equal(result[setting], sklearn_scores(y_true, y_pred, labels))


# ---------------------------------------------------------------- golden SpERT scores (CoNLL04 test)

GOLDEN_KEYS = {"ner": "ner", "rel": "rel", "rel_nec": "rel_strict"}


@pytest.fixture(scope="module")
def conll04_golden(shared_dir: Path):
    types = load_types(shared_dir / "datasets" / "conll04" / "conll04_types.json")
    gold = load_documents(shared_dir / "datasets" / "conll04" / "conll04_test.json", types)
    pred = load_documents(shared_dir / "golden" / "conll04_test_predictions.json", types)
    expected = json.loads((shared_dir / "golden" / "conll04_test_scores.json").read_text(encoding="utf-8"))
    return gold, pred, types, expected


def test_golden_conll04_matches_spert_evaluator(conll04_golden):
    gold, pred, types, expected = conll04_golden
    result = score(gold, pred, types)
    for theirs, ours in GOLDEN_KEYS.items():
        for average in ("micro", "macro"):
            for m in ("p", "r", "f1"):
                got, want = result[ours][average][m], expected[theirs][average][m]
                assert abs(got - want) <= 1e-4, f"{ours} {average} {m}: {got} != {want}"


def test_golden_counts_pool_to_score(conll04_golden):
    gold, pred, types, _ = conll04_golden
    result = score(gold, pred, types)
    for setting in SETTINGS:
        per_doc = document_counts(gold, pred, types, setting)
        assert len(per_doc) == len(gold)
        assert scores_from_counts(per_doc) == result[setting]
        assert sum(c[0] + c[2] for d in per_doc for c in d.values()) == sum(
            len(document_tuples(g, types, setting)) for g in gold
        )
