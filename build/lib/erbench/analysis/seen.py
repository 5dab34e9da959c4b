"""Seen / unseen: does a model extract, or retain what it saw in training? (Taillé et al. 2020, 2021)

Every gold and every predicted tuple of a test document (benchmark.scoring's tuples, so symmetric
relations and ADE's overlap filter are handled exactly as in scoring) falls into one partition:

- entities (``ner``): **seen** when its lower-cased surface occurs with the same type among the training
  split's entities, else **unseen**;
- relations (``rel_strict`` and ``rel``): **exact** when the (head surface, tail surface, type) triple
  occurs in the training split; **partial** when not, but the head surface occurs as the head or the
  tail surface as the tail of a training relation of the same type; **new** otherwise. Relation
  surfaces are compared as written (case-sensitive); a symmetric type matches either order.

A tuple's partition depends on the tuple and the tokens only, so a true positive falls into the same
partition on both sides and per partition ``tp``/``fp``/``fn`` are plain set counts: precision is
over the predictions of that partition, recall over its gold tuples.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from erbench.datasets.load import Document, TypeInventory
from erbench.scoring import Counts, document_tuples, tuple_counts

ENTITY_PARTITIONS = ("seen", "unseen")
RELATION_PARTITIONS = ("exact", "partial", "new")


def partitions_of(setting: str) -> tuple[str, ...]:
    return ENTITY_PARTITIONS if setting == "ner" else RELATION_PARTITIONS


def surface(tokens: Sequence[str], start: int, end: int) -> str:
    return " ".join(tokens[start:end])


@dataclass(frozen=True)
class TrainIndex:
    entities: frozenset[tuple[str, str]]  # (lower-cased surface, entity type)
    triples: frozenset[tuple[str, str, str]]  # (head surface, tail surface, relation type)
    heads: frozenset[tuple[str, str]]  # (head surface, relation type)
    tails: frozenset[tuple[str, str]]  # (tail surface, relation type)


def train_index(docs: Iterable[Document], types: TypeInventory) -> TrainIndex:
    """What the training split shows a model: entity surfaces with types, relation triples and roles."""
    entities, triples, heads, tails = set(), set(), set(), set()
    for doc in docs:
        for e in doc.entities:
            entities.add((surface(doc.tokens, e.start, e.end).lower(), e.type))
        for rel in doc.relations:
            h, t = doc.entities[rel.head], doc.entities[rel.tail]
            hs, ts = surface(doc.tokens, h.start, h.end), surface(doc.tokens, t.start, t.end)
            pairs = [(hs, ts), (ts, hs)] if rel.type in types.symmetric else [(hs, ts)]
            for a, b in pairs:
                triples.add((a, b, rel.type))
                heads.add((a, rel.type))
                tails.add((b, rel.type))
    return TrainIndex(frozenset(entities), frozenset(triples), frozenset(heads), frozenset(tails))


def entity_partition(tokens: Sequence[str], item: tuple, index: TrainIndex) -> str:
    start, end, etype = item
    return "seen" if (surface(tokens, start, end).lower(), etype) in index.entities else "unseen"


def relation_partition(tokens: Sequence[str], item: tuple, index: TrainIndex) -> str:
    (hs, he, _), (ts, te, _), rtype = item
    head, tail = surface(tokens, hs, he), surface(tokens, ts, te)
    if (head, tail, rtype) in index.triples:
        return "exact"
    if (head, rtype) in index.heads or (tail, rtype) in index.tails:
        return "partial"
    return "new"


def _partition_fn(setting: str):
    return entity_partition if setting == "ner" else relation_partition


def split_tuples(tokens: Sequence[str], items: Iterable[tuple], index: TrainIndex, setting: str) -> dict[str, set]:
    part = _partition_fn(setting)
    out: dict[str, set] = {p: set() for p in partitions_of(setting)}
    for item in items:
        out[part(tokens, item, index)].add(item)
    return out


def partition_counts(
    gold: Sequence[Document],
    pred: Sequence[Document],
    types: TypeInventory,
    index: TrainIndex,
    setting: str,
    *,
    no_overlapping: bool = False,
) -> dict[str, list[Counts]]:
    """Per partition, per document, type -> (tp, fp, fn) (as benchmark.scoring.document_counts)."""
    if len(gold) != len(pred):
        raise ValueError(f"gold has {len(gold)} documents but predictions have {len(pred)}; they must align")
    out: dict[str, list[Counts]] = {p: [] for p in partitions_of(setting)}
    for i, (g, p) in enumerate(zip(gold, pred)):
        if tuple(g.tokens) != tuple(p.tokens):
            raise ValueError(f"document {i}: predicted tokens differ from gold tokens")
        gold_parts = split_tuples(g.tokens, document_tuples(g, types, setting, no_overlapping=no_overlapping),
                                  index, setting)
        pred_parts = split_tuples(p.tokens, document_tuples(p, types, setting, no_overlapping=no_overlapping),
                                  index, setting)
        for name in out:
            out[name].append(tuple_counts(frozenset(gold_parts[name]), frozenset(pred_parts[name])))
    return out


def gold_shares(gold: Sequence[Document], types: TypeInventory, index: TrainIndex, setting: str, *,
                no_overlapping: bool = False) -> dict[str, int]:
    """How many gold tuples of the test documents fall into each partition (a property of the data)."""
    out = {p: 0 for p in partitions_of(setting)}
    for doc in gold:
        parts = split_tuples(doc.tokens, document_tuples(doc, types, setting, no_overlapping=no_overlapping),
                             index, setting)
        for name, items in parts.items():
            out[name] += len(items)
    return out
