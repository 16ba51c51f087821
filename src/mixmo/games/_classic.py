"""Classic two-player differentiable games that show what gradient adjustments are for."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mixmo.game import Game


def balduzzi(coupling: float = 10.0) -> Game:
    """l_1 = x^2/2 + k x y, l_2 = y^2/2 - k x y (k = 10): the game of Balduzzi et al. 2018, §2.

    Its Jacobian has eigenvalues 1 +- k i: simultaneous gradient descent spirals, diverging at
    learning rate 0.1 and crawling at 0.01, while SGA goes straight to the unique fixed point (0, 0).
    Starting points lie on the unit circle at a random angle.

    References: Balduzzi et al. 2018, "The Mechanics of n-Player Differentiable Games", Example in §2
    (Figure 1).
    """

    def losses(params):
        x, y = params
        return jnp.stack([0.5 * x**2 + coupling * x * y, 0.5 * y**2 - coupling * x * y])

    def init(key):
        angle = jax.random.uniform(key, (), minval=0.0, maxval=2 * jnp.pi)
        return (jnp.cos(angle), jnp.sin(angle))

    return Game(name="balduzzi", n_players=2, losses=losses, init=init, optimum_total_loss=0.0,
                nash_total_loss=0.0, description=f"l1=x^2/2+{coupling}xy, l2=y^2/2-{coupling}xy")


def matching_pennies() -> Game:
    """Matching pennies in mixed strategies: p = sigmoid(x), q = sigmoid(y) are the probabilities of heads.

    Player 1 wins on a match: l_1 = -(2p - 1)(2q - 1) = -l_2 (zero-sum). The unique Nash equilibrium is
    p = q = 1/2 (x = y = 0); simultaneous gradient descent circles around it. Starting logits ~ N(0, 1).
    """

    def losses(params):
        x, y = params
        match = (2 * jax.nn.sigmoid(x) - 1) * (2 * jax.nn.sigmoid(y) - 1)
        return jnp.stack([-match, match])

    def init(key):
        z = jax.random.normal(key, (2,))
        return (z[0], z[1])

    return Game(name="matching_pennies", n_players=2, losses=losses, init=init, optimum_total_loss=0.0,
                nash_total_loss=0.0, description="matching pennies, mixed strategies by logits")
