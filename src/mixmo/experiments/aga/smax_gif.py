"""A GIF of trained recurrent agents in Selfish-MMM2: the first won episode of a rollout, else the last one."""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from mixmo import envs, rl


def won_episode_gif(env, policy: rl.GRUPolicy, key: jax.Array, steps: int, path: Path, fps: int = 8):
    """Roll out `policy` (stacked per agent, sampled, masked) for `steps` steps and write one episode as a GIF.

    Returns `(path, won)`: the first episode the team won, or (`won` False) the last episode that ended, or
    everything rolled out when none ended.
    """
    states, dones, won = jax.device_get(_roll(env, policy, key, steps=steps))
    ends = np.flatnonzero(dones)
    wins = np.flatnonzero(dones & won)
    if wins.size:
        end = int(wins[0])
    elif ends.size:
        end = int(ends[-1])
    else:
        end = steps - 1
    previous = ends[ends < end]
    start = int(previous[-1]) + 1 if previous.size else 0
    frames = np.stack([env.render(jax.tree.map(lambda x, i=i: x[i], states)) for i in range(start, end + 1)])
    return rl.write_gif(frames, path, fps=fps, key=envs.render.legend(env), first_step=start), bool(wins.size)


@functools.partial(jax.jit, static_argnames=("env", "steps"))
def _roll(env, policy: rl.GRUPolicy, key: jax.Array, *, steps: int):
    """`won_episode_gif`'s rollout: the states, episode ends and wins of each step. One program per environment,
    policy shapes and length (the policy an argument, not constants baked into the program)."""
    k_reset, k_run = jax.random.split(key)
    obs, state = env.reset(k_reset)
    hidden = jnp.zeros((env.num_agents, 1, policy.hidden_size), jnp.float32)

    def one(carry, k):
        state, obs, hidden = carry
        k_act, k_step = jax.random.split(k)
        x = rl.batchify(obs, env.agents)[:, None]
        logits, hidden = jax.vmap(lambda p, xi, h: p.step(xi, h))(policy, x, hidden)
        action = jax.random.categorical(k_act, rl.masked_logits(logits[:, 0], env.avail_actions(state)))
        obs, after, _, dones, infos = env.step(k_step, state, rl.unbatchify(action, env.agents))
        hidden = jnp.where(dones["__all__"], 0.0, hidden)
        return (after, obs, hidden), (state, dones["__all__"], infos["won"][0] > 0)

    return jax.lax.scan(one, (state, obs, hidden), jax.random.split(k_run, steps))[1]
