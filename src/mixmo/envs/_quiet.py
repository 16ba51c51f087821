"""Silence what an optional dependency prints while it is imported (JaxMARL prints two lines about its
"submoduled environments"), at the file-descriptor level, since it does not go through `sys.stdout`."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_stdout():
    """Send standard output to the null device for the duration (Python and C writes alike)."""
    sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
        saved = os.dup(fd)
    except (AttributeError, OSError, ValueError):  # captured or replaced stdout: silence at the Python level
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            yield
        return
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), fd)
            with contextlib.redirect_stdout(sink):
                yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)
