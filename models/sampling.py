"""Training samples of SPEC 2, redrawn every epoch from an explicit numpy Generator.

Per document: every gold entity (any width), `neg_entity_count` non-gold spans of width
<= max_span_size drawn uniformly without replacement; one positive sample per ordered gold
entity pair with a multi-hot target over relation types; `neg_relation_count` ordered pairs
of distinct gold entities that carry no relation (all-zero target). As in SpERT's reference
sampler, the reversed pair of a symmetric relation counts as unrelated: symmetric relations
are stored head-first in text order, and inference puts symmetric pairs in that order too.

`rel_negatives: with_nonentity` widens the pool of negative pairs to every ordered pair of two
distinct sampled spans (gold or negative-sampled) that is not related, so the relation side also
sees pairs with a non-entity argument, as it does at inference; the count stays `neg_relation_count`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from erbench.models.documents import Document, TypeInventory
from erbench.models.encoder import EncodedDocument
from erbench.models.spans import enumerate_spans, max_iou


@dataclass(frozen=True)
class TrainSample:
    """One document's samples; spans are word spans [start, end)."""

    entity_spans: np.ndarray  # [n_e, 2] int64, gold entities first
    entity_types: np.ndarray  # [n_e] int64, 0 = no entity, k = types.entities[k - 1]
    entity_iou: np.ndarray  # [n_e] float32, IoU* with the gold entities (1 for gold)
    rel_pairs: np.ndarray  # [n_r, 2] int64 indices into entity_spans, positives first
    rel_types: np.ndarray  # [n_r, R] float32 multi-hot


def canonical_relations(doc: Document, types: TypeInventory, n_words: int) -> dict[tuple[int, int], set[str]]:
    """(head entity index, tail entity index) -> relation types, symmetric types in text order.

    Entities beyond the kept words (truncated documents) and their relations are dropped.
    """
    pairs: dict[tuple[int, int], set[str]] = {}
    for rel in doc.relations:
        head, tail = rel.head, rel.tail
        if doc.entities[head].end > n_words or doc.entities[tail].end > n_words:
            continue
        if rel.type in types.symmetric and doc.entities[tail].start < doc.entities[head].start:
            head, tail = tail, head
        pairs.setdefault((head, tail), set()).add(rel.type)
    return pairs


def _gold(enc: EncodedDocument, types: TypeInventory) -> tuple[list[int], np.ndarray, np.ndarray]:
    kept = [i for i, e in enumerate(enc.doc.entities) if e.end <= enc.n_words]
    spans = np.asarray([enc.doc.entities[i].span for i in kept], dtype=np.int64).reshape(-1, 2)
    labels = np.asarray([types.entities.index(enc.doc.entities[i].type) + 1 for i in kept], dtype=np.int64)
    return kept, spans, labels


def negative_span_candidates(enc: EncodedDocument, max_span_size: int, gold_spans: np.ndarray) -> np.ndarray:
    spans = enumerate_spans(enc.n_words, max_span_size)
    if len(gold_spans) == 0 or len(spans) == 0:
        return spans
    gold = {tuple(s) for s in gold_spans.tolist()}
    keep = np.fromiter((tuple(s) not in gold for s in spans.tolist()), dtype=bool, count=len(spans))
    return spans[keep]


def _negative_pairs(gold_spans: np.ndarray, positive: set[tuple[int, int]]) -> list[tuple[int, int]]:
    n = len(gold_spans)
    spans = [tuple(s) for s in gold_spans.tolist()]
    positive_spans = {(spans[i], spans[j]) for i, j in positive}
    return [
        (i, j) for i in range(n) for j in range(n)
        if spans[i] != spans[j] and (spans[i], spans[j]) not in positive_spans
    ]


def _pairs_with_a_negative(n_gold: int, n_all: int) -> np.ndarray:
    """Ordered pairs (i, j), i != j, of sample rows where at least one is a negative-sampled span
    (rows >= n_gold); such pairs never repeat a span and are never related."""
    i, j = np.meshgrid(np.arange(n_all), np.arange(n_all), indexing="ij")
    keep = (i != j) & ((i >= n_gold) | (j >= n_gold))
    return np.stack([i[keep], j[keep]], axis=1).astype(np.int64)


def negative_pair_count(n_gold_negatives: int, n_gold: int, n_all: int, rel_negatives: str) -> int:
    """Size of the pool negative pairs are drawn from."""
    if rel_negatives == "gold":
        return n_gold_negatives
    return n_gold_negatives + n_all * (n_all - 1) - n_gold * (n_gold - 1)


def sample_document(
    enc: EncodedDocument,
    types: TypeInventory,
    rng: np.random.Generator,
    *,
    neg_entity_count: int,
    neg_relation_count: int,
    max_span_size: int,
    rel_negatives: str = "gold",
) -> TrainSample:
    kept, gold_spans, gold_labels = _gold(enc, types)
    position = {orig: k for k, orig in enumerate(kept)}
    candidates = negative_span_candidates(enc, max_span_size, gold_spans)
    n_neg = min(len(candidates), neg_entity_count)
    neg_spans = candidates[rng.choice(len(candidates), size=n_neg, replace=False)] if n_neg else candidates[:0]
    spans = np.concatenate([gold_spans, neg_spans]).astype(np.int64)
    labels = np.concatenate([gold_labels, np.zeros(n_neg, dtype=np.int64)])
    ious = np.concatenate([np.ones(len(gold_spans), np.float32), max_iou(neg_spans, gold_spans)])

    n_rel = len(types.relations)
    relations = canonical_relations(enc.doc, types, enc.n_words)
    pos = {(position[h], position[t]): r for (h, t), r in relations.items()}
    pos_pairs = sorted(pos)
    pos_targets = np.zeros((len(pos_pairs), n_rel), dtype=np.float32)
    for row, pair in enumerate(pos_pairs):
        for rtype in pos[pair]:
            pos_targets[row, types.relations.index(rtype)] = 1.0
    negatives = _negative_pairs(gold_spans, set(pos_pairs))
    if rel_negatives == "with_nonentity":
        pool = np.concatenate([np.asarray(negatives, dtype=np.int64).reshape(-1, 2),
                               _pairs_with_a_negative(len(gold_spans), len(spans))])
        negatives = [tuple(p) for p in pool.tolist()]
    n_neg_rel = min(len(negatives), neg_relation_count)
    chosen = rng.choice(len(negatives), size=n_neg_rel, replace=False) if n_neg_rel else []
    neg_pairs = [negatives[i] for i in chosen]
    pairs = np.asarray(pos_pairs + neg_pairs, dtype=np.int64).reshape(-1, 2)
    targets = np.concatenate([pos_targets, np.zeros((n_neg_rel, n_rel), dtype=np.float32)])
    return TrainSample(spans, labels, ious, pairs, targets)


def class_counts(
    encoded: list[EncodedDocument], types: TypeInventory, *, neg_entity_count: int, neg_relation_count: int,
    max_span_size: int, rel_negatives: str = "gold",
) -> dict[str, list[float]]:
    """Per-class sample counts of one epoch for the class-balanced loss (SPEC 5).

    entity: [expected sampled negative spans, gold mentions of each type];
    relation: [expected sampled unrelated pairs, positive pairs carrying each type].
    """
    entity = np.zeros(1 + len(types.entities))
    relation = np.zeros(1 + len(types.relations))
    for enc in encoded:
        kept, gold_spans, labels = _gold(enc, types)
        for label in labels:
            entity[label] += 1
        n_neg = min(neg_entity_count, len(negative_span_candidates(enc, max_span_size, gold_spans)))
        entity[0] += n_neg
        position = {orig: k for k, orig in enumerate(kept)}
        relations = canonical_relations(enc.doc, types, enc.n_words)
        for rtypes in relations.values():
            for rtype in rtypes:
                relation[1 + types.relations.index(rtype)] += 1
        positive = {(position[h], position[t]) for h, t in relations}
        pool = negative_pair_count(len(_negative_pairs(gold_spans, positive)), len(gold_spans),
                                   len(gold_spans) + n_neg, rel_negatives)
        relation[0] += min(neg_relation_count, pool)
    return {"entity": entity.tolist(), "relation": relation.tolist()}
