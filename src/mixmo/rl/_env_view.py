"""What the actor-critic trainer reads from its environments beyond the agents' observations.

An `EnvView` turns an environment step's observations and states into an `Observation`: the agents' own
observations, the global state the critics may see (`critic="central"`: `env.world_state(state)`, MAPPO's
agent-specific global state; `critic="local"`: none) and the action masks (`masks=True`: `env.avail_actions(state)`,
all actions when the environment has none; `masks=False`: none). It also builds the critics' input from them.

References: Yu et al. 2022 (MAPPO: agent-specific global state); de Witt et al. 2020 (IPPO: local critics).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mixmo.rl._batching import batchify

CRITICS = ("local", "central")


class Observation(NamedTuple):
    """The agents' view of `E` environments: `obs` `(N, E, *obs_shape)`, `world` `(E, W)` or None, `mask`
    `(N, E, A)` bool or None."""

    obs: jax.Array
    world: jax.Array | None = None
    mask: jax.Array | None = None


@dataclass(frozen=True)
class EnvView:
    """Observations, global states and action masks of an environment (module docstring)."""

    env: Any
    critic: str = "local"
    masks: bool = False

    def _mask(self, env_state) -> jax.Array:  # (N, A) for one environment
        if hasattr(self.env, "avail_actions"):
            return self.env.avail_actions(env_state)
        return jnp.ones((self.env.num_agents, self.env.action_space(self.env.agents[0]).n), bool)

    def observe(self, obs: dict, env_states) -> Observation:
        """The `Observation` of a batch of environments (`obs`: name -> `(E, ...)`; `env_states` leading `E`)."""
        world = jax.vmap(self.env.world_state)(env_states) if self.critic == "central" else None
        mask = jnp.swapaxes(jax.vmap(self._mask)(env_states), 0, 1) if self.masks else None
        return Observation(batchify(obs, self.env.agents), world, mask)

    def critic_input(self, obs: jax.Array, world: jax.Array | None) -> jax.Array:
        """`obs` `(N, B, *obs_shape)`, `world` `(B, W)` -> the critics' input: the observations themselves
        (local; the networks flatten them), or `(N, B, W + obs_size)` global state and flat observation."""
        if self.critic == "local":
            return obs
        flat = obs.reshape(obs.shape[:2] + (-1,)).astype(jnp.float32)
        return jnp.concatenate([jnp.broadcast_to(world[None], (flat.shape[0],) + world.shape), flat], axis=-1)

    def critic_size(self, obs_shape: tuple[int, ...], world: jax.Array | None) -> int:
        """The width of one critic input (`world`: the global states `(E, W)` of `observe`)."""
        return math.prod(obs_shape) + (0 if world is None else world.shape[-1])
