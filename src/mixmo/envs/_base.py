"""The multi-agent environment base class: JaxMARL's interface, gymnax's params split.

JaxMARL conventions kept (``jaxmarl/environments/multi_agent_env.py``):

- ``reset(key) -> (obs, state)`` and ``step(key, state, actions) -> (obs, state, rewards,
  dones, infos)``; ``obs``, ``rewards`` and ``dones`` are dicts keyed by agent name
  (``agent_0``, ``agent_1``, ...), ``dones["__all__"]`` ends the episode, ``actions`` is a
  dict of integer scalars keyed the same way;
- the public ``step`` auto-resets when ``dones["__all__"]`` is true, the private
  ``step_env`` does not;
- attributes ``agents``, ``num_agents``, methods ``observation_space(agent)`` and
  ``action_space(agent)``; ``infos`` is a flat dict of arrays (here each of shape
  ``(num_agents,)``, so it batches under ``vmap``).

Added, as in gymnax: environment parameters (rewards, probabilities, episode length) live
in a NamedTuple ``params`` separate from the NamedTuple ``state``; every method takes an
optional ``params`` and falls back to ``env.default_params``, so parameters can be vmapped.
Static structure (the map, the number of agents, the view size, the action set) is fixed
at construction, because it decides array shapes.

Subclasses implement three pure functions on stacked arrays (leading agent axis):
``_reset_state(key, params)``, ``_transition(key, state, actions, params)`` and
``_observe(state)``; the base class turns them into the dict-keyed API. ``step`` observes
only once, after choosing between the stepped and the reset state, which saves a second
observation pass on every step.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.envs._spaces import Box, Discrete

Dict = dict[str, jax.Array]


class Transition(NamedTuple):
    """What ``_transition`` returns: stacked per-agent arrays, before the dict conversion.

    Attributes:
        state: the next state (not reset).
        rewards: float32 array of shape ``(num_agents,)``.
        done: bool scalar, the episode has ended.
        infos: dict of arrays, each of shape ``(num_agents,)``.
    """

    state: Any
    rewards: jax.Array
    done: jax.Array
    infos: dict[str, jax.Array]


class MultiAgentEnv:
    """Base class; see the module docstring for the contract.

    Args:
        num_agents: number of agents; they are named ``agent_0`` ... ``agent_{n-1}``.
    """

    name: str = "env"
    # whether reaching the fixed horizon is the game's end (True) or a time limit (False);
    # the PettingZoo adapter reports terminations vs truncations from it
    horizon_is_terminal: bool = False

    def __init__(self, num_agents: int):
        if num_agents < 1:
            raise ValueError(f"num_agents must be >= 1, got {num_agents}.")
        self.num_agents = int(num_agents)
        self.agents = [f"agent_{i}" for i in range(self.num_agents)]

    # --- to implement ------------------------------------------------------------------
    @property
    def default_params(self) -> Any:
        """The parameters used when a method gets ``params=None``."""
        raise NotImplementedError

    def _reset_state(self, key: jax.Array, params: Any) -> Any:
        raise NotImplementedError

    def _transition(self, key: jax.Array, state: Any, actions: jax.Array, params: Any) -> Transition:
        raise NotImplementedError

    def _observe(self, state: Any) -> jax.Array:
        """Observations stacked on a leading agent axis."""
        raise NotImplementedError

    def observation_space(self, agent: str) -> Box:
        raise NotImplementedError

    def action_space(self, agent: str) -> Discrete:
        raise NotImplementedError

    def render(self, state: Any) -> np.ndarray:
        """An RGB picture of ``state``: uint8 array of shape ``(H, W, 3)``."""
        raise NotImplementedError

    # --- the JaxMARL API ---------------------------------------------------------------
    @partial(jax.jit, static_argnums=0)
    def reset(self, key: jax.Array, params: Any = None) -> tuple[Dict, Any]:
        """Start an episode. Returns ``(obs, state)``."""
        params = self.default_params if params is None else params
        state = self._reset_state(key, params)
        return self._to_dict(self._observe(state)), state

    @partial(jax.jit, static_argnums=0)
    def step_env(
        self, key: jax.Array, state: Any, actions: Dict, params: Any = None
    ) -> tuple[Dict, Any, Dict, Dict, Dict]:
        """One step without auto-reset (the returned state may be terminal)."""
        params = self.default_params if params is None else params
        tr = self._transition(key, state, self._stack_actions(actions), params)
        return self._outputs(self._observe(tr.state), tr.state, tr)

    @partial(jax.jit, static_argnums=0)
    def step(
        self, key: jax.Array, state: Any, actions: Dict, params: Any = None
    ) -> tuple[Dict, Any, Dict, Dict, Dict]:
        """One step; when the episode ends, the returned obs and state are a fresh reset.

        ``rewards``, ``dones`` and ``infos`` describe the step that was taken, so at the
        last step ``infos`` holds the finished episode's statistics.
        """
        params = self.default_params if params is None else params
        key_step, key_reset = jax.random.split(key)
        tr = self._transition(key_step, state, self._stack_actions(actions), params)
        reset_state = self._reset_state(key_reset, params)
        next_state = jax.tree.map(
            lambda r, s: jnp.where(tr.done, r, s), reset_state, tr.state
        )
        return self._outputs(self._observe(next_state), next_state, tr)

    @partial(jax.jit, static_argnums=0)
    def get_obs(self, state: Any) -> Dict:
        """Observations of ``state``, keyed by agent name."""
        return self._to_dict(self._observe(state))

    # --- helpers -----------------------------------------------------------------------
    def _stack_actions(self, actions: Dict) -> jax.Array:
        return jnp.stack([jnp.asarray(actions[a]).astype(jnp.int32) for a in self.agents])

    def _to_dict(self, stacked: jax.Array) -> Dict:
        return {a: stacked[i] for i, a in enumerate(self.agents)}

    def _outputs(self, obs: jax.Array, state: Any, tr: Transition):
        rewards = self._to_dict(tr.rewards)
        dones = {a: tr.done for a in self.agents}
        dones["__all__"] = tr.done
        return self._to_dict(obs), state, rewards, dones, dict(tr.infos)
