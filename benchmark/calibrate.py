"""Decision thresholds chosen on dev from one cached forward pass (docs/methods.md, "Thresholds"),
and the distribution of the entity score on gold, near-miss and far spans of a split.

`score_split` runs the encoder once per batch and keeps what every decision reads: the entity head's
outputs for every candidate span, and the relation head's outputs for every ordered pair of spans that
some entity threshold of the grid makes entities. `SplitScores.decode(entity, relation)` then gives the
documents `SpanRelationModel.predict` would give with those two thresholds, without another forward
pass; `search` decodes the whole grid and keeps the pair with the best headline dev score.

The search is joint (every entity threshold with every relation threshold): RE+ needs both arguments
right, so the best relation threshold depends on which spans are entities, and a grid decode costs a
scoring pass, not a forward pass. Ties go to the pair closest to the method's own (SPEC) values: the
smallest |entity - SPEC| + |relation - SPEC|, then the smallest entity distance, then the lower values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from erbench import scoring
from erbench.config import ConfigError, ModelOptions
from erbench.datasets.load import Document

# 0.05, 0.10, ..., 0.95: rounded so that 0.4 and 0.5 (the SPEC values) are exact grid members
GRID = tuple(round(0.05 * i, 2) for i in range(1, 20))
# the relation threshold's grid goes on to 0.99: an identification sigmoid of "any relation" (SpERT.MT) is
# lenient at SPEC's 0.4, and on CoNLL04 dev its best value was the old top, 0.95 (a relation grid point
# costs one decode of the cached scores, not a forward pass)
RELATION_GRID = (*GRID, 0.96, 0.97, 0.98, 0.99)
# a dataset's headline: (relation setting, average); SPEC 3, the same as the report's defaults
HEADLINE = {"scierc": ("rel", "micro"), "ade": ("rel_strict", "macro")}
TIE_TOLERANCE = 1e-12
HIST_BINS = tuple(round(0.05 * i, 2) for i in range(21))  # 20 bins of width 0.05 over [0, 1]
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def headline(dataset: str, custom: dict | None = None) -> tuple[str, str]:
    """(relation setting, average) the dataset headlines: a custom declaration, else SPEC 3."""
    declared = custom or {}
    setting, average = HEADLINE.get(dataset, ("rel_strict", "micro"))
    return declared.get("relation") or setting, declared.get("average") or average


@dataclass
class _Batch:
    docs: list  # EncodedDocument, in batch order
    positions: list[int]  # their positions in the split
    ent_out: dict[str, torch.Tensor]
    ent_doc: np.ndarray  # [N] document of each candidate span (within the batch)
    ent_words: np.ndarray  # [N, 2] word start, end (exclusive)
    pair_head: np.ndarray  # [P] candidate-span rows of each scored pair's head
    pair_tail: np.ndarray  # [P]
    rel_out: dict[str, torch.Tensor]  # [P, ...] the relation head's outputs of those pairs


@dataclass
class SplitScores:
    """The cached head outputs of one split (see the module docstring); decode() needs no encoder."""

    model: object  # SpanRelationModel (its heads and options decide; its encoder is not called again)
    batches: list[_Batch]
    entity_grid: tuple[float, ...]
    n_docs: int
    encoder_calls: int

    def decode(self, entity: float, relation: float) -> list[Document]:
        """The split's predicted documents (in split order) at these two thresholds."""
        if not any(math.isclose(entity, t) for t in self.entity_grid):
            raise ValueError(f"entity threshold {entity} was not cached (cached: {list(self.entity_grid)})")
        heads = self.model.heads
        opts = replace(self.model.options, entity_threshold=entity, rel_filter_threshold=relation)
        out: list[Document | None] = [None] * self.n_docs
        for b in self.batches:
            is_entity, ent_type = heads.decide_entities(b.ent_out, opts)
            rows = is_entity.nonzero().squeeze(-1)
            rows_np = rows.cpu().numpy()
            local = np.full(len(b.ent_doc), -1, dtype=np.int64)
            local[rows_np] = np.arange(len(rows_np))
            row_conf = heads.entity_confidence(b.ent_out, rows, ent_type[rows], opts).cpu().numpy()
            found: list[tuple[int, int, int, float]] = []
            if len(b.pair_head):
                keep = (local[b.pair_head] >= 0) & (local[b.pair_tail] >= 0)
                if keep.any():
                    index = torch.as_tensor(np.flatnonzero(keep), device=rows.device)
                    sub = {k: v.index_select(0, index) for k, v in b.rel_out.items()}
                    pair_rows, rel_type = heads.decide_relations(sub, opts)
                    conf = heads.relation_confidence(sub, pair_rows, rel_type, opts).tolist()
                    kept_head, kept_tail = local[b.pair_head[keep]], local[b.pair_tail[keep]]
                    for p, t, c in zip(pair_rows.tolist(), rel_type.tolist(), conf):
                        found.append((int(kept_head[p]), int(kept_tail[p]), t, c))
            docs, _ = self.model._documents(b.docs, b.ent_doc[rows_np], b.ent_words[rows_np],
                                            ent_type[rows].cpu().numpy(), row_conf, found)
            for pos, doc in zip(b.positions, docs):
                out[pos] = doc
        return out  # type: ignore[return-value]


@torch.no_grad()
def score_split(model, encoded: list, pad_id: int, device: torch.device, batch_size: int, precision: str = "fp32",
                entity_grid: tuple[float, ...] | None = None, progress=None) -> SplitScores:
    """One forward pass over `encoded`; the relation head scores every ordered pair of spans that are
    entities at some threshold of `entity_grid` (default: the model's own entity threshold)."""
    from erbench.models.collate import collate_candidates
    from erbench.models.spans import relation_context
    from erbench.models.spert import document_pairs
    from erbench.train import autocast

    model.eval()
    opts: ModelOptions = model.options
    grid = tuple(entity_grid) if entity_grid else (opts.entity_threshold,)
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))  # as train.evaluate
    calls = [0]
    hook = model.encoder.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    batches = []
    task = progress.add("predict", len(encoded)) if progress else None
    try:
        with autocast(device, precision):
            for lo in range(0, len(order), batch_size):
                positions = order[lo: lo + batch_size]
                docs = [encoded[i] for i in positions]
                batch = collate_candidates(docs, pad_id, opts.max_span_size, len(model.types.relations)).to(device)
                h, table = model.encode(batch)
                pooled, width, ent_out = model.spans(h, table, batch)
                decided = model.decision_outputs("entity", ent_out)  # the pair vector keeps the raw ent_out
                union = torch.zeros(len(batch.ent_doc), dtype=torch.bool, device=batch.ent_doc.device)
                for t in grid:
                    union |= model.heads.decide_entities(decided, replace(opts, entity_threshold=t))[0]
                rows = union.nonzero().squeeze(-1)
                row_doc = batch.ent_doc[rows].cpu().numpy()
                rows_np = rows.cpu().numpy()
                pieces = torch.stack([batch.ent_start[rows], batch.ent_end[rows]], dim=1).cpu().numpy()
                heads, tails = document_pairs(row_doc, len(docs))  # what predict pairs, on the union
                ctx_start, ctx_end = relation_context(pieces[heads], pieces[tails]) if len(heads) else (heads, tails)
                chunks = []
                for c in range(0, len(heads), opts.max_pairs):
                    sl = slice(c, c + opts.max_pairs)
                    hr = rows[torch.as_tensor(heads[sl], device=rows.device)]
                    tr = rows[torch.as_tensor(tails[sl], device=rows.device)]
                    chunks.append(model.pairs(table, batch.ent_doc[hr], hr, tr,
                                              torch.as_tensor(ctx_start[sl], device=device),
                                              torch.as_tensor(ctx_end[sl], device=device), pooled, width, ent_out))
                rel_out = {k: torch.cat([c[k] for c in chunks]) for k in chunks[0]} if chunks else {}
                rel_out = model.decision_outputs("relation", rel_out) if rel_out else rel_out
                batches.append(_Batch(docs, positions, {k: v.detach() for k, v in decided.items()},
                                      batch.ent_doc.cpu().numpy(), np.asarray(batch.ent_words),
                                      rows_np[heads], rows_np[tails], rel_out))
                if progress:
                    progress.advance(task, len(docs))
    finally:
        hook.remove()
        if progress:
            progress.remove(task)
    return SplitScores(model, batches, grid, len(encoded), calls[0])


# -- the search ------------------------------------------------------------------------------------
def headline_f1(gold: list[Document], pred: list[Document], types, setting: str, average: str,
                no_overlapping: bool) -> tuple[float, dict]:
    scores = scoring.score(gold, pred, types, no_overlapping=no_overlapping)
    summary = {s: scores[s][average]["f1"] for s in ("ner", "rel", "rel_strict")}
    return summary[setting], summary


def tie_rank(entity: float, relation: float, spec: tuple[float, float]) -> tuple:
    de, dr = abs(entity - spec[0]), abs(relation - spec[1])
    return round(de + dr, 9), round(de, 9), entity, relation


def pick(rows: list[dict], spec: tuple[float, float], key: str = "headline") -> dict:
    """The grid row with the best `key` (ties within TIE_TOLERANCE: `tie_rank`, closest to SPEC)."""
    best = max(r[key] for r in rows)
    tied = [r for r in rows if r[key] >= best - TIE_TOLERANCE]
    return min(tied, key=lambda r: tie_rank(r["entity"], r["relation"], spec))


def search(cache: SplitScores, gold: list[Document], types, *, spec: tuple[float, float], setting: str,
           average: str, no_overlapping: bool, relation_grid: tuple[float, ...] = RELATION_GRID) -> dict:
    """Decode every (entity, relation) pair of the grid, score the headline, and pick (see `pick`).

    When the heads ignore the entity threshold (SpERT: argmax over 'no entity' + types; the masks
    of the lowest and highest grid value are identical on every batch), only the relation threshold
    is searched and the entity threshold stays at SPEC.
    """
    entity_grid = cache.entity_grid
    opts = cache.model.options
    inert = all(torch.equal(cache.model.heads.decide_entities(b.ent_out, replace(opts, entity_threshold=min(
        entity_grid)))[0], cache.model.heads.decide_entities(b.ent_out, replace(opts, entity_threshold=max(
            entity_grid)))[0]) for b in cache.batches)
    if inert:
        entity_grid = (min(entity_grid, key=lambda t: abs(t - spec[0])),)
    rows = []
    for te in entity_grid:
        for tr in relation_grid:
            value, summary = headline_f1(gold, cache.decode(te, tr), types, setting, average, no_overlapping)
            rows.append({"entity": te, "relation": tr, "headline": value, **summary})
    chosen = pick(rows, spec)
    at_spec = [r for r in rows if math.isclose(r["entity"], spec[0]) and math.isclose(r["relation"], spec[1])]
    edges = {name: ("largest" if chosen[name] == max(grid) else "smallest")
             for name, grid in (("entity", entity_grid), ("relation", relation_grid))
             if len(grid) > 1 and chosen[name] in (min(grid), max(grid))}
    return {
        "entity": chosen["entity"], "relation": chosen["relation"], "spec": {"entity": spec[0], "relation": spec[1]},
        "metric": f"{setting}/{average}_f1", "search": "joint", "grid": list(relation_grid),
        "entity_searched": not inert, "entity_grid": list(entity_grid),
        "chosen_scores": {k: chosen[k] for k in ("ner", "rel", "rel_strict")},
        "spec_scores": {k: at_spec[0][k] for k in ("ner", "rel", "rel_strict")} if at_spec else None,
        "dev_scores": rows, "encoder_calls": cache.encoder_calls, "documents": cache.n_docs,
        "at_grid_edge": edges,
    }


def edge_warning(found: dict) -> str | None:
    """One line when a chosen threshold is its grid's largest or smallest value (a better one may lie
    beyond the grid), else None."""
    edges = found.get("at_grid_edge") or {}
    if not edges:
        return None
    parts = [f"{name} {found[name]} is the grid's {side}" for name, side in edges.items()]
    return (f"thresholds tuned on {found.get('dev_split') or 'dev'}: {'; '.join(parts)}: the best value may lie "
            "beyond the grid searched")


# -- which split may tune ----------------------------------------------------------------------------
def check_dev_split(option: str, dev_split: str | None, eval_split: str, *, allow_same_split: bool,
                    dev_sha: str | None = None, test_sha: str | None = None) -> str | None:
    """Refuse a dev split that is absent or the test split; the eval split only with `allow_same_split`
    (then -> a warning line). ConfigError names `option`."""
    if not dev_split:
        raise ConfigError(f"{option}: thresholds tuned on dev need a dev split, and this run has none "
                          "(dev_split: none); give --dev-split dev, or keep thresholds: spec")
    if dev_split == "test" or (dev_sha is not None and dev_sha == test_sha):
        raise ConfigError(f"{option}: the dev split '{dev_split}' is the test split; thresholds are never "
                          "tuned on test")
    if dev_split == eval_split:
        if not allow_same_split:
            raise ConfigError(f"{option}: the dev split '{dev_split}' is also the evaluation split: its scores "
                              "would be optimistic; allow it explicitly (--allow-same-split, or train option "
                              "thresholds_same_split: true) or evaluate on another split")
        return (f"thresholds tuned on '{dev_split}' and scored on '{eval_split}', the same split: the scores are "
                "optimistic (allowed explicitly)")
    return None


def check_not_in_train(option: str, dev: list[Document], train: list[Document], dev_split: str,
                       train_split: str) -> None:
    """Refuse a dev split whose every document is also a training document (train_dev)."""
    seen = {d.tokens for d in train}
    if dev and all(d.tokens in seen for d in dev):
        raise ConfigError(f"{option}: every document of the dev split '{dev_split}' is in the train split "
                          f"'{train_split}': thresholds tuned on training data say nothing about held-out data; "
                          "tune them in a train -> dev run and pass them with --set entity_threshold=... "
                          "--set rel_filter_threshold=...")


# -- the entity score on gold, near-miss and far spans ----------------------------------------------
def entity_score(model, ent_out: dict[str, torch.Tensor]) -> tuple[str, torch.Tensor]:
    """(name, per candidate span score): sigmoid(z_id) for identification heads, else 1 - p(no entity)."""
    if "id" in ent_out:
        return "sigmoid(z_id)", torch.sigmoid(ent_out["id"].float())
    return "1 - p(no entity)", 1.0 - torch.softmax(ent_out["logits"].float(), dim=-1)[:, 0]


def span_groups(words: np.ndarray, gold_spans: list[tuple[int, int]]) -> np.ndarray:
    """0 gold, 1 near miss (word IoU > 0 with a gold span, not equal to one), 2 far, per candidate span."""
    groups = np.full(len(words), 2, dtype=np.int64)
    if not gold_spans or not len(words):
        return groups
    gold = np.asarray(gold_spans)
    start, end = words[:, :1], words[:, 1:2]
    overlap = np.minimum(end, gold[:, 1]) - np.maximum(start, gold[:, 0])
    groups[(overlap > 0).any(axis=1)] = 1
    groups[((start == gold[:, 0]) & (end == gold[:, 1])).any(axis=1)] = 0
    return groups


def span_diagnostics(cache: SplitScores, gold: list[Document]) -> dict:
    """Histogram counts (20 bins over [0, 1]), quantiles and means of the entity score per span group."""
    scores: dict[int, list[np.ndarray]] = {0: [], 1: [], 2: []}
    name = "?"
    gold_total = sum(len({e.span for e in d.entities}) for d in gold)
    for b in cache.batches:
        name, score = entity_score(cache.model, b.ent_out)
        score = score.cpu().numpy()
        for d, pos in enumerate(b.positions):
            mask = b.ent_doc == d
            words = b.ent_words[mask]
            groups = span_groups(words, sorted({e.span for e in gold[pos].entities}))
            for g in scores:
                scores[g].append(score[mask][groups == g])
    out = {"score": name, "bins": list(HIST_BINS), "quantiles": list(QUANTILES), "groups": {}}
    for g, label in ((0, "gold"), (1, "near_miss"), (2, "far")):
        values = np.concatenate(scores[g]) if scores[g] else np.zeros(0)
        counts, _ = np.histogram(values, bins=HIST_BINS)
        out["groups"][label] = {
            "n": int(len(values)), "counts": counts.tolist(),
            "quantiles": np.quantile(values, QUANTILES).tolist() if len(values) else None,
            "mean": float(values.mean()) if len(values) else None,
        }
    out["gold_spans"] = gold_total
    out["gold_not_candidates"] = gold_total - out["groups"]["gold"]["n"]  # longer than max_span_size
    return out


def new_run_folder(run_dir: Path, out: Path | None, force: bool) -> Path:
    """The calibrated run's folder: OUT, or RUN_DIR-devthr; never the original run folder."""
    target = Path(out) if out else Path(str(Path(run_dir)).rstrip("/") + "-devthr")
    if target.resolve() == Path(run_dir).resolve():
        raise ConfigError(f"--out: {target} is the run folder being calibrated; the original is never overwritten")
    return target
