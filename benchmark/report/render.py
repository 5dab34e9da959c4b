"""Render one ReportTables as LaTeX (booktabs), a standalone LaTeX document, GitHub Markdown and the
JSON of every number behind them. Pure functions returning text or JSON-able dicts; nothing here writes.

Cells read `mean \\pm std` over the runs; bold marks the best mean of a column as displayed; a marker
says that the method is significantly better or worse than a baseline (two-sided paired t-test on
per-seed scores, Holm-corrected across the comparisons of that baseline's table, at alpha).
"""

from __future__ import annotations

import math
import re
from importlib import metadata
from typing import Any

import pandas as pd
from erbench import stats
from erbench.errors import UserInputError
from erbench.params import LATEX_FLOATS, LATEX_SIGNATURES
from erbench.report import analysis_render as extra
from erbench.report.tables import (
    Column,
    ReportTables,
    Result,
    best_means,
    display_name,
    families,
    method_name,
    min_pairs,
)
from erbench.report.text import DIGITS, MARKERS, format_p, latex_escape


def _num(x: float) -> str:
    return f"{x:.{DIGITS}f}"


def marker_legend(tables: ReportTables) -> list[tuple[str, str, str, str, str]]:
    """(baseline, latex better, latex worse, text better, text worse) for each baseline's table."""
    if len(tables.results) > len(MARKERS):
        raise UserInputError(f"at most {len(MARKERS)} baselines can be marked in one table, got {len(tables.results)}")
    return [(b, *MARKERS[i]) for i, b in enumerate(tables.results)]


def _markers(tables: ReportTables, column: Column, method: str, latex: bool) -> str:
    out = []
    for base, lb, lw, tb, tw in marker_legend(tables):
        for r in tables.results[base]:
            if r.column == column and r.method == method and r.direction:
                out.append((lb if r.direction > 0 else lw) if latex else (tb if r.direction > 0 else tw))
    return "".join(out)


def _split_phrase(tables: ReportTables) -> str:
    splits = {s for info in tables.datasets.values() for s in info.protocol.get("eval_split", [])}
    return "test" if splits == {"test"} else "the evaluation split (see the signature)"


def _n_phrase(tables: ReportTables) -> str:
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


def _mixed_phrase(tables: ReportTables) -> str:
    """'' or which datasets' runs differ in which protocol keys (a table made with allow_mixed)."""
    parts = [f"{display_name(d)} runs differ in {', '.join(i.mixed)}" for d, i in tables.datasets.items() if i.mixed]
    return "; ".join(parts) + ("; see the protocol card" if parts else "")


def _holm_phrase(tables: ReportTables) -> str:
    sizes = {b: len(rs) for b, rs in tables.results.items()}
    if len(sizes) == 1:
        return f"the {next(iter(sizes.values()))} comparisons of the table"
    if len(set(sizes.values())) == 1:
        return f"the {next(iter(sizes.values()))} comparisons against each baseline"
    detail = ", ".join(f"{n} for {method_name(tables, b)}" for b, n in sizes.items())
    return f"the comparisons against each baseline ({detail})"


def note(tables: ReportTables) -> str:
    """The decision note of this report (stats.decision_note with its Holm families and fold design)."""
    st = tables.settings
    return stats.decision_note(min_pairs(tables), st["alpha"], families(tables),
                               folds=any(i.folds for i in tables.datasets.values()), fold_test=st["fold_test"],
                               equivalence_margin=st["equivalence_margin"])


def _test_phrase(tables: ReportTables) -> str:
    """How the marker's test treats folds, for captions."""
    if not any(i.folds for i in tables.datasets.values()):
        return "two-sided paired t-test on per-seed scores, paired by seed"
    if tables.settings["fold_test"] == "corrected":
        return ("two-sided paired t-test on per-seed scores, paired by seed; on k-fold data the Nadeau-Bengio "
                "corrected repeated-resampling t-test on the (seed, fold) differences")
    return ("two-sided paired t-test on per-seed scores, paired by seed; on k-fold data the folds of each seed are "
            "averaged first (the seed is the unit of replication)")


def _test_short(tables: ReportTables) -> str:
    """The marker's test in a few words, for the short LaTeX caption (the note says it in full)."""
    if not any(i.folds for i in tables.datasets.values()):
        return "paired t-test"
    if tables.settings["fold_test"] == "corrected":
        return "paired t-test, k-fold: Nadeau-Bengio corrected"
    return "paired t-test, folds averaged per seed"


# ---------------------------------------------------------------- LaTeX


def _latex_cell(tables: ReportTables, col: Column, method: str, best: dict) -> str:
    cell = tables.cells.get((col.dataset, col.setting, method))
    if cell is None:
        return "--"
    s = cell.summary
    mean = _num(s.mean)
    if round(s.mean, DIGITS) == best.get((col.dataset, col.setting)):
        mean = f"\\mathbf{{{mean}}}"
    std = "" if math.isnan(s.std) else f" \\pm {_num(s.std)}"
    mark = _markers(tables, col, method, latex=True)
    return f"${mean}{std}{f'^{{{mark}}}' if mark else ''}$"


def _latex_signature(sig: str) -> str:
    """The signature in typewriter type, breakable after every field (and every comma inside one)."""
    parts = [latex_escape(p).replace("-$>$", "$\\to$").replace(",", ",\\allowbreak ") for p in sig.split("|")]
    return "\\texttt{" + "$|$\\allowbreak ".join(parts) + "}"


COLUMN_PT, TEXT_PT = 219.0, 455.0  # a two-column paper's column and text width (ACL: 219pt / 455pt)


def latex_options(raw: Any = None, where: str = "report.latex") -> dict:
    """{float, signature, label} with defaults; a ValueError names `where` and the key.

    float: auto (a `table` when the tabular fits one column of a two-column paper, else `table*`,
    scaled down with \\resizebox when it is wider than the text), table, table* or resizebox (a `table`
    scaled to the column width). signature: note (a \\footnotesize note under the table, which breaks
    lines) or comment (only the LaTeX comment line above the table). label: the \\label (default: from
    the suite or the title).
    """
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise UserInputError(f"{where}: expected a mapping with float / signature / label, got {raw!r}")
    unknown = sorted(set(raw) - {"float", "signature", "label"})
    if unknown:
        raise UserInputError(f"{where}: unknown key(s) {', '.join(map(str, unknown))} (known: float, signature, label)")
    out = {"float": raw.get("float", "auto"), "signature": raw.get("signature", "note"), "label": raw.get("label")}
    if out["float"] not in LATEX_FLOATS:
        raise UserInputError(f"{where}.float: expected one of {', '.join(LATEX_FLOATS)}, got {out['float']!r}")
    if out["signature"] not in LATEX_SIGNATURES:
        raise UserInputError(f"{where}.signature: expected one of {', '.join(LATEX_SIGNATURES)}, got "
                         f"{out['signature']!r}")
    if out["label"] is not None and (not isinstance(out["label"], str) or not out["label"].strip()
                                     or any(c in out["label"] for c in "{}\\%# ")):
        raise UserInputError(f"{where}.label: expected a LaTeX label such as tab:results, got {out['label']!r}")
    return out


def latex_label(source: str | None) -> str:
    """tab:<slug> from a suite name or title ('Paper suite' -> tab:paper-suite); tab:erbench-results without."""
    slug = re.sub(r"[^a-z0-9]+", "-", (source or "").lower()).strip("-")[:40].strip("-")
    return f"tab:{slug}" if slug else "tab:erbench-results"


def latex_caption(tables: ReportTables, title: str | None = None) -> str:
    """A short caption: what is shown, over how many runs, the test, its correction and alpha."""
    alpha = tables.settings["alpha"]
    text = [latex_escape(title or "Entity and relation extraction results") + "."]
    text.append(f"F1 (\\%) on {_split_phrase(tables)}, mean $\\pm$ std over {_n_phrase(tables)}; bold: best.")
    legend = marker_legend(tables)
    if legend:
        marks = "; ".join(f"$^{{{lb}}}$/$^{{{lw}}}$: better/worse than {latex_escape(method_name(tables, b))}"
                          for b, lb, lw, _, _ in legend)
        text.append(f"{marks} ({_test_short(tables)}, Holm, $\\alpha={alpha:g}$).")
    if _mixed_phrase(tables):
        text.insert(0, "\\textbf{Mixed protocol} (see the note).")
    return " ".join(text)


def latex_note(tables: ReportTables, analysis=None) -> str:
    """The \\footnotesize note under the table: the test in full, the seeds phrase and the signatures."""
    text = []
    mixed = _mixed_phrase(tables)
    if mixed:
        text.append(f"Mixed protocol: {latex_escape(mixed)}.")
    if marker_legend(tables):
        text.append(f"{latex_escape(_test_phrase(tables)[:1].upper() + _test_phrase(tables)[1:])}, Holm-corrected "
                    f"over {latex_escape(_holm_phrase(tables))}.")
    if analysis is not None:
        phrase = extra.seeds_phrase(tables, analysis)
        text += [latex_escape(phrase)] if phrase else []
    sigs = "; ".join(_latex_signature(info.signature) for info in tables.datasets.values())
    text.append(f"Protocol: {sigs}.")
    return " ".join(text)


def _text_width_pt(text: str) -> float:
    """A rough natural width of a cell's text at \\small (9pt): digits 4.5pt (bold 5.2pt), ± with its math
    spacing 11pt, a marker 5pt, the rest ~4.2pt; calibrated on pdflatex's widths within a few percent."""
    bold = sum(len(m) for m in re.findall(r"\\mathbf\{([^}]*)\}", text))
    body = text.replace("\\mathbf", "").replace("\\pm", "±")
    for cmd in ("\\ddagger", "\\dagger", "\\diamond", "\\star", "\\circ", "\\ast", "\\S", "\\P"):
        body = body.replace(cmd, "†")
    body = "".join(ch for ch in body if ch not in "${}^\\")
    width = sum(11.0 if ch == "±" else 5.0 if ch == "†" else 4.5 if ch.isdigit() else 2.5 if ch in ". "
                else 4.2 for ch in body)
    return width + 0.7 * bold


def _layout(option: str, widths: list[float]) -> tuple[str, str, bool]:
    """(environment, font size, scaled) for the float option and the columns' estimated text widths.

    auto: a `table` at \\small (6pt column padding) when it fits one column (COLUMN_PT), else at
    \\footnotesize with 4pt padding when that fits with a margin, else a `table*` (scaled when wider
    than TEXT_PT).
    """
    small = sum(widths) + 12.0 * len(widths)
    compact = sum(widths) * 8 / 9 + 8.0 * len(widths)
    if option == "resizebox":
        return "table", "small", True
    if option != "auto":
        return option, "small", False
    if small <= COLUMN_PT:
        return "table", "small", False
    if compact <= COLUMN_PT - 6:
        return "table", "footnotesize", False
    return "table*", "small", small > TEXT_PT


def render_latex(tables: ReportTables, title: str | None = None, label: str = "tab:erbench-results",
                 analysis=None, options: dict | None = None) -> str:
    """A booktabs table (rows: methods, columns: datasets x NER/RE/RE+), with the needed packages named.

    options: see latex_options (float environment, where the signature goes, the label).
    """
    opts = latex_options(options)
    label = opts["label"] or label
    best = best_means(tables, DIGITS)
    names = list(tables.datasets)
    body = ["\\begin{tabular}{l" + " ccc" * len(names) + "}", "\\toprule"]
    groups, rules = [], []
    for i, d in enumerate(names):
        info = tables.datasets[d]
        head = latex_escape(info.display or display_name(d)) + (" (macro)" if info.average == "macro" else "")
        head += " (mixed)" if info.mixed else ""
        groups.append(f"\\multicolumn{{3}}{{c}}{{{head}}}")
        rules.append(f"\\cmidrule(lr){{{2 + 3 * i}-{4 + 3 * i}}}")
    body.append(" & " + " & ".join(groups) + " \\\\")
    body.append(" ".join(rules))
    body.append("Method & " + " & ".join(c.label for c in tables.columns) + " \\\\")
    body.append("\\midrule")
    rows = []
    for m in tables.methods:
        rows.append([latex_escape(method_name(tables, m))] + [_latex_cell(tables, c, m, best) for c in tables.columns])
        body.append(" & ".join(rows[-1]) + " \\\\")
    body += ["\\bottomrule", "\\end{tabular}"]
    widths = [max(_text_width_pt(r[k]) for r in rows) if rows else 0.0 for k in range(1 + len(tables.columns))]
    env, size, scaled = _layout(opts["float"], widths)
    packages = "booktabs" + (", graphicx" if scaled else "")
    lines = [f"% erbench report: needs \\usepackage{{{packages}}} (the markers are plain LaTeX math); "
             f"{'table* spans both columns of a two-column paper' if env == 'table*' else 'a one-column table'}",
             "% protocol signatures:"]
    lines += [f"%   {info.signature}" for info in tables.datasets.values()]
    lines += [f"\\begin{{{env}}}[t]", "\\centering", f"\\{size}"]
    if size == "footnotesize":
        lines.append("\\setlength{\\tabcolsep}{4pt}")
    if scaled:
        body[0] = "\\resizebox{\\linewidth}{!}{" + body[0]
        body[-1] += "}"
    lines += body
    if opts["signature"] == "note":
        lines += ["\\par\\smallskip", "{\\footnotesize\\raggedright " + latex_note(tables, analysis) + "\\par}"]
    lines += [f"\\caption{{{latex_caption(tables, title)}}}", f"\\label{{{label}}}", f"\\end{{{env}}}"]
    return "\n".join(lines) + "\n"


def render_latex_comparisons(tables: ReportTables, label: str = "tab:erbench-comparisons",
                             options: dict | None = None) -> str:
    """A booktabs table of every comparison: Δ with its 95% t interval, the marker's Holm p, Cohen's d_z,
    ASO epsilon_min and the outcome (report option latex_comparisons); short caption, details in the note.

    options: latex_options' float (auto, table, table*, resizebox); the label is options' label with
    -comparisons appended, else `label`.
    """
    opts = latex_options(options)
    label = f"{opts['label']}-comparisons" if opts["label"] else label
    head = ["Baseline", "Dataset", "Column", "Method", "$\\Delta$ [95\\% CI]", "$p$ (Holm)", "$d_z$",
            "$\\varepsilon_\\mathrm{min}$", "Outcome"]
    rows = []
    for base, results in tables.results.items():
        for r in results:
            c = r.comparison
            ci = "" if math.isnan(c.diff_ci_low) else f" [{c.diff_ci_low:+.2f}, {c.diff_ci_high:+.2f}]"
            eps = "--" if math.isnan(c.aso_epsilon) else f"{c.aso_epsilon:.2f}"
            dz = "--" if math.isnan(c.cohens_dz) else f"{c.cohens_dz:+.2f}"
            p = format_p(r.t_holm).replace("–", "--").replace("<", "$<$")
            info = tables.datasets[r.column.dataset]
            rows.append([latex_escape(method_name(tables, base)),
                         latex_escape(info.display or display_name(r.column.dataset)),
                         f"{r.column.label} ({r.column.average})", latex_escape(method_name(tables, r.method)),
                         f"${c.mean_diff:+.2f}${ci}", p, dz, eps, latex_escape(r.outcome)])
    body = ["\\begin{tabular}{llllrrrrl}", "\\toprule", " & ".join(head) + " \\\\", "\\midrule"]
    body += [" & ".join(row) + " \\\\" for row in rows]
    body += ["\\bottomrule", "\\end{tabular}"]
    widths = [max(_text_width_pt(x) for x in col) for col in zip(head, *rows)]
    env, size, scaled = _layout(opts["float"], widths)
    if scaled:
        body[0] = "\\resizebox{\\linewidth}{!}{" + body[0]
        body[-1] += "}"
    alpha, margin = tables.settings["alpha"], tables.settings["equivalence_margin"]
    caption = (f"Paired comparisons: $\\Delta$ = method $-$ baseline (F1 points) with its 95\\% $t$ interval over "
               f"{_n_phrase(tables)}, {_test_short(tables)}, Holm per baseline, $\\alpha={alpha:g}$.")
    test = _test_phrase(tables)
    details = (f"{latex_escape(test[:1].upper() + test[1:])}; Holm-corrected over "
               f"{latex_escape(_holm_phrase(tables))}. $d_z$: mean / sd of the per-seed differences. ASO "
               f"$\\varepsilon_\\mathrm{{min}}$ at confidence $1-\\alpha/m$ for a family of $m$. Outcome: better / "
               f"worse (marker), equivalent within $\\pm{margin:g}$ F1 points (TOST, Holm within the family), or "
               f"inconclusive (neither).")
    lines = [f"% erbench comparisons: needs \\usepackage{{booktabs{', graphicx' if scaled else ''}}}",
             f"\\begin{{{env}}}[t]", "\\centering", f"\\{size}"]
    if size == "footnotesize":
        lines.append("\\setlength{\\tabcolsep}{4pt}")
    lines += body
    lines += ["\\par\\smallskip", "{\\footnotesize\\raggedright " + details + "\\par}",
              f"\\caption{{{caption}}}", f"\\label{{{label}}}", f"\\end{{{env}}}"]
    return "\n".join(lines) + "\n"


def render_standalone(table_tex: str) -> str:
    """A document that compiles on its own with pdflatex (article + booktabs)."""
    return ("\\documentclass{article}\n\\usepackage[margin=2cm,landscape]{geometry}\n\\usepackage{booktabs}\n"
            "\\usepackage{graphicx}\n"
            "\\begin{document}\n" + table_tex + "\\end{document}\n")


# ---------------------------------------------------------------- Markdown


def _md_cell(tables: ReportTables, col: Column, method: str, best: dict) -> str:
    cell = tables.cells.get((col.dataset, col.setting, method))
    if cell is None:
        return "–"
    s = cell.summary
    mean = _num(s.mean)
    if round(s.mean, DIGITS) == best.get((col.dataset, col.setting)):
        mean = f"**{mean}**"
    std = "" if math.isnan(s.std) else f" ± {_num(s.std)}"
    return f"{mean}{std}{_markers(tables, col, method, latex=False)}"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _se(x: float | None) -> str:
    return "" if x is None or math.isnan(x) else f" ± {x:.3f}"


def _comparison_rows(tables: ReportTables, results: tuple[Result, ...], analysis=None) -> list[str]:
    head = ["Dataset", "Column", "Method", "n", "Δ mean", "95% CI of Δ (t)", "p (t)", "p (marker test, Holm)",
            "p (Wilcoxon)", "min p (Wilcoxon)", "ASO ε_min", "p (AR, pooled)", "p (AR, Holm)", "Marker", "d_z",
            "p (TOST, Holm)", "Outcome", "Decided by"]
    verdicts = analysis is not None
    rows = [_md_row(head + ["Verdict"] * verdicts),
            _md_row(["---"] * 3 + ["--:"] * 10 + [":-:"] + ["--:"] * 2 + ["---"] * 2 + ["---"] * verdicts)]
    for r in results:
        c = r.comparison
        ci = "–" if math.isnan(c.diff_ci_low) else f"[{c.diff_ci_low:+.2f}, {c.diff_ci_high:+.2f}]"
        aso = "–" if math.isnan(c.aso_epsilon) else f"{c.aso_epsilon:.3f}{_se(c.aso_mc_se)}" + (
            f" (< τ={stats.ASO_TAU:g})" if r.aso_better else "")
        mark = {1: "better", -1: "worse", 0: ""}[r.direction]
        col = f"{r.column.label} ({r.column.average})"
        t_p = format_p(c.t_pvalue) if not math.isnan(c.t_pvalue) or c.n < 2 else "– (no estimate of noise)"
        test = {"t": "t", "sign-flip": f"sign-flip (p={format_p(c.sign_flip_pvalue)})",
                "corrected-t": f"corrected t (p={format_p(c.corrected_t_pvalue)})"}[c.decision_test]
        dz = "–" if math.isnan(c.cohens_dz) else f"{c.cohens_dz:+.2f}"
        rows.append(_md_row([display_name(r.column.dataset), col, method_name(tables, r.method), str(c.n),
                             f"{c.mean_diff:+.2f}", ci, t_p, format_p(r.t_holm), format_p(c.wilcoxon_pvalue),
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
    mixed = _mixed_phrase(tables)
    if mixed:
        lines += [f"**Mixed protocol** (--allow-mixed): {mixed}.", ""]
    head = ["Method"] + [f"{tables.datasets[c.dataset].display or display_name(c.dataset)} {c.label}"
                         + (" (macro)" if c.average == "macro" else "")
                         for c in tables.columns]
    lines += [_md_row(head), _md_row([":--"] + ["--:"] * len(tables.columns))]
    for m in tables.methods:
        lines.append(_md_row([method_name(tables, m)] + [_md_cell(tables, c, m, best) for c in tables.columns]))
    lines += ["", f"F1 (%) on {_split_phrase(tables)}, mean ± sample standard deviation over {_n_phrase(tables)}; "
              "**bold**: best mean per column."]
    legend = marker_legend(tables)
    if legend:
        marks = "; ".join(f"{tb} / {tw}: significantly better / worse than {method_name(tables, b)}"
                          for b, _, _, tb, tw in legend)
        lines.append(f"{marks} ({_test_phrase(tables)}, Holm-corrected over {_holm_phrase(tables)}, "
                     f"alpha={alpha:g}).")
    phrase = extra.seeds_phrase(tables, analysis) if analysis is not None else ""
    lines += [phrase] if phrase else []
    lines += ["", "Protocol signature:", "", "```"] + [i.signature for i in tables.datasets.values()] + ["```", ""]
    lines.append(note(tables))
    if analysis is not None:
        lines += [""] + extra.md_protocol_card(tables)[:-1]
    for base, results in tables.results.items():
        lines += ["", f"## Comparisons against {method_name(tables, base)} (Holm over {len(results)} comparisons)", ""]
        lines += _comparison_rows(tables, results, analysis)
    lines += ["", "p (AR, pooled): sentence-level approximate randomization on the test predictions of all paired "
              f"runs pooled ({tables.settings['ar_trials']} trials; one swap per document shared by every seed's copy "
              f"of it); ASO at confidence 1 - alpha/m with {tables.settings['aso_bootstrap']} bootstrap iterations "
              f"(– = not run); ± values are Monte Carlo standard errors; seed {tables.settings['seed']}. d_z: mean / "
              f"sd of the per-seed differences. Outcome: better / worse (marker), equivalent within "
              f"±{tables.settings['equivalence_margin']:g} F1 points (TOST, Holm within the family), or inconclusive "
              "(neither: more seeds are needed to tell)."]
    notes = list(tables.warnings)
    if analysis is not None:
        lines += [""]
        lines += extra.md_replication(tables, analysis) + extra.md_reproduction(tables, analysis)
        lines += extra.md_seeds(tables, analysis) + extra.md_seen(tables, analysis) + extra.md_errors(tables, analysis)
        lines.pop()
        notes = list(dict.fromkeys([*notes, *tables.docs.notes, *analysis.notes]))
    if notes:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in notes]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- stats.json


def jsonable(obj: Any) -> Any:
    """nan and inf -> None, tuples -> lists, numpy scalars -> Python numbers, recursively."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _unit(u) -> dict:
    return {"seed": u[0], "fold": u[1]}


def _version() -> str:
    try:
        return metadata.version("erbench")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "unknown"


def stats_dict(tables: ReportTables, analysis=None) -> dict:
    """Every number behind the tables (and, given an Analysis, the analyses), JSON-able (nan -> None)."""
    best = best_means(tables, DIGITS)
    summaries = []
    for (d, s, m), cell in tables.cells.items():
        summ = cell.summary
        summaries.append({
            "dataset": d, "setting": s, "label": cell.column.label, "metric": cell.column.key, "method": m,
            "n": summ.n, "mean": summ.mean, "std": summ.std, "ci95_low": summ.ci_low, "ci95_high": summ.ci_high,
            "best": round(summ.mean, DIGITS) == best.get((d, s)),
            "values": [{**_unit(u), "value": v} for u, v in zip(cell.units, cell.values)]})
    legend = {b: (tb, tw) for b, _, _, tb, tw in marker_legend(tables)}
    comparisons = {}
    for base, results in tables.results.items():
        rows = []
        for r in results:
            c = r.comparison
            rows.append({
                "dataset": r.column.dataset, "setting": r.column.setting, "metric": r.column.key,
                "baseline": base, "method": r.method, "n": c.n, "units": [_unit(u) for u in r.units],
                "baseline_values": r.a, "method_values": r.b, "mean_diff": c.mean_diff,
                "diff_ci95": [c.diff_ci_low, c.diff_ci_high], "diff_ci95_method": "student-t",
                "t_pvalue": c.t_pvalue, "t_pvalue_holm": r.t_holm, "decision_test": c.decision_test,
                "decision_pvalue": c.decision_pvalue, "decision_pvalue_holm": r.t_holm,
                "sign_flip_pvalue": c.sign_flip_pvalue, "corrected_t_pvalue": c.corrected_t_pvalue,
                "n_folds_averaged": c.n_folds, "fold_units": [_unit(u) for u in r.fold_units],
                "cohens_dz": c.cohens_dz, "tost_pvalue": c.tost_pvalue, "tost_pvalue_holm": r.tost_holm,
                "equivalence_margin": c.equivalence_margin, "outcome": r.outcome, "aso_confidence": c.aso_confidence,
                "aso_epsilon_min_mc_se": c.aso_mc_se, "aso_better_tau": r.aso_better, "ar_pvalue_mc_se": c.ar_mc_se,
                "wilcoxon_pvalue": c.wilcoxon_pvalue, "aso_epsilon_min": c.aso_epsilon, "ar_pvalue": c.ar_pvalue,
                "ar_pvalue_holm": r.ar_holm, "min_attainable_pvalue": c.min_attainable_pvalue,
                "significant": r.significant, "direction": r.direction,
                "marker": {1: legend[base][0], -1: legend[base][1], 0: None}[r.direction]})
        comparisons[base] = {"holm_family_size": len(results), "results": rows}
    matrix = tables.matrix
    runs = matrix.drop_duplicates("path")[["dataset", "method", "seed", "fold", "neg_entity_count",
                                            "neg_relation_count", "path", "in_table"]]
    runs = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in runs.astype(object).to_dict("records")]
    out = {
        "format": "erbench-report/1",
        "erbench_version": _version(),
        "settings": tables.settings,
        "datasets": {d: {"average": i.average, "signature": i.signature, "protocol": i.protocol,
                         "seeds": i.seeds, "folds": i.folds, "n_runs": i.n_runs} for d, i in tables.datasets.items()},
        "columns": [{"dataset": c.dataset, "setting": c.setting, "label": c.label, "average": c.average,
                     "metric": c.key} for c in tables.columns],
        "methods": tables.methods,
        "summaries": summaries,
        "comparisons": comparisons,
        "markers": {b: {"better": tb, "worse": tw} for b, (tb, tw) in legend.items()},
        "decision_note": note(tables),
        "warnings": tables.warnings,
        "runs": runs,
    }
    if analysis is not None:
        out.update(extra.analysis_json(tables, analysis))
        out["warnings"] = list(dict.fromkeys([*tables.warnings, *tables.docs.notes, *analysis.notes]))
    return jsonable(out)
