"""Games against their closed forms: payoffs, equilibria, optima."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mixmo
from mixmo.methods._derivatives import simultaneous_gradient


def test_toy_losses_formula():
    game = mixmo.games.toy()
    a1, a2 = 0.3, -0.7
    expected = [-np.sin(a1 * a2 + a2**2), -(np.cos(1 + a1 - (1 + a2) ** 2) + a1 * a2**2)]
    np.testing.assert_allclose(np.asarray(game.losses((jnp.array(a1), jnp.array(a2)))), expected, rtol=1e-6)


@pytest.mark.parametrize("n, c", [(2, 1.5), (4, 2.5)])
def test_public_goods_nash_and_optimum(n, c):
    game = mixmo.games.public_goods(n=n, c=c, parametrization="clip")
    zeros, full = tuple(jnp.zeros(()) for _ in range(n)), tuple(jnp.ones(()) for _ in range(n))
    assert float(jnp.sum(game.payoffs_of(zeros))) == pytest.approx(n * 1.0)
    assert float(jnp.sum(game.payoffs_of(full))) == pytest.approx(n * 1.0 * c)
    assert game.optimum_total_loss == pytest.approx(-n * c) and game.nash_total_loss == pytest.approx(-n)
    # a = 0 is a Nash equilibrium: no unilateral contribution raises the contributor's payoff ...
    for i, a in itertools.product(range(n), np.linspace(0.1, 1.0, 4)):
        deviation = tuple(jnp.array(a if j == i else 0.0) for j in range(n))
        assert float(game.payoffs_of(deviation)[i]) < float(game.payoffs_of(zeros)[i])
    # ... and full contribution maximises social welfare over a grid of profiles.
    grid = np.array(list(itertools.product(np.linspace(0, 1, 5), repeat=n)))
    welfare = [float(jnp.sum(game.payoffs_of(tuple(jnp.array(v) for v in row)))) for row in grid]
    assert max(welfare) == pytest.approx(n * c)
    assert np.argmax(welfare) == len(grid) - 1


def test_public_goods_sigmoid_parametrisation():
    game = mixmo.games.public_goods()
    w = (jnp.array(0.0), jnp.array(2.0))
    a = 1 / (1 + np.exp(-np.array([0.0, 2.0])))
    np.testing.assert_allclose(np.asarray(game.payoffs_of(w)), 1 - a + 0.75 * a.sum(), rtol=1e-6)
    starts = jax.vmap(game.init)(jax.random.split(jax.random.key(0), 500))
    actions = jax.nn.sigmoid(jnp.stack(starts))
    assert 0.0 < float(actions.min()) and float(actions.max()) < 1.0
    assert float(actions.mean()) == pytest.approx(0.5, abs=0.03)  # uniform contributions


def test_public_goods_rejects_bad_arguments():
    with pytest.raises(ValueError, match="parametrization"):
        mixmo.games.public_goods(parametrization="linear")
    with pytest.raises(ValueError, match="n must be"):
        mixmo.games.public_goods(n=1)


def test_matching_pennies_nash_is_a_fixed_point_and_zero_sum():
    game = mixmo.games.matching_pennies()
    xi = simultaneous_gradient(game.losses, (jnp.array(0.0), jnp.array(0.0)))
    assert all(float(v) == 0.0 for v in xi)
    point = (jnp.array(0.4), jnp.array(-1.2))
    assert float(jnp.sum(game.losses(point))) == 0.0


def test_games_init_are_deterministic_floats():
    for game in [mixmo.games.toy(), mixmo.games.public_goods(), mixmo.games.balduzzi(), mixmo.games.matching_pennies()]:
        a, b = game.init(jax.random.key(5)), game.init(jax.random.key(5))
        assert len(a) == game.n_players
        assert all(jnp.issubdtype(x.dtype, jnp.floating) and bool(x == y) for x, y in zip(a, b))
