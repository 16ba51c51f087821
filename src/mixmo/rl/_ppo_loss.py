"""The PPO-clip surrogate, value and entropy losses (Schulman et al. 2017, "Proximal Policy Optimization", eq. 7)."""

from __future__ import annotations

import jax.numpy as jnp


def clipped_surrogate(log_prob, old_log_prob, advantages, clip: float):
    """PPO-clip policy loss to MINIMISE: -mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A)), rho = pi / pi_old."""
    ratio = jnp.exp(log_prob - old_log_prob)
    unclipped = ratio * advantages
    clipped = jnp.clip(ratio, 1.0 - clip, 1.0 + clip) * advantages
    return -jnp.mean(jnp.minimum(unclipped, clipped))


def clipped_value_loss(value, old_value, returns, clip: float):
    """0.5 * mean(max((V - R)^2, (V_clipped - R)^2)) with V_clipped = old V + clip(V - old V, +-eps)."""
    clipped = old_value + jnp.clip(value - old_value, -clip, clip)
    return 0.5 * jnp.mean(jnp.maximum((value - returns) ** 2, (clipped - returns) ** 2))


def normalise(advantages, axis=None, eps: float = 1e-8):
    """(A - mean) / (std + eps) over `axis` (all axes by default), as in most PPO implementations."""
    mean = jnp.mean(advantages, axis=axis, keepdims=True)
    std = jnp.std(advantages, axis=axis, keepdims=True)
    return (advantages - mean) / (std + eps)
