"""How the actor-critic trainer lays out a rollout for its minibatch steps: shuffled samples or whole sequences.

A layout turns a rollout with its advantages into a batch (`batch`), cuts it into minibatches (`minibatches`),
normalises advantages per agent (`normalised`) and gives the losses their agent-major views (`policy_inputs`,
`critic_batch`). A policy names its layout: feed-forward policies learn from shuffled SAMPLES (`SampleLayout`,
agent-major `Minibatch`, every (step, environment) pair on its own); recurrent ones from whole environment
SEQUENCES (`SequenceLayout`, environment-major `Sequences` that the GRUs replay from their stored initial state).

References: Schulman et al. 2017 (PPO minibatches); Yu et al. 2022 (MAPPO: recurrent minibatches of sequences).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from mixmo.rl._batching import shuffled_minibatches
from mixmo.rl._ppo_loss import normalise
from mixmo.rl._train_state import Minibatch, Rollout


class PolicyInputs(NamedTuple):
    """What the policy losses read from a minibatch, agent-major: `obs` in the policy's replay layout (samples:
    `(N, B, ...)`; sequences: `(N, T, B, ...)`), `first` `(T, B)` or None, `carry` the policy carries before the
    sequences, `mask` `(N, S, A)` or None, and `(N, S)` `action`, `log_prob`, `advantage`, `collective_advantage`."""

    obs: jax.Array
    first: jax.Array | None
    carry: Any
    mask: jax.Array | None
    action: jax.Array
    log_prob: jax.Array
    advantage: jax.Array
    collective_advantage: jax.Array


class Targets(NamedTuple):
    """A rollout's advantages and value targets: agents' `(T, N, E)`, the collective's `(T, E)`."""

    advantage: jax.Array
    target: jax.Array
    collective_advantage: jax.Array
    collective_value: jax.Array
    collective_target: jax.Array


def _cut_in_order(batch, num_minibatches: int, axis: int):
    """A leading minibatch axis, samples in order along `axis` (0 or 1)."""
    def cut(x):
        x = x.reshape(x.shape[:axis] + (num_minibatches, -1) + x.shape[axis + 1:])
        return jnp.moveaxis(x, axis, 0)
    return jax.tree.map(cut, batch)


class SampleLayout:
    """Agent-major `Minibatch` `(N, T * E, ...)` (samples time-major, environment-minor), cut along the samples."""

    axis = 1
    advantage_axes = -1

    @staticmethod
    def batch(traj: Rollout, carry0, t: Targets) -> Minibatch:
        del carry0
        n, samples = traj.action.shape[1], traj.action.shape[0] * traj.action.shape[2]

        def agent_major(x):  # (T, N, E, ...) -> (N, T * E, ...)
            return jnp.swapaxes(x, 0, 1).reshape((n, samples) + x.shape[3:])

        def repeated(x):  # (T, E) -> (N, T * E)
            return jnp.broadcast_to(x.reshape(1, samples), (n, samples))

        return Minibatch(
            obs=agent_major(traj.obs), action=agent_major(traj.action), log_prob=agent_major(traj.log_prob),
            advantage=agent_major(t.advantage), collective_advantage=repeated(t.collective_advantage),
            value=agent_major(traj.value), target=agent_major(t.target),
            collective_value=repeated(t.collective_value), collective_target=repeated(t.collective_target))

    @staticmethod
    def policy_inputs(mb: Minibatch) -> PolicyInputs:
        return PolicyInputs(mb.obs, None, (), None, mb.action, mb.log_prob, mb.advantage, mb.collective_advantage)

    @staticmethod
    def critic_batch(mb: Minibatch, critic_input: Callable) -> Minibatch:
        return mb._replace(obs=critic_input(mb.obs, None))


class Sequences(NamedTuple):
    """A rollout or a minibatch of whole sequences, environment-major `(E, T, ...)` so minibatches cut axis 0."""

    obs: jax.Array  # (E, T, N, *obs_shape)
    world: jax.Array | None  # (E, T, W), None without a central critic
    mask: jax.Array | None  # (E, T, N, A), None without masks
    first: jax.Array  # (E, T)
    h0: Any  # the policy carries before the first step, environment-major (GRU: (E, N, G))
    action: jax.Array  # (E, T, N)
    log_prob: jax.Array  # (E, T, N)
    advantage: jax.Array  # (E, T, N)
    collective_advantage: jax.Array  # (E, T)
    value: jax.Array  # (E, T, N)
    target: jax.Array  # (E, T, N)
    collective_value: jax.Array  # (E, T)
    collective_target: jax.Array  # (E, T)


def _agent_time_batch(x):  # (B, T, N, ...) -> (N, T, B, ...)
    return jnp.swapaxes(x, 0, 2)


def _optional(f, x):
    return None if x is None else f(x)


class SequenceLayout:
    """Environment-major `Sequences`, cut along the environments; the carries are `(N, E, ...)` in the state."""

    axis = 0
    advantage_axes = (0, 1)

    @staticmethod
    def batch(traj: Rollout, carry0, t: Targets) -> Sequences:
        def env_major(x):  # (T, N, E, ...) -> (E, T, N, ...)
            return jnp.moveaxis(jnp.swapaxes(x, 1, 2), 1, 0)

        def env_first(x):  # (T, E, ...) -> (E, T, ...)
            return jnp.swapaxes(x, 0, 1)

        return Sequences(
            obs=env_major(traj.obs), world=_optional(env_first, traj.world), mask=_optional(env_major, traj.mask),
            first=env_first(traj.first), h0=jax.tree.map(lambda h: jnp.swapaxes(h, 0, 1), carry0),
            action=env_major(traj.action), log_prob=env_major(traj.log_prob), advantage=env_major(t.advantage),
            collective_advantage=env_first(t.collective_advantage), value=env_major(traj.value),
            target=env_major(t.target), collective_value=env_first(t.collective_value),
            collective_target=env_first(t.collective_target))

    @staticmethod
    def policy_inputs(seq: Sequences) -> PolicyInputs:
        n = seq.action.shape[2]
        flat = lambda x: x.reshape((n, -1) + x.shape[3:])  # noqa: E731  (N, T, B, ...) -> (N, T * B, ...)
        log_prob = flat(_agent_time_batch(seq.log_prob))
        collective = jnp.broadcast_to(jnp.swapaxes(seq.collective_advantage, 0, 1).reshape(1, -1), log_prob.shape)
        return PolicyInputs(
            obs=_agent_time_batch(seq.obs), first=jnp.swapaxes(seq.first, 0, 1),
            carry=jax.tree.map(lambda h: jnp.swapaxes(h, 0, 1), seq.h0),
            mask=_optional(lambda m: flat(_agent_time_batch(m)), seq.mask), action=flat(_agent_time_batch(seq.action)),
            log_prob=log_prob, advantage=flat(_agent_time_batch(seq.advantage)), collective_advantage=collective)

    @staticmethod
    def critic_batch(seq: Sequences, critic_input: Callable) -> Minibatch:
        """The critic's view of a minibatch as a `Minibatch` (agent-major, samples environment-major)."""
        b, t, n = seq.action.shape
        samples = b * t

        def agent_major(x):  # (B, T, N, ...) -> (N, B * T, ...)
            return jnp.moveaxis(x, 2, 0).reshape((n, samples) + x.shape[3:])

        def repeated(x):  # (B, T) -> (N, B * T)
            return jnp.broadcast_to(x.reshape(1, samples), (n, samples))

        world = _optional(lambda w: w.reshape((samples,) + w.shape[2:]), seq.world)
        return Minibatch(obs=critic_input(agent_major(seq.obs), world), action=None, log_prob=None, advantage=None,
                         collective_advantage=None, value=agent_major(seq.value), target=agent_major(seq.target),
                         collective_value=repeated(seq.collective_value),
                         collective_target=repeated(seq.collective_target))


def layout_minibatches(layout, key: jax.Array, batch, num_minibatches: int, shuffle: bool):
    """`num_minibatches` minibatches with a leading axis, shuffled along the layout's axis (or in order)."""
    if shuffle:
        return shuffled_minibatches(key, batch, num_minibatches, axis=layout.axis)
    return _cut_in_order(batch, num_minibatches, layout.axis)


def normalised(layout, mb):
    """Advantages normalised per agent (each over its samples) and the collective one over all samples."""
    return mb._replace(advantage=normalise(mb.advantage, axis=layout.advantage_axes),
                       collective_advantage=normalise(mb.collective_advantage))
