"""Error kinds of one run's predictions: a method's gain is read as the kinds of error it removes.

Built on benchmark.scoring's tuples (so ADE's overlap filter and symmetric relations match scoring).
Every wrong prediction is one error of one kind; a gold tuple that no wrong prediction accounts for
is **missed**. A right span with a wrong type is therefore one error here (scoring counts it as one
false positive and one false negative).

Entities (start, end, type), each wrong prediction, in this order of precedence:
  ``wrong_type``     a gold entity has the same span and another type
  ``boundary``       a gold entity overlaps it with the same type (the boundaries are wrong)
  ``boundary_type``  a gold entity overlaps it with another type (boundaries and type wrong)
  ``spurious``       no gold entity overlaps it

Relations, strict (RE+) tuples ((hs, he, head type), (ts, te, tail type), type):
  ``wrong_type``     a gold relation has the same two arguments in the same direction and another type
  ``direction``      a gold relation has the same two arguments reversed (any type)
  ``argument``       a gold relation of the same type whose arguments each overlap the predicted ones in
                     the same direction, at least one not exactly (an argument's span or entity type wrong)
  ``spurious``       none of the above

A gold tuple matched by a wrong prediction (the first by precedence, then the largest overlap) is not
missed. Counts are integers per document, summed per run.
"""

from __future__ import annotations

from collections.abc import Sequence

from erbench.datasets.load import Document, TypeInventory
from erbench.scoring import document_tuples

ENTITY_KINDS = ("wrong_type", "boundary", "boundary_type", "spurious", "missed")
RELATION_KINDS = ("wrong_type", "direction", "argument", "spurious", "missed")
KIND_LABELS = {
    "wrong_type": "right span, wrong type", "boundary": "boundary error, right type",
    "boundary_type": "boundary and type wrong", "spurious": "spurious", "missed": "missed",
    "direction": "wrong direction", "argument": "an argument's entity wrong",
}
RELATION_KIND_LABELS = {**KIND_LABELS, "wrong_type": "wrong relation type"}


def _overlap(a: tuple, b: tuple) -> int:
    """Number of shared words of two (start, end, ...) spans."""
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def _entity_kind(p: tuple, gold: frozenset) -> tuple[str, tuple | None]:
    same_span = [g for g in gold if g[:2] == p[:2]]
    if same_span:
        return "wrong_type", same_span[0]
    near = sorted((g for g in gold if _overlap(g, p)), key=lambda g: (-_overlap(g, p), g))
    same_type = [g for g in near if g[2] == p[2]]
    if same_type:
        return "boundary", same_type[0]
    if near:
        return "boundary_type", near[0]
    return "spurious", None


def entity_errors(gold: frozenset, pred: frozenset) -> dict[str, int]:
    """Error kinds of one document's entity tuples."""
    counts = dict.fromkeys(ENTITY_KINDS, 0)
    explained = set()
    missing = gold - pred
    for p in sorted(pred - gold):
        kind, g = _entity_kind(p, missing)
        if g is None:  # overlaps only correctly predicted gold entities (or none)
            kind, _ = _entity_kind(p, gold)
        else:
            explained.add(g)
        counts[kind] += 1
    counts["missed"] = len(missing - explained)
    return counts


def _relation_kind(p: tuple, gold: frozenset) -> tuple[str, tuple | None]:
    (ph, pt, ptype) = p
    for g in sorted(gold):
        if g[0] == ph and g[1] == pt and g[2] != ptype:
            return "wrong_type", g
    for g in sorted(gold):
        if g[0] == pt and g[1] == ph:
            return "direction", g
    near = [g for g in gold if g[2] == ptype and _overlap(g[0], ph) and _overlap(g[1], pt)]
    if near:
        return "argument", max(sorted(near), key=lambda g: _overlap(g[0], ph) + _overlap(g[1], pt))
    return "spurious", None


def relation_errors(gold: frozenset, pred: frozenset) -> dict[str, int]:
    """Error kinds of one document's strict relation tuples."""
    counts = dict.fromkeys(RELATION_KINDS, 0)
    explained = set()
    missing = gold - pred
    for p in sorted(pred - gold):
        kind, g = _relation_kind(p, missing)
        if g is None:  # related only to correctly predicted gold relations (or none)
            kind, _ = _relation_kind(p, gold)
        else:
            explained.add(g)
        counts[kind] += 1
    counts["missed"] = len(missing - explained)
    return counts


def run_errors(gold: Sequence[Document], pred: Sequence[Document], types: TypeInventory, *,
               no_overlapping: bool = False) -> dict[str, dict[str, int]]:
    """{'entity': kind -> count, 'relation': kind -> count} summed over a run's documents."""
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} documents but predictions have {len(pred)}; they must align")
    total = {"entity": dict.fromkeys(ENTITY_KINDS, 0), "relation": dict.fromkeys(RELATION_KINDS, 0)}
    for g, p in zip(gold, pred):
        ents = entity_errors(document_tuples(g, types, "ner", no_overlapping=no_overlapping),
                             document_tuples(p, types, "ner", no_overlapping=no_overlapping))
        rels = relation_errors(document_tuples(g, types, "rel_strict", no_overlapping=no_overlapping),
                               document_tuples(p, types, "rel_strict", no_overlapping=no_overlapping))
        for kind, n in ents.items():
            total["entity"][kind] += n
        for kind, n in rels.items():
            total["relation"][kind] += n
    return total
