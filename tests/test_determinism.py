"""Same seed, two separate processes, two torch threads: bitwise the same run (SPEC 6).

An in-process repeat cannot stand in for this: what differs between two processes at two
threads is how the float additions of a multi-threaded kernel are ordered. The batches here
are large enough (8 documents, up to 200 negative spans each: over 32768 gathered elements per
step with the tiny encoder) that torch's CPU kernels for the backward of advanced indexing
switch to their parallel, atomic-add path; `erbench.models.spans.gather_rows` avoids it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from erbench.datasets.registry import BUILTIN
from erbench.datasets.stage import stage_dataset
from erbench.datasets.synthetic import SyntheticConfig

TRAIN = [sys.executable, "-c", "from erbench.cli import main; main()", "--quiet", "train", "--dataset", "synthetic",
         "--method", "spert", "--seed", "7", "--encoder", "tiny-random", "--epochs", "1", "--dev-split", "none",
         "--set", "threads=2", "--set", "device=cpu", "--set", "batch_size=8", "--set", "neg_entity_count=200",
         "--set", "lr=1e-3", "--set", "log_every=1"]


def run_two_processes(root: Path, out: Path) -> tuple[Path, Path]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(OMP_NUM_THREADS="2", MKL_NUM_THREADS="2", ERBENCH_NO_TRACKING="1")
    folders = (out / "a", out / "b")
    procs = [subprocess.Popen([*TRAIN, "--data-root", str(root), "--out", str(f)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for f in folders]
    for proc in procs:  # both at once: they share the cores, as two `dvc repro` stages would
        output, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, output
    return folders


@pytest.mark.slow
def test_two_processes_two_threads_same_seed_are_bitwise_identical(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    root = tmp_path / "data"
    stage_dataset(BUILTIN["synthetic"], root, synthetic=SyntheticConfig(train_size=48, dev_size=4, test_size=8))
    a, b = run_two_processes(root, tmp_path)
    metrics_a, metrics_b = (json.loads((f / "metrics.json").read_text()) for f in (a, b))
    assert metrics_a["environment"]["threads"] == metrics_b["environment"]["threads"] == 2
    for m in (metrics_a, metrics_b):  # the wait policy the erbench command chose before torch loaded
        policy = m["environment"]["thread_policy"]
        choice = policy["wait_policy_choice"]
        assert choice["chosen_by"] == "erbench" and policy["policy_set_before_torch"] is True
        busy_start = choice["busy_cpus_at_start"] is None or choice["busy_cpus_at_start"] >= choice["busy_from"]
        assert policy["omp_wait_policy"] == ("PASSIVE" if busy_start else None)
        assert policy["threads"] == 2 and policy["usable_cpus"] >= 1
    weights_a, weights_b = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert weights_a.keys() == weights_b.keys()
    differing = [k for k in weights_a if not (weights_a[k] == weights_b[k]).all()]
    assert not differing, f"{len(differing)} of {len(weights_a)} tensors differ, e.g. {differing[:3]}"
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    assert metrics_a["metrics"] == metrics_b["metrics"]
    losses = [[{k: v for k, v in r.items() if k.startswith("train/")} for r in m["history"]]
              for m in (metrics_a, metrics_b)]
    assert losses[0] == losses[1]
    steps = [[(r["step"], r["train/loss"]) for r in map(json.loads, (f / "steps.jsonl").read_text().splitlines())]
             for f in (a, b)]
    assert len(steps[0]) == 6 and steps[0] == steps[1]  # 48 documents / batch 8, every step logged
    assert (a / "predictions.jsonl").read_bytes() == (b / "predictions.jsonl").read_bytes()
