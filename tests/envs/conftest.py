"""Shared fixtures for the environment tests.

Every test here also runs with JAX's strict dtype promotion (the root ``conftest.py`` makes
ranks strict and compilation fast for the whole suite), so an environment that silently mixes
dtypes fails its tests.
"""

import jax
import jax.numpy as jnp
import pytest


@pytest.fixture(autouse=True)
def _strict_dtypes():
    with jax.numpy_dtype_promotion("strict"):
        yield


def _act(env, *codes):
    return {a: jnp.asarray(c, jnp.int32) for a, c in zip(env.agents, codes, strict=True)}


@pytest.fixture(scope="session")
def act():
    """``act(env, *indices)``: an actions dict of int32 scalars (one dtype, no recompiles)."""
    return _act


_ENVS = {}


@pytest.fixture(scope="session")
def registered():
    """``registered(name)``: one shared instance per registered environment, so every test
    module reuses the same jit-compiled ``reset``/``step`` (jit caches per instance)."""
    from mixmo.envs import make

    def get(name):
        if name not in _ENVS:
            _ENVS[name] = make(name)
        return _ENVS[name]

    return get


_BATCHED = {}


@pytest.fixture(scope="session")
def step_many():
    """``step_many(env, state, actions, params=None)``: ``env.step_env`` from one state under
    1000 fixed keys (a single batch size, so one compile per environment)."""
    keys = jax.random.split(jax.random.key(7), 1000)

    def run(env, state, actions, params=None):
        params = env.default_params if params is None else params
        if env not in _BATCHED:
            _BATCHED[env] = jax.jit(jax.vmap(env.step_env, in_axes=(0, None, None, None)))
        return _BATCHED[env](keys, state, actions, params)

    return run
