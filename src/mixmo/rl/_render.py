"""Pictures of trained agents: a rollout driven by stacked per-agent policies, as frames (GIFs: `write_gif`, the
one GIF writer, `mixmo.envs.render.write_gif`, with the step counter and colour key beneath each frame).

`mixmo.envs.render` draws random-policy rollouts; here the actions come from the trained policy `MLP`s.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.envs.render import write_gif as write_gif  # re-exported: mixmo.rl.write_gif
from mixmo.rl import _random
from mixmo.rl._batching import batchify, unbatchify
from mixmo.rl._networks import MLP, apply_stacked


def policy_rollout_frames(env: Any, policy: MLP, key: jax.Array, steps: int, greedy: bool = False,
                          env_params: Any = None) -> np.ndarray:
    """Frames of one rollout from a reset with actions from `policy`: uint8 `(steps + 1, H, W, 3)`.

    Args:
        env: a mixmo grid environment (anything with `render`).
        policy: stacked policy `MLP`s, one per agent (leading agent axis), as trained by `mixmo.rl`.
        key: PRNG key for the reset, the actions and the dynamics.
        steps: steps after the reset.
        greedy: take each policy's most likely action instead of sampling.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}.")

    states = _roll(env, policy, key, env_params, steps=steps, greedy=greedy)
    return np.stack([env.render(jax.tree.map(lambda x, i=i: x[i], states)) for i in range(steps + 1)])


@functools.partial(jax.jit, static_argnames=("env", "steps", "greedy"))
def _roll(env: Any, policy: MLP, key: jax.Array, env_params: Any, *, steps: int, greedy: bool):
    """The states of `policy_rollout_frames`' rollout, stacked. One program per environment, policy shapes and
    length: the policy is an argument (no parameters baked in as constants), so the next GIF of the same set-up
    (another method, another run in the process) traces and compiles nothing."""
    key_reset, key_run = jax.random.split(key)
    obs, state = env.reset(key_reset, env_params)

    def one(carry, k):
        state, obs = carry
        k_act, k_step = jax.random.split(k)
        x = batchify(obs, env.agents)[:, None]  # (N, 1, *obs_shape)
        logits = apply_stacked(policy, x)[:, 0]
        action = jnp.argmax(logits, axis=-1) if greedy else _random.categorical(k_act, logits)
        obs, state, _, _, _ = env.step(k_step, state, unbatchify(action, env.agents), env_params)
        return (state, obs), state

    _, states = jax.lax.scan(one, (state, obs), jax.random.split(key_run, steps))
    return jax.tree.map(lambda first, rest: jnp.concatenate([first[None], rest]), state, states)
