"""D3C's cost: `mixmo run d3c-prisoners-dilemma` as a whole process, and one D3C step vs one Simul-Ind step.

Targets (issue 3): the whole experiment (four settings, 1000 runs each) under 60 s on a 2-core CPU; one D3C
step at n = 10 at most 4x one Simul-Ind step.
Run: python benchmarks/bench_d3c.py [--device cpu|gpu] [--quick]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp

import mixmo
from _util import machine, median_seconds, parse_args

N = 10


def mlp_game(width: int, key):
    """n = 10 players, each a one-hidden-layer MLP (width hidden units) on a shared batch; every player's loss
    depends on all players' outputs (a mixed-motive regression)."""
    inputs, batch = 8, 32
    keys = jax.random.split(key, N + 2)
    x = jax.random.normal(keys[0], (batch, inputs))
    mixing = jax.random.normal(keys[1], (N, N)) / N

    params = tuple({"w1": jax.random.normal(k, (inputs, width)) / inputs**0.5, "w2": jnp.zeros(width) + 0.1}
                   for k in keys[2:])

    def losses(ps):
        outs = jnp.stack([jnp.tanh(x @ p["w1"]) @ p["w2"] for p in ps])  # (n, batch)
        targets = mixing @ outs
        return jnp.mean((outs - 1.0) ** 2, axis=1) + jnp.mean(outs * targets, axis=1)

    size = sum(leaf.size for leaf in jax.tree.leaves(params))
    return losses, params, size


def step_times(losses, params, repeats: int):
    times = {}
    for name, method in (("simul-ind", mixmo.methods.simul_ind()), ("d3c", mixmo.methods.d3c(1.0, eps=0.1))):
        update = jax.jit(lambda p, s, m=method: m.update(losses, p, s))
        state = method.init(params)
        times[name] = median_seconds(lambda: update(params, state), repeats)
    return times


def main():
    args = parse_args(__doc__)
    print(f"machine: {machine()}\n")
    print("One step at n = 10 (jitted update, single run):\n")
    print("| game | parameters d | Simul-Ind (µs) | D3C (µs) | D3C / Simul-Ind |\n|---|---|---|---|---|")
    repeats = 20 if args.quick else 200
    game = mixmo.games.prisoners_dilemma(N, 1.0)
    params = game.init(jax.random.key(0))
    rows = [("prisoner's dilemma (eq. 127)", N * (N - 1), step_times(game.losses, params, repeats))]
    for width in ([16] if args.quick else [16, 256, 4096]):
        losses, params, size = mlp_game(width, jax.random.key(1))
        rows.append((f"MLP players, width {width}", size, step_times(losses, params, max(5, repeats // 10))))
    for name, size, t in rows:
        print(f"| {name} | {size:,} | {1e6 * t['simul-ind']:.1f} | {1e6 * t['d3c']:.1f} | "
              f"{t['d3c'] / t['simul-ind']:.2f} |", flush=True)

    print("\nOne step of all 1000 runs at once (jit(vmap(update)), prisoner's dilemma, n = 10):\n")
    keys = jax.random.split(jax.random.key(0), 1000)
    batched = jax.vmap(game.init)(keys)
    print("| Simul-Ind (ms) | D3C (ms) | D3C / Simul-Ind |\n|---|---|---|")
    t = {}
    for name, method in (("simul-ind", mixmo.methods.simul_ind()), ("d3c", mixmo.methods.d3c(1.0, eps=0.1))):
        update = jax.jit(jax.vmap(lambda p, s, m=method: m.update(game.losses, p, s)))
        state = jax.vmap(method.init)(batched)
        t[name] = median_seconds(lambda: update(batched, state), 5 if args.quick else 30)
    print(f"| {1e3 * t['simul-ind']:.2f} | {1e3 * t['d3c']:.2f} | {t['d3c'] / t['simul-ind']:.2f} |", flush=True)

    print("\nThe whole experiment as a process (4 settings x 2 methods x 1000 runs x 1000 steps; target < 60 s):\n")
    times = []
    for _ in range(1 if args.quick else 3):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mixmo.app.cli", "run", "d3c-prisoners-dilemma", "--quiet",
                            "--out", str(Path(tmp) / "r")], check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    print("| command | runs | median wall (s) | min (s) |\n|---|---|---|---|")
    print(f"| mixmo run d3c-prisoners-dilemma | {len(times)} | {statistics.median(times):.1f} | {min(times):.1f} |")


if __name__ == "__main__":
    main()
