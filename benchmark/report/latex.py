"""One ReportTables as LaTeX (booktabs): the main table, the table of comparisons and a standalone
document that compiles with pdflatex. Pure functions returning text; nothing here writes.

The cells are text.score_cell in the LATEX style; the sentences are render's, escaped.
"""

from __future__ import annotations

import math
import re
from typing import Any

from erbench.errors import UserInputError
from erbench.params import LATEX_FLOATS, LATEX_SIGNATURES
from erbench.report import analysis_render as extra
from erbench.report.latex_layout import _layout, _text_width_pt
from erbench.report.render import (
    holm_phrase,
    marker_legend,
    mixed_phrase,
    n_phrase,
    score_text,
    split_phrase,
    test_phrase,
    test_short,
)
from erbench.report.tables import ReportTables, best_means, display_name, method_name
from erbench.report.text import DIGITS, LATEX, interval, latex_escape, latex_p, number, signed


def _latex_signature(sig: str) -> str:
    """The signature in typewriter type, breakable after every field (and every comma inside one)."""
    parts = [latex_escape(p).replace("-$>$", "$\\to$").replace(",", ",\\allowbreak ") for p in sig.split("|")]
    return "\\texttt{" + "$|$\\allowbreak ".join(parts) + "}"




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
    text.append(f"F1 (\\%) on {split_phrase(tables)}, mean $\\pm$ std over {n_phrase(tables)}; bold: best.")
    legend = marker_legend(tables)
    if legend:
        marks = "; ".join(f"$^{{{lb}}}$/$^{{{lw}}}$: better/worse than {latex_escape(method_name(tables, b))}"
                          for b, lb, lw, _, _ in legend)
        text.append(f"{marks} ({test_short(tables)}, Holm, $\\alpha={alpha:g}$).")
    if mixed_phrase(tables):
        text.insert(0, "\\textbf{Mixed protocol} (see the note).")
    return " ".join(text)


def latex_note(tables: ReportTables, analysis=None) -> str:
    """The \\footnotesize note under the table: the test in full, the seeds phrase and the signatures."""
    text = []
    mixed = mixed_phrase(tables)
    if mixed:
        text.append(f"Mixed protocol: {latex_escape(mixed)}.")
    if marker_legend(tables):
        text.append(f"{latex_escape(test_phrase(tables)[:1].upper() + test_phrase(tables)[1:])}, Holm-corrected "
                    f"over {latex_escape(holm_phrase(tables))}.")
    if analysis is not None:
        phrase = extra.seeds_phrase(tables, analysis)
        text += [latex_escape(phrase)] if phrase else []
    sigs = "; ".join(_latex_signature(info.signature) for info in tables.datasets.values())
    text.append(f"Protocol: {sigs}.")
    return " ".join(text)


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
        cells = [score_text(tables, c, m, best, LATEX) for c in tables.columns]
        rows.append([latex_escape(method_name(tables, m))] + cells)
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
            ci = interval(c.diff_ci_low, c.diff_ci_high, empty="")
            eps = number(c.aso_epsilon, empty="--")
            dz = "--" if math.isnan(c.cohens_dz) else signed(c.cohens_dz)
            info = tables.datasets[r.column.dataset]
            rows.append([latex_escape(method_name(tables, base)),
                         latex_escape(info.display or display_name(r.column.dataset)),
                         f"{r.column.label} ({r.column.average})", latex_escape(method_name(tables, r.method)),
                         f"${signed(c.mean_diff)}$" + (f" {ci}" if ci else ""), latex_p(r.t_holm), dz, eps,
                         latex_escape(r.outcome)])
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
               f"{n_phrase(tables)}, {test_short(tables)}, Holm per baseline, $\\alpha={alpha:g}$.")
    test = test_phrase(tables)
    details = (f"{latex_escape(test[:1].upper() + test[1:])}; Holm-corrected over "
               f"{latex_escape(holm_phrase(tables))}. $d_z$: mean / sd of the per-seed differences. ASO "
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
