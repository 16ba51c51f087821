"""Selfish-MMM2 speed: SMAX-with-Medivac environment steps per second, and recurrent PPO training throughput.

1. Environment: `jit(vmap(rollout))` of `steps` public `env.step` calls (auto-reset, observations computed,
   22 units, heuristic enemies) with uniformly random actions (bench_envs.py's rollout), at 1, 64 and 256
   parallel environments. One environment step is 8 SMAX world steps and moves all 10 agents.
2. Training: `mixmo.rl.make_recurrent_train` (GRU policies, masks) as `mixmo run aga-selfish-mmm2` runs it
   (16 environments x 64 steps per update, 2 epochs x 2 minibatches, `jit(vmap(scan over updates))`, 1 seed),
   for IPPO (Simul-Ind, local critics) and AgA (lambda = 100, centralised critics): environment steps per
   second, learning included, and the AgA / IPPO time ratio.

Compilation is timed separately; run times are medians of repeated calls after it.

Run: python benchmarks/bench_smax.py [--device cpu|gpu] [--quick]
"""

from __future__ import annotations

import time

import jax

import mixmo
from _util import machine, median_seconds, parse_args
from bench_envs import make_rollout
from mixmo import envs, rl


def bench_env(env, batches, steps, repeats):
    print("| parallel envs | env steps/s | agent steps/s | compile + first run (s) |")
    print("|---:|---:|---:|---:|")
    for batch in batches:
        run = jax.jit(jax.vmap(make_rollout(env, steps)))
        start = time.perf_counter()
        jax.block_until_ready(run(jax.random.split(jax.random.key(0), batch)))
        first = time.perf_counter() - start
        seconds = median_seconds(lambda: run(jax.random.split(jax.random.key(1), batch)), repeats)
        sps = batch * steps / seconds
        print(f"| {batch} | {sps:,.0f} | {sps * env.num_agents:,.0f} | {first:.1f} |", flush=True)


def bench_training(env, segment, repeats):
    print("\n| method | critic | s / update | env steps/s | compile (s) |")
    print("|---|---|---:|---:|---:|")
    seconds = {}
    for name, method, critic in [("IPPO", mixmo.methods.simul_ind(), "local"),
                                 ("AgA", mixmo.methods.aga(100.0), "central")]:
        config = rl.RecurrentConfig(total_steps=10**9, num_envs=16, num_steps=64, num_minibatches=2,
                                    value_clip=10.0, critic=critic)
        trainer = rl.make_recurrent_train(config, env, method)
        states = jax.block_until_ready(jax.jit(jax.vmap(trainer.init))(jax.random.split(jax.random.key(0), 1)))
        start = time.perf_counter()
        run = jax.jit(jax.vmap(lambda s: trainer.run(s, segment))).lower(states).compile()
        compile_s = time.perf_counter() - start
        holder = {"states": states}

        def step(run=run, holder=holder):
            holder["states"], metrics = run(holder["states"])
            return metrics

        seconds[name] = median_seconds(step, repeats) / segment
        print(f"| {name} | {critic} | {seconds[name]:.2f} | {config.batch_steps / seconds[name]:,.0f} | "
              f"{compile_s:.0f} |", flush=True)
    print(f"\nAgA / IPPO time per update: {seconds['AgA'] / seconds['IPPO']:.2f}")


def main():
    args = parse_args(__doc__)
    batches, steps, repeats = ([1, 64], 100, 2) if args.quick else ([1, 64, 256], 200, 3)
    env = envs.make("selfish_mmm2")
    print(f"machine: {machine()}\n")
    print(f"Selfish-MMM2 (SMAX + Medivacs, 10 agents vs 12 heuristic units), random actions, "
          f"{steps}-step scanned rollouts, median of {repeats} runs after compilation\n")
    bench_env(env, batches, steps, repeats)
    bench_training(env, 1 if args.quick else 2, repeats)


if __name__ == "__main__":
    main()
