"""One ReportTables as GitHub Markdown (results.md): the answer in sentences (answer.py), the main table,
its protocol, the comparisons per baseline and, given an Analysis, every analysis section. Pure
functions returning text.

The comparison tables show SHOWN, what a reader needs to decide (the difference, its interval, the Holm
p of the decision test, the effect size, the outcome); every other test is in comparisons.csv,
stats.json and the HTML page's collapsed section. A test that cannot reject at the design's n (the exact
Wilcoxon test at n=3) is said once, in the decision note (stats.decision_note), not as a constant
column. The cells are text.score_cell in the MARKDOWN style; the sentences are render's.
"""

from __future__ import annotations

import math
import re

from erbench import stats
from erbench.report import analysis_render as extra
from erbench.report.across_render import md_across
from erbench.report.answer import answer_lines
from erbench.report.render import (
    holm_phrase,
    marker_legend,
    mixed_phrase,
    n_phrase,
    note,
    report_warnings,
    score_text,
    split_phrase,
    test_phrase,
)
from erbench.report.tables import ReportTables, Result, best_means, display_name, method_name
from erbench.report.text import DIGITS, MARKDOWN, MISSING, format_p, interval, number, signed


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _se(x: float | None) -> str:
    return "" if x is None or math.isnan(x) else f" ± {x:.3f}"


SHOWN = ("Dataset", "Column", "Method", "n", "Δ mean", "95% CI of Δ (t)", "p (marker test, Holm)", "d_z", "Outcome")


def table_cells(line: str) -> list[str]:
    body = line.strip()[1:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", body)]


def select_columns(lines: list[str], keep: tuple[str, ...]) -> list[str]:
    """The Markdown pipe table in lines reduced to the columns named in keep (in the table's order)."""
    head = table_cells(lines[0])
    idx = [k for k, h in enumerate(head) if h in keep]
    return ["| " + " | ".join(table_cells(line)[k] for k in idx) + " |" for line in lines]


def comparison_rows(tables: ReportTables, results: tuple[Result, ...], analysis=None) -> list[str]:
    """Every column of one baseline's comparisons (select_columns(rows, SHOWN) is results.md's table)."""
    head = ["Dataset", "Column", "Method", "n", "Δ mean", "95% CI of Δ (t)", "p (t)", "p (marker test, Holm)",
            "p (Wilcoxon)", "min p (Wilcoxon)", "ASO ε_min", "p (AR, pooled)", "p (AR, Holm)", "Marker", "d_z",
            "p (TOST, Holm)", "Outcome", "Decided by"]
    verdicts = analysis is not None
    rows = [_md_row(head + ["Verdict"] * verdicts),
            _md_row(["---"] * 3 + ["--:"] * 10 + [":-:"] + ["--:"] * 2 + ["---"] * 2 + ["---"] * verdicts)]
    for r in results:
        c = r.comparison
        aso = MISSING if math.isnan(c.aso_epsilon) else f"{number(c.aso_epsilon, 3)}{_se(c.aso_mc_se)}" + (
            f" (< τ={stats.ASO_TAU:g})" if r.aso_better else "")
        mark = {1: "better", -1: "worse", 0: ""}[r.direction]
        col = f"{r.column.label} ({r.column.average})"
        t_p = format_p(c.t_pvalue) if not math.isnan(c.t_pvalue) or c.n < 2 else "– (no estimate of noise)"
        test = {"t": "t", "sign-flip": f"sign-flip (p={format_p(c.sign_flip_pvalue)})",
                "corrected-t": f"corrected t (p={format_p(c.corrected_t_pvalue)})"}[c.decision_test]
        dz = MISSING if math.isnan(c.cohens_dz) else signed(c.cohens_dz)
        rows.append(_md_row([display_name(r.column.dataset), col, method_name(tables, r.method), str(c.n),
                             signed(c.mean_diff), interval(c.diff_ci_low, c.diff_ci_high), t_p, format_p(r.t_holm),
                             format_p(c.wilcoxon_pvalue),
                             format_p(c.min_attainable_pvalue["wilcoxon"]), aso,
                             format_p(c.ar_pvalue) + _se(c.ar_mc_se), format_p(r.ar_holm), mark, dz,
                             format_p(r.tost_holm), r.outcome, test]
                            + [analysis.power_of(r).verdict(r.significant)] * verdicts))
    return rows


def render_markdown(tables: ReportTables, title: str | None = None, analysis=None) -> str:
    """results.md: the main table, its protocol, comparisons and, given an Analysis, every analysis section."""
    best = best_means(tables, DIGITS)
    alpha = tables.settings["alpha"]
    lines = [f"# {title or 'Entity and relation extraction results'}", ""]
    lines += [f"- {sentence}" for sentence in answer_lines(tables)] + [""]
    mixed = mixed_phrase(tables)
    if mixed:
        lines += [f"**Mixed protocol** (--allow-mixed): {mixed}.", ""]
    head = ["Method"] + [f"{tables.datasets[c.dataset].display or display_name(c.dataset)} {c.label}"
                         + (" (macro)" if c.average == "macro" else "")
                         for c in tables.columns]
    lines += [_md_row(head), _md_row([":--"] + ["--:"] * len(tables.columns))]
    for m in tables.methods:
        cells = [score_text(tables, c, m, best, MARKDOWN) for c in tables.columns]
        lines.append(_md_row([method_name(tables, m)] + cells))
    lines += ["", f"F1 (%) on {split_phrase(tables)}, mean ± sample standard deviation over {n_phrase(tables)}; "
              "**bold**: best mean per column."]
    legend = marker_legend(tables)
    if legend:
        marks = "; ".join(f"{tb} / {tw}: significantly better / worse than {method_name(tables, b)}"
                          for b, _, _, tb, tw in legend)
        lines.append(f"{marks} ({test_phrase(tables)}, Holm-corrected over {holm_phrase(tables)}, "
                     f"alpha={alpha:g}).")
    phrase = extra.seeds_phrase(tables, analysis) if analysis is not None else ""
    lines += [phrase] if phrase else []
    lines += ["", "Protocol signature:", "", "```"] + [i.signature for i in tables.datasets.values()] + ["```", ""]
    lines.append(note(tables))
    if analysis is not None:
        lines += [""] + extra.md_protocol_card(tables)[:-1]
    for base, results in tables.results.items():
        lines += ["", f"## Comparisons against {method_name(tables, base)} (Holm over {len(results)} comparisons)", ""]
        lines += select_columns(comparison_rows(tables, results, analysis), SHOWN)
    on = "the test predictions" if split_phrase(tables) == "test" else "the predictions on the evaluation split"
    lines += ["", f"p (AR, pooled): sentence-level approximate randomization on {on} of all paired "
              f"runs pooled ({tables.settings['ar_trials']} trials; one swap per document shared by every seed's copy "
              f"of it); ASO at confidence 1 - alpha/m with {tables.settings['aso_bootstrap']} bootstrap iterations "
              f"(– = not run); ± values are Monte Carlo standard errors; seed {tables.settings['seed']}. d_z: mean / "
              f"sd of the per-seed differences. Outcome: better / worse (marker), equivalent within "
              f"±{tables.settings['equivalence_margin']:g} F1 points (TOST, Holm within the family), or inconclusive "
              "(neither: more seeds are needed to tell). Every test of every comparison (t, sign-flip, "
              "Wilcoxon, ASO, AR, TOST) and the power verdict: comparisons.csv, stats.json and index.html."]
    if analysis is not None:
        lines += [""]
        lines += md_across(tables, analysis.across) if analysis.across else []
        lines += extra.md_reproduction(tables, analysis)
        lines += extra.md_seeds(tables, analysis) + extra.md_seen(tables, analysis) + extra.md_errors(tables, analysis)
        lines.pop()
    notes = report_warnings(tables, analysis)
    if notes:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in notes]
    return "\n".join(lines) + "\n"
