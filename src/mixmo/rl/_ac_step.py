"""One minibatch step of the actor-critic trainer (`mixmo.rl._trainer`): the policy losses from a minibatch's
logits, the critics' loss, the step through the `GameMethod` and the optimisers, parameter sharing's one player,
and the means of the steps' reports.

References: Schulman et al. 2017 (PPO, eq. 7: the clipped surrogate); AgA paper (Li et al. 2024) §5.2 and
App. E.1 (the collective loss; shared policies).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax

from mixmo.game import StructuredLosses
from mixmo.methods import GameMethod, diagnostics, reuse_derivatives
from mixmo.rl._batching import stack, unstack
from mixmo.rl._cnn import critic_outputs
from mixmo.rl._gru import masked_logits
from mixmo.rl._layouts import SampleLayout
from mixmo.rl._networks import MLP
from mixmo.rl._policies import FeedForwardPolicy
from mixmo.rl._ppo_loss import clipped_surrogate, clipped_value_loss
from mixmo.rl._train_state import Minibatch, MinibatchInfo


def policy_terms(logits: jax.Array, mask: jax.Array | None, action: jax.Array, old_log_prob: jax.Array,
                 advantage: jax.Array, collective_advantage: jax.Array, surrogate: Callable, ent_coef: float):
    """Per-agent policy losses and the collective loss from a minibatch's logits, agent-major.

    Args:
        logits: `(N, S, A)` for the `N` agents' `S` samples; mask: `(N, S, A)` available actions or None
            (unavailable actions get probability 0: `mixmo.rl.masked_logits`).
        action, old_log_prob, advantage, collective_advantage: `(N, S)` (the collective advantage repeated
            per agent); advantages already normalised where the algorithm does.
        surrogate: `(log_prob, old_log_prob, advantage) -> loss` for one agent's samples (a config's `surrogate`).

    Returns:
        `(individual, collective, aux)`: individual losses l_i = surrogate - ent_coef * entropy_i `(n,)`, the
        collective loss Σ_i (surrogate with the collective advantage - ent_coef * entropy_i) (scalar), and
        `aux = (entropy (n,), approx_kl (n,))`.
    """
    vmapped = jax.vmap(surrogate)
    log_probs = jax.nn.log_softmax(masked_logits(logits, mask))
    log_prob = jnp.take_along_axis(log_probs, action[..., None], axis=-1)[..., 0]
    probs = jnp.exp(log_probs)
    if mask is not None:  # masked actions: probability 0, term 0
        log_probs = jnp.where(probs > 0, log_probs, 0.0)
    entropy = -jnp.mean(jnp.sum(probs * log_probs, axis=-1), axis=-1)
    individual = vmapped(log_prob, old_log_prob, advantage) - ent_coef * entropy
    collective = jnp.sum(vmapped(log_prob, old_log_prob, collective_advantage) - ent_coef * entropy)
    log_ratio = log_prob - old_log_prob
    approx_kl = jnp.mean(jnp.expm1(log_ratio) - log_ratio, axis=-1)
    return individual, collective, (entropy, approx_kl)


def _surrogate(surrogate: Callable | float) -> Callable:
    if callable(surrogate):
        return surrogate
    return lambda lp, old, adv: clipped_surrogate(lp, old, adv, surrogate)


def replayed_terms(policy, stacked_params, inputs, surrogate: Callable | float, ent_coef: float):
    """`policy_terms` of the agents' policy params (stacked on a leading agent axis) on a minibatch's
    `PolicyInputs` (`mixmo.rl._layouts`), the logits replayed by `policy` (`mixmo.rl._policies`): what the
    trainer's `learn_minibatch` differentiates.

    `surrogate`: a config's `surrogate`, or a number: PPO's clip epsilon (`clipped_surrogate`).
    """
    logits = policy.replay(stacked_params, inputs.obs, inputs.first, inputs.carry)
    return policy_terms(logits, inputs.mask, inputs.action, inputs.log_prob, inputs.advantage,
                        inputs.collective_advantage, _surrogate(surrogate), ent_coef)


def policy_losses(policy_params: tuple, mb: Minibatch, surrogate: Callable | float, ent_coef: float):
    """`replayed_terms` of feed-forward policies on a `Minibatch` of samples, as the trainer computes them.

    Args:
        policy_params: tuple of per-agent policy `MLP`s (the `GameMethod`'s `Params`).
        mb: the minibatch; advantages already normalised where the algorithm does.
        surrogate: a config's `surrogate`, or a number: PPO's clip epsilon (`clipped_surrogate`).
    """
    return replayed_terms(FeedForwardPolicy(), stack(policy_params), SampleLayout.policy_inputs(mb), surrogate,
                          ent_coef)


def critic_loss(critic: MLP, mb: Minibatch, value_loss: Callable | float):
    """Sum of the agents' value losses and the collective critic's; returns `(loss, loss)`.

    `value_loss`: `(value, old_value, target) -> loss` (a config's `value_loss`), or a number: PPO's value
    clip (`clipped_value_loss`).
    """
    if not callable(value_loss):
        clip = value_loss
        value_loss = lambda v, old, target: clipped_value_loss(v, old, target, clip)  # noqa: E731
    out = critic_outputs(critic, mb.obs)  # (N, B, 2)
    own = jax.vmap(value_loss)(out[..., 0], mb.value, mb.target)
    collective = value_loss(jnp.sum(out[..., 1], axis=0), mb.collective_value[0], mb.collective_target[0])
    loss = jnp.sum(own) + collective
    return loss, loss


def player_view(method: GameMethod, n: int) -> tuple[Callable, Callable]:
    """`(to_players, to_stacked)`: the `n` players' policy params (stacked on a leading axis) as `method` takes
    them, and back. A tuple of `n` per-player pytrees, or for a `joint` method ONE player holding them all
    stacked (`GameMethod.joint`: the same direction, differentiated through the vmapped policies at once
    instead of player by player)."""
    if method.joint:
        return lambda stacked: (stacked,), lambda players: players[0]
    return lambda stacked: unstack(stacked, n), stack


def method_step(method: GameMethod, state, n: int, terms, critic_grads, policy_optimizer, critic_optimizer,
                diagnose: bool = False):
    """One policy step through `method` and one critic step; shared by the feed-forward and recurrent trainers.

    Args:
        state: a train state with `policy`, `critic`, `policy_opt`, `critic_opt`, `method_state` (stacked on a
            leading axis of `n` players: the agents, or 1 for a policy shared by all).
        terms: `stacked params -> (individual (n,), collective, (entropy (agents,), approx_kl (agents,)))` for
            the `n` players' params stacked on a leading axis.
        critic_grads: `critic -> (gradients, value loss)`.
        policy_optimizer, critic_optimizer: per-player optax transformations (vmapped over the leading axis).
            `critic_optimizer` None: `state.policy` is one actor-critic module per player (`PPOConfig.network`
            "cnn"): `critic_grads` is taken at `state.policy`, added to the method's direction (which the value
            head does not enter) and the sum goes through `policy_optimizer`, stable-baselines3's one optimiser
            over policy loss + vf_coef * value loss; `state.critic` is left as it is.
        diagnose: also compare the direction with ξ, ξ_c and H_c ξ_c (`mixmo.methods.diagnostics`).

    Returns:
        `(state, MinibatchInfo)`.
    """
    to_players, to_stacked = player_view(method, n)
    losses = StructuredLosses(individual=lambda p: terms(to_stacked(p))[0],
                              collective=lambda p: terms(to_stacked(p))[1], separable=True)
    params = to_players(state.policy)
    individual, collective, (entropy, approx_kl) = terms(state.policy)
    with reuse_derivatives():  # the diagnostics' ξ, ξ_c, H_c ξ_c: those the method computed, where it did
        direction, method_state = method.update(losses, params, state.method_state)
        checks = diagnostics(losses, params, direction) if diagnose else None
    direction = to_stacked(direction)
    if critic_optimizer is None:  # one actor-critic module: the value gradient joins the direction
        grads, value_loss = critic_grads(state.policy)
        total = jax.tree.map(jnp.add, direction, grads)
        updates, policy_opt = jax.vmap(policy_optimizer.update)(total, state.policy_opt, state.policy)
        policy = optax.apply_updates(state.policy, updates)
        critic, critic_opt = state.critic, state.critic_opt
    else:
        updates, policy_opt = jax.vmap(policy_optimizer.update)(direction, state.policy_opt, state.policy)
        policy = optax.apply_updates(state.policy, updates)
        grads, value_loss = critic_grads(state.critic)
        updates, critic_opt = jax.vmap(critic_optimizer.update)(grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, updates)
    state = state._replace(policy=policy, critic=critic, policy_opt=policy_opt, critic_opt=critic_opt,
                           method_state=method_state)
    info = MinibatchInfo(policy_loss=jnp.mean(individual), collective_loss=collective, value_loss=value_loss,
                         entropy=jnp.mean(entropy), approx_kl=jnp.mean(approx_kl),
                         direction_norm=optax.tree.norm(direction), diagnostics=checks)
    return state, info


def shared_terms(terms, n_agents: int):
    """`terms` of one policy shared by all agents: the method sees ONE player whose individual loss is the mean
    of the agents' losses and whose collective loss is the mean of the agents' collective terms (how the AgA
    authors' shared-policy code averages over the agents' samples; App. E.1 shares one policy)."""

    def shared(params):
        individual, collective, aux = terms(params)
        return jnp.mean(individual)[None], collective / n_agents, aux

    return shared


def mean_infos(infos: MinibatchInfo, ran: jax.Array | None = None) -> dict:
    """Means over an update's minibatch steps of `MinibatchInfo`s with leading `(epochs, minibatches)` axes, as
    `UpdateMetrics` keyword arguments; `ran` (`(epochs,)` bool) leaves epochs that did not run out of the
    means. `steps_taken` is the fraction of all scheduled steps that were taken."""
    if ran is None:
        mean = lambda x: jnp.mean(jnp.reshape(x, (-1,)))  # noqa: E731
    else:
        weights = jnp.broadcast_to(ran[:, None], infos.policy_loss.shape[:2]).astype(jnp.float32)
        mean = lambda x: jnp.sum(x * weights) / jnp.sum(weights)  # noqa: E731
    out = {name: mean(getattr(infos, name)) for name in
           ("policy_loss", "collective_loss", "value_loss", "entropy", "approx_kl", "direction_norm")}
    stepped = jnp.broadcast_to(jnp.asarray(infos.stepped, jnp.float32), infos.policy_loss.shape)
    out["steps_taken"] = jnp.mean(stepped)
    out["diagnostics"] = None if infos.diagnostics is None else jax.tree.map(mean, infos.diagnostics)
    return out
