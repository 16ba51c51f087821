"""Shared settings and fixtures for the Selfish-MMM2 tests (SMAX with a Medivac, recurrent PPO).

Compilation dominates (an SMAX step is 8 world steps of 22 units), so, as in tests/rl, XLA's optimisations
are off (the same results, about half the compile time) and one environment instance per module is shared,
so each jitted function compiles once. Strict rank promotion catches an agent axis broadcast by accident.
"""

import jax
import pytest

pytest.importorskip("jaxmarl")


@pytest.fixture(autouse=True)
def _strict_fast_jax():
    fast_compile = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", True)
    try:
        with jax.numpy_rank_promotion("raise"):
            yield
    finally:
        jax.config.update("jax_disable_most_optimizations", fast_compile)


@pytest.fixture(scope="session")
def selfish_env():
    from mixmo.envs import make

    return make("selfish_mmm2")  # equal to the conformance suite's instance, so their compiled steps are shared
