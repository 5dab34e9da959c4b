"""`erbench evaluate --out-run` (a checkpoint re-decoded into a run folder of its own) and the report's
variants of runs trained with different SpERT.MT interpretation options (report.collect)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from erbench.cli import main
from erbench.datasets.registry import BUILTIN
from erbench.datasets.stage import stage_dataset
from erbench.datasets.synthetic import SyntheticConfig
from erbench.report import build_report, collect_runs
from erbench.report.tables import display_names

from tests.test_report import CONLL, CONLL_DOCS, CONLL_TYPES, FAST, write_run

TRAIN = ["--encoder", "tiny-random", "--epochs", "1", "--set", "device=cpu", "--set", "threads=1",
         "--set", "neg_entity_count=10", "--set", "neg_relation_count=4", "--set", "lr=1e-3", "--no-track",
         "--set", "save_weights=true", "--set", "max_span_size=3"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A SpERT.MT checkpoint trained on synthetic train, scored on test (and its data root)."""
    return train_tiny_run(tmp_path_factory.mktemp("rescore"), "spert_mt")


def train_tiny_run(base: Path, method: str) -> tuple[Path, Path]:
    """METHOD trained on a tiny staged synthetic dataset under BASE, seed 1: (run folder, data root)."""
    data_root = base / "data"
    stage_dataset(BUILTIN["synthetic"], data_root, synthetic=SyntheticConfig(train_size=8, dev_size=4, test_size=4))
    run = base / f"{method}-synthetic-s1"
    result = CliRunner().invoke(main, ["--quiet", "train", "--dataset", "synthetic", "--method", method,
                                       "--seed", "1", *TRAIN, "--dev-split", "none", "--data-root", str(data_root),
                                       "--out", str(run)])
    assert result.exit_code == 0, result.output
    return run, data_root


def _evaluate(run: Path, data_root: Path, *args: str):
    return CliRunner().invoke(main, ["--quiet", "evaluate", str(run), "--data-root", str(data_root), *args])


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_out_run_writes_the_rescored_split_as_a_run_and_keeps_the_original(trained, tmp_path):
    run, data_root = trained
    before = _digests(run)
    printed = _evaluate(run, data_root, "--split", "dev", "--json")
    assert printed.exit_code == 0, printed.output
    out = tmp_path / "on-dev"
    done = _evaluate(run, data_root, "--split", "dev", "--out-run", str(out), "--out", str(tmp_path / "m.json"))
    assert done.exit_code == 0, done.output
    assert f"wrote run spert_mt-synthetic-s1 (spert_mt, dev) to {out}" in done.output.replace("\n", "")
    assert _digests(run) == before  # the original run folder is never changed
    metrics = json.loads((out / "metrics.json").read_text())
    original = json.loads((run / "metrics.json").read_text())
    assert metrics["run"] == original["run"] and metrics["protocol"]["eval_split"] == "dev"
    assert {k: v for k, v in metrics["protocol"].items() if k != "eval_split"} == \
        {k: v for k, v in original["protocol"].items() if k != "eval_split"}
    assert metrics["history"] == original["history"]
    assert {k: v for k, v in metrics["timing"].items() if not k.startswith("eval_")} == \
        {k: v for k, v in original["timing"].items() if not k.startswith("eval_")}
    assert metrics["rescored_from"]["path"] == str(run) and metrics["rescored_from"]["split"] == "dev"
    assert metrics["rescored_from"]["metrics_sha256"] == hashlib.sha256((run / "metrics.json").read_bytes()).hexdigest()
    assert metrics["diagnostics"]["entity_scores"]["split"] == "dev"
    assert set(metrics["data"]["encoding"]) == {"train:train", "eval:dev"}  # the truncation record of dev
    assert metrics["data"]["eval_encoding"]["documents"] == 4 and metrics["timing"]["eval_seconds"] > 0
    assert metrics["timing"]["train_seconds"] == original["timing"]["train_seconds"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["eval_s"] == round(metrics["timing"]["eval_seconds"], 2)
    flat = json.loads(printed.output)  # the same numbers `erbench evaluate --split dev` prints
    assert {k: v for k, v in metrics["metrics"].items()} == pytest.approx({k: v for k, v in flat.items()
                                                                           if k != "decoding"})
    assert {k.split("/")[0] for k in metrics["metrics"]} <= {"dev", "dev_no_overlap"}
    assert (out / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()
    gold = [json.loads(line)["tokens"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    staged = json.loads((data_root / "raw" / "synthetic" / "synthetic_dev.json").read_text())
    assert gold == [d["tokens"] for d in staged]
    again = _evaluate(run, data_root, "--split", "dev", "--out-run", str(out))
    assert again.exit_code == 2 and "folder exists and is not empty" in again.output
    assert _evaluate(run, data_root, "--split", "dev", "--out-run", str(out), "--force").exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--split", "train"], "--split train: every document of it is in the run's training split 'train'"),
    (["--split", "dev", "--set", "neg_entity_count=3"], "'neg_entity_count' is not a decoding option"),
])
def test_out_run_refuses_training_data_and_training_options(trained, tmp_path, args, message):
    run, data_root = trained
    out = tmp_path / "refused"
    result = _evaluate(run, data_root, *args, "--out-run", str(out))
    assert result.exit_code == 2 and message in result.output
    assert not out.exists()  # nothing half-written
    same = _evaluate(run, data_root, "--split", "dev", "--out-run", str(run))
    assert same.exit_code == 2 and "never overwritten" in same.output
    inside = _evaluate(run, data_root, "--split", "dev", "--out-run", str(run / "dev"))
    assert inside.exit_code == 2 and "lies inside the run folder" in inside.output and not (run / "dev").exists()


def test_a_decoding_variant_is_its_own_method_in_the_report(trained, tmp_path):
    run, data_root = trained
    plain, product, strict = tmp_path / "plain", tmp_path / "product", tmp_path / "strict"
    assert _evaluate(run, data_root, "--split", "dev", "--out-run", str(plain)).exit_code == 0
    result = _evaluate(run, data_root, "--split", "dev", "--set", "mt_decision=product", "--out-run", str(product))
    assert result.exit_code == 0, result.output
    result = _evaluate(run, data_root, "--split", "dev", "--set", "rel_filter_threshold=0.9", "--out-run", str(strict))
    assert result.exit_code == 0, result.output
    prod = json.loads((product / "metrics.json").read_text())
    assert prod["run"]["method"] == "spert_mt+mt_decision=product" and prod["run"]["base_method"] == "spert_mt"
    assert prod["protocol"]["choice_set"] == {"mt_decision": "product"}
    assert prod["protocol"]["interpretation"] == "mt_decision=product" and prod["protocol"]["thresholds"] == "spec"
    config = json.loads((product / "config.json").read_text())
    assert config["run"]["model"]["mt_decision"] == "product" and config["run"]["eval_split"] == "dev"
    thr = json.loads((strict / "metrics.json").read_text())
    assert thr["run"]["method"] == "spert_mt+rel_filter_threshold=0.9"
    assert thr["protocol"]["thresholds"] == "set" and thr["thresholds"]["relation"] == 0.9
    same = tmp_path / "same"  # a threshold at the value it has changes nothing: the run keeps its identity
    assert _evaluate(run, data_root, "--split", "dev", "--set", "entity_threshold=0.5", "--out-run",
                     str(same)).exit_code == 0
    kept = json.loads((same / "metrics.json").read_text())
    assert kept["run"]["method"] == "spert_mt" and kept["protocol"]["thresholds"] == "spec"
    chained = tmp_path / "chained"  # a variant re-decoded again: one +KEY=VALUE part
    result = _evaluate(product, data_root, "--split", "dev", "--set", "rel_filter_threshold=0.9", "--out-run",
                       str(chained))
    assert result.exit_code == 0, result.output
    again = json.loads((chained / "metrics.json").read_text())
    assert again["run"]["method"] == "spert_mt+mt_decision=product,rel_filter_threshold=0.9"
    assert again["run"]["choice_set"] == {"mt_decision": "product", "rel_filter_threshold": 0.9}
    stats = build_report([plain, product, strict], tmp_path / "report", **FAST)
    variants = {row["variant"]: row for row in stats["interpretation_sensitivity"]}
    assert set(variants) == {"spert_mt+mt_decision=product", "spert_mt+rel_filter_threshold=0.9"}
    assert variants["spert_mt+mt_decision=product"]["vs_specified"]["n"] == 1
    md = (tmp_path / "report" / "results.md").read_text()
    assert "| SpERT.MT (mt_decision=product) |" in md and "| SpERT.MT (rel_filter_threshold=0.9) |" in md
    card = next(line for line in md.splitlines() if "decision thresholds" in line)
    assert "set by hand (erbench evaluate --set)" in card


def _interpretation_runs(root: Path, method: str, reading: str, seeds=(1, 2, 3)) -> None:
    for seed in seeds:
        folder = write_run(root, "conll04", method, seed, None, CONLL[method][seed], CONLL_DOCS, CONLL_TYPES,
                           good=True, folder=f"{method}-{reading}-s{seed}")
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics["protocol"]["interpretation"] = reading
        (folder / "metrics.json").write_text(json.dumps(metrics))


def test_runs_of_one_method_with_two_readings_are_reported_as_variants(tmp_path):
    """`erbench train --set mt_loss_norm=side` runs beside runs as registered: each reading is a row of its
    own and a row of "Interpretation sensitivity", said so in the warnings; one reading alone stays as it is."""
    runs = tmp_path / "runs"
    for seed, scores in CONLL["spert"].items():
        write_run(runs, "conll04", "spert", seed, None, scores, CONLL_DOCS, CONLL_TYPES, good=False)
    _interpretation_runs(runs, "spert_mt", "as registered")
    _interpretation_runs(runs, "spert_mt", "mt_loss_norm=side, mt_decision=product")
    records = collect_runs([runs])
    assert sorted({r.method for r in records}) == ["spert", "spert_mt",
                                                   "spert_mt+mt_loss_norm=side,mt_decision=product"]
    variant = next(r for r in records if "+" in r.method)
    assert variant.protocol["base_method"] == "spert_mt" and variant.protocol["choice_set"] == {
        "mt_loss_norm": "side", "mt_decision": "product"}
    stats = build_report([runs], tmp_path / "out", **FAST)
    assert any("reported as the variant spert_mt+mt_loss_norm=side,mt_decision=product (seed 1, seed 2, seed 3)"
               in w for w in stats["warnings"])
    (row,) = stats["interpretation_sensitivity"]
    assert row["vs_specified"]["n"] == 3 and row["vs_specified"]["test"].startswith("paired t-test over seeds")
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| SpERT.MT (mt_loss_norm=side, mt_decision=product) |" in md
    alone = tmp_path / "alone"  # every spert_mt run shares one reading: one method, the card names the reading
    _interpretation_runs(alone, "spert_mt", "mt_loss_norm=side")
    assert {r.method for r in collect_runs([alone])} == {"spert_mt"}


def test_variant_display_names_follow_the_base_and_overrides():
    names = display_names(["spert_mt+mt_decision=product", "spert+devthr", "mine+x=1"])
    assert names == {"spert_mt+mt_decision=product": "SpERT.MT (mt_decision=product)", "spert+devthr": "spert+devthr",
                     "mine+x=1": "mine (x=1)"}
    renamed = display_names(["spert_mt", "spert_mt+mt_decision=product"], {"spert_mt": "MT"})
    assert renamed == {"spert_mt": "MT", "spert_mt+mt_decision=product": "MT (mt_decision=product)"}
    named = display_names(["spert_mt+mt_decision=product"], {"spert_mt+mt_decision=product": "Product"})
    assert named == {"spert_mt+mt_decision=product": "Product"}


def test_out_run_on_the_split_the_thresholds_were_tuned_on_is_refused_or_warned(trained, tmp_path):
    _, data_root = trained
    run = tmp_path / "tuned"
    result = CliRunner().invoke(main, ["--quiet", "train", "--dataset", "synthetic", "--method", "spert_mt",
                                       "--seed", "1", *TRAIN, "--set", "thresholds=dev", "--dev-split", "dev",
                                       "--data-root", str(data_root), "--out", str(run)])
    assert result.exit_code == 0, result.output
    refused = _evaluate(run, data_root, "--split", "dev", "--out-run", str(tmp_path / "r"))
    assert refused.exit_code == 2 and "the run's thresholds were tuned on 'dev'" in refused.output
    assert not (tmp_path / "r").exists()
    allowed = _evaluate(run, data_root, "--split", "dev", "--allow-same-split", "--out-run", str(tmp_path / "r"))
    assert allowed.exit_code == 0, allowed.output
    assert "warning: thresholds tuned on 'dev' and scored on 'dev', the same split" in allowed.output
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["thresholds"]["same_split"] is True and metrics["protocol"]["thresholds"] == "dev"
    assert any("optimistic" in w for w in metrics["warnings"])
    by_hand = _evaluate(run, data_root, "--split", "dev", "--set", "rel_filter_threshold=0.95", "--out-run",
                        str(tmp_path / "h"))  # thresholds set by hand: nothing tuned on dev decodes it
    assert by_hand.exit_code == 0, by_hand.output
    hand = json.loads((tmp_path / "h" / "metrics.json").read_text())
    assert hand["thresholds"]["mode"] == "set" and hand["thresholds"]["replaced"]["mode"] == "dev"
    assert "dev_scores" not in hand["thresholds"] and hand["protocol"]["thresholds"] == "set"


def test_relabelled_runs_are_held_to_the_thresholds_and_a_lost_baseline_is_said(tmp_path):
    from erbench.analysis.protocol import ProtocolMismatch
    from erbench.report.collect import variant_notes

    runs = tmp_path / "runs"
    _interpretation_runs(runs, "spert_mt", "mt_loss_norm=side")
    _interpretation_runs(runs, "spert_mt", "mt_loss_norm=pooled")
    notes = variant_notes(collect_runs([runs]))
    assert any("no spert_mt run reads spert_mt as registered" in n for n in notes)
    folder = runs / "spert_mt-mt_loss_norm=pooled-s1"  # a relabelled run tuned on dev: not a declared choice
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["protocol"]["thresholds"] = "dev"
    (folder / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(ProtocolMismatch, match="thresholds"):
        build_report([runs], tmp_path / "out", **FAST)


def test_a_duplicate_variant_names_where_its_id_comes_from(tmp_path):
    from erbench.report.collect import RunError

    runs = tmp_path / "runs"
    _interpretation_runs(runs, "spert_mt", "as registered", seeds=(1,))
    _interpretation_runs(runs, "spert_mt", "mt_decision=product", seeds=(1,))
    twin = write_run(runs, "conll04", "spert_mt+mt_decision=product", 1, None, CONLL["spert_mt"][1], CONLL_DOCS,
                     CONLL_TYPES, good=True, folder="rescored")
    metrics = json.loads((twin / "metrics.json").read_text())
    metrics["protocol"].update(choice="spert_mt+mt_decision=product", base_method="spert_mt",
                               choice_set={"mt_decision": "product"}, interpretation="mt_decision=product")
    (twin / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(RunError, match="both are the variant spert_mt\\+mt_decision=product"):
        collect_runs([runs])
