"""Entity and relation scoring, reproducing SpERT's evaluator exactly (SPEC section 3).

Every document becomes a set of hashable tuples per setting:

- ``ner``: ``(start, end, entity_type)``
- ``rel_strict`` (RE+): ``((hs, he, head_type), (ts, te, tail_type), relation_type)``
- ``rel`` (RE, boundaries): the same with both entity types replaced by one pseudo type

Argument types come from the document's own entity list, so a gold document yields gold types and a
predicted document yields predicted types. Relations of a symmetric type are put head-first in text
order. Per document, each tuple of the union of gold and predicted tuples gets a gold label (its type
if gold, else none) and a predicted label (its type if predicted, else none); pooled over the corpus,
this gives precision, recall and F1 with sklearn's ``precision_recall_fscore_support`` semantics
(``labels`` = the types seen in gold or predictions, ``zero_division=0``), micro and macro, in percent.

Because a tuple carries its type, a tuple that is both gold and predicted has the same label on both
sides, so per document and type the sufficient statistics are just ``tp = |G & P|``, ``fp = |P - G|``
and ``fn = |G - P|``; ``document_counts`` returns them for sentence-level significance tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from erbench.datasets.load import Document, TypeInventory

SETTINGS = ("ner", "rel", "rel_strict")
PSEUDO_ENTITY_TYPE = "Entity"  # stands in for both argument types in the boundaries setting (RE)

Counts = dict[str, tuple[int, int, int]]  # type -> (tp, fp, fn)
Span = tuple[int, int, str]  # (start, end, type)


def _check_setting(setting: str) -> None:
    if setting not in SETTINGS:
        raise ValueError(f"unknown scoring setting {setting!r}; valid settings: {', '.join(SETTINGS)}")


def _overlap(a: Span, b: Span) -> bool:
    """SpERT's rule: different tuples whose half-open spans intersect (same span, other type overlaps)."""
    return a != b and not (a[1] <= b[0] or b[1] <= a[0])


def _entity_tuples(doc: Document, no_overlapping: bool) -> list[Span]:
    spans = [(e.start, e.end, e.type) for e in doc.entities]
    if no_overlapping:
        spans = [a for a in spans if not any(_overlap(a, b) for b in spans)]
    return spans


def _relation_tuples(doc: Document, types: TypeInventory, no_overlapping: bool) -> list[tuple]:
    rels = []
    for rel in doc.relations:
        head, tail = doc.entities[rel.head], doc.entities[rel.tail]
        h, t = (head.start, head.end, head.type), (tail.start, tail.end, tail.type)
        if rel.type in types.symmetric and t[0] < h[0]:
            h, t = t, h
        if no_overlapping and _overlap(h, t):
            continue
        rels.append((h, t, rel.type))
    return rels


def document_tuples(
    doc: Document, types: TypeInventory, setting: str, *, no_overlapping: bool = False
) -> frozenset:
    """The hashable tuples of one document for one setting; duplicates collapse.

    With ``no_overlapping`` (ADE), entities overlapping another entity of the same document are dropped,
    and so are relations whose two arguments overlap each other (judged with the argument types, as
    SpERT does, before the boundaries setting replaces them).
    """
    _check_setting(setting)
    if setting == "ner":
        return frozenset(_entity_tuples(doc, no_overlapping))
    rels = _relation_tuples(doc, types, no_overlapping)
    if setting == "rel":
        rels = [((h[0], h[1], PSEUDO_ENTITY_TYPE), (t[0], t[1], PSEUDO_ENTITY_TYPE), r) for h, t, r in rels]
    return frozenset(rels)


def _label(item: tuple) -> str:
    return item[-1]  # entity (start, end, type) and relation (head, tail, type) both end with their type


def tuple_counts(gold: frozenset, pred: frozenset) -> Counts:
    """Per type (tp, fp, fn) of one document's gold and predicted tuple sets."""
    counts: dict[str, list[int]] = {}
    for column, items in ((0, gold & pred), (1, pred - gold), (2, gold - pred)):
        for item in items:
            counts.setdefault(_label(item), [0, 0, 0])[column] += 1
    return {t: (c[0], c[1], c[2]) for t, c in counts.items()}


def _check_pair(gold: Sequence[Document], pred: Sequence[Document]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} documents but predictions have {len(pred)}; they must align")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if tuple(g.tokens) != tuple(p.tokens):
            raise ValueError(
                f"document {i}: predicted tokens differ from gold tokens "
                f"({len(p.tokens)} vs {len(g.tokens)} tokens); predictions must follow the gold file's order"
            )


def document_counts(
    gold: Sequence[Document],
    pred: Sequence[Document],
    types: TypeInventory,
    setting: str,
    *,
    no_overlapping: bool = False,
) -> list[Counts]:
    """Per document, type -> (tp, fp, fn): sufficient statistics for sentence-level significance tests."""
    _check_setting(setting)
    _check_pair(gold, pred)
    return [
        tuple_counts(
            document_tuples(g, types, setting, no_overlapping=no_overlapping),
            document_tuples(p, types, setting, no_overlapping=no_overlapping),
        )
        for g, p in zip(gold, pred)
    ]


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0  # sklearn's zero_division=0


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return p, r, _ratio(2 * p * r, p + r)


def _percent(p: float, r: float, f1: float) -> dict[str, float]:
    return {"p": 100.0 * p, "r": 100.0 * r, "f1": 100.0 * f1}


def scores_from_counts(counts: Iterable[Mapping[str, tuple[int, int, int]]]) -> dict:
    """Pool per-document counts into micro, macro and per-type P/R/F1 in percent.

    Types are those with any gold or predicted occurrence; with none, every score is 0.
    """
    pooled: dict[str, list[int]] = {}
    for doc in counts:
        for t, (tp, fp, fn) in doc.items():
            acc = pooled.setdefault(t, [0, 0, 0])
            acc[0], acc[1], acc[2] = acc[0] + tp, acc[1] + fp, acc[2] + fn
    pooled = {t: c for t, c in pooled.items() if any(c)}
    per_type_frac = {t: _prf(*c) for t, c in sorted(pooled.items())}
    micro = _prf(*(sum(c[i] for c in pooled.values()) for i in range(3)))
    n = len(per_type_frac)
    macro = tuple(_ratio(sum(v[i] for v in per_type_frac.values()), n) for i in range(3))
    per_type = {t: {**_percent(*v), "support": pooled[t][0] + pooled[t][2]} for t, v in per_type_frac.items()}
    return {"micro": _percent(*micro), "macro": _percent(*macro), "per_type": per_type}


def score(
    gold: Sequence[Document], pred: Sequence[Document], types: TypeInventory, *, no_overlapping: bool = False
) -> dict:
    """Scores of aligned gold and predicted documents for every setting: {setting: scores_from_counts}."""
    _check_pair(gold, pred)
    return {
        s: scores_from_counts(document_counts(gold, pred, types, s, no_overlapping=no_overlapping))
        for s in SETTINGS
    }


def flatten_metrics(scores: Mapping[str, Mapping], prefix: str) -> dict[str, float]:
    """Slash-grouped keys of `score`'s result.

    For example ``test/rel_strict/micro_f1``, ``test/ner/macro_p``, ``test/ner/per_type/Loc/f1`` and
    ``test/ner/per_type/Loc/support``; an empty prefix leaves the keys without a leading group.
    """
    head = f"{prefix}/" if prefix else ""
    flat: dict[str, float] = {}
    for setting, result in scores.items():
        for average in ("micro", "macro"):
            for metric, value in result[average].items():
                flat[f"{head}{setting}/{average}_{metric}"] = float(value)
        for t, values in result.get("per_type", {}).items():
            for metric, value in values.items():
                flat[f"{head}{setting}/per_type/{t}/{metric}"] = float(value)
    return flat
