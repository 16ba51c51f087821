"""The one reward transform (`mixmo.rl.RewardTransform`) against numpy references, and the one actor-critic trainer
running a feed-forward and a recurrent policy with the metrics they gave before the trainers were merged."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mixmo
from mixmo import envs, rl

REWARDS = np.array([[1.0, 0.0, -2.0], [0.0, -1.0, 0.5], [2.0, 0.0, 0.25]], np.float32)  # (agents, envs)
RETURNS = np.array([[2.0, 0.0, -1.0], [1.0, -1.0, 0.0], [0.0, 0.0, 3.0]], np.float32)


def _svo(weight, angle, r, big_r):
    others = (big_r.sum(0, keepdims=True) - big_r) / (len(r) - 1)
    theta = np.where((big_r == 0) & (others == 0), math.pi / 4, np.arctan2(others, big_r))
    return r - weight * np.abs(math.radians(angle) - theta)


def _svo_e1(alpha, r, big_r):
    del big_r
    return r - alpha * (1.0 - np.arctan2(r.sum(0, keepdims=True) - r, r))


SHAPINGS = {
    "sl": (rl.sl(0.5), lambda r, big_r: r + 0.5 * r.sum(0, keepdims=True)),
    "svo": (rl.svo(0.3, 30.0), lambda r, big_r: _svo(0.3, 30.0, r, big_r)),
    "svo_e1": (rl.svo_e1(0.2), lambda r, big_r: _svo_e1(0.2, r, big_r)),
}


@pytest.mark.parametrize("name", sorted(SHAPINGS))
def test_shaping_applies_its_formula_and_its_update_is_the_identity(name):
    transform, reference = SHAPINGS[name]
    assert isinstance(transform, rl.RewardTransform) and not transform.mixes
    assert transform.rows is None and transform.matrix is None and transform.iteration == "update"
    state = transform.init(jax.random.key(0), 3)
    assert state == ()
    np.testing.assert_allclose(transform.apply(state, jnp.asarray(REWARDS), jnp.asarray(RETURNS)),
                               reference(REWARDS, RETURNS), rtol=1e-6, atol=1e-6)
    assert transform.update(state, jnp.ones(3), 4) is state


def _d3c():
    return rl.d3c(rl.D3CRLConfig(lr=0.5, delta=1.0, tau_min=1, tau_max=2, init_self=0.6, eps=0.0))


@pytest.mark.parametrize("name", ["selfish", "cooperative", "fixed", "d3c"])
def test_mixing_applies_the_transposed_matrix_and_reports_its_rows(name):
    skew = np.array([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.1, 0.2, 0.7]], np.float32)
    transform = {"selfish": rl.selfish, "cooperative": rl.cooperative, "d3c": _d3c,
                 "fixed": lambda: rl.fixed("skew", lambda n: jnp.asarray(skew))}[name]()
    assert isinstance(transform, rl.RewardTransform) and transform.mixes
    state = transform.init(jax.random.key(1), 3)
    matrix = np.asarray(transform.matrix(state))
    want = {"selfish": np.eye(3), "cooperative": np.full((3, 3), 1 / 3), "fixed": skew}.get(name, matrix)
    np.testing.assert_allclose(matrix, want, rtol=1e-6)
    mixed = np.asarray(transform.apply(state, jnp.asarray(REWARDS), jnp.asarray(RETURNS)))
    np.testing.assert_allclose(mixed, np.einsum("ji,je->ie", matrix, REWARDS), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mixed.sum(0), REWARDS.sum(0), rtol=1e-5, atol=1e-6)  # budget-balanced
    np.testing.assert_allclose(transform.rows(state), matrix if name != "d3c" else state.rows, rtol=1e-6)


def test_shaping_in_reinforce_sees_the_running_episode_returns():
    """REINFORCE applies a shaping transform per step with the running returns (cumulative along time)."""
    env = envs.make("trust_your_brother")
    trainer = rl.make_reinforce(rl.ReinforceConfig(num_updates=1, episodes=2), env, rl.svo(0.3))
    reward = jax.random.normal(jax.random.key(2), (5, 2, 2))  # (T, n, B)
    _, trial, mixed, g = trainer._mix((), reward)
    r = np.moveaxis(np.asarray(reward), 1, 0)  # (n, T, B)
    want = np.moveaxis(_svo(0.3, 45.0, r, np.cumsum(r, axis=1)), 0, 1)
    np.testing.assert_allclose(mixed, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(trial, np.eye(2))
    np.testing.assert_allclose(g, want.sum(0).mean(-1), rtol=1e-5)


# Recorded with the trainers before they were merged (commit a766d90: make_train(..., mixer=d3c) and
# make_recurrent_train(..., shaping=svo)); the merged trainer reproduces them bit for bit on the project's CPU.
BEFORE = {
    "ff_d3c": {"policy_loss": [-0.016043830662965775, -0.016044288873672485],
               "value_loss": [0.3955317735671997, 1.049362301826477],
               "mixed_return": [[0.0, 0.0], [-2.0988271236419678, -0.9011730551719666]],
               "mixing_rows": [[[0.6000000238418579, 0.4000000059604645], [0.4000000059604645, 0.6000000238418579]],
                               [[0.6854378581047058, 0.3145621418952942], [0.3346371352672577, 0.6653628349304199]]]},
    "gru_svo": {"policy_loss": [-0.016042493283748627, -0.01589287631213665],
                "value_loss": [3.879845142364502, 11.018316268920898],
                "episode_return": [[0.0, 0.0], [1.0, -5.0]]},
}


def test_one_trainer_runs_a_feed_forward_and_a_recurrent_policy_as_before():
    env = envs.make("coins", max_steps=16)
    sizes = dict(total_steps=32, num_envs=2, num_steps=8, num_minibatches=2, update_epochs=1, hidden=(8,),
                 critic_hidden=(8,))
    d3c = rl.d3c(rl.D3CRLConfig(lr=0.5, delta=1.0, tau_min=1, tau_max=2, init_self=0.6, eps=0.0))
    feed_forward = rl.make_train(rl.PPOConfig(**sizes), env, mixmo.methods.simul_co(), d3c)
    recurrent = rl.make_recurrent_train(rl.RecurrentConfig(**sizes, gru_hidden=8, critic="local"), env,
                                        mixmo.methods.simul_co(), rl.svo(0.3))
    assert type(feed_forward) is type(recurrent) is rl.Trainer
    assert type(feed_forward.policy) is not type(recurrent.policy)
    for name, trainer in (("ff_d3c", feed_forward), ("gru_svo", recurrent)):
        _, metrics = jax.jit(trainer)(jax.random.key(0))
        for key, want in BEFORE[name].items():
            got = metrics.episode_stats[key] if key in metrics.episode_stats else getattr(metrics, key)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=f"{name} {key}")
        assert ("mixed_return" in metrics.episode_stats) == (name == "ff_d3c")
        assert (metrics.mixing_rows is None) == (name == "gru_svo")


def test_recurrent_config_refuses_feed_forward_options():
    for options in ({"network": "cnn"}, {"frame_stack": 4}):
        config = dataclasses.replace(rl.RecurrentConfig(), **options)
        with pytest.raises(ValueError, match="feed-forward options"):
            config.validate()
