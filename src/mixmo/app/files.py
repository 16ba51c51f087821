"""Atomic writes: a file or a folder appears complete or not at all (an interrupted run leaves nothing that
looks finished). Every writer of results goes through here."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def atomic_file(path: Path):
    """Yield a temporary path beside `path` (same suffix) to write; on success it replaces `path`, on an error it
    is removed."""
    path = Path(path)
    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_file(path) as partial:
        partial.write_text(text)


@contextlib.contextmanager
def staged_folder(out_dir: Path):
    """Yield a temporary folder beside `out_dir` to fill; on success its files move into `out_dir` (created, or
    an existing folder whose other files stay: an RL run's checkpoints), on an error it is removed."""
    out_dir = Path(out_dir)
    staging = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    try:
        staging.mkdir(parents=True)
        yield staging
        if out_dir.is_dir() and any(out_dir.iterdir()):
            for item in staging.iterdir():
                os.replace(item, out_dir / item.name)
        else:
            if out_dir.exists():
                out_dir.rmdir()
            staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
