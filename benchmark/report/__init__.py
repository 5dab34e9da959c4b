"""`erbench report`: run folders -> one value matrix -> LaTeX, Markdown, JSON and figures.

    collect.collect_runs   metrics.json files -> RunRecords (predictions read lazily)
    tables.build_tables    value matrix, per-cell summaries, the main table's comparisons
    compare                the one comparison loop of every family: pairs, tests, Holm per baseline
    render                 the sentences every format shares (legend, markers, tests, warnings)
    latex                  results.tex, results_standalone.tex
    answer                 the answer in sentences (results.md's and index.html's first lines, the console),
                           comparisons.csv (every test of every comparison)
    markdown               results.md
    stats_json             stats.json
    text                   the leaf of numbers, cells, escapes and markers every format uses
    summary                summary.json: the headline means, the pipeline's DVC metric
    figures                per_seed.png/.pdf (+ plots/per_seed.csv), neg_sweep.png/.pdf for sweeps,
                           entity_scores.png/.pdf for declared choices
    analysis_tables        power and seeds needed, expected max, seen/unseen (seen_tables), error kinds,
                           per-type scores, learning curves, interpretation sensitivity (choices)
                           (benchmark.analysis does the pure parts)
    analysis_render        their Markdown sections, seen_unseen.tex and stats.json keys
    overlap                ADE's second published setting (overlapping entities kept): the same runs re-scored
    across, across_render  the verdict across datasets (Dror et al. 2017): Markdown, across_datasets.tex, JSON
    analysis_figures       errors.png, seeds_needed.png, learning_curves.png
    html                   index.html: one self-contained page (templates/, html_browser)

Every file is written atomically (a temporary file beside the target, then os.replace).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from erbench.config import ConfigError
from erbench.datasets.registry import BUILTIN, resolve
from erbench.files import (
    MARKER,
    make_temp_folder,
    replace_folder,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from erbench.report.across_render import latex_across
from erbench.report.analysis_figures import (
    errors_figure,
    errors_frame,
    learning_figure,
    note_figure,
    seeds_figure,
    seeds_frame,
)
from erbench.report.analysis_render import latex_seen, latex_sensitivity, md_sensitivity
from erbench.report.analysis_tables import Analysis, build_analysis
from erbench.report.answer import answer_lines, comparisons_frame
from erbench.report.collect import RunError, RunRecord, collect_runs, truncation_warnings, variant_notes
from erbench.report.figures import (
    entity_scores_figure,
    figure_bytes,
    neg_sweep_figure,
    per_seed_figure,
    per_seed_frame,
    sweep_frame,
)
from erbench.report.html import render_html
from erbench.report.latex import latex_label, render_latex, render_latex_comparisons, render_standalone
from erbench.report.markdown import render_markdown
from erbench.report.overlap import keep_overlap_declarations, keep_overlap_note, keep_overlap_records
from erbench.report.stats_json import stats_dict
from erbench.report.summary import summary_dict
from erbench.report.tables import (
    HEADLINE_RELATION,
    ReportTables,
    averages_for,
    build_tables,
    display_name,
    value_matrix,
)

__all__ = ["Analysis", "RunError", "RunRecord", "ReportTables", "build_analysis", "build_report", "build_tables",
           "collect_runs", "value_matrix", "write_report", "write_report_folder"]

# written in every report so that each is a declared DVC output: without anything to show, a figure is a
# note saying why (left out of index.html), a .tex file a LaTeX comment, plots/neg_sweep.csv its header
SWEEP_COLUMNS = ["dataset", "method", "neg_entity_count", "neg_relation_count", "seed", "fold", "metric", "value"]
OPTIONAL = {
    "neg_sweep": "No negative-sample sweep: the runs do not vary neg_entity_count (params sweep).",
    "learning_curves": "No learning curves: no run evaluated a dev split every epoch (train option "
                       "eval_dev_every_epoch).",
    "entity_scores": "No entity scores: no run has identification heads (sigmoid(z_id) diagnostics).",
    "seen_unseen": "no seen/unseen split: the report was built without the staged training data (--data-root)",
    "sensitivity": "no interpretation sensitivity: the runs declare no choices (params choices.variants)",
    "across": "no verdict across datasets: it needs two or more datasets (stats.json across_datasets)",
}


def write_report(tables: ReportTables, out_dir: Path, *, title: str | None = None, seed: int = 0,
                 analysis: Analysis | None = None, latex: dict | None = None, label: str | None = None,
                 latex_comparisons: bool = False) -> dict:
    """Render and write every output of one ReportTables into out_dir; returns stats.json's content.

    analysis defaults to build_analysis(tables) without a data root (no seen/unseen split). latex: the
    options of render.latex_options; label: the table's \\label (default: derived from the title).
    """
    out_dir = Path(out_dir)
    if analysis is None:
        analysis = build_analysis(tables)
    table_tex = render_latex(tables, title, label or latex_label(title), analysis=analysis, options=latex)
    if latex_comparisons and tables.results:
        table_tex += "\n" + render_latex_comparisons(tables, f"{label or latex_label(title)}-comparisons", latex)
    seen_tex = latex_seen(tables, analysis, latex)
    sensitivity_tex = latex_sensitivity(tables, analysis, latex)
    across_tex = latex_across(tables, analysis.across, latex) if analysis.across else None
    texts = {
        "results.tex": table_tex,
        "results_standalone.tex": render_standalone(table_tex + (seen_tex or "") + (sensitivity_tex or "")
                                                    + (across_tex or "")),
        "results.md": render_markdown(tables, title, analysis)
        + "\n".join(["", *md_sensitivity(tables, analysis)]),
        "comparisons.csv": comparisons_frame(tables, analysis).to_csv(index=False),
        "plots/per_seed.csv": per_seed_frame(tables).to_csv(index=False),
        "plots/errors.csv": errors_frame(analysis).to_csv(index=False),
        "plots/seeds_needed.csv": seeds_frame(tables, analysis).to_csv(index=False),
    }
    figures = {"per_seed": per_seed_figure(tables, seed), "errors": errors_figure(tables, analysis),
               "seeds_needed": seeds_figure(tables, analysis)}
    optional = {"neg_sweep": neg_sweep_figure(tables), "learning_curves": learning_figure(tables, analysis),
                "seen_unseen": seen_tex, "sensitivity": sensitivity_tex, "entity_scores": entity_scores_figure(tables),
                "across": across_tex}
    sweep = sweep_frame(tables)  # the header alone without a sweep
    texts["plots/neg_sweep.csv"] = (sweep.drop(columns="setting") if sweep is not None else
                                    pd.DataFrame(columns=SWEEP_COLUMNS)).to_csv(index=False)
    placeholders = set()
    for key, value in optional.items():
        if key in ("seen_unseen", "sensitivity", "across"):
            name = "across_datasets.tex" if key == "across" else f"{key}.tex"
            texts[name] = value if value is not None else f"% {OPTIONAL[key]}\n"
        elif value is None:
            figures[key] = note_figure(OPTIONAL[key])
            placeholders.add(key)
        else:
            figures[key] = value
    written = []
    for name, text in texts.items():
        write_text_atomic(out_dir / name, text)
        written.append(name)
    pngs = {}
    for stem, fig in figures.items():
        for fmt, data in figure_bytes(fig).items():
            write_bytes_atomic(out_dir / f"{stem}.{fmt}", data)
            written.append(f"{stem}.{fmt}")
            if fmt == "png" and stem not in placeholders:
                pngs[stem] = data
    result = stats_dict(tables, analysis)
    result["answer"] = answer_lines(tables)
    result["files"] = sorted([*written, "index.html", "stats.json", "summary.json"])
    write_text_atomic(out_dir / "index.html", render_html(tables, analysis, result, pngs, title))
    write_json_atomic(out_dir / "stats.json", result)
    write_json_atomic(out_dir / "summary.json", summary_dict(tables))
    return result


def custom_declarations(datasets, custom: Mapping | None, data_root: Path | None) -> dict[str, dict]:
    """dataset -> its declaration (display_name, relation, average) for the user's own datasets, from
    params data.custom or what staging recorded under data_root."""
    out = {}
    for d in sorted(set(datasets) - set(BUILTIN)):
        try:
            spec = resolve(d, dict(custom or {}), data_root)
        except ConfigError:
            continue  # not declared anywhere: the literature's defaults (RE+, micro)
        if spec.custom:
            out[d] = spec.custom
    return out


def build_report(
    run_dirs: Sequence[Path],
    out_dir: Path,
    *,
    baselines: Sequence[str] = ("spert", "spert_mt"),
    alpha: float = 0.05,
    seed: int = 0,
    aso_bootstrap: int = 1000,
    ar_trials: int = 10000,
    metric_average: Mapping[str, str] | None = None,
    title: str | None = None,
    allow_mixed: bool = False,
    data_root: Path | None = None,
    custom: Mapping | None = None,
    git_commit: str = "unknown",
    allow_truncated: bool = False,
    display_names: Mapping[str, str] | None = None,
    latex: dict | None = None,
    label: str | None = None,
    fold_test: str = "seed",
    equivalence_margin: float = 1.0,
    latex_comparisons: bool = False,
    published: Sequence = (),
) -> dict:
    """Collect the runs below run_dirs, compare them and write the report into out_dir.

    Deterministic for a seed. aso_bootstrap=0 skips ASO and ar_trials=0 the sentence-level test.
    Runs of one dataset with different protocols raise ProtocolMismatch unless allow_mixed. The
    seen/unseen split reads the training splits staged under data_root (None: skipped). fold_test:
    "seed" (folds averaged per seed) or "corrected" (Nadeau & Bengio) on k-fold data; published:
    config.PublishedResult entries to give reproduction verdicts for. display_names overrides the
    printed method names (tables.display_names); latex, label and latex_comparisons: see write_report.
    Returns the content of stats.json (nan as None).
    """
    paths = [Path(p) for p in run_dirs]
    records = collect_runs(paths)
    if not records:
        raise RunError(f"no run found: no metrics.json below {', '.join(str(p) for p in paths) or '(no folder)'}")
    cut = truncation_warnings(records, allow_truncated)  # refuses lost gold entities unless allowed
    cut = [*variant_notes(records), *cut]  # runs of one method with two readings, shown as variants
    declared = custom_declarations({r.dataset for r in records}, custom, data_root)
    kept = keep_overlap_records(records)  # ADE's second published setting: the same runs, re-scored
    if kept:
        bases = sorted({r.dataset for r in records})
        given = {**{d: v["average"] for d, v in declared.items() if v.get("average")}, **(metric_average or {})}
        relations = {d: declared.get(d, {}).get("relation") or HEADLINE_RELATION.get(d, "rel_strict") for d in bases}
        names = {d: declared.get(d, {}).get("display_name") or display_name(d) for d in bases}
        declared = {**declared, **keep_overlap_declarations(kept, averages_for(bases, given), relations, names)}
        records, cut = [*records, *kept], [*cut, *keep_overlap_note(kept)]
    tables = build_tables(records, baselines=baselines, alpha=alpha, seed=seed, aso_bootstrap=aso_bootstrap,
                          ar_trials=ar_trials, metric_average=metric_average, allow_mixed=allow_mixed,
                          git_commit=git_commit, declared=declared, method_names=display_names,
                          fold_test=fold_test, equivalence_margin=equivalence_margin, warnings=cut)
    analysis = build_analysis(tables, data_root=data_root, custom=custom, published=published)
    return write_report(tables, out_dir, title=title, seed=seed, analysis=analysis, latex=latex, label=label,
                        latex_comparisons=latex_comparisons)


def write_report_folder(out: Path, dirs: list[Path], **options) -> dict:
    """Build the report in a temporary folder beside OUT and rename it into place: a failed report
    leaves the previous one as it was, and a replaced one keeps no stale figure."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_folder(out.parent, f".{out.name}.tmp-")
    try:
        result = build_report(dirs, tmp, **options)
        (tmp / MARKER).write_text('{"kind": "report"}\n')
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result
