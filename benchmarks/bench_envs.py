"""Environment throughput: env steps per second for Cleanup and Harvest.

Each configuration runs ``jit(vmap(rollout))``: a ``lax.scan`` of ``steps`` public
``env.step`` calls (auto-reset included, observations computed) under a uniformly random
policy, over ``B`` parallel environments. Compilation is timed separately; the run time is
the median of repeated calls after it. One environment step moves all agents, so agent
steps per second are ``num_agents`` times more.

Run: python benchmarks/bench_envs.py [--device cpu|gpu] [--quick]
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from _util import machine, median_seconds, parse_args
from mixmo.envs import make


def make_rollout(env, steps: int):
    """``rollout(key) -> checksum`` of ``steps`` random-policy steps of one environment."""
    n_actions = env.action_space(env.agents[0]).n

    def rollout(key):
        k_reset, k_run = jax.random.split(key)
        obs, state = env.reset(k_reset)

        def one(carry, k):
            state, _, total = carry
            k_act, k_step = jax.random.split(k)
            acts = jax.random.randint(k_act, (env.num_agents,), 0, n_actions)
            obs, state, rewards, _, _ = env.step(k_step, state, {a: acts[i] for i, a in enumerate(env.agents)})
            # carrying the observations forces XLA to compute them every step, as training would
            return (state, obs, total + sum(rewards.values())), None

        (_, obs, total), _ = jax.lax.scan(one, (state, obs, jnp.zeros(())), jax.random.split(k_run, steps))
        return total + sum(jnp.sum(o, dtype=jnp.float32) for o in obs.values())

    return rollout


def main():
    args = parse_args(__doc__)
    batches, steps, repeats = ([1, 64], 200, 2) if args.quick else ([1, 64, 256], 1000, 3)
    print(f"machine: {machine()}\n")
    print(f"random policy, {steps}-step scanned rollouts, median of {repeats} runs after compilation\n")
    print("| env | parallel envs | env steps/s | agent steps/s | compile + first run (s) |")
    print("|---|---:|---:|---:|---:|")
    for name in ["cleanup", "harvest"]:
        env = make(name)
        for batch in batches:
            run = jax.jit(jax.vmap(make_rollout(env, steps)))
            start = time.perf_counter()
            jax.block_until_ready(run(jax.random.split(jax.random.key(0), batch)))
            first = time.perf_counter() - start
            seconds = median_seconds(lambda: run(jax.random.split(jax.random.key(1), batch)), repeats)
            sps = batch * steps / seconds
            print(f"| {name} | {batch} | {sps:,.0f} | {sps * env.num_agents:,.0f} | {first:.1f} |", flush=True)


if __name__ == "__main__":
    main()
