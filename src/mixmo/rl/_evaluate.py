"""Greedy evaluation of trained recurrent policies: fresh episodes, argmax over the available actions.

Training statistics (the win rate of `mixmo.rl.make_recurrent_train`'s episodes) come from the SAMPLED actions
of policies that are still changing. `greedy_evaluation` plays `num_episodes` new episodes with the final
policies instead: each episode starts from its own reset (keys split from the `key` given, so none of the
training environments is reused), every agent takes the argmax of its masked logits (an unavailable action is
never chosen: its logit is -1e9), and the GRU states start at zero. All episodes run in parallel (`vmap`) for
`max_steps` steps (the environment's time limit, so every episode ends); only each environment's first
episode counts: after it ends the environment auto-resets and what follows is ignored. The function is pure
and jit-able, and vmaps over seeds (a leading axis on `policy` and `key`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mixmo.rl._batching import batchify, unbatchify
from mixmo.rl._gru import GRUPolicy, masked_logits, step_stacked


class GreedyEpisodes(NamedTuple):
    """What `greedy_evaluation` returns (for one seed).

    Attributes:
        episodes: number of episodes that ended within `max_steps` (`num_episodes` when the time limit is at
            most `max_steps`).
        episode_stats: per-agent sums over those episodes of every per-agent `infos` entry at the episode's
            last step, plus `episode_return` (as the training's `UpdateMetrics.episode_stats`), each `(n_agents,)`;
            e.g. the win rate is `episode_stats["won"][0] / episodes` in Selfish-MMM2.
        actions: `(max_steps, n_agents, num_episodes)` the actions taken (also after an episode ended).
        counted: `(max_steps, num_episodes)` whether the step belongs to the counted (first) episode.
    """

    episodes: jax.Array
    episode_stats: dict
    actions: jax.Array
    counted: jax.Array


def _mask(env, state) -> jax.Array:
    if hasattr(env, "avail_actions"):
        return env.avail_actions(state)
    return jnp.ones((env.num_agents, env.action_space(env.agents[0]).n), bool)


def greedy_evaluation(env, policy: GRUPolicy, key: jax.Array, num_episodes: int, max_steps: int,
                      env_params=None) -> GreedyEpisodes:
    """Play `num_episodes` fresh episodes with the argmax of `policy`'s masked logits.

    Args:
        env: a mixmo (JaxMARL-API) environment (auto-resetting `step`), with optional `avail_actions(state)`.
        policy: GRU policies stacked per agent (leading axis `n_agents`) or one shared (leading axis 1).
        key: the evaluation's key: the episodes' reset keys are `jax.random.split` of its first half; pass a key
            the training never used, so the episodes are new.
        num_episodes: episodes played in parallel (static).
        max_steps: steps played (static); the environment's time limit, so every episode ends.
        env_params: environment parameters (default: the environment's).

    Returns:
        `GreedyEpisodes`. The environment's step key is still drawn (SMAX's movement has none, but other
        environments may be stochastic); the actions themselves never depend on a key.
    """
    if num_episodes < 1 or max_steps < 1:
        raise ValueError(f"greedy_evaluation: num_episodes and max_steps must be >= 1, got {num_episodes}, "
                         f"{max_steps}.")
    agents, n = env.agents, env.num_agents
    k_reset, k_steps = jax.random.split(key)
    obs, state = jax.vmap(lambda k: env.reset(k, env_params))(jax.random.split(k_reset, num_episodes))
    hidden = jnp.zeros((n, num_episodes, policy.hidden_size), jnp.float32)

    def one(carry, k):
        state, obs, hidden, running, returns, stats = carry
        x = batchify(obs, agents)  # (N, E, ...)
        logits, hidden = step_stacked(policy, x, hidden)
        mask = jnp.swapaxes(jax.vmap(lambda s: _mask(env, s))(state), 0, 1)  # (N, E, A)
        action = jnp.argmax(masked_logits(logits, mask), axis=-1)  # (N, E)
        obs, state, rewards, dones, infos = jax.vmap(lambda kk, s, a: env.step(kk, s, a, env_params))(
            jax.random.split(k, num_episodes), state, unbatchify(action, agents))
        done = dones["__all__"]  # (E,)
        returns = returns + batchify(rewards, agents).astype(jnp.float32) * running[None]
        ending = (done & running).astype(jnp.float32)[None]  # (1, E): the counted episode ends now
        infos = {k: jnp.swapaxes(v, 0, 1) for k, v in infos.items() if v.shape[1:] == (n,)}
        infos["episode_return"] = returns
        stats = {k: stats[k] + jnp.sum(infos[k].astype(jnp.float32) * ending, axis=-1) for k in stats}
        hidden = jnp.where(done[None, :, None], 0.0, hidden)
        record = (action, running)
        return (state, obs, hidden, running & ~done, returns, stats), record

    names = _stat_names(env, env_params, n)
    stats0 = {k: jnp.zeros((n,), jnp.float32) for k in names}
    carry0 = (state, obs, hidden, jnp.ones((num_episodes,), bool), jnp.zeros((n, num_episodes), jnp.float32),
              stats0)
    (_, _, _, running, _, stats), (actions, counted) = jax.lax.scan(
        one, carry0, jax.random.split(k_steps, max_steps))
    episodes = jnp.sum(~running).astype(jnp.float32)
    return GreedyEpisodes(episodes=episodes, episode_stats=stats, actions=actions, counted=counted)


def _stat_names(env, env_params, n: int) -> tuple[str, ...]:
    """The per-agent `infos` entries (shapes only, nothing compiled) and `episode_return`."""

    def step_infos(key):
        _, state = env.reset(key, env_params)
        actions = {a: jnp.zeros((), jnp.int32) for a in env.agents}
        return env.step(key, state, actions, env_params)[4]

    infos = jax.eval_shape(step_infos, jax.random.key(0))
    return tuple(sorted({k for k, v in infos.items() if v.shape == (n,)} | {"episode_return"}))
