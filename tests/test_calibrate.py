"""Thresholds tuned on dev from one cached forward pass, and the entity-score diagnostics (erbench.calibrate)."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from erbench import calibrate
from erbench.config import ConfigError, ModelOptions
from erbench.datasets.load import Document, Entity, Relation
from erbench.models.encoder import encode_documents, tiny_encoder
from erbench.models.heads import MultiTaskHeads
from erbench.models.spert import SpanRelationModel

from tests.test_train import TYPES, documents

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.py: one torch thread per module


def tiny_model(tokenizer, options: ModelOptions, seed: int = 0) -> SpanRelationModel:
    torch.manual_seed(seed)
    model = SpanRelationModel(tiny_encoder(tokenizer, seed=seed), TYPES, options)
    with torch.no_grad():  # spread the untrained scores so that thresholds matter
        for p in model.heads.parameters():
            p.mul_(40.0)
    return model.eval()


MT = ModelOptions(heads="multitask", iou_mode="scale", entity_logits="raw")


@pytest.mark.parametrize("options", [ModelOptions(), MT], ids=["spert", "spert_mt"])
def test_cached_decode_equals_predict_and_calls_the_encoder_once_per_batch(tokenizer, options):
    model = tiny_model(tokenizer, options)
    docs = documents("train") + documents("test")
    encoded, _ = encode_documents(tokenizer, docs, 64)
    cache = calibrate.score_split(model, encoded, tokenizer.pad_token_id, torch.device("cpu"), 3,
                                  entity_grid=calibrate.GRID)
    assert cache.encoder_calls == math.ceil(len(docs) / 3) == 3
    compared = 0
    for te, tr in ((0.05, 0.75), (0.3, 0.1), (0.5, 0.4), (0.85, 0.4)):
        model.options = replace(options, entity_threshold=te, rel_filter_threshold=tr)
        expected = model.predict(encoded, tokenizer.pad_token_id, torch.device("cpu"))
        got = cache.decode(te, tr)
        assert got == expected, (te, tr)
        compared += sum(len(d.relations) for d in got)
    assert compared > 0  # the comparison covered relations, not only empty documents
    with pytest.raises(ValueError, match="was not cached"):
        cache.decode(0.33, 0.4)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def constructed_cache(rel_ab: float = 0.62, rel_other: float = 0.55):
    """One document, gold Peop A=(0,1) -Work_For-> Org B=(4,5); a far span C=(2,3). Entity scores A 0.7,
    B 0.3, C 0.2; relation scores (A, B) 0.62, every other pair 0.55. Best RE+: entity <= 0.3, relation in
    (0.55, 0.62]; the tie in entity goes to 0.3, closest to SPEC 0.5."""
    gold = [Document(tuple("w0 w1 w2 w3 w4 w5".split()), (Entity("Peop", 0, 1), Entity("Org", 4, 5)),
                     (Relation("Work_For", 0, 1),), None, 0)]
    words = np.array([[0, 1], [4, 5], [2, 3]])
    ent_out = {"id": torch.tensor([_logit(0.7), _logit(0.3), _logit(0.2)]),
               "scores": torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]])}
    pairs = [(a, b) for a in range(3) for b in range(3) if a != b]
    rel_out = {"id": torch.tensor([_logit(rel_ab if p == (0, 1) else rel_other) for p in pairs]),
               "scores": torch.tensor([[3.0, 0.0]] * len(pairs))}
    model = SimpleNamespace(heads=MultiTaskHeads, options=MT, types=TYPES)
    model._documents = lambda *a: SpanRelationModel._documents(model, *a)
    batch = calibrate._Batch([SimpleNamespace(doc=gold[0])], [0], ent_out, np.zeros(3, dtype=np.int64), words,
                             np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]), rel_out)
    return calibrate.SplitScores(model, [batch], calibrate.GRID, 1, 1), gold


def test_search_picks_the_constructed_optimum_with_ties_closest_to_spec():
    cache, gold = constructed_cache()
    found = calibrate.search(cache, gold, TYPES, spec=(0.5, 0.4), setting="rel_strict", average="micro",
                             no_overlapping=False)
    assert (found["entity"], found["relation"]) == (0.3, 0.6)
    assert found["chosen_scores"]["rel_strict"] == 100.0 and found["chosen_scores"]["ner"] == 100.0
    assert found["spec_scores"]["rel_strict"] == 0.0  # B (0.3) is no entity at SPEC 0.5
    assert found["entity_searched"] and len(found["dev_scores"]) == 19 * 23  # relation: ... 0.95, 0.96, ... 0.99
    assert found["at_grid_edge"] == {} and calibrate.edge_warning(found) is None
    assert found["search"] == "joint" and found["metric"] == "rel_strict/micro_f1"
    best = [r for r in found["dev_scores"] if r["headline"] == 100.0]
    # C (a far span, 0.2) as an entity costs NER precision but no RE+ point: RE+ ties from 0.05 to 0.3
    assert sorted((r["entity"], r["relation"]) for r in best) == [(e, 0.6) for e in calibrate.GRID[:6]]
    assert [r["ner"] for r in best if r["entity"] == 0.3] == [100.0]


def test_ties_go_to_the_spec_values():
    rows = [{"entity": e, "relation": r, "headline": 50.0} for e in (0.3, 0.5, 0.7) for r in (0.2, 0.4, 0.6)]
    assert calibrate.pick(rows, (0.5, 0.4)) == {"entity": 0.5, "relation": 0.4, "headline": 50.0}
    rows = [{"entity": 0.3, "relation": 0.4, "headline": 50.0}, {"entity": 0.7, "relation": 0.4, "headline": 50.0}]
    assert calibrate.pick(rows, (0.5, 0.4))["entity"] == 0.3  # equal distance: the lower value


def test_spert_heads_search_only_the_relation_threshold(tokenizer):
    model = tiny_model(tokenizer, ModelOptions())
    docs = documents("test")
    encoded, _ = encode_documents(tokenizer, docs, 64)
    cache = calibrate.score_split(model, encoded, tokenizer.pad_token_id, torch.device("cpu"), 8,
                                  entity_grid=calibrate.GRID)
    found = calibrate.search(cache, docs, TYPES, spec=(0.5, 0.4), setting="rel_strict", average="micro",
                             no_overlapping=False)
    assert not found["entity_searched"] and found["entity"] == 0.5 and len(found["dev_scores"]) == 23


def test_a_choice_at_the_grids_edge_is_recorded_and_warned():
    cache, gold = constructed_cache(rel_ab=0.999, rel_other=0.985)  # only a threshold above 0.985 keeps A-B alone
    found = calibrate.search(cache, gold, TYPES, spec=(0.5, 0.4), setting="rel_strict", average="micro",
                             no_overlapping=False)
    assert found["relation"] == 0.99 and found["at_grid_edge"] == {"relation": "largest"}
    found["dev_split"] = "dev"
    assert calibrate.edge_warning(found) == ("thresholds tuned on dev: relation 0.99 is the grid's largest: the best "
                                             "value may lie beyond the grid searched")


def test_dev_split_refusals_name_the_option():
    with pytest.raises(ConfigError, match="^opt: .*dev_split: none"):
        calibrate.check_dev_split("opt", None, "test", allow_same_split=False)
    with pytest.raises(ConfigError, match="^opt: the dev split 'test' is the test split"):
        calibrate.check_dev_split("opt", "test", "dev", allow_same_split=True)
    with pytest.raises(ConfigError, match="is the test split"):  # another name for the same file
        calibrate.check_dev_split("opt", "dev", "test", allow_same_split=True, dev_sha="ab", test_sha="ab")
    with pytest.raises(ConfigError, match="also the evaluation split"):
        calibrate.check_dev_split("opt", "dev", "dev", allow_same_split=False)
    warning = calibrate.check_dev_split("opt", "dev", "dev", allow_same_split=True)
    assert "optimistic" in warning
    assert calibrate.check_dev_split("opt", "dev", "test", allow_same_split=False) is None
    with pytest.raises(ConfigError, match="is in the train split 'train_dev'"):
        calibrate.check_not_in_train("opt", documents("dev"), documents("train") + documents("dev"), "dev",
                                     "train_dev")
    calibrate.check_not_in_train("opt", documents("dev"), documents("train"), "dev", "train")


def test_span_groups():
    words = np.array([[0, 2], [0, 1], [1, 3], [2, 3], [5, 6]])
    assert calibrate.span_groups(words, [(0, 2)]).tolist() == [0, 1, 1, 2, 2]
    assert calibrate.span_groups(words, []).tolist() == [2] * 5


@pytest.mark.parametrize("options", [ModelOptions(), MT], ids=["spert", "spert_mt"])
def test_diagnostics_bins_sum_to_the_span_counts(tokenizer, options):
    model = tiny_model(tokenizer, options)
    docs = documents("test")
    encoded, _ = encode_documents(tokenizer, docs, 64)
    cache = calibrate.score_split(model, encoded, tokenizer.pad_token_id, torch.device("cpu"), 2)
    diag = calibrate.span_diagnostics(cache, docs)
    n_candidates = sum(len(b.ent_doc) for b in cache.batches)
    groups = diag["groups"]
    assert sum(g["n"] for g in groups.values()) == n_candidates
    for g in groups.values():
        assert sum(g["counts"]) == g["n"] and len(g["counts"]) == 20
    assert groups["gold"]["n"] == diag["gold_spans"] == 9 and diag["gold_not_candidates"] == 0
    # each document: 8 words, widths <= 10: 36 spans; 3 gold; near misses overlap a gold span
    assert n_candidates == 3 * 36 and groups["near_miss"]["n"] > 0 and groups["far"]["n"] > 0
    assert diag["score"] == ("sigmoid(z_id)" if options.heads == "multitask" else "1 - p(no entity)")
    q = groups["far"]["quantiles"]
    assert q == sorted(q) and 0.0 <= q[0] and q[-1] <= 1.0
