"""A persistent compilation cache for mixmo's programs, so a second run of the same configuration starts at once.

`enable()` turns on JAX's persistent compilation cache (`jax_compilation_cache_dir`): every program XLA compiles
is written to a folder on disk, keyed by the program, the JAX/jaxlib version, the device and the compile
options, and the next process that compiles the same program loads it from there instead of compiling it.
Small and fast programs are cached too (`jax_persistent_cache_min_compile_time_secs = 0`,
`jax_persistent_cache_min_entry_size_bytes = -1`): an RL experiment compiles a handful of programs, each worth
keeping. A loaded program is the one that was compiled, so results are bit-identical with and without the cache.

Where the cache lives:

- `MIXMO_COMPILE_CACHE_DIR`, when set, names the folder;
- otherwise `$XDG_CACHE_HOME/mixmo/jax`, or `~/.cache/mixmo/jax` without `XDG_CACHE_HOME`.

`MIXMO_COMPILE_CACHE=0` (also `false`, `no`, `off`) turns it off: `enable()` then does nothing and writes
nothing. The folder only grows with new configurations; delete it at any time to reclaim the space (JAX
version upgrades make old entries unused).

The command line calls `mixmo.compile_cache.enable()` once at start; library users can call it themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_SWITCH = "MIXMO_COMPILE_CACHE"
"""Environment variable: `0`, `false`, `no` or `off` turns the cache off."""
ENV_DIR = "MIXMO_COMPILE_CACHE_DIR"
"""Environment variable: the cache folder (overrides the default user cache folder)."""

_OFF = ("0", "false", "no", "off")


def is_disabled() -> bool:
    """True when `MIXMO_COMPILE_CACHE` turns the cache off."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() in _OFF


def default_dir() -> Path:
    """`MIXMO_COMPILE_CACHE_DIR`, else `$XDG_CACHE_HOME/mixmo/jax`, else `~/.cache/mixmo/jax`."""
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mixmo" / "jax"


def enable(path: str | os.PathLike | None = None) -> Path | None:
    """Turn on JAX's persistent compilation cache in `path` (default: `default_dir()`).

    Returns the cache folder, or None when `MIXMO_COMPILE_CACHE=0` turns the cache off (then nothing changes)
    or the folder cannot be created (a read-only home, say: the run goes on without a cache). Safe to call
    more than once and after programs have been compiled; later compilations use the new folder.
    """
    if is_disabled():
        return None
    folder = Path(path).expanduser() if path is not None else default_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_enable_compilation_cache", True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    # JAX decides once per process, at its first compilation, whether (and where) there is a cache; start over
    # so a call after earlier compilations takes effect
    compilation_cache.reset_cache()
    return folder
