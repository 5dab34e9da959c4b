"""Figures of the analyses, on matplotlib's Agg canvas without pyplot (as benchmark.report.figures):

- ``errors_figure``: per dataset, stacked bars of the mean error kinds per run, entities and relations;
- ``seeds_figure``: per dataset, the power of the paired t-test to detect a 1-point headline gap against
  the number of seeds (top), and the expected maximum F1 over k seeds (bottom);
- ``learning_figure``: dev F1 per epoch, mean over seeds, when the runs evaluated dev every epoch.

errors_figure and seeds_figure always return a figure (a note stands in for missing data), so their
files can be declared as DVC outputs.
"""

from __future__ import annotations

import math
import re
import textwrap

import numpy as np
import pandas as pd
from erbench.analysis.errors import ENTITY_KINDS, KIND_LABELS, RELATION_KIND_LABELS, RELATION_KINDS
from erbench.analysis.seeds import EFFECT, TARGET_POWER, power_curve
from erbench.report.analysis_tables import Analysis
from erbench.report.figures import (
    LABELS,
    LINE_IN,
    column_figure,
    curve_style,
    headline_setting,
    legend_below,
    legend_height,
    method_colour,
    method_marker,
    new_figure,
    wrap_name,
)
from erbench.report.tables import ReportTables, display_name, method_name
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import offset_copy

MAX_SEEDS_SHOWN = 30
LINESTYLES = ("-", "--", "-.", (0, (1, 1)))  # one per baseline
ERRORS_NAME_WIDTH = 24  # the bars share the column with the names (the legend is under them)


def _note(fig: Figure, text: str) -> Figure:
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=7.5, wrap=True)
    return fig


@column_figure
def note_figure(text: str) -> Figure:
    """A figure that only says why there is nothing to show (its file exists: a declared DVC output)."""
    return _note(new_figure(1.0), textwrap.fill(text, 60))


PLURAL = {"entity": "entities", "relation": "relations"}
# one colour per kind of error: spurious and missed mean the same in both panels and share theirs
KIND_COLOURS = {("entity", "wrong_type"): "#4e79a7", ("entity", "boundary"): "#76b7b2",
                ("entity", "boundary_type"): "#59a14f", ("relation", "wrong_type"): "#b07aa1",
                ("relation", "direction"): "#edc948", ("relation", "argument"): "#ff9da7",
                ("entity", "spurious"): "#e15759", ("relation", "spurious"): "#e15759",
                ("entity", "missed"): "#9c755f", ("relation", "missed"): "#9c755f"}


def errors_frame(analysis: Analysis) -> pd.DataFrame:
    """(dataset, method, group, kind, mean) rows: the data of errors.png (plots/errors.csv)."""
    rows = []
    for (d, m), cell in analysis.errors.items():
        for group, kinds in (("entity", ENTITY_KINDS), ("relation", RELATION_KINDS)):
            rows += [{"dataset": d, "method": m, "group": group, "kind": k, "mean": cell.mean(group, k)} for k in kinds]
    return pd.DataFrame(rows, columns=["dataset", "method", "group", "kind", "mean"])


@column_figure
def errors_figure(tables: ReportTables, analysis: Analysis) -> Figure:
    """Per dataset and group (entities, relations): each method's errors as shares of its own total (so a
    method with thousands of spurious relations does not hide the others), the total written beside."""
    names = [d for d in tables.datasets if any(k[0] == d for k in analysis.errors)]
    if not names:
        return _note(new_figure(1.2), "No error breakdown: no run has predictions.jsonl")
    n_methods = {d: len([m for m in tables.methods if (d, m) in analysis.errors]) for d in names}
    lines = {d: sum(1 + wrap_name(method_name(tables, m), ERRORS_NAME_WIDTH).count("\n") for m in tables.methods
                    if (d, m) in analysis.errors) for d in names}
    heights = [h for d in names for h in (n_methods[d],) * 2]
    legend = 0.3 + 3 * 2 * LINE_IN  # under each panel: 5 kinds in two columns, up to two lines each
    fig = new_figure(0.3 + sum(0.85 + legend + 0.2 * n_methods[d] + LINE_IN * (lines[d] - n_methods[d])
                               for d in names for _ in range(2)))
    axes = fig.subplots(len(heights), 1, squeeze=False, gridspec_kw={"height_ratios": [3 + h for h in heights]})[:, 0]
    for i, d in enumerate(names):
        methods = [m for m in tables.methods if (d, m) in analysis.errors]
        for ax, group, kinds, labels in ((axes[2 * i], "entity", ENTITY_KINDS, KIND_LABELS),
                                         (axes[2 * i + 1], "relation", RELATION_KINDS, RELATION_KIND_LABELS)):
            counts = np.array([[analysis.errors[(d, m)].mean(group, k) for k in kinds] for m in methods])
            totals = counts.sum(axis=1)
            shares = np.divide(100 * counts, totals[:, None], out=np.zeros_like(counts), where=totals[:, None] > 0)
            left = np.zeros(len(methods))
            ys = np.arange(len(methods))
            for j, kind in enumerate(kinds):
                ax.barh(ys, shares[:, j], left=left, height=0.7, color=KIND_COLOURS[(group, kind)],
                        label=textwrap.fill(labels[kind], 24))
                left += shares[:, j]
            for y, total in zip(ys, totals):
                if total == 0:
                    ax.text(2, y, "no errors", va="center", fontsize=6.5, color="#5b6475")
            ax.set_yticks(ys, [wrap_name(f"{method_name(tables, m)} ({t:,.0f})", ERRORS_NAME_WIDTH)
                               for m, t in zip(methods, totals)])
            ax.set_xlim(0, 104)  # room right of a full bar and above and below the bars: none touches the frame
            ax.set_ylim(len(methods) - 0.4, -0.6)
            ax.set_xticks([0, 25, 50, 75, 100])
            ax.set_xlabel(f"share of the {group} errors (%)")
            ax.set_ylabel("method (errors per run)")
            ax.set_title(f"{display_name(d)}: {PLURAL[group]}", loc="left")
            ax.legend(loc="upper right", bbox_to_anchor=(1, 0), frameon=False, handlelength=1.0, ncol=2,
                      borderaxespad=0.0, labelspacing=0.3, columnspacing=1.0,
                      bbox_transform=offset_copy(ax.transAxes, fig=fig, y=-30, units="points"))
    return fig


def seeds_frame(tables: ReportTables, analysis: Analysis) -> pd.DataFrame:
    """(dataset, baseline, method, alpha, n, power) for the headline relation column: the data of
    seeds_needed.png; alpha is the level the power is computed at, Holm's alpha/m for the baseline's family."""
    rows = []
    for rs in tables.results.values():
        for r in rs:
            if r.column.setting != headline_setting(r.column.dataset, tables):
                continue
            pw = analysis.power_of(r)
            if pw.n < 2 or not pw.diffs_std > 0:
                continue
            ns = list(range(2, MAX_SEEDS_SHOWN + 1))
            for n, p in zip(ns, power_curve(pw.diffs_std, ns, EFFECT, pw.alpha)):
                rows.append({"dataset": r.column.dataset, "baseline": r.baseline, "method": r.method,
                             "alpha": pw.alpha, "family_size": pw.family_size, "n": n, "power": p})
    return pd.DataFrame(rows, columns=["dataset", "baseline", "method", "alpha", "family_size", "n", "power"])


def alpha_phrase(tables: ReportTables, sub: pd.DataFrame) -> str:
    """The levels a dataset's power curves use: "Holm's alpha/m: 0.0042 (m=12), 0.0083 (m=6)" (Holm's most
    demanding step of each baseline's family, in the baselines' order: solid, dashed, ...); the plain
    alpha when no curve is drawn."""
    levels = sub.drop_duplicates("baseline")[["alpha", "family_size"]].itertuples(index=False)
    parts = [f"{level:.2g} (m={m})" for level, m in levels]
    return "Holm's alpha/m: " + ", ".join(parts) if parts else f"alpha = {tables.settings['alpha']:g}"


POWER_ALPHA = re.compile(r"([0-9.e-]+)\s+\(m=\d+\)")  # the levels in a seeds_needed title (tests read them back)


@column_figure
def seeds_figure(tables: ReportTables, analysis: Analysis) -> Figure:
    """Per dataset: the paired t-test's power for a 1-point gap against the number of seeds, and the expected
    maximum F1 over k seeds; every line and marker is named in the legend."""
    names = list(tables.datasets)
    if not names:
        return _note(new_figure(1.2), "No runs")
    frame = seeds_frame(tables, analysis)
    labels = {}  # per dataset: the two panels' legend labels (the power panel's with its 3 marker lines, at most)
    for d in names:
        setting = headline_setting(d, tables)
        pairs = frame[frame["dataset"] == d].groupby(["baseline", "method"], sort=False).size().index
        power = [f"{method_name(tables, m)} vs {method_name(tables, b)}" for b, m in pairs] + ["target power"] * 3
        best = [method_name(tables, m) for m in tables.methods if analysis.expected_max.get((d, setting, m))]
        labels[d] = (power, best)
    panels = [1.5 + legend_height(texts) for d in names for texts in labels[d]]
    fig = new_figure(0.3 + sum(panels))
    axes = fig.subplots(2 * len(names), 1, squeeze=False, gridspec_kw={"height_ratios": panels})[:, 0]
    for i, d in enumerate(names):
        ax = axes[2 * i]
        sub = frame[frame["dataset"] == d]
        setting = headline_setting(d, tables)
        if sub.empty:
            ax.text(0.5, 0.5, "no paired comparison with n >= 2\nand varying differences", ha="center",
                    va="center", fontsize=7, transform=ax.transAxes)
        needed_shown = False
        for k, ((base, m), rows) in enumerate(sub.groupby(["baseline", "method"], sort=False)):
            colour = method_colour(tables, m)
            style = LINESTYLES[tables.settings["baselines"].index(base) % len(LINESTYLES)]
            # markers at staggered seeds: curves that coincide still show each of them
            ax.plot(rows["n"], rows["power"], color=colour, linestyle=style, marker=method_marker(tables, m),
                    markevery=(k % 4, 4), markersize=3,
                    label=f"{method_name(tables, m)} vs {method_name(tables, base)}")
            r = next(r for rs in tables.results.values() for r in rs if (r.baseline, r.method, r.column.dataset,
                                                                          r.column.setting) == (base, m, d, setting))
            pw = analysis.power_of(r)
            ax.plot([pw.n], [pw.power_effect], "o", color=colour)
            if pw.seeds_needed is not None and pw.seeds_needed <= MAX_SEEDS_SHOWN:
                ax.axvline(pw.seeds_needed, color=colour, linestyle=":", linewidth=1)
                needed_shown = True
        ax.axhline(TARGET_POWER, color="black", linestyle="--", linewidth=0.8)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color="black", linestyle="--", linewidth=0.8))
        labels.append(f"target power {TARGET_POWER:.0%}")
        if not sub.empty:
            handles.append(Line2D([], [], color="grey", marker="o", linestyle="none"))
            labels.append("power with the seeds run so far")
        if needed_shown:
            handles.append(Line2D([], [], color="grey", linestyle=":", linewidth=1))
            labels.append(f"seeds needed for {TARGET_POWER:.0%}")
        ax.set_ylim(0, 1.05)
        ax.set_xlim(1.5, MAX_SEEDS_SHOWN + 0.5)
        ax.set_xlabel("paired seeds")
        ax.set_ylabel(f"power for a {EFFECT:g}-pt gap")
        ax.set_title(wrap_name(f"{display_name(d)}: {LABELS[setting]} F1, paired t-test at {alpha_phrase(tables, sub)}",
                               50), loc="left")
        ax.grid(alpha=0.3)
        legend_below(ax, handles, labels)
        ax = axes[2 * i + 1]
        for m in tables.methods:
            curve = analysis.expected_max.get((d, setting, m))
            if curve:
                ax.plot(range(1, len(curve) + 1), curve, label=method_name(tables, m), **curve_style(tables, m))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        longest = max((len(c) for m in tables.methods if (c := analysis.expected_max.get((d, setting, m)))), default=1)
        ax.set_xlim(0.5, longest + 0.5)
        ax.set_xlabel("k seeds (best of k)")
        ax.set_ylabel(f"expected max {LABELS[setting]} F1 (%)")
        ax.set_title(f"{display_name(d)}: expected max over k seeds (k=1: the mean)", loc="left")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            legend_below(ax, *ax.get_legend_handles_labels())
    return fig


METRIC_WORDS = {"ner": "NER", "rel": "RE", "rel_strict": "RE+"}


def metric_title(metric: str) -> str:
    """'dev/rel_strict/micro_f1' -> 'dev RE+ F1 (micro)'."""
    parts = metric.split("/")
    if len(parts) != 3:
        return metric
    split, setting, rest = parts
    avg, _, score = rest.partition("_")
    return f"{split} {METRIC_WORDS.get(setting, setting)} {score.upper()} ({avg})"


@column_figure
def learning_figure(tables: ReportTables, analysis: Analysis) -> Figure | None:
    """Dev F1 per epoch per method (mean +- std over seeds); None when no run has a dev history."""
    if not analysis.learning:
        return None
    names = [d for d in tables.datasets if any(c.dataset == d for c in analysis.learning)]
    shown = {d: [method_name(tables, c.method) for c in analysis.learning if c.dataset == d] + ["band"] for d in names}
    panels = [1.7 + legend_height(shown[d]) for d in names]
    fig = new_figure(0.3 + sum(panels))
    axes = fig.subplots(len(names), 1, squeeze=False, gridspec_kw={"height_ratios": panels})[:, 0]
    for ax, d in zip(axes, names):
        metric = ""
        for c in analysis.learning:
            if c.dataset != d:
                continue
            colour = method_colour(tables, c.method)
            mean, std = np.array(c.mean), np.array([0.0 if math.isnan(s) else s for s in c.std])
            ax.plot(c.epochs, mean, label=method_name(tables, c.method), **curve_style(tables, c.method))
            ax.fill_between(c.epochs, mean - std, mean + std, color=colour, alpha=0.15, linewidth=0)
            metric = c.metric
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Patch(facecolor="grey", alpha=0.25))
        labels.append("band: mean ± std over seeds")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric_title(metric).split(" (")[0] + " (%)")
        ax.set_title(f"{display_name(d)}: {metric_title(metric)} per epoch")
        ax.grid(alpha=0.3)
        legend_below(ax, handles, labels)  # under the axes: the curves stay uncovered
    return fig
