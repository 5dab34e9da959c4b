"""The README's results section, written from a report folder (`erbench results readme`), never by hand.

The section lies between two marker lines of README.md (BEGIN, END); everything outside them is left
byte for byte as it was. Its content comes from the report's own files:

- results.md: the results table with its caption and protocol signature (the text before the first
  section), and the sections SECTIONS names when the report has them (the verdict across datasets,
  the interpretation sensitivity), their headings one level down;
- stats.json: the commit the report was made at (its protocol cards), the runs and their datasets;
- the runs' own summary.json and environment.json (the run folders or saved records stats.json lists):
  the training time, and the CPU it was measured on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from erbench import runfolder
from erbench.errors import UserInputError
from erbench.files import write_text_atomic

BEGIN = "<!-- erbench results: begin (written by `erbench results readme` from a report; do not edit) -->"
END = "<!-- erbench results: end -->"
SECTIONS = ("Across datasets", "Replicability across datasets", "Interpretation sensitivity")


class ReadmeError(UserInputError):
    """A README without its markers, or a report folder without the files the section is made from."""


def _read(path: Path) -> str:
    if not path.is_file():
        raise ReadmeError(f"{path}: no such file; is {path.parent} a report folder written by `erbench report`?")
    return path.read_text(encoding="utf-8")


def split_sections(markdown: str) -> tuple[list[str], dict[str, list[str]]]:
    """(the lines before the first '## ' heading, {heading: its lines, the heading included})."""
    head: list[str] = []
    sections: dict[str, list[str]] = {}
    current = head
    for line in markdown.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        current.append(line)
    return head, sections


def _strip(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def run_time(stats: dict) -> dict:
    """The training time of the report's runs from their summary.json (train_min), and the CPUs from their
    environment.json; runs whose folder is not found are counted, never guessed."""
    minutes, cpus, missing = [], set(), 0
    for run in stats.get("runs") or []:
        folder = Path(str(run.get("path")))
        try:
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            missing += 1
            continue
        if isinstance(summary.get("train_min"), (int, float)):
            minutes.append(float(summary["train_min"]))
        else:
            missing += 1
        try:
            cpus.add(str(json.loads((folder / runfolder.ENVIRONMENT).read_text(encoding="utf-8")).get("cpu")))
        except (OSError, ValueError, AttributeError):
            pass
    return {"minutes": minutes, "cpus": sorted(cpus), "missing": missing}


def _time_phrase(time: dict) -> str:
    m = time["minutes"]
    if not m:
        return "training time unknown (no run's summary.json found)"
    text = (f"{sum(m) / 60:.1f} run-hours of training (the sum of the runs' recorded training times, "
            f"{min(m):.0f}-{max(m):.0f} min a run)")
    if time["cpus"]:
        text += f" on {'; '.join(time['cpus'])}"
    if time["missing"]:
        text += f"; {time['missing']} run(s) without a recorded time are not counted"
    return text


def results_section(report_dir: Path, suite: str | None) -> str:
    """The text between the markers, from the report folder (see the module's docstring)."""
    report_dir = Path(report_dir)
    head, sections = split_sections(_read(report_dir / "results.md"))
    try:
        stats = json.loads(_read(report_dir / "stats.json"))
    except ValueError as exc:
        raise ReadmeError(f"{report_dir / 'stats.json'}: malformed JSON: {exc}") from None
    if not suite:
        raise ReadmeError("name the suite the report was made from (--suite, or --params with a `suite`)")
    cards = stats.get("protocol_cards") or {}
    commits = sorted({str(c.get("git_commit")) for c in cards.values() if isinstance(c, dict)}) or ["unknown"]
    per_dataset = {}
    for run in stats.get("runs") or []:
        if run.get("in_table", True):
            per_dataset[run["dataset"]] = per_dataset.get(run["dataset"], 0) + 1
    counts = ", ".join(f"{d} {n}" for d, n in per_dataset.items())
    body = [f"Written by `erbench results readme` from the report in `{report_dir.as_posix()}/` (never typed by "
            f"hand): suite `{suite}`, report made at commit `{', '.join(commits)}`, "
            f"{sum(per_dataset.values())} runs in the tables ({counts}), {_time_phrase(run_time(stats))}.", ""]
    body += [line for line in _strip(head) if not line.startswith("# ")]
    for title in SECTIONS:
        if title in sections:
            body += [""] + ["#" + line if line.startswith("## ") else line for line in _strip(sections[title])]
    return "\n".join(_strip(body)) + "\n"


def replace_section(text: str, section: str, where: str) -> str:
    """`text` with the lines between BEGIN and END replaced by `section`; ReadmeError unless each marker is
    there once, on a line of its own, BEGIN first."""
    begins = [m.start() for m in re.finditer(f"^{re.escape(BEGIN)}$", text, re.M)]
    ends = [m.start() for m in re.finditer(f"^{re.escape(END)}$", text, re.M)]
    if len(begins) != 1 or len(ends) != 1 or begins[0] > ends[0]:
        raise ReadmeError(f"{where}: expected the marker lines {BEGIN!r} and then {END!r}, once each, on lines of "
                          f"their own (found {len(begins)} and {len(ends)}); add them where the results go")
    start = begins[0] + len(BEGIN) + 1
    return text[:start] + "\n" + section + "\n" + text[ends[0]:]


def write_readme_results(readme: Path, report_dir: Path, suite: str | None) -> str:
    """Rewrite README's results section from the report (atomically); returns the section written."""
    readme = Path(readme)
    section = results_section(report_dir, suite)
    new = replace_section(_read(readme), section, str(readme))
    write_text_atomic(readme, new)
    return section
