"""Issue 27 (1): the README's examples run as written. Blocks marked `<!-- runnable -->` (the line before a
```bash fence) run, line by line, in a copy of the project (micro suite) with the test's erbench on PATH;
and the README's numbers about a suite are the suite file's."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.project_copy import copy_project

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- runnable -->"


def runnable_blocks(text: str) -> list[list[str]]:
    """The commands of every ```bash block right after a runnable marker: continuation lines joined,
    comments and blank lines dropped."""
    blocks = []
    for match in re.finditer(re.escape(MARKER) + r"\n```(\w*)\n(.*?)\n```", text, re.S):
        assert match.group(1) == "bash", f"a runnable block must be ```bash, got ```{match.group(1)}"
        commands, pending = [], ""
        for line in match.group(2).splitlines():
            line = re.sub(r"\s+#.*$", "", line) if not line.lstrip().startswith("#") else ""
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            if (pending + line).strip():
                commands.append((pending + line).strip())
            pending = ""
        blocks.append(commands)
    return blocks


def test_the_readme_marks_runnable_blocks_and_every_marker_precedes_a_bash_block() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = runnable_blocks(text)
    assert len(blocks) == text.splitlines().count(MARKER) >= 1
    assert any(c.startswith("erbench train") for b in blocks for c in b)


def test_runnable_blocks_parse_continuations_and_comments() -> None:
    text = f"{MARKER}\n```bash\nerbench a \\\n  --b 1   # why\n# a comment\n\nerbench c\n```\n"
    assert runnable_blocks(text) == [["erbench a    --b 1", "erbench c"]]


@pytest.mark.slow
def test_the_readme_runnable_blocks_run_in_a_copy_of_the_project(tmp_path) -> None:
    env = copy_project(tmp_path, "micro")
    for block in runnable_blocks((ROOT / "README.md").read_text()):
        for command in block:
            proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=600)
            assert proc.returncode == 0, f"README: {command} failed\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


def test_the_readme_states_the_embedded_suites_lr() -> None:
    text = (ROOT / "README.md").read_text()
    lr = yaml.safe_load((ROOT / "suites" / "embedded.yaml").read_text())["train"]["lr"]
    stated = re.findall(r"embedded suite uses lr ([0-9.e-]+)", text)
    assert stated and all(float(x) == lr for x in stated), (stated, lr)


def test_the_readme_says_to_activate_the_venv() -> None:
    assert "source .venv/bin/activate" in (ROOT / "README.md").read_text()
