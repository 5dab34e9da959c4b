"""A copy of this checkout in a fresh git repository, run the way a user runs it (the pipeline tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(cmd: list[str], cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def copy_project(dest: Path, suite: str = "micro", extra_env: dict | None = None) -> dict:
    """Copy the tracked and untracked-but-not-ignored files (no runs/, data/, reports/) to DEST, make it a
    git repository on suite SUITE with one commit; -> the environment to run erbench and dvc in."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if name.startswith(("runs/", "data/", "reports/")) or not (ROOT / name).is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""), "DVC_NO_ANALYTICS": "1",
           "HF_HUB_OFFLINE": "1", "CI": "true", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    env.update(extra_env or {})
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("ERBENCH_DATA_MIRROR", None)
    run(["git", "init", "-q"], dest, env)
    run([str(Path(bindir) / "erbench"), "suite", "use", suite], dest, env)
    run(["git", "add", "-A"], dest, env)
    run(["git", "commit", "-qm", f"{suite} suite"], dest, env)
    return env
