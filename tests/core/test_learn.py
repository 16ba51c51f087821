"""`learn`: equals a hand-written loop, is deterministic, freezes converged runs, supports float64."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mixmo
from mixmo.learning import StepInfo, loss_change_below, param_change_below


def test_one_seed_equals_python_loop():
    game, method, opt = mixmo.games.toy(), mixmo.methods.aga(0.5), optax.adam(0.05)
    key = jax.random.key(3)
    traj = mixmo.learn(game, method, opt, steps=25, seeds=1, key=key)

    params = game.init(jax.random.split(key, 1)[0])
    method_state, opt_state = method.init(params), opt.init(params)
    losses = [game.losses(params)]
    for _ in range(25):
        direction, method_state = method.update(game.losses, params, method_state)
        updates, opt_state = opt.update(direction, opt_state, params)
        params = optax.apply_updates(params, updates)
        losses.append(game.losses(params))
    np.testing.assert_allclose(np.asarray(traj.losses[0]), np.stack(losses), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose([float(p[0]) for p in traj.params], [float(p) for p in params], rtol=2e-5)


def test_same_key_gives_identical_bits_and_other_key_differs():
    run = lambda k: mixmo.learn(mixmo.games.public_goods(), mixmo.methods.aga(10.0), optax.sgd(0.5),
                                steps=30, seeds=16, key=jax.random.key(k), stop=loss_change_below(1e-3))
    a, b, c = run(0), run(0), run(1)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert np.array_equal(np.asarray(x), np.asarray(y))
    assert not np.array_equal(np.asarray(a.losses), np.asarray(c.losses))


def test_stop_freezes_runs_and_records_the_step():
    traj = mixmo.learn(mixmo.games.balduzzi(), mixmo.methods.sga(1.0), optax.sgd(0.01), steps=50, seeds=4,
                       key=jax.random.key(0), stop=param_change_below(1e-6), record_params=True)
    assert bool(jnp.all(traj.converged))
    stop = np.asarray(traj.stop_step)
    assert np.all((stop > 1) & (stop < 50))
    x = np.asarray(traj.params_path[0])
    for run, s in enumerate(stop):
        assert np.all(x[run, s:] == x[run, s])  # frozen from the stopping step on
        assert not np.all(x[run, s - 1:] == x[run, s])


def test_runs_that_never_stop_report_the_budget():
    traj = mixmo.learn(mixmo.games.balduzzi(), mixmo.methods.simul_ind(), optax.sgd(0.01), steps=10, seeds=3,
                       key=jax.random.key(0), stop=lambda info: info.step > 100)
    assert np.all(np.asarray(traj.stop_step) == 10) and not bool(jnp.any(traj.converged))


def test_stop_sees_step_info():
    seen = {}

    def stop(info):
        seen["info"] = info
        return info.step >= 3

    traj = mixmo.learn(mixmo.games.toy(), mixmo.methods.simul_ind(), steps=8, seeds=2, key=jax.random.key(0), stop=stop)
    assert isinstance(seen["info"], StepInfo)
    assert np.all(np.asarray(traj.stop_step) == 3)


def test_shapes_and_payoffs():
    game = mixmo.games.public_goods(n=3, c=2.0)
    traj = mixmo.learn(game, mixmo.methods.simul_co(), steps=5, seeds=7, key=jax.random.key(0))
    assert traj.losses.shape == (7, 6, 3) and traj.payoffs.shape == (7, 6, 3)
    np.testing.assert_allclose(np.asarray(traj.payoffs), -np.asarray(traj.losses), rtol=1e-6)
    assert traj.params_path is None and traj.method_states == ()


def test_float64_when_enabled():
    with jax.enable_x64(True):
        traj = mixmo.learn(mixmo.games.toy(), mixmo.methods.aga(1.0), steps=3, seeds=2, key=jax.random.key(0))
        assert traj.losses.dtype == jnp.float64
        assert all(leaf.dtype == jnp.float64 for leaf in jax.tree.leaves(traj.params))


def test_projection_is_applied():
    game = mixmo.games.public_goods(parametrization="clip")
    traj = mixmo.learn(game, mixmo.methods.simul_ind(), optax.sgd(1.0), steps=20, seeds=5, key=jax.random.key(0))
    assert np.all(np.asarray(jnp.stack(traj.params)) == 0.0)  # Nash: no contribution, clipped at the bound


@pytest.mark.parametrize("kwargs, fragment", [({"steps": 0, "seeds": 1}, "steps must be"),
                                              ({"steps": 5, "seeds": 0}, "seeds must be")])
def test_learn_validates_budget(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        mixmo.learn(mixmo.games.toy(), mixmo.methods.simul_ind(), key=jax.random.key(0), **kwargs)


def test_integer_parameters_are_refused_with_a_clear_message():
    game = dataclasses.replace(mixmo.games.toy(), init=lambda key: (jnp.array(1), jnp.array(2)))
    with pytest.raises(TypeError, match="floating"):
        mixmo.learn(game, mixmo.methods.simul_ind(), steps=2, seeds=1, key=jax.random.key(0))
