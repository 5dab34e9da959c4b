"""`erbench bench` measures a method against the bare encoder on real batches (tiny encoder here)."""

from __future__ import annotations

import json

import torch
from click.testing import CliRunner
from erbench.cli import main
from erbench.datasets.registry import BUILTIN
from erbench.datasets.stage import stage_dataset
from erbench.datasets.synthetic import SyntheticConfig


def test_bench_reports_ratios(tmp_path, monkeypatch):
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
                                           "--sentences", "8", "--threads", "1", "--data-root", str(tmp_path),
                                           "--json"])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for phase in ("train", "inference"):
        assert report[phase]["method_sps"] > 0 and report[phase]["bare_sps"] > 0
        ratio = report[phase]["bare_sps"] / report[phase]["method_sps"]
        assert abs(report[phase]["cost_ratio"] - ratio) < 1e-9
        assert report[phase]["peak_rss_mb"] > 0
    assert report["sentences"] == 8
