"""scripts/gpu-check --dry-run: the GPU check's sections on the CPU at toy sizes, one JSON with every section
either run or skipped with its reason (the check itself needs a CUDA machine; see the script's header)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["environment", "gpu_tests", "micro_suite", "bench", "determinism", "agreement", "sync_audit", "goals"]


@pytest.mark.slow
def test_the_dry_run_goes_through_every_section(tmp_path: Path) -> None:
    bindir = str(Path(sys.executable).parent)  # the wrapper runs `python3`: this interpreter's
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""), "OUT": str(tmp_path / "out"),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([str(ROOT / "scripts" / "gpu-check"), "--dry-run"], capture_output=True, text=True,
                          env=env, timeout=3000)
    report = json.loads((tmp_path / "out" / "gpu-check.json").read_text())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "gpu-check: erbench: already importable" in proc.stderr
    check_dry_run_report(report)


def check_dry_run_report(report: dict) -> None:
    assert report["dry_run"] is True and report["device"] == "cpu"
    sections = report["sections"]
    assert list(sections) == SECTIONS
    for name, section in sections.items():
        assert section["status"] in ("ran", "skipped"), (name, section)
        if section["status"] == "skipped":
            assert section["reason"], name
    assert sections["sync_audit"]["status"] == "skipped" and "CUDA" in sections["sync_audit"]["reason"]
    assert all(sections[n]["status"] == "ran" for n in SECTIONS if n != "sync_audit")
    env_section = sections["environment"]
    assert env_section["torch"] and env_section["transformers"] and env_section["install"] == "already importable"
    tests = sections["gpu_tests"]
    assert tests["tests"] >= 5 and tests["skipped"] == tests["tests"]  # no CUDA here: every gpu test skips itself
    runs = sections["micro_suite"]["runs"]
    assert len(runs) == 1 and all(r["device"] == "cpu" and r["rel_micro_f1"] is not None for r in runs.values())
    assert sections["micro_suite"]["not_run"]["runs"]  # the rest of the grid, said so
    bench = sections["bench"]["runs"]
    assert bench["minilm-fp32"]["train"]["method_sps"] > 0 and bench["minilm-bf16"]["precision"] == "bf16"
    assert bench["bert-base"]["status"] == "skipped"
    determinism = sections["determinism"]
    assert determinism["identical"] is True and determinism["steps"] == 4  # 8 sentences, batch 2
    agreement = sections["agreement"]
    assert agreement["loss_abs_diff"] == 0.0  # the dry run's "device" is the CPU itself
    goals = sections["goals"]["figures"]
    assert goals["same seed twice identical"] == {"value": True, "target": True, "met": None}  # dry run: not judged
    assert goals["minilm-fp32: train cost ratio"]["value"] == bench["minilm-fp32"]["train"]["cost_ratio"]


@pytest.mark.slow
def test_the_thread_policy_bench_smoke(tmp_path: Path) -> None:
    from erbench.datasets.registry import BUILTIN
    from erbench.datasets.stage import stage_dataset
    from erbench.datasets.synthetic import SyntheticConfig

    stage_dataset(BUILTIN["synthetic"], tmp_path, synthetic=SyntheticConfig(train_size=8, dev_size=2, test_size=2))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "thread_policy_bench.py"), "--data-root",
                           str(tmp_path), "--smoke", "--out", str(tmp_path / "policy.json")], capture_output=True,
                          text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    policies = json.loads((tmp_path / "policy.json").read_text())["policies"]
    assert list(policies) == ["1 thread", "2 threads, PASSIVE", "2 threads, erbench's choice"]
    assert policies["1 thread"]["alone"]["threads"] == 1 and policies["2 threads, PASSIVE"]["alone"]["threads"] == 2
    passive, auto = policies["2 threads, PASSIVE"]["alone"], policies["2 threads, erbench's choice"]["alone"]
    assert passive["omp_wait_policy"] == "PASSIVE" and passive["wait_policy_choice"] == {"chosen_by": "user"}
    choice = auto["wait_policy_choice"]  # the bench's own erbench process chose from the load it saw
    assert choice["chosen_by"] == "erbench" and auto["threads"] == 2
    busy_start = choice["busy_cpus_at_start"] is None or choice["busy_cpus_at_start"] >= choice["busy_from"]
    assert auto["omp_wait_policy"] == ("PASSIVE" if busy_start else None)
    assert all(p["alone"]["train_sps"] > 0 and p["beside_busy"] is None for p in policies.values())
    assert "| 1 thread |" in proc.stdout
