"""Cost of one direction of each method vs Simul-Ind on a two-player MLP game, d = 10^3 ... 10^6.

Target (issue 2): AgA <= 3x Simul-Ind at d = 10^5 and <= 2.5x at d = 10^6.
Run: python benchmarks/bench_directions.py [--device cpu|gpu] [--quick]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import mixmo
from _util import machine, median_seconds, parse_args

INPUTS, BATCH = 16, 64


def mlp_game(d: int, key):
    """Two one-hidden-layer MLPs (d/2 parameters each) whose outputs enter both players' losses."""
    hidden = max(1, (d // 2) // (INPUTS + 2))
    keys = jax.random.split(key, 5)
    x = jax.random.normal(keys[0], (BATCH, INPUTS))
    target = jax.random.normal(keys[1], (BATCH,))

    def init(k):
        k1, k2 = jax.random.split(k)
        return {"w1": jax.random.normal(k1, (INPUTS, hidden)) / INPUTS**0.5, "b1": jnp.zeros(hidden),
                "w2": jax.random.normal(k2, (hidden,)) / hidden**0.5}

    def forward(p):
        return jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"]

    def losses(params):
        f1, f2 = forward(params[0]), forward(params[1])
        shared = jnp.mean((f1 + f2 - target) ** 2)  # aligned part
        return jnp.stack([shared + jnp.mean(f1 * f2), shared - jnp.mean(f1 * f2) + 0.1 * jnp.mean(f2**2)])

    params = (init(keys[2]), init(keys[3]))
    size = sum(leaf.size for leaf in jax.tree.leaves(params))
    return losses, params, size


METHODS = {"simul-ind": mixmo.methods.simul_ind(), "simul-co": mixmo.methods.simul_co(),
           "cga": mixmo.methods.cga(1.0), "sga": mixmo.methods.sga(1.0), "aga": mixmo.methods.aga(1.0),
           "svo": mixmo.methods.svo(0.1), "sl": mixmo.methods.sl(1.0)}


def main():
    args = parse_args(__doc__)
    sizes = [10**3, 10**4, 10**5] if args.quick else [10**3, 10**4, 10**5, 10**6]
    print(f"machine: {machine()}\n")
    print("| d | " + " | ".join(f"{m} (ms)" for m in METHODS) + " | AgA / Simul-Ind |")
    print("|---|" + "---|" * (len(METHODS) + 1))
    for d in sizes:
        losses, params, size = mlp_game(d, jax.random.key(0))
        times = {}
        for name, method in METHODS.items():
            update = jax.jit(lambda p, s, m=method: m.update(losses, p, s)[0])
            state = method.init(params)
            times[name] = median_seconds(lambda: update(params, state), repeats=5 if args.quick else 20)
        cells = " | ".join(f"{1e3 * times[m]:.3f}" for m in METHODS)
        print(f"| {size:,} | {cells} | {times['aga'] / times['simul-ind']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
