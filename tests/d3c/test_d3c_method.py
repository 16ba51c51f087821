"""D3C (exact-gradient form) against independent dense computations in float64, and its invariants.

The dense loss Jacobians and the finite differences are built here, in the tests only; the method never forms a
Jacobian or Hessian.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.flatten_util import ravel_pytree

import mixmo
from mixmo.methods import _d3c


def random_game(seed, n_players):
    """A smooth nonlinear n-player game on pytree parameters (player 0: a dict, the others vectors), with
    positive losses near the sampled point (a constant 3). Drawn with numpy: no eager JAX ops to compile."""
    rng = np.random.default_rng(seed)
    params = [{"w": jnp.asarray(0.5 * rng.normal(size=2)), "b": jnp.asarray(0.5 * rng.normal())}]
    params += [jnp.asarray(0.5 * rng.normal(size=2)) for _ in range(1, n_players)]
    params = tuple(params)
    d = 3 + 2 * (n_players - 1)
    quad = jnp.asarray(rng.normal(size=(n_players, d, d)) / d)
    lin = jnp.asarray(rng.normal(size=(n_players, d)))

    def losses(p):
        x, _ = ravel_pytree(p)
        return 3.0 + jnp.einsum("i,nij,j->n", x, quad, x) + 0.3 * lin @ x + 0.2 * jnp.sin(lin @ x) + 0.05 * jnp.sum(x**4)

    return params, losses


def random_mixing(seed, n):
    return jnp.asarray(np.random.default_rng(seed).dirichlet(np.ones(n), size=n))


@functools.partial(jax.jit, static_argnums=(0, 3))
def dense_rates(losses, params, A, moving=None):
    """d/dt f_i^A = -<grad_x f_i^A, F^A> from the dense n x d loss Jacobian."""
    flat, unravel = ravel_pytree(params)
    sizes = [ravel_pytree(p)[0].shape[0] for p in params]
    owner = np.repeat(np.arange(len(params)), sizes)
    jac = jax.jacfwd(lambda x: losses(unravel(x)))(flat)  # (n, d): d f_k / d x
    mixed = A.T @ jac  # row i: grad_x f_i^A
    dynamics = mixed[owner, np.arange(flat.shape[0])]  # F^A: player j's block of grad f_j^A
    if moving is not None:
        dynamics = dynamics * np.asarray(moving, float)[owner]
    return -mixed @ dynamics, mixed, dynamics, A.T @ losses(params)


def update_fn(method, losses):
    """The method's update, jitted (eager float64 dispatch would dominate these tests' run time)."""
    return jax.jit(lambda params, state: method.update(losses, params, state))


mixed_dynamics = jax.jit(_d3c.mixed_dynamics, static_argnums=0)
poa_bound = jax.jit(mixmo.metrics.local_poa_bound, static_argnums=(0, 3, 4))
egalitarian_bound = jax.jit(mixmo.metrics.local_egalitarian_poa_bound, static_argnums=(0, 3, 4))

CASES = [(0, 2), (1, 3)]


@pytest.fixture(params=CASES, ids=[f"seed{s}-n{n}" for s, n in CASES])
def case(request):
    seed, n = request.param
    with jax.enable_x64(True):
        params, losses = random_game(seed, n)
        A = random_mixing(100 + seed, n)
        yield params, losses, A


@pytest.mark.parametrize("multiplicative", [False, True])
def test_mixing_gradient_matches_finite_differences(case, multiplicative):
    """Row i of the mixing gradient is d/dA_i of ReLU(d/dt f_i^A + eps) (+ KL), by central differences of a
    dense float64 computation of the rate."""
    params, losses, A = case
    n = A.shape[0]
    assert A.dtype == jnp.float64

    def objectives(a, eps, kl):
        rates, _, _, mixed_losses = dense_rates(losses, params, a)
        value = rates / mixed_losses if multiplicative else rates
        return jnp.maximum(value + eps, 0.0) - kl * jnp.log(jnp.diagonal(a))

    h = 1e-6
    steps = h * jnp.eye(n * n).reshape(n * n, n, n)  # perturb one entry A_im at a time

    @jax.jit
    def finite_differences(eps, kl):
        diff = jax.vmap(lambda s: objectives(A + s, eps, kl) - objectives(A - s, eps, kl))(steps) / (2 * h)
        # entry (i, m) of the result: d objective_i / d A_im
        return diff.reshape(n, n, n)[:, :, :].transpose(2, 0, 1)[np.arange(n), np.arange(n)]

    gradient = jax.jit(_d3c.mixing_gradient, static_argnums=0, static_argnames="multiplicative")
    for eps, kl in [(0.0, 0.0), (0.7, 0.0), (0.3, 0.05)]:
        got = np.asarray(gradient(losses, params, A, eps=eps, kl=kl, multiplicative=multiplicative))
        np.testing.assert_allclose(got, finite_differences(eps, kl), rtol=1e-5, atol=1e-6)


def test_rates_and_direction_match_dense(case):
    params, losses, A = case
    rates, mixed, dynamics, mixed_losses = dense_rates(losses, params, A)
    got = mixed_dynamics(losses, params, A)
    np.testing.assert_allclose(got.rates, rates, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(got.mixed_losses, mixed_losses, rtol=1e-12)
    direction, _ = update_fn(mixmo.methods.d3c(0.5), losses)(params, _d3c.D3CState(A))
    np.testing.assert_allclose(ravel_pytree(direction)[0], dynamics, rtol=1e-9, atol=1e-10)


def test_update_is_entropic_mirror_descent_on_the_rows(case):
    params, losses, A = case
    grad = jax.jit(_d3c.mixing_gradient, static_argnums=0)(losses, params, A, eps=0.2)
    _, state = update_fn(mixmo.methods.d3c(0.3, eps=0.2), losses)(params, _d3c.D3CState(A))
    expected = A * np.exp(-0.3 * np.asarray(grad))
    np.testing.assert_allclose(state.A, expected / expected.sum(1, keepdims=True), rtol=1e-10)
    _, clipped = update_fn(mixmo.methods.d3c(0.3, eps=0.2, clip=(-1.0, 0.0)), losses)(params, _d3c.D3CState(A))
    logits = np.clip(np.log(A) - 0.3 * np.asarray(grad), -1.0, 0.0)
    np.testing.assert_allclose(clipped.A, np.exp(logits) / np.exp(logits).sum(1, keepdims=True), rtol=1e-10)


def test_only_row_i_moves_from_player_is_objective():
    with jax.enable_x64(True):
        params, losses, A = *random_game(7, 3), random_mixing(8, 3)
        rates = np.asarray(mixed_dynamics(losses, params, A).rates)
        # eps between the rates: the players with rate + eps < 0 are improving (inactive ReLU), the others not
        order = np.argsort(rates)
        eps = -(rates[order[0]] + rates[order[1]]) / 2
        inactive = rates + eps < 0
        assert 0 < inactive.sum() < 3
        _, state = update_fn(mixmo.methods.d3c(1.0, eps=eps), losses)(params, _d3c.D3CState(A))
        moved = np.abs(np.asarray(state.A) - np.asarray(A)).max(axis=1) > 1e-12
        np.testing.assert_array_equal(moved, ~inactive)
        # row i's step is the gradient of player i's objective by row i only: perturbing another row of A
        # changes player i's objective (through the dynamics), but row i's gradient is taken at the current A
        grad = np.asarray(jax.jit(_d3c.mixing_gradient, static_argnums=0)(losses, params, A, eps=eps))
        np.testing.assert_array_equal(grad[inactive], 0.0)


def test_rows_stay_on_the_simplex_and_budget_balances():
    game = mixmo.games.prisoners_dilemma(4, 1.0)
    for method in (mixmo.methods.d3c(1.0, eps=0.1),
                   mixmo.methods.d3c(5.0, eps=1.0, kl=0.01, clip=(-5.0, 5.0), participants=(True, True, False, True))):
        traj = mixmo.learn(game, method, optax.sgd(0.1), steps=60, seeds=4, key=jax.random.key(0),
                           record_params=True)
        A = np.asarray(traj.method_states.A, np.float64)  # (seeds, steps + 1, n, n)
        assert np.all(A >= 0)
        np.testing.assert_allclose(A.sum(-1), 1.0, atol=1e-5)
        assert np.abs(A[:, -1] - A[:, 0]).max() > 1e-3  # the mixing did move
        # budget balance: sum_i f_i^A = sum_i f_i for every A the method produced, at every step
        losses = np.asarray(traj.losses, np.float64)
        mixed = np.einsum("stki,stk->sti", A, losses)
        np.testing.assert_allclose(mixed.sum(-1), losses.sum(-1), rtol=1e-5)


@pytest.mark.exact_xla  # A stays uniform to the last bit
def test_fixed_point_at_the_social_optimum_with_eps_zero():
    with jax.enable_x64(True):
        n, c = 3, 1.0
        game = mixmo.games.prisoners_dilemma(n, c)
        optimum = tuple(jnp.full(n - 1, c / n) for _ in range(n))
        uniform = jnp.full((n, n), 1.0 / n)
        direction, state = update_fn(mixmo.methods.d3c(10.0), game.losses)(optimum, _d3c.D3CState(uniform))
        assert float(np.abs(ravel_pytree(direction)[0]).max()) < 1e-12
        np.testing.assert_array_equal(state.A, uniform)
        # eps > 0 keeps the mixing moving at the same point only where the rate's A-gradient is non-zero; at the
        # optimum with uniform A it is zero, so this is a fixed point for any eps
        _, state = update_fn(mixmo.methods.d3c(10.0, eps=0.5), game.losses)(optimum, _d3c.D3CState(uniform))
        np.testing.assert_allclose(state.A, uniform, atol=1e-12)
        # at the Nash equilibrium (x = 0) with A = I the players do not move either, and neither does A (eps = 0)
        nash = tuple(jnp.zeros(n - 1) for _ in range(n))
        _, state = update_fn(mixmo.methods.d3c(10.0), game.losses)(nash, _d3c.D3CState(jnp.eye(n)))
        np.testing.assert_array_equal(state.A, jnp.eye(n))


def test_multiplicative_form_refuses_non_positive_losses():
    losses = lambda p: jnp.stack([p[0] ** 2 - 1.0, p[1] ** 2 + 1.0])
    method = mixmo.methods.d3c(1.0, multiplicative=True)
    params = (jnp.array(0.5), jnp.array(0.5))
    with pytest.raises(Exception, match="positive losses"):
        jax.block_until_ready(method.update(losses, params, method.init(params)))
    update = jax.jit(lambda p, s: method.update(losses, p, s))
    with pytest.raises(Exception, match="positive losses"):
        jax.block_until_ready(update(params, method.init(params)))
    positive = (jnp.array(1.5), jnp.array(0.5))
    direction, state = update(positive, method.init(positive))
    assert np.all(np.isfinite(np.asarray(state.A)))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"lr_mix": -1.0}, "lr_mix must be >= 0"),
    ({"lr_mix": float("nan")}, "lr_mix must be finite"),
    ({"lr_mix": "fast"}, "lr_mix must be a real number"),
    ({"lr_mix": 1.0, "kl": -0.1}, "kl must be >= 0"),
    ({"lr_mix": 1.0, "init_self": 1.0}, "init_self must be in"),
    ({"lr_mix": 1.0, "init_self": 0.0}, "init_self must be in"),
    ({"lr_mix": 1.0, "clip": (5.0, -5.0)}, "l < h"),
    ({"lr_mix": 1.0, "clip": (1.0,)}, "pair"),
    ({"lr_mix": 1.0, "eps": float("inf")}, "eps must be finite"),
    ({"lr_mix": 1.0, "multiplicative": "yes"}, "multiplicative must be"),
    ({"lr_mix": 1.0, "participants": (True, "x")}, "booleans"),
    ({"lr_mix": 1.0, "frozen": 3}, "sequence of booleans"),
])
def test_factory_refuses_bad_arguments(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        mixmo.methods.d3c(**kwargs)


def test_player_masks_are_checked_against_the_game():
    params = (jnp.zeros(2), jnp.zeros(2), jnp.zeros(2))
    with pytest.raises(ValueError, match="3 players"):
        mixmo.methods.d3c(1.0, frozen=(True, False)).init(params)
    with pytest.raises(ValueError, match="both frozen and participating"):
        mixmo.methods.d3c(1.0, frozen=(True, False, False), participants=(True, True, True)).init(params)


def test_heterogeneous_population():
    with jax.enable_x64(True):
        params, losses = random_game(3, 4)
        method = mixmo.methods.d3c(2.0, eps=5.0, frozen=(True, False, False, False),
                                   participants=(False, True, False, True))
        state = method.init(params)
        A = np.asarray(state.A)
        np.testing.assert_array_equal(A[0], [1, 0, 0, 0])  # frozen: e_1
        np.testing.assert_array_equal(A[2], [0, 0, 1, 0])  # plain gradient descent: e_3
        np.testing.assert_allclose(A[1], [0, 0.99, 0, 0.01])  # participants mix only among themselves
        update = jax.jit(lambda p, st: method.update(losses, p, st))
        for _ in range(5):
            direction, state = update(params, state)
        A = np.asarray(state.A)
        assert A[1, 1] < 0.99 and A[1, 3] > 0.01  # the participants did move ...
        np.testing.assert_array_equal(A[[1, 3]][:, [0, 2]], 0.0)  # ... but never onto non-participants
        np.testing.assert_array_equal(A[[0, 2]], np.eye(4)[[0, 2]])
        own = jax.jit(lambda p: mixmo.methods.simul_ind().update(losses, p, ())[0])(params)
        assert float(np.abs(ravel_pytree(direction[0])[0]).max()) == 0.0  # frozen
        np.testing.assert_allclose(direction[2], own[2], rtol=1e-12)  # gradient descent on its own loss
        # the frozen player drops out of the dynamics
        rates, *_ = dense_rates(losses, params, jnp.asarray(A), (0, 1, 1, 1))
        np.testing.assert_allclose(mixed_dynamics(losses, params, jnp.asarray(A), jnp.array([0.0, 1, 1, 1])).rates,
                                   rates, rtol=1e-9)


def test_n10_pytree_params_jit_vmap_and_determinism():
    n, seeds = 10, 3
    rng = np.random.default_rng(1)
    targets = jnp.asarray(rng.normal(size=(n, n)), jnp.float32)

    def losses(params):
        means = jnp.stack([jnp.mean(p["a"]) + p["b"] for p in params])  # each player a dict of arrays
        return (means - targets @ jnp.tanh(means)) ** 2 + 0.1 * jnp.sum(means**2)

    params = tuple({"a": jnp.asarray(rng.normal(size=(seeds, 3, 2)), jnp.float32),
                    "b": jnp.asarray(rng.normal(size=seeds), jnp.float32)} for _ in range(n))
    method = mixmo.methods.d3c(1.0, eps=0.1)
    step = jax.jit(jax.vmap(lambda p, s: method.update(losses, p, s)))

    def run():
        p, state = params, jax.vmap(method.init)(params)
        for _ in range(20):
            direction, state = step(p, state)
            p = jax.tree.map(lambda x, d: x - 0.05 * d, p, direction)
        return p, state

    (p1, s1), (p2, s2) = run(), run()
    assert s1.A.shape == (seeds, n, n)
    np.testing.assert_array_equal(s1.A, s2.A)
    np.testing.assert_array_equal(ravel_pytree(p1)[0], ravel_pytree(p2)[0])
    assert np.abs(np.asarray(s1.A) - np.asarray(jax.vmap(method.init)(params).A)).max() > 1e-4
    np.testing.assert_allclose(np.asarray(s1.A).sum(-1), 1.0, atol=1e-5)


def test_learn_keeps_a_over_time_and_is_deterministic():
    game = mixmo.games.prisoners_dilemma(3, 1.0)
    method = mixmo.methods.d3c(1.0, eps=0.1)
    first, second = (mixmo.learn(game, method, optax.sgd(0.1), steps=30, seeds=4, key=jax.random.key(5))
                     for _ in range(2))
    assert first.method_states.A.shape == (4, 31, 3, 3)
    np.testing.assert_array_equal(first.method_states.A[:, 0], np.broadcast_to(method.init(game.init(
        jax.random.key(0))).A, (4, 3, 3)))
    np.testing.assert_array_equal(first.method_states.A, second.method_states.A)
    np.testing.assert_array_equal(first.losses, second.losses)


def test_metrics_bounds_match_dense_formulas(case):
    params, losses, A = case
    dt, mu = 0.05, 0.7
    rates, mixed, dynamics, f = dense_rates(losses, params, A)
    flat, _ = ravel_pytree(params)
    sizes = [ravel_pytree(p)[0].shape[0] for p in params]
    owner = np.repeat(np.arange(len(params)), sizes)
    own = np.array([np.sum(dynamics[owner == i] ** 2) for i in range(len(params))])
    expected = np.max(1 + dt * np.maximum(rates / f + own / (mu * f), 0))
    np.testing.assert_allclose(poa_bound(losses, params, A, dt, mu), expected, rtol=1e-9)
    top = int(np.argmax(f))
    expected_e = 1 + dt * max(rates[top] / f[top] + own.sum() / (mu * f[top]), 0)
    np.testing.assert_allclose(egalitarian_bound(losses, params, A, dt, mu), expected_e,
                               rtol=1e-9)
    assert np.isnan(poa_bound(lambda p: losses(p) - 100.0, params, A, dt, mu))


def test_bound_is_one_at_a_stationary_point():
    game = mixmo.games.prisoners_dilemma(3, 1.0)
    nash = tuple(jnp.zeros(2) for _ in range(3))
    assert float(poa_bound(game.losses, nash, jnp.eye(3), 0.1, 1.0)) == pytest.approx(1.0)
    start = tuple(jnp.full(2, 0.3) for _ in range(3))  # everyone's loss rising: each is pulled towards 0
    assert float(poa_bound(game.losses, start, jnp.eye(3), 0.1, 1.0)) > 1.0


@pytest.mark.parametrize("multiplicative", [False, True])
def test_closed_form_row_gradients_equal_autodiff(case, multiplicative):
    """The O(n^3) row gradients the method uses equal autodiff of the objective, row by row (vmapped grads)."""
    params, losses, A = case
    n = A.shape[0]
    values, full = jax.jit(_d3c.all_gradients, static_argnums=0)(losses, params)
    gram = jax.jit(_d3c._gram)(full)
    # jitted with the settings as arguments: one program each per case, not every operation compiled one by one
    closed_form = jax.jit(_d3c._row_gradients, static_argnums=6)
    autodiff = jax.jit(_d3c._row_gradients_autodiff, static_argnums=6)
    for moving in (jnp.ones(n), jnp.asarray([0.0] + [1.0] * (n - 1))):
        for eps, kl in [(0.0, 0.0), (0.4, 0.1), (-10.0, 0.0)]:
            args = (A, gram, moving, values, eps, kl, multiplicative)
            np.testing.assert_allclose(closed_form(*args), autodiff(*args), rtol=1e-10, atol=1e-12)
