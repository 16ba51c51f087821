"""A PettingZoo ``ParallelEnv`` view of a mixmo environment (optional: needs pettingzoo).

The adapter keeps the JAX state and a PRNG key, steps with the jitted ``step_env`` (no
auto-reset: PettingZoo users call ``reset``), and hands out numpy arrays. Every mixmo game
ends at a fixed horizon; the adapter reports the end as ``truncations`` (a time limit),
except for environments whose ``horizon_is_terminal`` is true (Trust-Your-Brother, whose
5 steps are the game), reported as ``terminations``. When the episode ends, ``agents``
becomes empty, as PettingZoo requires.

References:
    PettingZoo ``ParallelEnv`` and ``pettingzoo.test.parallel_api_test``.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def _to_gymnasium(space):
    from gymnasium import spaces

    if hasattr(space, "n"):
        return spaces.Discrete(space.n)
    dtype = np.dtype(space.dtype)
    return spaces.Box(
        low=np.broadcast_to(np.asarray(space.low, dtype), space.shape),
        high=np.broadcast_to(np.asarray(space.high, dtype), space.shape),
        shape=space.shape,
        dtype=dtype,
    )


def to_pettingzoo(env: Any, *, seed: int = 0, render_mode: str | None = None):
    """Wrap ``env`` (from ``mixmo.envs.make``) as a ``pettingzoo.ParallelEnv``.

    Args:
        env: a mixmo environment.
        seed: seed of the wrapper's PRNG key (``reset(seed=...)`` replaces it).
        render_mode: ``None`` or ``"rgb_array"`` (``render()`` returns ``env.render``).

    Raises:
        ImportError: pettingzoo is not installed (``pip install pettingzoo``).
    """
    try:
        from pettingzoo import ParallelEnv
    except ImportError as err:
        raise ImportError("to_pettingzoo needs pettingzoo: `pip install pettingzoo`.") from err

    if render_mode not in (None, "rgb_array"):
        raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}.")

    class MixmoParallelEnv(ParallelEnv):
        metadata = {"name": f"mixmo_{env.name}", "render_modes": ["rgb_array"], "is_parallelizable": True}

        def __init__(self):
            self.env = env
            self.possible_agents = list(env.agents)
            self.agents: list[str] = []
            self.render_mode = render_mode
            self._key = jax.random.key(seed)
            self._state = None
            self._observation_spaces = {a: _to_gymnasium(env.observation_space(a)) for a in env.agents}
            self._action_spaces = {a: _to_gymnasium(env.action_space(a)) for a in env.agents}

        def observation_space(self, agent):
            return self._observation_spaces[agent]

        def action_space(self, agent):
            return self._action_spaces[agent]

        def reset(self, seed: int | None = None, options: dict | None = None):
            if seed is not None:
                self._key = jax.random.key(seed)
            self._key, key = jax.random.split(self._key)
            obs, self._state = env.reset(key)
            self.agents = list(self.possible_agents)
            return {a: np.asarray(obs[a]) for a in self.agents}, {a: {} for a in self.agents}

        def step(self, actions: dict):
            if not self.agents:
                raise RuntimeError("the episode is over: call reset() before step().")
            missing = sorted(set(self.agents) - set(actions))
            if missing:
                raise ValueError(f"no action for {missing}: every live agent acts each step.")
            self._key, key = jax.random.split(self._key)
            obs, self._state, rewards, dones, infos = env.step_env(
                key, self._state, {a: np.int32(actions[a]) for a in self.agents}
            )
            done = bool(dones["__all__"])
            terminal = done and getattr(env, "horizon_is_terminal", False)
            live = self.agents
            out = (
                {a: np.asarray(obs[a]) for a in live},
                {a: float(rewards[a]) for a in live},
                {a: terminal for a in live},
                {a: done and not terminal for a in live},
                {a: {k: np.asarray(v)[i] for k, v in infos.items()} for i, a in enumerate(live)},
            )
            if done:
                self.agents = []
            return out

        def render(self):
            if self.render_mode == "rgb_array" and self._state is not None:
                return env.render(self._state)
            return None

        def close(self):
            pass

    return MixmoParallelEnv()
