"""score_predictions: the protocol's overlap setting, plus the other one where gold has overlaps (SPEC 3, ADE)."""

from __future__ import annotations

from erbench.config import RunConfig
from erbench.datasets.load import Document, Entity, Relation
from erbench.runner import score_predictions

from tests.conftest import make_types

TYPES = make_types(("A", "B"), ("R",))


def _doc(entities, relations=()):
    return Document(tuple("w0 w1 w2 w3 w4 w5".split()), tuple(entities), tuple(relations))


def test_no_overlap_data_scores_one_setting():
    gold = [_doc([Entity("A", 0, 1), Entity("B", 2, 3)], [Relation("R", 0, 1)])]
    metrics = score_predictions(gold, gold, TYPES, RunConfig("x", "spert", 1))
    assert metrics["test/ner/micro_f1"] == 100.0
    assert not any(k.startswith("test_") for k in metrics)


def test_overlapping_gold_scores_both_settings():
    # gold: A[0,2) overlaps B[1,3); prediction finds only the overlapping B and a separate A
    gold = [_doc([Entity("A", 0, 2), Entity("B", 1, 3), Entity("A", 4, 5)])]
    pred = [_doc([Entity("B", 1, 3), Entity("A", 4, 5)])]
    filtered = score_predictions(gold, pred, TYPES, RunConfig("x", "spert", 1, no_overlapping=True))
    # the filter runs on gold and predictions separately: gold keeps only A[4,5); the prediction
    # list has no overlap of its own, so B[1,3) stays and is a false positive: P 50, R 100
    assert filtered["test/ner/micro_p"] == 50.0 and filtered["test/ner/micro_r"] == 100.0
    # kept: 2 TP of 3 gold, 2 predicted
    assert round(filtered["test_keep_overlap/ner/micro_r"], 4) == round(200 / 3, 4)
    kept = score_predictions(gold, pred, TYPES, RunConfig("x", "spert", 1, no_overlapping=False))
    assert kept["test/ner/micro_r"] == filtered["test_keep_overlap/ner/micro_r"]
    assert kept["test_no_overlap/ner/micro_p"] == 50.0
