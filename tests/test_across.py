"""The report's verdict across datasets (Dror et al. 2017), ADE's fold-level test at one seed, and the
encoders named in every reproduction verdict; on hand-built run folders (tests.test_report's fakes)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest
import scipy.stats
from click.testing import CliRunner
from erbench import stats
from erbench.report import build_report

from tests.test_report import ADE_TYPES, CONLL_DOCS, CONLL_TYPES, FAST, _ade_docs, make_runs, write_run

HEADLINE = {"conll04": "rel_strict", "ade": "rel_strict"}  # each dataset's headline relation column


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    runs = make_runs(tmp_path_factory.mktemp("runs"))
    out = tmp_path_factory.mktemp("out")
    return runs, out, build_report([runs], out, seed=0, **FAST)


def _one_sided(row: dict) -> float:
    p = row["decision_pvalue"]
    return p / 2 if row["mean_diff"] > 0 else 1 - p / 2


def test_across_datasets_from_the_marker_tests_by_the_papers_formulas(two):
    """Each row: the one-sided p of every dataset's marker test, Bonferroni (N-u+1) p_(u) and Fisher on the
    N-u+1 largest p (scipy.stats.combine_pvalues), k_hat from the running maximum, the k_hat smallest p."""
    _, _, result = two
    across = result["across_datasets"]
    assert across["shown"] and across["why_absent"] is None and across["alpha"] == 0.05
    seen = set()
    for row in across["rows"]:
        setting = {"relation": HEADLINE, "ner": {"conll04": "ner", "ade": "ner"}}[row["metric"]]
        comps = [c for c in result["comparisons"][row["baseline"]]["results"]
                 if c["method"] == row["method"] and c["setting"] == setting[c["dataset"]]]
        assert [c["dataset"] for c in comps] == row["datasets"] == ["conll04", "ade"]
        p = [_one_sided(c) for c in comps]
        assert row["one_sided_pvalues"] == pytest.approx(p)
        order = sorted(range(len(p)), key=lambda i: p[i])
        srt = [p[i] for i in order]
        n = len(p)
        bonf = [min(1.0, (n - u + 1) * srt[u - 1]) for u in range(1, n + 1)]
        fisher = [scipy.stats.combine_pvalues(srt[u - 1:], method="fisher").pvalue for u in range(1, n + 1)]
        for name, pc in (("bonferroni", bonf), ("fisher", fisher)):
            assert row[name]["pc_pvalues"] == pytest.approx(pc)
            running = np.maximum.accumulate(pc)
            k = int(np.sum(running <= 0.05))
            assert row[name]["k_hat"] == k and row[name]["datasets"] == [row["datasets"][i] for i in order[:k]]
        assert row["marked"] == sum(c["marker"] is not None and c["mean_diff"] > 0 for c in comps)
        seen.add((row["baseline"], row["method"], row["metric"]))
    assert ("spert", "spert_mt", "relation") in seen and ("spert", "spert_mt", "ner") in seen
    # SpERT.MT beats SpERT by exactly 5 points on every CoNLL04 seed: the sign-flip test decides, p = 2/2^3
    mt = next(r for r in across["rows"] if (r["baseline"], r["method"], r["metric"]) == ("spert", "spert_mt", "ner"))
    assert mt["one_sided_pvalues"][0] == pytest.approx(0.125) and mt["tests"][0] == "sign-flip"


def test_across_datasets_in_markdown_latex_and_html(two, tmp_path):
    _, out, result = two
    md = (out / "results.md").read_text()
    section = md[md.index("## Across datasets"):]
    assert "Dror, Baumer, Bogomolov & Reichart 2017" in section and "k̂ Bonferroni" in section
    assert ("- SpERT.MT vs SpERT on NER: no gain established on any of the 2 datasets by Bonferroni; no gain "
            "established on any of the 2 datasets by Fisher.") in section
    row = result["across_datasets"]["rows"][0]
    assert ", ".join(f"{v:.3f}" if v >= 0.001 else f"{v:.1e}" for v in row["bonferroni"]["pc_pvalues"]) in section
    tex = (out / "across_datasets.tex").read_text()
    assert "\\label{tab:erbench-across}" in tex and "\\toprule" in tex and "$\\hat{k}$ Fisher" in tex
    assert tex in (out / "results_standalone.tex").read_text()
    assert "across_datasets.tex" in result["files"]
    assert "Across datasets" in (out / "index.html").read_text()
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (CI installs texlive)")
    shutil.copy(out / "results_standalone.tex", tmp_path / "doc.tex")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_one_dataset_has_no_across_section_and_says_why(two, tmp_path):
    runs, out, _ = two
    shutil.copytree(out, tmp_path / "rep")  # a previous two-dataset report in the folder
    conll = [p for p in runs.iterdir() if "conll04" in p.name and not p.name.startswith(".")]
    result = build_report(conll, tmp_path / "rep", seed=0, **FAST)
    across = result["across_datasets"]
    assert not across["shown"] and across["rows"] == []
    assert "one dataset in this report (CoNLL04)" in across["why_absent"]
    assert "## Across datasets" not in (tmp_path / "rep" / "results.md").read_text()
    # the stale table is replaced by a LaTeX comment saying why (every report file is a declared DVC output)
    tex = (tmp_path / "rep" / "across_datasets.tex").read_text()
    assert tex.startswith("% no verdict across datasets") and "\\begin" not in tex


# ---------------------------------------------------------------- ADE at one seed: the fold is the unit

ONE_SEED = {"spert": [77.0, 78.5, 76.0, 79.0, 77.5], "spert_mt": [79.5, 80.0, 79.0, 81.5, 79.0]}  # RE+ per fold


def _ade_one_seed(root):
    for method, per_fold in ONE_SEED.items():
        for fold, value in enumerate(per_fold):
            write_run(root, "ade", method, 1, fold, (89.0, value + 1, value), _ade_docs(fold), ADE_TYPES,
                      good=method == "spert_mt")
    return root


def test_one_seed_k_fold_is_decided_by_the_corrected_test_and_says_so(tmp_path):
    runs = _ade_one_seed(tmp_path / "runs")
    out = tmp_path / "out"
    result = build_report([runs], out, seed=0, **FAST)  # fold_test left at its default, "seed"
    (c,) = [c for c in result["comparisons"]["spert"]["results"] if c["setting"] == "rel_strict"]
    diffs = np.subtract(ONE_SEED["spert_mt"], ONE_SEED["spert"])
    assert c["n"] == 1 and c["decision_test"] == "corrected-t"
    assert c["decision_pvalue"] == pytest.approx(stats.corrected_resampled_t_test(diffs, 1 / (5 - 1)))
    assert c["decision_pvalue"] < 0.05 and c["marker"] == "†"  # a marker where the seed-level test has none
    assert "corrected resampled t-test on 5 fold differences: one seed" in c["decision_why"]
    # its interval is the corrected test's (0 outside it, as the test rejects), and the answer says on what units
    assert c["diff_ci95_method"] == "corrected-t" and c["diff_ci95"][0] > 0
    assert c["diff_ci95"] == pytest.approx(list(stats.corrected_resampled_interval(diffs, 1 / 4)))
    (sentence,) = [s for s in result["answer"] if s.startswith("On ADE, SpERT.MT")]
    assert (f"(95% CI {c['diff_ci95'][0]:+.1f} to {c['diff_ci95'][1]:+.1f}, 5 folds of one seed, Nadeau-Bengio "
            "corrected), significant after Holm") in sentence
    assert "paired seeds" not in sentence
    note = result["decision_note"]
    assert "One seed on ADE (5 folds): there the fold is the unit" in note and "no markers" not in note
    assert "(n=1 seeds)" not in note
    assert "Intervals of Δ: Student-t; where the corrected test decides, its corrected interval." in note
    md = (out / "results.md").read_text()
    assert "One seed on ADE (5 folds)" in md and "on ADE (k-fold, one seed) the fold is the unit" in md
    tex = (out / "results.tex").read_text()
    assert "ADE (one seed): Nadeau-Bengio corrected over folds" in tex
    assert "on ADE (k-fold, one seed) the fold is the unit" in tex
    assert "One seed on ADE (5 folds)" in (out / "index.html").read_text()


def test_a_gain_on_both_datasets_is_counted_on_both(tmp_path):
    """CoNLL04: SpERT.MT +5.2/+5.5/+4.8 over three seeds (paired t); ADE: one seed, five folds (corrected t).
    Both one-sided p-values are far below alpha / 2, so Bonferroni and Fisher count both datasets."""
    runs = _ade_one_seed(tmp_path / "runs")
    for method, values in {"spert": [68.0, 70.0, 69.5], "spert_mt": [73.2, 75.5, 74.3]}.items():
        for seed, value in enumerate(values, start=1):
            write_run(runs, "conll04", method, seed, None, (88.0, value + 1, value), CONLL_DOCS, CONLL_TYPES,
                      good=True)
    result = build_report([runs], tmp_path / "out", seed=0, **FAST)
    (row,) = [r for r in result["across_datasets"]["rows"] if r["metric"] == "relation"]
    t_p = scipy.stats.ttest_rel([73.2, 75.5, 74.3], [68.0, 70.0, 69.5]).pvalue
    corrected = stats.corrected_resampled_t_test(np.subtract(ONE_SEED["spert_mt"], ONE_SEED["spert"]), 1 / 4)
    assert row["tests"] == ["t", "corrected-t"]
    assert row["one_sided_pvalues"] == pytest.approx([t_p / 2, corrected / 2])
    assert row["bonferroni"]["pc_pvalues"] == pytest.approx([2 * t_p / 2, corrected / 2])  # p_(1) = CoNLL04's
    assert row["bonferroni"]["k_hat"] == row["fisher"]["k_hat"] == 2
    assert row["bonferroni"]["datasets"] == ["conll04", "ade"]
    md = (tmp_path / "out" / "results.md").read_text()
    assert ("- SpERT.MT vs SpERT on the headline relation column: a gain on at least 2 of 2 datasets by Bonferroni "
            "(CoNLL04, ADE); a gain on at least 2 of 2 datasets by Fisher (CoNLL04, ADE).") in md


def test_one_seed_without_folds_says_there_is_no_test(tmp_path):
    """One seed on CoNLL04: one pair, no interval, no p-value; the answer says so in the singular and gives
    no verdict (not 'p=-' and 'more seeds are needed' as if a test had run)."""
    runs = tmp_path / "runs"
    for method, value in {"spert": 66.0, "spert_mt": 63.5}.items():
        write_run(runs, "conll04", method, 1, None, (85.0, value + 1, value), CONLL_DOCS, CONLL_TYPES,
                  good=method == "spert")
    result = build_report([runs], tmp_path / "out", seed=0, **FAST)
    (sentence,) = [s for s in result["answer"] if s.startswith("On CoNLL04, SpERT.MT")]
    assert sentence == ("On CoNLL04, SpERT.MT is 2.5 RE+ points below SpERT (1 paired seed, no interval): no test "
                        "is possible with 1 paired seed, so no verdict.")


def test_compare_paired_one_seed_with_folds():
    a, b = [77.6], [79.8]
    diffs = [2.5, 1.5, 3.0, 2.5, 1.5]
    c = stats.compare_paired(a, b, seed=0, with_aso=False, fold_diffs=diffs, n_folds=5)
    assert c.decision_test == "corrected-t" and c.decision_pvalue == stats.corrected_resampled_t_test(diffs, 0.25)
    assert stats.ONE_SEED_FOLDS in c.decision_why
    assert c.ci_method == "corrected-t" and (c.diff_ci_low, c.diff_ci_high) == stats.corrected_resampled_interval(
        diffs, 0.25)
    three = stats.compare_paired([1.0, 2.0, 3.0], [2.0, 3.5, 3.6], seed=0, with_aso=False,
                                 fold_diffs=[1, 1, 1.5, 1.5, 0.5, 0.7], n_folds=2)
    assert three.decision_test == "t" and "folds averaged per seed" in three.decision_why  # 3 seeds: unchanged
    assert three.ci_method == "student-t" and (three.diff_ci_low, three.diff_ci_high) == stats.t_interval(
        [1.0, 2.0, 3.0], [2.0, 3.5, 3.6])
    assert math.isnan(stats.compare_paired([1.0], [2.0], seed=0, with_aso=False).decision_pvalue)


# ---------------------------------------------------------------- reproduction verdicts name both encoders


def _published_report(tmp_path, encoder: str):
    from erbench.cli import main

    root = tmp_path / f"runs-{encoder.replace('/', '_')}"
    for seed, value in {1: 60.0, 2: 61.0, 3: 62.0}.items():
        run = write_run(root, "conll04", "spert", seed, None, (85.0, value + 1, value), CONLL_DOCS, CONLL_TYPES,
                        good=True)
        metrics = json.loads((run / "metrics.json").read_text())
        metrics["protocol"]["encoder"] = encoder
        (run / "metrics.json").write_text(json.dumps(metrics))
    published = [{"dataset": "conll04", "method": "spert", "metric": "rel_strict/micro_f1", "value": 71.47,
                  "source": "Eberts & Ulges 2020 (SpERT)", "seeds": 5}]
    params = {"grid": {"datasets": ["conll04"], "methods": ["spert"], "seeds": [1, 2, 3]},
              "report": {"baselines": ["spert"], "aso_bootstrap": 0, "ar_trials": 0, "published": published}}
    (tmp_path / "params.yaml").write_text(json.dumps(params))
    out = tmp_path / f"rep-{encoder.replace('/', '_')}"
    got = CliRunner().invoke(main, ["report", str(root), "--params", str(tmp_path / "params.yaml"), "--out", str(out),
                                    "--data-root", str(tmp_path / "no-data")])
    assert got.exit_code == 0, got.output
    return json.loads((out / "stats.json").read_text())["reproduction"][0], (out / "results.md").read_text()


def test_a_minilm_run_is_no_failed_reproduction_of_a_bert_base_number(tmp_path):
    repro, md = _published_report(tmp_path, "minilm")
    assert repro["placement"] == "outside the measured range"  # 71.47 vs 60-62
    assert repro["paper_encoder"] == "bert-base-cased" and repro["run_encoder"] == "minilm"
    assert repro["same_encoder"] is False
    assert repro["verdict"] == ("outside the measured range; not a reproduction attempt: the runs use minilm, the "
                                "published number bert-base-cased (a different encoder, so a gap is no failed "
                                "reproduction)")
    row = next(line for line in md.splitlines() if line.startswith("| CoNLL04 | SpERT | rel_strict/micro_f1"))
    assert "| bert-base-cased | minilm |" in row and "not a reproduction attempt" in row
    same, _ = _published_report(tmp_path, "/models/bert-base-cased")
    assert same["same_encoder"] is True
    assert same["verdict"] == "outside the measured range (same encoder: bert-base-cased)"


def test_paper_encoders_follow_spec_3():
    from erbench.report.analysis_tables import paper_encoder

    assert paper_encoder("conll04", "spert_mt")[0] == "bert-base-cased"
    assert paper_encoder("scierc", "spert")[0] == "SciBERT (scivocab, cased)"
    assert paper_encoder("ade", "spert")[0] == "bert-base-cased" and paper_encoder("ade", "spert_mt")[0] == "BioBERT"
    assert paper_encoder("synthetic", "spert") == ("", ())
