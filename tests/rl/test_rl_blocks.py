"""RL building blocks against plain Python: GAE by loops, the PPO loss by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixmo.rl._gae import gae
from mixmo.rl._ppo_loss import clipped_surrogate, clipped_value_loss, normalise


def gae_loop(rewards, values, dones, last_value, gamma, lam):
    T = len(rewards)
    advantages = np.zeros(T)
    next_adv, next_value = 0.0, last_value
    for t in reversed(range(T)):
        keep = 1.0 - dones[t]
        delta = rewards[t] + gamma * keep * next_value - values[t]
        next_adv = delta + gamma * lam * keep * next_adv
        advantages[t] = next_adv
        next_value = values[t]
    return advantages, advantages + values


@pytest.mark.parametrize("seed", range(3))
def test_gae_matches_python_loop(seed):
    rng = np.random.default_rng(seed)
    T = 17
    rewards, values = rng.normal(size=T), rng.normal(size=T)
    dones = (rng.random(T) < 0.2).astype(np.float32)
    last = float(rng.normal())
    adv, ret = gae(jnp.array(rewards), jnp.array(values), jnp.array(dones), jnp.array(last), 0.97, 0.9)
    want_adv, want_ret = gae_loop(rewards, values, dones, last, 0.97, 0.9)
    np.testing.assert_allclose(np.asarray(adv), want_adv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ret), want_ret, rtol=1e-5, atol=1e-5)


def test_gae_broadcasts_over_envs_and_agents():
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(9, 3, 2))
    values = rng.normal(size=(9, 3, 2))
    dones = (rng.random((9, 3, 1)) < 0.3) * np.ones((1, 1, 2))
    last = rng.normal(size=(3, 2))
    adv, _ = gae(jnp.array(rewards), jnp.array(values), jnp.array(dones), jnp.array(last), 0.99, 0.95)
    for e in range(3):
        for a in range(2):
            want, _ = gae_loop(rewards[:, e, a], values[:, e, a], dones[:, e, a], last[e, a], 0.99, 0.95)
            np.testing.assert_allclose(np.asarray(adv[:, e, a]), want, rtol=1e-5, atol=1e-5)


def test_gae_lambda_one_gives_discounted_return_minus_value():
    rewards = jnp.array([1.0, 2.0, 3.0])
    values = jnp.array([0.5, 0.1, -0.2])
    adv, ret = gae(rewards, values, jnp.zeros(3), jnp.array(4.0), 0.5, 1.0)
    np.testing.assert_allclose(np.asarray(ret), [1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4, 2 + 1.5 + 1.0, 3 + 2.0], rtol=1e-6)


def test_clipped_surrogate_by_hand():
    log_prob = jnp.log(jnp.array([0.5, 0.9, 0.1, 0.3]))
    old = jnp.log(jnp.array([0.4, 0.5, 0.2, 0.3]))
    adv = jnp.array([1.0, 2.0, -1.0, 0.5])
    # ratios 1.25, 1.8, 0.5, 1.0 with eps 0.2: min(r A, clip(r) A) = 1.2, 2.4, -0.8, 0.5
    assert float(clipped_surrogate(log_prob, old, adv, 0.2)) == pytest.approx(-(1.2 + 2.4 - 0.8 + 0.5) / 4, rel=1e-6)


def test_clipped_value_loss_by_hand():
    v, old, ret = jnp.array([1.0, 0.0]), jnp.array([0.0, 0.0]), jnp.array([2.0, 1.0])
    # clipped V = [0.2, 0]: max((1-2)^2, (0.2-2)^2) = 3.24; max(1, 1) = 1
    assert float(clipped_value_loss(v, old, ret, 0.2)) == pytest.approx(0.5 * (3.24 + 1.0) / 2)


def test_normalise():
    x = normalise(jnp.array([1.0, 2.0, 3.0, 4.0]))
    assert float(jnp.mean(x)) == pytest.approx(0.0, abs=1e-6) and float(jnp.std(x)) == pytest.approx(1.0, rel=1e-4)


def test_gae_is_jittable():
    f = jax.jit(lambda r: gae(r, jnp.zeros(4), jnp.zeros(4), jnp.array(0.0), 0.9, 0.9)[0])
    assert f(jnp.ones(4)).shape == (4,)
