"""One strict configuration for the whole test suite.

- Implicit rank promotion raises everywhere, so an agent axis silently broadcast against an environment axis (or a
  player axis against a parameter axis) fails its test; warnings are errors (`pyproject.toml`).
- One persistent compilation cache in a stable folder (`.cache/jax-tests` in the checkout, git-ignored), also the
  command line's (`MIXMO_COMPILE_CACHE_DIR`), so programs compiled by several tests, by both pytest-xdist
  workers or by an earlier run compile once. Every program is kept, small ones too, as the command line keeps
  them.
- Tests are spread over the pytest-xdist workers file by file (`pytest_xdist_make_scheduler` below), but the
  files in `SHARED_PROGRAMS` run on one worker, in collection order: `gpu_run.py --tiny` (on one environment and
  one run: aga-cleanup's and d3c-coins' smoke trainers) and `mixmo reproduce all --budget smoke` build every RL
  experiment's smoke trainers, and the later runs of the same configurations in that process get those trainers
  back with their compiled programs (`rl_common.reused`) instead of compiling them again on the other worker.
- XLA's optimisations are off (`jax_disable_most_optimizations`, also for the tests' subprocesses through
  `JAX_DISABLE_MOST_OPTIMIZATIONS`): compilation dominates the suite and takes about half as long, with the same
  results up to rounding (every test's tolerance allows for it). A test whose check is bit-exact where rounding
  could differ (a fixed point reached exactly) is marked `exact_xla` and compiles with them on. (The flag is not
  part of JAX's in-memory cache keys: such a test must jit functions of its own, not call ones another test has
  already compiled.)
"""

import os
from pathlib import Path

import jax
import pytest

ROOT = Path(__file__).parent
CACHE = ROOT / ".cache" / "jax-tests"
SHARED_PROGRAMS = ("tests/bench/test_gpu_run.py", "tests/core/test_reproduce.py", "tests/rl/test_cli_d3c_rl.py",
                   "tests/rl/test_cli_rl.py")

jax.config.update("jax_compilation_cache_dir", str(CACHE))
os.environ.setdefault("MIXMO_COMPILE_CACHE_DIR", str(CACHE))  # the command line's cache, when tests call it
# every program is kept, as the command line keeps them (`mixmo.compile_cache.enable`, which a test calling `main`
# runs in the worker): a program one worker compiled is loaded by the other, whichever test comes first
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
jax.config.update("jax_disable_most_optimizations", True)  # set here, so module and session fixtures compile so too
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")  # and in the command-line runs of subprocess tests


@pytest.fixture(autouse=True)
def _exact_xla(request):
    if request.node.get_closest_marker("exact_xla") is None:
        yield
        return
    jax.config.update("jax_disable_most_optimizations", False)
    try:
        yield
    finally:
        jax.config.update("jax_disable_most_optimizations", True)


@pytest.fixture(autouse=True)
def _strict_ranks():
    with jax.numpy_rank_promotion("raise"):
        yield


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: without pytest-xdist, tests run in one process
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's file-by-file scheduling (`--dist loadfile`), with the files of `SHARED_PROGRAMS` as one unit
    of work. (pytest-xdist's own `--dist loadgroup` does not group with pytest 9: the group suffix it writes to a
    test's `_nodeid` no longer reaches the test's `nodeid`, so every test is scheduled on its own.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByFileSharingPrograms(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "smoke-programs" if path in SHARED_PROGRAMS else path

    return ByFileSharingPrograms(config, log)
