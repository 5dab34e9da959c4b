"""erbench: a reproducibility benchmark for span-based joint entity and relation extraction."""

__version__ = "0.1.0"
