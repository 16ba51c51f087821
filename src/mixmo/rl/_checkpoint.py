"""Checkpoints: a training state in equinox's leaf format, its metadata and the metrics so far, in one folder.

A checkpoint is a folder holding

- `state.eqx`: every array leaf of the state, written by `equinox.tree_serialise_leaves` (numpy's `.npy`
  records, one after another; read back with `equinox.tree_deserialise_leaves` given a state of the same
  structure, e.g. a freshly initialised one);
- `meta.json`: plain data (updates done, the run's length, ...);
- `metrics.npz`: the per-update metrics recorded so far, so a resumed run reports the whole curve.

It is written under a temporary name and swapped in with renames, so an interruption while writing leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import equinox as eqx
import numpy as np


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: a damaged file (`path` names it) or one made by another run."""

    def __init__(self, message: str, path: str | Path):
        super().__init__(message)
        self.path = Path(path)


def save_checkpoint(path: str | Path, state: Any, meta: dict, metrics: dict[str, np.ndarray] | None = None) -> Path:
    """Write a checkpoint folder at `path` (replacing any previous one). Returns `path`."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.writing")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    eqx.tree_serialise_leaves(staging / "state.eqx", state)
    np.savez(staging / "metrics.npz", **(metrics or {}))
    (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    staging.rename(path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def has_checkpoint(path: str | Path) -> bool:
    """Whether `path` holds a complete checkpoint."""
    path = Path(path)
    return all((path / name).is_file() for name in ("state.eqx", "meta.json", "metrics.npz"))


def load_checkpoint(path: str | Path, like: Any) -> tuple[Any, dict, dict[str, np.ndarray]]:
    """Read a checkpoint written by `save_checkpoint`.

    Args:
        path: the checkpoint folder.
        like: a state with the same structure, shapes and dtypes (its values are ignored).

    Returns:
        `(state, meta, metrics)`.

    Raises:
        CheckpointError: a file is damaged (truncated, not JSON, another structure); its `path` names the file.
    """
    path = Path(path)
    if not has_checkpoint(path):
        raise FileNotFoundError(f"no checkpoint in {path} (expected state.eqx, meta.json and metrics.npz).")
    try:
        meta = json.loads((path / "meta.json").read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("updates"), int):
            raise ValueError("no update count")
    except (OSError, UnicodeDecodeError, ValueError) as error:
        meta_path = path / "meta.json"
        raise CheckpointError(f"checkpoint {meta_path} is damaged ({_why(error)})", meta_path) from None
    try:
        state = eqx.tree_deserialise_leaves(path / "state.eqx", like)
    except Exception as error:  # noqa: BLE001 -- numpy/equinox raise many kinds on a truncated or foreign file
        raise CheckpointError(f"checkpoint {path / 'state.eqx'} is damaged (truncated? {_why(error)})",
                              path / "state.eqx") from None
    try:
        with np.load(path / "metrics.npz") as data:
            metrics = {k: data[k] for k in data.files}
    except Exception as error:  # noqa: BLE001 -- zipfile, pickle and numpy errors alike
        raise CheckpointError(f"checkpoint {path / 'metrics.npz'} is damaged ({_why(error)})",
                              path / "metrics.npz") from None
    return state, meta, metrics


def _why(error: BaseException) -> str:
    """The first line of an error's message, for one-line reports."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
