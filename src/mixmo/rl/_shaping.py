"""Reward shaping for the SVO and SL baselines in RL: change each agent's reward, then learn as IPPO.

On differentiable games `mixmo.methods.svo` / `sl` shape the losses; in RL the same preferences act on the
rewards before advantages are estimated (AgA paper §5.2 baselines), and the policy update is Simul-Ind's.

References: McKee et al. 2020, "Social Diversity and Social Preferences in Mixed-Motive Reinforcement
Learning" (SVO, eq. 1–2); Apt & Schäfer 2014, "Selfishness Level of Strategic Games" (SL); DESIGN.md.
Both are `mixmo.rl.RewardTransform`s without state (`mixmo.rl._reward.shaping`).
"""

from __future__ import annotations

import math
import jax.numpy as jnp

from mixmo.rl._reward import RewardTransform, shaping


def _reward_angle(own, others_mean):
    # atan2(0, 0) is taken as 45 degrees (equal payoffs), as in mixmo.methods.svo.
    at_origin = (own == 0) & (others_mean == 0)
    return jnp.where(at_origin, math.pi / 4, jnp.arctan2(others_mean, own))


def svo(weight: float, angle_deg: float = 45.0) -> RewardTransform:
    """Social value orientation: r~_i,t = r_i,t - weight * |theta* - theta_i,t|.

    theta_i,t = atan2(mean_{j != i} R_j,t, R_i,t) is agent i's reward angle computed from the running
    episode returns R up to and including step t (per step, on cumulative rewards: single-step rewards in
    Cleanup and Harvest are almost always all zero, which would leave the angle undefined; McKee et al.
    likewise compare accumulated rewards). theta* is the target orientation (45 degrees: prosocial).

    Args:
        weight: w >= 0, the penalty per radian of deviation, paid every step.
        angle_deg: theta* in degrees, in [-180, 180].
    """
    if not (weight >= 0 and math.isfinite(weight)):
        raise ValueError(f"svo: weight must be a finite number >= 0, got {weight}.")
    if not -180.0 <= angle_deg <= 180.0:
        raise ValueError(f"svo: angle_deg must be in [-180, 180], got {angle_deg}.")
    target = math.radians(angle_deg)

    def shape(rewards, episode_returns):
        n = rewards.shape[0]
        if n < 2:
            raise ValueError("svo needs at least 2 agents (the angle compares with the others' returns).")
        others_mean = (jnp.sum(episode_returns, axis=0, keepdims=True) - episode_returns) / (n - 1)
        theta = _reward_angle(episode_returns, others_mean)
        return rewards - weight * jnp.abs(target - theta)

    return shaping("svo", shape)


def sl(alpha: float) -> RewardTransform:
    """Selfishness level: r~_i = r_i + alpha * sum_j r_j (the game G(alpha) of Apt & Schäfer), per step.

    Args:
        alpha: alpha >= 0.
    """
    if not (alpha >= 0 and math.isfinite(alpha)):
        raise ValueError(f"sl: alpha must be a finite number >= 0, got {alpha}.")

    def shape(rewards, episode_returns):
        del episode_returns
        return rewards + alpha * jnp.sum(rewards, axis=0, keepdims=True)

    return shaping("sl", shape)
