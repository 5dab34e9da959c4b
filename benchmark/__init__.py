"""erbench: a reproducibility benchmark for span-based joint entity and relation extraction.

The public API, imported on first use so that `import erbench` stays light:

- `erbench.load_run(path)` -> a run with `.predict(list of strings or token lists)`
- `erbench.results("runs")` -> pandas DataFrame, one row per run
- `erbench.compare(df, ...)` -> the report's comparison table
"""

__version__ = "0.1.0"
__all__ = ["compare", "load_run", "results"]

_API = {"load_run": "erbench.predict", "results": "erbench.api", "compare": "erbench.api"}


def __getattr__(name: str):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'erbench' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
