"""erbench.report on hand-built run folders: numbers, pairing, Holm, markers, rendering, files, CLI.

Fake runs: CoNLL04 (no folds) and ADE (2 folds, macro, no_overlapping) for spert, spert_mt and
spert_focal over seeds 1-3. metrics.json values are chosen by hand (spert_mt = spert + 5 on every
CoNLL04 unit; spert_focal = spert exactly); predictions.jsonl holds 4 tiny documents per run.
Set ERBENCH_UPDATE_SNAPSHOTS=1 to rewrite tests/snapshots/ after an intended rendering change.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from click.testing import CliRunner
from erbench import stats
from erbench.report import build_report, build_tables, collect_runs
from erbench.report.collect import RunError

SNAPSHOTS = Path(__file__).parent / "snapshots"
FAST = {"aso_bootstrap": 0, "ar_trials": 200}

CONLL_TYPES = {"entities": {t: {"short": t, "verbose": t} for t in ("Loc", "Org", "Peop")},
               "relations": {t: {"short": t, "verbose": t, "symmetric": False}
                             for t in ("Work_For", "Live_In", "Kill", "Located_In")}}
ADE_TYPES = {"entities": {t: {"short": t, "verbose": t} for t in ("Adverse-Effect", "Drug")},
             "relations": {"Adverse-Effect": {"short": "AE", "verbose": "AE", "symmetric": False}}}

CONLL_DOCS = [  # tokens, entities (type, start, end), relations (type, head, tail)
    (["John", "works", "for", "Acme", "."], [("Peop", 0, 1), ("Org", 3, 4)], [("Work_For", 0, 1)]),
    (["Paris", "is", "in", "France"], [("Loc", 0, 1), ("Loc", 3, 4)], [("Located_In", 0, 1)]),
    (["Mary", "lives", "in", "Rome"], [("Peop", 0, 1), ("Loc", 3, 4)], [("Live_In", 0, 1)]),
    (["Bob", "killed", "Tom"], [("Peop", 0, 1), ("Peop", 2, 3)], [("Kill", 0, 1)]),
]

# hand-picked headline scores per (method, seed): (NER, RE, RE+) micro F1
CONLL = {
    "spert": {1: (88.0, 70.0, 68.0), 2: (89.0, 72.0, 70.0), 3: (90.0, 71.0, 69.5)},
    "spert_mt": {1: (93.0, 75.0, 73.0), 2: (94.0, 77.0, 75.0), 3: (95.0, 76.0, 74.5)},
    "spert_focal": {1: (88.0, 70.0, 68.0), 2: (89.0, 72.0, 70.0), 3: (90.0, 71.0, 69.5)},
}
# ADE: macro F1 per (method, seed, fold); micro is written 10 points lower to prove macro is read
ADE = {
    "spert": {(s, f): (89.0 + s * 0.5 + f, 78.0 + s, 77.0 + s + f * 0.5) for s in (1, 2, 3) for f in (0, 1)},
    "spert_mt": {(s, f): (89.5 + s * 0.3 + f, 79.0 + s * 1.1, 78.0 + s - f * 0.25) for s in (1, 2, 3) for f in (0, 1)},
    "spert_focal": {(s, f): (88.0 + f, 77.0 + s, 76.0 + s) for s in (1, 2) for f in (0, 1)},  # seed 3 missing
}


def _metrics(scores: tuple[float, float, float], headline: str, other_offset: float) -> dict:
    out = {}
    for setting, value in zip(("ner", "rel", "rel_strict"), scores):
        for avg in ("micro", "macro"):
            v = value if avg == headline else value + other_offset
            out.update({f"test/{setting}/{avg}_f1": v, f"test/{setting}/{avg}_p": v, f"test/{setting}/{avg}_r": v})
    return out


def _doc(tokens, ents, rels) -> dict:
    return {"entities": [{"type": t, "start": s, "end": e} for t, s, e in ents],
            "relations": [{"type": t, "head": h, "tail": r} for t, h, r in rels]}


def write_run(root: Path, dataset: str, method: str, seed: int, fold, scores, docs, types, *, good: bool,
              neg: int = 100, folder: str | None = None) -> Path:
    """One run folder as `erbench train` writes it; `good` predicts every relation, else only half."""
    run = root / (folder or f"{method}-{dataset}-s{seed}" + ("" if fold is None else f"-f{fold}") +
                  ("" if neg == 100 else f"-n{neg}"))
    run.mkdir(parents=True)
    headline, offset = ("macro", -10.0) if dataset == "ade" else ("micro", -3.0)
    protocol = {"dataset": dataset, "fold": fold, "train_split": "train" if fold is None else "train",
                "eval_split": "test", "no_overlapping": dataset == "ade", "encoder": "minilm", "epochs": 2,
                "selected_epoch": "last", "batch_size": 2, "lr": 5e-05, "max_span_size": 10,
                "neg_entity_count": neg, "neg_relation_count": neg}
    metrics = {"run": {"name": run.name, "dataset": dataset, "method": method, "seed": seed, "fold": fold},
               "protocol": protocol, "metrics": _metrics(scores, headline, offset), "timing": {},
               "history": [{"epoch": 1, "train/loss": 1.0}], "data": {"sha256": {}}, "environment": {}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "config.json").write_text(json.dumps({"run": {"dataset": dataset, "method": method}, "types": types}))
    lines = []
    for i, (tokens, ents, rels) in enumerate(docs):
        pred_rels = rels if good or i < len(docs) // 2 else []
        lines.append(json.dumps({"index": i, "orig_id": i, "tokens": tokens, "gold": _doc(tokens, ents, rels),
                                 "pred": _doc(tokens, ents, pred_rels)}))
    (run / "predictions.jsonl").write_text("\n".join(lines) + "\n")
    return run


def _ade_docs(fold: int) -> list:
    drug, effect = f"drug{fold}", f"rash{fold}"
    return [([drug, "caused", effect], [("Drug", 0, 1), ("Adverse-Effect", 2, 3)], [("Adverse-Effect", 1, 0)]),
            (["no", effect, "after", drug], [("Adverse-Effect", 1, 2), ("Drug", 3, 4)], [("Adverse-Effect", 0, 1)])]


def make_runs(root: Path) -> Path:
    for method, by_seed in CONLL.items():
        for seed, scores in by_seed.items():
            write_run(root, "conll04", method, seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=method == "spert_mt")
    for method, by_unit in ADE.items():
        for (seed, fold), scores in by_unit.items():
            write_run(root, "ade", method, seed, fold, scores, _ade_docs(fold), ADE_TYPES, good=method == "spert_mt")
    hidden = root / ".tmp-spert-conll04-s9"  # a writer's temporary folder: must be ignored
    hidden.mkdir()
    (hidden / "metrics.json").write_text("{not json")
    return root


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    runs = make_runs(tmp_path_factory.mktemp("runs"))
    out = tmp_path_factory.mktemp("out")
    result = build_report([runs], out, seed=0, **FAST)
    return runs, out, result


def _summary(result, dataset, setting, method) -> dict:
    (row,) = [s for s in result["summaries"] if (s["dataset"], s["setting"], s["method"]) == (dataset, setting, method)]
    return row


def _comparison(result, baseline, dataset, setting, method) -> dict:
    (row,) = [c for c in result["comparisons"][baseline]["results"]
              if (c["dataset"], c["setting"], c["method"]) == (dataset, setting, method)]
    return row


def _table_lines(tex: str) -> dict[str, str]:
    return {line.split(" & ")[0]: line for line in tex.splitlines() if line.startswith("SpERT")}


# ---------------------------------------------------------------- collecting


def test_collect_ignores_hidden_and_sorts(report):
    runs, _, _ = report
    records = collect_runs([runs, runs / "spert-conll04-s1"])  # a folder reached twice is read once
    assert len(records) == 9 + 6 + 6 + 4
    assert records == sorted(records, key=lambda r: (r.dataset, r.method, r.seed, -1 if r.fold is None else r.fold))
    assert {r.dataset for r in records} == {"conll04", "ade"}


def test_collect_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "metrics.json").write_text(json.dumps({"run": {"dataset": "conll04", "method": "spert"},
                                                  "protocol": {}, "metrics": {}}))
    with pytest.raises(RunError, match=r"broken/metrics\.json: run\.seed"):
        collect_runs([tmp_path])
    (bad / "metrics.json").write_text("[1, 2")
    with pytest.raises(RunError, match=r"broken/metrics\.json: malformed JSON"):
        collect_runs([tmp_path])
    with pytest.raises(RunError, match="no such folder"):
        collect_runs([tmp_path / "absent"])


def test_duplicate_runs_are_an_error(tmp_path):
    write_run(tmp_path, "conll04", "spert", 1, None, (1, 2, 3), CONLL_DOCS, CONLL_TYPES, good=True, folder="a")
    write_run(tmp_path, "conll04", "spert", 1, None, (1, 2, 3), CONLL_DOCS, CONLL_TYPES, good=True, folder="b")
    with pytest.raises(RunError, match="duplicate run conll04/spert seed 1"):
        collect_runs([tmp_path])


def test_missing_metric_is_an_error(tmp_path):
    run = write_run(tmp_path, "conll04", "spert", 1, None, (1, 2, 3), CONLL_DOCS, CONLL_TYPES, good=True)
    data = json.loads((run / "metrics.json").read_text())
    del data["metrics"]["test/rel_strict/micro_f1"]
    (run / "metrics.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"metrics\.json: no metric 'test/rel_strict/micro_f1'"):
        build_tables(collect_runs([tmp_path]), **FAST)


# ---------------------------------------------------------------- numbers


def test_summaries_equal_hand_computed(report):
    _, _, result = report
    s = _summary(result, "conll04", "ner", "spert")
    assert (s["n"], s["mean"], s["std"]) == (3, 89.0, 1.0)
    assert s["ci95_low"] == pytest.approx(89.0 - 4.30265272975 / math.sqrt(3), rel=1e-9)
    assert [v["value"] for v in s["values"]] == [88.0, 89.0, 90.0]
    rel = _summary(result, "conll04", "rel_strict", "spert_mt")
    assert rel["mean"] == pytest.approx((73.0 + 75.0 + 74.5) / 3)
    ade = _summary(result, "ade", "ner", "spert")  # macro values over (seed, fold) units
    assert ade["metric"] == "ner/macro_f1" and ade["n"] == 6
    assert ade["mean"] == pytest.approx(sum(v[0] for v in ADE["spert"].values()) / 6)


def test_comparisons_paired_by_seed_and_fold(report):
    _, _, result = report
    c = _comparison(result, "spert", "ade", "rel", "spert_mt")
    fold_units = [(u["seed"], u["fold"]) for u in c["fold_units"]]
    assert fold_units == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
    assert [(u["seed"], u["fold"]) for u in c["units"]] == [(1, None), (2, None), (3, None)]  # the seed is the unit
    assert c["n"] == 3 and c["n_folds_averaged"] == 2
    assert c["baseline_values"] == pytest.approx([(ADE["spert"][(s, 0)][1] + ADE["spert"][(s, 1)][1]) / 2
                                                  for s in (1, 2, 3)])
    assert c["method_values"] == pytest.approx([(ADE["spert_mt"][(s, 0)][1] + ADE["spert_mt"][(s, 1)][1]) / 2
                                                for s in (1, 2, 3)])
    assert c["t_pvalue"] == pytest.approx(stats.paired_t_test(c["baseline_values"], c["method_values"]))
    assert c["decision_test"] == "t" and c["decision_pvalue"] == c["t_pvalue"]
    focal = _comparison(result, "spert", "ade", "ner", "spert_focal")  # only the pairs both have
    assert focal["n"] == 2 and [u["seed"] for u in focal["units"]] == [1, 2] and len(focal["fold_units"]) == 4
    assert any("spert_focal vs spert: 4 paired runs; unpaired: seed 3 fold 0 (only spert)" in w
               for w in result["warnings"])


def test_holm_across_one_table(report):
    _, _, result = report
    sizes = {"spert": 2 * 3 * 2, "spert_mt": 2 * 3 * 1}  # datasets x columns x methods not yet compared
    for baseline, table in result["comparisons"].items():
        rows = table["results"]
        assert table["holm_family_size"] == len(rows) == sizes[baseline]
        raw = [math.nan if r["decision_pvalue"] is None else r["decision_pvalue"] for r in rows]
        expected = stats.holm(raw)
        assert [r["t_pvalue_holm"] for r in rows] == pytest.approx(expected, nan_ok=True)
        assert [r["decision_pvalue_holm"] for r in rows] == pytest.approx(expected, nan_ok=True)


def test_constant_gain_marked_identical_not(report):
    _, out, result = report
    # a constant +5 on every seed has sd 0: no estimate of noise, so no t-test verdict; the exact sign-flip
    # test decides and cannot go below 2/2^3 = 0.25 with 3 seeds (the old code printed p = 0 and a marker)
    gain = _comparison(result, "spert", "conll04", "rel_strict", "spert_mt")
    assert gain["mean_diff"] == pytest.approx(5.0) and gain["t_pvalue"] is None and gain["marker"] is None
    assert gain["decision_test"] == "sign-flip" and gain["decision_pvalue"] == pytest.approx(0.25)
    assert gain["diff_ci95"] == [None, None] and gain["cohens_dz"] is None and gain["outcome"] == "inconclusive"
    same = _comparison(result, "spert", "conll04", "ner", "spert_focal")
    assert same["t_pvalue"] == 1.0 and same["marker"] is None and same["ar_pvalue"] == 1.0
    assert 0 < gain["ar_pvalue"] < 1 and gain["min_attainable_pvalue"]["ar"] == pytest.approx(1 / 201)
    worse = _comparison(result, "spert_mt", "conll04", "ner", "spert_focal")  # the second baseline's table
    assert worse["marker"] is None and worse["decision_test"] == "sign-flip"
    assert not [c for c in result["comparisons"]["spert_mt"]["results"] if c["method"] == "spert"]  # once only
    rows = _table_lines((out / "results.tex").read_text())
    assert all("^" not in cell for cell in rows["SpERT.MT"].split(" & ")[1:4])
    ade = _comparison(result, "spert", "ade", "rel", "spert_mt")  # per-seed gains 1.1, 1.2, 1.3: noisy, clear
    assert ade["decision_test"] == "t" and ade["marker"] == "†" and ade["outcome"] == "better"
    assert "^{\\dagger}" in rows["SpERT.MT"].split(" & ")[5]
    assert "^" not in rows["SpERT"] and all("^" not in c for c in rows["SpERT + focal"].split(" & ")[1:4])
    page = (out / "index.html").read_text()  # every test: index.html's fold-out (and comparisons.csv)
    assert "– (no estimate of noise)" in page and "sign-flip (p=0.250)" in page


def test_best_mean_bold_and_underscores_escaped(report):
    _, out, _ = report
    tex = (out / "results.tex").read_text()
    rows = _table_lines(tex)
    assert "$\\mathbf{94.00} \\pm 1.00$" in rows["SpERT.MT"]
    assert "mathbf" not in rows["SpERT + focal"].split(" & ")[1]
    body = [line for line in tex.splitlines() if not line.startswith("%")]
    for line in body:
        assert "_" not in line.replace("\\_", ""), line
    assert "\\begin{table*}" in tex and "\\toprule" in tex and "\\multicolumn{3}{c}{ADE (macro)}" in tex
    assert "\\cmidrule(lr){2-4} \\cmidrule(lr){5-7}" in tex
    assert "over 3 seeds (CoNLL04) and 3 seeds x 2 folds (ADE), fewer where a method lacks runs" in tex
    assert "Holm-corrected over the comparisons against each baseline (12 for SpERT, 6 for SpERT.MT)" in tex
    assert "$\\alpha=0.05$" in tex
    assert "enc:minilm" in tex and "sel:last" in tex and "avg:macro" in tex and "no\\_overlap:yes" in tex


def test_markdown_numbers(report):
    _, out, _ = report
    md = (out / "results.md").read_text()
    lines = [line for line in reversed(md.splitlines()) if line.startswith("| SpERT")]  # the main table's first
    rows = {line.split(" | ")[0]: line.split(" | ") for line in lines}
    assert rows["| SpERT"][1:4] == ["89.00 ± 1.00", "71.00 ± 1.00", "69.17 ± 1.04"]
    assert rows["| SpERT.MT"][1] == "**94.00** ± 1.00"  # a constant gain: no estimate of noise, no marker
    assert rows["| SpERT + focal"][1] == "89.00 ± 1.00"
    assert "Markers: two-sided paired t-test" in md and "## Warnings" in md
    assert "conll04|enc:minilm|split:train->test|ep:2|sel:last|avg:micro|no_overlap:no|neg:100/100" in md


def test_stats_json_matches(report):
    _, out, result = report
    on_disk = json.loads((out / "stats.json").read_text())
    assert on_disk == result
    assert on_disk["settings"]["baselines"] == ["spert", "spert_mt"]
    assert on_disk["settings"]["metric_average"] == {"conll04": "micro", "ade": "macro"}
    c = _comparison(on_disk, "spert", "conll04", "rel", "spert_mt")
    assert c["aso_epsilon_min"] is None  # nan (ASO not run) -> null
    assert sorted(on_disk["files"]) == on_disk["files"] and "per_seed.png" in on_disk["files"]


def test_summary_json_is_the_headline_means(report):
    """summary.json (the DVC metric) holds NER and the headline relation mean per dataset and method, as tabled."""
    _, out, _ = report
    summary = json.loads((out / "summary.json").read_text())
    md = (out / "results.md").read_text()
    lines = [line for line in reversed(md.splitlines()) if line.startswith("| SpERT")]  # the main table's first
    rows = {line.split(" | ")[0]: line.split(" | ") for line in lines}
    assert summary["conll04"]["spert"] == {"ner": 89.0, "rel_strict": 69.17}
    assert f"{summary['conll04']['spert']['rel_strict']:.2f}" == rows["| SpERT"][3].split(" ±")[0]
    assert summary["conll04"]["n"] == 3 and set(summary) == {"conll04", "ade"}
    assert set(summary["ade"]["spert"]) == {"ner", "rel_strict"}


def test_figures_and_plot_data_written(report):
    _, out, _ = report
    png, pdf = (out / "per_seed.png").read_bytes(), (out / "per_seed.pdf").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000 and pdf.startswith(b"%PDF")
    # no sweep: the figure is a note saying so (every report file is a declared DVC output), not in index.html
    assert (out / "neg_sweep.png").exists() and 'id="figure-neg_sweep"' not in (out / "index.html").read_text()
    assert (out / "plots" / "neg_sweep.csv").read_text().strip() == ("dataset,method,neg_entity_count,"
                                                                      "neg_relation_count,seed,fold,metric,value")
    csv = (out / "plots" / "per_seed.csv").read_text().splitlines()
    assert csv[0] == "dataset,method,seed,fold,metric,value"
    assert "conll04,spert,1,,test/ner/micro_f1,88.0" in csv and len(csv) == 1 + 25 * 3
    assert not list(out.rglob(".*.tmp"))


def test_deterministic_for_a_seed(report, tmp_path):
    runs, out, _ = report
    build_report([runs], tmp_path, seed=0, **FAST)
    for name in ("results.md", "results.tex", "stats.json", "plots/per_seed.csv", "per_seed.png", "index.html",
                 "errors.png", "seeds_needed.png"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_aso_reported(report):
    runs, _, _ = report
    tables = build_tables(collect_runs([runs]), baselines=("spert",), aso_bootstrap=50, ar_trials=0)
    (res,) = [r for r in tables.results["spert"] if (r.column.dataset, r.column.setting, r.method)
              == ("conll04", "rel", "spert_mt")]
    assert 0.0 <= res.comparison.aso_epsilon < 0.5 and res.comparison.ar_pvalue is None


def test_negative_sweep(tmp_path):
    runs = tmp_path / "runs"
    for neg, shift in ((50, -2.0), (100, 0.0), (200, -1.0)):
        for seed in (1, 2):
            for method in ("spert", "spert_mt"):
                scores = tuple(v + shift + (3 if method == "spert_mt" else 0) for v in CONLL["spert"][seed])
                write_run(runs, "conll04", method, seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=True, neg=neg)
    for seed in (3,):  # most runs at 100: the table uses them
        write_run(runs, "conll04", "spert", seed, None, CONLL["spert"][seed], CONLL_DOCS, CONLL_TYPES, good=True)
    out = tmp_path / "out"
    result = build_report([runs], out, **FAST)
    assert (out / "neg_sweep.png").stat().st_size > 1000 and (out / "neg_sweep.pdf").exists()
    assert _summary(result, "conll04", "ner", "spert")["mean"] == pytest.approx(89.0)
    assert _summary(result, "conll04", "ner", "spert_mt")["mean"] == pytest.approx(91.5)  # ties -> 100
    assert any("runs with negatives (entity/relation) 50/50, 100/100, 200/200" in w for w in result["warnings"])
    assert "neg_entity_count" in (out / "plots" / "neg_sweep.csv").read_text()


def test_missing_predictions_skip_ar_with_warning(tmp_path):
    for method in ("spert", "spert_mt"):
        for seed in (1, 2):
            write_run(tmp_path, "conll04", method, seed, None, CONLL[method][seed], CONLL_DOCS, CONLL_TYPES, good=True)
    (tmp_path / "spert-conll04-s2" / "predictions.jsonl").unlink()
    tables = build_tables(collect_runs([tmp_path]), **FAST)
    assert all(r.comparison.ar_pvalue is None for r in tables.results["spert"])
    assert any("conll04/spert seed 2: no predictions.jsonl" in w for w in tables.warnings)


# ---------------------------------------------------------------- snapshots


@pytest.mark.parametrize("name", ["results.md", "results.tex"])
def test_snapshot(report, name):
    _, out, _ = report
    got = (out / name).read_text()
    path = SNAPSHOTS / f"report_{name}"
    if os.environ.get("ERBENCH_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(got)
    assert got == path.read_text(), f"rendering changed; rerun with ERBENCH_UPDATE_SNAPSHOTS=1 if intended: {path}"


# ---------------------------------------------------------------- command line and LaTeX


def test_cli_report(report, tmp_path):
    from erbench.cli import main

    runs, out, _ = report
    result = CliRunner().invoke(main, ["report", str(runs), "--out", str(tmp_path / "rep"), "--aso-bootstrap", "0",
                                       "--ar-trials", "200", "--baseline", "spert", "--baseline", "spert_mt",
                                       "--data-root", str(tmp_path / "no-data")])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "no seen/unseen split" in result.output
    # the same tables; the CLI adds the git commit and looks for staged data (build_report: neither)
    got, want = ((tmp_path / "rep" / "results.md").read_text(), (out / "results.md").read_text())
    assert got.split("Protocol signature:")[0] == want.split("Protocol signature:")[0]
    assert got.split("## Comparisons against")[1] == want.split("## Comparisons against")[1]


def test_cli_empty_folder_exits_2(tmp_path):
    from erbench.cli import main

    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["report", str(tmp_path / "empty"), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 2
    assert "no run found" in result.output and "metrics.json" in result.output
    assert not (tmp_path / "rep").exists()
    missing = CliRunner().invoke(main, ["report", str(tmp_path / "absent")])
    assert missing.exit_code == 2 and "no such folder" in missing.output


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs texlive)")
def test_standalone_compiles(report, tmp_path):
    _, out, _ = report
    shutil.copy(out / "results_standalone.tex", tmp_path / "doc.tex")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0


# ---------------------------------------------------------------- k-fold options, LaTeX comparisons, published numbers


def test_corrected_fold_test_and_latex_comparisons(report, tmp_path):
    runs, _, _ = report
    result = build_report([runs], tmp_path, seed=0, fold_test="corrected", latex_comparisons=True, **FAST)
    c = _comparison(result, "spert", "ade", "rel", "spert_mt")
    diffs = [ADE["spert_mt"][(s, f)][1] - ADE["spert"][(s, f)][1] for s in (1, 2, 3) for f in (0, 1)]
    assert c["decision_test"] == "corrected-t"
    assert c["decision_pvalue"] == pytest.approx(stats.corrected_resampled_t_test(diffs, 1 / (2 - 1)))
    assert c["diff_ci95_method"] == "corrected-t"  # the interval of the test that decides
    assert c["diff_ci95"] == pytest.approx(list(stats.corrected_resampled_interval(diffs, 1 / (2 - 1))))
    (sentence,) = [s for s in result["answer"] if s.startswith("On ADE, SpERT.MT")]
    assert "(95% CI" in sentence and "2 folds x 3 seeds, Nadeau-Bengio corrected)" in sentence  # not "6 folds"
    assert _comparison(result, "spert", "conll04", "rel", "spert_mt")["decision_test"] == "sign-flip"  # no folds
    assert result["settings"]["fold_test"] == "corrected" and "Nadeau-Bengio" in result["decision_note"]
    tex = (tmp_path / "results.tex").read_text()
    assert "Nadeau-Bengio corrected repeated-resampling t-test" in tex
    assert "\\label{tab:erbench-results-comparisons}" in tex
    row = next(line for line in tex.splitlines() if line.startswith("SpERT & ADE & RE (macro) & SpERT.MT"))
    assert f"${c['mean_diff']:+.2f}$ [{c['diff_ci95'][0]:+.2f}, {c['diff_ci95'][1]:+.2f}]" in row
    caption = re.findall(r"\\caption\{(.*)\}\n\\label\{tab:erbench-results-comparisons", tex)[0]
    assert "Nadeau-Bengio corrected" in caption and "Holm per baseline" in caption and "$\\alpha=0.05$" in caption
    assert len(re.sub(r"\$[^$]*\$", "x", caption).split()) <= 50  # short; the test in full is in the note
    assert "-comparisons}" not in (report[1] / "results.tex").read_text()  # off by default


def test_ar_swaps_a_documents_copies_together(report):
    from erbench.report.documents import RunDocs
    from erbench.report.tables import document_ids

    runs, _, _ = report
    records = [r for r in collect_runs([runs]) if r.method == "spert" and r.dataset in ("conll04", "ade")]
    ids = document_ids(RunDocs(), [r for r in records if r.dataset == "conll04"])
    assert len(ids) == 3 * len(CONLL_DOCS) and len(set(ids.tolist())) == len(CONLL_DOCS)  # 3 seeds, 4 documents
    ade = document_ids(RunDocs(), [r for r in records if r.dataset == "ade"])
    assert len(set(ade.tolist())) == 2 * 2  # 2 folds x 2 documents, each repeated by 3 seeds


@pytest.mark.filterwarnings("ignore:Division by zero encountered in violation ratio")
def test_aso_at_holm_confidence_and_strict_tau(report):
    """ASO runs at confidence 1 - alpha/m for a family of m (not deepsig's 0.95) and flags at tau = 0.2."""
    deepsig = pytest.importorskip("deepsig")
    runs, _, _ = report
    records = [r for r in collect_runs([runs]) if r.dataset == "conll04"]
    tables = build_tables(records, aso_bootstrap=20, ar_trials=0, seed=3)
    checked = 0
    for rs in tables.results.values():
        for r in rs:
            m = len(rs)
            assert r.family_size == m and r.comparison.aso_confidence == pytest.approx(1 - 0.05 / m)
            expected = deepsig.aso(list(r.b), list(r.a), confidence_level=1 - 0.05 / m, num_bootstrap_iterations=20,
                                   seed=3, show_progress=False)
            assert r.comparison.aso_epsilon == pytest.approx(expected, rel=1e-12)
            assert r.aso_better == (expected < stats.ASO_TAU)
            checked += 1
    assert checked == 6 + 3
    assert tables.settings["aso_confidence"] == "1 - alpha/m"


def test_effect_size_outcome_and_mc_errors_in_markdown_and_json(report):
    _, out, result = report
    md = (out / "results.md").read_text()
    head = next(line for line in md.splitlines() if line.startswith("| Dataset | Column | Method | n | Δ mean"))
    for name in ("95% CI of Δ (t)", "p (marker test, Holm)", "d_z", "Outcome"):
        assert f"| {name} |" in head, name
    csv = (out / "comparisons.csv").read_text()  # the other tests: comparisons.csv, stats.json, index.html
    assert csv.splitlines()[0].count(",p_tost_holm,") == 1 and ",decision_test," in csv.splitlines()[0]
    ade = _comparison(result, "spert", "ade", "rel", "spert_mt")
    diffs = np.subtract(ade["method_values"], ade["baseline_values"])
    assert ade["cohens_dz"] == pytest.approx(diffs.mean() / diffs.std(ddof=1))
    assert ade["ar_pvalue_mc_se"] == pytest.approx(math.sqrt(ade["ar_pvalue"] * (1 - ade["ar_pvalue"]) / 200))
    assert f"{ade['ar_pvalue']:.3f} ± {ade['ar_pvalue_mc_se']:.3f}" in (out / "index.html").read_text()
    assert ade["diff_ci95_method"] == "student-t" and ade["equivalence_margin"] == 1.0
    assert "inconclusive" in md and "equivalent within ±1 F1 points (TOST" in md


SYNTHETIC_RE_PLUS = {1: 60.0, 2: 60.5, 3: 61.0, 4: 61.5, 5: 64.0}  # mean 61.4, t CI [59.47, 63.33], E[max of 3] 62.95


def _synthetic_runs(root: Path) -> Path:
    for seed, value in SYNTHETIC_RE_PLUS.items():
        write_run(root, "synthetic", "spert", seed, None, (80.0, value + 1, value), CONLL_DOCS, CONLL_TYPES, good=True)
    return root


def test_reproduction_verdicts_of_published_numbers(tmp_path):
    from erbench.cli import main

    runs = _synthetic_runs(tmp_path / "runs")
    published = [{"dataset": "synthetic", "method": "spert", "metric": "rel_strict/micro_f1", "value": v,
                  "source": "hand-made paper", "seeds": k} for v, k in ((61.0, 3), (63.6, 3), (64.5, 3), (61.0, 10))]
    params = {"grid": {"datasets": ["synthetic"], "methods": ["spert"], "seeds": [1, 2, 3, 4, 5]},
              "report": {"baselines": ["spert"], "aso_bootstrap": 0, "ar_trials": 0, "published": published}}
    (tmp_path / "params.yaml").write_text(json.dumps(params))  # JSON is YAML
    out = tmp_path / "rep"
    result = CliRunner().invoke(main, ["report", str(runs), "--params", str(tmp_path / "params.yaml"), "--out",
                                       str(out), "--data-root", str(tmp_path / "no-data")])
    assert result.exit_code == 0, result.output
    stats_json = json.loads((out / "stats.json").read_text())
    repro = stats_json["reproduction"]
    assert [r["placement"] for r in repro] == ["inside the seed distribution",
                                             "matches the best of k rather than the mean",
                                             "outside the measured range", "inside the seed distribution"]
    values = list(SYNTHETIC_RE_PLUS.values())
    first = repro[0]
    ci = scipy.stats.ttest_1samp(values, 0.0).confidence_interval()
    assert (first["mean"], first["low"], first["high"]) == (pytest.approx(61.4), 60.0, 64.0)
    assert (first["ci_low"], first["ci_high"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert first["expected_max"] == pytest.approx(np.mean([max(c) for c in itertools.combinations(values, 3)]))
    assert all(r["verdict"].startswith(r["placement"]) and "encoder is not known" in r["verdict"] and "minilm"
               in r["verdict"] and r["paper_encoder"] == "" and r["same_encoder"] is None for r in repro)  # synthetic
    assert repro[3]["expected_max"] is None  # k=10 > 5 seeds: not estimable, and said so
    assert any("the paper used 10 seeds, the runs have 5" in w for w in stats_json["warnings"])
    md = (out / "results.md").read_text()
    assert "## Reproduction of published numbers" in md and "matches the best of k rather than the mean" in md
    assert "Reproduction of published numbers" in (out / "index.html").read_text()


def test_bad_report_params_exit_2(tmp_path):
    from erbench.cli import main

    runs = _synthetic_runs(tmp_path / "runs")
    for report_section, message in (
            ({"published": [{"dataset": "synthetic", "method": "spert", "metric": "f1", "value": 61.0, "source": "x",
                             "seeds": 5}]}, "report.published[0]: metric: expected one of"),
            ({"equivalence_margin": 0}, "report: equivalence_margin: must be > 0"),
            ({"fold_test": "fold"}, "report: fold_test: expected one of seed, corrected"),
            ({"equivalnce_margin": 1.0}, "report.equivalnce_margin: unknown key")):
        params = {"grid": {"datasets": ["synthetic"], "methods": ["spert"], "seeds": [1, 2, 3, 4, 5]},
                  "report": report_section}
        (tmp_path / "params.yaml").write_text(json.dumps(params))
        result = CliRunner().invoke(main, ["report", str(runs), "--params", str(tmp_path / "params.yaml"), "--out",
                                           str(tmp_path / "rep")])
        assert result.exit_code == 2, result.output
        assert message in result.output and str(tmp_path / "params.yaml") in result.output
        assert not (tmp_path / "rep").exists()
