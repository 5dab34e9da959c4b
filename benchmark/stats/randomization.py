"""Sentence-level approximate randomization on per-document sufficient statistics (tp, fp, fn per type),
with one swap per document and trial shared by both systems and by every seed's copy of a document."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from erbench.stats.base import DocCounts, MetricFn, Seed, make_rng

AR_BATCH = 1000  # trials per vectorised batch of approximate_randomization (part of its random stream)


def micro_f1_from_array(counts: np.ndarray) -> np.ndarray:
    """Micro F1 (fraction, zero_division=0) of pooled counts [..., types, 3] (tp, fp, fn) -> [...]."""
    tp, fp, fn = np.moveaxis(np.asarray(counts, dtype=float).sum(axis=-2), -1, 0)
    den = 2 * tp + fp + fn
    return np.divide(2 * tp, den, out=np.zeros_like(den), where=den > 0)


def macro_f1_from_array(counts: np.ndarray) -> np.ndarray:
    """Macro F1 (fraction) of pooled counts [..., types, 3]: mean per-type F1 over the types with any
    gold or predicted occurrence (as benchmark.scoring; zero_division=0; 0 when there is none)."""
    tp, fp, fn = np.moveaxis(np.asarray(counts, dtype=float), -1, 0)
    den = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, den, out=np.zeros_like(den), where=den > 0)
    present = (den > 0).sum(axis=-1)
    return np.divide(f1.sum(axis=-1), present, out=np.zeros(present.shape), where=present > 0)


def counts_to_arrays(
    counts_a: Sequence[DocCounts], counts_b: Sequence[DocCounts]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Dense [docs, types, 3] count arrays of two systems on the same documents, and the sorted types."""
    if len(counts_a) != len(counts_b):
        raise ValueError(f"systems scored different numbers of documents: {len(counts_a)} vs {len(counts_b)}")
    types = sorted({t for doc in (*counts_a, *counts_b) for t in doc}, key=str)
    index = {t: i for i, t in enumerate(types)}
    arrays = []
    for counts in (counts_a, counts_b):
        arr = np.zeros((len(counts), len(types), 3), dtype=np.int64)
        for d, doc in enumerate(counts):
            for t, c in doc.items():
                arr[d, index[t]] = c
        arrays.append(arr)
    return arrays[0], arrays[1], types


def _count_arrays(counts_a, counts_b) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(counts_a, np.ndarray) and isinstance(counts_b, np.ndarray):
        arr_a, arr_b = counts_a, counts_b
        if arr_a.shape != arr_b.shape or arr_a.ndim != 3 or arr_a.shape[-1] != 3:
            raise ValueError(f"count arrays need one [docs, types, 3] shape: {arr_a.shape}, {arr_b.shape}")
    else:
        arr_a, arr_b, _ = counts_to_arrays(counts_a, counts_b)
    if arr_a.shape[0] == 0:
        raise ValueError("approximate randomization needs at least one document")
    gold_a, gold_b = arr_a[..., 0] + arr_a[..., 2], arr_b[..., 0] + arr_b[..., 2]
    if not np.array_equal(gold_a, gold_b):
        doc = int(np.flatnonzero((gold_a != gold_b).any(axis=1))[0])
        raise ValueError(f"gold counts (tp + fn) differ at document {doc}: the systems are not paired")
    return arr_a, arr_b


def approximate_randomization(
    counts_a: Sequence[DocCounts] | np.ndarray,
    counts_b: Sequence[DocCounts] | np.ndarray,
    metric_fn: MetricFn = micro_f1_from_array,
    *,
    seed: Seed,
    trials: int = 10000,
    batch: int = AR_BATCH,
    groups: Sequence[int] | np.ndarray | None = None,
) -> float:
    """Paired approximate randomization p-value of |metric(b) - metric(a)| on the same documents.

    counts_*: per document, type -> (tp, fp, fn) (as benchmark.scoring.document_counts), or dense
    [docs, types, 3] arrays. metric_fn maps POOLED counts [..., types, 3] to scores [...] and must be
    vectorised over leading axes (micro_f1_from_array, macro_f1_from_array). Each trial swaps the two
    systems' statistics of each document with probability 1/2 (one swap draw per document, shared by
    all its types and by both systems); p = (#{trial diff >= observed} + 1) / (trials + 1).

    groups: one id per row; rows with the same id are copies of one document (the same test sentence
    scored in several seeds' runs) and share one swap decision, so pooling seeds adds no evidence the
    documents do not carry: repeating identical runs leaves p unchanged. None: every row its own document.
    """
    arr_a, arr_b = _count_arrays(counts_a, counts_b)
    n_rows, inner = arr_a.shape[0], arr_a.shape[1:]
    total_a, total_b = arr_a.sum(axis=0).astype(float), arr_b.sum(axis=0).astype(float)
    observed = abs(float(metric_fn(total_b)) - float(metric_fn(total_a)))
    tol = 1e-12 * max(1.0, observed)
    delta = (arr_b - arr_a).reshape(n_rows, -1).astype(float)  # what moves from b to a when a doc swaps
    if groups is not None:
        ids = np.asarray(groups).ravel()
        if ids.shape != (n_rows,):
            raise ValueError(f"groups needs one id per document row: {ids.size} ids for {n_rows} rows")
        _, inverse = np.unique(ids, return_inverse=True)
        merged = np.zeros((int(inverse.max()) + 1, delta.shape[1]))
        np.add.at(merged, inverse, delta)  # the copies of a document swap together: add their deltas
        delta = merged
    n_docs = delta.shape[0]
    rng = make_rng(seed)
    hits = 0
    for start in range(0, trials, batch):
        size = min(batch, trials - start)
        swap = (rng.random((size, n_docs)) < 0.5).astype(float)
        moved = (swap @ delta).reshape(size, *inner)  # integer-valued, exact in float64
        diff = np.abs(metric_fn(total_b - moved) - metric_fn(total_a + moved))
        hits += int(np.count_nonzero(diff >= observed - tol))
    return (hits + 1) / (trials + 1)


def ar_mc_se(pvalue: float | None, trials: int) -> float | None:
    """Monte Carlo standard error of an approximate-randomization p-value from `trials` trials:
    sqrt(p (1 - p) / trials) (binomial count of exceedances)."""
    if pvalue is None or math.isnan(pvalue) or trials < 1:
        return None
    return math.sqrt(pvalue * (1 - pvalue) / trials)
