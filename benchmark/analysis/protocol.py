"""The protocol card: every setting that makes one dataset's runs comparable, read from the runs.

The literature's comparisons fail on settings that are rarely printed (Taillé et al. 2020): dev vs
test scores, train vs train+dev, the selected epoch, strict (RE+) vs boundaries (RE), micro vs macro,
ADE's overlapping-entity filter, best-of-k vs mean of k seeds. The card lists them per dataset with
the encoder (and its casing), span size, epochs, negative counts per method, seeds, the sha256 of
the data files and the project's git commit.

Runs of one table must agree on every key of ``REFUSED``; ``mismatches`` names each key that differs
and the runs behind each value. Negative-sample counts are a method's own option (SpERT 100/100,
SpERT.MT 120/120), so they are shown per method and never refused on; within one method they may
differ only in a sweep, which benchmark.report resolves before the card is built.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from erbench.errors import UserInputError

# protocol key -> card label; runs of one table must share every value
REFUSED = {
    "eval_split": "scored on (dev or test)",
    "train_split": "trained on (train or train+dev)",
    "selected_epoch": "selected epoch (last or best on dev)",
    "no_overlapping": "ADE overlap filter (no_overlapping)",
    "encoder": "encoder",
    "epochs": "epochs",
    "max_span_size": "max span size",
    "batch_size": "batch size",
    "lr": "learning rate",
    "optimizer": "optimizer",
    "thresholds": "decision thresholds",
}
# the value a run that did not record a key was made with (runs before the key existed)
UNRECORDED = {"eval_split": "test", "optimizer": "adamw", "interpretation": "as registered", "thresholds": "spec"}
THRESHOLDS = {"spec": "SPEC", "dev": "tuned on dev", "set": "set by hand (erbench evaluate --set)"}
# keys on which a declared choice (params choices; protocol.choice set) may differ from the other runs
CHOICE_KEYS = ("thresholds",)
OPTIMIZERS = {"adamw_legacy": "the reference SpERT's AdamW: no bias correction, eps 1e-6, decay after the step",
              "adamw": "torch.optim.AdamW"}
SHA_KEY = "data_sha256"
# environment key -> card label: shown on the card; runs that differ are warned about, not refused
ENVIRONMENT = {"torch": "torch", "transformers": "transformers", "device_type": "device type"}
RELATION_HEADLINE = {"rel_strict": "RE+ (strict: spans and entity types)", "rel": "RE (boundaries: spans only)"}
MAX_NAMED_RUNS = 4


class RunLike(Protocol):  # benchmark.report.collect.RunRecord
    dataset: str
    method: str
    seed: int
    fold: int | None
    protocol: dict[str, Any]
    data: dict[str, Any]

    @property
    def negatives(self) -> tuple[int | None, int | None]: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class Mismatch:
    dataset: str
    key: str
    values: tuple[tuple[str, tuple[str, ...]], ...]  # (value, run labels)

    def message(self) -> str:
        parts = []
        for value, labels in self.values:
            named = ", ".join(labels[:MAX_NAMED_RUNS])
            more = f" and {len(labels) - MAX_NAMED_RUNS} more" if len(labels) > MAX_NAMED_RUNS else ""
            parts.append(f"{value} ({named}{more})")
        return f"{self.dataset}: runs differ in protocol key '{self.key}': " + "; ".join(parts)


class ProtocolMismatch(UserInputError):
    """Runs whose protocol differs were put into one table without allow_mixed."""

    def __init__(self, mismatches: Sequence[Mismatch]):
        self.mismatches = tuple(mismatches)
        lines = "; ".join(m.message() for m in self.mismatches)
        super().__init__(f"{lines}. Refusing to put them into one table: rerun the odd runs, report them "
                         "separately, or pass --allow-mixed to mark the table as mixed")


@dataclass(frozen=True)
class CardRow:
    key: str
    label: str
    value: str
    mixed: bool = False


@dataclass(frozen=True)
class ProtocolCard:
    dataset: str
    rows: tuple[CardRow, ...]
    values: dict[str, list[str]]  # key -> sorted distinct values over the runs
    negatives: dict[str, str]  # method -> "entity/relation" (comma-joined when a method has several)
    sha256: dict[str, str]  # data file -> sha256 (a value per file; several joined by ',')
    git_commit: str
    mismatches: tuple[Mismatch, ...]
    environment: tuple[Mismatch, ...] = ()  # torch / transformers / device type differences (warned, not refused)

    @property
    def mixed(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.mismatches)

    def row(self, key: str) -> CardRow:
        return next(r for r in self.rows if r.key == key)


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "?" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def encoder_casing(name: str) -> str:
    """'cased', 'uncased' or 'unknown': the tokenizer's do_lower_case when its files are local, else the name."""
    if not name or name == "?":
        return "unknown"
    try:
        from erbench.models.encoder import TINY, resolve_encoder

        path = Path(resolve_encoder("minilm" if name == TINY else name))
        config = path / "tokenizer_config.json"
        if config.is_file():
            lower = json.loads(config.read_text(encoding="utf-8")).get("do_lower_case")
            if isinstance(lower, bool):
                return "uncased" if lower else "cased"
    except (ImportError, OSError, ValueError):
        pass
    low = name.lower()
    if "uncased" in low:
        return "uncased"
    return "cased" if "cased" in low else "unknown"


def project_commit(cwd: Path | None = None) -> str:
    """HEAD's commit, '-dirty' when the code (benchmark/, models/, pyproject.toml) differs from it; else 'unknown'."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "benchmark", "models",
                                "pyproject.toml"], cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode != 0 or not head.stdout.strip():
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def _distinct(runs: Sequence[RunLike], value_of) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in runs:
        out.setdefault(value_of(r), []).append(r.label)
    return out


def declared_choice(run: RunLike) -> bool:
    """A variant someone named (params choices, calibrate, evaluate --out-run): it may differ in CHOICE_KEYS.
    A run the report relabelled by its reading alone (report.collect, `variant_of`) is held to the others."""
    return bool(run.protocol.get("choice")) and run.protocol.get("variant_of") != "interpretation"


def mismatches(dataset: str, runs: Sequence[RunLike]) -> list[Mismatch]:
    """Every REFUSED key (and data file hash) on which the runs disagree, with the runs per value."""
    found = []
    for key in REFUSED:
        compared = [r for r in runs if not (key in CHOICE_KEYS and declared_choice(r))]
        values = _distinct(compared, lambda r, k=key: fmt(r.protocol.get(k, UNRECORDED.get(k))))
        if len(values) > 1:
            found.append(Mismatch(dataset, key, tuple((v, tuple(ls)) for v, ls in sorted(values.items()))))
    files = sorted({f for r in runs for f in ((r.data or {}).get("sha256") or {})})
    for name in files:  # runs that did not record a file's hash are not compared on it
        values = _distinct([r for r in runs if name in ((r.data or {}).get("sha256") or {})],
                           lambda r, n=name: str(r.data["sha256"][n]))
        if len(values) > 1:
            found.append(Mismatch(dataset, f"{SHA_KEY}:{name}", tuple((v[:12], tuple(ls))
                                                                        for v, ls in sorted(values.items()))))
    return found


def environment_value(run: RunLike, key: str) -> str:
    """A run's torch / transformers version or device type from its metrics.json environment."""
    env = getattr(run, "environment", None) or {}
    if key == "device_type":
        value = env.get("device_type") or str(env.get("device") or "").split(":")[0]
    else:
        value = env.get(key)
    return str(value) if value else "not recorded"


def environment_differences(dataset: str, runs: Sequence[RunLike]) -> list[Mismatch]:
    """The ENVIRONMENT keys on which the runs differ, with the runs behind each value."""
    found = []
    for key in ENVIRONMENT:
        values = _distinct(runs, lambda r, k=key: environment_value(r, k))
        if len(values) > 1:
            found.append(Mismatch(dataset, key, tuple((v, tuple(ls)) for v, ls in sorted(values.items()))))
    return found


def environment_warning(m: Mismatch) -> str:
    """The report's warning about one environment difference, naming the runs behind each value."""
    text = m.message().split(": ", 2)[-1]
    return (f"{m.dataset}: the runs of one table ran with different {ENVIRONMENT.get(m.key, m.key)}: {text}; "
            "their scores may differ for that reason alone")


def negatives_by_method(runs: Sequence[RunLike]) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for r in runs:
        text = f"{fmt(r.negatives[0])}/{fmt(r.negatives[1])}"
        if text not in out.setdefault(r.method, []):
            out[r.method].append(text)
    return {m: ",".join(sorted(v)) for m, v in out.items()}


def interpretations_by_method(runs: Sequence[RunLike]) -> dict[str, list[tuple[str, list[str]]]]:
    """method -> [(interpretation, run labels)]: the SpERT.MT options a run set away from its method's
    registered reading (`erbench.models.registry.interpretation`)."""
    out: dict[str, dict[str, list[str]]] = {}
    for r in runs:
        value = str(r.protocol.get("interpretation", UNRECORDED["interpretation"]))
        out.setdefault(r.method, {}).setdefault(value, []).append(r.label)
    return {m: sorted(v.items()) for m, v in out.items()}


def interpretation_mismatches(dataset: str, runs: Sequence[RunLike]) -> list[Mismatch]:
    """Runs of one method that differ in their interpretation options: not one table's column."""
    return [Mismatch(dataset, f"interpretation:{m}", tuple((v, tuple(ls)) for v, ls in values))
            for m, values in sorted(interpretations_by_method(runs).items()) if len(values) > 1]


def protocol_card(dataset: str, runs: Sequence[RunLike], *, average: str, relation_headline: str = "rel_strict",
                  git_commit: str = "unknown") -> ProtocolCard:
    """The card of one dataset's table runs (as the table uses them: one negative setting per method)."""
    if not runs:
        raise ValueError(f"{dataset}: no runs for a protocol card")
    found = tuple(mismatches(dataset, runs)) + tuple(interpretation_mismatches(dataset, runs))
    mixed = {m.key for m in found}
    values = {k: sorted(_distinct([r for r in runs if not (k in CHOICE_KEYS and declared_choice(r))] or runs,
                                  lambda r, k=k: fmt(r.protocol.get(k, UNRECORDED.get(k)))))
              for k in REFUSED}
    for k in CHOICE_KEYS:  # what declared choices add to the plain runs' values
        values[f"{k}_choices"] = sorted({fmt(r.protocol.get(k, UNRECORDED.get(k))) for r in runs
                                         if declared_choice(r)} - set(values[k]))
    sha: dict[str, list[str]] = {}
    for r in runs:
        for name, digest in sorted(((r.data or {}).get("sha256") or {}).items()):
            if str(digest) not in sha.setdefault(name, []):
                sha[name].append(str(digest))
    sha256 = {n: ",".join(sorted(v)) for n, v in sorted(sha.items())}
    negatives = negatives_by_method(runs)
    interpretations = interpretations_by_method(runs)
    methods = sorted({r.method for r in runs})
    seeds = sorted({r.seed for r in runs})
    folds = sorted({r.fold for r in runs if r.fold is not None})
    per_method = {m: sum(1 for r in runs if r.method == m) for m in methods}
    n_text = ", ".join(sorted({str(n) for n in per_method.values()}))
    casing = ",".join(encoder_casing(e) for e in values["encoder"])

    def row(key: str, label: str, value: str) -> CardRow:
        return CardRow(key, label, value, key in mixed or any(k.startswith(f"{key}:") for k in mixed))

    rows = [
        row("eval_split", REFUSED["eval_split"], ", ".join(values["eval_split"])),
        row("train_split", REFUSED["train_split"], ", ".join(values["train_split"])),
        row("selected_epoch", REFUSED["selected_epoch"], ", ".join(values["selected_epoch"])),
        row("relation", "relation headline", f"{RELATION_HEADLINE.get(relation_headline, relation_headline)}; "
            "RE and RE+ both reported"),
        row("average", "average", f"{average} (headline); micro and macro both in metrics.json"),
        row("no_overlapping", REFUSED["no_overlapping"], ", ".join(values["no_overlapping"])),
        row("aggregate", "aggregate over seeds", "mean ± sample std over all runs (never best-of-k)"),
        row("encoder", REFUSED["encoder"], f"{', '.join(values['encoder'])} ({casing})"),
        row("max_span_size", REFUSED["max_span_size"], ", ".join(values["max_span_size"])),
        row("negatives", "negatives entity/relation (per method)",
            ", ".join(f"{m} {negatives[m]}" for m in methods)),
        row("epochs", REFUSED["epochs"], ", ".join(values["epochs"])),
        row("batch_size", REFUSED["batch_size"], ", ".join(values["batch_size"])),
        row("lr", REFUSED["lr"], ", ".join(values["lr"])),
        row("optimizer", REFUSED["optimizer"], ", ".join(f"{o} ({OPTIMIZERS.get(o, o)})" for o in values["optimizer"])),
        row("thresholds", REFUSED["thresholds"], thresholds_text(runs)),
        row("seeds", "seeds", f"{', '.join(map(str, seeds))} (n={n_text} runs per method"
            + (f", {len(folds)} folds" if folds else "") + ")"),
        row("long_documents", "long documents", long_documents_text(runs)),
        row(SHA_KEY, "data sha256", "; ".join(f"{n} {d[:12]}" for n, d in sha256.items()) or "not recorded"),
        row("git_commit", "git commit (report)", git_commit),
    ]
    if any(v != UNRECORDED["interpretation"] for values in interpretations.values() for v, _ in values):
        rows.insert(next(i for i, r in enumerate(rows) if r.key == "negatives") + 1, row(
            "interpretation", "SpERT.MT interpretation options set away from the method's reading (per method)",
            "; ".join(f"{m}: {' | '.join(v for v, _ in interpretations[m])}" for m in methods)))
    env_found = tuple(environment_differences(dataset, runs))
    for key, label in ENVIRONMENT.items():
        counts = _distinct(runs, lambda r, k=key: environment_value(r, k))
        text = ", ".join(counts) if len(counts) == 1 else "differs: " + ", ".join(
            f"{v} ({len(ls)} run{'s' if len(ls) != 1 else ''})" for v, ls in sorted(counts.items()))
        rows.append(CardRow(f"env_{key}", label, text))
    return ProtocolCard(dataset, tuple(rows), values, negatives, sha256, git_commit, found, env_found)


def thresholds_text(runs: Sequence[RunLike]) -> str:
    """'SPEC', 'tuned on dev', or both with the declared choices that differ named."""
    plain = sorted({fmt(r.protocol.get("thresholds", "spec")) for r in runs if not declared_choice(r)})
    text = ", ".join(THRESHOLDS.get(v, v) for v in plain)
    chosen: dict[str, list[str]] = {}
    for r in runs:
        value = fmt(r.protocol.get("thresholds", "spec"))
        if declared_choice(r) and value not in plain and r.method not in chosen.setdefault(value, []):
            chosen[value].append(r.method)
    extra = "; ".join(f"{THRESHOLDS.get(v, v)} (choices: {', '.join(sorted(ms))})" for v, ms in sorted(chosen.items())
                      if ms)
    return "; ".join(t for t in (text, extra) if t) or "SPEC"


def long_documents_text(runs: Sequence[RunLike]) -> str:
    """The runs' long-document policy and what truncation cut from their evaluation splits."""
    policies = sorted({str((r.data or {}).get("long_documents", "truncate (before window existed)")) for r in runs})
    cut = {"truncated_documents": 0, "cut_words": 0, "cut_entities": 0}
    windowed = 0
    for r in runs:
        data = r.data or {}
        report = data.get("eval_encoding") or {}
        for key in cut:
            cut[key] += int(report.get(key) or 0)
        windowed += int(report.get("windowed_documents") or 0)
    text = ", ".join(policies)
    if cut["truncated_documents"]:
        return (f"{text}; eval split over all runs: {cut['truncated_documents']} documents truncated, "
                f"{cut['cut_words']} words and {cut['cut_entities']} gold entities cut")
    return f"{text}; nothing cut" + (f" ({windowed} documents encoded in windows over all runs)" if windowed else "")


def data_digest(sha256: Mapping[str, str]) -> str:
    """A 12-hex digest of all data files' hashes (for one-line signatures); '?' when none was recorded."""
    if not sha256:
        return "?"
    import hashlib

    text = "\n".join(f"{n}={d}" for n, d in sorted(sha256.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def short_commit(commit: str) -> str:
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") and len(commit) > 18 else "")


def signature(card: ProtocolCard, *, average: str, n_seeds: int, n_folds: int) -> str:
    """The one-line `|`-separated signature printed under every table (sacrebleu style)."""
    v = card.values
    negs = sorted(set(card.negatives.values()))
    neg = negs[0] if len(negs) == 1 else ",".join(f"{m}={n}" for m, n in sorted(card.negatives.items()))
    fields = [
        ("enc", ",".join(v["encoder"])),
        ("split", ",".join(f"{t}->{e}" for t in v["train_split"] for e in v["eval_split"])),
        ("ep", ",".join(v["epochs"])), ("sel", ",".join(v["selected_epoch"])), ("avg", average),
        ("no_overlap", ",".join(v["no_overlapping"])), ("neg", neg), ("bs", ",".join(v["batch_size"])),
        ("lr", ",".join(v["lr"])), ("opt", ",".join(v["optimizer"])), ("span", ",".join(v["max_span_size"])),
        ("thr", ",".join(v["thresholds"]) + "".join(f"+choice:{t}" for t in v.get("thresholds_choices", ()))),
        ("seeds", str(n_seeds)),
    ]
    if n_folds:
        fields.append(("folds", str(n_folds)))
    casing = card.row("encoder").value.rsplit("(", 1)[-1].rstrip(")")
    fields += [("case", casing), ("agg", "mean"), ("data", data_digest(card.sha256)),
               ("git", short_commit(card.git_commit))]
    if card.mixed:
        fields.append(("MIXED", ",".join(card.mixed)))
    return "|".join([card.dataset] + [f"{k}:{val}" for k, val in fields])
