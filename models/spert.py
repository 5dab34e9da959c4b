"""SpERT's span and pair representations with pluggable heads and losses (docs/methods.md).

Span x(s) = [h_CLS ; maxpool(pieces of s) ; width(s)]; pair (s1, s2) = [maxpool(pieces
strictly between) ; maxpool(s1) ; maxpool(s2) ; width(s1) ; width(s2)], plus, when the
method asks for it, the two entities' logits l(s1), l(s2) (SpERT.MT). Dropout then the heads;
the head set comes from `erbench.models.heads.HEADS`, the loss from `erbench.models.losses.LOSSES`.
"""

from __future__ import annotations

import contextlib
import inspect

import numpy as np
import torch
from erbench.models.collate import Batch, collate_candidates
from erbench.models.decision import corrected
from erbench.models.documents import Document, Entity, Relation, TypeInventory
from erbench.models.encoder import EncodedDocument, encode_pieces
from erbench.models.heads import get_heads
from erbench.models.losses import get_loss
from erbench.models.multitask import argument_gate
from erbench.models.options import ConfigError, ModelOptions
from erbench.models.spans import RangeMax, gather_rows, relation_context
from torch import nn


def document_pairs(row_doc: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """(heads, tails): every ordered pair of distinct rows within each document, rows given by
    their document index `row_doc` (indices into it, document by document)."""
    heads, tails = [], []
    for d in range(n_docs):
        idx = np.flatnonzero(row_doc == d)
        if len(idx) > 1:
            a, b = np.meshgrid(idx, idx, indexing="ij")
            keep = a != b
            heads.append(a[keep])
            tails.append(b[keep])
    empty = np.zeros(0, dtype=np.int64)
    return (np.concatenate(heads) if heads else empty), (np.concatenate(tails) if tails else empty)


def _untimed(name: str):
    return contextlib.nullcontext()


class SpanRelationModel(nn.Module):
    def __init__(self, encoder: nn.Module, types: TypeInventory, options: ModelOptions):
        super().__init__()
        hidden = encoder.config.hidden_size
        std = getattr(encoder.config, "initializer_range", 0.02)
        self.encoder = encoder
        self.types = types
        self.options = options
        self.width_embedding = nn.Embedding(options.width_embedding_count, options.width_embedding_dim)
        nn.init.normal_(self.width_embedding.weight, std=std)
        self.dropout = nn.Dropout(options.dropout)
        n_ent, n_rel = len(types.entities), len(types.relations)
        entity_in = 2 * hidden + options.width_embedding_dim
        relation_in = 3 * hidden + 2 * options.width_embedding_dim
        if options.entity_logits != "none":
            relation_in += 2 * (1 + n_ent)
        heads = get_heads(options.heads)
        heads.check(options)
        self.loss_spec = get_loss(options.heads, options.loss)
        # a head set that takes `options` (the built-in ones: head_hidden, mt_cls_scope) gets them
        self._head_options = {"options": options} if "options" in inspect.signature(heads).parameters else {}
        self.heads = heads(entity_in, relation_in, n_ent, n_rel, std, **self._head_options)
        # entity_logits=layernorm: l(s) normalised over its 1 + C numbers (learned scale and shift)
        self.logit_norm = nn.LayerNorm(1 + n_ent) if options.entity_logits == "layernorm" else None
        # what `cb_decision: corrected` subtracts from the logits (erbench.models.decision.cb_offsets of the
        # training's class counts and weights): set by the training and by loading a run folder; not a weight
        self.cb_offsets: dict[str, torch.Tensor] | None = None

    # -- representations -------------------------------------------------------------------
    def encode(self, batch: Batch) -> tuple[torch.Tensor, RangeMax]:
        h = encode_pieces(self.encoder, batch.input_ids, batch.attention_mask, batch.windows)
        return h, RangeMax(h)

    def span_features(self, h: torch.Tensor, table: RangeMax, batch: Batch):
        """(pooled [N, H], width [N, W], x(s) [N, 2H + W]) of every entity row."""
        pooled = table.query(batch.ent_doc, batch.ent_start, batch.ent_end)
        width = self.width_embedding(batch.ent_width)
        return pooled, width, torch.cat([gather_rows(h[:, 0], batch.ent_doc), pooled, width], dim=-1)

    def spans(self, h: torch.Tensor, table: RangeMax, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, dict]:
        pooled, width, x = self.span_features(h, table, batch)
        return pooled, width, self.heads.entity(self.dropout(x))

    @staticmethod
    def pair_features(table: RangeMax, doc, head, tail, ctx_start, ctx_end, pooled, width) -> list[torch.Tensor]:
        # gather_rows, not x[idx]: the backward of advanced indexing is not reproducible on CPU threads
        return [table.query(doc, ctx_start, ctx_end), gather_rows(pooled, head), gather_rows(pooled, tail),
                gather_rows(width, head), gather_rows(width, tail)]

    def pairs(self, table: RangeMax, doc, head, tail, ctx_start, ctx_end, pooled, width, ent_out,
              parts: list[torch.Tensor] | None = None) -> dict:
        if parts is None:
            parts = self.pair_features(table, doc, head, tail, ctx_start, ctx_end, pooled, width)
        if self.options.entity_logits != "none":
            logits = self.heads.entity_features(ent_out, self.options.entity_logits, **self._head_options)
            if self.logit_norm is not None:
                logits = self.logit_norm(logits)
            if self.options.detach_entity_logits:
                logits = logits.detach()
            parts = [*parts, gather_rows(logits, head), gather_rows(logits, tail)]
        out = self.heads.relation(self.dropout(torch.cat(parts, dim=-1)))
        if self.options.rel_gate == "args":  # decoding: both arguments' sigmoid(z_id) (docs/methods.md)
            out["gate"] = argument_gate(ent_out["id"], head, tail)
        return out

    # -- training ----------------------------------------------------------------------------
    def forward(self, batch: Batch, section=None) -> tuple[dict, dict]:
        """Entity and relation head outputs; `section(name)` (a context manager) times the phases."""
        ent_out, rel_out, _ = self._forward(batch, section)
        return ent_out, rel_out

    def _forward(self, batch: Batch, section=None) -> tuple[dict, dict, torch.Tensor]:
        section = section or _untimed
        with section("encoder_forward"):
            h = encode_pieces(self.encoder, batch.input_ids, batch.attention_mask, batch.windows)
        with section("pooling"):
            table = RangeMax(h)
            pooled, width, x = self.span_features(h, table, batch)
            rel_doc = batch.ent_doc[batch.rel_head]
            parts = self.pair_features(table, rel_doc, batch.rel_head, batch.rel_tail, batch.ctx_start,
                                       batch.ctx_end, pooled, width)
        with section("heads_losses"):
            ent_out = self.heads.entity(self.dropout(x))
            rel_out = self.pairs(table, rel_doc, batch.rel_head, batch.rel_tail, batch.ctx_start, batch.ctx_end,
                                 pooled, width, ent_out, parts)
        return ent_out, rel_out, h

    def loss(self, batch: Batch, stats: dict | None = None, section=None) -> tuple[torch.Tensor, dict]:
        """(total, {part: value}) of the method's registered loss; `stats` holds the corpus statistics
        the loss declared (`Loss.needs`)."""
        total, parts, _ = self.loss_and_hidden(batch, stats, section)
        return total, parts

    def loss_and_hidden(self, batch: Batch, stats: dict | None = None,
                        section=None) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """As `loss`, with the encoder's last hidden states (the input every part's gradient crosses)."""
        ent_out, rel_out, h = self._forward(batch, section)
        with (section or _untimed)("heads_losses"):
            total, parts = self.loss_spec.fn(ent_out, rel_out, batch, self.options, stats or {})
        return total, parts, h

    # -- inference ---------------------------------------------------------------------------
    def decision_outputs(self, side: str, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The `side` ("entity" or "relation") head outputs the decision reads: `out` itself, or with
        `cb_decision: corrected` the logits less the class weights' shift (docs/methods.md)."""
        if self.options.cb_decision == "weighted":
            return out
        if self.cb_offsets is None:
            raise ConfigError("cb_decision=corrected: this model has no class weights to undo (a run folder "
                              "records them in metrics.json, data.class_weights and data.class_counts)")
        return corrected(out, self.cb_offsets[side])

    @torch.no_grad()
    def predict(self, docs: list[EncodedDocument], pad_id: int, device: torch.device,
                confidence: bool = False) -> list[Document] | tuple[list[Document], list[dict]]:
        """Predicted entities and relations of each document (SPEC 2 'Inference', SPEC 4); with
        `confidence`, also per document {"entities": [p, ...], "relations": [p, ...]} in the same order
        (the probability each head's decision compares, see `heads`)."""
        opts = self.options
        batch = collate_candidates(docs, pad_id, opts.max_span_size, len(self.types.relations)).to(device)
        h, table = self.encode(batch)
        pooled, width, ent_out = self.spans(h, table, batch)
        decided = self.decision_outputs("entity", ent_out)  # the pair vector keeps the raw ent_out
        is_entity, ent_type = self.heads.decide_entities(decided, opts)
        rows = is_entity.nonzero().squeeze(-1)
        row_doc = batch.ent_doc[rows].cpu().numpy()
        row_words = batch.ent_words[rows.cpu().numpy()]
        row_type = ent_type[rows].cpu().numpy()
        row_conf = self.heads.entity_confidence(decided, rows, ent_type[rows], opts).cpu().numpy()
        pieces = torch.stack([batch.ent_start[rows], batch.ent_end[rows]], dim=1).cpu().numpy()

        heads, tails = document_pairs(row_doc, len(docs))
        ctx_start, ctx_end = relation_context(pieces[heads], pieces[tails]) if len(heads) else (heads, tails)
        found: list[tuple[int, int, int, float]] = []
        for lo in range(0, len(heads), opts.max_pairs):
            sl = slice(lo, lo + opts.max_pairs)
            hr, tr = torch.as_tensor(heads[sl], device=device), torch.as_tensor(tails[sl], device=device)
            rel_out = self.decision_outputs("relation", self.pairs(
                table, batch.ent_doc[rows[hr]], rows[hr], rows[tr],
                torch.as_tensor(ctx_start[sl], device=device), torch.as_tensor(ctx_end[sl], device=device),
                pooled, width, ent_out,
            ))
            pair_rows, rel_type = self.heads.decide_relations(rel_out, opts)
            conf = self.heads.relation_confidence(rel_out, pair_rows, rel_type, opts).tolist()
            for p, t, c in zip(pair_rows.tolist(), rel_type.tolist(), conf):
                found.append((int(heads[lo + p]), int(tails[lo + p]), t, c))
        out, scores = self._documents(docs, row_doc, row_words, row_type, row_conf, found)
        return (out, scores) if confidence else out

    def _documents(self, docs, row_doc, row_words, row_type, row_conf, found) -> tuple[list[Document], list[dict]]:
        types = self.types
        entities: list[list[Entity]] = [[] for _ in docs]
        ent_conf: list[list[float]] = [[] for _ in docs]
        local: dict[int, int] = {}
        for r, (d, span, t, c) in enumerate(zip(row_doc.tolist(), row_words.tolist(), row_type.tolist(),
                                                row_conf.tolist())):
            local[r] = len(entities[d])
            entities[d].append(Entity(types.entities[t], span[0], span[1]))
            ent_conf[d].append(float(c))
        relations: list[dict[tuple[int, int, str], float]] = [{} for _ in docs]
        for head, tail, t, c in found:
            d, rtype = int(row_doc[head]), types.relations[t]
            h, tl = local[head], local[tail]
            if rtype in types.symmetric and entities[d][tl].start < entities[d][h].start:
                h, tl = tl, h
            key = (h, tl, rtype)  # ordered: drops symmetric duplicates, keeping the higher confidence
            relations[d][key] = max(c, relations[d].get(key, c))
        out = [
            Document(doc.doc.tokens, tuple(entities[i]), tuple(Relation(r, h, t) for h, t, r in relations[i]),
                     doc.doc.orig_id, doc.doc.index)
            for i, doc in enumerate(docs)
        ]
        scores = [{"entities": ent_conf[i], "relations": list(relations[i].values())} for i in range(len(docs))]
        return out, scores
