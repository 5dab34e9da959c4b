"""reports/index.html: one self-contained page (inline CSS and JS, figures as base64 data URIs, no
network at view time) with the main table, the protocol card, comparisons with verdicts, seeds,
seen / unseen, error breakdown, per-type scores, learning curves, figures and a sentence browser.

The main table is built here cell by cell (each cell carries its stats.json numbers as data-*
attributes); every other section is the Markdown of results.md (benchmark.report.markdown and
analysis_render) turned into HTML by a converter for the small subset those functions write, so the
page and results.md cannot drift apart.

The page's jinja2 template, stylesheet and script are package files (templates/report.html.j2,
report.css, report.js), inlined into the page when it is rendered. The sentence browser shows 10
sentences a page, disagreements first (the data's order), and collapses a method's row beyond 8
predictions. Its script exposes a small hook for tests and scripts: ``window.erbenchBrowser``
(``visible()``, ``total()``, ``page()``, ``pages()``, ``setFilter(name, on)``, ``goto(page)``);
``document.body.dataset.ready`` is "1" once the page has initialised and ``#js-errors`` collects any
uncaught error. The print stylesheet leaves the browser and the navigation out.
"""

from __future__ import annotations

import base64
import html
import importlib.resources
import json
import math
import re

import jinja2
from erbench.report import analysis_render as extra
from erbench.report.across_render import md_across
from erbench.report.analysis_tables import Analysis
from erbench.report.answer import answer_lines
from erbench.report.html_browser import browser_data
from erbench.report.markdown import SHOWN, comparison_rows, select_columns, table_cells
from erbench.report.render import marker_legend, markers, mixed_phrase, n_phrase, split_phrase, test_phrase
from erbench.report.render import note as decision_note_of
from erbench.report.tables import SETTINGS, ReportTables, best_means, display_name, method_name
from erbench.report.text import DIGITS, MISSING, score_cell, score_parts

LABELS = dict(SETTINGS)

_INLINE = [(re.compile(r"`([^`]+)`"), r"<code>\1</code>"), (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
           (re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])"), r"<em>\1</em>")]


def inline(text: str) -> str:
    out = html.escape(text.replace("\\|", "|"), quote=False)
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)
    return out.replace("\\_", "_").replace("\\*", "*")


def _verdict(text: str) -> str:
    """A verdict cell: its first clause on one line, the rest (power, seeds needed) on demand."""
    head, sep, rest = text.partition("; ")
    if not sep:
        return inline(text)
    return f"<details><summary>{inline(head)}</summary>{inline(rest)}</details>"


DETAILS = ("Dataset", "Column", "Method", "n", "Δ mean", "p (t)", "Marker", "Decided by", "p (Wilcoxon)",
           "min p (Wilcoxon)", "ASO ε_min", "p (AR, pooled)", "p (AR, Holm)", "p (TOST, Holm)", "Verdict")


def markdown_to_html(lines: list[str]) -> str:
    """The Markdown subset results.md uses: ## headings, pipe tables, ``` blocks, '- ' lists, paragraphs."""
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            title = line[3:]
            slug = re.sub(r"[^a-z0-9]+", "-", re.sub(r"`", "", title.lower())).strip("-")
            out.append(f'<h2 id="{slug}">{inline(title)}</h2>')
        elif line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre>" + html.escape("\n".join(lines[i + 1: j])) + "</pre>")
            i = j
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            head, aligns = table_cells(lines[i]), table_cells(lines[i + 1])
            rows = [table_cells(x) for x in lines[i + 2: j]]
            align = ["right" if a.endswith(":") and not a.startswith(":") else "center" if a.startswith(":-:")
                     else "left" for a in aligns]
            align = [f"{a} verdict" if k < len(head) and head[k] == "Verdict" else a for k, a in enumerate(align)]
            parts = ["<div class=\"scroll\"><table><thead><tr>"]
            parts += [f"<th>{inline(h)}</th>" for h in head]
            parts.append("</tr></thead><tbody>")
            for row in rows:
                parts.append("<tr>" + "".join(f'<td class="{align[k] if k < len(align) else "left"}">'
                                              f'{_verdict(c) if k < len(head) and head[k] == "Verdict" else inline(c)}'
                                              "</td>" for k, c in enumerate(row)) + "</tr>")
            parts.append("</tbody></table></div>")
            out.append("".join(parts))
            i = j - 1
        elif line.startswith("- "):
            j = i
            while j < len(lines) and lines[j].startswith("- "):
                j += 1
            out.append("<ul>" + "".join(f"<li>{inline(x[2:])}</li>" for x in lines[i:j]) + "</ul>")
            i = j - 1
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
        i += 1
    return "\n".join(out)


def folded(lines: list[str], what: str, lead: int = 1) -> str:
    """A section's first `lead` paragraphs in view and the rest (its tables) in a collapsed <details>: the
    page stays a few screens long; print shows everything (report.css)."""
    text = list(lines)
    while text and not text[0].strip():
        text.pop(0)
    cut, seen = 0, 0
    while cut < len(text) and seen < lead:
        if not text[cut].strip() and cut and text[cut - 1].strip():
            seen += 1
        cut += 1
    if seen < lead:  # a section of one paragraph: nothing to fold
        return markdown_to_html(text)
    rest = text[cut:]
    if not any(line.strip() for line in rest):
        return markdown_to_html(text[:cut])
    tables = sum(1 for k, line in enumerate(rest) if line.startswith("|") and not (k and rest[k - 1].startswith("|")))
    count = f" ({tables} table{'s' if tables != 1 else ''})" if tables else ""
    return (markdown_to_html(text[:cut]) + f'\n<details class="more fold"><summary>Show {what}{count}</summary>\n'
            + markdown_to_html(rest) + "</details>")


def _main_table(tables: ReportTables) -> dict:
    best = best_means(tables, DIGITS)
    groups = [{"name": (i.display or display_name(d)) + (" (macro)" if i.average == "macro" else "")
               + (" (mixed)" if i.mixed else ""), "span": 3}
              for d, i in tables.datasets.items()]
    rows = []
    for m in tables.methods:
        cells = []
        for c in tables.columns:
            cell = tables.cells.get((c.dataset, c.setting, m))
            if cell is None:
                cells.append({"text": MISSING, "attrs": {}})
                continue
            s = cell.summary
            mean, std = score_parts(s.mean, s.std)
            cells.append({"mean": mean, "std": std, "mark": markers(tables, c, m, latex=False),
                          "best": round(s.mean, DIGITS) == best.get((c.dataset, c.setting)),
                          "attrs": {"data-dataset": c.dataset, "data-setting": c.setting, "data-method": m,
                                    "data-mean": repr(s.mean), "data-std": "" if math.isnan(s.std) else repr(s.std),
                                    "data-n": str(s.n)}})
        rows.append({"method": m, "name": method_name(tables, m), "cells": cells})
    legend = "; ".join(f"{tb} / {tw}: significantly better / worse than {method_name(tables, b)}"
                       for b, _, _, tb, tw in marker_legend(tables))
    return {"groups": groups, "columns": [c.label for c in tables.columns], "rows": rows, "legend": legend}


def _per_type_lines(tables: ReportTables, analysis: Analysis) -> list[str]:
    lines = ["## Per-type scores", "", "F1 (%) per type, mean ± std over the runs (from each run's metrics.json); "
             "support: gold occurrences in one run's evaluation split.", ""]
    for d in tables.datasets:
        for setting, label in SETTINGS:
            by_method = {m: analysis.per_type.get((d, setting, m)) for m in tables.methods}
            types = sorted({t for v in by_method.values() if v for t in v})
            if not types:
                continue
            support = {t: next(v[t].support for v in by_method.values() if v and t in v) for t in types}
            lines += [f"**{display_name(d)} {label}**", "",
                      "| Method | " + " | ".join(f"{t} (n={support[t]:.0f})" if not math.isnan(support[t]) else t
                                                   for t in types) + " |",
                      "| :-- |" + " --: |" * len(types)]
            for m, v in by_method.items():
                if not v:
                    continue
                cells = [score_cell(v[t].mean, v[t].std) if t in v else MISSING for t in types]
                lines.append(f"| {method_name(tables, m)} | " + " | ".join(cells) + " |")
            lines.append("")
    if len(lines) == 4:
        lines += ["No per-type metrics in the runs' metrics.json.", ""]
    return lines


def _comparisons_html(tables: ReportTables, analysis: Analysis) -> str:
    """Per baseline: the decision columns in view, every other test's p-value in a <details> below."""
    out = []
    for base, rs in tables.results.items():
        rows = comparison_rows(tables, rs, analysis)
        out.append(markdown_to_html([f"## Comparisons against {method_name(tables, base)} "
                                     f"(Holm over {len(rs)} comparisons)", ""] + select_columns(rows, SHOWN)))
        out.append("<details class=\"more\"><summary>All tests of this table (t, sign-flip or corrected t, Wilcoxon, "
                   "ASO, sentence-level approximate randomization, TOST) and the power verdicts</summary>"
                   + markdown_to_html(select_columns(rows, DETAILS)) + "</details>")
    across = md_across(tables, analysis.across) if analysis.across else []
    out.append(markdown_to_html(across + extra.md_reproduction(tables, analysis)))
    return "\n".join(out)


TEMPLATES = importlib.resources.files("erbench.report") / "templates"


def template_file(name: str) -> str:
    """The text of one of the page's package files (report.html.j2, report.css, report.js)."""
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


FIGURE_TITLES = {
    "per_seed": "Headline relation F1 per seed", "errors": "Error breakdown (mean errors per run)",
    "seeds_needed": "How many seeds are enough: power for a 1-point gap, and expected max over k seeds",
    "learning_curves": "Learning curves (dev F1 per epoch, mean ± std over seeds)",
    "neg_sweep": "F1 against the number of negative samples",
}


def render_html(tables: ReportTables, analysis: Analysis, stats: dict, figures: dict[str, bytes],
                title: str | None = None) -> str:
    """The whole page as one string; figures maps a figure stem to its PNG bytes."""
    alpha = tables.settings["alpha"]
    sections = {
        "card": folded(extra.md_protocol_card(tables)[2:], "the protocol card", lead=0),
        "comparisons": _comparisons_html(tables, analysis),
        "seeds": folded(extra.md_seeds(tables, analysis)[1:], "the power and expected-maximum tables"),
        "seen": folded(extra.md_seen(tables, analysis)[1:], "the seen / unseen tables"),
        "errors": folded(extra.md_errors(tables, analysis)[1:], "the error tables"),
        "per_type": folded(_per_type_lines(tables, analysis)[1:], "the per-type tables"),
        "sensitivity": markdown_to_html(extra.md_sensitivity(tables, analysis)[1:]),  # "" without choices
    }
    browser = browser_data(tables)
    # "<" as \u003c: no token can close the <script> element or open an HTML comment inside it
    payload = json.dumps(browser, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    figs = [{"id": k, "title": FIGURE_TITLES.get(k, k), "src": _data_uri(v)} for k, v in figures.items()]
    env = jinja2.Environment(autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             undefined=jinja2.StrictUndefined)
    context = {
        "title": title or "Entity and relation extraction results", "version": stats.get("erbench_version"),
        "answer": answer_lines(tables),
        "mixed": mixed_phrase(tables), "main": _main_table(tables),
        "footer": f"F1 (%) on {split_phrase(tables)}, mean ± sample standard deviation over {n_phrase(tables)}; "
                  "bold: best mean per column.",
        "holm": f"{test_phrase(tables)[:1].upper()}{test_phrase(tables)[1:]}, Holm-corrected per baseline, "
                f"alpha={alpha:g}.",
        "signatures": [i.signature for i in tables.datasets.values()],
        "decision_note": decision_note_of(tables),
        "sections": sections, "figures": figs, "browser_json": payload, "has_browser": bool(browser),
        "browser_datasets": [f"{display_name(b['dataset'])} ({b['unit']})" for b in browser],
        "warnings": stats.get("warnings", []), "stats_json": "stats.json",
        "css": template_file("report.css"), "script": template_file("report.js"),
    }
    return env.from_string(template_file("report.html.j2")).render(**context)

