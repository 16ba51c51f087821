"""The AgA paper's two-player toy game (Example 4.1)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mixmo.game import Game

# Starting points are drawn uniformly from this box; it frames the landscape of the paper's Figure 2.
TOY_BOX = (-2.0, 2.0)


def toy_losses(params):
    """l_1 = -sin(a1 a2 + a2^2), l_2 = -[cos(1 + a1 - (1 + a2)^2) + a1 a2^2]; AgA paper Example 4.1."""
    a1, a2 = params
    l1 = -jnp.sin(a1 * a2 + a2**2)
    l2 = -(jnp.cos(1.0 + a1 - (1.0 + a2) ** 2) + a1 * a2**2)
    return jnp.stack([l1, l2])


def toy() -> Game:
    """AgA Example 4.1: a two-player differentiable mixed-motive game with scalar actions a_i in R.

    l_1(a1, a2) = -sin(a1 a2 + a2^2),  l_2(a1, a2) = -[cos(1 + a1 - (1 + a2)^2) + a1 a2^2].
    Rewards are the negated losses. The collective reward is unbounded (a1 a2^2 grows without limit), so
    "the optimum" in the paper's Figure 2 is a local one; `init` draws (a1, a2) uniformly from [-2, 2]^2.

    References: Li et al. 2024 (arXiv 2402.12416), Example 4.1 and Figure 2.
    """

    def init(key):
        a = jax.random.uniform(key, (2,), minval=TOY_BOX[0], maxval=TOY_BOX[1])
        return (a[0], a[1])

    return Game(name="toy", n_players=2, losses=toy_losses, init=init,
                description="AgA Example 4.1: l1=-sin(a1 a2+a2^2), l2=-[cos(1+a1-(1+a2)^2)+a1 a2^2]")
