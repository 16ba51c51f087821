"""Timing helpers shared by the benchmark scripts."""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--device", default=None, help="JAX platform to run on, e.g. cpu or gpu (default: JAX's)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    args = parser.parse_args()
    if args.device:
        jax.config.update("jax_platforms", args.device)
    return args


def machine() -> str:
    device = jax.devices()[0]
    return f"{platform.processor() or platform.machine()}, {device.platform} ({device.device_kind}), jax {jax.__version__}"


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of `fn()` (blocked until ready) over `repeats` calls, after one warm-up call."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)
