"""Shared settings for the RL tests.

Compilation dominates these tests (each trainer compiles an environment step, a PPO update and a
`GameMethod`), so they compile with XLA's optimisations off (`jax_disable_most_optimizations`: the same
results, about half the compile time) and with a persistent compilation cache in a temporary folder, so the
runs that compile the same program (a run, its interrupted twin and the resumed twin) compile it once.
Both settings are restored after the tests.
"""

import jax
import pytest



def _read(name):
    try:
        return jax.config.read(name)
    except AttributeError:  # flags with a context manager are read as attributes
        return getattr(jax.config, name)


@pytest.fixture(autouse=True)
def _strict_ranks():
    """Implicit rank promotion raises, so an agent axis silently broadcast against an env axis fails."""
    with jax.numpy_rank_promotion("raise"):
        yield


@pytest.fixture(scope="session", autouse=True)
def _fast_compile(tmp_path_factory):
    names = ("jax_disable_most_optimizations", "jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    saved = {name: _read(name) for name in names}
    jax.config.update("jax_disable_most_optimizations", True)
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("jax_cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    try:
        yield
    finally:
        for name, value in saved.items():
            jax.config.update(name, value)
