"""Pieces shared by the differentiable-game experiments: checks, timing, summary rows."""

from __future__ import annotations

import time

import jax
import numpy as np

from mixmo.experiments.registry import ConfigError
from mixmo.metrics import mean_ci95


def require(condition: bool, message: str) -> None:
    """Raise `ConfigError(message)` unless `condition`."""
    if not condition:
        raise ConfigError(message)


def check_budget(config) -> None:
    """The checks every experiment config shares: positive seeds and steps, a positive learning rate."""
    require(config.seeds >= 1, f"seeds must be >= 1, got {config.seeds}; use --seeds 50 for example.")
    require(config.steps >= 1, f"steps must be >= 1, got {config.steps}; use --steps 100 for example.")
    require(config.lr > 0, f"lr must be > 0, got {config.lr}; e.g. --set lr=0.1.")


def timed(fn, *args, **kwargs):
    """Run `fn` once to compile, then again timed. Returns `(result, seconds of the second call)`."""
    jax.block_until_ready(fn(*args, **kwargs))
    start = time.perf_counter()
    result = jax.block_until_ready(fn(*args, **kwargs))
    return result, time.perf_counter() - start


def mean_and_ci(row: dict, key: str, values) -> None:
    """Add `key` (mean) and `key_ci95` (95% half-width) over runs to `row`, ignoring non-finite runs."""
    values = np.asarray(values, dtype=np.float64)
    mean, half = mean_ci95(values[np.isfinite(values)])
    row[key], row[f"{key}_ci95"] = float(mean), float(half)


def fmt(mean: float, half: float | None = None, digits: int = 3, runs: int | None = None) -> str:
    """'mean ± half' (or just 'mean') for tables; 'mean ± n/a' when `runs` is 1 (one run has no interval); '–'
    without a value (NaN: e.g. no run settled)."""
    if not np.isfinite(mean):
        return "–"
    if half is None:
        return f"{mean:.{digits}f}"
    if runs is not None and runs < 2:
        return f"{mean:.{digits}f} ± n/a"
    return f"{mean:.{digits}f} ± {half:.{digits}f}"
