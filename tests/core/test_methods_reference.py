"""Every method's direction against an independent dense computation in float64.

The dense Hessian and Jacobian are built with jax.hessian / jax.jacfwd on the flattened parameters here, in
the test only; the library never builds them.

Each computation is one jitted program taking the game's parameters and coefficients as arguments, so it compiles
once per number of players and is reused by every seed (op-by-op evaluation would compile each of the hundreds of
operations of a dense Hessian on its own).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import mixmo
from mixmo.methods import _derivatives as D


def random_game(key, n_players):
    """A smooth nonlinear n-player game on pytree parameters (player 0: a dict, the others arrays): the
    parameters and the coefficients `game_losses` makes the losses of."""
    shapes = [{"w": (2,), "m": (2, 2)}] + [(3,)] * (n_players - 1)
    k_params, k_a, k_b, k_c = jax.random.split(key, 4)
    params = []
    for i, shape in enumerate(shapes):
        ki = jax.random.fold_in(k_params, i)
        if isinstance(shape, dict):
            params.append({name: 0.5 * jax.random.normal(jax.random.fold_in(ki, j), s)
                           for j, (name, s) in enumerate(shape.items())})
        else:
            params.append(0.5 * jax.random.normal(ki, shape))
    params = tuple(params)
    d = ravel_pytree(params)[0].shape[0]
    coefficients = (jax.random.normal(k_a, (n_players, d, d)), jax.random.normal(k_b, (n_players, d)),
                    jax.random.normal(k_c, (n_players, d)))
    return params, coefficients


def game_losses(coefficients):
    quad, lin, freq = coefficients
    d = lin.shape[1]

    def losses(p):
        x, _ = ravel_pytree(p)
        q = jnp.einsum("i,nij,j->n", x, quad, x) / d
        return q + lin @ x + jnp.sin(freq @ x) + 0.1 * jnp.sum(x**4)

    return losses


def owners(params):
    """The player owning each flat parameter."""
    return np.repeat(np.arange(len(params)), [ravel_pytree(p)[0].shape[0] for p in params])


@jax.jit
def dense(params, coefficients):
    """Flat x, xi, xi_c, H_c, J built densely."""
    flat, unravel = ravel_pytree(params)
    owner = owners(params)
    f = lambda x: game_losses(coefficients)(unravel(x))
    full_jac = jax.jacfwd(f)(flat)  # (n, d): d l_i / d x
    xi = full_jac[owner, np.arange(flat.shape[0])]
    xi_c = full_jac.sum(0)
    h_c = jax.hessian(lambda x: jnp.sum(f(x)))(flat)
    xi_fn = lambda x: jax.jacfwd(f)(x)[owner, np.arange(flat.shape[0])]
    jac = jax.jacfwd(xi_fn)(flat)
    return flat, xi, xi_c, h_c, jac


def flat(tree):
    return ravel_pytree(tree)[0]


CASES = [(seed, n) for seed in range(3) for n in (2, 3)]


@pytest.fixture(params=CASES, ids=[f"seed{s}-n{n}" for s, n in CASES])
def case(request):
    seed, n = request.param
    with jax.enable_x64(True):
        params, coefficients = random_game(jax.random.key(seed), n)
        x, xi, xi_c, h_c, jac = dense(params, coefficients)
        yield params, coefficients, (x, ravel_pytree(params)[1], xi, xi_c, h_c, jac)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-8, atol=1e-8)


@jax.jit
def library_derivatives(params, coefficients, v):
    """The library's derivative functions (`mixmo.methods._derivatives`) at `params`, along `v`, flattened."""
    losses = game_losses(coefficients)
    _, xi2, xi_c2 = D.simultaneous_and_collective(losses, params)
    _, jvp, vjp = D.linearized_simultaneous_gradient(losses, params)
    out = {"xi": D.simultaneous_gradient(losses, params), "xi_c": D.collective_gradient(losses, params),
           "xi2": xi2, "xi_c2": xi_c2, "h_c v": D.collective_hvp(losses, params, v),
           "J v": D.jacobian_vp(losses, params, v), "J^T v": D.jacobian_tvp(losses, params, v),
           "linearized J v": jvp(v), "linearized J^T v": vjp(v)}
    return {k: flat(t) for k, t in out.items()}
def test_derivatives_match_dense(case):
    params, coefficients, (x, unravel, xi, xi_c, h_c, jac) = case
    v = unravel(jnp.cos(jnp.arange(x.shape[0], dtype=x.dtype)))
    vf = flat(v)
    assert x.dtype == jnp.float64
    got = library_derivatives(params, coefficients, v)
    for name in ("xi", "xi2"):
        close(got[name], xi)
    for name in ("xi_c", "xi_c2"):
        close(got[name], xi_c)
    close(got["h_c v"], h_c @ vf)
    for name in ("J v", "linearized J v"):
        close(got[name], jac @ vf)
    for name in ("J^T v", "linearized J^T v"):
        close(got[name], jac.T @ vf)


# one instance per method, so each method's jitted step compiles once per number of players for all seeds
METHODS = {"simul-ind": mixmo.methods.simul_ind(), "simul-co": mixmo.methods.simul_co(),
           "cga": mixmo.methods.cga(0.7), "sl": mixmo.methods.sl(0.3), "svo": mixmo.methods.svo(0.4, angle_deg=30.0),
           "lookahead": mixmo.methods.lookahead(0.3), "lola": mixmo.methods.lola(0.3), "sos": mixmo.methods.sos(0.3),
           "extragradient": mixmo.methods.extragradient(0.2), "optimistic": mixmo.methods.optimistic(),
           **{f"sga align={a}": mixmo.methods.sga(0.5, align=a) for a in (True, False)},
           **{f"aga align={a}": mixmo.methods.aga(-2.0, align=a) for a in (True, False)}}


@functools.partial(jax.jit, static_argnums=0)
def step(name, params, coefficients, state=None):
    """`METHODS[name]`'s update direction (flattened) and next state, from `state` (None: the method's initial
    state)."""
    method = METHODS[name]
    state = method.init(params) if state is None else state
    out, state = method.update(game_losses(coefficients), params, state)
    return flat(out), state


def direction(name, params, coefficients):
    return step(name, params, coefficients)[0]


def test_simple_methods(case):
    params, coefficients, (x, _, xi, xi_c, h_c, jac) = case
    close(direction("simul-ind", params, coefficients), xi)
    close(direction("simul-co", params, coefficients), xi_c)
    close(direction("cga", params, coefficients), xi + 0.7 * jac.T @ xi)


@pytest.mark.parametrize("align", [True, False])
def test_sga(case, align):
    params, coefficients, (x, _, xi, xi_c, h_c, jac) = case
    at_xi = 0.5 * (jac.T - jac) @ xi
    if align:
        criterion = (xi @ (jac.T @ xi)) * (at_xi @ (jac.T @ xi)) / x.shape[0] + 0.1
        lam = 0.5 * (1.0 if criterion >= 0 else -1.0)
    else:
        lam = 0.5
    close(direction(f"sga align={align}", params, coefficients), xi + lam * at_xi)


@pytest.mark.parametrize("align", [True, False])
def test_aga(case, align):
    params, coefficients, (x, _, xi, xi_c, h_c, jac) = case
    grad_h = h_c @ xi_c
    if align:
        criterion = (xi_c @ grad_h) * (xi @ grad_h + grad_h @ grad_h)
        lam = 2.0 * (1.0 if criterion >= 0 else -1.0)
    else:
        lam = 2.0
    close(direction(f"aga align={align}", params, coefficients), xi_c + lam * (xi + grad_h))


def _svo_losses(losses):
    n = losses.shape[0]
    r = -losses
    theta = jnp.stack([jnp.arctan2((jnp.sum(r) - r[i]) / (n - 1), r[i]) for i in range(n)])
    return -(r - 0.4 * jnp.abs(math.radians(30.0) - theta))


SHAPED = {"sl": lambda losses: losses + 0.3 * jnp.sum(losses), "svo": _svo_losses}


@functools.partial(jax.jit, static_argnums=0)
def own_gradient(name, params, coefficients):
    """Each parameter's derivative of its owner's shaped loss (`SHAPED[name]` of all losses), densely."""
    x, unravel = ravel_pytree(params)
    jac_full = jax.jacfwd(lambda y: SHAPED[name](game_losses(coefficients)(unravel(y))))(x)
    return jac_full[owners(params), np.arange(x.shape[0])]


def test_shaping_methods(case):
    params, coefficients, _ = case
    for name in SHAPED:
        close(direction(name, params, coefficients), own_gradient(name, params, coefficients))


@jax.jit
def loss_gradients(params, coefficients):
    """(d, n): d l_k / d x_b."""
    x, unravel = ravel_pytree(params)
    return jax.jacfwd(lambda y: game_losses(coefficients)(unravel(y)))(x).T


def opponent_shaping_dense(params, coefficients, jac):
    """H_o xi and chi = diag(H_o^T grad L), densely."""
    owner = owners(params)
    h_o = np.where(owner[:, None] != owner[None, :], np.asarray(jac), 0.0)
    grads = np.asarray(loss_gradients(params, coefficients))
    chi = np.array([h_o[:, a] @ grads[:, owner[a]] for a in range(len(owner))])
    return h_o, chi


def test_lookahead_lola_sos(case):
    params, coefficients, (x, _, xi, xi_c, h_c, jac) = case
    h_o, chi = opponent_shaping_dense(params, coefficients, jac)
    alpha = 0.3
    xi_0 = np.asarray(xi) - alpha * h_o @ np.asarray(xi)
    close(direction("lookahead", params, coefficients), xi_0)
    close(direction("lola", params, coefficients), xi_0 - alpha * chi)
    shaping = -alpha * chi @ xi_0
    p1 = 1.0 if shaping >= 0 else min(1.0, -0.5 * (xi_0 @ xi_0) / shaping)
    norm = np.linalg.norm(np.asarray(xi))
    p2 = norm**2 if norm < 0.1 else 1.0
    close(direction("sos", params, coefficients), xi_0 - min(p1, p2) * alpha * chi)


def test_extragradient_and_optimistic(case):
    params, coefficients, (x, unravel, xi, *_rest) = case
    xi_at = lambda p: direction("simul-ind", p, coefficients)  # noqa: E731
    ahead = unravel(x - 0.2 * xi)
    close(direction("extragradient", params, coefficients), xi_at(ahead))
    d1, state = step("optimistic", params, coefficients)
    close(d1, xi)  # first step: no previous gradient, plain xi
    moved = unravel(x - 0.1 * d1)
    d2, _ = step("optimistic", moved, coefficients, state)
    close(d2, 2 * xi_at(moved) - xi)
