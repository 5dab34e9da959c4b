"""Figures from the value matrix: per-seed scores per method, and F1 against the number of negative
samples when the runs sweep it. Built on matplotlib's Agg canvas without pyplot (no global figure
state); returned as PNG/PDF bytes so the caller writes them atomically. Deterministic for a seed.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from erbench.report.tables import HEADLINE_RELATION, SETTINGS, ReportTables, display_name
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

LABELS = dict(SETTINGS)


def headline_setting(dataset: str, tables: ReportTables | None = None) -> str:
    """The relation setting a dataset headlines: its table's (a custom dataset's declaration), else
    the literature's (SPEC 3): RE for SciERC, else RE+."""
    if tables is not None and dataset in tables.datasets:
        return tables.datasets[dataset].relation
    return HEADLINE_RELATION.get(dataset, "rel_strict")


def per_seed_frame(tables: ReportTables) -> pd.DataFrame:
    """The table's runs as (dataset, method, seed, fold, metric, value): the data of per_seed.csv."""
    df = tables.matrix[tables.matrix["in_table"]]
    return df[["dataset", "method", "seed", "fold", "metric", "value"]].reset_index(drop=True)


def sweep_frame(tables: ReportTables) -> pd.DataFrame | None:
    """Rows of (dataset, method) groups whose runs differ in neg_entity_count; None when there is none."""
    df = tables.matrix
    varied = df.groupby(["dataset", "method"])["neg_entity_count"].transform("nunique") > 1
    if not varied.any():
        return None
    keep = df["dataset"].isin(df.loc[varied, "dataset"].unique())
    cols = ["dataset", "method", "neg_entity_count", "neg_relation_count", "seed", "fold", "metric", "setting", "value"]
    return df.loc[keep, cols].reset_index(drop=True)


def _panel_title(tables: ReportTables, dataset: str) -> str:
    setting = headline_setting(dataset, tables)
    return f"{display_name(dataset)}: {LABELS[setting]} F1 ({tables.datasets[dataset].average})"


def per_seed_figure(tables: ReportTables, seed: int = 0) -> Figure:
    """One panel per dataset: each run's headline relation F1 per method (jittered), the mean as a bar."""
    names = list(tables.datasets)
    fig = Figure(figsize=(1.0 + len(names) * (1.2 + 0.8 * len(tables.methods)), 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    rng = np.random.default_rng(seed)
    for ax, dataset in zip(axes, names):
        setting = headline_setting(dataset, tables)
        for x, method in enumerate(tables.methods):
            cell = tables.cells.get((dataset, setting, method))
            if cell is None:
                continue
            ys = np.asarray(cell.values)
            xs = x + rng.uniform(-0.12, 0.12, size=ys.size)
            ax.scatter(xs, ys, s=18, color=f"C{x % 10}", alpha=0.8, zorder=3)
            ax.hlines(cell.summary.mean, x - 0.3, x + 0.3, color="black", linewidth=1.5, zorder=4)
        ax.set_xticks(range(len(tables.methods)), tables.methods, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(tables.methods) - 0.4)
        ax.set_title(_panel_title(tables, dataset), fontsize=9)
        ax.set_ylabel("F1 (%)")
        ax.grid(axis="y", alpha=0.3)
    return fig


def neg_sweep_figure(tables: ReportTables) -> Figure | None:
    """Per dataset, mean +- std headline relation F1 against neg_entity_count, one line per method."""
    frame = sweep_frame(tables)
    if frame is None:
        return None
    names = [d for d in tables.datasets if d in set(frame["dataset"])]
    fig = Figure(figsize=(4.2 * len(names) + 1.5, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, dataset in zip(axes, names):
        sub = frame[(frame["dataset"] == dataset) & (frame["setting"] == headline_setting(dataset, tables))]
        for i, method in enumerate(tables.methods):
            rows = sub[sub["method"] == method]
            if rows.empty:
                continue
            agg = rows.groupby("neg_entity_count")["value"].agg(["mean", "std"]).sort_index()
            ax.errorbar(agg.index.astype(float), agg["mean"], yerr=agg["std"].fillna(0.0), marker="o",
                        capsize=3, label=method, color=f"C{i % 10}")
        ax.set_xlabel("negative entity samples (neg_entity_count)")
        ax.set_ylabel("F1 (%)")
        ax.set_title(_panel_title(tables, dataset), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def figure_bytes(fig: Figure) -> dict[str, bytes]:
    """PNG (150 dpi) and PDF renderings, without timestamps so that reruns give the same files."""
    out = {}
    for fmt, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150, metadata=meta)
        out[fmt] = buf.getvalue()
    return out
