"""The data of the HTML sentence browser: per dataset, gold vs each method's predictions on one unit.

One unit (seed, and fold on k-fold datasets) per dataset: the first one that every method with
predictions has, so each sentence shows every method's output on the same document. Tuples are
benchmark.scoring's (ADE's overlap filter applied, symmetric relations head-first), each predicted
tuple flagged right or wrong against gold. ``disagree`` marks a sentence whose methods' predicted
entity or strict relation sets differ; ``wrong`` one where some method differs from gold.
"""

from __future__ import annotations

from erbench.report.seen_tables import WHY
from erbench.report.tables import ReportTables, method_name
from erbench.report.text import unit_text
from erbench.scoring import document_tuples

MAX_DOCS = 3000  # per dataset: keeps index.html small on large test sets


def _ents(items) -> list[list]:
    return [[s, e, t] for s, e, t in sorted(items)]


def _rels(items) -> list[list]:
    return [[h[0], h[1], h[2], t[0], t[1], t[2], r] for h, t, r in sorted(items)]


def browser_data(tables: ReportTables) -> list[dict]:
    """[{dataset, unit, methods, names, total, truncated, docs: [...]}] for every dataset with predictions.

    docs are ordered as the browser shows them: sentences where the methods disagree first, then those
    with an error, then the rest, each group in document order (``i`` is the document's index).
    """
    out = []
    for d in tables.datasets:
        methods = [m for m in tables.methods if (d, m) in tables.runs]
        loaded = {}
        for m in methods:
            for unit, rec in tables.runs[(d, m)].items():
                docs = tables.docs.of(rec, WHY)
                if docs is not None:
                    loaded[(m, unit)] = (rec, docs)
        with_docs = [m for m in methods if any(k[0] == m for k in loaded)]
        common = [u for u in sorted({k[1] for k in loaded}, key=lambda u: (u[0], -1 if u[1] is None else u[1]))
                  if all((m, u) in loaded for m in with_docs)]
        if not with_docs or not common:
            continue
        unit = common[0]
        runs = {m: loaded[(m, unit)] for m in with_docs}
        first_rec, (gold_docs, _, types) = runs[with_docs[0]]
        no_overlap = bool(first_rec.protocol.get("no_overlapping", False))
        docs = []
        for i, gold in enumerate(gold_docs[:MAX_DOCS]):
            g_ent = document_tuples(gold, types, "ner", no_overlapping=no_overlap)
            g_rel = document_tuples(gold, types, "rel_strict", no_overlapping=no_overlap)
            preds, sets = {}, []
            for m in with_docs:
                _, (m_gold, m_pred, _) = runs[m]
                if i >= len(m_pred) or m_gold[i].tokens != gold.tokens:
                    continue
                p_ent = document_tuples(m_pred[i], types, "ner", no_overlapping=no_overlap)
                p_rel = document_tuples(m_pred[i], types, "rel_strict", no_overlapping=no_overlap)
                sets.append((p_ent, p_rel))
                preds[m] = {"e": [[*x, tuple(x) in g_ent] for x in _ents(p_ent)],
                            "r": [[*x, ((x[0], x[1], x[2]), (x[3], x[4], x[5]), x[6]) in g_rel] for x in _rels(p_rel)],
                            "missed_e": len(g_ent - p_ent), "missed_r": len(g_rel - p_rel)}
            docs.append({"i": i, "id": gold.orig_id, "tokens": list(gold.tokens), "gold": {"e": _ents(g_ent),
                         "r": _rels(g_rel)}, "pred": preds,
                         "disagree": len({(frozenset(e), frozenset(r)) for e, r in sets}) > 1,
                         "wrong": any(e != g_ent or r != g_rel for e, r in sets)})
        docs.sort(key=lambda doc: (not doc["disagree"], not doc["wrong"], doc["i"]))
        out.append({"dataset": d, "unit": unit_text(unit), "methods": with_docs,
                    "names": {m: method_name(tables, m) for m in with_docs}, "total": len(gold_docs),
                    "truncated": len(gold_docs) > MAX_DOCS, "docs": docs})
    return out
