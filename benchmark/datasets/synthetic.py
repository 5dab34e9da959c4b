"""The `synthetic` corpus: templated English sentences in SpERT JSON, generated from a seed.

What it is: sentences assembled from a small built-in lexicon and templates
(`erbench.datasets.lexicon`), with five entity types (Peop, Org, Loc, Product, Date) and eight
directed relation types, two of them symmetric (Partner_Of, Sibling_Of). It is the offline default
dataset of the pipeline: every stage (loading, sampling, training, scoring, statistics, reports) can run
without downloads. It is made non-trivial in controlled ways: multi-word names and titles outside the
span ("Dr. Anna Brandt": the entity is "Anna Brandt"), nested entities ("University of Lisbon" with the
Loc "Lisbon", "Lisbon Airport", "Norvex Falcon X2"), surfaces whose type depends on context (Hartley is a
surname and a company, Florence a first name and a city, Jordan a name and a country), relation
direction set by voice ("X hired Y" / "Y joined X"), near-miss negatives ("was born in", "left",
"a former adviser to", "ended their partnership"), decoy entities in distractor clauses that take part
in no relation, several entities per sentence with only some pairs related, and sentences with no
relation at all. A few templates are ambiguous on purpose, with labels drawn at random: a bare shared
name whose type the sentence leaves open ("Anna Costa praised Hartley"), a pronoun whose antecedent it
leaves open ("A told B that she had joined C"); so no model can reach 100 F1 on it.
Annotation rules: a nested pair is always related (University of Lisbon OrgBased_In Lisbon, Lisbon
Airport Located_In Lisbon, Norvex Produces Norvex Falcon), a modifier clause ("X , a resident of Y ,")
belongs to the mention right before it, and relation types marked symmetric are stored head-first in
text order. Output is a pure function of the config (numpy's `default_rng(seed)`, same numpy release).

What it is not: real text. It is no substitute for CoNLL04, SciERC or ADE, and scores on it are not
comparable with published numbers. Use it to run the whole pipeline offline and to stress imbalance.

Knobs (`SyntheticConfig`) and the negative:positive ratio: a span model scores every span of width <= 10,
so each token adds up to ten candidate spans while only entities are positives. `max_entities` and
`min_entities` bound the entities per sentence, `relation_density` is the probability that a clause
joining two entities asserts a relation (else a neutral clause joins them), `distractors` is the
expected number of extra distractor clauses per sentence (Poisson; some carry a decoy entity) and
`max_tokens` caps the length. More distractors (longer sentences around the same entities) mean many
more negative spans per gold entity (about 35 at distractors=0, 43 at the default 1.0, 58 at 3.0 with
max_tokens=60), and a low `relation_density` more unrelated pairs per relation (about 8 negative ordered
pairs per relation by default, 24 at 0.1), so the corpus can stress imbalance far beyond real corpora.
`label_noise` (default 0) flips entity types and drops relations, in the train split only.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from erbench.datasets import lexicon as lx
from erbench.errors import UserInputError
from erbench.files import make_temp_folder

NAME = "synthetic"
SPLITS = ("train", "dev", "test", "train_dev")
ENTITY_TYPES = {  # name -> verbose
    "Peop": "person", "Org": "organisation", "Loc": "location", "Product": "product", "Date": "date"}
RELATION_TYPES = {  # name -> (verbose, symmetric)
    "Work_For": ("person works for organisation", False), "Live_In": ("person lives in location", False),
    "OrgBased_In": ("organisation based in location", False), "Located_In": ("location in location", False),
    "Founded": ("person founded organisation", False), "Produces": ("organisation makes product", False),
    "Partner_Of": ("organisations are partners", True), "Sibling_Of": ("persons are siblings", True),
}
_DECOY_RATE = 0.35  # share of distractor clauses that carry a decoy entity
_PREFIX_RATE = 0.4  # share of distractor clauses put before the main clause
# the relation a nested surface brings (University of Lisbon -> Lisbon); not drawn where the template
# gives the same slot that relation already (a product made by two makers)
_NESTED_RELATION = {"Org": "OrgBased_In", "Loc": "Located_In", "Product": "Produces"}
_SLOT = re.compile(r"\{(\w+):([\w|]+)(?:\.(\w+))?(!?)\}")


@dataclass(frozen=True)
class SyntheticConfig:
    train_size: int = 240
    dev_size: int = 60
    test_size: int = 120
    min_entities: int = 1  # per sentence, decoys and nested entities included
    max_entities: int = 6
    relation_density: float = 0.6  # P(a clause joining two entities asserts a relation)
    distractors: float = 1.0  # expected distractor clauses per sentence
    max_tokens: int = 40  # hard cap on sentence length
    label_noise: float = 0.0  # train split only
    seed: int = 0

    def __post_init__(self) -> None:
        ints = {"train_size": (1, 10**6), "dev_size": (0, 10**6), "test_size": (0, 10**6),
                "min_entities": (0, 12), "max_entities": (1, 12), "max_tokens": (16, 512), "seed": (0, 2**63)}
        reals = {"relation_density": (0, 1), "distractors": (0, 10), "label_noise": (0, 0.5)}
        for name, (lo, hi) in (ints | reals).items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int if name in ints else (int, float)):
                wanted = "an integer" if name in ints else "a number"
                got = f"{type(value).__name__} {value!r}"
                raise UserInputError(f"SyntheticConfig.{name}: expected {wanted}, got {got}")
            if not (math.isfinite(value) and lo <= value <= hi):
                raise UserInputError(f"SyntheticConfig.{name}: {value} is outside [{lo}, {hi}]")
        if self.min_entities > self.max_entities:
            raise UserInputError(f"SyntheticConfig.min_entities: {self.min_entities} exceeds "
                             f"max_entities={self.max_entities}")


def types_json() -> dict:
    return {
        "entities": {t: {"short": t, "verbose": v} for t, v in ENTITY_TYPES.items()},
        "relations": {t: {"short": t, "verbose": v, "symmetric": s} for t, (v, s) in RELATION_TYPES.items()},
    }


def describe() -> str:
    """A short Markdown paragraph for reports: what the corpus is and what it is not."""
    return (
        "**synthetic** is a corpus generated by erbench from a seed: templated English sentences built "
        "from a small built-in lexicon, with 5 entity types and 8 relation types (2 symmetric), multi-word "
        "and nested entities, context-dependent types, voice-dependent relation direction, decoy entities "
        "and distractor clauses. It exists to run the whole pipeline offline and to stress class imbalance "
        "(its knobs set how many negative spans and pairs there are per positive). It is not a substitute "
        "for real corpora, and scores on it are not comparable with published numbers."
    )


# --- drafting a sentence out of pieces (a mention or a run of literal words) ---------------------------

@dataclass
class _Piece:
    tokens: list[str]
    spans: list[tuple[int, int, str, int]] = field(default_factory=list)  # start, end, type, entity key
    anchor: int = -1  # entity key a modifier clause may follow; -1: none
    literal: bool = True


@dataclass
class _Clause:
    pieces: list[_Piece]
    relations: list[tuple[str, int, int]]
    kinds: dict[int, str]  # outer entity key -> "Type.kind"
    n_entities: int

    @property
    def n_tokens(self) -> int:
        return sum(len(p.tokens) for p in self.pieces)


class _Draft:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.clause = _Clause([], [], {}, 0)
        self.modified: set[int] = set()
        self.used: set[str] = set()
        self.next_key = 0

    def make(self, template: str, relations: str, limit: int, bound: dict[str, int] | None = None,
             anchors: bool = True) -> _Clause:
        """Instantiate `template`; nested entities only while the total stays within `limit`."""
        parts, rels = template.split(), [r.split() for r in relations.split(";") if r.strip()]
        rels = [(t, lx.pick(self.rng, h.split("|")), lx.pick(self.rng, k.split("|"))) for t, h, k in rels]
        slots_left = sum(1 for p in parts if _SLOT.fullmatch(p))
        keys, out = dict(bound or {}), _Clause([], [], {}, 0)
        for part in parts:
            slot = _SLOT.fullmatch(part)
            if slot is None:
                if part.startswith("?"):
                    if self.rng.random() >= lx.OPTIONAL_WORD_RATE:
                        continue
                    part = part[1:].replace("_", " ")
                if not out.pieces or not out.pieces[-1].literal:
                    out.pieces.append(_Piece([]))
                out.pieces[-1].tokens.extend(part.split())
                continue
            name, etype, kind, bang = slot.groups()
            etype = lx.pick(self.rng, etype.split("|"))
            room = self.clause.n_entities + out.n_entities + slots_left + 1 <= limit
            nested = room and _NESTED_RELATION.get(etype) not in {r[0] for r in rels if name in r[1:]}
            slots_left -= 1
            for _ in range(10):  # avoid repeating a surface within the sentence
                toks, spans, inner, got_kind = lx.draw_mention(self.rng, etype, kind, nested)
                if not {" ".join(toks[s:e]) for s, e, _ in spans} & self.used:
                    break
            self.used |= {" ".join(toks[s:e]) for s, e, _ in spans}
            span_keys = list(range(self.next_key, self.next_key + len(spans)))
            self.next_key += len(spans)
            keys[name] = span_keys[0]
            out.kinds[span_keys[0]] = f"{etype}.{got_kind}"
            out.relations += [(t, span_keys[h], span_keys[k]) for t, h, k in inner]
            anchor = span_keys[0] if anchors and not bang else -1
            keyed = [(s, e, t, k) for (s, e, t), k in zip(spans, span_keys)]
            out.pieces.append(_Piece(toks, keyed, anchor, False))
            out.n_entities += len(spans)
        out.relations += [(t, keys[h], keys[k]) for t, h, k in rels]
        return out

    def add(self, clause: _Clause, at: int) -> None:
        self.clause.pieces[at:at] = clause.pieces
        self.clause.relations += clause.relations
        self.clause.kinds.update(clause.kinds)
        self.clause.n_entities += clause.n_entities

    def modify(self, limit: int, relational: bool, max_tokens: int) -> None:
        """Attach one modifier clause after a mention that has none yet."""
        free = [p.anchor for p in self.clause.pieces if p.anchor >= 0 and p.anchor not in self.modified]
        if not free:
            return
        key = lx.pick(self.rng, free)
        self.modified.add(key)
        etype, kind = self.clause.kinds[key].split(".")
        pool = lx.RELATION_MODIFIERS if relational else [(a, t, "") for a, t in lx.NEUTRAL_MODIFIERS]
        taken = {t for t, h, k in self.clause.relations if key in (h, k)}  # no second maker, employer, ...
        fitting = (etype, f"{etype}.{kind}")
        pool = [(t, r) for a, t, r in pool if a in fitting and r.partition(" ")[0] not in taken]
        if not pool:
            return
        template, relations = lx.pick(self.rng, pool)
        clause = self.make(template, relations, limit, bound={"x": key})
        fits = self.clause.n_tokens + clause.n_tokens < max_tokens
        if fits and self.clause.n_entities + clause.n_entities <= limit:
            at = next(i for i, p in enumerate(self.clause.pieces) if p.anchor == key) + 1
            self.add(clause, at)

    def to_json(self) -> dict:
        tokens, literal, spans = [], [], []
        for piece in self.clause.pieces + [_Piece(["."])]:
            spans += [(len(tokens) + s, len(tokens) + e, t, k) for s, e, t, k in piece.spans]
            tokens += piece.tokens
            literal += [piece.literal] * len(piece.tokens)
        new_index, kept = [], []
        for i, tok in enumerate(tokens):  # drop stray commas: sentence-initial or before "," / "."
            new_index.append(len(kept))
            if not (literal[i] and tok == "," and (not kept or tokens[i + 1] in {",", "."})):
                kept.append(tok)
        kept[0] = kept[0][:1].upper() + kept[0][1:]
        spans = sorted((new_index[s], new_index[e - 1] + 1, t, k) for s, e, t, k in spans)
        index = {k: i for i, (_, _, _, k) in enumerate(spans)}
        relations = set()
        for rtype, head, tail in self.clause.relations:
            h, t = index[head], index[tail]
            if RELATION_TYPES[rtype][1] and t < h:  # symmetric: head first in text order
                h, t = t, h
            relations.add((h, t, rtype))
        return {
            "tokens": kept,
            "entities": [{"type": t, "start": s, "end": e} for s, e, t, _ in spans],
            "relations": [{"type": r, "head": h, "tail": t} for h, t, r in sorted(relations)],
        }


def _try_sentence(rng: np.random.Generator, config: SyntheticConfig) -> dict | None:
    draft = _Draft(rng)
    target = int(rng.integers(config.min_entities, config.max_entities + 1))
    if target == 0:
        main = draft.make(lx.pick(rng, lx.FILLERS), "", 0)
    elif target == 1:
        main = draft.make(lx.pick(rng, lx.SINGLE_FRAMES), "", 1)
    else:
        if rng.random() < config.relation_density:
            frames = lx.RELATION_FRAMES[lx.pick(rng, list(RELATION_TYPES))]
        else:
            frames = [(t, "") for t in lx.NEUTRAL_FRAMES]
        frames = [f for f in frames if len(_SLOT.findall(f[0])) <= target]
        main = draft.make(*lx.pick(rng, frames), target)
    if main.n_tokens >= config.max_tokens or main.n_entities > config.max_entities:
        return None
    draft.add(main, 0)
    for _ in range(2 * target):
        if draft.clause.n_entities >= target:
            break
        draft.modify(target, rng.random() < config.relation_density, config.max_tokens)
    has_prefix = False
    for _ in range(int(rng.poisson(config.distractors))):
        prefix = not has_prefix and rng.random() < _PREFIX_RATE  # one before the main clause, more after it
        decoy = draft.clause.n_entities < config.max_entities and rng.random() < _DECOY_RATE
        pool = (lx.PREFIX_DECOYS if decoy else lx.PREFIX_DISTRACTORS) if prefix else (
            lx.SUFFIX_DECOYS if decoy else lx.SUFFIX_DISTRACTORS)
        template = lx.pick(rng, [t for t in pool if t not in draft.used] or pool)
        draft.used.add(template)
        clause = draft.make(template, "", config.max_entities, anchors=False)
        fits = draft.clause.n_tokens + clause.n_tokens < config.max_tokens
        if fits and draft.clause.n_entities + clause.n_entities <= config.max_entities:
            draft.add(clause, 0 if prefix else len(draft.clause.pieces))
            has_prefix |= prefix
    if not config.min_entities <= draft.clause.n_entities <= config.max_entities:
        return None
    return draft.to_json()


def _sentence(rng: np.random.Generator, config: SyntheticConfig) -> dict:
    for _ in range(200):
        doc = _try_sentence(rng, config)
        if doc is not None:
            return doc
    raise UserInputError(f"SyntheticConfig.max_tokens: {config.max_tokens} tokens are too few for sentences with "
                     f"min_entities={config.min_entities}")


def _add_noise(rng: np.random.Generator, docs: list[dict], rate: float) -> None:
    for doc in docs:
        for ent in doc["entities"]:
            if rng.random() < rate:
                ent["type"] = lx.pick(rng, [t for t in ENTITY_TYPES if t != ent["type"]])
        doc["relations"] = [r for r in doc["relations"] if rng.random() >= rate]


def generate(config: SyntheticConfig) -> tuple[dict[str, list[dict]], dict]:
    """Return ({train, dev, test, train_dev}: SpERT JSON documents, types JSON); same config, same output."""
    rng = np.random.default_rng(config.seed)
    sizes = {"train": config.train_size, "dev": config.dev_size, "test": config.test_size}
    total = sum(sizes.values())
    docs: list[dict] = []
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    while len(docs) < total:  # identical sentences are drawn once, so no split shares a sentence
        doc = _sentence(rng, config)
        if tuple(doc["tokens"]) in seen:
            repeats += 1
            if repeats > 20 * total + 1000:
                raise UserInputError(f"SyntheticConfig.train_size: cannot draw {total} distinct sentences "
                                 f"(train+dev+test) with these knobs; got {len(docs)}")
            continue
        seen.add(tuple(doc["tokens"]))
        docs.append({**doc, "orig_id": len(docs)})
    splits, start = {}, 0
    for name, size in sizes.items():
        splits[name], start = docs[start:start + size], start + size
    if config.label_noise > 0:
        _add_noise(np.random.default_rng([config.seed, 1]), splits["train"], config.label_noise)
    splits["train_dev"] = copy.deepcopy(splits["train"] + splits["dev"])
    return splits, types_json()


def _dumps_docs(docs: list[dict]) -> str:
    lines = (json.dumps(d, separators=(",", ":"), ensure_ascii=False) for d in docs)
    return "[\n" + ",\n".join(lines) + "\n]\n"


def write_synthetic(dest: Path, config: SyntheticConfig) -> dict[str, Path]:
    """Write synthetic_{train,dev,test,train_dev,types}.json into `dest`; return split (and "types") -> path.

    All files are written into a temporary folder beside `dest` first; a new `dest` is then that folder
    renamed, an existing one gets each file moved in by an atomic rename. On error nothing is left behind.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest}: exists and is not a directory")
    names = {split: f"{NAME}_{split}.json" for split in SPLITS}
    names["types"] = f"{NAME}_types.json"
    splits, types = generate(config)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_temp_folder(dest.parent, f".{dest.name}.tmp-")
    try:
        for split in SPLITS:
            (tmp / names[split]).write_text(_dumps_docs(splits[split]), encoding="utf-8")
        (tmp / names["types"]).write_text(json.dumps(types, indent=1) + "\n", encoding="utf-8")
        if dest.exists():
            for name in names.values():
                os.replace(tmp / name, dest / name)
            tmp.rmdir()
        else:
            os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {key: dest / name for key, name in names.items()}
