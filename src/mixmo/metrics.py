"""Outcome metrics of the papers: social welfare, equality, ratio to optimal, confidence intervals, win rate.

All functions are pure jnp, take the player axis last, and broadcast over leading axes (seeds, steps).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def social_welfare(payoffs):
    """SW = sum_i r_i over the last axis (AgA paper §5.1)."""
    return jnp.sum(payoffs, axis=-1)


def gini(payoffs):
    """Gini(r) = sum_i sum_j |r_i - r_j| / (2 n^2 mean(r)) over the last axis (AgA paper §5.1).

    Defined for a positive mean payoff; returns NaN where the mean is zero.
    """
    r = jnp.asarray(payoffs)
    n = r.shape[-1]
    pairwise = jnp.sum(jnp.abs(r[..., :, None] - r[..., None, :]), axis=(-2, -1))
    mean = jnp.mean(r, axis=-1)
    return pairwise / jnp.where(mean == 0, jnp.nan, 2 * n**2 * mean)


def equality(payoffs):
    """Equality E = 1 - Gini(r), the AgA paper's fairness metric: 1 for equal payoffs."""
    return 1.0 - gini(payoffs)


def ratio_to_optimal(total_loss, optimum_total_loss):
    """total loss / optimum total loss: D3C's estimate of the price of anarchy (D3C paper §3)."""
    return jnp.asarray(total_loss) / optimum_total_loss


def price_of_anarchy(nash_total_loss: float, optimum_total_loss: float) -> float:
    """Exact price of anarchy: worst-Nash total loss / optimal total loss (positive losses)."""
    return nash_total_loss / optimum_total_loss


def relative_reward_attention(mixing):
    """ln(A_ii / mean_{j != i} A_ij) for each row i of the mixing matrix(es) A, shape `(..., n, n)` -> `(..., n)`.

    D3C paper, Figs. 6–8: how much a player weighs its own loss against the others'.
    """
    a = jnp.asarray(mixing)
    n = a.shape[-1]
    own = jnp.diagonal(a, axis1=-2, axis2=-1)
    others = (jnp.sum(a, axis=-1) - own) / (n - 1)
    return jnp.log(own) - jnp.log(others)


def win_rate(wins):
    """Fraction of episodes won (Selfish-MMM2), `wins` boolean or 0/1 of any shape."""
    return jnp.mean(jnp.asarray(wins, jnp.float32))


def mean_ci95(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 95% half-width 1.96 * sd / sqrt(runs) along `axis` (the AgA tables' "mean ± CI").

    The sample standard deviation (ddof = 1) is used; a single run has half-width 0, no runs give NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    runs = x.shape[axis]
    if runs == 0:
        nan = np.full(np.delete(x.shape, axis), np.nan)
        return nan, nan
    mean = x.mean(axis=axis)
    if runs < 2:
        return mean, np.zeros_like(mean)
    return mean, 1.96 * x.std(axis=axis, ddof=1) / np.sqrt(runs)
