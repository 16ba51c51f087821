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


def median_seconds(fn, repeats: int, warm_up: bool = True) -> float:
    """Median wall time of `fn()` (blocked until ready) over `repeats` calls, after one warm-up call (`warm_up`
    False: the caller has made it)."""
    if warm_up:
        jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_speed(trainer, seeds: int, segment: int, repeats: int) -> tuple[float, float, float]:
    """`(seconds per update, env steps per second over all seeds, compile seconds)` of `segment` updates of a
    `mixmo.rl` trainer, through the very programs `mixmo run` trains with (`mixmo.rl.segment_program`, kept on the
    trainer, so a run of the same trainer afterwards compiles nothing); the median of `repeats` calls after the
    first. Compile seconds: the first call's time (tracing, compiling, one segment) less a compiled call's."""
    from mixmo import rl

    states = jax.block_until_ready(rl.segment_program(trainer, 0)(jax.random.split(jax.random.key(0), seeds)))
    run = rl.segment_program(trainer, segment)
    holder = {"states": states}

    def call():
        holder["states"], metrics = run(holder["states"])
        return metrics

    start = time.perf_counter()
    jax.block_until_ready(call())
    first = time.perf_counter() - start
    per_call = median_seconds(call, repeats, warm_up=False)  # the first call was the warm-up
    seconds = per_call / segment
    return seconds, seeds * trainer.config.batch_steps / seconds, max(first - per_call, 0.0)
