"""One strict configuration for the whole test suite.

- Implicit rank promotion raises everywhere, so an agent axis silently broadcast against an environment axis (or a
  player axis against a parameter axis) fails its test; warnings are errors (`pyproject.toml`).
- XLA's optimisations are off (`jax_disable_most_optimizations`): the same results to float tolerance, about half
  the compile time, which dominates this suite.
- One persistent compilation cache in a stable folder (`.cache/jax-tests` in the checkout, git-ignored), so
  programs compiled by several tests, by both pytest-xdist workers or by an earlier run compile once.
"""

from pathlib import Path

import jax
import pytest

CACHE = Path(__file__).parent / ".cache" / "jax-tests"

jax.config.update("jax_disable_most_optimizations", True)
jax.config.update("jax_compilation_cache_dir", str(CACHE))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


@pytest.fixture(autouse=True)
def _strict_ranks():
    with jax.numpy_rank_promotion("raise"):
        yield
