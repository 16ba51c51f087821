"""What the actor-critic trainer (`mixmo.rl._trainer`) carries and reports: states, rollouts, batches,
metrics (NamedTuples of arrays, so they jit, vmap over seeds and serialise into checkpoints)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mixmo.methods import Diagnostics
from mixmo.rl._networks import MLP


class Mixing(NamedTuple):
    """A trainer's reward-mixing carry: the `RewardMixer`'s state and the running MIXED returns `(N, E)`."""

    state: Any
    episode_returns: jax.Array


class TrainState(NamedTuple):
    """Everything one training run carries from update to update (for one seed), feed-forward or recurrent.

    Attributes:
        policy: the stacked per-player policies (`MLP`s, CNN actor-critic modules or `GRUPolicy`s), leading axis
            `n_agents`, or 1 with parameter sharing.
        critic: stacked critic `MLP`s (outputs: own value, share of the collective value); None with one
            actor-critic module per player.
        policy_opt, critic_opt: per-agent optax states (vmapped over the agent axis).
        method_state: the `GameMethod`'s state.
        env_state: the environments' states, leading axis `num_envs`.
        obs: uint8 observations `(n_agents, num_envs, *obs_shape)`.
        episode_returns: float32 `(n_agents, num_envs)` running unshaped returns of the current episodes.
        key: raw PRNG key data (uint32), so checkpoints hold plain arrays.
        update: int32 number of updates done.
        mixing: the reward mixer's `Mixing` carry, or None for a transform that does not mix (or none).
        world: `(num_envs, W)` global states for central critics, else None.
        mask: `(n_agents, num_envs, n_actions)` available actions where the trainer masks actions, else None.
        carry: the policy's carry (`mixmo.rl._policies`: empty for feed-forward policies, the GRU states
            `(n_agents, num_envs, gru_hidden)` for recurrent ones).
        first: `(num_envs,)` whether `obs` starts an episode.
    """

    policy: MLP
    critic: MLP
    policy_opt: Any
    critic_opt: Any
    method_state: Any
    env_state: Any
    obs: jax.Array
    episode_returns: jax.Array
    key: jax.Array
    update: jax.Array
    mixing: Mixing | None = None
    world: jax.Array | None = None
    mask: jax.Array | None = None
    carry: Any = ()
    first: jax.Array | None = None


class Rollout(NamedTuple):
    """One rollout, time-major: leading axis `num_steps`; agent axis before the env axis."""

    obs: jax.Array  # (T, N, E, *obs_shape) uint8
    action: jax.Array  # (T, N, E) int32
    log_prob: jax.Array  # (T, N, E)
    value: jax.Array  # (T, N, E) own-return critic
    share: jax.Array  # (T, N, E) shares of the collective value
    reward: jax.Array  # (T, N, E) raw rewards
    shaped: jax.Array  # (T, N, E) rewards after shaping or mixing (= reward without either)
    done: jax.Array  # (T, E)
    world: jax.Array | None = None  # (T, E, W) global states (central critics)
    mask: jax.Array | None = None  # (T, N, E, A) available actions (masked policies)
    first: jax.Array | None = None  # (T, E) whether the step starts an episode


class RolloutCarry(NamedTuple):
    """What the rollout's scan carries from step to step."""

    env_state: Any
    obs: jax.Array  # (N, E, *obs_shape) uint8
    world: jax.Array | None  # (E, W) or None
    mask: jax.Array | None  # (N, E, A) or None
    carry: Any  # the policy's carry
    first: jax.Array  # (E,)
    episode_returns: jax.Array  # (N, E) running unshaped returns
    episodes: jax.Array  # () episodes ended so far in this rollout
    stats: dict[str, jax.Array]  # name -> (N,) sums of end-of-episode infos
    mixed_returns: jax.Array | None = None  # (N, E) running mixed returns (with a mixer)


class EpisodeInfo(NamedTuple):
    """What a rollout reports of the episodes that ended in it."""

    episodes: jax.Array  # () how many (over all environments)
    stats: dict[str, jax.Array]  # name -> (N,) sums of end-of-episode infos


class Minibatch(NamedTuple):
    """Policy and critic training data, agent-major `(N, B, ...)`; collective entries repeated per agent."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    advantage: jax.Array
    collective_advantage: jax.Array
    value: jax.Array
    target: jax.Array
    collective_value: jax.Array
    collective_target: jax.Array


class MinibatchInfo(NamedTuple):
    """What one minibatch step reports (0-d arrays; `mixmo.rl.method_step`).

    Attributes:
        policy_loss: mean over the method's players of l_i, before the step.
        collective_loss: l_c before the step.
        value_loss: the critic loss before its step.
        entropy: mean policy entropy (nats).
        approx_kl: mean KL(old || new) estimate over agents and samples, (ratio - 1) - log ratio.
        direction_norm: global norm of the policy direction before clipping.
        diagnostics: the direction beside ξ, ξ_c and H_c ξ_c (`mixmo.methods.Diagnostics`), or None when
            the trainer does not compute them.
        stepped: 1.0 if the step was taken, 0.0 if a KL early stop skipped it.
    """

    policy_loss: jax.Array
    collective_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    direction_norm: jax.Array
    diagnostics: Diagnostics | None = None
    stepped: jax.Array | float = 1.0


class UpdateMetrics(NamedTuple):
    """What one update reports (per seed).

    Attributes:
        episodes: episodes that ended during the rollout (over all environments).
        episode_stats: name -> `(n_agents,)` sums over those episodes of the environment's end-of-episode
            `infos` (e.g. `apples_eaten`), plus `episode_return` (unshaped) and, with a mixer,
            `mixed_return` (the mixed rewards' episode totals, Σ_t r̃_i,t).
        policy_loss: mean over agents, epochs and minibatches of l_i (before each step).
        collective_loss: mean over epochs and minibatches of l_c.
        value_loss: mean critic loss (individual and collective summed).
        entropy: mean policy entropy (nats).
        approx_kl: mean KL(old || new) estimate, (ratio - 1) - log ratio.
        direction_norm: mean global norm of the policy direction before clipping.
        finite: all policy and critic parameters (and mixing rows) finite after the update.
        mixing_rows: with a mixer, its rows A `(n_agents, n_agents)` after the update (D3C: the learnt rows,
            not the trial); None without one.
        steps_taken: fraction of the update's minibatch steps taken (below 1 when a KL early stop ended the
            epochs); None for trainers without minibatches.
        diagnostics: means over the update's minibatch steps of `mixmo.methods.Diagnostics` (so
            `negative_sign` is the fraction of steps with a negative AgA sign), or None when not computed.
    """

    episodes: jax.Array
    episode_stats: dict[str, jax.Array]
    policy_loss: jax.Array
    collective_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    direction_norm: jax.Array
    finite: jax.Array
    mixing_rows: jax.Array | None = None
    steps_taken: jax.Array | None = None
    diagnostics: Diagnostics | None = None


def finite(tree) -> jax.Array:
    """True when every leaf of `tree` is finite (the trainers' per-update NaN check)."""
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))
