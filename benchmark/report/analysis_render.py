"""Markdown sections, a LaTeX table and the stats.json part of the analyses (protocol card, seeds,
seen / unseen, error breakdown). Pure functions returning text or JSON-able dicts."""

from __future__ import annotations

import math

from erbench.analysis.errors import ENTITY_KINDS, KIND_LABELS, RELATION_KIND_LABELS, RELATION_KINDS
from erbench.analysis.seeds import EFFECT, TARGET_POWER
from erbench.analysis.seen import partitions_of
from erbench.report.across import across_datasets
from erbench.report.across_render import across_json
from erbench.report.analysis_tables import Analysis
from erbench.report.tables import SETTINGS, ReportTables, display_name, method_name
from erbench.report.text import LATEX, MARKERS, format_p, latex_escape, number, score_cell, signed

LABELS = dict(SETTINGS)
DIGITS = 2


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _f(x: float, digits: int = DIGITS) -> str:
    return number(x, digits)


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def md_protocol_card(tables: ReportTables) -> list[str]:
    names = list(tables.datasets)
    lines = ["## Protocol card", "",
             _row(["Setting"] + [display_name(d) for d in names]), _row([":--"] * (1 + len(names)))]
    cards = [tables.datasets[d].card for d in names]
    for i, row in enumerate(cards[0].rows):
        cells = []
        for card in cards:
            r = card.rows[i]
            cells.append(("**mixed:** " if r.mixed else "") + _md(r.value))
        lines.append(_row([row.label] + cells))
    lines.append("")
    return lines


def md_seeds(tables: ReportTables, analysis: Analysis) -> list[str]:
    alpha = tables.settings["alpha"]
    lines = ["## How many seeds are enough", "",
             f"Power of the two-sided paired t-test from the observed standard deviation of the per-seed "
             f"differences (folds averaged per seed), at Holm's most demanding level alpha/m (alpha={alpha:g}, m = the "
             f"baseline's family size): the level a marker needs in the worst case. Seeds needed to detect a "
             f"{EFFECT:g}-point F1 gap with {TARGET_POWER:.0%} power: plug-in, and in brackets the range over the 95% "
             "chi-square confidence interval of the sd (3-5 seeds pin the sd down poorly).", "",
             _row(["Dataset", "Column", "Method", "Baseline", "n", "Δ mean", "sd(Δ)", "power at Δ",
                   f"power at {EFFECT:g} pt", f"seeds for {EFFECT:g} pt", "Verdict"]),
             _row(["---"] * 4 + ["--:"] * 6 + ["---"])]
    if not tables.results:
        lines[-2:] = ["No paired comparisons (a single method, or no baseline among the methods).", ""]
    for rs in tables.results.values():
        for r in rs:
            pw = analysis.power_of(r)
            need = pw.needed_text()
            lines.append(_row([display_name(r.column.dataset), f"{r.column.label} ({r.column.average})",
                               method_name(tables, r.method), method_name(tables, r.baseline), pw.n,
                               signed(pw.mean_diff), _f(pw.diffs_std),
                               _f(pw.power_observed), _f(pw.power_effect), need, pw.verdict(r.significant)]))
    lines += ["", "Expected maximum F1 over k seeds (Dodge et al. 2019; k=1 is the mean): what a best-of-k number "
              "would report, estimated without bias from the n observed seeds as the mean maximum over all k-subsets "
              "(k <= n). Folds are averaged per seed first.", ""]
    ks = max((len(v) for v in analysis.expected_max.values()), default=0)
    lines += [_row(["Dataset", "Column", "Method"] + [f"k={k}" for k in range(1, ks + 1)]),
              _row(["---"] * 3 + ["--:"] * ks)]
    for (d, s, m), curve in analysis.expected_max.items():
        col = next(c for c in tables.columns if (c.dataset, c.setting) == (d, s))
        lines.append(_row([display_name(d), f"{col.label} ({col.average})", method_name(tables, m)]
                          + [_f(v) for v in curve] + ["–"] * (ks - len(curve))))
    lines.append("")
    return lines


def md_reproduction(tables: ReportTables, analysis: Analysis) -> list[str]:
    """Each published number beside the measured distribution over seeds, with its verdict."""
    if not analysis.reproduction:
        return []
    lines = ["## Reproduction of published numbers", "",
             "Each published number (params `report.published`) beside the measured mean over seeds (folds averaged "
             "per seed), its 95% t interval, the min-max over seeds and the expected maximum over k seeds with k = "
             "the paper's seed count. Verdict: *outside the measured range*; *matches the best of k rather than the "
             "mean* (above the interval and nearer the expected maximum than the mean); else *inside the seed "
             "distribution*. Each verdict names the encoder of the published number (SPEC 3) and of the runs: "
             "where they differ, the runs do not attempt to reproduce that number and a gap is no failed "
             "reproduction.", "",
             _row(["Dataset", "Method", "Metric", "Published", "Source", "Encoder (paper)", "Encoder (runs)", "k",
                   "n", "Mean", "95% CI (t)", "Min-max", "E[max of k]", "Verdict"]),
             _row(["---"] * 3 + ["--:"] + ["---"] * 3 + ["--:"] * 6 + ["---"])]
    for r in analysis.reproduction:
        ci = "–" if math.isnan(r.ci_low) else f"[{r.ci_low:.2f}, {r.ci_high:.2f}]"
        source = _md(r.source + (f" ({r.note})" if r.note else ""))
        lines.append(_row([display_name(r.dataset), method_name(tables, r.method), r.metric, f"{r.value:.2f}", source,
                           _md(r.paper_encoder or "not known"), _md(r.run_encoder), r.seeds, r.n, _f(r.mean), ci,
                           f"{r.low:.2f}-{r.high:.2f}", _f(r.expected_max), r.verdict]))
    return lines + [""]


def seeds_phrase(tables: ReportTables, analysis: Analysis) -> str:
    """One sentence for captions: the seeds the unmarked headline comparisons would need for a 1-point gap."""

    parts = []
    for d in tables.datasets:
        setting = tables.datasets[d].relation
        needs = [analysis.power_of(r).seeds_needed for rs in tables.results.values() for r in rs
                 if (r.column.dataset, r.column.setting) == (d, setting) and not r.significant
                 and analysis.power_of(r).diffs_std > 0]
        if needs:
            worst = "> 1000" if any(n is None for n in needs) else str(max(needs))
            parts.append(f"{display_name(d)} {LABELS[setting]}: {worst}")
    if not parts:
        return ""
    return (f"No marker does not mean no difference: detecting a {EFFECT:g}-point gap with {TARGET_POWER:.0%} power "
            f"would need up to "
            f"this many paired seeds ({'; '.join(parts)}).")


def md_seen(tables: ReportTables, analysis: Analysis) -> list[str]:
    lines = ["## Seen / unseen (after Taillé et al. 2021)", ""]
    seen = analysis.seen
    if seen is None:
        return lines + ["Not computed: no staged training split or no predictions.jsonl (see Warnings).", ""]
    lines += ["Entities: *seen* when their lower-cased surface occurs with the same type in the training split. "
              "Relations: *exact* when the (head, tail, type) triple occurs in training, *partial* when one "
              "argument occurs in the same role of a training relation of that type, *new* otherwise. "
              "P / R / F1 per partition, mean over seeds; markers as in the main table (paired t-test, Holm over "
              "each baseline's partition comparisons); ASO is not run here.", ""]
    markers = {b: i for i, b in enumerate(seen.results)}
    for d, settings in seen.settings.items():
        for setting in settings:
            parts = partitions_of(setting)
            share = seen.shares.get((d, setting), {})
            total = sum(share.values()) or 1
            head = ", ".join(f"{p} {share.get(p, 0)} ({100 * share.get(p, 0) / total:.0f}%)" for p in parts)
            lines += [f"**{display_name(d)} {LABELS[setting]} ({seen.average[d]})**: test gold tuples {head}", "",
                      _row(["Method"] + [f"{p} {x}" for p in parts for x in ("P", "R", "F1")]),
                      _row([":--"] + ["--:"] * (3 * len(parts)))]
            for m in tables.methods:
                cells = []
                for p in parts:
                    c = seen.cells.get((d, setting, p, m))
                    if c is None:
                        cells += ["–"] * 3
                        continue
                    mark = ""
                    for base, rs in seen.results.items():
                        for r in rs:
                            if (r.dataset, r.setting, r.partition, r.method) == (d, setting, p, m) and r.direction:
                                mark += MARKERS[markers[base]][2 if r.direction > 0 else 3]
                    cells += [_f(sum(c.p) / len(c.p)), _f(sum(c.r) / len(c.r)),
                              score_cell(c.summary.mean, c.summary.std, marks=mark)]
                lines.append(_row([method_name(tables, m)] + cells))
            lines.append("")
    for base, rs in seen.results.items():
        lines += [f"Comparisons against {method_name(tables, base)} (Holm over {len(rs)} comparisons):", "",
                  _row(["Dataset", "Column", "Partition", "Method", "n", "Δ F1", "p (t)", "p (t, Holm)",
                        "p (AR, pooled)", "Verdict"]), _row(["---"] * 4 + ["--:"] * 5 + ["---"])]
        for r in rs:
            lines.append(_row([display_name(r.dataset), LABELS[r.setting], r.partition, method_name(tables, r.method),
                               r.comparison.n, signed(r.comparison.mean_diff), format_p(r.comparison.t_pvalue),
                               format_p(r.t_holm), format_p(r.comparison.ar_pvalue), r.power.verdict(r.significant)]))
        lines.append("")
    return lines


def md_errors(tables: ReportTables, analysis: Analysis) -> list[str]:
    lines = ["## Error breakdown", "",
             "Mean number of errors per run on the evaluation split (each wrong prediction is one error of one kind; "
             "a gold tuple no wrong prediction accounts for is *missed*). Relations on strict (RE+) tuples. The "
             "Δ rows are method minus the first baseline: negative numbers are the errors a method removes.", ""]
    if not analysis.errors:
        return lines + ["Not computed: no run has predictions.jsonl.", ""]
    base = next(iter(tables.results), tables.methods[0] if tables.methods else None)
    for group, kinds, labels in (("entity", ENTITY_KINDS, KIND_LABELS), ("relation", RELATION_KINDS,
                                                                          RELATION_KIND_LABELS)):
        lines += [_row(["Dataset", f"{group.capitalize()} errors"] + [labels[k] for k in kinds] + ["total"]),
                  _row(["---", "---"] + ["--:"] * (len(kinds) + 1))]
        for (d, m), cell in analysis.errors.items():
            means = [cell.mean(group, k) for k in kinds]
            lines.append(_row([display_name(d), method_name(tables, m)] + [f"{v:.1f}" for v in means]
                              + [f"{sum(means):.1f}"]))
            ref = analysis.errors.get((d, base))
            if ref is not None and m != base:
                deltas = [cell.mean(group, k) - ref.mean(group, k) for k in kinds]
                delta = f"Δ {method_name(tables, m)} − {method_name(tables, base)}"
                lines.append(_row([display_name(d), delta] + [f"{v:+.1f}" for v in deltas]
                                  + [f"{sum(deltas):+.1f}"]))
        lines.append("")
    return lines


def _diff_text(c: dict | None) -> str:
    if c is None:
        return "(itself)"
    if not c.get("n"):
        return f"no run of {c.get('missing', '?')}"
    p = "" if math.isnan(c["p"]) else f", p={c['p']:.3g}"
    return f"{signed(c['diff'])} (n={c['n']}, {c['test']}{p})"


def md_sensitivity(tables: ReportTables, analysis: Analysis) -> list[str]:
    """The "Interpretation sensitivity" section (benchmark.report.choices); empty without declared choices."""
    rows = analysis.sensitivity
    if not rows:
        return []
    lines = ["## Interpretation sensitivity", "",
             "Each declared choice (a named override set of a method) on its dataset's headline, against the "
             "method as specified and against SpERT, paired by seed (and fold).", "",
             "| Dataset | Variant | Varies | Overrides | Split | Score | vs as specified | vs SpERT |",
             "|:--|:--|:--|:--|:--|--:|:--|:--|"]
    for r in rows:
        sets = ", ".join(f"{k}={v}" for k, v in sorted(r["set"].items())) or "none"
        lines.append(f"| {tables.datasets[r['dataset']].display} | {method_name(tables, r['variant'])} | "
                     f"{method_name(tables, r['base_method'])} | {sets} | {r['split']} | "
                     f"{score_cell(r['mean'], r['std'])} (n={r['n']}) | {_diff_text(r['vs_specified'])} | "
                     f"{_diff_text(r['vs_spert'])} |")
    lines += ["", "Differences: variant minus the other method's mean over the paired units, in F1 points. "
              "Holm: the main table's test, corrected within its baseline's comparisons; uncorrected: this "
              "section's own test on the same units.", ""]
    return lines


def _latex_diff(c: dict | None) -> str:
    if c is None:
        return "--"
    if not c.get("n"):
        return "n/a"
    p = "" if math.isnan(c["p"]) else f" ($p$={format_p(c['p'])})"
    return f"${signed(c['diff'])}${p}"


def latex_sensitivity(tables: ReportTables, analysis: Analysis, options: dict | None = None) -> str | None:
    """sensitivity.tex: the "Interpretation sensitivity" rows as a booktabs table, in the float the report's
    latex options choose for its width (latex.float_table); None without choices."""
    from erbench.report.latex_layout import float_table

    rows = analysis.sensitivity
    if not rows:
        return None
    cells = []
    for r in rows:
        sets = ", ".join(f"{k}={v}" for k, v in sorted(r["set"].items())) or "none"
        cells.append([latex_escape(tables.datasets[r["dataset"]].display),
                      latex_escape(method_name(tables, r["variant"])), f"\\texttt{{{latex_escape(sets)}}}",
                      score_cell(r["mean"], r["std"], style=LATEX), _latex_diff(r["vs_specified"]),
                      _latex_diff(r["vs_spert"])])
    body = ["\\begin{tabular}{lllcll}", "\\toprule",
            "Dataset & Variant & Overrides & F1 & $\\Delta$ vs as specified & $\\Delta$ vs SpERT \\\\", "\\midrule",
            *[" & ".join(c) + " \\\\" for c in cells], "\\bottomrule", "\\end{tabular}"]
    n = max(r["n"] for r in rows)
    caption = ("Interpretation sensitivity: each named variant's headline F1 (\\%, "
               + (f"mean $\\pm$ std over up to {n} seeds" if n > 1 else "one run each")
               + ") and its paired difference from the method as specified and from SpERT, in F1 points; $p$ "
               "from the main table's test (Holm within its baseline's comparisons) or, where the other method is "
               "no baseline, the same test uncorrected.")
    texttt = max(len(c[2]) for c in cells) * 1.1  # typewriter letters run wider than the estimate's 4.2pt
    return "\n".join(float_table(cells, body, caption, "tab:erbench-sensitivity", options,
                                  [0, 0, texttt, 0, 15.0, 0])) + "\n"  # "Δ vs as specified" runs past its cells


def latex_seen(tables: ReportTables, analysis: Analysis, options: dict | None = None) -> str | None:
    """A booktabs table of F1 per partition (mean +- std), in the float the report's latex options choose
    for its width (latex.float_table); None without a seen/unseen split."""
    from erbench.report.latex_layout import float_table
    from erbench.report.render import split_phrase

    seen = analysis.seen
    if seen is None:
        return None
    cols = [(d, s, p) for d, sets in seen.settings.items() for s in sets for p in partitions_of(s)]
    rows = []
    for m in tables.methods:
        cells = [latex_escape(method_name(tables, m))]
        for d, s, p in cols:
            c = seen.cells.get((d, s, p, m))
            cells.append("--" if c is None else score_cell(c.summary.mean, c.summary.std, style=LATEX))
        rows.append(cells)
    body = ["\\begin{tabular}{l" + "c" * len(cols) + "}", "\\toprule",
            "Method & " + " & ".join(f"{latex_escape(display_name(d))} {LABELS[s]} {p}" for d, s, p in cols)
            + " \\\\", "\\midrule", *[" & ".join(r) + " \\\\" for r in rows], "\\bottomrule", "\\end{tabular}"]
    split = split_phrase(tables)
    caption = (f"F1 (\\%) per partition of the {'test' if split == 'test' else 'evaluation-split'} tuples by "
               "overlap with the training split (after Taill\\'e et al. 2021): entities seen/unseen, relations "
               "exact/partial/new; mean $\\pm$ std over seeds.")
    headers = [0.0] + [_header_pt(f"{display_name(d)} {LABELS[s]} {p}") for d, s, p in cols]
    return "\n".join(float_table(rows, body, caption, "tab:erbench-seen", options, headers)) + "\n"


def _header_pt(text: str) -> float:
    """How much wider than a score cell (~60pt) a column's header runs."""
    return max(0.0, 4.2 * len(text) - 60.0)


def analysis_json(tables: ReportTables, analysis: Analysis) -> dict:
    """The stats.json keys of the analyses (nan is turned into null by render.jsonable)."""
    from dataclasses import asdict

    def unit(u):
        return {"seed": u[0], "fold": u[1]}

    seeds = {
        "effect": EFFECT, "target_power": TARGET_POWER, "alpha": tables.settings["alpha"],
        "comparisons": [{"baseline": r.baseline, "dataset": r.column.dataset, "setting": r.column.setting,
                         "metric": r.column.key, "method": r.method, "significant": r.significant,
                         **asdict(analysis.power_of(r)), "verdict": analysis.power_of(r).verdict(r.significant)}
                        for rs in tables.results.values() for r in rs],
        "expected_max": [{"dataset": d, "setting": s, "method": m, "k": list(range(1, len(c) + 1)), "value": c}
                         for (d, s, m), c in analysis.expected_max.items()],
        "expected_max_estimator": "unbiased: mean maximum over all k-subsets of the observed seeds",
        "power_level": "alpha / m (Holm's most demanding step, m = the baseline's family size)",
    }
    seen = None
    if analysis.seen is not None:
        st = analysis.seen
        seen = {
            "settings": st.settings, "average": st.average, "skipped": st.skipped,
            "gold_shares": [{"dataset": d, "setting": s, **v} for (d, s), v in st.shares.items()],
            "cells": [{"dataset": c.dataset, "setting": c.setting, "partition": c.partition, "method": c.method,
                       "n": c.summary.n, "f1_mean": c.summary.mean, "f1_std": c.summary.std,
                       "p_mean": sum(c.p) / len(c.p), "r_mean": sum(c.r) / len(c.r),
                       "values": [{**unit(u), "p": p, "r": r, "f1": f, "gold": g, "predicted": n}
                                  for u, p, r, f, g, n in zip(c.units, c.p, c.r, c.f1, c.gold, c.predicted)]}
                      for c in st.cells.values()],
            "comparisons": {b: [{"dataset": r.dataset, "setting": r.setting, "partition": r.partition,
                                 "method": r.method, "n": r.comparison.n, "mean_diff": r.comparison.mean_diff,
                                 "t_pvalue": r.comparison.t_pvalue, "t_pvalue_holm": r.t_holm,
                                 "ar_pvalue": r.comparison.ar_pvalue, "ar_pvalue_holm": r.ar_holm,
                                 "significant": r.significant, "direction": r.direction,
                                 "verdict": r.power.verdict(r.significant), "power": asdict(r.power)} for r in rs]
                            for b, rs in st.results.items()},
        }
    errors = [{"dataset": c.dataset, "method": c.method, "units": [unit(u) for u in c.units],
               "entity": {k: {"mean": c.mean("entity", k), "per_run": v} for k, v in c.entity.items()},
               "relation": {k: {"mean": c.mean("relation", k), "per_run": v} for k, v in c.relation.items()}}
              for c in analysis.errors.values()]
    per_type = [{"dataset": d, "setting": s, "method": m, "types": {t: asdict(v) for t, v in types.items()}}
                for (d, s, m), types in analysis.per_type.items()]
    learning = [asdict(c) for c in analysis.learning]
    cards = {d: {"rows": [asdict(r) for r in info.card.rows], "negatives": info.card.negatives,
                 "sha256": info.card.sha256, "git_commit": info.card.git_commit,
                 "mixed": [{"key": m.key, "values": {v: list(ls) for v, ls in m.values}} for m in info.card.mismatches]}
             for d, info in tables.datasets.items()}
    reproduction = [asdict(r) for r in analysis.reproduction]
    across = across_json(analysis.across if analysis.across is not None else across_datasets(tables))
    return {"across_datasets": across, "reproduction": reproduction,
            "protocol_cards": cards, "mixed_protocol": any(i.mixed for i in tables.datasets.values()),
            "seeds": seeds, "seen_unseen": seen, "errors": errors, "per_type": per_type, "learning_curves": learning}
