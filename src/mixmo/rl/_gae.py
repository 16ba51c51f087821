"""Generalised advantage estimation (Schulman et al. 2016, "High-Dimensional Continuous Control Using GAE", eq. 16)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(rewards, values, dones, last_value, gamma: float, lam: float):
    """Advantages and returns by GAE(gamma, lambda), scanned backwards over time.

    delta_t = r_t + gamma (1 - done_t) V_{t+1} - V_t,  A_t = delta_t + gamma lam (1 - done_t) A_{t+1}.
    `done_t` marks that the episode ended at step t (V_{t+1} then belongs to the next episode and is cut).

    Args:
        rewards, values, dones: arrays of shape `(T, ...)`; any trailing axes (envs, agents) broadcast.
        last_value: value of the state after the last step, shape `(...)`.
        gamma: discount; lam: GAE lambda.

    Returns:
        `(advantages, returns)`, both of shape `(T, ...)`; returns = advantages + values.
    """
    not_done = 1.0 - dones.astype(values.dtype)

    def backward(carry, step):
        next_advantage, next_value = carry
        reward, value, keep = step
        delta = reward + gamma * keep * next_value - value
        advantage = delta + gamma * lam * keep * next_advantage
        return (advantage, value), advantage

    _, advantages = jax.lax.scan(backward, (jnp.zeros_like(last_value), last_value),
                                 (rewards, values, not_done), reverse=True)
    return advantages, advantages + values
