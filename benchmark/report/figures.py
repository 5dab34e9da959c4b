"""Figures from the value matrix: per-seed scores per method, and F1 against the number of negative
samples when the runs sweep it. Built on matplotlib's Agg canvas without pyplot (no global figure
state); returned as PNG/PDF bytes so the caller writes them atomically. Deterministic for a seed.

Every figure is sized for one column of a two-column paper (COLUMN_WIDTH_IN, 8.5 cm) with text of at
least MIN_FONT_PT points at that size: panels stack vertically, one per dataset. PDFs embed their fonts
as TrueType (Type 42, FONTS): publishers' checkers refuse matplotlib's default Type 3 fonts. Figures are
saved with bbox_inches="tight", so no title or legend is cut at the canvas edge.
"""

from __future__ import annotations

import functools
import io
import textwrap

import matplotlib
import numpy as np
import pandas as pd
from erbench import runfolder
from erbench.report.tables import HEADLINE_RELATION, SETTINGS, ReportTables, display_name, method_name
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

LABELS = dict(SETTINGS)
GROUPS = (("gold", "gold spans"), ("near_miss", "near misses (IoU > 0)"), ("far", "far negatives"))
COLUMN_WIDTH_IN = 8.5 / 2.54  # one column of a two-column paper
MIN_FONT_PT = 6.5
STYLE = {"font.size": 7.5, "axes.titlesize": 7.5, "axes.labelsize": 7, "xtick.labelsize": 6.5,
         "ytick.labelsize": 6.5, "legend.fontsize": 6.5, "legend.title_fontsize": 6.5, "lines.markersize": 4}
FONTS = {"pdf.fonttype": 42, "ps.fonttype": 42}  # TrueType in PDF/PS, read when the file is written
MARKERS = "osD^vP*X"  # one marker per method: curves that coincide still show every method


def column_figure(build):
    """Run a figure builder under the column style (fonts are fixed when the artists are created)."""

    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return build(*args, **kwargs)

    return wrapper


NAME_WIDTH = 22  # characters a line of a method name takes in a figure (variant names run long)
LINE_IN = 0.125  # inches one line of 6.5 pt text takes, with its spacing
UPRIGHT_METHODS = 6  # per_seed_figure: up to this many one-line names run along x


def wrap_name(text: str, width: int = NAME_WIDTH) -> str:
    """A method's printed name broken at spaces into lines of about `width` characters."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False) or text


def extra_lines(texts, width: int = NAME_WIDTH) -> int:
    """How many lines beyond one the longest of `texts` takes once wrapped (wrap_name)."""
    return max((wrap_name(t, width).count("\n") for t in texts), default=0)


def legend_below(ax, handles, labels, width: int = 48, gap_pt: float = 30):
    """The panel's legend under its x axis label, one entry a line (wrapped at `width` characters): long
    method names neither cover the data nor push the panel out of the column. Returns the wrapped labels."""
    from matplotlib.transforms import offset_copy

    wrapped = [wrap_name(label, width) for label in labels]
    ax.legend(handles, wrapped, loc="upper left", bbox_to_anchor=(0, 0), frameon=False, borderaxespad=0,
              bbox_transform=offset_copy(ax.transAxes, fig=ax.figure, y=-gap_pt, units="points"))
    return wrapped


def legend_height(labels, width: int = 48) -> float:
    """Inches a legend_below of these labels takes."""
    return 0.45 + LINE_IN * 1.15 * sum(1 + wrap_name(label, width).count("\n") for label in labels)


def new_figure(height: float, width: float = COLUMN_WIDTH_IN) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def method_colour(tables: ReportTables, method: str) -> str:
    """One colour per method, the same in every figure."""
    return f"C{tables.methods.index(method) % 10}" if method in tables.methods else "C9"


def method_marker(tables: ReportTables, method: str) -> str:
    """One marker per method, the same in every figure (with the colour: visible where curves coincide)."""
    return MARKERS[tables.methods.index(method) % len(MARKERS)] if method in tables.methods else "o"


CURVE_STYLES = ("-", "--", "-.", ":")


def curve_style(tables: ReportTables, method: str) -> dict:
    """A method's curve: its colour and marker, a line style of its own and hollow markers that shrink with
    the method's position, so curves that coincide show every method (rings inside rings, dashes on lines)."""
    k = tables.methods.index(method) if method in tables.methods else 0
    return {"color": method_colour(tables, method), "marker": method_marker(tables, method),
            "linestyle": CURVE_STYLES[k % len(CURVE_STYLES)], "markersize": max(7.0 - 1.3 * k, 2.5),
            "markerfacecolor": "none", "markeredgewidth": 1.0}


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


@column_figure
def per_seed_figure(tables: ReportTables, seed: int = 0) -> Figure:
    """One panel per dataset: each run's headline relation F1 per method (jittered), the mean as a bar.
    Methods run along x; when their names need more than one line or there are more than
    UPRIGHT_METHODS of them, along y (one name a row, wrapped), so no two names run into each other."""
    names = list(tables.datasets)
    shown = [method_name(tables, m) for m in tables.methods]
    across = len(shown) <= UPRIGHT_METHODS and not extra_lines(shown)
    rows = sum(1 + wrap_name(n).count("\n") for n in shown)
    panel = 2.1 if across else 0.9 + 1.15 * LINE_IN * rows + 0.08 * len(shown)
    fig = new_figure(0.6 + panel * len(names))
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    rng = np.random.default_rng(seed)
    for ax, dataset in zip(axes, names):
        setting = headline_setting(dataset, tables)
        points: dict = {}  # unit (seed, fold) -> [(x, y)] across the methods: one grey line per unit
        for x, method in enumerate(tables.methods):
            cell = tables.cells.get((dataset, setting, method))
            if cell is None:
                continue
            ys = np.asarray(cell.values)
            xs = x + rng.uniform(-0.12, 0.12, size=ys.size)
            for unit, px, py in zip(cell.units, xs, ys):
                points.setdefault(unit, []).append((px, py) if across else (py, px))
            colour = method_colour(tables, method)
            if across:
                ax.scatter(xs, ys, s=12, color=colour, alpha=0.8, zorder=3)
                ax.hlines(cell.summary.mean, x - 0.3, x + 0.3, color="black", linewidth=1.2, zorder=4)
            else:
                ax.scatter(ys, xs, s=12, color=colour, alpha=0.8, zorder=3)
                ax.vlines(cell.summary.mean, x - 0.3, x + 0.3, color="black", linewidth=1.2, zorder=4)
        for line in points.values():  # pairing: the same seed (and fold) joined across methods
            if len(line) > 1:
                ax.plot(*zip(*line), color="grey", linewidth=0.5, alpha=0.6, zorder=2, gid="pairing")
        score = f"{LABELS[setting]} F1 (%)"
        if across:
            ax.set_xticks(range(len(tables.methods)), shown, rotation=25, ha="right", rotation_mode="anchor")
            ax.set_xlim(-0.6, len(tables.methods) - 0.4)
            ax.set_xlabel("method")
            ax.set_ylabel(score)
            ax.grid(axis="y", alpha=0.3)
            ax.margins(y=0.25)
        else:
            ax.set_yticks(range(len(tables.methods)), [wrap_name(n) for n in shown])
            ax.set_ylim(len(tables.methods) - 0.4, -0.6)  # the first method on top, as in the tables
            ax.set_xlabel(score)
            ax.set_ylabel("method")
            ax.grid(axis="x", alpha=0.3)
            ax.margins(x=0.15)
        # over a panel narrowed by long names, a centred title would run out of the column: right-aligned
        ax.set_title(_panel_title(tables, dataset) + f" on {_split(tables, dataset)}",
                     loc="center" if across else "right")
        legend = [Line2D([], [], marker="o", color="grey", linestyle="none", markersize=3.5),
                  Line2D([], [], color="black", linewidth=1.2), Line2D([], [], color="grey", linewidth=0.5)], \
            ["one run", "mean over runs", "one seed's runs"]
        if across:
            ax.legend(*legend, loc="best", frameon=True, framealpha=0.85)
        else:
            legend_below(ax, *legend)
    return fig


def _split(tables: ReportTables, dataset: str) -> str:
    return ",".join(tables.datasets[dataset].protocol.get("eval_split") or ["test"])


@column_figure
def neg_sweep_figure(tables: ReportTables) -> Figure | None:
    """Per dataset, mean +- std headline relation F1 against neg_entity_count, one line per method."""
    frame = sweep_frame(tables)
    if frame is None:
        return None
    names = [d for d in tables.datasets if d in set(frame["dataset"])]
    fig = new_figure(0.4 + 2.3 * len(names))
    axes = fig.subplots(len(names), 1, squeeze=False)[:, 0]
    for ax, dataset in zip(axes, names):
        sub = frame[(frame["dataset"] == dataset) & (frame["setting"] == headline_setting(dataset, tables))]
        for method in tables.methods:
            rows = sub[sub["method"] == method]
            if rows.empty:
                continue
            agg = rows.groupby("neg_entity_count")["value"].agg(["mean", "std"]).sort_index()
            ax.errorbar(agg.index.astype(float), agg["mean"], yerr=agg["std"].fillna(0.0), marker="o",
                        capsize=2, label=method_name(tables, method), color=method_colour(tables, method))
        ax.set_xlabel("negative entity samples (neg_entity_count)")
        ax.set_ylabel(f"{LABELS[headline_setting(dataset, tables)]} F1 (%)")
        ax.set_title(_panel_title(tables, dataset) + ", mean ± std over seeds")
        ax.grid(alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return fig


def figure_bytes(fig: Figure) -> dict[str, bytes]:
    """PNG (150 dpi) and PDF renderings, without timestamps so that reruns give the same files."""
    out = {}
    for fmt, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        buf = io.BytesIO()
        with matplotlib.rc_context(FONTS):
            fig.savefig(buf, format=fmt, dpi=150, metadata=meta, bbox_inches="tight", pad_inches=0.03)
        out[fmt] = buf.getvalue()
    return out


# the entity scores of declared choices: per dataset and method, the distribution of the entity score
# (sigmoid(z_id) for SpERT.MT) on gold, near-miss and far spans of the eval split, pooled over the method's
# runs (metrics.json diagnostics.entity_scores), with the entity thresholds the runs decoded at
def entity_score_data(tables: ReportTables) -> dict[tuple[str, str], dict]:
    """(dataset, method) -> {"score": name, "bins": [...], "runs": n, "thresholds": [the runs' entity
    thresholds, distinct, sorted], "groups": {group: counts summed over its table runs}}."""
    out: dict[tuple[str, str], dict] = {}
    for (dataset, method), by_unit in sorted(tables.runs.items()):
        for rec in by_unit.values():
            raw = runfolder.read_metrics(rec.path)  # the report read it already: an error here is a real one
            diag = (raw.get("diagnostics") or {}).get("entity_scores")
            if not diag:
                continue
            entry = out.setdefault((dataset, method), {
                "score": diag["score"], "bins": diag["bins"], "runs": 0, "thresholds": [],
                "groups": {g: np.zeros(len(diag["bins"]) - 1, dtype=np.int64) for g, _ in GROUPS}})
            if entry["bins"] != diag["bins"] or entry["score"] != diag["score"]:
                continue
            entry["runs"] += 1
            threshold = (raw.get("thresholds") or {}).get("entity")
            if threshold is not None and threshold not in entry["thresholds"]:
                entry["thresholds"] = sorted([*entry["thresholds"], float(threshold)])
            for g, _ in GROUPS:
                entry["groups"][g] += np.asarray(diag["groups"][g]["counts"], dtype=np.int64)
    return out


def entity_scores_figure(tables: ReportTables, data: dict | None = None):
    """One panel per dataset and method with identification heads (sigmoid(z_id)); None when no run has them."""
    return column_figure(_entity_scores_figure)(tables, data)


def _threshold_label(thresholds: list[float]) -> str:
    if len(thresholds) == 1:
        return f"entity threshold {thresholds[0]:g}"
    return f"entity thresholds {thresholds[0]:g}-{thresholds[-1]:g} (tuned per run)"


def _entity_scores_figure(tables: ReportTables, data: dict | None):
    data = entity_score_data(tables) if data is None else data
    keys = [k for k, d in data.items() if d["score"] == "sigmoid(z_id)" and d["runs"]]
    if not keys:
        return None
    titles = {(d, m): wrap_name(f"{display_name(d)}: {method_name(tables, m)} ({data[(d, m)]['runs']} "
                                f"run{'s' if data[(d, m)]['runs'] != 1 else ''})", 60) for d, m in keys}
    legend = legend_height(["gold", "near", "far"] + ["threshold"] * any(data[k]["thresholds"] for k in keys))
    fig = new_figure(len(keys) * (1.3 + legend) + 0.2 + LINE_IN * sum(t.count("\n") for t in titles.values()),
                     COLUMN_WIDTH_IN)
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    colours = {"gold": "#1b9e77", "near_miss": "#d95f02", "far": "#7570b3"}
    for ax, key in zip(axes, keys):
        entry = data[key]
        edges = np.asarray(entry["bins"])
        for group, label in GROUPS:
            counts = entry["groups"][group]
            total = counts.sum()
            share = counts / total if total else counts.astype(float)
            ax.stairs(share, edges, label=f"{label} (n={total})", color=colours[group], linewidth=1.0)
        thresholds = entry["thresholds"]
        if len(thresholds) == 1:
            ax.axvline(thresholds[0], color="black", linestyle="--", linewidth=0.8, label=_threshold_label(thresholds))
        elif thresholds:
            ax.axvspan(thresholds[0], thresholds[-1], color="grey", alpha=0.2, label=_threshold_label(thresholds))
        ax.set_title(titles[key], loc="left")
        ax.set_ylabel("share of spans")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel("sigmoid(z_id) on the eval split")
        legend_below(ax, *ax.get_legend_handles_labels())
    return fig
