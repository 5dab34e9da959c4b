"""Almost Stochastic Order (ASO, deep-significance): epsilon_min that b is stochastically dominant over
a, with its Monte Carlo standard error. deepsig (GPL-3.0) is an optional dependency imported when ASO
runs; it seeds NumPy's global RNG, so its state is restored afterwards."""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Sequence

import numpy as np
import scipy.stats
from erbench.stats.base import Seed

ASO_THRESHOLD = 0.5  # epsilon_min below this: b is almost stochastically dominant over a
ASO_TAU = 0.2  # deep-significance's stricter recommended threshold


def aso(
    a: Sequence[float], b: Sequence[float], *, seed: Seed, confidence: float = 0.95, num_bootstrap: int = 1000
) -> float:
    """epsilon_min of ASO that b is stochastically dominant over a (flag b better when < ASO_TAU);
    equal to deepsig.aso(b, a, ...) for the same seed. See ``aso_with_se``."""
    return aso_with_se(a, b, seed=seed, confidence=confidence, num_bootstrap=num_bootstrap)[0]


def aso_with_se(
    a: Sequence[float], b: Sequence[float], *, seed: Seed, confidence: float = 0.95, num_bootstrap: int = 1000
) -> tuple[float, float]:
    """(epsilon_min, its Monte Carlo standard error) of ASO that b is stochastically dominant over a.

    Computed with deepsig's own pieces, as deepsig.aso does (deepsig.aso(scores_a, scores_b) tests
    "A better than B", so b goes first): epsilon_min = eps_W2 - sigma_hat / c * z_{1-confidence}, where
    sigma_hat is c times the sd of the B bootstrap violation ratios. Only sigma_hat is random given the
    scores; its Monte Carlo se is sqrt((m4 - s^4) / B) / (2 s) of those ratios (delta method), so
    se(epsilon_min) = |z| * that. For a family of m comparisons pass confidence = 1 - alpha/m
    (Bonferroni); deepsig's num_comparisons moves the confidence only part of the way and is not used.
    """
    module = _deepsig()
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**31 - 1))
    scores_a, scores_b = np.asarray(b, dtype=float), np.asarray(a, dtype=float)
    dt = inspect.signature(module.aso).parameters["dt"].default  # as deepsig.aso integrates
    state = np.random.get_state()  # deepsig seeds NumPy's global RNG; leave it as we found it
    try:
        ratio = module.compute_violation_ratio(scores_a=scores_a, scores_b=scores_b, dt=dt)
        samples = np.array(module.get_bootstrapped_violation_ratios(
            scores_a, scores_b, module.get_quantile_function(scores_a), module.get_quantile_function(scores_b),
            num_bootstrap, dt, 1, False, int(seed), None))
    finally:
        np.random.set_state(state)
    const = math.sqrt(scores_a.size * scores_b.size / (scores_a.size + scores_b.size))
    z = float(scipy.stats.norm.ppf(1 - confidence))
    sigma = float(np.std(const * (samples - ratio)))
    eps = float(np.clip(ratio - sigma / const * z, 0, 1))
    s = float(samples.std())
    if samples.size < 2 or s == 0:
        return eps, 0.0
    m4 = float(np.mean((samples - samples.mean()) ** 4))
    se = abs(z) * math.sqrt(max(m4 - s**4, 0.0) / samples.size) / (2 * s)
    return eps, se


def _deepsig():
    try:
        module = importlib.import_module("deepsig.aso")  # the module (the package re-exports the function)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "erbench.stats.aso needs the optional package deep-significance (GPL-3.0): pip install deepsig"
        ) from err
    return module
