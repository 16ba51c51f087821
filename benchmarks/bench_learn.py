"""1000 seeds x 1000 steps of the toy game under `mixmo.learn`: compile time and run time.

Target (issue 2): under 1 s after compilation on a 2-core CPU.
Run: python benchmarks/bench_learn.py [--device cpu|gpu]
"""

from __future__ import annotations

import time

import jax
import optax

import mixmo
from _util import machine, median_seconds, parse_args


def main():
    args = parse_args(__doc__)
    print(f"machine: {machine()}\n")
    print("| method | seeds x steps | compile + first run (s) | run after compilation (s) |")
    print("|---|---|---|---|")
    game, opt = mixmo.games.toy(), optax.sgd(0.01)
    for name, method in [("simul-ind", mixmo.methods.simul_ind()), ("aga", mixmo.methods.aga(0.3))]:
        seeds, steps = 1000, 1000
        run = lambda k: mixmo.learn(game, method, opt, steps=steps, seeds=seeds, key=jax.random.key(k)).losses
        start = time.perf_counter()
        jax.block_until_ready(run(0))
        first = time.perf_counter() - start
        after = median_seconds(lambda: run(1), repeats=2 if args.quick else 5)
        print(f"| {name} | {seeds} x {steps} | {first:.2f} | {after:.3f} |", flush=True)


if __name__ == "__main__":
    main()
