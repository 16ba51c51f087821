"""Reward mixing through the recurrent trainer (`mixmo.rl.make_recurrent_train(..., reward=)`): D3C on Selfish-MMM2,
the `mixed_return` statistic against numpy, and the same refusals as `mixmo.rl.make_train` (selfish mixing
bit-identical to none: test_recurrent.py, beside the trainer it compares with). The small masked environment (smax_helpers.py) keeps most compilations short."""

import dataclasses

import jax
import numpy as np
import pytest
from smax_helpers import MaskedCoins

from mixmo import envs, rl
from mixmo.rl import _mixing

# MaskedCoins episodes last 12 steps: with 8-step rollouts episodes end in the second of two updates
CONFIG = rl.RecurrentConfig(total_steps=32, num_envs=2, num_steps=8, num_minibatches=2, update_epochs=1,
                            hidden=(8,), critic_hidden=(8,), gru_hidden=8, critic="central")
# one-update trials and eps > 0, so every update in which episodes end moves the rows
FAST_D3C = rl.D3CRLConfig(lr=0.5, delta=1.0, tau_min=1, tau_max=1, init_self=0.6, eps=1.0)


@pytest.fixture(scope="module")
def env():
    return MaskedCoins()


def test_d3c_runs_on_selfish_mmm2_and_its_rows_move_after_updates_in_which_episodes_ended():
    # 8-step episodes (the armies meet after about 5 steps): every 8-step rollout ends one per environment
    env = envs.make("selfish_mmm2", max_steps=8)
    config = rl.RecurrentConfig(total_steps=32, num_envs=2, num_steps=8, num_minibatches=1, update_epochs=1,
                                hidden=(8,), critic_hidden=(8,), gru_hidden=8, critic="local")
    mixer = rl.d3c(FAST_D3C)
    key = jax.random.key(0)
    state, metrics = jax.jit(rl.make_recurrent_train(config, env, reward=mixer))(key)
    n = env.num_agents
    assert np.asarray(metrics.finite).all()
    np.testing.assert_array_equal(metrics.episodes, [2, 2])
    rows = np.asarray(metrics.mixing_rows)  # (U, N, N)
    assert rows.shape == (2, n, n) and (rows > 0).all()
    np.testing.assert_allclose(rows.sum(-1), 1.0, rtol=1e-5)
    assert not np.allclose(rows[0], _mixing.initial_rows(n, 0.6), atol=1e-4)
    assert not np.allclose(rows[1], rows[0], atol=1e-4)
    mixed = np.asarray(metrics.episode_stats["mixed_return"])
    raw = np.asarray(metrics.episode_stats["episode_return"])
    assert np.abs(raw).sum() > 0  # the battle dealt damage: not vacuous
    np.testing.assert_allclose(mixed.sum(-1), raw.sum(-1), rtol=1e-5, atol=1e-4)  # budget balance
    # Algorithm 1 replayed by hand from the key Trainer.init gives the mixer, g = the mean mixed episode return
    replay = mixer.init(jax.random.fold_in(key, 1), n)
    for u in range(2):
        replay = mixer.update(replay, mixed[u] / 2)
        np.testing.assert_allclose(rows[u], replay.rows, rtol=1e-5, atol=1e-7)
    assert int(state.mixing.state.t) == 2


def test_mixed_return_is_the_trial_mixed_rewards_summed_over_each_episode(env):
    trainer = rl.make_recurrent_train(CONFIG, env, reward=rl.d3c(FAST_D3C))
    rollout = jax.jit(trainer.rollout)
    state = jax.jit(trainer.init)(jax.random.key(2))
    trial = np.asarray(state.mixing.state.trial)
    assert not np.allclose(trial, np.eye(2), atol=0.05)  # a real perturbation
    rewards, shaped = [], []
    for k in (3, 4):  # 16 steps: the 12-step episodes end in the second rollout (its 4th step) and go on
        state, traj, (episodes, stats) = rollout(state, jax.random.key(k))
        rewards.append(np.asarray(traj.reward))
        shaped.append(np.asarray(traj.shaped))
    reward, shaped = np.concatenate(rewards), np.concatenate(shaped)  # (16, N, E)
    assert np.abs(reward).sum() > 0  # coins were picked up: not vacuous
    mixed = np.einsum("ji,tje->tie", trial, reward)
    np.testing.assert_allclose(shaped, mixed, rtol=1e-5, atol=1e-6)  # the learners see r̃ = Ã^T r
    assert float(episodes) == 2
    np.testing.assert_allclose(stats["mixed_return"], mixed[:12].sum(axis=(0, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats["episode_return"], reward[:12].sum(axis=(0, 2)), rtol=1e-5, atol=1e-5)
    # the next episodes' running mixed returns are carried to the next rollout
    np.testing.assert_allclose(state.mixing.episode_returns, mixed[12:].sum(axis=0), rtol=1e-5, atol=1e-5)


def test_mixing_is_refused_for_readings_that_count_episodes(env):
    episodes = rl.d3c(dataclasses.replace(FAST_D3C, iteration="episode"))
    with pytest.raises(ValueError, match="make_recurrent_train: D3C iteration 'episode' is not supported"):
        rl.make_recurrent_train(CONFIG, env, reward=episodes)
