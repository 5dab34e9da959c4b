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

import numpy as np
import pandas as pd
from erbench.analysis.errors import ENTITY_KINDS, KIND_LABELS, RELATION_KIND_LABELS, RELATION_KINDS
from erbench.analysis.seeds import EFFECT, TARGET_POWER, power_curve
from erbench.report.analysis_tables import Analysis
from erbench.report.figures import LABELS, headline_setting
from erbench.report.tables import ReportTables, display_name
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

MAX_SEEDS_SHOWN = 30


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _note(fig: Figure, text: str) -> Figure:
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=10, wrap=True)
    return fig


def errors_frame(analysis: Analysis) -> pd.DataFrame:
    """(dataset, method, group, kind, mean) rows: the data of errors.png (plots/errors.csv)."""
    rows = []
    for (d, m), cell in analysis.errors.items():
        for group, kinds in (("entity", ENTITY_KINDS), ("relation", RELATION_KINDS)):
            rows += [{"dataset": d, "method": m, "group": group, "kind": k, "mean": cell.mean(group, k)} for k in kinds]
    return pd.DataFrame(rows, columns=["dataset", "method", "group", "kind", "mean"])


def errors_figure(tables: ReportTables, analysis: Analysis) -> Figure:
    names = [d for d in tables.datasets if any(k[0] == d for k in analysis.errors)]
    if not names:
        return _note(_figure(6, 2), "No error breakdown: no run has predictions.jsonl")
    fig = _figure(2.0 + 2 * len(names) * (1.2 + 0.55 * len(tables.methods)), 5.0)
    axes = fig.subplots(1, 2 * len(names), squeeze=False)[0]
    for i, d in enumerate(names):
        methods = [m for m in tables.methods if (d, m) in analysis.errors]
        for ax, group, kinds, labels in ((axes[2 * i], "entity", ENTITY_KINDS, KIND_LABELS),
                                         (axes[2 * i + 1], "relation", RELATION_KINDS, RELATION_KIND_LABELS)):
            bottom = np.zeros(len(methods))
            for j, kind in enumerate(kinds):
                values = np.array([analysis.errors[(d, m)].mean(group, kind) for m in methods])
                ax.bar(range(len(methods)), values, bottom=bottom, color=f"C{j}", label=labels[kind], width=0.7)
                bottom += values
            ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right", fontsize=8)
            ax.set_title(f"{display_name(d)}: {group} errors", fontsize=9)
            ax.set_ylabel("errors per run (mean over seeds)")
            ax.set_ylim(bottom=0)
            ax.grid(axis="y", alpha=0.3)
            ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, frameon=False)
    return fig


def seeds_frame(tables: ReportTables, analysis: Analysis) -> pd.DataFrame:
    """(dataset, baseline, method, n, power) for the headline relation column: the data of seeds_needed.png."""
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
                rows.append({"dataset": r.column.dataset, "baseline": r.baseline, "method": r.method, "n": n,
                             "power": p})
    return pd.DataFrame(rows, columns=["dataset", "baseline", "method", "n", "power"])


def seeds_figure(tables: ReportTables, analysis: Analysis) -> Figure:
    names = list(tables.datasets)
    if not names:
        return _note(_figure(6, 2), "No runs")
    fig = _figure(1.5 + 4.4 * len(names), 6.4)
    axes = fig.subplots(2, len(names), squeeze=False)
    frame = seeds_frame(tables, analysis)
    for i, d in enumerate(names):
        ax = axes[0][i]
        sub = frame[frame["dataset"] == d]
        setting = headline_setting(d, tables)
        if sub.empty:
            ax.text(0.5, 0.5, "no paired comparison with n >= 2 and varying differences", ha="center", va="center",
                    fontsize=8,
                    transform=ax.transAxes)
        for j, ((base, m), rows) in enumerate(sub.groupby(["baseline", "method"], sort=False)):
            ax.plot(rows["n"], rows["power"], color=f"C{j % 10}", label=f"{m} vs {base}")
            r = next(r for rs in tables.results.values() for r in rs if (r.baseline, r.method, r.column.dataset,
                                                                          r.column.setting) == (base, m, d, setting))
            pw = analysis.power_of(r)
            ax.plot([pw.n], [pw.power_effect], "o", color=f"C{j % 10}")
            if pw.seeds_needed is not None and pw.seeds_needed <= MAX_SEEDS_SHOWN:
                ax.axvline(pw.seeds_needed, color=f"C{j % 10}", linestyle=":", linewidth=1)
        ax.axhline(TARGET_POWER, color="black", linestyle="--", linewidth=1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("paired seeds")
        ax.set_ylabel(f"power to detect {EFFECT:g} pt")
        ax.set_title(f"{display_name(d)}: {LABELS[setting]} F1, paired t-test", fontsize=9)
        ax.grid(alpha=0.3)
        if not sub.empty:
            ax.legend(fontsize=7)
        ax = axes[1][i]
        for j, m in enumerate(tables.methods):
            curve = analysis.expected_max.get((d, setting, m))
            if curve:
                ax.plot(range(1, len(curve) + 1), curve, marker="o", color=f"C{j % 10}", label=m)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("k seeds (best of k)")
        ax.set_ylabel("expected max F1 (%)")
        ax.set_title(f"{display_name(d)}: expected max over k seeds", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def learning_figure(tables: ReportTables, analysis: Analysis) -> Figure | None:
    """Dev F1 per epoch per method (mean +- std over seeds); None when no run has a dev history."""
    if not analysis.learning:
        return None
    names = [d for d in tables.datasets if any(c.dataset == d for c in analysis.learning)]
    fig = _figure(1.5 + 4.4 * len(names), 3.4)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, d in zip(axes, names):
        for c in analysis.learning:
            if c.dataset != d:
                continue
            j = tables.methods.index(c.method)
            mean, std = np.array(c.mean), np.array([0.0 if math.isnan(s) else s for s in c.std])
            ax.plot(c.epochs, mean, marker="o", color=f"C{j % 10}", label=c.method)
            ax.fill_between(c.epochs, mean - std, mean + std, color=f"C{j % 10}", alpha=0.15)
            metric = c.metric
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("dev F1 (%)")
        ax.set_title(f"{display_name(d)}: {metric}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig
