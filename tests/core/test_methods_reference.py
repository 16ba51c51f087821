"""Every method's direction against an independent dense computation in float64.

The dense Hessian and Jacobian are built with jax.hessian / jax.jacfwd on the flattened parameters here, in
the test only; the library never builds them.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import mixmo
from mixmo.methods import _derivatives as D


def random_game(key, n_players):
    """A smooth nonlinear n-player game on pytree parameters (player 0: a dict, the others arrays)."""
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
    flat, _ = ravel_pytree(params)
    d = flat.shape[0]
    quad = jax.random.normal(k_a, (n_players, d, d))
    lin = jax.random.normal(k_b, (n_players, d))
    freq = jax.random.normal(k_c, (n_players, d))

    def losses(p):
        x, _ = ravel_pytree(p)
        q = jnp.einsum("i,nij,j->n", x, quad, x) / d
        return q + lin @ x + jnp.sin(freq @ x) + 0.1 * jnp.sum(x**4)

    return params, losses


def dense(params, losses):
    """Flat x, xi, xi_c, H_c, J built densely, plus the unravel function."""
    flat, unravel = ravel_pytree(params)
    sizes = [ravel_pytree(p)[0].shape[0] for p in params]
    owner = np.repeat(np.arange(len(params)), sizes)
    f = lambda x: losses(unravel(x))
    full_jac = jax.jacfwd(f)(flat)  # (n, d): d l_i / d x
    xi = full_jac[owner, np.arange(flat.shape[0])]
    xi_c = full_jac.sum(0)
    h_c = jax.hessian(lambda x: jnp.sum(f(x)))(flat)
    xi_fn = lambda x: jax.jacfwd(f)(x)[owner, np.arange(flat.shape[0])]
    jac = jax.jacfwd(xi_fn)(flat)
    return flat, unravel, xi, xi_c, h_c, jac


def flat(tree):
    return ravel_pytree(tree)[0]


CASES = [(seed, n) for seed in range(3) for n in (2, 3)]


@pytest.fixture(params=CASES, ids=[f"seed{s}-n{n}" for s, n in CASES])
def case(request):
    seed, n = request.param
    with jax.enable_x64(True):
        params, losses = random_game(jax.random.key(seed), n)
        yield params, losses, dense(params, losses)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-8, atol=1e-8)


def test_derivatives_match_dense(case):
    params, losses, (x, unravel, xi, xi_c, h_c, jac) = case
    v = unravel(jnp.cos(jnp.arange(x.shape[0], dtype=x.dtype)))
    vf = flat(v)
    assert x.dtype == jnp.float64
    close(flat(D.simultaneous_gradient(losses, params)), xi)
    close(flat(D.collective_gradient(losses, params)), xi_c)
    _, xi2, xi_c2 = D.simultaneous_and_collective(losses, params)
    close(flat(xi2), xi)
    close(flat(xi_c2), xi_c)
    close(flat(D.collective_hvp(losses, params, v)), h_c @ vf)
    close(flat(D.jacobian_vp(losses, params, v)), jac @ vf)
    close(flat(D.jacobian_tvp(losses, params, v)), jac.T @ vf)
    xi3, jvp, vjp = D.linearized_simultaneous_gradient(losses, params)
    close(flat(jvp(v)), jac @ vf)
    close(flat(vjp(v)), jac.T @ vf)


def direction(method, losses, params):
    out, _ = method.update(losses, params, method.init(params))
    return flat(out)


def test_simple_methods(case):
    params, losses, (x, _, xi, xi_c, h_c, jac) = case
    close(direction(mixmo.methods.simul_ind(), losses, params), xi)
    close(direction(mixmo.methods.simul_co(), losses, params), xi_c)
    close(direction(mixmo.methods.cga(0.7), losses, params), xi + 0.7 * jac.T @ xi)


@pytest.mark.parametrize("align", [True, False])
def test_sga(case, align):
    params, losses, (x, _, xi, xi_c, h_c, jac) = case
    at_xi = 0.5 * (jac.T - jac) @ xi
    if align:
        criterion = (xi @ (jac.T @ xi)) * (at_xi @ (jac.T @ xi)) / x.shape[0] + 0.1
        lam = 0.5 * (1.0 if criterion >= 0 else -1.0)
    else:
        lam = 0.5
    close(direction(mixmo.methods.sga(0.5, align=align), losses, params), xi + lam * at_xi)


@pytest.mark.parametrize("align", [True, False])
def test_aga(case, align):
    params, losses, (x, _, xi, xi_c, h_c, jac) = case
    grad_h = h_c @ xi_c
    if align:
        criterion = (xi_c @ grad_h) * (xi @ grad_h + grad_h @ grad_h)
        lam = 2.0 * (1.0 if criterion >= 0 else -1.0)
    else:
        lam = 2.0
    close(direction(mixmo.methods.aga(-2.0, align=align), losses, params), xi_c + lam * (xi + grad_h))


def test_shaping_methods(case):
    params, losses, (x, unravel, *_rest) = case
    n = len(params)
    sizes = [flat(p).shape[0] for p in params]
    owner = np.repeat(np.arange(n), sizes)
    f = lambda y: losses(unravel(y))

    def own_gradient(shaped):
        jac_full = jax.jacfwd(lambda y: shaped(f(y)))(x)
        return jac_full[owner, np.arange(x.shape[0])]

    close(direction(mixmo.methods.sl(0.3), losses, params), own_gradient(lambda l: l + 0.3 * jnp.sum(l)))

    def svo_losses(l):
        r = -l
        theta = jnp.stack([jnp.arctan2((jnp.sum(r) - r[i]) / (n - 1), r[i]) for i in range(n)])
        return -(r - 0.4 * jnp.abs(math.radians(30.0) - theta))

    close(direction(mixmo.methods.svo(0.4, angle_deg=30.0), losses, params), own_gradient(svo_losses))


def opponent_shaping_dense(params, losses, jac, x):
    """H_o xi and chi = diag(H_o^T grad L), densely."""
    flat_x, unravel = ravel_pytree(params)
    sizes = [ravel_pytree(p)[0].shape[0] for p in params]
    owner = np.repeat(np.arange(len(params)), sizes)
    h_o = np.where(owner[:, None] != owner[None, :], np.asarray(jac), 0.0)
    grads = np.asarray(jax.jacfwd(lambda y: losses(unravel(y)))(flat_x)).T  # (d, n): d l_k / d x_b
    chi = np.array([h_o[:, a] @ grads[:, owner[a]] for a in range(flat_x.shape[0])])
    return h_o, chi


def test_lookahead_lola_sos(case):
    params, losses, (x, _, xi, xi_c, h_c, jac) = case
    h_o, chi = opponent_shaping_dense(params, losses, jac, x)
    alpha = 0.3
    xi_0 = np.asarray(xi) - alpha * h_o @ np.asarray(xi)
    close(direction(mixmo.methods.lookahead(alpha), losses, params), xi_0)
    close(direction(mixmo.methods.lola(alpha), losses, params), xi_0 - alpha * chi)
    shaping = -alpha * chi @ xi_0
    p1 = 1.0 if shaping >= 0 else min(1.0, -0.5 * (xi_0 @ xi_0) / shaping)
    norm = np.linalg.norm(np.asarray(xi))
    p2 = norm**2 if norm < 0.1 else 1.0
    close(direction(mixmo.methods.sos(alpha), losses, params), xi_0 - min(p1, p2) * alpha * chi)


def test_extragradient_and_optimistic(case):
    params, losses, (x, unravel, xi, *_rest) = case
    xi_at = lambda p: flat(mixmo.methods.simul_ind().update(losses, p, ())[0])
    ahead = unravel(x - 0.2 * xi)
    close(direction(mixmo.methods.extragradient(0.2), losses, params), xi_at(ahead))
    method = mixmo.methods.optimistic()
    d1, state = method.update(losses, params, method.init(params))
    close(flat(d1), xi)  # first step: no previous gradient, plain xi
    moved = unravel(x - 0.1 * flat(d1))
    d2, _ = method.update(losses, moved, state)
    close(flat(d2), 2 * xi_at(moved) - xi)
