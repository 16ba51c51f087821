"""One reward transform for every RL trainer: shaping (SVO, SL) and mixing (selfish, cooperative, D3C) alike.

A `RewardTransform` is what a trainer does to the rewards before it estimates advantages:

- `init(key, n) -> state`;
- `apply(state, rewards, episode_returns) -> transformed rewards`, both inputs with the agent axis FIRST,
  `(n, ...)`: `rewards` this step's raw rewards, `episode_returns` the running raw episode totals including
  this step;
- `update(state, g, episodes=1) -> state` after each iteration, g `(n,)` each agent's mean transformed
  episode return over the iteration's `episodes` episodes;
- `rows(state)`: the learnt mixing rows A, or None for a transform that does not mix;
- `matrix(state)`: the Ã the rewards are mixed with, or None for a transform that does not mix;
- `iteration`: what one iteration is (`mixmo.rl.D3CRLConfig.iteration`); "update" unless a mixer says otherwise.

Shaping (`shaping(name, shape)`: `mixmo.rl.svo`, `sl`, `svo_e1`) has the empty state `()`, an `update` that
returns its state unchanged and no rows; the trainers report exactly what they reported for shaping before.
Mixing (`mixing(...)`: `mixmo.rl.selfish`, `cooperative`, `fixed`, `d3c`) applies r̃_i = Σ_j Ã_ji r_j (D3C
Algorithm 3); for a transform with rows (`mixes`) the trainers also report the `mixed_return` episode
statistic and the rows, and call `update` after each iteration.

References: McKee et al. 2020 (SVO); Apt & Schäfer 2014 (SL); Gemp et al. 2022 (D3C, Algorithms 1 and 3).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp


class RewardTransform(NamedTuple):
    """A reward shaping or mixing: `init`, `apply`, `update`, `rows`, `matrix`, `iteration` (module docstring)."""

    name: str
    init: Callable[[jax.Array, int], Any]
    apply: Callable[[Any, jax.Array, jax.Array], jax.Array]
    update: Callable[..., Any]
    rows: Callable[[Any], jax.Array] | None = None
    matrix: Callable[[Any], jax.Array] | None = None
    iteration: str = "update"

    @property
    def mixes(self) -> bool:
        """Whether this transform mixes rewards (has rows): trainers then track `mixed_return` and the rows."""
        return self.rows is not None


RewardShaping = RewardTransform
RewardMixer = RewardTransform
"""The one transform type under the names of its two former kinds (`mixmo.rl.RewardShaping`, `RewardMixer`)."""


def _same(state, g, episodes=1):
    del g, episodes
    return state


def shaping(name: str, shape: Callable[[jax.Array, jax.Array], jax.Array]) -> RewardTransform:
    """A transform with no state: `shape(rewards, episode_returns) -> shaped rewards` (agent axis first)."""
    return RewardTransform(name, lambda key, n: (), lambda state, rewards, returns: shape(rewards, returns), _same)


def identity() -> RewardTransform:
    """The raw rewards unchanged (what a trainer uses without a transform)."""
    return shaping("none", lambda rewards, returns: rewards)


def mix_rewards(matrix: jax.Array, rewards: jax.Array) -> jax.Array:
    """r̃_i = Σ_j Ã_ji r_j (D3C Algorithm 3) for rewards with the agent axis first, `(n, ...)`."""
    return jnp.tensordot(matrix.T, rewards, axes=1)


def mixing(name: str, init: Callable[[jax.Array, int], Any], matrix: Callable[[Any], jax.Array],
           update: Callable[..., Any], rows: Callable[[Any], jax.Array], iteration: str = "update") -> RewardTransform:
    """A transform that mixes the rewards with `matrix(state)` (Ã, rows on the simplex)."""

    def apply(state, rewards, returns=None):
        del returns
        return mix_rewards(matrix(state), rewards)

    return RewardTransform(name, init, apply, update, rows, matrix, iteration)


def running_mixed(mixed: jax.Array, running: jax.Array, ended: jax.Array):
    """One rollout step of a mixing transform's episode statistic, shared by the actor-critic trainers.

    Args:
        mixed: this step's transformed rewards `(n, E)`; running: the running mixed returns `(n, E)` before
            this step; ended: `(1, E)` 1.0 where an episode ended at this step.

    Returns:
        `(running, carried)`: the running mixed returns including this step (the `mixed_return` episode
        statistic where episodes ended) and those to carry to the next step (zero where an episode ended).
    """
    running = running + mixed
    return running, running * (1.0 - ended)
