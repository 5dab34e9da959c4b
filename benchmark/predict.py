"""Prediction on new text: reading inputs (text, JSON list, JSON lines), a loaded run that predicts
with confidences, and the two output formats (JSON lines, SpERT JSON).

Input alignment is kept: the i-th output document answers the i-th input document (with its `id`), and
an empty document (a blank line) gives an empty result rather than disappearing; an input with no document
at all is an error.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from erbench.config import ConfigError

JSONL_SUFFIXES = (".jsonl", ".ndjson")


def split_words(text: str) -> list[str]:
    """Words of raw text the way SpERT's corpora are tokenised: whitespace, and every punctuation mark a
    token of its own (`Denmark.` -> `Denmark`, `.`), by the Hugging Face tokenizers library's BERT
    pre-tokenizer (the same rule BERT's basic tokenizer applies)."""
    from tokenizers.pre_tokenizers import BertPreTokenizer

    return [word for word, _ in BertPreTokenizer().pre_tokenize_str(text)]


def _input_id(item) -> object | None:
    """The input document's own id (`id`, else SpERT's `orig_id`), carried into the output."""
    if isinstance(item, dict):
        return item.get("id", item.get("orig_id"))
    return None


def _tokens_of(item, where: str) -> list[str]:
    """A document given as a string (raw text, split by `split_words`), a token list, or {"tokens": [...]} /
    {"text": "..."}."""
    if isinstance(item, str):
        return split_words(item)
    if isinstance(item, dict):
        if "tokens" in item:
            item = item["tokens"]
        elif isinstance(item.get("text"), str):
            return split_words(item["text"])
        else:
            raise ConfigError(f"{where}: expected an object with 'tokens' (a list of strings) or 'text'")
    if isinstance(item, (list, tuple)) and all(isinstance(t, str) for t in item):
        return list(item)
    raise ConfigError(f"{where}: expected a string, a list of token strings, or an object with 'tokens' or 'text'")


def _read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None


def read_inputs(path: Path) -> list[tuple[list[str], object | None]]:
    """(tokens, id) of every document of INPUT: a JSON list, JSON lines (.jsonl, or every line an object), or
    plain text with one document per line (split by `split_words`); a blank line is an empty document. The
    id is a JSON document's `id` or `orig_id` (None for text). An input without a document is an error."""
    text = _read_text(path)
    stripped = text.lstrip()
    if not stripped:
        raise ConfigError(f"{path}: empty input (no document to predict); give one document a line, JSON lines "
                          "or a JSON list")
    if stripped.startswith("["):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        if not isinstance(raw, list):
            raise ConfigError(f"{path}: expected a JSON list of documents")
        if not raw:
            raise ConfigError(f"{path}: empty JSON list (no document to predict)")
        return [(_tokens_of(d, f"{path}: document {i} (0-based)"), _input_id(d)) for i, d in enumerate(raw)]
    lines = text.splitlines()
    if Path(path).suffix in JSONL_SUFFIXES or stripped.startswith("{"):
        docs: list[tuple[list[str], object | None]] = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                docs.append(([], None))
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}: line {n}: malformed JSON ({exc.msg}); JSON lines hold one "
                                  "document per line") from None
            docs.append((_tokens_of(item, f"{path}: line {n}"), _input_id(item)))
        return docs
    return [(split_words(line), None) for line in lines]


@dataclass
class Run:
    """A trained run folder, loaded for prediction (`erbench.load_run`)."""

    path: Path
    model: object
    tokenizer: object
    config: object  # erbench.config.RunConfig
    types: object  # erbench.datasets.load.TypeInventory
    max_length: int
    device: object

    def predict(self, documents: Sequence[str | Sequence[str]], batch_size: int | None = None) -> list[dict]:
        """One result per input, in order: {"tokens", "entities": [{type, start, end, text, confidence}],
        "relations": [{type, head, tail, confidence}]} (and the input's `id` when a dict gave one); strings
        are split into words and punctuation (`split_words`)."""
        token_lists = [_tokens_of(d, f"document {i} (0-based)") for i, d in enumerate(documents)]
        ids = [_input_id(d) for d in documents]
        return predict_tokens(self, token_lists, batch_size or self.config.train.eval_batch_size, ids)


def load_run(path: str | Path, device: str = "auto") -> Run:
    """Load the checkpoint of the run folder `path` (as `erbench train` wrote it)."""
    from erbench.runner import load_checkpoint
    from erbench.train import pick_device

    model, tokenizer, cfg, types, max_len = load_checkpoint(Path(path), device)
    return Run(Path(path), model, tokenizer, cfg, types, max_len, pick_device(device))


def predict_tokens(run: Run, token_lists: list[list[str]], batch_size: int,
                   ids: Sequence[object | None] | None = None) -> list[dict]:
    """Predictions for token lists, in input order; each entity carries its surface text (its words
    joined by spaces) and each result the input's id where `ids` gives one."""
    from erbench.datasets.load import Document
    from erbench.models.encoder import encode_documents

    filled = [i for i, t in enumerate(token_lists) if t]
    docs = [Document(tuple(token_lists[i]), (), (), None, i) for i in filled]
    encoded, _ = encode_documents(run.tokenizer, docs, run.max_length, run.config.train.long_documents)
    out: list[dict] = [{"tokens": [], "entities": [], "relations": []} for _ in token_lists]
    order = sorted(range(len(encoded)), key=lambda k: len(encoded[k].input_ids))  # less padding
    for lo in range(0, len(order), batch_size):
        chunk = [encoded[k] for k in order[lo: lo + batch_size]]
        preds, scores = run.model.predict(chunk, run.tokenizer.pad_token_id, run.device, confidence=True)
        for enc, pred, conf in zip(chunk, preds, scores):
            out[enc.doc.index] = {
                "tokens": list(pred.tokens),
                "entities": [{"type": e.type, "start": e.start, "end": e.end,
                              "text": " ".join(pred.tokens[e.start:e.end]), "confidence": round(c, 6)}
                             for e, c in zip(pred.entities, conf["entities"])],
                "relations": [{"type": r.type, "head": r.head, "tail": r.tail, "confidence": round(c, 6)}
                              for r, c in zip(pred.relations, conf["relations"])],
            }
    for i, doc_id in enumerate(ids or ()):
        if doc_id is not None:
            out[i] = {"id": doc_id, **out[i]}
    return out


def format_predictions(results: list[dict], fmt: str) -> str:
    """`jsonl`: one document a line; `spert`: one JSON list in SpERT's format (with confidences)."""
    if fmt == "spert":
        return json.dumps(results, ensure_ascii=False) + "\n"
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
