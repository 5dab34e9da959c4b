"""The text of numbers, p-values, escapes and significance markers: a leaf module every report format
(LaTeX, Markdown, HTML, JSON) shares, importing nothing from the report package."""

from __future__ import annotations

import math

# per baseline in order: (LaTeX better, LaTeX worse, text better, text worse)
MARKERS = (("\\dagger", "\\ddagger", "†", "‡"), ("\\S", "\\P", "§", "¶"),
           ("\\star", "\\diamond", "⋆", "⋄"), ("\\ast", "\\circ", "*", "∘"))
DIGITS = 2

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
        return "–"
    if p == 0:
        return "0"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"
