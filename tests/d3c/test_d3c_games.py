"""The D3C games against their closed forms: stated optima, Nash equilibria and constructions. A game's losses are
evaluated jitted: one program per game, where run eagerly each of its operations compiled on its own."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import mixmo
from mixmo.games import _braess
from mixmo.games._d3c_games import bilinear_strategies
from mixmo.games._prisoners import target_matrix
from mixmo.methods._derivatives import simultaneous_gradient

own_gradient = jax.jit(simultaneous_gradient, static_argnums=0)


def saturated(profile, routes):
    """Route logits that put each driver (almost) surely on its route: profile = route index per driver."""
    return tuple(50.0 * jnp.eye(routes)[r] for r in profile)


@pytest.mark.parametrize("shortcut", [True, False])
def test_braess_expected_commute_is_exact_over_route_draws(shortcut):
    """Eq. 126 equals the expectation over all joint route draws of the realised commute times."""
    game = mixmo.games.braess(shortcut)
    losses = jax.jit(game.losses)
    routes = 3 if shortcut else 2
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, routes))
    x = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    F, G, C, D, E = 10.0, 10.0, 45.0, 45.0, 0.0
    expected = np.zeros(4)
    for draw in itertools.product(range(routes), repeat=4):
        prob = np.prod([x[i, r] for i, r in enumerate(draw)])
        counts = np.bincount(draw, minlength=3)
        n_sa, n_be = counts[0] + counts[2], counts[1] + counts[2]
        times = [F * n_sa + C, D + G * n_be, F * n_sa + E + G * n_be]
        expected += prob * np.array([times[r] for r in draw])
    np.testing.assert_allclose(losses(tuple(jnp.asarray(logits))), expected, rtol=1e-5)


def test_braess_nash_and_optimum_with_the_shortcut():
    game = mixmo.games.braess(True)
    losses = jax.jit(game.losses)
    all_shortcut = saturated([2, 2, 2, 2], 3)
    np.testing.assert_allclose(losses(all_shortcut), 80.0, rtol=1e-5)
    split = saturated([0, 0, 1, 1], 3)
    np.testing.assert_allclose(losses(split), 65.0, rtol=1e-5)
    assert game.optimum_total_loss == pytest.approx(260.0) and game.nash_total_loss == pytest.approx(320.0)
    # the shortcut is strictly dominant: whatever the others do, a driver's shortcut is its fastest route
    for others in itertools.product(range(3), repeat=3):
        times = [float(losses(saturated((mine,) + others, 3))[0]) for mine in range(3)]
        assert times[2] < min(times[0], times[1]) - 1e-3
    # no pure profile beats 260 in total (randomising only adds variance)
    counts, totals = _braess.pure_totals(jnp.array([10.0, 10.0, 45.0, 45.0, 0.0]))
    assert float(jnp.min(totals)) == pytest.approx(260.0)


def test_braess_without_the_shortcut_has_a_worse_mixed_nash():
    game = mixmo.games.braess(False)
    losses = jax.jit(game.losses)
    np.testing.assert_allclose(losses(saturated([0, 0, 1, 1], 2)), 65.0, rtol=1e-5)
    even = tuple(jnp.zeros(2) for _ in range(4))  # everyone 50/50
    np.testing.assert_allclose(losses(even), 70.0, rtol=1e-5)
    assert np.abs(np.stack(own_gradient(game.losses, even))).max() < 1e-5  # indifferent: a Nash equilibrium
    assert game.optimum_total_loss == pytest.approx(260.0) and game.nash_total_loss == pytest.approx(280.0)


def test_braess_random_networks_satisfy_algorithm_4():
    delta = 10.0
    networks = np.asarray(jax.vmap(lambda k: _braess.sample_network(k, delta))(jax.random.split(jax.random.key(0), 64)))
    F, G, C, D, E = networks.T
    assert np.all((1 <= F) & (F <= 20) & (1 <= G) & (G <= 20) & (E >= 0) & (E == np.round(E)))
    assert np.all((C >= 4 * G + 10) & (C <= 4 * G + 20) & (D >= 4 * F + 10) & (D <= 4 * F + 20))
    assert np.all(E < np.minimum(C - 4 * G, D - 4 * F))  # the shortcut is strictly dominant
    n_sa = np.array([1, 2, 3])[None]
    tau_opt = np.min(n_sa * (F[:, None] * n_sa + C[:, None]) + (4 - n_sa) * (G[:, None] * (4 - n_sa) + D[:, None]), 1)
    assert np.all(4 * (4 * (F + G) + E) > tau_opt + delta)
    game = mixmo.games.braess_random(jax.random.key(3), delta)
    assert game.nash_total_loss / game.optimum_total_loss > 1.0


def test_braess_networks_carry_their_network_behind_stop_gradient():
    game = mixmo.games.braess_networks(10.0)
    losses = jax.jit(game.losses)
    params = game.init(jax.random.key(1))
    grads = jax.jit(jax.grad(lambda p: jnp.sum(game.losses(p))))(params)
    assert all(float(jnp.abs(g["network"]).max()) == 0.0 for g in grads)
    assert float(jnp.abs(grads[0]["logits"]).max()) > 0.0
    network = params[0]["network"]
    reference = mixmo.games.braess(True, *[float(v) for v in network])
    np.testing.assert_allclose(losses(params), jax.jit(reference.losses)(tuple(p["logits"] for p in params)), rtol=1e-6)


def test_prisoners_target_matrix_is_the_papers():
    c = 0.7
    np.testing.assert_allclose(target_matrix(3, c), c * np.array([[0, 0, 1, 0, 0, 1], [0, 1, 0, 0, 1, 0],
                                                                  [1, 0, 0, 1, 0, 0]]))  # eq. 128
    for n in (2, 4, 10):
        row = np.array((([0] * (n - 1) + [c]) * (n - 1))[::-1])
        np.testing.assert_allclose(target_matrix(n, c), scipy.linalg.circulant(row)[:n, ::-1])  # the numpy recipe
        C = target_matrix(n, c)
        # each entry x_kj is wanted at c by exactly one player, never by its owner k
        assert np.all((C > 0).sum(0) == 1)
        owners = np.repeat(np.arange(n), n - 1)
        assert not np.any(C[owners, np.arange(n * (n - 1))] > 0)
    # n = 2, c = 1: Fig. 12's losses f_1 = x1^2 + (x2 - 1)^2, f_2 = x2^2 + (x1 - 1)^2
    game = mixmo.games.prisoners_dilemma(2, 1.0)
    losses = jax.jit(game.losses)
    np.testing.assert_allclose(losses((jnp.array([0.3]), jnp.array([0.8]))),
                               [0.3**2 + (0.8 - 1) ** 2, 0.8**2 + (0.3 - 1) ** 2], rtol=1e-6)


@pytest.mark.parametrize("n, c", [(2, 1.0), (10, 1.0), (10, 1 / 9), (4, 2.5)])
def test_prisoners_optimum_and_nash(n, c):
    with jax.enable_x64(True):
        game = mixmo.games.prisoners_dilemma(n, c)
        losses = jax.jit(game.losses)
        optimum = tuple(jnp.full(n - 1, c / n) for _ in range(n))
        assert float(jnp.sum(losses(optimum))) == pytest.approx((n - 1) ** 2 * c**2)
        assert game.optimum_total_loss == pytest.approx((n - 1) ** 2 * c**2)
        total_grad = jax.jit(jax.grad(lambda p: jnp.sum(game.losses(p))))(optimum)
        assert float(jnp.abs(jnp.concatenate(total_grad)).max()) < 1e-12  # convex total: the global minimum
        nash = tuple(jnp.zeros(n - 1) for _ in range(n))
        assert float(jnp.abs(jnp.concatenate(own_gradient(game.losses, nash))).max()) == 0.0
        assert float(jnp.sum(losses(nash))) == pytest.approx(n * (n - 1) * c**2)
        assert game.nash_total_loss / game.optimum_total_loss == pytest.approx(n / (n - 1))  # for every c


def test_nash_paradox_closed_forms():
    for kappa in (0.1, 0.5, 0.618, 0.7, 0.95):
        game = mixmo.games.nash_paradox(kappa)
        losses = jax.jit(game.losses)
        zero = (jnp.array(0.0), jnp.array(0.0))
        np.testing.assert_allclose(losses(zero), 1 / kappa, rtol=1e-6)
        assert all(float(g) == 0.0 for g in own_gradient(game.losses, zero))
        best = (jnp.array(np.sqrt(1 - kappa)), jnp.array(np.sqrt(1 - kappa)))
        np.testing.assert_allclose(losses(best), 2 - kappa, rtol=1e-5)
        grid = np.linspace(0, 1, 101)
        x1, x2 = np.meshgrid(grid, grid)
        totals = np.asarray(jnp.sum(losses((jnp.asarray(x1), jnp.asarray(x2))), axis=0))
        assert totals.min() >= game.optimum_total_loss - 1e-4 and totals.min() <= game.optimum_total_loss + 1e-3
        nash_worst = totals.max() <= totals[0, 0] + 1e-6
        assert nash_worst == (kappa < 0.6180339887)
    clipped = mixmo.games.nash_paradox(0.5).project((jnp.array(-0.2), jnp.array(1.3)))
    assert [float(v) for v in clipped] == [0.0, 1.0]


def test_unfair_game():
    game = mixmo.games.unfair()
    losses = jax.jit(game.losses)
    np.testing.assert_allclose(losses((jnp.array(2.0), jnp.array(0.5))), [4.0, 0.25 - 4.4], rtol=1e-6)
    assert all(float(g) == 0.0 for g in own_gradient(game.losses, (jnp.array(0.0), jnp.array(0.0))))
    assert game.nash_total_loss == 0.0 and game.optimum_total_loss is None  # unbounded below


def test_election_structure():
    game = mixmo.games.election(c=1.0, contest=0.25)
    losses = jax.jit(game.losses)
    rng = np.random.default_rng(0)
    x = tuple(jnp.asarray(v) for v in rng.normal(size=4))
    f = np.asarray(losses(x))
    xs = np.asarray(x)
    # zero-sum between the parties: the totals are the two in-party prisoner's dilemmas
    pd = [xs[0] ** 2 + (xs[1] - 1) ** 2 + xs[1] ** 2 + (xs[0] - 1) ** 2,
          xs[2] ** 2 + (xs[3] - 1) ** 2 + xs[3] ** 2 + (xs[2] - 1) ** 2]
    np.testing.assert_allclose(f.sum(), sum(pd), rtol=1e-5)
    general = 0.25 * (xs[0] * xs[2] + xs[1] * xs[3])
    np.testing.assert_allclose(f[:2].sum() - pd[0], 2 * general, rtol=1e-4, atol=1e-6)
    zero = tuple(jnp.zeros(()) for _ in range(4))
    assert all(float(g) == 0.0 for g in own_gradient(game.losses, zero))  # Nash: everyone attacks
    assert float(jnp.sum(losses(zero))) == pytest.approx(game.nash_total_loss)
    half = tuple(jnp.full((), 0.5) for _ in range(4))
    assert float(jnp.sum(losses(half))) == pytest.approx(game.optimum_total_loss)
    # game Jacobian at A = I: eigenvalues 2 +- 0.25i, twice (the paper's "perfect team" value)
    jac = jax.jacfwd(lambda v: jnp.stack(own_gradient(game.losses, tuple(v))))(jnp.zeros(4))
    eig = np.sort_complex(np.linalg.eigvals(np.asarray(jac)))
    np.testing.assert_allclose(eig, [2 - 0.25j, 2 - 0.25j, 2 + 0.25j, 2 + 0.25j], atol=1e-6)


@pytest.mark.parametrize("parametrization", ["softmax", "project"])
def test_bilinear_minima_saddle_and_nash(parametrization):
    game = mixmo.games.bilinear(parametrization=parametrization)
    losses = jax.jit(game.losses)
    total = lambda p, q: float(np.array([p, 1 - p]) @ np.array([[0, -0.75], [-1, 0]]) @ np.array([q, 1 - q]))
    params = ((jnp.array([3.0, -3.0]), jnp.array([-3.0, 3.0])) if parametrization == "softmax"
              else (jnp.array(1.0), jnp.array(0.0)))
    p, q = bilinear_strategies(params, parametrization)
    np.testing.assert_allclose(jnp.sum(losses(params)), total(float(p), float(q)), rtol=1e-5)
    f_c = lambda v: -0.75 * v[0] * (1 - v[1]) - (1 - v[0]) * v[1]  # a = d = 0
    assert np.abs(np.asarray(jax.grad(f_c)(jnp.array([4 / 7, 3 / 7])))).max() < 1e-6  # the saddle
    assert game.optimum_total_loss == -1.0 and game.nash_total_loss == pytest.approx(-3 / 7)
