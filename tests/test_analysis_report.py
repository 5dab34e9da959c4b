"""The analyses inside `erbench report` on hand-built run folders (tests/test_report.py's fake runs):
protocol refusal and --allow-mixed, seen/unseen against a hand-made staged training split, the error
breakdown, the verdicts with seeds needed, learning curves, and the files the report writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from erbench.analysis.protocol import ProtocolMismatch
from erbench.report import build_report

from tests.test_report import CONLL, CONLL_DOCS, CONLL_TYPES, FAST, write_run

TRAIN = [  # the staged training split: John->Acme is seen exactly, Mary as the head of Live_In partially
    {"tokens": ["John", "works", "for", "Acme"], "entities": [{"type": "Peop", "start": 0, "end": 1},
                                                            {"type": "Org", "start": 3, "end": 4}],
     "relations": [{"type": "Work_For", "head": 0, "tail": 1}]},
    {"tokens": ["Mary", "lives", "in", "Paris"], "entities": [{"type": "Peop", "start": 0, "end": 1},
                                                            {"type": "Loc", "start": 3, "end": 4}],
     "relations": [{"type": "Live_In", "head": 0, "tail": 1}]},
]


def make_runs(root: Path, seeds=(1, 2), changes: dict | None = None) -> Path:
    for method in ("spert", "spert_mt"):
        for seed in seeds:
            run = write_run(root, "conll04", method, seed, None, CONLL[method][seed], CONLL_DOCS, CONLL_TYPES,
                            good=method == "spert_mt")
            change = (changes or {}).get((method, seed))
            if change:
                data = json.loads((run / "metrics.json").read_text())
                data["protocol"].update(change.get("protocol", {}))
                data.update({k: v for k, v in change.items() if k != "protocol"})
                (run / "metrics.json").write_text(json.dumps(data))
    return root


def stage(root: Path) -> Path:
    folder = root / "raw" / "conll04"
    folder.mkdir(parents=True)
    (folder / "conll04_types.json").write_text(json.dumps(CONLL_TYPES))
    (folder / "conll04_train.json").write_text(json.dumps(TRAIN))
    (folder / "STAGED.json").write_text(json.dumps({"dataset": "conll04", "sha256": {"conll04_train.json": "f" * 64}}))
    return root


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    history = [{"epoch": e, "train/loss": 1.0 / e, "dev/rel_strict/micro_f1": 50.0 + 10 * e} for e in (1, 2, 3)]
    runs = make_runs(root / "runs", changes={("spert", 1): {"history": history}, ("spert", 2): {"history": history}})
    out = root / "out"
    result = build_report([runs], out, data_root=stage(root / "data"), git_commit="feedc0de", **FAST)
    return runs, out, result


def _cell(result, setting, partition, method):
    (row,) = [c for c in result["seen_unseen"]["cells"]
              if (c["setting"], c["partition"], c["method"]) == (setting, partition, method)]
    return row


def test_seen_unseen_golden(report):
    _, out, result = report
    seen = result["seen_unseen"]
    assert seen["settings"] == {"conll04": ["ner", "rel_strict"]}
    shares = {(s["setting"]): s for s in seen["gold_shares"]}
    assert (shares["rel_strict"]["exact"], shares["rel_strict"]["partial"], shares["rel_strict"]["new"]) == (1, 1, 2)
    # seen: John, Acme, Paris, Mary; unseen: France, Rome, Bob, Tom
    assert (shares["ner"]["seen"], shares["ner"]["unseen"]) == (4, 4)
    spert = {p: _cell(result, "rel_strict", p, "spert") for p in ("exact", "partial", "new")}
    assert [v["f1"] for v in spert["exact"]["values"]] == [100.0, 100.0]  # predicted (docs 0-1)
    assert spert["partial"]["f1_mean"] == 0.0  # Mary->Rome not predicted
    assert spert["new"]["p_mean"] == 100.0 and spert["new"]["r_mean"] == 50.0  # Paris->France yes, Bob->Tom no
    assert all(_cell(result, "rel_strict", p, "spert_mt")["f1_mean"] == 100.0 for p in ("exact", "partial", "new"))
    comps = {(c["setting"], c["partition"]): c for c in seen["comparisons"]["spert"]}
    # +100 on both seeds: a constant difference has no estimate of noise, so no t-test verdict; the exact
    # sign-flip test decides and cannot go below 2/2^2 = 0.5 with 2 seeds (it was marked significant, p = 0)
    partial = comps[("rel_strict", "partial")]
    assert partial["mean_diff"] == 100.0 and not partial["significant"] and partial["t_pvalue"] is None
    assert "no estimate of noise" in partial["verdict"]
    assert not comps[("rel_strict", "exact")]["significant"]
    assert "no estimate of noise" in comps[("rel_strict", "exact")]["verdict"]  # 100 = 100 on both seeds
    md = (out / "results.md").read_text()
    assert "**CoNLL04 RE+ (micro)**: test gold tuples exact 1 (25%), partial 1 (25%), new 2 (50%)" in md
    assert ("| SpERT | 100.00 | 100.00 | 100.00 ± 0.00 | 0.00 | 0.00 | 0.00 ± 0.00 | 100.00 | 50.00 | 66.67 ± 0.00 |"
            in md)
    tex = (out / "seen_unseen.tex").read_text()
    assert "CoNLL04 RE+ exact" in tex and "$66.67 \\pm 0.00$" in tex
    assert "seen_unseen.tex" in result["files"]


def test_protocol_card_everywhere(report):
    _, out, result = report
    card = {r["key"]: r["value"] for r in result["protocol_cards"]["conll04"]["rows"]}
    assert card["git_commit"] == "feedc0de" and card["train_split"] == "train" and card["negatives"] == (
        "spert 100/100, spert_mt 100/100")
    assert result["mixed_protocol"] is False
    md = (out / "results.md").read_text()
    assert "## Protocol card" in md and "| selected epoch (last or best on dev) | last |" in md
    tex = (out / "results.tex").read_text()
    assert "git:feedc0de" in tex and "case:uncased" in tex and "agg:mean" in tex


def test_errors_and_verdicts(report):
    _, out, result = report
    errors = {e["method"]: e for e in result["errors"]}
    assert errors["spert"]["relation"]["missed"] == {"mean": 2.0, "per_run": [2, 2]}
    assert errors["spert_mt"]["relation"]["missed"]["mean"] == 0.0
    assert all(v["mean"] == 0.0 for v in errors["spert"]["entity"].values())
    md = (out / "results.md").read_text()
    assert "| CoNLL04 | Δ SpERT.MT − SpERT | +0.0 | +0.0 | +0.0 | +0.0 | -2.0 | -2.0 |" in md
    import csv

    with (out / "comparisons.csv").open() as handle:  # the verdicts: comparisons.csv (and index.html's fold-out)
        rows = [r for r in csv.DictReader(handle) if r["baseline"] == "spert"]
    assert rows and all((r["outcome"] in ("better", "worse")) == (r["verdict"] == "significant") for r in rows)
    assert all(r["verdict"].startswith("not significant;") for r in rows if r["verdict"] != "significant")
    seeds = result["seeds"]
    # spert_mt is spert + 5 on both seeds in every column: no estimate of noise, so no marker (defect 6)
    assert all(not c["significant"] and "no estimate of noise" in c["verdict"] for c in seeds["comparisons"])
    assert seeds["expected_max"][0]["k"] == [1, 2]


def test_learning_curves_and_files(report, tmp_path):
    runs, out, result = report
    (curve,) = [c for c in result["learning_curves"] if c["method"] == "spert"]
    assert curve["metric"] == "dev/rel_strict/micro_f1" and curve["mean"] == [60.0, 70.0, 80.0]
    for name in ("index.html", "errors.png", "errors.pdf", "seeds_needed.png", "seeds_needed.pdf",
                 "learning_curves.png", "plots/errors.csv", "plots/seeds_needed.csv"):
        assert (out / name).stat().st_size > 0, name
        assert name in result["files"]
    assert (out / "errors.png").read_bytes().startswith(b"\x89PNG")
    again = tmp_path / "again"
    build_report([runs], again, data_root=tmp_path / "absent", git_commit="feedc0de", **FAST)
    stats = json.loads((again / "stats.json").read_text())
    assert stats["seen_unseen"] is None
    assert any("conll04: no seen/unseen split" in w and "not staged" in w for w in stats["warnings"])
    build_report([runs / "spert_mt-conll04-s1", runs / "spert_mt-conll04-s2"], again, **FAST)
    # nothing to show: a note figure and a LaTeX comment (declared DVC outputs), neither in index.html
    assert (again / "seen_unseen.tex").read_text().startswith("% no seen/unseen split")
    assert (again / "learning_curves.png").exists() and 'id="figure-learning_curves"' not in (
        again / "index.html").read_text()


def test_staged_data_with_other_sha_is_not_used(tmp_path):
    other = {"sha256": {"conll04_train.json": "0" * 64}}
    runs = make_runs(tmp_path / "runs", seeds=(1,), changes={("spert", 1): {"data": other}})
    result = build_report([runs], tmp_path / "out", data_root=stage(tmp_path / "data"), **FAST)
    assert result["seen_unseen"] is None
    assert any("is not the file conll04/spert seed 1 was trained on" in w for w in result["warnings"])


def test_mixed_protocol_refused_then_marked(tmp_path):
    runs = make_runs(tmp_path / "runs", changes={("spert_mt", 2): {"protocol": {"epochs": 3}}})
    expected = (r"runs differ in protocol key 'epochs': 2 \(conll04/spert seed 1, conll04/spert seed 2, "
                r"conll04/spert_mt seed 1\); 3 \(conll04/spert_mt seed 2\)")
    with pytest.raises(ProtocolMismatch, match=expected):
        build_report([runs], tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists()
    from erbench.cli import main

    cli = CliRunner().invoke(main, ["report", str(runs), "--out", str(tmp_path / "cli"), "--ar-trials", "0",
                                    "--aso-bootstrap", "0"])
    assert cli.exit_code == 2 and "protocol key 'epochs'" in cli.output and "--allow-mixed" in cli.output
    cli = CliRunner().invoke(main, ["report", str(runs), "--out", str(tmp_path / "cli"), "--ar-trials", "0",
                                    "--aso-bootstrap", "0", "--allow-mixed", "--data-root", str(tmp_path / "none")])
    assert cli.exit_code == 0, cli.output
    out = tmp_path / "cli"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["mixed_protocol"] is True and stats["settings"]["allow_mixed"] is True
    assert stats["protocol_cards"]["conll04"]["mixed"][0]["key"] == "epochs"
    assert "|MIXED:epochs" in stats["datasets"]["conll04"]["signature"]
    md = (out / "results.md").read_text()
    banner = md.splitlines().index("**Mixed protocol** (--allow-mixed): CoNLL04 runs differ in epochs; "
                                   "see the protocol card.")
    table = next(i for i, line in enumerate(md.splitlines()) if line.startswith("| Method |"))
    assert md.splitlines()[2].startswith("- On CoNLL04") and banner < table
    assert "| epochs | **mixed:** 2, 3 |" in md
    tex = (out / "results.tex").read_text()
    assert "CoNLL04 (mixed)" in tex and "\\textbf{Mixed protocol}" in tex
    assert 'id="mixed-banner"' in (out / "index.html").read_text()


def test_negative_counts_differ_between_methods_without_refusal(tmp_path):
    runs = tmp_path / "runs"
    for seed in (1, 2):
        write_run(runs, "conll04", "spert", seed, None, CONLL["spert"][seed], CONLL_DOCS, CONLL_TYPES, good=False)
        write_run(runs, "conll04", "spert_mt", seed, None, CONLL["spert_mt"][seed], CONLL_DOCS, CONLL_TYPES,
                  good=True, neg=120)
    result = build_report([runs], tmp_path / "out", **FAST)
    card = {r["key"]: r["value"] for r in result["protocol_cards"]["conll04"]["rows"]}
    assert card["negatives"] == "spert 100/100, spert_mt 120/120" and result["mixed_protocol"] is False
    assert "|neg:spert=100/100,spert_mt=120/120|" in result["datasets"]["conll04"]["signature"]


def test_runs_without_predictions_still_report(tmp_path):
    runs = make_runs(tmp_path / "runs")
    for run in runs.iterdir():
        (run / "predictions.jsonl").unlink()
    result = build_report([runs], tmp_path / "out", data_root=stage(tmp_path / "data"), **FAST)
    assert result["errors"] == [] and result["seen_unseen"] is None
    assert any("no predictions.jsonl; the sentence-level test skips" in w for w in result["warnings"])
    page = (tmp_path / "out" / "index.html").read_text()
    assert 'id="browser-empty"' in page and (tmp_path / "out" / "errors.png").stat().st_size > 0
