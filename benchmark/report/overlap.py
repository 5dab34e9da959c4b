"""ADE's two published settings from one set of runs: with the overlapping-entity filter and without it.

SPEC 3: ADE is scored with `no_overlapping` (entities overlapping another entity, and relations whose
arguments overlap, are dropped from gold and predictions), and SpERT published ADE twice, with and without
overlapping entities, without saying which row is which. The filter is an evaluation option, so both
settings come from the same trained runs: every run whose gold data has overlapping entities scores its
predictions both ways (runner.score_predictions: `<split>/...` in the run's own setting, `<split>_keep_overlap/...`
without the filter). Here each run trained under the filter also becomes a record of the dataset
KEEP_SUFFIX-ed (`ade_overlapping`, printed "ADE (overlapping entities kept)"): its headline metrics are the
`_keep_overlap` ones, and its protocol says no_overlapping false, so every sentence-level test and
analysis re-scores the saved predictions without the filter. Nothing is trained twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from erbench.report.collect import RunRecord

KEEP_SUFFIX = "_overlapping"
KEEP_PREFIX = "_keep_overlap"  # runner.score_predictions: <split>_keep_overlap/<setting>/<average>_<metric>
SETTING_OF = "overlap_setting_of"  # protocol key of a derived record: the dataset it re-scores


def keep_overlap_records(records: Sequence[RunRecord]) -> list[RunRecord]:
    """For each run scored with the filter that also has the unfiltered scores, the same run as a record of
    DATASET_overlapping (see the module's docstring); runs without them give none."""
    out = []
    for rec in records:
        if not rec.protocol.get("no_overlapping"):
            continue
        split = rec.protocol.get("eval_split", "test")
        prefix = f"{split}{KEEP_PREFIX}/"
        kept = {f"{split}/{key[len(prefix):]}": value for key, value in rec.metrics.items() if key.startswith(prefix)}
        if not kept:
            continue
        name = rec.dataset + KEEP_SUFFIX
        protocol = {**rec.protocol, "dataset": name, "no_overlapping": False, SETTING_OF: rec.dataset}
        out.append(replace(rec, dataset=name, metrics=kept, protocol=protocol))
    return out


def keep_overlap_declarations(records: Sequence[RunRecord], averages: Mapping[str, str],
                              relations: Mapping[str, str], names: Mapping[str, str]) -> dict[str, dict]:
    """dataset -> its declaration (display_name, relation, average) for the derived datasets: the headline
    of the dataset they re-score (averages, relations and names: of the original datasets)."""
    out = {}
    for rec in records:
        base = rec.protocol.get(SETTING_OF)
        if base and rec.dataset not in out:
            out[rec.dataset] = {"display_name": f"{names.get(base, base)} (overlapping entities kept)",
                                "relation": relations.get(base, "rel_strict"), "average": averages.get(base, "micro")}
    return out


def keep_overlap_note(records: Sequence[RunRecord]) -> list[str]:
    """The line saying which table re-scores which runs (the report's warnings list it)."""
    derived = sorted({(r.protocol[SETTING_OF], r.dataset) for r in records if r.protocol.get(SETTING_OF)})
    return [f"{name}: the runs of {base} (trained and scored with no_overlapping) re-scored without the "
            "overlapping-entity filter from their saved predictions (metrics "
            f"<split>{KEEP_PREFIX}/...): the second published {base} setting, not a second training"
            for base, name in derived]


def rescored_datasets(records: Iterable[RunRecord]) -> set[str]:
    """The derived datasets among the records: re-scorings of another dataset's runs, never a dataset of
    their own where datasets are counted (replicability across datasets)."""
    return {r.dataset for r in records if r.protocol.get(SETTING_OF)}
