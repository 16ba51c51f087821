"""Argument checks shared by the method factories: mistakes surface at construction, before tracing."""

from __future__ import annotations

import math


def real(name: str, value, *, nonnegative: bool = False) -> float:
    """Return `value` as a float, or raise `ValueError` naming the argument and the fix."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    if nonnegative and number < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}.")
    return number
