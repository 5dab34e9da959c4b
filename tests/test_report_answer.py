"""The report answers its question in words and its figures do not mislead (issue 27, items 4 and 7).

- results.md and index.html open with one sentence per comparison and dataset, generated from the
  verdicts, and `erbench report` prints them; the comparison tables show the decision columns only,
  every test is in comparisons.csv (and stats.json);
- seeds_needed states the level its power curves use (Holm's alpha/m), every curve has a marker,
  learning curves keep their legend off the data, entity_scores names the dataset and draws the
  threshold, the per-seed figure joins a seed's runs across methods, PDFs embed TrueType fonts.
"""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
from click.testing import CliRunner
from erbench.analysis.seeds import EFFECT, power_curve
from erbench.report import build_analysis, build_report, build_tables, collect_runs
from erbench.report.analysis_figures import POWER_ALPHA, learning_figure, seeds_figure, seeds_frame
from erbench.report.figures import entity_scores_figure, per_seed_figure

from tests.test_report import CONLL, CONLL_DOCS, CONLL_TYPES, FAST, make_runs, write_run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    runs = make_runs(tmp_path_factory.mktemp("runs"))
    out = tmp_path_factory.mktemp("out")
    result = build_report([runs], out, seed=0, **FAST)
    tables = build_tables(collect_runs([runs]), seed=0, **FAST)
    return runs, out, result, tables


def _headline(result) -> list[dict]:
    heads = {"conll04": "rel_strict", "ade": "rel_strict"}
    return [c for table in result["comparisons"].values() for c in table["results"]
            if c["setting"] == heads[c["dataset"]]]


def test_the_answer_opens_results_md_and_index_html(report):
    _, out, result, _ = report
    md = (out / "results.md").read_text().splitlines()
    expected = len(_headline(result))
    assert expected >= 4
    answer = md[2: 2 + expected]
    assert all(line.startswith("- On ") for line in answer) and md[2 + expected] == ""
    assert result["answer"] == [line[2:] for line in answer]
    # CoNLL04: spert_mt = spert + 5 on every seed; the sentence carries that difference and the Holm family
    (mt,) = [c for c in _headline(result) if (c["dataset"], c["baseline"], c["method"]) == ("conll04", "spert",
                                                                                             "spert_mt")]
    family = len(result["comparisons"]["spert"]["results"])
    sentence = next(s for s in result["answer"] if s.startswith("On CoNLL04, SpERT.MT is"))
    assert sentence.startswith(f"On CoNLL04, SpERT.MT is {mt['mean_diff']:.1f} RE+ points above SpERT")
    assert f"Holm over {family} comparisons" in sentence
    focal = next(s for s in result["answer"] if s.startswith("On CoNLL04, SpERT + focal"))
    assert "scores the same RE+ as SpERT" in focal and "not significant" in focal
    page = (out / "index.html").read_text()
    items = re.findall(r"<li>(.*?)</li>", page[page.index('<section id="answer"'):page.index("</section>")])
    assert [i.replace("&#43;", "+") for i in items] == result["answer"]
    assert page.index('id="answer"') < page.index('id="results"')


def test_comparison_tables_show_the_decision_columns_and_the_csv_holds_every_test(report):
    _, out, result, _ = report
    md = (out / "results.md").read_text()
    sections = [part.split("\n\n")[1] for part in md.split("## Comparisons against")[1:]]
    assert len(sections) == 2
    for table in sections:
        cells = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
        assert cells == ["Dataset", "Column", "Method", "n", "Δ mean", "95% CI of Δ (t)", "p (marker test, Holm)",
                         "d_z", "Outcome"]
    assert "Verdict" not in md.split("## Comparisons against")[1].split("\n\n")[1]
    assert "Wilcoxon" not in "".join(sections) and md.count("smallest attainable p") == 1  # said once, in the note
    csv = pd.read_csv(out / "comparisons.csv")
    rows = [c for table in result["comparisons"].values() for c in table["results"]]
    assert len(csv) == len(rows) and "comparisons.csv" in result["files"]
    for column in ("p_wilcoxon", "min_p_wilcoxon", "aso_epsilon", "p_ar_pooled", "p_tost_holm", "verdict"):
        assert column in csv.columns
    for row, c in zip(csv.itertuples(), rows):
        assert (row.dataset, row.baseline, row.method) == (c["dataset"], c["baseline"], c["method"])
        assert row.mean_diff == pytest.approx(c["mean_diff"])


def test_cli_prints_the_answer_first(report, tmp_path):
    from erbench.cli import main

    runs, _, result, _ = report
    res = CliRunner().invoke(main, ["report", str(runs), "--out", str(tmp_path / "r"), "--aso-bootstrap", "0",
                                    "--ar-trials", "200"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[: len(result["answer"])] == result["answer"]


NOISY = {"spert": (68.0, 70.0, 69.5, 71.0), "spert_mt": (70.0, 73.5, 70.0, 74.0),  # differences that vary
         "spert_focal": (68.5, 69.0, 71.0, 70.5)}


def test_seeds_needed_title_states_the_level_of_its_curves(tmp_path):
    for method, values in NOISY.items():
        for seed, value in enumerate(values, 1):
            write_run(tmp_path / "runs", "conll04", method, seed, None, (90.0, value + 1, value), CONLL_DOCS,
                      CONLL_TYPES, good=True)
    tables = build_tables(collect_runs([tmp_path / "runs"]), **FAST)
    analysis = build_analysis(tables)
    frame = seeds_frame(tables, analysis)
    fig = seeds_figure(tables, analysis)
    checked = 0
    for ax in fig.axes:
        title = ax.get_title(loc="left")
        if "paired t-test" not in title:
            continue
        sub = frame[frame["dataset"] == "conll04"]
        shown = sorted(float(x) for x in POWER_ALPHA.findall(title))
        used = sorted({float(f"{a:.2g}") for a in sub["alpha"]})
        assert shown == used and "alpha=0.05" not in title, title
        for line in ax.get_lines():
            label = line.get_label()
            if " vs " not in label:
                continue
            rows = sub[[f"{m} vs {b}" == label for m, b in zip(sub["method"].map(_name(tables)),
                                                                 sub["baseline"].map(_name(tables)))]]
            alpha = rows["alpha"].iloc[0]
            assert line.get_marker() not in (None, "None", "")  # coinciding curves stay visible
            assert list(line.get_ydata()) == pytest.approx(power_curve(_std(tables, analysis, rows), list(rows["n"]),
                                                                       EFFECT, alpha))
            checked += 1
    assert checked == 3  # spert_mt and spert_focal vs spert, spert_focal vs spert_mt
    height = fig.get_size_inches()[1] * 2.54
    assert height < 15, f"seeds_needed is {height:.0f} cm tall for one dataset"  # 16 cm before, for 3 methods


def _name(tables):
    from erbench.report.tables import method_name

    return lambda m: method_name(tables, m)


def _std(tables, analysis, rows) -> float:
    base, method, dataset = rows["baseline"].iloc[0], rows["method"].iloc[0], rows["dataset"].iloc[0]
    r = next(r for rs in tables.results.values() for r in rs
             if (r.baseline, r.method, r.column.dataset, r.column.setting) == (base, method, dataset, "rel_strict"))
    return analysis.power_of(r).diffs_std


def test_pdfs_embed_truetype_fonts(report):
    _, out, result, _ = report
    pdfs = [name for name in result["files"] if name.endswith(".pdf")]
    assert len(pdfs) >= 3
    for name in pdfs:
        data = (out / name).read_bytes()
        assert b"/Type3" not in data, f"{name} embeds a Type 3 font"
        assert b"/TrueType" in data or b"/CIDFontType2" in data, name


def test_per_seed_figure_joins_a_seeds_runs(report):
    _, _, _, tables = report
    fig = per_seed_figure(tables)
    for ax, dataset in zip(fig.axes, tables.datasets):
        pairs = [line for line in ax.get_lines() if line.get_gid() == "pairing"]
        units = {u for (d, s, m), cell in tables.cells.items() if d == dataset and s == "rel_strict"
                 for u in cell.units}
        assert len(pairs) == len(units) and all(len(line.get_xdata()) >= 2 for line in pairs)


def test_learning_curves_legend_is_off_the_data(tmp_path):
    for method in ("spert", "spert_mt"):
        for seed, scores in CONLL[method].items():
            run = write_run(tmp_path / "runs", "conll04", method, seed, None, scores, CONLL_DOCS, CONLL_TYPES,
                            good=True)
            raw = json.loads((run / "metrics.json").read_text())
            raw["history"] = [{"epoch": e, "dev/rel_strict/micro_f1": 40.0 + 10 * e + seed} for e in (1, 2, 3)]
            (run / "metrics.json").write_text(json.dumps(raw))
    tables = build_tables(collect_runs([tmp_path / "runs"]), **FAST)
    fig = learning_figure(tables, build_analysis(tables))
    fig.canvas.draw()
    (ax,) = fig.axes
    legend = ax.get_legend().get_window_extent()
    assert not legend.overlaps(ax.get_window_extent())


def test_entity_scores_name_the_dataset_and_draw_the_threshold(tmp_path):
    import numpy as np

    for seed, scores in CONLL["spert_mt"].items():
        run = write_run(tmp_path / "runs", "conll04", "spert_mt", seed, None, scores, CONLL_DOCS, CONLL_TYPES,
                        good=True)
        raw = json.loads((run / "metrics.json").read_text())
        counts = np.zeros(20, dtype=int)
        counts[0] = 5
        raw["thresholds"] = {"mode": "spec", "entity": 0.5, "relation": 0.4}
        raw["diagnostics"] = {"entity_scores": {
            "score": "sigmoid(z_id)", "bins": [round(0.05 * i, 2) for i in range(21)],
            "groups": {g: {"n": 5, "counts": counts.tolist()} for g in ("gold", "near_miss", "far")}}}
        (run / "metrics.json").write_text(json.dumps(raw))
    tables = build_tables(collect_runs([tmp_path / "runs"]), **FAST)
    fig = entity_scores_figure(tables)
    (ax,) = fig.axes
    assert ax.get_title(loc="left").startswith("CoNLL04: SpERT.MT (3 runs)")
    lines = [line for line in ax.get_lines() if line.get_label() == "entity threshold 0.5"]
    assert len(lines) == 1 and list(lines[0].get_xdata()) == [0.5, 0.5]
    assert not math.isnan(fig.get_size_inches()[1])
