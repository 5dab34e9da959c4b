"""`erbench report`: run folders -> one value matrix -> LaTeX, Markdown, JSON and figures.

    collect.collect_runs   metrics.json files -> RunRecords (predictions read lazily)
    tables.build_tables    value matrix, per-cell summaries, paired comparisons (Holm per baseline)
    render                 results.tex, results_standalone.tex, results.md, stats.json
    figures                per_seed.png/.pdf (+ plots/per_seed.csv), neg_sweep.png/.pdf for sweeps

Every file is written atomically (a temporary file beside the target, then os.replace).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmark.files import write_bytes_atomic, write_json_atomic, write_text_atomic
from benchmark.report.collect import RunError, RunRecord, collect_runs
from benchmark.report.figures import figure_bytes, neg_sweep_figure, per_seed_figure, per_seed_frame, sweep_frame
from benchmark.report.render import render_latex, render_markdown, render_standalone, stats_dict
from benchmark.report.tables import ReportTables, build_tables, value_matrix

__all__ = ["RunError", "RunRecord", "ReportTables", "build_report", "build_tables", "collect_runs",
           "value_matrix", "write_report"]


def write_report(tables: ReportTables, out_dir: Path, *, title: str | None = None, seed: int = 0) -> dict:
    """Render and write every output of one ReportTables into out_dir; returns stats.json's content."""
    out_dir = Path(out_dir)
    table_tex = render_latex(tables, title)
    texts = {
        "results.tex": table_tex,
        "results_standalone.tex": render_standalone(table_tex),
        "results.md": render_markdown(tables, title),
        "plots/per_seed.csv": per_seed_frame(tables).to_csv(index=False),
    }
    figures = {"per_seed": per_seed_figure(tables, seed)}
    sweep = neg_sweep_figure(tables)
    if sweep is not None:
        figures["neg_sweep"] = sweep
        texts["plots/neg_sweep.csv"] = sweep_frame(tables).drop(columns="setting").to_csv(index=False)
    else:  # a previous report's sweep would no longer match these runs
        for stale in ("neg_sweep.png", "neg_sweep.pdf", "plots/neg_sweep.csv"):
            (out_dir / stale).unlink(missing_ok=True)
    written = []
    for name, text in texts.items():
        write_text_atomic(out_dir / name, text)
        written.append(name)
    for stem, fig in figures.items():
        for fmt, data in figure_bytes(fig).items():
            write_bytes_atomic(out_dir / f"{stem}.{fmt}", data)
            written.append(f"{stem}.{fmt}")
    result = stats_dict(tables)
    result["files"] = sorted([*written, "stats.json"])
    write_json_atomic(out_dir / "stats.json", result)
    return result


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
) -> dict:
    """Collect the runs below run_dirs, compare them and write the report into out_dir.

    Deterministic for a seed. aso_bootstrap=0 skips ASO and ar_trials=0 the sentence-level test.
    Returns the content of stats.json (nan as None).
    """
    paths = [Path(p) for p in run_dirs]
    records = collect_runs(paths)
    if not records:
        raise RunError(f"no run found: no metrics.json below {', '.join(str(p) for p in paths) or '(no folder)'}")
    tables = build_tables(records, baselines=baselines, alpha=alpha, seed=seed, aso_bootstrap=aso_bootstrap,
                          ar_trials=ar_trials, metric_average=metric_average)
    return write_report(tables, out_dir, title=title, seed=seed)
