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


def local_poa_bound(losses_fn, params, mixing, dt: float, mu_bar: float = 1.0):
    """Upper bound on the local utilitarian price of anarchy, D3C Theorem 1 (eq. 7), at one point (x, A).

        rho_x <= max_i { 1 + dt * ReLU( d/dt log f_i^A(x) + ||grad_{x_i} f_i^A(x)||^2 / (mu_bar f_i^A(x)) ) }

    with f^A = A^T f, d/dt f_i^A = -<grad_x f_i^A, F^A> along the players' dynamics F^A = (grad_{x_j} f_j^A)_j.
    The theorem assumes positive mixed losses; where some f_i^A <= 0 the bound is undefined and NaN is returned.
    Matrix-free (n reverse passes and an n x n x n Gram tensor). Use `jax.vmap` over runs and steps.

    Args:
        losses_fn: joint parameters -> losses, shape `(n,)`.
        params: joint parameters, one pytree per player.
        mixing: A, shape `(n, n)`; the identity for independent learners (plain gradient descent).
        dt: the step size Delta t (the learning rate of the players' updates).
        mu_bar: the user's upper bound mu_bar > 0 on 1 - mu of the smoothness constants (eq. 83).

    Returns:
        A scalar >= 1 (NaN where a mixed loss is not positive).

    References: Gemp et al. 2022 (AAMAS), Theorem 1 (eq. 7) / Theorem 4 (eq. 72), Appx. D.
    """
    from mixmo.methods import mixed_dynamics

    m = mixed_dynamics(losses_fn, params, jnp.asarray(mixing))
    per_player = 1.0 + dt * jnp.maximum(m.rates / m.mixed_losses + m.own_grad_sq / (mu_bar * m.mixed_losses), 0.0)
    return jnp.where(jnp.all(m.mixed_losses > 0), jnp.max(per_player), jnp.nan)


def local_egalitarian_poa_bound(losses_fn, params, mixing, dt: float, mu_bar: float = 1.0):
    """Upper bound on the local egalitarian price of anarchy (value = the largest loss), D3C Theorem 2 (eq. 8).

        rho_e <= 1 + dt * ReLU( d/dt log max_i f_i^A(x) + sum_i ||grad_{x_i} f_i^A(x)||^2 / (mu_bar max_i f_i^A) )

    d/dt log max_i f_i^A is the rate of the currently largest mixed loss divided by it. Arguments as in
    `local_poa_bound`; NaN where the largest mixed loss is not positive.

    References: Gemp et al. 2022 (AAMAS), Theorem 2 (eq. 8) / Theorem 5 (eq. 101), Appx. D.2.
    """
    from mixmo.methods import mixed_dynamics

    m = mixed_dynamics(losses_fn, params, jnp.asarray(mixing))
    top = jnp.argmax(m.mixed_losses)
    largest = m.mixed_losses[top]
    value = 1.0 + dt * jnp.maximum(m.rates[top] / largest + jnp.sum(m.own_grad_sq) / (mu_bar * largest), 0.0)
    return jnp.where(largest > 0, value, jnp.nan)
