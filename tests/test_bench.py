"""`erbench bench` measures a method against the bare encoder on real batches (tiny encoder here)."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from erbench.cli import main
from erbench.datasets.registry import BUILTIN
from erbench.datasets.stage import stage_dataset
from erbench.datasets.synthetic import SyntheticConfig


@pytest.mark.parametrize("method, attention", [("spert", ()), ("spert_cb", ("--attention", "eager"))])
def test_bench_reports_ratios_and_the_step_breakdown(tmp_path, monkeypatch, method, attention):
    # an untrained model calls every span an entity and decodes all their pairs (quadratic): keep the
    # decoding small here, the bench's plumbing is what this test checks
    from erbench.models.heads import SpertHeads

    def few_entities(out, options):
        keep = torch.zeros(out["logits"].shape[0], dtype=torch.bool)
        keep[:6] = True
        return keep, torch.zeros_like(keep, dtype=torch.long)

    monkeypatch.setattr(SpertHeads, "decide_entities", staticmethod(few_entities))
    stage_dataset(BUILTIN["synthetic"], tmp_path, synthetic=SyntheticConfig(train_size=12, dev_size=2, test_size=2))
    threads = torch.get_num_threads()
    try:
        result = CliRunner().invoke(main, ["bench", "--dataset", "synthetic", "--encoder", "tiny-random",
                                           "--sentences", "8", "--threads", "1", "--method", method,
                                           "--data-root", str(tmp_path), *attention,
                                           "--json"])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for phase in ("train", "inference"):
        assert report[phase]["method_sps"] > 0 and report[phase]["bare_sps"] > 0
        ratio = report[phase]["bare_sps"] / report[phase]["method_sps"]
        assert abs(report[phase]["cost_ratio"] - ratio) < 1e-9
        assert report[phase]["peak_rss_mb"] > 0
    assert report["sentences"] == 8 and report["method"] == method
    from erbench.train import PHASES

    breakdown = report["breakdown"]
    assert list(breakdown["ms_per_step"]) == list(PHASES)
    assert all(breakdown["ms_per_step"][p] > 0 for p in PHASES)
    assert abs(sum(breakdown["share"].values()) - 1.0) < 1e-9
    assert breakdown["bare_encoder_ms_per_step"] > 0
    assert report["optimizer"] == "adamw_legacy"
    pad = report["padding"]
    assert 0 <= pad["sorted_share"] <= pad["train_share"] < 1 and pad["bound_speedup"] > 0
    assert report["attention"] == (attention[1] if attention else "sdpa") and report["compiled"] is False
    assert any("untrained model" in w for w in report["warnings"])  # no --checkpoint: said so
    assert "warning: inference decoded an untrained model" in result.stderr


def test_bench_on_a_random_encoder_of_a_named_configuration(tmp_path, monkeypatch):
    """--encoder-config: a randomly initialised encoder of MiniLM's sizes (no download), the training's
    batch look-ahead and CUDA settings recorded (none on the CPU)."""
    from erbench.bench import ENCODER_CONFIGS, random_encoder
    from erbench.models.heads import SpertHeads

    monkeypatch.setattr(SpertHeads, "decide_entities", staticmethod(
        lambda out, options: (torch.arange(out["logits"].shape[0]) < 4, torch.zeros(out["logits"].shape[0],
                                                                                     dtype=torch.long))))
    model, tokenizer = random_encoder("bert-base")
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (768, 12)
    assert model.config.vocab_size == len(tokenizer) and ENCODER_CONFIGS["minilm"]["hidden_size"] == 384
    stage_dataset(BUILTIN["synthetic"], tmp_path, synthetic=SyntheticConfig(train_size=8, dev_size=2, test_size=2))
    threads = torch.get_num_threads()
    try:
        result = CliRunner().invoke(main, ["bench", "--dataset", "synthetic", "--encoder-config", "minilm",
                                           "--sentences", "4", "--threads", "1", "--prepare-ahead", "thread",
                                           "--data-root", str(tmp_path), "--json"])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["encoder_config"] == "minilm" and "random minilm configuration" in report["encoder"]
    assert report["prepare_ahead"] is True and report["precision"] == "fp32"
    assert report["gpu"] is None and report["cuda_settings"] is None
    assert report["train"]["peak_cuda_mb"] == {"bare": None, "method": None}
    assert report["train"]["method_sps"] > 0 and report["inference"]["bare_sps"] > 0


def test_bench_refuses_a_random_encoder_with_a_checkpoint(tmp_path):
    result = CliRunner().invoke(main, ["bench", "--encoder-config", "minilm", "--checkpoint", str(tmp_path)])
    assert result.exit_code == 2
    assert "--encoder-config and --checkpoint" in result.output
