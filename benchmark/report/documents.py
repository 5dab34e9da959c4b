"""Per-run test documents, read lazily from predictions.jsonl and cached for one report.

The sentence-level test, the seen/unseen split, the error breakdown and the HTML sentence browser
all read the same (gold, predicted) documents; a report reads each run's file once. The cache keeps
no notes: a reader passes its own list, and a run without documents is noted in the list of the
first reader that asks for it (later readers get None silently), so each computing step returns the
notes it caused.
"""

from __future__ import annotations

from collections.abc import Sequence

from erbench.datasets.load import Document, TypeInventory
from erbench.report.collect import RunRecord, load_documents, load_types_of
from erbench.runfolder import CONFIG, PREDICTIONS
from erbench.scoring import Counts, document_counts

RunDocuments = tuple[list[Document], list[Document], TypeInventory]  # gold, predicted, types


class RunDocs:
    """(gold, predicted, types) and per-document (tp, fp, fn) of runs; a missing file is noted once."""

    def __init__(self) -> None:
        self.docs: dict[str, RunDocuments | None] = {}
        self.counts: dict[tuple[str, str], list[Counts]] = {}

    def of(self, rec: RunRecord, why: str = "the sentence-level test skips its comparisons",
           notes: list[str] | None = None) -> RunDocuments | None:
        """The run's documents, or None (noted in notes, with why, the first time) without its files."""
        key = str(rec.path)
        if key not in self.docs:
            types = load_types_of(rec)
            if not rec.predictions_path.is_file() or types is None:
                missing = PREDICTIONS if not rec.predictions_path.is_file() else f"{CONFIG} (types)"
                if notes is not None:
                    notes.append(f"{rec.label}: no {missing}; {why}")
                self.docs[key] = None
            else:
                gold, pred = load_documents(rec)
                self.docs[key] = (gold, pred, types)
        return self.docs[key]

    def counts_of(self, rec: RunRecord, setting: str, notes: list[str] | None = None) -> list[Counts] | None:
        docs = self.of(rec, notes=notes)
        if docs is None:
            return None
        no_overlapping = bool(rec.protocol.get("no_overlapping", False))  # one run can be scored both ways (overlap)
        key = (str(rec.path), setting, no_overlapping)
        if key not in self.counts:
            gold, pred, types = docs
            self.counts[key] = document_counts(gold, pred, types, setting, no_overlapping=no_overlapping)
        return self.counts[key]

    def same_gold(self, ra: RunRecord, rb: RunRecord, setting: str, notes: list[str] | None = None) -> bool:
        """Whether two runs were scored on the same documents with the same gold tuples per type."""
        ca, cb = self.counts_of(ra, setting, notes), self.counts_of(rb, setting, notes)
        if ca is None or cb is None:
            return False
        gold_a, gold_b = self.of(ra)[0], self.of(rb)[0]
        return len(ca) == len(cb) and all(
            ga.tokens == gb.tokens and {t: c[0] + c[2] for t, c in da.items() if c[0] + c[2]}
            == {t: c[0] + c[2] for t, c in db.items() if c[0] + c[2]}
            for ga, gb, da, db in zip(gold_a, gold_b, ca, cb))

    def paired(self, runs_a: Sequence[RunRecord], runs_b: Sequence[RunRecord], setting: str, what: str,
               notes: list[str]):
        """Concatenated counts of both sides, or None (with a note in notes) when they cannot be paired."""
        pooled_a, pooled_b = [], []
        for ra, rb in zip(runs_a, runs_b):
            ca, cb = self.counts_of(ra, setting, notes), self.counts_of(rb, setting, notes)
            if ca is None or cb is None:
                return None
            if not self.same_gold(ra, rb, setting):
                notes.append(f"{what}: {ra.label} and {rb.label} were not evaluated on the same gold "
                                  "documents; no sentence-level test")
                return None
            pooled_a.extend(ca)
            pooled_b.extend(cb)
        return pooled_a, pooled_b
