"""The software and hardware a run ran on, recorded in every run folder (environment.json) and MLflow.

``capture`` lists the Python version, every installed distribution with its version (what
`pip freeze` lists, read through importlib.metadata), the CPU model and thread counts, the thread
policy (erbench.runtime), torch and transformers, and on a CUDA device its name, the CUDA and cuDNN
versions and the numerics settings in force (TF32, deterministic algorithms).
"""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path


def distributions() -> dict[str, str]:
    """{name: version} of every installed distribution, names normalised as pip prints them (PEP 503)."""
    out: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            out.setdefault(re.sub(r"[-_.]+", "-", name).lower(), dist.version)
    return dict(sorted(out.items()))


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def capture(device: str = "cpu") -> dict:
    """The environment of this process; `device` is the torch device the run used ('cpu', 'cuda:0')."""
    import torch
    import transformers
    from erbench import runtime

    env = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "thread_policy": runtime.thread_policy(),
        "device": device,
        "device_type": device.split(":")[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda,
        "cudnn": None,
        "gpu": None,
        "cuda_settings": None,
        "packages": distributions(),
    }
    if env["device_type"] == "cuda" and torch.cuda.is_available():
        index = torch.device(device).index or 0
        env["gpu"] = torch.cuda.get_device_name(index)
        env["cudnn"] = torch.backends.cudnn.version()
        env["cuda_settings"] = runtime.cuda_settings()
    return env


def freeze_lines(env: dict) -> list[str]:
    """The packages as `name==version` lines (pip freeze's format)."""
    return [f"{n}=={v}" for n, v in (env.get("packages") or {}).items()]
