"""What users see: the LaTeX table in real papers (article, two-column), display names everywhere but
stats.json, figures fit for one 8.5 cm column, the run's environment on the protocol card and in MLflow."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from erbench.report import build_report, build_tables, collect_runs
from erbench.report.latex import latex_label, latex_options, render_latex
from erbench.report.tables import display_names

from tests.test_report import CONLL, CONLL_DOCS, CONLL_TYPES, FAST, make_runs, write_run

OVERFULL_TOLERANCE_PT = 1.0
COLUMN_CM = 8.5
# per-seed drift per method: differences to SpERT vary over seeds (a constant difference has no estimate of
# noise and gets no marker), so the tables carry markers and an unmarked comparison has a power analysis
DRIFT = {"spert": 0.0, "spert_mt": 0.2, "spert_focal": -0.1}


def _noisy(scores: tuple[float, ...], method: str, seed: int, offset: float = 0.0) -> tuple[float, ...]:
    return tuple(v + offset + DRIFT[method] * seed for v in scores)


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """CoNLL04, SciERC and ADE (the paper suite's 3 datasets x 3 columns), three methods."""
    root = make_runs(tmp_path_factory.mktemp("runs3"))
    for method, by_seed in CONLL.items():
        for seed, scores in by_seed.items():
            write_run(root, "scierc", method, seed, None, _noisy(scores, method, seed, -20), CONLL_DOCS,
                      CONLL_TYPES, good=method == "spert_mt")
    out = tmp_path_factory.mktemp("out3")
    result = build_report([root], out, title="Paper suite", **FAST)
    return root, out, result


def _one_dataset(root: Path, out: Path, seeds: tuple[int, ...]) -> tuple[Path, Path]:
    for method in ("spert", "spert_mt"):
        for seed in seeds:
            write_run(root, "conll04", method, seed, None, _noisy(CONLL[method][seed], method, seed), CONLL_DOCS,
                      CONLL_TYPES, good=True)
    build_report([root], out, **FAST)
    return root, out


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    """One dataset, two methods, mean ± std and markers: wider than one column of a two-column paper."""
    return _one_dataset(tmp_path_factory.mktemp("runs1"), tmp_path_factory.mktemp("out1"), (1, 2, 3))


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    """One dataset, two methods, one seed (no std, no markers): fits one column."""
    return _one_dataset(tmp_path_factory.mktemp("runsn"), tmp_path_factory.mktemp("outn"), (1,))


# ---------------------------------------------------------------- LaTeX


def test_caption_is_short_and_says_what_is_shown(three):
    _, out, _ = three
    tex = (out / "results.tex").read_text()
    caption = re.search(r"\\caption\{(.*)\}\n\\label", tex).group(1)
    words = len(re.sub(r"\$[^$]*\$", "x", caption).split())
    assert words <= 50, (words, caption)
    assert "texttt" not in caption and "Protocol" not in caption
    for needed in ("Paper suite.", "F1 (\\%) on test", "3 seeds", "paired t-test", "Holm", "$\\alpha=0.05$",
                   "better/worse than SpERT", "paired t-test, folds averaged per seed"):
        assert needed in caption, needed
    note = next(line for line in tex.splitlines() if line.startswith("{\\footnotesize"))
    assert "on k-fold data the folds of each seed are averaged first (the seed is the unit of replication)" in note
    assert "Unmarked is not equal" not in tex and "No marker does not mean no difference" in tex


def test_signature_above_as_comment_and_below_as_breakable_note(three):
    _, out, result = three
    lines = (out / "results.tex").read_text().splitlines()
    begin = next(i for i, line in enumerate(lines) if line.startswith("\\begin{table"))
    for info in result["datasets"].values():
        assert f"%   {info['signature']}" in lines[:begin]
    note = next(line for line in lines[begin:] if line.startswith("{\\footnotesize"))
    assert note.count("\\texttt{") == 3 and "$|$\\allowbreak " in note
    assert lines.index(note) < next(i for i, line in enumerate(lines) if line.startswith("\\caption"))
    tables = build_tables(collect_runs([three[0]]), **FAST)
    only_comment = render_latex(tables, options={"signature": "comment"})
    assert "\\footnotesize" not in only_comment and f"%   {tables.datasets['ade'].signature}" in only_comment


def test_wide_table_float_label_and_packages(three, one, narrow):
    root, out, _ = three
    tex = (out / "results.tex").read_text()
    assert "\\begin{table*}[t]" in tex and "\\end{table*}" in tex and "\\label{tab:paper-suite}" in tex
    assert "\\resizebox{\\linewidth}{!}" in tex  # 9 columns are wider than a two-column paper's text
    assert tex.splitlines()[0].startswith("% erbench report: needs \\usepackage{booktabs, graphicx}")
    mid = (one[1] / "results.tex").read_text()
    assert "\\begin{table*}[t]" in mid and "resizebox" not in mid
    small = (narrow[1] / "results.tex").read_text()
    assert "\\begin{table}[t]" in small and "resizebox" not in small
    assert "needs \\usepackage{booktabs}" in small and "\\label{tab:erbench-results}" in small
    tables = build_tables(collect_runs([root]), **FAST)
    scaled = render_latex(tables, options={"float": "resizebox", "label": "tab:x"})
    assert "\\begin{table}[t]" in scaled and "\\resizebox{\\linewidth}{!}{\\begin{tabular}" in scaled
    assert "needs \\usepackage{booktabs, graphicx}" in scaled and "\\label{tab:x}" in scaled
    assert "\\begin{table*}" in render_latex(tables, options={"float": "table*"})
    assert latex_label("Paper suite") == "tab:paper-suite" and latex_label(None) == "tab:erbench-results"
    for bad, match in (({"float": "wide"}, "report.latex.float"), ({"colour": 1}, "unknown key"),
                       ({"label": "a b"}, "report.latex.label")):
        with pytest.raises(ValueError, match=match):
            latex_options(bad)


def _compile(folder: Path, preamble: str, body: str) -> str:
    (folder / "doc.tex").write_text(preamble + "\\begin{document}\n" + body + "\n\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return (folder / "doc.log").read_text(errors="replace")


def _overfull(log: str) -> list[float]:
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide\)", log)]


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs texlive)")
@pytest.mark.parametrize("docclass", ["\\documentclass{article}", "\\documentclass[twocolumn]{article}"])
@pytest.mark.parametrize("which", ["three", "one", "narrow"])
def test_table_compiles_in_a_paper(docclass, which, three, one, narrow, tmp_path):
    """The plain results.tex \\input into an article and a two-column (ACL-like) paper, beside text."""
    out = {"three": three, "one": one, "narrow": narrow}[which][1]
    shutil.copy(out / "results.tex", tmp_path / "results.tex")
    first = (out / "results.tex").read_text().splitlines()[0]
    packages = re.search(r"\\usepackage\{([^}]*)\}", first).group(1)
    preamble = f"{docclass}\n\\usepackage{{{packages}}}\n"
    text = "Some text of the paper. " * 80
    log = _compile(tmp_path, preamble, f"{text}\n\\input{{results}}\n{text}\nSee Table~\\ref{{tab:x}}.")
    too_wide = [x for x in _overfull(log) if x > OVERFULL_TOLERANCE_PT]
    assert not too_wide, f"overfull boxes (pt): {too_wide}"
    assert (tmp_path / "doc.pdf").stat().st_size > 0


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs texlive)")
def test_long_caption_of_old_would_overflow(three, tmp_path):
    """The check can fail: an unbreakable typewriter signature in a column overflows and is caught."""
    _, out, result = three
    sig = result["datasets"]["conll04"]["signature"].replace("_", "\\_").replace(">", "")
    log = _compile(tmp_path, "\\documentclass[twocolumn]{article}\n", f"\\texttt{{{sig}}}")
    assert [x for x in _overfull(log) if x > OVERFULL_TOLERANCE_PT]


# ---------------------------------------------------------------- display names


def test_every_registered_method_has_a_display_name():
    from erbench.models.registry import METHODS

    names = display_names(list(METHODS))
    assert names["spert"] == "SpERT" and names["spert_mt"] == "SpERT.MT" and names["spert_focal"] == "SpERT + focal"
    assert names["spert_cb"] == "SpERT + CB" and names["spert_mt_no_iou"] == "SpERT.MT w/o IoU"
    assert all(names[m] != m for m in METHODS) and len(set(names.values())) == len(METHODS)


def test_display_names_validated():
    with pytest.raises(ValueError, match=r"display_names\.spert: expected a non-empty string"):
        display_names(["spert"], {"spert": ""})
    with pytest.raises(ValueError, match="nonesuch: not a registered method"):
        display_names(["spert"], {"nonesuch": "X"})
    with pytest.raises(ValueError, match="would both print as 'A'"):
        display_names(["spert", "spert_mt"], {"spert": "A", "spert_mt": "A"})


def _figure_texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")) if t.get_text()]


def test_display_names_everywhere_but_stats_json(three, tmp_path):
    root, _, _ = three
    from erbench.report import build_analysis
    from erbench.report.analysis_figures import errors_figure, seeds_figure
    from erbench.report.figures import per_seed_figure

    names = {"spert_mt": "SpERT.MT (ours)"}
    out = tmp_path / "rep"
    result = build_report([root], out, display_names=names, **FAST)
    assert "SpERT.MT (ours) & " in (out / "results.tex").read_text()
    assert "| SpERT.MT (ours) |" in (out / "results.md").read_text()
    page = (out / "index.html").read_text()
    assert 'data-id="spert_mt">SpERT.MT (ours)</td>' in page and '"spert_mt":"SpERT.MT (ours)"' in page
    assert result["methods"] == ["spert", "spert_mt", "spert_focal"]
    assert {s["method"] for s in result["summaries"]} == {"spert", "spert_mt", "spert_focal"}
    assert result["settings"]["display_names"]["spert_mt"] == "SpERT.MT (ours)"
    tables = build_tables(collect_runs([root]), method_names=names, **FAST)
    analysis = build_analysis(tables)
    for fig in (per_seed_figure(tables), errors_figure(tables, analysis), seeds_figure(tables, analysis)):
        texts = " ".join(_figure_texts(fig))
        assert "SpERT.MT (ours)" in texts and "spert_mt" not in texts


def test_cli_display_names_from_params(three, tmp_path):
    import yaml
    from erbench.cli import main

    root, _, _ = three
    params = tmp_path / "params.yaml"
    base = {"suite": "paper", "grid": {"datasets": [], "methods": [], "seeds": []},
            "report": {"aso_bootstrap": 0, "ar_trials": 0, "display_names": {"spert_mt": ""}}}
    params.write_text(yaml.safe_dump(base))
    bad = CliRunner().invoke(main, ["report", str(root), "--params", str(params), "--out", str(tmp_path / "r")])
    assert bad.exit_code == 2 and "report.display_names.spert_mt: expected a non-empty string" in bad.output
    assert not (tmp_path / "r").exists()



def test_cli_display_name_of_a_declared_choice_from_params(tmp_path):
    """The conll04-cpu suite names its choice in report.display_names: `erbench report --params` (the
    report stage's command) takes the choice's runs under that name; it used to refuse the key before
    collecting the runs ("not a registered method nor one of the runs' methods")."""
    import yaml
    from erbench.cli import main

    root = tmp_path / "runs"
    for method in ("spert", "spert_mt"):
        for seed, scores in CONLL[method].items():
            write_run(root, "conll04", method, seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=True)
    for seed, scores in CONLL["spert_mt"].items():
        write_run(root, "conll04", "mine", seed, None, tuple(v + 0.3 * seed for v in scores), CONLL_DOCS,
                  CONLL_TYPES, good=True, folder=f"choices/mine-conll04-s{seed}")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({
        "suite": "mine", "grid": {"datasets": ["conll04"], "methods": ["spert", "spert_mt"], "seeds": [1, 2, 3]},
        "choices": {"datasets": ["conll04"], "seeds": [1, 2, 3],
                    "variants": {"mine": {"method": "spert_mt", "set": {"mt_decision": "product"}}}},
        "report": {"aso_bootstrap": 0, "ar_trials": 0, "display_names": {"mine": "SpERT.MT (product)"}}}))
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", str(root), "--params", str(params), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(9 runs)" in result.output
    table = next(part for part in (out / "results.md").read_text().split("\n\n") if part.startswith("| Method |"))
    assert "| SpERT.MT (product) |" in table and "mine" not in table


# ---------------------------------------------------------------- figures


def test_figures_fit_one_column(three):
    root, out, _ = three
    from erbench.report import build_analysis
    from erbench.report.analysis_figures import errors_figure, learning_figure, seeds_figure
    from erbench.report.figures import per_seed_figure

    tables = build_tables(collect_runs([root]), **FAST)
    analysis = build_analysis(tables)
    figures = {"per_seed": per_seed_figure(tables), "errors": errors_figure(tables, analysis),
               "seeds_needed": seeds_figure(tables, analysis)}
    learning = learning_figure(tables, analysis)
    if learning is not None:
        figures["learning_curves"] = learning
    for name, fig in figures.items():
        width_cm = fig.get_figwidth() * 2.54
        assert width_cm <= COLUMN_CM + 0.1, (name, width_cm)
        scale = COLUMN_CM / width_cm
        sizes = [t.get_fontsize() * scale for t in fig.findobj(lambda a: hasattr(a, "get_fontsize"))
                 if getattr(t, "get_text", lambda: "")()]
        assert sizes and min(sizes) >= 6.5, (name, min(sizes))
        for ax in fig.axes:  # axis labels on every panel
            assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_title())
        assert (out / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_errors_figure_keeps_every_method_readable(three):
    root, _, _ = three
    from erbench.report import build_analysis
    from erbench.report.analysis_figures import KIND_COLOURS, errors_figure

    tables = build_tables(collect_runs([root]), **FAST)
    analysis = build_analysis(tables)
    key = ("conll04", "spert")  # one method with thousands of spurious relations
    cell = analysis.errors[key]
    cell.relation["spurious"] = tuple(13000 for _ in cell.units)
    fig = errors_figure(tables, analysis)
    fig.canvas.draw()
    colours = {}
    for ax in fig.axes:
        assert ax.get_xlim()[1] > 100  # shares: a full bar stays inside the frame
        y0, y1 = sorted(ax.get_ylim())
        for bar in ax.patches:
            assert bar.get_x() + bar.get_width() <= 100 + 1e-9
            assert y0 < bar.get_y() and bar.get_y() + bar.get_height() < y1
        legend = ax.get_legend()
        renderer = fig.canvas.get_renderer()
        assert legend is not None  # under the panel: never over the bars
        assert legend.get_window_extent(renderer).y1 <= ax.get_window_extent(renderer).y0 + 1
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            label = text.get_text().replace("\n", " ")
            colours.setdefault(label, set()).add(handle.get_facecolor())
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert all(re.search(r"\(\d[\d,]*\)$", t) for t in ticks)  # each method's total beside its name
    spert = [b for ax in fig.axes[1:2] for b in ax.patches if abs(b.get_y() + b.get_height() / 2) < 1e-9]
    assert sum(b.get_width() for b in spert) == pytest.approx(100.0)  # 13,000 errors: still one 100% bar
    others = [b for b in fig.axes[1].patches if abs(b.get_y() + b.get_height() / 2 - 1) < 1e-9]
    assert sum(b.get_width() for b in others) in (0.0, pytest.approx(100.0))  # spert_mt: as readable
    assert all(len(c) == 1 for c in colours.values())  # one colour per kind in every panel
    assert len({c for c in KIND_COLOURS.values()}) == 8  # 10 (group, kind) pairs, spurious/missed shared


def test_seeds_legend_explains_every_line(three):
    root, _, _ = three
    from erbench.report import build_analysis
    from erbench.report.analysis_figures import seeds_figure

    tables = build_tables(collect_runs([root]), **FAST)
    fig = seeds_figure(tables, build_analysis(tables))
    labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert "target power 80%" in labels and "power with the seeds run so far" in labels
    assert "seeds needed for 80%" in labels


def test_learning_curve_titles(tmp_path):
    from erbench.report import build_analysis
    from erbench.report.analysis_figures import learning_figure, metric_title

    assert metric_title("dev/rel_strict/micro_f1") == "dev RE+ F1 (micro)"
    for seed in (1, 2):
        run = write_run(tmp_path, "conll04", "spert_mt", seed, None, CONLL["spert_mt"][seed], CONLL_DOCS,
                        CONLL_TYPES, good=True)
        data = json.loads((run / "metrics.json").read_text())
        data["history"] = [{"epoch": e, "dev/rel_strict/micro_f1": 50.0 + e + seed} for e in (1, 2, 3)]
        (run / "metrics.json").write_text(json.dumps(data))
    tables = build_tables(collect_runs([tmp_path]), **FAST)
    fig = learning_figure(tables, build_analysis(tables))
    texts = _figure_texts(fig)
    assert "CoNLL04: dev RE+ F1 (micro) per epoch" in texts and "SpERT.MT" in texts
    assert "band: mean ± std over seeds" in texts and not [t for t in texts if "rel_strict" in t]


# ---------------------------------------------------------------- environment


def test_protocol_card_shows_and_warns_on_environment(tmp_path):
    for method in ("spert", "spert_mt"):
        for seed in (1, 2):
            run = write_run(tmp_path, "conll04", method, seed, None, CONLL[method][seed], CONLL_DOCS, CONLL_TYPES,
                            good=True)
            data = json.loads((run / "metrics.json").read_text())
            torch = "2.13.0+cpu" if (method, seed) != ("spert_mt", 2) else "2.12.1+cpu"
            data["environment"] = {"torch": torch, "transformers": "4.57.0", "device": "cpu", "device_type": "cpu"}
            (run / "metrics.json").write_text(json.dumps(data))
    out = tmp_path / "rep"
    result = build_report([tmp_path], out, **FAST)
    md = (out / "results.md").read_text()
    assert "| torch | differs: 2.12.1+cpu (1 run), 2.13.0+cpu (3 runs) |" in md
    assert "| transformers | 4.57.0 |" in md and "| device type | cpu |" in md
    (warning,) = [w for w in result["warnings"] if "different torch" in w]
    assert "conll04/spert_mt seed 2" in warning.split("2.12.1+cpu")[1].split(";")[0]


def test_environment_capture_lists_what_pip_freeze_lists():
    from importlib import metadata

    from erbench import environment

    env = environment.capture("cpu")
    assert env["python"] and env["cpu"] and env["threads"] >= 1 and env["device_type"] == "cpu"
    assert env["torch"] == metadata.version("torch") and env["gpu"] is None
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in metadata.distributions()}
    assert env["packages"] == dict(sorted(installed.items()))
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
                            capture_output=True, text=True)
    if freeze.returncode == 0:
        for line in freeze.stdout.splitlines():
            if "==" in line:
                name, version = line.split("==")
                assert env["packages"][re.sub(r"[-_.]+", "-", name).lower()] == version, line


def test_mlflow_logs_environment_and_long_document_counts(tmp_path):
    from erbench.tracking import log_run
    from mlflow.tracking import MlflowClient

    from tests.test_grid_tracking import fake_run_folder

    run = fake_run_folder(tmp_path / "runs" / "spert-synthetic-s1", "spert", 1)
    data = json.loads((run / "metrics.json").read_text())
    data["environment"] = {"device": "cpu", "device_type": "cpu", "torch": "2.13.0", "transformers": "4.57",
                           "python": "3.11.7", "cpu": "Some CPU", "threads": 2}
    data["data"]["train_encoding"] = {"documents": 10, "truncated_documents": 2, "cut_words": 7}
    data["history"] = [{"epoch": 1, "train/loss": 0.5, "time": 1000.0}, {"epoch": 2, "train/loss": 0.4, "time": 1060.0}]
    (run / "metrics.json").write_text(json.dumps(data))
    (run / "environment.json").write_text(json.dumps({**data["environment"], "packages": {"torch": "2.13.0"}}))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_id = log_run(run, uri=uri, experiment="env")
    client = MlflowClient(tracking_uri=uri)
    got = client.get_run(run_id)
    assert got.data.tags["env.cpu"] == "Some CPU" and got.data.tags["env.python"] == "3.11.7"
    assert got.data.metrics["data/train_encoding/truncated_documents"] == 2.0
    assert "environment.json" in {a.path for a in client.list_artifacts(run_id)}
    history = client.get_metric_history(run_id, "train/loss")
    assert [(m.step, m.timestamp) for m in history] == [(1, 1_000_000), (2, 1_060_000)]


LONG_NAMES = {"spert": "SpERT (reference optimizer, thresholds tuned on dev)",
              "spert_mt": "SpERT.MT (mt_loss_norm=side, mt_decision=product)",
              "spert_focal": "SpERT.MT (rel_negatives=with_nonentity, entity_logits=sigmoid)"}


def _text_boxes(fig):
    """(axes index or -1, text, window box) of every visible text of a drawn figure."""
    renderer = fig.canvas.get_renderer()
    hidden = set()  # tick labels of ticks outside the view limits: matplotlib keeps them but does not draw them
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)
        for label in ax.get_xticklabels():
            centre = label.get_window_extent(renderer)
            if not box.x0 - 1 <= (centre.x0 + centre.x1) / 2 <= box.x1 + 1:
                hidden.add(id(label))
        for label in ax.get_yticklabels():
            centre = label.get_window_extent(renderer)
            if not box.y0 - 1 <= (centre.y0 + centre.y1) / 2 <= box.y1 + 1:
                hidden.add(id(label))
    out = []
    for artist in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent")):
        if not artist.get_visible() or not artist.get_text().strip() or id(artist) in hidden:
            continue
        owner = next((i for i, ax in enumerate(fig.axes) if artist.axes is ax or ax.get_legend() is not None
                      and artist in ax.get_legend().get_texts()), -1)
        out.append((owner, artist.get_text(), artist.get_window_extent(renderer)))
    return out


def _tick_boxes(fig):
    """Per axes, the window boxes of the tick labels it draws."""
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        box = ax.get_window_extent(renderer)
        for labels, along in ((ax.get_xticklabels(), 0), (ax.get_yticklabels(), 1)):
            drawn = []
            for label in labels:
                b = label.get_window_extent(renderer)
                lo, hi = (box.x0, box.x1) if along == 0 else (box.y0, box.y1)
                centre = (b.x0 + b.x1) / 2 if along == 0 else (b.y0 + b.y1) / 2
                if label.get_text().strip() and lo - 1 <= centre <= hi + 1:
                    drawn.append((label.get_text(), b))
            out.append(drawn)
    return out


def test_figures_keep_long_method_names_inside_and_apart(three):
    """Variant names (METHOD+KEY=VALUE, display names) are long: every figure still fits its texts
    inside the canvas, and no title, axis label, tick label or legend of one panel runs into another's."""
    import warnings

    root, _, _ = three
    from erbench.report import build_analysis
    from erbench.report.analysis_figures import errors_figure, seeds_figure
    from erbench.report.figures import per_seed_figure

    tables = build_tables(collect_runs([root]), method_names=LONG_NAMES, **FAST)
    analysis = build_analysis(tables)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib: "constrained_layout not applied ..." is a failure here
        figures = {"per_seed": per_seed_figure(tables), "errors": errors_figure(tables, analysis),
                   "seeds_needed": seeds_figure(tables, analysis)}
        for fig in figures.values():
            fig.canvas.draw()
    for name, fig in figures.items():
        canvas = fig.bbox
        boxes = _text_boxes(fig)
        assert any(LONG_NAMES["spert_mt"].split()[0] in t for _, t, _ in boxes), name
        for _, text, box in boxes:
            assert box.x0 >= canvas.x0 - 1 and box.x1 <= canvas.x1 + 1, (name, text, box.x0, box.x1, canvas.x1)
            assert box.y0 >= canvas.y0 - 1 and box.y1 <= canvas.y1 + 1, (name, text)
        for drawn in _tick_boxes(fig):  # one axis' tick labels never run into each other
            for i, (text_a, a) in enumerate(drawn):
                for text_b, b in drawn[i + 1:]:
                    assert not a.overlaps(b), (name, text_a, text_b)
        for i, (ax_a, text_a, a) in enumerate(boxes):
            for ax_b, text_b, b in boxes[i + 1:]:
                if ax_a != ax_b and ax_a >= 0 and ax_b >= 0:
                    assert not a.overlaps(b), (name, text_a, text_b)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (CI installs texlive)")
def test_sensitivity_table_with_long_variant_names_fits_a_two_column_paper(tmp_path):
    """Variants named by their overrides make sensitivity.tex wide: it takes the float the main table would
    (table* here) and compiles in a two-column paper without an overfull box."""
    from tests.test_rescore import _interpretation_runs

    runs = tmp_path / "runs"
    for seed, scores in CONLL["spert"].items():
        write_run(runs, "conll04", "spert", seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=False)
    _interpretation_runs(runs, "spert_mt", "as registered")
    _interpretation_runs(runs, "spert_mt", "mt_loss_norm=side, mt_decision=product, rel_negatives=with_nonentity")
    build_report([runs], tmp_path / "out", **FAST)
    tex = (tmp_path / "out" / "sensitivity.tex").read_text()
    assert "\\begin{table*}[t]" in tex and "\\label{tab:erbench-sensitivity}" in tex
    shutil.copy(tmp_path / "out" / "sensitivity.tex", tmp_path / "sensitivity.tex")
    text = "Some text of the paper. " * 80
    packages = re.search(r"\\usepackage\{([^}]*)\}", tex.splitlines()[0]).group(1)
    log = _compile(tmp_path, f"\\documentclass[twocolumn]{{article}}\n\\usepackage{{{packages}}}\n",
                   f"{text}\n\\input{{sensitivity}}\n{text}")
    too_wide = [x for x in _overfull(log) if x > OVERFULL_TOLERANCE_PT]
    assert not too_wide, f"overfull boxes (pt): {too_wide}"
