"""Training speed under CPU thread policies, alone and beside one busy process (issue 28, item 6).

    python scripts/thread_policy_bench.py --data-root data [--sentences 200] [--out policy.json]

For each policy, `erbench bench` (the method's training steps, MiniLM by default, on the synthetic train
split) runs once alone and once while one busy-looping Python process holds a core; the table gives the
training sentences/s of each and the share kept beside the busy process. Policies:

- `2 threads, spin`: libgomp's own default (GOMP_SPINCOUNT=300000: idle threads spin that long before
  sleeping; what erbench ran with before it set a wait policy);
- `1 thread`;
- `2 threads, PASSIVE`: OMP_WAIT_POLICY=PASSIVE, erbench's default (erbench.runtime);
- `2 threads, short spin`: GOMP_SPINCOUNT=10000;
- `2 threads, erbench's choice`: no wait variable set, so the `erbench` command picks the policy from the
  load it sees at its start (libgomp's default on idle CPUs, PASSIVE beside a busy process;
  erbench.runtime): what a run gets by default.

The wait policy never changes what a run computes (tests/test_determinism.py); only its speed.
`--smoke` runs three policies alone on the tiny random encoder for a few sentences (seconds): a check that
the script works, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

POLICIES = {
    "2 threads, spin": (2, {"GOMP_SPINCOUNT": "300000"}),
    "1 thread": (1, {}),
    "2 threads, PASSIVE": (2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    "2 threads, short spin": (2, {"GOMP_SPINCOUNT": "10000"}),
    "2 threads, erbench's choice": (2, {}),
}
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                  "ERBENCH_AUTO_WAIT_POLICY")


def bench_once(threads: int, extra_env: dict, args) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in WAIT_VARIABLES}
    env.update(extra_env, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), ERBENCH_NO_TRACKING="1")
    cmd = [sys.executable, "-c", "from erbench.cli import main; main()", "--quiet", "bench", "--dataset", args.dataset,
           "--encoder", args.encoder, "--sentences", str(args.sentences), "--threads", str(threads),
           "--device", "cpu", "--data-root", str(args.data_root), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"bench failed ({extra_env}, {threads} threads): {proc.stderr[-2000:]}")
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    policy = result.get("thread_policy") or {}
    return {"train_sps": result["train"]["method_sps"], "bare_sps": result["train"]["bare_sps"],
            "threads": result["threads"], "omp_wait_policy": policy.get("omp_wait_policy"),
            "wait_policy_choice": policy.get("wait_policy_choice")}


def beside_busy(fn):
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        return fn()
    finally:
        busy.terminate()
        busy.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True, help="holds the staged dataset (synthetic)")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--encoder", default="minilm")
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--smoke", action="store_true", help="seconds: two policies, alone, tiny encoder")
    parser.add_argument("--policies", default=None,
                        help="semicolon-separated subset of the policies' names, which contain commas (default: all)")
    args = parser.parse_args(argv)
    policies = dict(POLICIES)
    if args.policies:
        wanted = [p.strip() for p in args.policies.split(";") if p.strip()]
        unknown = [p for p in wanted if p not in POLICIES]
        if unknown:
            raise SystemExit(f"--policies: unknown {unknown}; known: {list(POLICIES)}")
        policies = {k: POLICIES[k] for k in wanted}
    if args.smoke:
        args.encoder, args.sentences = "tiny-random", 4
        policies = {k: POLICIES[k] for k in ("1 thread", "2 threads, PASSIVE", "2 threads, erbench's choice")}
    rows = {}
    for name, (threads, extra) in policies.items():
        alone = bench_once(threads, extra, args)
        busy = None if args.smoke else beside_busy(lambda threads=threads, extra=extra: bench_once(threads, extra,
                                                                                                   args))
        rows[name] = {"alone": alone, "beside_busy": busy,
                      "kept_share": busy["train_sps"] / alone["train_sps"] if busy else None}
        print(json.dumps({name: rows[name]}), flush=True)
    print("\n| policy | alone sent/s | beside one busy process | kept | OMP_WAIT_POLICY alone / beside |\n"
          "|---|---|---|---|---|")
    for name, r in rows.items():
        busy = f"{r['beside_busy']['train_sps']:.1f}" if r["beside_busy"] else "not measured (--smoke)"
        kept = f"{100 * r['kept_share']:.0f}%" if r["kept_share"] is not None else "-"
        waits = [(x or {}).get("omp_wait_policy") or "unset (libgomp default)" if x else "-"
                 for x in (r["alone"], r["beside_busy"])]
        print(f"| {name} | {r['alone']['train_sps']:.1f} | {busy} | {kept} | {waits[0]} / {waits[1]} |")
    if args.out:
        args.out.write_text(json.dumps({"encoder": args.encoder, "sentences": args.sentences,
                                        "usable_cpus": len(os.sched_getaffinity(0)), "policies": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
