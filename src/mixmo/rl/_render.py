"""Pictures of trained agents: a rollout driven by stacked per-agent policies, as frames or a GIF.

`mixmo.envs.render` draws random-policy rollouts; here the actions come from the trained policy `MLP`s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

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

    @jax.jit
    def roll(key):
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

    states = roll(key)
    return np.stack([env.render(jax.tree.map(lambda x, i=i: x[i], states)) for i in range(steps + 1)])


def write_gif(frames: np.ndarray, path: str | Path, fps: int = 8, upscale: int = 1) -> Path:
    """Write uint8 frames `(T, H, W, 3)` as a looping animated GIF; returns the path."""
    from PIL import Image

    if upscale < 1:
        raise ValueError(f"upscale must be a positive integer, got {upscale}.")
    frames = np.repeat(np.repeat(frames, upscale, axis=-3), upscale, axis=-2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(1000 // fps, 20), loop=0,
                   optimize=True)
    return path
