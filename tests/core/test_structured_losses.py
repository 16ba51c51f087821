"""`StructuredLosses`: separable individual losses and an explicit collective loss (the RL case), against dense
float64 references, and against the same game given as a plain losses function."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import mixmo


def structured_game(key):
    """Player i's loss depends on w_i only; the collective loss couples everyone and is not their sum."""
    keys = jax.random.split(key, 4)
    params = (jax.random.normal(keys[0], (3,)), {"a": jax.random.normal(keys[1], (2,))}, jax.random.normal(keys[2], ()))
    coupling = jax.random.normal(keys[3], (6, 6))

    def individual(p):
        x0, x1, x2 = p[0], p[1]["a"], p[2]
        return jnp.stack([jnp.sum(jnp.sin(x0)) + jnp.sum(x0**2), jnp.sum(jnp.cosh(x1)), x2**4 - x2])

    def collective(p):
        x, _ = ravel_pytree(p)
        return jnp.sum(individual(p)) + 0.3 * x @ coupling @ x + jnp.sum(jnp.sin(x) * x[::-1])

    return params, individual, collective


@functools.cache
def dense_case(seed):
    """The game of `seed` and its dense float64 derivatives, computed once per seed (in one program: op by op,
    the dense Hessian's operations would compile one by one)."""
    with jax.enable_x64(True):
        params, individual, collective = structured_game(jax.random.key(seed))
        x, unravel = ravel_pytree(params)
        sizes = [ravel_pytree(p)[0].shape[0] for p in params]
        owner = np.repeat(np.arange(3), sizes)
        f = lambda y: individual(unravel(y))
        xi_fn = lambda y: jax.jacfwd(f)(y)[owner, np.arange(x.shape[0])]
        dense = jax.jit(lambda y: {"xi": xi_fn(y), "xi_c": jax.grad(lambda z: collective(unravel(z)))(y),
                                   "h_c": jax.hessian(lambda z: collective(unravel(z)))(y),
                                   "jac": jax.jacfwd(xi_fn)(y)})(x)
        return params, individual, collective, {k: np.asarray(v) for k, v in dense.items()}


@pytest.fixture(params=[0, 1])
def case(request):
    with jax.enable_x64(True):
        yield dense_case(request.param)


def direction(method, losses, params):
    """The method's first direction, flattened (jitted: one program, not one per operation run eagerly)."""
    return np.asarray(jax.jit(lambda p: ravel_pytree(method.update(losses, p, method.init(p))[0])[0])(params))


def test_methods_use_the_structure(case):
    params, individual, collective, d = case
    losses = mixmo.StructuredLosses(individual, collective, separable=True)
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8)
    close(direction(mixmo.methods.simul_ind(), losses, params), d["xi"])
    close(direction(mixmo.methods.simul_co(), losses, params), d["xi_c"])
    grad_h = d["h_c"] @ d["xi_c"]
    sign = 1.0 if (d["xi_c"] @ grad_h) * (d["xi"] @ grad_h + grad_h @ grad_h) >= 0 else -1.0
    close(direction(mixmo.methods.aga(1.5), losses, params), d["xi_c"] + sign * 1.5 * (d["xi"] + grad_h))
    close(direction(mixmo.methods.cga(0.5), losses, params), d["xi"] + 0.5 * d["jac"].T @ d["xi"])
    # the separable shortcut gives what the general path gives
    general = mixmo.StructuredLosses(individual, collective, separable=False)
    for method in [mixmo.methods.simul_ind(), mixmo.methods.aga(1.5), mixmo.methods.sga(1.0)]:
        close(direction(method, losses, params), direction(method, general, params))


def test_aga_with_zero_lambda_is_simul_co(case):
    params, individual, collective, _ = case
    losses = mixmo.StructuredLosses(individual, collective, separable=True)
    np.testing.assert_array_equal(direction(mixmo.methods.aga(0.0), losses, params),
                                  direction(mixmo.methods.simul_co(), losses, params))


def test_without_a_collective_it_is_the_sum(case):
    params, individual, _, d = case
    losses = mixmo.StructuredLosses(individual, separable=True)
    np.testing.assert_allclose(direction(mixmo.methods.simul_co(), losses, params),
                               direction(mixmo.methods.simul_co(), individual, params), rtol=1e-10)
    np.testing.assert_allclose(direction(mixmo.methods.simul_ind(), losses, params), d["xi"], rtol=1e-8, atol=1e-10)


JOINT = {"simul-ind": lambda: mixmo.methods.simul_ind(), "simul-co": lambda: mixmo.methods.simul_co(),
         "cga": lambda: mixmo.methods.cga(0.5), "sga": lambda: mixmo.methods.sga(1.0),
         "aga": lambda: mixmo.methods.aga(1.5), "aga-sign": lambda: mixmo.methods.aga(1.5, align=False),
         "aga-schedule": lambda: mixmo.methods.aga(1.5, decay=0.5, every=1),
         "extragradient": lambda: mixmo.methods.extragradient(0.1), "optimistic": lambda: mixmo.methods.optimistic()}


@pytest.mark.parametrize("name", JOINT)
def test_joint_methods_give_the_same_direction_with_every_player_as_one(case, name):
    """`GameMethod.joint`: on separable losses the direction is the same when all players' parameters are passed
    as ONE player (what the RL trainer does with the agents' stacked policies)."""
    method = JOINT[name]()
    assert method.joint
    params, individual, collective, _ = case
    losses = mixmo.StructuredLosses(individual, collective, separable=True)
    as_one = mixmo.StructuredLosses(lambda p: individual(p[0]), lambda p: collective(p[0]), separable=True)
    np.testing.assert_allclose(direction(method, as_one, (params,)), direction(method, losses, params),
                               rtol=1e-12, atol=1e-12)


def _equations(jaxpr) -> int:
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    return sum(1 + sum(_equations(v) for v in e.params.values() if hasattr(getattr(v, "jaxpr", v), "eqns"))
               for e in jaxpr.eqns)


def test_reused_derivatives_are_traced_once_and_change_nothing(case):
    """`reuse_derivatives`: AgA's direction and its diagnostics share one ξ, ξ_c, H_c ξ_c in the program; the
    outputs are bit-identical to computing them twice."""
    params, individual, collective, _ = case
    losses = mixmo.StructuredLosses(individual, collective, separable=True)
    method = mixmo.methods.aga(1.5)

    def step(p):
        direction, _ = method.update(losses, p, ())
        return direction, mixmo.methods.diagnostics(losses, p, direction)

    def reused(p):
        with mixmo.methods.reuse_derivatives():
            return step(p)

    twice, once = _equations(jax.make_jaxpr(step)(params)), _equations(jax.make_jaxpr(reused)(params))
    diagnostics_alone = _equations(jax.make_jaxpr(lambda p: mixmo.methods.diagnostics(losses, p, p))(params))
    assert once < twice - diagnostics_alone // 2, (once, twice, diagnostics_alone)
    for a, b in zip(jax.tree.leaves(jax.jit(step)(params)), jax.tree.leaves(jax.jit(reused)(params))):
        np.testing.assert_array_equal(a, b)
    # outside the scope nothing is remembered
    assert _equations(jax.make_jaxpr(step)(params)) == twice
