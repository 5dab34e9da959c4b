"""The "Across datasets" section (report.across) as Markdown lines, a booktabs LaTeX table and the
stats.json key. Pure functions returning text or JSON-able dicts; HTML renders the Markdown."""

from __future__ import annotations

from dataclasses import asdict

from erbench.report.across import METRICS, Across, AcrossRow
from erbench.report.tables import ReportTables, display_name, method_name
from erbench.report.text import format_p, latex_escape, latex_p, signed

WORDS = dict(METRICS)  # in sentences
SHORT = {"relation": "headline relation", "ner": "NER"}  # in table cells
TITLE = "Across datasets"


def verdict(tables: ReportTables, row: AcrossRow) -> str:
    """One sentence: on how many datasets the gain holds, by each method, and which."""
    n = len(row.datasets)

    def part(method: str, label: str) -> str:
        rep = row.bonferroni if method == "bonferroni" else row.fisher
        if not rep.k_hat:
            return f"no gain established on any of the {n} datasets by {label}"
        names = ", ".join(display_name(d) for d in row.identified(method))
        return f"a gain on at least {rep.k_hat} of {n} datasets by {label} ({names})"

    return (f"{method_name(tables, row.method)} vs {method_name(tables, row.baseline)} on {WORDS[row.metric]}: "
            f"{part('bonferroni', 'Bonferroni')}; {part('fisher', 'Fisher')}")


def intro(alpha: float) -> str:
    return (
        "Does a method's gain over a baseline hold on several datasets? Replicability analysis (Dror, Baumer, "
        "Bogomolov & Reichart 2017, TACL): per comparison, each dataset's one-sided p-value of \"method better "
        "than baseline\" (from the two-sided p of that dataset's marker test before Holm: p/2 when Δ > 0, else "
        "1 - p/2), on each dataset's headline relation column and on NER. Partial-conjunction p-values p^(u) "
        "for \"better on at least u of the N datasets\", u = 1..N, with p_(1) <= ... <= p_(N): Bonferroni "
        "(N - u + 1) p_(u), valid under any dependence; Fisher 1 - F_chi2(2(N-u+1))(-2 sum_{i>=u} ln p_(i)), "
        "which assumes independent datasets (here: different corpora, separate runs). Counting: k̂ = "
        f"max{{u : max_{{v<=u}} p^(v) <= {alpha:g}}}: the gain holds on at least k̂ datasets with the familywise "
        "error at alpha for that comparison (not corrected across the rows). Datasets: the k̂ smallest p-values "
        "(for Bonferroni, Holm's identification). A dataset without a test enters with p = 1.")


def md_across(tables: ReportTables, across: Across) -> list[str]:
    """The Markdown section; empty when the report has no rows (stats.json says why)."""
    if not across.rows:
        return []
    lines = [f"## {TITLE}", "", intro(across.alpha), "",
             "| Baseline | Method | Metric | Per dataset: column, Δ, one-sided p (test) | Marked better | "
             "p^(u) Bonferroni | k̂ Bonferroni | p^(u) Fisher | k̂ Fisher |",
             "|:--|:--|:--|:--|--:|:--|:--|:--|:--|"]
    for r in across.rows:
        per = "; ".join(f"{display_name(d)} {c}: {signed(diff)}, p={format_p(p)} ({t})"
                        + (" (no test)" if d in r.untested else "")
                        for d, c, diff, p, t in zip(r.datasets, r.columns, r.mean_diffs, r.pvalues, r.tests))
        n = len(r.datasets)
        cells = [method_name(tables, r.baseline), method_name(tables, r.method), SHORT[r.metric], per,
                 f"{r.marked} of {n}"]
        for method, rep in (("bonferroni", r.bonferroni), ("fisher", r.fisher)):
            names = ", ".join(display_name(d) for d in r.identified(method)) or "none"
            cells += [", ".join(format_p(p) for p in rep.pc_pvalues), f"{rep.k_hat} of {n} ({names})"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", "Verdicts:", ""] + [f"- {verdict(tables, r)}." for r in across.rows] + [""]
    return lines


def latex_across(tables: ReportTables, across: Across, options: dict | None = None) -> str | None:
    """across_datasets.tex: k̂ and the datasets per comparison as a booktabs table; None without rows."""
    from erbench.report.latex_layout import float_table

    if not across.rows:
        return None
    cells = []
    for r in across.rows:
        per = ", ".join(f"{latex_escape(display_name(d))} {latex_p(p)}" for d, p in zip(r.datasets, r.pvalues))
        row = [latex_escape(f"{method_name(tables, r.method)} vs {method_name(tables, r.baseline)}"),
               latex_escape(SHORT[r.metric]), per]
        for method, rep in (("bonferroni", r.bonferroni), ("fisher", r.fisher)):
            names = ", ".join(display_name(d) for d in r.identified(method)) or "none"
            row.append(f"{rep.k_hat}/{len(r.datasets)} ({latex_escape(names)})")
        cells.append(row)
    body = ["\\begin{tabular}{lllll}", "\\toprule",
            "Comparison & Metric & One-sided $p$ per dataset & $\\hat{k}$ Bonferroni & $\\hat{k}$ Fisher \\\\",
            "\\midrule", *[" & ".join(c) + " \\\\" for c in cells], "\\bottomrule", "\\end{tabular}"]
    caption = ("Across datasets (replicability analysis, Dror et al.\\ 2017): $\\hat{k}$ of $N$ datasets on which "
               "the method is better than the baseline with the familywise error at "
               f"$\\alpha={across.alpha:g}$ (partial-conjunction counting; Bonferroni: any dependence, Fisher: "
               "independent datasets), and which datasets (the $\\hat{k}$ smallest one-sided $p$). Metric: each "
               "dataset's headline relation column, or NER.")
    return "\n".join(float_table(cells, body, caption, "tab:erbench-across", options)) + "\n"


def across_json(across: Across) -> dict:
    """The stats.json key `across_datasets`: rows, or why there are none."""
    rows = []
    for r in across.rows:
        row = {k: v for k, v in asdict(r).items() if k not in ("bonferroni", "fisher")}
        row["one_sided_pvalues"] = row.pop("pvalues")
        for method in ("bonferroni", "fisher"):
            rep = getattr(r, method)
            row[method] = {"pc_pvalues": rep.pc_pvalues, "pc_monotone": rep.pc_monotone, "k_hat": rep.k_hat,
                           "datasets": list(r.identified(method))}
        rows.append(row)
    return {"shown": bool(rows), "why_absent": across.why_absent or None, "alpha": across.alpha,
            "reference": "Dror, Baumer, Bogomolov & Reichart 2017, TACL 5 (replicability analysis)",
            "pvalue": "one-sided p of 'method better than baseline' from the marker test's two-sided p before Holm",
            "rows": rows}
