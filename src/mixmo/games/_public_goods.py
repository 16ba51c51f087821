"""The public goods game (AgA paper §5.1, Table 1), n players with continuous contributions."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mixmo.game import Game

PARAMETRIZATIONS = ("sigmoid", "clip")


def public_goods(n: int = 2, b: float = 1.0, c: float = 1.5, parametrization: str = "sigmoid") -> Game:
    """Public goods game: player i contributes a_i in [0, b] and receives p_i = b - a_i + (c/n) sum_j a_j.

    Loss l_i = -p_i. When 1 < c < n every contribution is a private loss (dp_i/da_i = c/n - 1 < 0) but a
    social gain (dSW/da_i = c - 1 > 0): the unique Nash equilibrium is a = 0 with SW = n b, the social
    optimum is a = (b, ..., b) with SW = n b c (3 for n = 2, b = 1, c = 1.5).

    Parametrisation (the paper does not say how actions are parametrised):
      - "sigmoid" (default): a_i = b * sigmoid(w_i), w_i in R. The game is then nonlinear in w, so the
        collective Hessian is not zero and AgA's Hessian term acts. Starting points: a_i ~ U(0, b).
      - "clip": a_i = w_i, projected onto [0, b] after each step (projected gradient). The game is linear
        in w: H_c = 0 and AgA reduces to xi_c + lambda * xi.

    References: Li et al. 2024 (arXiv 2402.12416), §5.1 and Table 1 (n = 2, b = 1, c = 1.5).
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"public_goods: n must be an integer >= 2, got {n!r}.")
    if not b > 0:
        raise ValueError(f"public_goods: b must be > 0, got {b!r}.")
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"public_goods: parametrization must be one of {PARAMETRIZATIONS}, got {parametrization!r}.")

    sigmoid = parametrization == "sigmoid"

    def actions(params):
        w = jnp.stack(params)
        return b * jax.nn.sigmoid(w) if sigmoid else w

    def payoffs(params):
        a = actions(params)
        return b - a + (c / n) * jnp.sum(a)

    def init(key):
        a = jax.random.uniform(key, (n,), minval=0.0, maxval=b)
        w = jnp.log(a) - jnp.log(b - a) if sigmoid else a  # logit(a / b)
        return tuple(w[i] for i in range(n))

    def project(params):
        return tuple(jnp.clip(w, 0.0, b) for w in params)

    return Game(
        name=f"public_goods_n{n}",
        n_players=n,
        losses=lambda params: -payoffs(params),
        init=init,
        project=None if sigmoid else project,
        optimum_total_loss=-(n * b * max(c, 1.0)),
        nash_total_loss=-(n * b) if 1 < c < n else None,
        payoffs=payoffs,
        description=f"public goods, n={n}, b={b}, c={c}, actions by {parametrization}",
    )
