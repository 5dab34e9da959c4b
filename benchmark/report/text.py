"""The text of numbers, p-values, escapes and significance markers: a leaf module every report format
(LaTeX, Markdown, HTML, JSON) shares, importing nothing from the report package.

One function per kind of cell: a score (mean ± sd, bold when best, with its markers), a difference
(signed) and its interval, a p-value, an optional number. LaTeX, Markdown and HTML differ only in the
CellStyle that wraps the same digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# per baseline in order: (LaTeX better, LaTeX worse, text better, text worse)
MARKERS = (("\\dagger", "\\ddagger", "†", "‡"), ("\\S", "\\P", "§", "¶"),
           ("\\star", "\\diamond", "⋆", "⋄"), ("\\ast", "\\circ", "*", "∘"))
DIGITS = 2
MISSING = "–"  # a number that does not exist (no run, no estimate); LaTeX prints it as --

_LATEX_SPECIALS = {
    "\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_", "{": "\\{",
    "}": "\\}", "~": "\\textasciitilde{}", "^": "\\textasciicircum{}", "<": "$<$", ">": "$>$", "|": "$|$",
}


def latex_escape(text: str) -> str:
    """Plain text for LaTeX's text mode (OT1-safe: no T1-only glyphs)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def markdown_escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def format_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return MISSING
    if p == 0:
        return "0"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def latex_p(p: float | None) -> str:
    """format_p for LaTeX's text mode."""
    return format_p(p).replace(MISSING, "--").replace("<", "$<$")


def missing(x: float | None) -> bool:
    return x is None or math.isnan(x)


def number(x: float | None, digits: int = DIGITS, empty: str = MISSING) -> str:
    """x with `digits` decimals, or `empty` when it does not exist."""
    return empty if missing(x) else f"{x:.{digits}f}"


def signed(x: float, digits: int = DIGITS) -> str:
    """A difference, always with its sign: +1.25, -0.40."""
    return f"{x:+.{digits}f}"


def interval(low: float, high: float, digits: int = DIGITS, empty: str = MISSING) -> str:
    """A difference's interval, '[-0.50, +2.10]', or `empty` without one."""
    return empty if missing(low) else f"[{signed(low, digits)}, {signed(high, digits)}]"


def unit_text(unit: tuple[int, int | None]) -> str:
    """A run's unit as prose: 'seed 3', 'seed 3 fold 1'."""
    return f"seed {unit[0]}" + ("" if unit[1] is None else f" fold {unit[1]}")


@dataclass(frozen=True)
class CellStyle:
    """How one format wraps a score cell's parts (str.format patterns, each with one {})."""

    bold: str = "{}"
    pm: str = " ± "
    marks: str = "{}"
    cell: str = "{}"
    missing: str = MISSING


PLAIN = CellStyle()  # Markdown tables without bold, HTML text, prose
MARKDOWN = CellStyle(bold="**{}**")
LATEX = CellStyle(bold="\\mathbf{{{}}}", pm=" \\pm ", marks="^{{{}}}", cell="${}$", missing="--")


def score_parts(mean: float, std: float, digits: int = DIGITS, pm: str = " ± ") -> tuple[str, str]:
    """(the mean, ' ± sd' or '' without an sd): a score cell's digits."""
    return f"{mean:.{digits}f}", "" if math.isnan(std) else f"{pm}{std:.{digits}f}"


def score_cell(mean: float | None, std: float = math.nan, *, best: bool = False, marks: str = "",
               style: CellStyle = PLAIN, digits: int = DIGITS) -> str:
    """mean ± sd (bold when best) with the significance markers, as `style` wraps it; mean None: no cell."""
    if mean is None:
        return style.missing
    head, spread = score_parts(mean, std, digits, style.pm)
    body = (style.bold.format(head) if best else head) + spread + (style.marks.format(marks) if marks else "")
    return style.cell.format(body)
