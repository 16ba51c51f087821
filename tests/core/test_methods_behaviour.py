"""Hand-made cases where the answer is known in closed form, and the classic games."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mixmo
from mixmo.methods import _derivatives as D


def one_player_quadratic(h):
    # l = h x^2 / 2 at x = 1: xi = xi_c = h, grad H_c = h^2, AgA criterion = h^3 (h^3 + h^4) = h^6 (1 + h).
    return lambda p: jnp.stack([0.5 * h * p[0] ** 2])


@pytest.mark.parametrize("h, sign", [(2.0, 1.0), (-0.5, 1.0), (-2.0, -1.0), (-3.0, -1.0)])
def test_aga_sign_rule_on_hand_cases(h, sign):
    lam = 0.25
    (d,), _ = mixmo.methods.aga(lam).update(one_player_quadratic(h), (jnp.array(1.0),), ())
    assert float(d) == pytest.approx(h + sign * lam * (h + h**2))
    (d_unaligned,), _ = mixmo.methods.aga(lam, align=False).update(one_player_quadratic(h), (jnp.array(1.0),), ())
    assert float(d_unaligned) == pytest.approx(h + lam * (h + h**2))


def test_aga_sign_of_zero_is_positive():
    # Zero-sum: xi_c = 0 and grad H_c = 0, so the criterion is exactly 0 and lambda keeps its + sign.
    losses = lambda p: jnp.stack([p[0] * p[1], -p[0] * p[1]])
    d, _ = mixmo.methods.aga(3.0).update(losses, (jnp.array(1.0), jnp.array(2.0)), ())
    assert [float(v) for v in d] == [6.0, -3.0]


def test_sga_on_balduzzi_game_is_exact():
    # J = [[1, k], [-k, 1]] so A^T J = 100 I - A: with lambda = 1 the direction is 101 * w.
    game = mixmo.games.balduzzi()
    w = (jnp.array(0.6), jnp.array(-0.8))
    d, _ = mixmo.methods.sga(1.0).update(game.losses, w, ())
    np.testing.assert_allclose([float(v) for v in d], [101 * 0.6, 101 * -0.8], rtol=1e-5)


def _distance_after(method, lr, steps=100):
    traj = mixmo.learn(mixmo.games.balduzzi(), method, optax.sgd(lr), steps=steps, seeds=8, key=jax.random.key(1))
    x, y = traj.params
    return np.sqrt(np.asarray(x) ** 2 + np.asarray(y) ** 2)  # starts are on the unit circle


def test_balduzzi_sga_goes_straight_in_simul_ind_crawls():
    assert np.all(_distance_after(mixmo.methods.sga(1.0), 0.01) < 1e-3)
    assert np.all(_distance_after(mixmo.methods.simul_ind(), 0.01) > 0.5)


def test_balduzzi_simul_ind_diverges_at_lr_0_1():
    assert np.all(_distance_after(mixmo.methods.simul_ind(), 0.1, steps=20) > 10.0)


def test_methods_accept_pytrees_and_many_players():
    def losses(p):
        a, b, c = p
        return jnp.stack([jnp.sum(a["u"] ** 2) + jnp.sum(b), jnp.sum(b**2) - jnp.sum(a["u"]) * c, c**2 + jnp.sum(b)])

    params = ({"u": jnp.ones(3)}, jnp.arange(2.0), jnp.array(0.5))
    for method in [mixmo.methods.simul_ind(), mixmo.methods.simul_co(), mixmo.methods.cga(1.0),
                   mixmo.methods.sga(1.0), mixmo.methods.aga(1.0), mixmo.methods.svo(1.0), mixmo.methods.sl(0.5)]:
        d, _ = jax.jit(method.update, static_argnums=0)(losses, params, method.init(params))
        assert jax.tree.structure(d) == jax.tree.structure(params)
        assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(d))


def test_simultaneous_and_collective_share_one_forward_pass():
    calls = []

    def losses(p):
        calls.append(1)
        return jnp.stack([p[0] * p[1], p[1] ** 2])

    D.simultaneous_and_collective(losses, (jnp.array(1.0), jnp.array(2.0)))
    assert len(calls) == 1


@pytest.mark.parametrize("factory, kwargs, fragment", [
    (mixmo.methods.cga, {"lam": -1.0}, "cga: lam must be >= 0"),
    (mixmo.methods.aga, {"lam": float("nan")}, "aga: lam must be finite"),
    (mixmo.methods.aga, {"lam": "big"}, "aga: lam must be a real number"),
    (mixmo.methods.svo, {"weight": 1.0, "angle_deg": 200.0}, "angle_deg must be in"),
    (mixmo.methods.sl, {"alpha": -0.1}, "sl: alpha must be >= 0"),
])
def test_factories_validate_arguments(factory, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        factory(**kwargs)
