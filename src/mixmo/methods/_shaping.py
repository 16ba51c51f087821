"""Reward-shaping baselines: SVO and SL change each player's objective, then players learn independently.

Both see rewards r = -losses (the game's losses passed to the method), so they apply to any differentiable
game and, unchanged, to per-agent policy losses.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from mixmo.methods import _validate
from mixmo.methods._base import GameMethod, stateless
from mixmo.methods._derivatives import simultaneous_gradient


def shaped(transform) -> GameMethod:
    """Simul-Ind on shaped losses: player i descends `transform(losses)[i]` with respect to its own w_i."""
    return stateless(lambda losses_fn, params: simultaneous_gradient(lambda p: transform(losses_fn(p)), params))


def _safe_atan2(y, x):
    # atan2 has an undefined gradient at the origin; there the angle is taken as 45 degrees (equal payoffs).
    at_origin = (x == 0) & (y == 0)
    return jnp.arctan2(jnp.where(at_origin, 1.0, y), jnp.where(at_origin, 1.0, x))


def svo(weight: float, angle_deg: float = 45.0) -> GameMethod:
    """Social value orientation: player i maximises U_i = r_i - weight * |theta* - theta_i|.

    theta_i = atan2(mean_{j != i} r_j, r_i) is player i's reward angle, theta* the target orientation
    (45 degrees: prosocial). Angles are in radians inside U_i, so `weight` is per radian.

    References: McKee et al. 2020, "Social Diversity and Social Preferences in Mixed-Motive Reinforcement
    Learning", eq. 1–2; DESIGN.md "SVO".

    Args:
        weight: w >= 0, strength of the orientation penalty.
        angle_deg: target orientation theta* in degrees, in [-180, 180].
    """
    weight = _validate.real("svo: weight", weight, nonnegative=True)
    angle_deg = _validate.real("svo: angle_deg", angle_deg)
    if not -180.0 <= angle_deg <= 180.0:
        raise ValueError(f"svo: angle_deg must be in [-180, 180], got {angle_deg}.")
    target = math.radians(angle_deg)

    def transform(losses):
        n = losses.shape[0]
        if n < 2:
            raise ValueError("svo needs at least 2 players (theta_i compares with the others' rewards).")
        rewards = -losses
        others_mean = (jnp.sum(rewards) - rewards) / (n - 1)
        theta = _safe_atan2(others_mean, rewards)
        utility = rewards - weight * jnp.abs(target - theta)
        return -utility

    return shaped(transform)


def sl(alpha: float) -> GameMethod:
    """Selfishness level: player i maximises r_i + alpha * sum_j r_j (the game G(alpha)).

    References: Apt & Schäfer 2014, "Selfishness Level of Strategic Games" (JAIR), Def. of G(alpha);
    Roesch, Leonardos & Du 2024 (AAMAS), as used by the AgA paper's "SL" baseline.

    Args:
        alpha: alpha >= 0; the game's selfishness level where it is known.
    """
    alpha = _validate.real("sl: alpha", alpha, nonnegative=True)
    return shaped(lambda losses: losses + alpha * jnp.sum(losses))
