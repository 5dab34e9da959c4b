"""How wide a LaTeX table is and which float it takes: the estimate of a cell's width at \\small, the
layout rule (a one-column `table`, a compact one, `table*`, scaled) and a tabular wrapped in its float.
Shared by the main table (latex.render_latex) and the analyses' tables (analysis_render)."""

from __future__ import annotations

import re

COLUMN_PT, TEXT_PT = 219.0, 455.0  # a two-column paper's column and text width (ACL: 219pt / 455pt)


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


def float_table(rows: list[list[str]], body: list[str], caption: str, label: str, options: dict | None = None,
                extra_pt: list[float] | None = None) -> list[str]:
    """A tabular (`body`, its first line the \\begin{tabular}) in the float the options choose for it
    (_layout on the cells' estimated widths, as the main table): a `table` when it fits one column, a
    `table*` or a scaled one when not. `extra_pt`: per column, width the estimate misses (\\texttt)."""
    float_option = (options or {}).get("float") or "auto"  # options: latex_options' checked dict
    widths = [max(_text_width_pt(r[k]) for r in rows) if rows else 0.0 for k in range(len(rows[0]) if rows else 0)]
    widths = [w + (extra_pt[k] if extra_pt and k < len(extra_pt) else 0.0) for k, w in enumerate(widths)]
    env, size, scaled = _layout(float_option, widths)
    body = list(body)
    packages = "booktabs" + (", graphicx" if scaled else "")
    lines = [f"% erbench report: needs \\usepackage{{{packages}}}; "
             f"{'table* spans both columns of a two-column paper' if env == 'table*' else 'a one-column table'}",
             f"\\begin{{{env}}}[t]", "\\centering", f"\\{size}"]
    if size == "footnotesize":
        lines.append("\\setlength{\\tabcolsep}{4pt}")
    if scaled:
        body[0] = "\\resizebox{\\linewidth}{!}{" + body[0]
        body[-1] += "}"
    return lines + body + [f"\\caption{{{caption}}}", f"\\label{{{label}}}", f"\\end{{{env}}}"]
