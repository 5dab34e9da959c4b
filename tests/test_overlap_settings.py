"""ADE's two published settings from one set of runs (erbench.report.overlap): the report's second ADE
table re-scores the same runs without the overlapping-entity filter; nothing is trained twice.

The runs are hand-built ADE-like folders whose metrics are computed by the project's scorer from their
predictions, both ways, as `erbench train` records them (`test/...` with the filter, `test_keep_overlap/...`
without)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from erbench.datasets.load import parse_documents, parse_types
from erbench.report import build_report, collect_runs
from erbench.report.documents import RunDocs
from erbench.report.overlap import keep_overlap_records
from erbench.scoring import flatten_metrics, score

from tests.test_report import ADE_TYPES, FAST

# tokens, gold entities (type, start, end), gold relations (type, head, tail): "severe rash" and "rash"
# overlap, so the filter drops both and the relations on them
DOCS = [
    (["aspirin", "caused", "severe", "rash"], [("Drug", 0, 1), ("Adverse-Effect", 2, 4), ("Adverse-Effect", 3, 4)],
     [("Adverse-Effect", 1, 0), ("Adverse-Effect", 2, 0)]),
    (["no", "fever", "after", "ibuprofen"], [("Adverse-Effect", 1, 2), ("Drug", 3, 4)], [("Adverse-Effect", 0, 1)]),
    (["nausea", "from", "drugX", "dose"], [("Adverse-Effect", 0, 1), ("Drug", 2, 3), ("Drug", 2, 4)],
     [("Adverse-Effect", 0, 1)]),
]


def _doc(ents, rels) -> dict:
    return {"entities": [{"type": t, "start": s, "end": e} for t, s, e in ents],
            "relations": [{"type": t, "head": h, "tail": r} for t, h, r in rels]}


def _predicted(method: str, seed: int, fold: int) -> list[tuple]:
    """spert finds the nested mention only on some units; spert_mt always (and misses one plain relation)."""
    out = []
    for i, (tokens, ents, rels) in enumerate(DOCS):
        if method == "spert" and (i + seed + fold) % 2 == 0:
            ents = [e for e in ents if e != ("Adverse-Effect", 3, 4)]
            rels = [r for r in rels if r[1] < len(ents)]
        if method == "spert_mt" and i == 1 and seed == 2:
            rels = []
        out.append((tokens, ents, rels))
    return out


def _write(root: Path, method: str, seed: int, fold: int) -> Path:
    types = parse_types(ADE_TYPES, "types")
    gold = parse_documents([{"tokens": t, **_doc(e, r)} for t, e, r in DOCS], "gold")
    pred_raw = _predicted(method, seed, fold)
    pred = parse_documents([{"tokens": t, **_doc(e, r)} for t, e, r in pred_raw], "pred")
    metrics = flatten_metrics(score(gold, pred, types, no_overlapping=True), "test")
    metrics.update(flatten_metrics(score(gold, pred, types, no_overlapping=False), "test_keep_overlap"))
    run = root / f"{method}-ade-s{seed}-f{fold}"
    run.mkdir(parents=True)
    protocol = {"dataset": "ade", "fold": fold, "train_split": "train", "eval_split": "test", "no_overlapping": True,
                "encoder": "minilm", "epochs": 2, "selected_epoch": "last", "batch_size": 2, "lr": 5e-05,
                "max_span_size": 10, "neg_entity_count": 100, "neg_relation_count": 100}
    (run / "metrics.json").write_text(json.dumps({
        "run": {"dataset": "ade", "method": method, "seed": seed, "fold": fold}, "protocol": protocol,
        "metrics": metrics, "timing": {}, "history": [], "data": {"sha256": {}}, "environment": {}}))
    (run / "config.json").write_text(json.dumps({"types": ADE_TYPES}))
    (run / "predictions.jsonl").write_text("".join(
        json.dumps({"index": i, "tokens": t, "gold": _doc(*DOCS[i][1:]), "pred": _doc(e, r)}) + "\n"
        for i, (t, e, r) in enumerate(pred_raw)))
    return run


@pytest.fixture(scope="module")
def ade(tmp_path_factory):
    root = tmp_path_factory.mktemp("ade")
    for method in ("spert", "spert_mt"):
        for seed in (1, 2):
            for fold in (0, 1):
                _write(root, method, seed, fold)
    out = tmp_path_factory.mktemp("report")
    return root, out, build_report([root], out, fold_test="corrected", **FAST)


def test_the_report_has_both_settings_from_the_same_runs(ade):
    root, out, stats = ade
    assert set(stats["datasets"]) == {"ade", "ade_overlapping"}
    runs = collect_runs([root])
    for dataset, prefix in (("ade", "test/"), ("ade_overlapping", "test_keep_overlap/")):
        for s in stats["summaries"]:
            if s["dataset"] != dataset:
                continue
            key = f"{prefix}{s['setting']}/macro_f1"  # ADE's headline average, in both settings
            want = statistics.mean(r.metrics[key] for r in runs if r.method == s["method"])
            assert s["mean"] == pytest.approx(want), (dataset, s)
    filtered = {s["method"]: s["mean"] for s in stats["summaries"] if (s["dataset"], s["setting"]) == ("ade", "ner")}
    kept = {s["method"]: s["mean"] for s in stats["summaries"]
            if (s["dataset"], s["setting"]) == ("ade_overlapping", "ner")}
    assert filtered != kept  # the filter matters on these documents
    paths = {r["dataset"]: sorted(x["path"] for x in stats["runs"] if x["dataset"] == r["dataset"])
             for r in stats["runs"]}
    assert paths["ade"] == paths["ade_overlapping"] and len(paths["ade"]) == 8  # the same 8 run folders
    text = (out / "results.md").read_text()
    assert "ADE (overlapping entities kept) NER (macro)" in text
    assert any("re-scored without the overlapping-entity filter" in w for w in stats["warnings"])
    assert stats["protocol_cards"]["ade_overlapping"]  # its own protocol card (no_overlapping false)
    assert {c["dataset"] for c in stats["comparisons"]["spert"]["results"]} == {"ade", "ade_overlapping"}


def test_sentence_level_counts_rescore_the_predictions_without_the_filter(ade):
    root, _, _ = ade
    runs = collect_runs([root])
    (kept,) = [r for r in keep_overlap_records(runs) if r.path == runs[0].path]
    docs = RunDocs()
    filtered, unfiltered = docs.counts_of(runs[0], "ner"), docs.counts_of(kept, "ner")  # one cache, both keys

    def gold(counts) -> int:
        return sum(c[0] + c[2] for doc in counts for c in doc.values())

    assert gold(unfiltered) == sum(len(e) for _, e, _ in DOCS) == 8
    assert gold(filtered) == 4  # the two overlapping pairs dropped


def test_runs_without_the_filter_get_no_second_table(tmp_path):
    from tests.test_report import make_runs

    stats = build_report([make_runs(tmp_path / "runs")], tmp_path / "out", **FAST)  # ADE runs without keep metrics
    assert "ade_overlapping" not in stats["datasets"]


def test_the_rescored_table_is_not_a_dataset_of_its_own_across_datasets(tmp_path):
    """The verdict across datasets counts ADE once: its re-scored table is the same runs."""
    from tests.test_report import CONLL, CONLL_DOCS, CONLL_TYPES, write_run

    root = tmp_path / "runs"
    for method in ("spert", "spert_mt"):
        for seed in (1, 2):
            write_run(root, "conll04", method, seed, None, CONLL[method][seed], CONLL_DOCS, CONLL_TYPES,
                      good=method == "spert_mt")
            for fold in (0, 1):
                _write(root, method, seed, fold)
    stats = build_report([root], tmp_path / "out", fold_test="corrected", **FAST)
    assert "ade_overlapping" in stats["datasets"]
    assert stats["across_datasets"]["rows"]
    for row in stats["across_datasets"]["rows"]:
        assert set(row["datasets"]) == {"conll04", "ade"}, row
