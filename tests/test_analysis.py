"""erbench.analysis on hand-made data: protocol card and refusals, seen/unseen partitions (golden
numbers on a hand-made training split), error kinds (one document per kind) and seed power."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from erbench import stats
from erbench.analysis import errors, protocol, seeds, seen
from erbench.datasets.load import Document, Entity, Relation
from erbench.report.collect import RunRecord
from erbench.scoring import document_counts, document_tuples, scores_from_counts

from tests.conftest import make_types

TYPES = make_types(relations=("Work_For", "Located_In", "Married"), symmetric=("Married",))


def doc(tokens: str, ents, rels=()) -> Document:
    """ents: (type, start, end); rels: (type, head index, tail index)."""
    return Document(tuple(tokens.split()), tuple(Entity(t, s, e) for t, s, e in ents),
                    tuple(Relation(t, h, r) for t, h, r in rels))


# ---------------------------------------------------------------- protocol card


def record(method="spert", seed=1, fold=None, neg=100, sha=None, **changes) -> RunRecord:
    proto = {"dataset": "conll04", "fold": fold, "train_split": "train_dev", "eval_split": "test",
             "no_overlapping": False, "encoder": "bert-base-cased", "epochs": 20, "selected_epoch": "last",
             "batch_size": 2, "lr": 5e-05, "max_span_size": 10, "neg_entity_count": neg, "neg_relation_count": neg,
             **changes}
    data = {"sha256": sha if sha is not None else {"conll04_train_dev.json": "a" * 64, "conll04_test.json": "b" * 64}}
    return RunRecord("conll04", method, seed, fold, {}, proto, Path(f"{method}-s{seed}"), data)


def test_card_lists_every_setting_and_negatives_per_method():
    runs = [record("spert", s) for s in (1, 2, 3)] + [record("spert_mt", s, neg=120) for s in (1, 2, 3)]
    card = protocol.protocol_card("conll04", runs, average="micro", git_commit="0123456789abcdef-dirty")
    assert card.mismatches == ()  # 100/100 vs 120/120 is each method's own option
    values = {r.key: r.value for r in card.rows}
    assert values["train_split"] == "train_dev" and values["selected_epoch"] == "last"
    assert values["encoder"] == "bert-base-cased (cased)"
    assert values["negatives"] == "spert 100/100, spert_mt 120/120"
    assert values["seeds"] == "1, 2, 3 (n=3 runs per method)"
    assert values["data_sha256"] == "conll04_test.json bbbbbbbbbbbb; conll04_train_dev.json aaaaaaaaaaaa"
    assert values["git_commit"] == "0123456789abcdef-dirty"
    sig = protocol.signature(card, average="micro", n_seeds=3, n_folds=0)
    assert sig.startswith("conll04|enc:bert-base-cased|split:train_dev->test|ep:20|sel:last|avg:micro|"
                          "no_overlap:no|neg:spert=100/100,spert_mt=120/120|bs:2|lr:5e-05|opt:adamw|span:10|"
                          "thr:spec|seeds:3|"
                          "case:cased")
    assert values["optimizer"] == "adamw (torch.optim.AdamW)"  # these runs did not record it: made before it existed
    assert values["thresholds"] == "SPEC"  # nor thresholds: the method's own values
    assert "|agg:mean|" in sig and sig.endswith("|git:0123456789ab-dirty")


@pytest.mark.parametrize("key, value", [("train_split", "train"), ("eval_split", "dev"), ("epochs", 3),
                                        ("selected_epoch", "best"), ("no_overlapping", True), ("encoder", "minilm"),
                                        ("max_span_size", 8), ("optimizer", "adamw_legacy"), ("thresholds", "dev")])
def test_mismatch_names_the_key_and_the_runs(key, value):
    runs = [record("spert", 1), record("spert", 2), record("spert_mt", 1, **{key: value})]
    (found,) = protocol.mismatches("conll04", runs)
    assert found.key == key
    message = protocol.ProtocolMismatch([found]).args[0]
    assert f"runs differ in protocol key '{key}'" in message and "spert_mt seed 1" in message
    assert "conll04/spert seed 1, conll04/spert seed 2" in message and "--allow-mixed" in message
    card = protocol.protocol_card("conll04", runs, average="micro")
    assert card.mixed == (key,) and [r.key for r in card.rows if r.mixed] == [key]


def test_data_hash_mismatch_and_unrecorded_hashes():
    other = {"conll04_train_dev.json": "c" * 64, "conll04_test.json": "b" * 64}
    runs = [record("spert", 1), record("spert_mt", 1, sha=other), record("spert_focal", 1, sha={})]
    (found,) = protocol.mismatches("conll04", runs)  # the run without hashes is not compared
    assert found.key == "data_sha256:conll04_train_dev.json"
    assert [v for v, _ in found.values] == ["aaaaaaaaaaaa", "cccccccccccc"]


def test_encoder_casing():
    assert protocol.encoder_casing("minilm") == "uncased"  # read from the packaged tokenizer_config.json
    assert protocol.encoder_casing("bert-base-uncased") == "uncased"
    assert protocol.encoder_casing("allenai/scibert_scivocab_cased") == "cased"
    assert protocol.encoder_casing("some/encoder") == "unknown"


# ---------------------------------------------------------------- seen / unseen

TRAIN = [doc("John works for Acme .", [("Peop", 0, 1), ("Org", 3, 4)], [("Work_For", 0, 1)]),
         doc("Paris is in France", [("Loc", 0, 1), ("Loc", 3, 4)], [("Located_In", 0, 1)]),
         doc("Ann married Bob", [("Peop", 0, 1), ("Peop", 2, 3)], [("Married", 0, 1)])]
GOLD = [doc("JOHN works for Acme", [("Peop", 0, 1), ("Org", 3, 4)], [("Work_For", 0, 1)]),  # partial (case)
        doc("John works for Acme", [("Peop", 0, 1), ("Org", 3, 4)], [("Work_For", 0, 1)]),  # exact
        doc("Mary works for Globex", [("Peop", 0, 1), ("Org", 3, 4)], [("Work_For", 0, 1)]),  # new
        doc("Bob married Ann", [("Peop", 0, 1), ("Peop", 2, 3)], [("Married", 0, 1)]),  # exact (symmetric)
        doc("Paris is in Italy", [("Loc", 0, 1), ("Loc", 3, 4)], [("Located_In", 0, 1)])]  # partial (head)
PRED = [GOLD[0],
        doc("John works for Acme", [("Peop", 0, 1), ("Org", 3, 4)]),  # misses the exact relation
        doc("Mary works for Globex", [("Peop", 0, 1), ("Loc", 3, 4)], [("Work_For", 0, 1)]),  # Globex as Loc
        GOLD[3],
        doc("Paris is in Italy", [("Loc", 0, 1), ("Loc", 3, 4)], [("Located_In", 1, 0)])]  # reversed: new


def test_train_index_and_partitions():
    index = seen.train_index(TRAIN, TYPES)
    assert ("john", "Peop") in index.entities and ("Bob", "Ann", "Married") in index.triples
    parts = [seen.relation_partition(d.tokens, next(iter(document_tuples(d, TYPES, "rel_strict"))), index)
             for d in GOLD]
    assert parts == ["partial", "exact", "new", "exact", "partial"]
    assert seen.gold_shares(GOLD, TYPES, index, "rel_strict") == {"exact": 2, "partial": 2, "new": 1}
    assert seen.gold_shares(GOLD, TYPES, index, "ner") == {"seen": 7, "unseen": 3}


def test_partition_scores_golden():
    index = seen.train_index(TRAIN, TYPES)
    ner = {p: scores_from_counts(c)["micro"] for p, c in seen.partition_counts(GOLD, PRED, TYPES, index,
                                                                                "ner").items()}
    assert ner["seen"] == {"p": 100.0, "r": 100.0, "f1": 100.0}
    assert ner["unseen"]["p"] == pytest.approx(200 / 3) and ner["unseen"]["r"] == pytest.approx(200 / 3)
    rel = {p: scores_from_counts(c)["micro"] for p, c in seen.partition_counts(GOLD, PRED, TYPES, index,
                                                                                "rel_strict").items()}
    assert rel["exact"]["p"] == 100.0 and rel["exact"]["r"] == 50.0 and rel["exact"]["f1"] == pytest.approx(200 / 3)
    assert rel["partial"]["p"] == 100.0 and rel["partial"]["r"] == 50.0
    assert rel["new"] == {"p": 0.0, "r": 0.0, "f1": 0.0}
    counts = seen.partition_counts(GOLD, PRED, TYPES, index, "rel_strict")
    assert sum(c[1] for d in counts["new"] for c in d.values()) == 2  # two false positives, both new
    # the partitions add up to the unpartitioned counts
    whole = document_counts(GOLD, PRED, TYPES, "rel_strict")
    for i, d in enumerate(whole):
        for t, c in d.items():
            assert tuple(sum(counts[p][i].get(t, (0, 0, 0))[k] for p in counts) for k in range(3)) == c


def test_partition_counts_need_aligned_documents():
    index = seen.train_index(TRAIN, TYPES)
    with pytest.raises(ValueError, match="5 documents but predictions have 4"):
        seen.partition_counts(GOLD, PRED[:4], TYPES, index, "ner")


# ---------------------------------------------------------------- error kinds


def test_entity_error_kinds_one_each():
    gold = frozenset({(0, 2, "Peop"), (4, 5, "Org"), (6, 7, "Loc"), (8, 9, "Peop"), (10, 11, "Org")})
    pred = frozenset({(0, 1, "Peop"), (4, 5, "Loc"), (6, 8, "Org"), (12, 13, "Peop"), (8, 9, "Peop")})
    assert errors.entity_errors(gold, pred) == {"wrong_type": 1, "boundary": 1, "boundary_type": 1, "spurious": 1,
                                                "missed": 1}
    assert errors.entity_errors(gold, gold) == dict.fromkeys(errors.ENTITY_KINDS, 0)


def test_relation_error_kinds_one_each():
    PE, OR, LO = "Peop", "Org", "Loc"
    gold = frozenset({((0, 1, PE), (2, 3, OR), "WF"), ((4, 5, PE), (6, 7, LO), "LI"),
                      ((8, 9, PE), (10, 11, OR), "WF"), ((12, 13, LO), (14, 15, LO), "LocIn"),
                      ((16, 17, PE), (18, 19, OR), "WF")})
    pred = frozenset({((0, 1, PE), (2, 3, OR), "Kill"), ((6, 7, LO), (4, 5, PE), "LI"),
                      ((8, 9, PE), (10, 12, OR), "WF"), ((12, 13, LO), (14, 15, LO), "LocIn"),
                      ((20, 21, PE), (22, 23, OR), "WF")})
    assert errors.relation_errors(gold, pred) == {"wrong_type": 1, "direction": 1, "argument": 1, "spurious": 1,
                                                  "missed": 1}
    typed = frozenset({((16, 17, OR), (18, 19, OR), "WF")})  # right spans, an argument's entity type wrong
    assert errors.relation_errors(frozenset({((16, 17, PE), (18, 19, OR), "WF")}), typed)["argument"] == 1


def test_run_errors_sum_over_documents():
    got = errors.run_errors(GOLD, PRED, TYPES)
    assert got["entity"] == {"wrong_type": 1, "boundary": 0, "boundary_type": 0, "spurious": 0, "missed": 0}
    # Mary->Globex(Loc): the gold relation's tail has another type -> argument; Italy->Paris -> direction;
    # John works for Acme: missed
    assert got["relation"] == {"wrong_type": 0, "direction": 1, "argument": 1, "spurious": 0, "missed": 1}


# ---------------------------------------------------------------- seeds


def test_power_row_matches_stats():
    a, b = [70.0, 71.0, 69.5, 70.5], [71.0, 72.5, 70.0, 72.0]
    row = seeds.power_row(a, b)
    d = [y - x for x, y in zip(a, b)]
    sd = stats.summarize(d).std
    assert row.n == 4 and row.mean_diff == pytest.approx(1.125) and row.diffs_std == pytest.approx(sd)
    assert row.power_effect == pytest.approx(stats.power_paired_t(sd, 4, 1.0))
    assert row.power_observed == pytest.approx(stats.power_paired_t(sd, 4, 1.125))
    assert row.seeds_needed == stats.seeds_needed(sd, 1.0)
    assert stats.power_paired_t(sd, row.seeds_needed, 1.0) >= 0.8 > stats.power_paired_t(sd, row.seeds_needed - 1,
                                                                                             1.0)
    assert row.verdict(True) == "significant"
    assert row.verdict(False) == (f"not significant; power {row.power_effect:.2f} for a 1-pt gap with n=4 at "
                                  f"alpha/m=0.05 (m=1); {row.seeds_needed} ({row.seeds_needed_low} to "
                                  f"{row.seeds_needed_high}) seeds needed for 80%")
    low, high = stats.seeds_needed_range(sd, 4, 1.0)
    assert (row.seeds_needed_low, row.seeds_needed_high) == (low, high) and low <= row.seeds_needed <= high


def test_power_row_small_noisy_and_constant():
    assert seeds.power_row([1.0], [2.0]).verdict(False) == "not significant (n < 2: no test)"
    same = seeds.power_row([70.0, 71.0, 72.0], [70.0, 71.0, 72.0])
    assert same.diffs_std == 0.0 and same.seeds_needed is None and math.isnan(same.power_effect)
    assert "no estimate of noise" in same.verdict(False)
    noisy = seeds.power_row([0.0, 0.0, 0.0], [30.0, -30.0, 0.5])
    assert noisy.seeds_needed is None and "> 1000 seeds needed" in noisy.verdict(False)


def test_expected_max_and_per_seed_values():
    # k-subsets of {1, 2, 3}: k=2 maxima 2, 3, 3 -> 8/3; k=3 -> 3 (with replacement it was 22/9 and 72/27)
    assert seeds.expected_max_curve([1.0, 2.0, 3.0]) == pytest.approx([2.0, 8 / 3, 3.0])
    assert seeds.per_seed_values([(1, 0), (1, 1), (2, 0), (2, 1)], [1.0, 3.0, 5.0, 7.0]) == [2.0, 6.0]
    curve = seeds.power_curve(1.0, [2, 3, 10])
    assert curve == sorted(curve) and all(0 <= p <= 1 for p in curve) and not math.isnan(curve[0])


def test_project_commit(tmp_path):
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    assert protocol.project_commit(tmp_path) == "unknown"  # not a repository
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": os.environ["PATH"]}
    (tmp_path / "benchmark").mkdir()
    (tmp_path / "benchmark" / "a.py").write_text("x = 1\n")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "c"]):
        subprocess.run(cmd, cwd=tmp_path, env=env, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "params.yaml").write_text("a: 2\n")  # not code: still clean
    assert protocol.project_commit(tmp_path) == head
    (tmp_path / "benchmark" / "a.py").write_text("x = 2\n")
    assert protocol.project_commit(tmp_path) == head + "-dirty"
