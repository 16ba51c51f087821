"""Shared fixtures for the Selfish-MMM2 tests (SMAX with a Medivac, recurrent PPO); the root `conftest.py` sets
the strict, fast-compiling JAX configuration. One environment instance per session is shared, so each jitted
function compiles once."""

import pytest

pytest.importorskip("jaxmarl")


@pytest.fixture(scope="session")
def selfish_env():
    from mixmo.envs import make

    return make("selfish_mmm2")  # equal to the conformance suite's instance, so their compiled steps are shared
