"""The D3C paper's n-player prisoner's dilemma with convex losses (§3.2, Appx. E.2, eq. 127).

Player i holds n - 1 numbers x_ij, its cooperation with its j-th opponent (0 = defect). All n(n-1) entries,
flattened row-major, form x, and every player's loss is a sum of squared distances of all entries to targets:

    f_i(x) = sum_m (x_m - C_im)^2,                                                           (eq. 127)

where C (n x n(n-1)) holds c where player i wants cooperation — from every other player towards i — and 0
elsewhere: i wants to defect against everyone, and wants everyone else to defect against each other.
C is the paper's "circulant matrix with column order reversed"; reading it off, player k's j-th opponent is
player (k - j) mod n (0-based), so C[i, (k, j)] = c exactly when k != i and (k - j - 1) mod n = i.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.game import Game


def target_matrix(n: int, c: float) -> np.ndarray:
    """C of eq. 127, shape `(n, n (n - 1))`, built as the paper's numpy recipe does (Appx. E.2):

    row = (([0]*(n-1) + [c]) * (n-1))[::-1];  C = scipy.linalg.circulant(row)[:n, ::-1].
    """
    row = np.array((([0.0] * (n - 1) + [c]) * (n - 1))[::-1])
    size = row.size
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    circulant = row[(i - j) % size]  # scipy.linalg.circulant: first column is `row`
    return circulant[:n, ::-1].copy()


def prisoners_losses(x_flat, targets):
    """f_i = sum_m (x_m - C_im)^2 for every i; `x_flat` shape `(n (n-1),)` -> shape `(n,)`."""
    return jnp.sum((x_flat[None, :] - targets) ** 2, axis=1)


def prisoners_dilemma(n: int = 10, c: float = 1.0) -> Game:
    """The n-player prisoner's dilemma of D3C Appx. E.2 (eq. 127): convex quadratic losses, n(n-1) strategies.

    Player i's parameters: a vector of its n - 1 cooperation levels x_ij, starting uniform in [0, c] (the paper
    says only "randomly initialized"). Nash equilibrium: x = 0 (everyone defects), where each player's loss is
    (n - 1) c^2 and the total n(n - 1) c^2. Social optimum: x_ij = c/n, total (n - 1)^2 c^2 (eq. 132).

    Price of anarchy, from these losses: n(n-1)c^2 / ((n-1)^2 c^2) = n/(n-1), independent of c (every loss is
    c^2 times the loss at c = 1 with x scaled by c). The paper writes the Nash total as n(n-1)c and hence
    rho = n/(c(n-1)): that agrees with the losses at c = 1 (n = 2: rho = 2, Fig. 13; n = 10: rho = 10/9, Fig. 5)
    but not at c = 1/9, where Fig. 14's caption says rho = 10 and these losses give 10/9.

    Args:
        n: players, >= 2.
        c: target cooperation level, > 0.

    References: Gemp et al. 2022 (AAMAS), §3.2, Appx. E.2 eqs. 127–132, Figs. 5, 13, 14.
    """
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"prisoners_dilemma: n must be an integer >= 2, got {n!r}.")
    c = float(c)
    if not c > 0:
        raise ValueError(f"prisoners_dilemma: c must be > 0, got {c}.")
    n = int(n)
    targets_np = target_matrix(n, c)

    def losses(params):
        x = jnp.concatenate([jnp.ravel(p) for p in params])
        return prisoners_losses(x, jnp.asarray(targets_np, x.dtype))

    def init(key):
        x = jax.random.uniform(key, (n, n - 1), maxval=c)
        return tuple(x[i] for i in range(n))

    return Game(name=f"prisoners-dilemma-{n}", n_players=n, losses=losses, init=init,
                optimum_total_loss=(n - 1) ** 2 * c**2, nash_total_loss=n * (n - 1) * c**2,
                description=f"D3C n-player prisoner's dilemma (n={n}, c={c:g}), eq. 127")
