"""What a span model faces in one split: sizes, overlaps, wide entities, duplicates, imbalance.

`split_stats` returns plain, JSON-able numbers; `render_stats` prints them as rich tables.
Definitions (per split; "document" is one sentence, `L` its number of tokens, `n` its number
of gold entities, `M` = `max_span_size`):

- `overlapping_entities`: entities that share at least one token with another entity of the
  same document (nested ones included). `overlapping_pairs` counts the unordered pairs.
- `nested_entities`: entities that strictly contain, or lie strictly inside, another entity
  of the same document (identical spans cannot occur: the loader rejects them).
- `entities_wider_than_span_limit`: entities of width > M; a span model never enumerates them.
- `duplicate_relations`: exact copies of a (head, tail, type) triple within a document, counted
  as extra copies (three identical triples count 2).
- `candidate_spans` = sum over documents of sum_{w=1..min(L, M)} (L - w + 1), the spans a model
  of span limit M classifies. `negative_spans` = `candidate_spans` - (gold entities of width
  <= M). `span_neg_pos_ratio` = `negative_spans` / `entities` (all gold entities, the positives
  of SpERT's entity samples).
- `candidate_pairs` = sum over documents of n * (n - 1), the ordered pairs of distinct gold
  entities. `related_pairs`: ordered (head, tail) pairs carrying at least one relation.
  `negative_pairs` = `candidate_pairs` - `related_pairs`. `pair_neg_pos_ratio` =
  `negative_pairs` / `relations` (all relation triples, duplicates included; SpERT's positive
  relation samples are the `related_pairs`, which differ only by duplicates and multi-type pairs).

A ratio whose denominator is zero is `None` (JSON null).
"""

from __future__ import annotations

from collections import Counter

from erbench.datasets.load import Document, TypeInventory
from erbench.errors import UserInputError
from rich.console import Console
from rich.table import Table


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def candidate_span_count(n_tokens: int, max_span_size: int) -> int:
    """Spans of width 1..max_span_size in a sentence of n_tokens words."""
    top = min(n_tokens, max_span_size)
    return sum(n_tokens - w + 1 for w in range(1, top + 1))


def _overlaps(doc: Document) -> tuple[set[int], set[int], int]:
    """(indices of overlapping entities, indices of nested entities, overlapping unordered pairs)."""
    overlapping: set[int] = set()
    nested: set[int] = set()
    pairs = 0
    ents = doc.entities
    for i in range(len(ents)):
        a = ents[i]
        for j in range(i + 1, len(ents)):
            b = ents[j]
            if min(a.end, b.end) - max(a.start, b.start) <= 0:
                continue
            pairs += 1
            overlapping.update((i, j))
            a_in_b = b.start <= a.start and a.end <= b.end
            b_in_a = a.start <= b.start and b.end <= a.end
            if a_in_b or b_in_a:
                nested.update((i, j))
    return overlapping, nested, pairs


def split_stats(docs: list[Document], types: TypeInventory, max_span_size: int = 10) -> dict:
    """Counts and negative:positive ratios of one split (definitions in the module docstring)."""
    if max_span_size < 1:
        raise UserInputError(f"max_span_size: must be >= 1, got {max_span_size}")
    ent_types: Counter[str] = Counter()
    rel_types: Counter[str] = Counter()
    tokens = max_tokens = entities = relations = 0
    overlapping = nested = overlap_pairs = wide = duplicates = 0
    cand_spans = gold_in_limit = cand_pairs = related = 0
    for doc in docs:
        n_tok, n_ent = len(doc.tokens), len(doc.entities)
        tokens += n_tok
        max_tokens = max(max_tokens, n_tok)
        entities += n_ent
        relations += len(doc.relations)
        ent_types.update(e.type for e in doc.entities)
        rel_types.update(r.type for r in doc.relations)
        over, nest, pairs = _overlaps(doc)
        overlapping += len(over)
        nested += len(nest)
        overlap_pairs += pairs
        in_limit = sum(1 for e in doc.entities if e.width <= max_span_size)
        wide += n_ent - in_limit
        gold_in_limit += in_limit
        cand_spans += candidate_span_count(n_tok, max_span_size)
        triples = Counter((r.head, r.tail, r.type) for r in doc.relations)
        duplicates += sum(c - 1 for c in triples.values())
        cand_pairs += n_ent * (n_ent - 1)
        related += len({(r.head, r.tail) for r in doc.relations})
    neg_spans = cand_spans - gold_in_limit
    neg_pairs = cand_pairs - related
    # every type of the inventory in file order (zeros included), then any other name seen
    per_ent = {t: ent_types.get(t, 0) for t in types.entities}
    per_ent.update({t: c for t, c in sorted(ent_types.items()) if t not in per_ent})
    per_rel = {t: rel_types.get(t, 0) for t in types.relations}
    per_rel.update({t: c for t, c in sorted(rel_types.items()) if t not in per_rel})
    return {
        "documents": len(docs),
        "tokens": tokens,
        "avg_tokens": tokens / len(docs) if docs else 0.0,
        "max_tokens": max_tokens,
        "entities": entities,
        "relations": relations,
        "entities_per_type": per_ent,
        "relations_per_type": per_rel,
        "overlapping_entities": overlapping,
        "overlapping_pairs": overlap_pairs,
        "nested_entities": nested,
        "max_span_size": max_span_size,
        "entities_wider_than_span_limit": wide,
        "duplicate_relations": duplicates,
        "candidate_spans": cand_spans,
        "negative_spans": neg_spans,
        "span_neg_pos_ratio": _ratio(neg_spans, entities),
        "candidate_pairs": cand_pairs,
        "related_pairs": related,
        "negative_pairs": neg_pairs,
        "pair_neg_pos_ratio": _ratio(neg_pairs, relations),
    }


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(title: str, columns: list[str], splits: list[str], caption: str | None = None) -> Table:
    """A table whose first column (the split names) is never shortened on a narrow terminal."""
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left",
                  min_width=len(title))
    table.add_column(columns[0], no_wrap=True, min_width=max(len(s) for s in [columns[0], *splits]))
    for col in columns[1:]:
        table.add_column(col, justify="right")
    return table


def _per_type_table(title: str, key: str, stats: dict[str, dict]) -> Table | None:
    names: list[str] = []
    for s in stats.values():
        names.extend(t for t in s[key] if t not in names)
    if not names:
        return None
    table = _table(title, ["split", *names], list(stats))
    for split, s in stats.items():
        table.add_row(split, *(str(s[key].get(t, 0)) for t in names))
    return table


def render_stats(name: str, stats: dict[str, dict], console: Console) -> None:
    """Print `split -> split_stats(...)` as tables: size, structure, imbalance, entity and relation types."""
    if not stats:
        console.print(f"{name}: no splits")
        return
    splits = list(stats)
    limit = "/".join(str(x) for x in sorted({s["max_span_size"] for s in stats.values()}))

    size = _table(f"{name}: size", ["split", "docs", "tokens", "avg len", "max len", "entities", "relations"],
                  splits, caption="docs: documents (sentences); len: tokens per document")
    for split, s in stats.items():
        size.add_row(split, str(s["documents"]), str(s["tokens"]), f"{s['avg_tokens']:.1f}",
                     str(s["max_tokens"]), str(s["entities"]), str(s["relations"]))
    console.print(size)

    shape = _table(f"{name}: entity structure",
                   ["split", "overlapping", "nested", f"wider than {limit}", "duplicate relations"], splits,
                   caption="overlapping: entities sharing a token with another; nested: containing or inside "
                           f"another; wider than {limit}: never enumerated by the span model")
    for split, s in stats.items():
        shape.add_row(split, str(s["overlapping_entities"]), str(s["nested_entities"]),
                      str(s["entities_wider_than_span_limit"]), str(s["duplicate_relations"]))
    console.print(shape)

    imbalance = _table(f"{name}: negatives per positive (span limit {limit})",
                       ["split", "spans", "neg:pos spans", "pairs", "neg:pos pairs"], splits,
                       caption=f"spans: candidate spans of width <= {limit}; neg:pos spans: non-entity "
                               "spans per gold entity; pairs: ordered pairs of distinct gold entities; "
                               "neg:pos pairs: unrelated pairs per relation")
    for split, s in stats.items():
        imbalance.add_row(split, str(s["candidate_spans"]), _fmt_ratio(s["span_neg_pos_ratio"]),
                          str(s["candidate_pairs"]), _fmt_ratio(s["pair_neg_pos_ratio"]))
    console.print(imbalance)

    for title, key in ((f"{name}: entities per type", "entities_per_type"),
                       (f"{name}: relations per type", "relations_per_type")):
        table = _per_type_table(title, key, stats)
        if table is not None:
            console.print(table)
