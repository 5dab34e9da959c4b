"""Suites: complete params files under `suites/`; `erbench suite use NAME` makes one params.yaml."""

from __future__ import annotations

from pathlib import Path

from erbench.config import ConfigError
from erbench.files import write_text_atomic

SUITES_DIR = Path("suites")


def available(root: Path = SUITES_DIR) -> list[str]:
    return sorted(p.stem for p in Path(root).glob("*.yaml"))


def suite_text(name: str, root: Path = SUITES_DIR) -> str:
    path = Path(root) / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown suite '{name}' (known: {', '.join(available(root)) or 'none'}; looked in {root})")
    return path.read_text()


def description(name: str, root: Path = SUITES_DIR) -> str:
    """A suite's one-line description: the first sentence of its file's opening comment, less the `erbench
    params:` prefix, joined into one line where it runs over several comment lines."""
    words: list[str] = []
    text = ""
    for line in suite_text(name, root).splitlines():
        if not line.startswith("#"):
            if line.strip() or words:
                break
            continue
        words.append(line.lstrip("#").strip())
        text = " ".join(words).removeprefix("erbench params:").strip()
        end = _sentence_end(text)
        if end is not None:
            return text[:end + 1]
    return text


def _sentence_end(text: str) -> int | None:
    """The index of the first full stop outside parentheses that ends a sentence (then a space or the end)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "." and depth == 0 and (i + 1 == len(text) or text[i + 1] == " "):
            return i
    return None


def use_suite(name: str, params: Path = Path("params.yaml"), root: Path = SUITES_DIR, *, force: bool = False) -> Path:
    """Copy suites/NAME.yaml over params.yaml (atomically) after checking that it parses. A params file
    that is no suite's copy (edited by hand, or by `dvc exp run -S`) is replaced only with `force`."""
    import yaml
    from erbench.files import OutputExists

    text = suite_text(name, root)
    params = Path(params)
    if params.is_file() and not force and params.read_text() not in {suite_text(n, root) for n in available(root)}:
        raise OutputExists(f"{params}: matches none of the suites in {root} (edited?); give --force to replace it "
                           f"with suite {name}")
    parsed = yaml.safe_load(text)
    if not isinstance(parsed, dict) or parsed.get("suite") != name:
        raise ConfigError(f"{Path(root) / (name + '.yaml')}: expected a mapping with 'suite: {name}'")
    return write_text_atomic(params, text)
