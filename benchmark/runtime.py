"""How a run uses the machine: CPU threads and their wait policy, and on CUDA TF32 and determinism.

docs/methods.md "Speed and determinism on CPU and GPU" explains the choices. Nothing here changes what
a CPU run computes: the wait policy only decides whether idle OpenMP threads spin or sleep, and the CUDA
settings are applied on CUDA devices alone.
"""

from __future__ import annotations

import os
import sys

# Idle OpenMP threads sleep instead of spinning: a run then keeps most of its speed when another
# process holds one of its cores (spinning threads wait for the slowest one at every parallel region).
WAIT_POLICY = "PASSIVE"
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


def set_process_policy(environ=None) -> dict:
    """At the entry point, before torch loads (OpenMP reads its variables once, when it loads):
    OMP_WAIT_POLICY=PASSIVE unless the user chose a wait policy (OMP_WAIT_POLICY or GOMP_SPINCOUNT), and
    the cuBLAS workspace deterministic CUDA runs need unless CUBLAS_WORKSPACE_CONFIG is set. -> what was set."""
    environ = os.environ if environ is None else environ
    chosen = {}
    if "OMP_WAIT_POLICY" not in environ and "GOMP_SPINCOUNT" not in environ:
        environ["OMP_WAIT_POLICY"] = chosen["OMP_WAIT_POLICY"] = WAIT_POLICY
    if "CUBLAS_WORKSPACE_CONFIG" not in environ:
        environ["CUBLAS_WORKSPACE_CONFIG"] = chosen["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    if environ is os.environ:
        _AT_START.update(set_by_erbench=sorted(chosen), before_torch="torch" not in sys.modules)
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
