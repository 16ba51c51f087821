"""`mixmo.compile_cache`: a second process compiling the same program loads it from the persistent cache.

Each run is a fresh Python process (JAX keeps compiled programs in memory, so only a new process shows the
disk cache at work) that compiles one program and reports JAX's own monitoring events: persistent-cache hits
and misses and the number and time of XLA compilations (loads from the cache included).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mixmo
from mixmo import compile_cache

SCRIPT = r"""
import json
import jax
import jax.numpy as jnp
from mixmo import compile_cache

events = {"hits": 0, "misses": 0, "compiles": 0, "compile_s": 0.0}

def on_event(event, **kwargs):
    if event == "/jax/compilation_cache/cache_hits":
        events["hits"] += 1
    elif event == "/jax/compilation_cache/cache_misses":
        events["misses"] += 1

def on_duration(event, seconds, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":  # a compilation or a load from the cache
        events["compiles"] += 1
        events["compile_s"] += seconds

jax.monitoring.register_event_listener(on_event)
jax.monitoring.register_event_duration_secs_listener(on_duration)
folder = compile_cache.enable()

def program(x):
    def body(carry, _):
        return jnp.tanh(carry @ carry.T) @ carry + jnp.sin(carry), jnp.sum(carry)
    carry, sums = jax.lax.scan(body, x, None, length=16)
    return jnp.sum(carry) + jnp.sum(sums)

value = jax.jit(program)(jnp.full((32, 32), 0.01, jnp.float32))
print(json.dumps({**events, "folder": None if folder is None else str(folder), "value": float(value)}))
"""


def _run(tmp_path: Path, **env_vars) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIXMO_COMPILE_CACHE")}
    env.update(env_vars, JAX_PLATFORMS="cpu", PYTHONPATH=str(Path(mixmo.__file__).parents[1]))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_run_loads_from_the_cache(tmp_path):
    xdg = tmp_path / "xdg"
    first = _run(tmp_path, XDG_CACHE_HOME=str(xdg))
    folder = xdg / "mixmo" / "jax"
    assert first["folder"] == str(folder)  # the default folder follows XDG_CACHE_HOME
    assert first["compiles"] >= 1 and first["misses"] >= 1 and first["hits"] == 0
    assert any(folder.iterdir()), "the first run wrote no cache entries"
    second = _run(tmp_path, XDG_CACHE_HOME=str(xdg))
    assert second["hits"] >= 1 and second["misses"] == 0
    assert second["compiles"] == second["hits"]  # every program came from the cache, none was compiled
    assert second["compile_s"] < 0.5 * first["compile_s"]
    assert second["value"] == first["value"]  # the cached program is the compiled one


def test_cache_dir_variable_names_the_folder(tmp_path):
    folder = tmp_path / "elsewhere"
    first = _run(tmp_path, MIXMO_COMPILE_CACHE_DIR=str(folder), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    assert first["folder"] == str(folder) and any(folder.iterdir())
    assert not (tmp_path / "xdg").exists()


def test_switched_off_by_environment_variable(tmp_path):
    xdg = tmp_path / "xdg"
    folder = tmp_path / "named"
    result = _run(tmp_path, MIXMO_COMPILE_CACHE="0", MIXMO_COMPILE_CACHE_DIR=str(folder), XDG_CACHE_HOME=str(xdg))
    assert result["folder"] is None and result["hits"] == 0 and result["compiles"] >= 1
    assert not folder.exists() and not xdg.exists()  # nothing written, so nothing a later run could load


def test_default_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("MIXMO_COMPILE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache.default_dir() == tmp_path / "mixmo" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compile_cache.default_dir() == tmp_path / "home" / ".cache" / "mixmo" / "jax"
    monkeypatch.setenv("MIXMO_COMPILE_CACHE_DIR", str(tmp_path / "mine"))
    assert compile_cache.default_dir() == tmp_path / "mine"
    monkeypatch.setenv("MIXMO_COMPILE_CACHE", "0")
    assert compile_cache.is_disabled() and compile_cache.enable(tmp_path / "never") is None
    assert not (tmp_path / "never").exists()
