"""The sentences every format prints about one ReportTables: the marker legend and each cell's markers,
the split, the number of runs, the test and its Holm families, the decision note, and the warnings of
a report. Pure functions returning text; the formats (latex, markdown, html, stats_json) wrap them.

Cells read `mean \\pm std` over the runs; bold marks the best mean of a column as displayed; a marker
says that the method is significantly better or worse than a baseline (two-sided paired t-test on
per-seed scores, Holm-corrected across the comparisons of that baseline's table, at alpha).
"""

from __future__ import annotations

from erbench import stats
from erbench.errors import UserInputError
from erbench.report.tables import Column, ReportTables, display_name, families, method_name, min_pairs
from erbench.report.text import DIGITS, LATEX, MARKERS, CellStyle, score_cell


def marker_legend(tables: ReportTables) -> list[tuple[str, str, str, str, str]]:
    """(baseline, latex better, latex worse, text better, text worse) for each baseline's table."""
    if len(tables.results) > len(MARKERS):
        raise UserInputError(f"at most {len(MARKERS)} baselines can be marked in one table, got {len(tables.results)}")
    return [(b, *MARKERS[i]) for i, b in enumerate(tables.results)]


def score_text(tables: ReportTables, col: Column, method: str, best: dict, style: CellStyle) -> str:
    """One main-table cell, mean +- sd with its markers and bold for the best mean, in STYLE's format."""
    cell = tables.cells.get((col.dataset, col.setting, method))
    if cell is None:
        return style.missing
    s = cell.summary
    return score_cell(s.mean, s.std, best=round(s.mean, DIGITS) == best.get((col.dataset, col.setting)),
                      marks=markers(tables, col, method, latex=style is LATEX), style=style)


def markers(tables: ReportTables, column: Column, method: str, latex: bool) -> str:
    out = []
    for base, lb, lw, tb, tw in marker_legend(tables):
        for r in tables.results[base]:
            if r.column == column and r.method == method and r.direction:
                out.append((lb if r.direction > 0 else lw) if latex else (tb if r.direction > 0 else tw))
    return "".join(out)


def split_phrase(tables: ReportTables) -> str:
    splits = {s for info in tables.datasets.values() for s in info.protocol.get("eval_split", [])}
    return "test" if splits == {"test"} else "the evaluation split (see the signature)"


def n_phrase(tables: ReportTables) -> str:
    """'3 seeds', or per dataset '3 seeds (CoNLL04) and 3 seeds x 10 folds (ADE)'; notes uneven cells."""
    phrases, uneven = {}, False
    for name, info in tables.datasets.items():
        full = len(info.seeds) * max(1, len(info.folds))
        text = f"{len(info.seeds)} seed{'s' if len(info.seeds) != 1 else ''}"
        if info.folds:
            text += f" x {len(info.folds)} fold{'s' if len(info.folds) != 1 else ''}"
        phrases[name] = text
        uneven |= any(c.summary.n != full for (d, _, _), c in tables.cells.items() if d == name)
    if len(set(phrases.values())) == 1:
        out = next(iter(phrases.values()))
    else:
        out = " and ".join(f"{p} ({display_name(d)})" for d, p in phrases.items())
    return out + (", fewer where a method lacks runs" if uneven else "")


def mixed_phrase(tables: ReportTables) -> str:
    """'' or which datasets' runs differ in which protocol keys (a table made with allow_mixed)."""
    parts = [f"{display_name(d)} runs differ in {', '.join(i.mixed)}" for d, i in tables.datasets.items() if i.mixed]
    return "; ".join(parts) + ("; see the protocol card" if parts else "")


def holm_phrase(tables: ReportTables) -> str:
    sizes = {b: len(rs) for b, rs in tables.results.items()}
    if len(sizes) == 1:
        return f"the {next(iter(sizes.values()))} comparisons of the table"
    if len(set(sizes.values())) == 1:
        return f"the {next(iter(sizes.values()))} comparisons against each baseline"
    detail = ", ".join(f"{n} for {method_name(tables, b)}" for b, n in sizes.items())
    return f"the comparisons against each baseline ({detail})"


def fold_units(tables: ReportTables) -> dict[str, int]:
    """display name -> fold units, for the k-fold datasets whose comparisons have one seed: there the
    corrected test on the folds decides (stats.compare_paired; the fold is the unit)."""
    out: dict[str, int] = {}
    for rs in tables.results.values():
        for r in rs:
            if r.comparison.n == 1 and r.comparison.n_folds >= 2:
                name = display_name(r.column.dataset)
                out[name] = max(out.get(name, 0), len(r.fold_units))
    return out


def note(tables: ReportTables) -> str:
    """The decision note of this report (stats.decision_note with its Holm families and fold design)."""
    st = tables.settings
    seed_level = [r.comparison.n for rs in tables.results.values() for r in rs
                  if not (r.comparison.n == 1 and r.comparison.n_folds >= 2)]
    n = min(seed_level) if seed_level else (None if any(tables.results.values()) else min_pairs(tables))
    return stats.decision_note(n, st["alpha"], families(tables),
                               folds=any(i.folds for i in tables.datasets.values()), fold_test=st["fold_test"],
                               equivalence_margin=st["equivalence_margin"], split=split_phrase(tables),
                               fold_units=fold_units(tables))


def test_phrase(tables: ReportTables) -> str:
    """How the marker's test treats folds, for captions."""
    if not any(i.folds for i in tables.datasets.values()):
        return "two-sided paired t-test on per-seed scores, paired by seed"
    if tables.settings["fold_test"] == "corrected":
        return ("two-sided paired t-test on per-seed scores, paired by seed; on k-fold data the Nadeau-Bengio "
                "corrected repeated-resampling t-test on the (seed, fold) differences")
    one_seed = fold_units(tables)
    if one_seed:
        return ("two-sided paired t-test on per-seed scores, paired by seed; on " + ", ".join(one_seed)
                + " (k-fold, one seed) the fold is the unit: the Nadeau-Bengio corrected resampled t-test on the "
                "fold differences")
    return ("two-sided paired t-test on per-seed scores, paired by seed; on k-fold data the folds of each seed are "
            "averaged first (the seed is the unit of replication)")


def test_short(tables: ReportTables) -> str:
    """The marker's test in a few words, for the short LaTeX caption (the note says it in full)."""
    if not any(i.folds for i in tables.datasets.values()):
        return "paired t-test"
    if tables.settings["fold_test"] == "corrected":
        return "paired t-test, k-fold: Nadeau-Bengio corrected"
    one_seed = fold_units(tables)
    if one_seed:
        return f"paired t-test; {', '.join(one_seed)} (one seed): Nadeau-Bengio corrected over folds"
    return "paired t-test, folds averaged per seed"


def report_warnings(tables: ReportTables, analysis=None) -> list[str]:
    """Every warning of a report, each once: the main table's, then the analyses' (runs without
    documents first, then the rest)."""
    if analysis is None:
        return list(tables.warnings)
    return list(dict.fromkeys([*tables.warnings, *analysis.notes]))
