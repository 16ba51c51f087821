"""Options for the policy side of the actor-critic trainers that the AgA paper or its authors' code suggest.

- `head_only(method)`: the method's direction on the policy's action head (its last linear layer) only; the
  trunk follows the plain PPO gradient ξ (each player's own loss). What a file among public GitHub code that
  looks like the AgA authors' unreleased modification of stable-baselines3's `ppo.py` does (mixmo's issue
  12): evidence of what the authors may have run, not paper text.
- `fairness_collective(alpha)`: AgA paper §5.2's collective reward for CGA and AgA,
  Σ_i (r_i − α(1 − θ_i)), θ_i the angle of (r_i, Σ_{j≠i} r_j);
- `svo_e1(alpha)`: the same per-agent term r_i − α(1 − θ_i) as each agent's own reward, which is how App. E.1
  of the AgA paper defines its SVO baseline.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp

from mixmo.game import StructuredLosses
from mixmo.methods import GameMethod, simul_ind
from mixmo.rl._cnn import ActorCritic
from mixmo.rl._networks import MLP
from mixmo.rl._reward import RewardTransform, shaping


def _head(net: MLP | ActorCritic):
    if isinstance(net, ActorCritic):
        return net.action_weight, net.action_bias
    return net.weights[-1], net.biases[-1]


def _with_head(net: MLP | ActorCritic, head) -> MLP | ActorCritic:
    weight, bias = head
    if isinstance(net, ActorCritic):
        return eqx.tree_at(lambda n: (n.action_weight, n.action_bias), net, (weight, bias))
    return MLP(net.weights[:-1] + (weight,), net.biases[:-1] + (bias,), net.activation)


def head_only(method: GameMethod) -> GameMethod:
    """`method` on the players' action heads, the plain simultaneous gradient ξ on the rest of the policy.

    The head's direction is `method`'s on the game restricted to the heads (the trunks held at their current
    values): for AgA, ξ_c,head + λ(ξ_head + H_c,head ξ_c,head) with the Hessian of the heads only and the sign
    of Corollary 4.3 computed from those head vectors. The trunk's direction is ξ_trunk = ∇_trunk ℓ_i, what
    plain PPO (Simul-Ind; with a shared policy, the mean of the agents' losses) would step.

    Args:
        method: any `GameMethod` (e.g. `mixmo.methods.aga(100.0)`); params are tuples of `mixmo.rl.MLP` or of
            actor-critic modules (`PPOConfig.network` "cnn": the head is the action head).
    """
    plain = simul_ind()

    def restricted(losses, params):
        def joint(heads):
            return tuple(_with_head(p, h) for p, h in zip(params, heads))

        individual = lambda heads: losses.individual(joint(heads))  # noqa: E731
        collective = None if losses.collective is None else (lambda heads: losses.collective(joint(heads)))
        return StructuredLosses(individual=individual, collective=collective, separable=losses.separable)

    def init(params):
        return method.init(tuple(_head(p) for p in params))

    def update(losses, params, state):
        if not isinstance(losses, StructuredLosses):
            losses = StructuredLosses(individual=losses)
        heads = tuple(_head(p) for p in params)
        head_direction, state = method.update(restricted(losses, params), heads, state)
        trunk_direction, _ = plain.update(losses, params, plain.init(params))
        return tuple(_with_head(t, h) for t, h in zip(trunk_direction, head_direction)), state

    return GameMethod(init, update, joint=method.joint)  # heads and trunks keep the players' leading axes


def fairness_rewards(rewards: jax.Array, alpha: float, axis: int) -> jax.Array:
    """r_i − α(1 − θ_i) with θ_i = atan2(Σ_{j≠i} r_j, r_i), the agents on `axis` of `rewards` (see
    `fairness_collective` for why atan2)."""
    others = jnp.sum(rewards, axis=axis, keepdims=True) - rewards
    return rewards - alpha * (1.0 - jnp.arctan2(others, rewards))


def svo_e1(alpha: float) -> RewardTransform:
    """The AgA paper's SVO baseline in Cleanup and Harvest (App. E.1): agent i's reward becomes
    r_i − α(1 − arctan(Σ_{j≠i} r_j / r_i)), per step (atan2 as in `fairness_collective`); then IPPO. Not McKee et
    al.'s form (`mixmo.rl.svo`: −w|θ* − θ_i| on running returns, θ_i against the others' mean); the paper does not
    give α."""
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ValueError(f"svo_e1: alpha must be a finite number >= 0, got {alpha}.")

    def shape(rewards, episode_returns):
        del episode_returns
        return fairness_rewards(rewards, alpha, axis=0)

    return shaping("svo", shape)


def fairness_collective(alpha: float):
    """The AgA paper's collective reward (§5.2): `rewards (T, N, E) -> (T, E)`,
    Σ_i (r_i − α(1 − θ_i)) with θ_i = atan2(Σ_{j≠i} r_j, r_i).

    The paper writes arctan(Σ_{j≠i} r_j / r_i); atan2 is the same angle where r_i > 0 and defines it where
    r_i ≤ 0 (r_i = 0 and others' reward positive: θ_i = π/2; nobody rewarded: θ_i = 0, so the term is −α).
    θ_i grows as the others receive more relative to agent i (all equal with n agents: θ_i = arctan(n − 1)),
    so the subtracted α(1 − θ_i) is smallest, or a bonus, when rewards are shared. α = 0 is the plain sum Σ_i r_i.
    The paper does not give α.
    """
    if not alpha:
        return lambda rewards: jnp.sum(rewards, axis=1)

    def collective(rewards):
        return jnp.sum(fairness_rewards(rewards, alpha, axis=1), axis=1)

    return collective

