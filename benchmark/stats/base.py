"""What every statistics module shares: the seed and count types, alpha, and the pairing of scores."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

ALPHA = 0.05

Seed = int | np.random.Generator
DocCounts = Mapping[str, tuple[int, int, int]]  # type -> (tp, fp, fn) of one document
MetricFn = Callable[[np.ndarray], np.ndarray]  # pooled counts [..., types, 3] -> scores [...]


def make_rng(seed: Seed) -> np.random.Generator:
    """The generator itself, or a fresh one from an int seed (never the global RNG)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(f"seed must be an int or numpy.random.Generator, got {type(seed).__name__}")


def paired_arrays(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, b - a) as flat float arrays; a ValueError when the lengths differ."""
    x, y = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired scores need equal lengths, got {x.size} and {y.size}")
    return x, y, y - x


def magnitude(x: np.ndarray, y: np.ndarray) -> float:
    """Magnitude of the scores; differences below 1e-12 of it are treated as float noise."""
    return max(1.0, float(np.max(np.abs(x), initial=0.0)), float(np.max(np.abs(y), initial=0.0)))
