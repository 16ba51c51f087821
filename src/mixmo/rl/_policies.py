"""The policies of the actor-critic trainer: what differs between feed-forward and recurrent ones.

A policy object gives the trainer (`mixmo.rl._trainer.Trainer`):

- `init(key, players, obs_shape, n_actions, config)`: the stacked per-player parameters (leading axis `players`);
- `one_module`: whether those parameters are one actor-critic module (`PPOConfig.network` "cnn": the critic's
  outputs come from the same module, the trainer builds no separate critic);
- `initial_carry(n, num_envs)`: what the policy carries between steps (a NamedTuple; `NoCarry` for feed-forward);
- `reset(carry, first)`: the carry with the episodes that start (`first` `(E,)`) reset;
- `act(params, value_net, obs, critic_input, carry, first) -> (logits (N, E, A), values (N, E, 2), carry)`:
  one rollout step of every agent, with the critics' (V_i, u_i);
- `replay(params, obs, first, carry) -> logits (N, S, A)`: the logits of a minibatch, in the layout's view
  (`mixmo.rl._layouts.PolicyInputs`);
- `layout`: how the trainer cuts a rollout into minibatches (shuffled samples, or whole sequences).

`FeedForwardPolicy` ("mlp": `mixmo.rl.MLP`s; "cnn": `mixmo.rl._cnn.ActorCritic`s) learns from shuffled samples;
`RecurrentPolicy` (`mixmo.rl.GRUPolicy`, hidden state reset at episode starts) from whole environment sequences,
replayed from the stored hidden state before each sequence.

References: Schulman et al. 2017 (PPO); Yu et al. 2022 (MAPPO recurrent policies); Cho et al. 2014 (GRU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mixmo.rl._cnn import critic_outputs, policy_and_critic, stacked_actor_critics
from mixmo.rl._gru import stacked_gru_policies, step_stacked, unroll_stacked
from mixmo.rl._layouts import SampleLayout, SequenceLayout
from mixmo.rl._networks import apply_stacked, stacked_mlps


class NoCarry(NamedTuple):
    """A feed-forward policy's carry: nothing."""


class GRUCarry(NamedTuple):
    """A recurrent policy's carry: every agent's GRU state `(N, E, gru_hidden)`."""

    hidden: jax.Array


@dataclass(frozen=True)
class FeedForwardPolicy:
    """Per-player MLP policies (with separate MLP critics) or CNN actor-critic modules; shuffled samples."""

    network: str = "mlp"
    layout = SampleLayout

    @property
    def one_module(self) -> bool:
        return self.network == "cnn"

    def init(self, key: jax.Array, players: int, obs_shape: tuple[int, ...], n_actions: int, config):
        c = config
        if self.one_module:
            return stacked_actor_critics(key, players, obs_shape, n_actions, c.cnn, c.net_arch, c.shared_net_arch)
        return stacked_mlps(key, players, (math.prod(obs_shape), *c.hidden, n_actions), c.policy_head_scale,
                            c.activation)

    def initial_carry(self, n: int, num_envs: int) -> NoCarry:
        del n, num_envs
        return NoCarry()

    def reset(self, carry: NoCarry, first: jax.Array) -> NoCarry:
        del first
        return carry

    def act(self, params, value_net, obs, critic_input, carry: NoCarry, first):
        del first
        if self.one_module:
            logits, values = policy_and_critic(params, obs)
        else:
            logits, values = apply_stacked(params, obs), critic_outputs(value_net, critic_input)
        return logits, values, carry

    def replay(self, params, obs, first, carry: NoCarry) -> jax.Array:
        del first, carry
        return apply_stacked(params, obs)


@dataclass(frozen=True)
class RecurrentPolicy:
    """Per-player GRU policies (`mixmo.rl.GRUPolicy`: input layer, GRU, action head); whole sequences."""

    gru_hidden: int
    layout = SequenceLayout
    one_module = False

    def init(self, key: jax.Array, players: int, obs_shape: tuple[int, ...], n_actions: int, config):
        c = config
        return stacked_gru_policies(key, players, math.prod(obs_shape), c.hidden[0], self.gru_hidden, n_actions,
                                    c.policy_head_scale)

    def initial_carry(self, n: int, num_envs: int) -> GRUCarry:
        return GRUCarry(jnp.zeros((n, num_envs, self.gru_hidden), jnp.float32))

    def reset(self, carry: GRUCarry, first: jax.Array) -> GRUCarry:
        return GRUCarry(jnp.where(first[None, :, None], 0.0, carry.hidden))

    def act(self, params, value_net, obs, critic_input, carry: GRUCarry, first):
        logits, hidden = step_stacked(params, obs, self.reset(carry, first).hidden)
        return logits, critic_outputs(value_net, critic_input), GRUCarry(hidden)

    def replay(self, params, obs, first, carry: GRUCarry) -> jax.Array:
        logits = unroll_stacked(params, obs, first, carry.hidden)  # (N, T, B, A)
        return logits.reshape((logits.shape[0], -1) + logits.shape[3:])
