"""How a run uses the machine: CPU threads and their wait policy, and on CUDA TF32 and determinism.

docs/methods.md "Speed and determinism on CPU and GPU" explains the choices. Nothing here changes what
a CPU run computes: the wait policy only decides whether idle OpenMP threads spin or sleep, and the CUDA
settings are applied on CUDA devices alone.
"""

from __future__ import annotations

import os
import sys

# The OpenMP wait policy the `erbench` command picks for itself (set_process_policy): on a machine whose
# CPUs are idle when the process starts, libgomp's own default (idle threads spin a while before they
# sleep: the fastest alone); when another process already keeps one of them busy, PASSIVE (idle threads
# sleep at once: spinning threads wait for a descheduled partner at every parallel region and lose more
# than half their speed). docs/methods.md "CPU threads" has the measurements.
WAIT_POLICY = "PASSIVE"
# other processes' load (in CPUs, over the CPUs this process may use) from which the start counts as busy
BUSY_FROM = 0.5
# how long the start looks at the CPUs (/proc/stat, twice)
SAMPLE_SECONDS = 0.1
# marks a wait policy that an erbench process chose (so that an erbench child process chooses its own)
AUTO_MARK = "ERBENCH_AUTO_WAIT_POLICY"
# cuBLAS's fixed workspace that makes its results reproducible (CUDA's cuBLAS notes on reproducibility).
CUBLAS_WORKSPACE = ":4096:8"

# what the process's entry point set, and whether torch had been imported by then (set_process_policy)
_AT_START: dict = {}


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _cpu_times(path: str = "/proc/stat") -> dict[int, tuple[int, int]]:
    """-> {cpu: (idle jiffies, total jiffies)} from the per-CPU lines of /proc/stat."""
    times = {}
    with open(path) as f:
        for line in f:
            name, *fields = line.split()
            if not (name.startswith("cpu") and name[3:].isdigit()):
                continue
            values = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
            times[int(name[3:])] = (values[3] + values[4], sum(values))
    return times


def busy_cpus(seconds: float = SAMPLE_SECONDS, read=_cpu_times) -> float | None:
    """How many of this process's usable CPUs other processes kept busy over `seconds` (this process
    sleeps meanwhile). None where /proc/stat cannot be read (not Linux)."""
    import time

    try:
        cpus = os.sched_getaffinity(0)
        before = read()
        time.sleep(seconds)
        after = read()
    except (OSError, AttributeError, ValueError):
        return None
    busy = 0.0
    for cpu in cpus:
        if cpu not in before or cpu not in after:
            continue
        idle, total = (a - b for a, b in zip(after[cpu], before[cpu]))
        if total > 0:
            busy += 1.0 - idle / total
    return round(busy, 2)


def choose_wait_policy(busy: float | None) -> str | None:
    """The wait policy for a start that found `busy` CPUs taken by others: PASSIVE when it is at least
    BUSY_FROM (or unknown), else None (libgomp's default: spin, then sleep)."""
    return WAIT_POLICY if busy is None or busy >= BUSY_FROM else None


def set_process_policy(environ=None, *, measure=busy_cpus) -> dict:
    """At the entry point, before torch loads (OpenMP reads its variables once, when it loads): the
    OpenMP wait policy unless the user chose one (OMP_WAIT_POLICY or GOMP_SPINCOUNT): PASSIVE when other
    processes keep a CPU busy at the start, else libgomp's default; and the cuBLAS workspace deterministic
    CUDA runs need unless CUBLAS_WORKSPACE_CONFIG is set. A policy an erbench parent chose (AUTO_MARK) is
    chosen again for this process. -> what was set."""
    environ = os.environ if environ is None else environ
    chosen: dict = {}
    record: dict = {"chosen_by": "user"}
    if environ.get(AUTO_MARK):  # inherited from an erbench parent process: not the user's choice
        environ.pop(AUTO_MARK)
        if environ.get("OMP_WAIT_POLICY") == WAIT_POLICY:
            environ.pop("OMP_WAIT_POLICY")
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        busy = measure()
        policy = choose_wait_policy(busy)
        record = {"chosen_by": "erbench", "busy_cpus_at_start": busy, "busy_from": BUSY_FROM}
        environ[AUTO_MARK] = "1"
        if policy is not None:
            environ["OMP_WAIT_POLICY"] = chosen["OMP_WAIT_POLICY"] = policy
    if "CUBLAS_WORKSPACE_CONFIG" not in environ:
        environ["CUBLAS_WORKSPACE_CONFIG"] = chosen["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    if environ is os.environ:
        _AT_START.update(set_by_erbench=sorted(chosen), before_torch="torch" not in sys.modules, wait_policy=record)
    return chosen


def thread_policy() -> dict:
    """The CPU thread settings of this process, as a run records them (environment.json)."""
    import torch

    return {
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "usable_cpus": usable_cpus(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        # None: no erbench entry point ran (a library caller); False: torch loaded first, so the wait
        # policy variables above may not be the ones OpenMP read
        "policy_set_before_torch": _AT_START.get("before_torch"),
        # who chose the wait policy; when erbench did, the other processes' load it saw at the start
        # (busy_cpus_at_start) and the load from which it picks PASSIVE (busy_from)
        "wait_policy_choice": _AT_START.get("wait_policy"),
    }


def configure_cuda(*, tf32: bool, deterministic: bool) -> dict:
    """A CUDA run's numerics settings: TF32 for fp32 matmuls and convolutions only when `tf32`; with
    `deterministic`, deterministic kernels only (an op without one raises torch's RuntimeError naming
    it) and cuBLAS's fixed workspace. Process-wide; call before the run's first CUDA op. -> the settings."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic and torch.backends.cudnn.benchmark
    return cuda_settings()


def cuda_settings() -> dict:
    """The numerics settings in force (environment.json): TF32, deterministic algorithms, cuBLAS workspace."""
    import torch

    return {
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    }
