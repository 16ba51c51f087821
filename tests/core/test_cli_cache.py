"""The command line keeps a persistent compilation cache: a second run of the same configuration compiles
nothing new (every program comes from the cache). `MIXMO_COMPILE_CACHE=0`, which the command line honours through
the same `compile_cache.enable`, is tested in tests/rl/test_compile_cache.py. (d3c-bilinear: the cheapest
experiment that compiles programs, 4 s a run; the RL experiments' second runs are measured in
benchmarks/RESULTS.md.)"""

import os
import subprocess
import sys


def _run(tmp_path, out, **env):
    settings = {k: v for k, v in os.environ.items() if not k.startswith("MIXMO_COMPILE_CACHE")}
    command = [sys.executable, "-m", "mixmo", "run", "d3c-bilinear", "--preset", "smoke", "--quiet", "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, env={**settings, **env}, cwd=tmp_path)


def test_second_run_of_the_same_configuration_compiles_nothing_new(tmp_path):
    cache = tmp_path / "cache"
    first = _run(tmp_path, tmp_path / "a", MIXMO_COMPILE_CACHE_DIR=str(cache))
    assert first.returncode == 0, first.stderr
    entries = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert entries  # the first run filled the cache
    second = _run(tmp_path, tmp_path / "b", MIXMO_COMPILE_CACHE_DIR=str(cache))
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == entries  # all hits, no new program
    assert (tmp_path / "a" / "summary.json").read_bytes() == (tmp_path / "b" / "summary.json").read_bytes()
