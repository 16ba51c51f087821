"""`frame_stack(env, k)`: each agent observes its last `k` frames stacked on the channel axis.

What supersuit's `frame_stack_v1(env, k)` does for 3-D observations (the SSD repository's
`run_scripts/sb3_train.py` stacks 4): the stack is `(H, W, C * k)`, oldest frame first and the newest in the last
`C` channels; at an episode's start it is zeros with the first frame in the last channels (supersuit's
`stack_init` is zeros and the reset observation is then pushed). With mixmo's auto-resetting `step`, the stack is
restarted from the reset observation whenever the episode ends.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mixmo.envs._spaces import Box


class FrameStackState(NamedTuple):
    """The wrapped environment's state and every agent's frame stack `(H, W, C * k)`, keyed by agent."""

    env_state: Any
    frames: dict


class FrameStack:
    """A mixmo (JaxMARL-API) environment whose observations are stacks of the last `k` frames.

    Everything but `reset`, `step`, `observation_space` and `render` is the wrapped environment's.
    """

    def __init__(self, env: Any, k: int):
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"frame_stack: k must be an integer >= 1, got {k!r}.")
        space = env.observation_space(env.agents[0])
        if len(space.shape) != 3:
            raise ValueError(f"frame_stack: needs (H, W, C) observations, got shape {space.shape}.")
        self.env, self.k = env, k
        self._channels = space.shape[-1]

    def __getattr__(self, name: str):
        if name == "env":  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.env, name)

    def observation_space(self, agent: str) -> Box:
        space = self.env.observation_space(agent)
        return Box(space.low, space.high, space.shape[:-1] + (space.shape[-1] * self.k,), space.dtype)

    def _push(self, frames: jax.Array, obs: jax.Array) -> jax.Array:
        return jnp.concatenate([frames[..., self._channels:], obs], axis=-1)

    def _fresh(self, obs: jax.Array) -> jax.Array:
        return self._push(jnp.zeros(obs.shape[:-1] + (obs.shape[-1] * self.k,), obs.dtype), obs)

    def reset(self, key: jax.Array, params: Any = None):
        obs, state = self.env.reset(key, params)
        frames = {a: self._fresh(o) for a, o in obs.items()}
        return frames, FrameStackState(state, frames)

    def step(self, key: jax.Array, state: FrameStackState, actions: dict, params: Any = None):
        obs, env_state, rewards, dones, infos = self.env.step(key, state.env_state, actions, params)
        done = dones["__all__"]
        frames = {a: jnp.where(done, self._fresh(o), self._push(state.frames[a], o)) for a, o in obs.items()}
        return frames, FrameStackState(env_state, frames), rewards, dones, infos

    def render(self, state: FrameStackState):
        return self.env.render(state.env_state)


def frame_stack(env: Any, k: int) -> Any:
    """`env` with each agent's last `k` frames stacked on the channel axis (`env` itself for k = 1)."""
    return env if k == 1 else FrameStack(env, k)
