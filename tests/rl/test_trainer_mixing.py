"""Reward mixing inside the trainer (D3C Algorithms 1 and 3): what the learners see, budget balance, the mixer's g."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixmo import config as config_tree
from mixmo import envs, rl
from mixmo.config import ConfigError
from mixmo.experiments.d3c.rl import D3CRLExperimentConfig
from mixmo.rl import _mixing
from mixmo.rl._train_state import Mixing

# 16-step episodes and 8-step unrolls: episodes end in every second update, so the mixer must skip the others
CONFIG = rl.A2CConfig(total_steps=64, num_envs=2, num_steps=8, hidden=(8,), critic_hidden=(8,))
FAST_D3C = rl.D3CRLConfig(lr=0.5, delta=1.0, tau_min=1, tau_max=2, init_self=0.6, eps=0.0)


@pytest.fixture(scope="module")
def env():
    return envs.make("cleanup", num_agents=3, max_steps=16)


def _rollout(env, mixer):
    trainer = rl.make_train(CONFIG, env, reward=mixer)
    state = jax.jit(trainer.init)(jax.random.key(0))
    return jax.jit(trainer.rollout)(state, jax.random.key(1))


def test_cooperative_learners_see_the_mean_reward_and_d3c_is_budget_balanced(env):
    _, traj, _ = _rollout(env, rl.cooperative())
    reward = np.asarray(traj.reward)  # (T, N, E)
    assert np.abs(reward).sum() > 0  # random agents fire and get fined: not vacuous
    np.testing.assert_allclose(traj.shaped, np.broadcast_to(reward.mean(axis=1, keepdims=True), reward.shape),
                               rtol=1e-6, atol=1e-6)
    state, traj, _ = _rollout(env, rl.d3c(FAST_D3C))
    trial = np.asarray(state.mixing.state.trial)
    assert not np.allclose(trial, np.eye(3), atol=0.05)  # a real perturbation
    np.testing.assert_allclose(traj.shaped, np.einsum("ji,tje->tie", trial, np.asarray(traj.reward)), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(traj.shaped).sum(axis=1), np.asarray(traj.reward).sum(axis=1), rtol=1e-5,
                               atol=1e-5)


# slow: smax/test_recurrent.py's checks the same, faster (its plain run is shared), on the same one trainer
@pytest.mark.slow
def test_selfish_mixing_is_bit_identical_to_no_mixing(env):
    key = jax.random.key(7)
    plain_state, plain = jax.jit(rl.make_train(CONFIG, env))(key)
    mixed_state, mixed = jax.jit(rl.make_train(CONFIG, env, reward=rl.selfish()))(key)
    for a, b in zip(jax.tree.leaves((plain_state.policy, plain_state.critic)),
                    jax.tree.leaves((mixed_state.policy, mixed_state.critic))):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain.policy_loss, mixed.policy_loss)
    np.testing.assert_array_equal(mixed.episode_stats["mixed_return"], mixed.episode_stats["episode_return"])
    assert np.abs(mixed.episode_stats["episode_return"]).sum() > 0
    assert plain.mixing_rows is None and mixed.mixing_rows.shape == (4, 3, 3)


def test_d3c_rows_stay_on_the_simplex_and_follow_algorithm_1_with_the_mean_mixed_episode_return(env):
    mixer = rl.d3c(FAST_D3C)
    trainer = rl.make_train(CONFIG, env, reward=mixer)
    key = jax.random.key(11)
    state, metrics = jax.jit(trainer)(key)
    rows = np.asarray(metrics.mixing_rows)  # (U, N, N)
    np.testing.assert_allclose(rows.sum(-1), 1.0, rtol=1e-5)
    assert (rows > 0).all() and not np.allclose(rows[-1], _mixing.initial_rows(3, 0.6), atol=1e-3)
    episodes = np.asarray(metrics.episodes)
    np.testing.assert_array_equal(episodes, [0, 2, 0, 2])
    mixed = np.asarray(metrics.episode_stats["mixed_return"])
    # budget balance over whole episodes, under the trial rows of each episode
    np.testing.assert_allclose(mixed.sum(-1), np.asarray(metrics.episode_stats["episode_return"]).sum(-1), rtol=1e-5,
                               atol=1e-4)
    # replay Algorithm 1 by hand: g = mean mixed episode return, only in the updates where episodes ended
    replay = mixer.init(jax.random.fold_in(key, 1), 3)
    for u in range(CONFIG.num_updates):
        if episodes[u] > 0:
            replay = mixer.update(replay, mixed[u] / episodes[u])
        np.testing.assert_allclose(rows[u], replay.rows, rtol=1e-5, atol=1e-7)
    assert int(state.mixing.state.t) == 2  # the mixer's clock advanced only twice


@pytest.mark.parametrize("g_scale", ["mean", "total"])
def test_the_mixer_step_passes_the_episode_count_so_g_can_be_the_batch_total(env, g_scale):
    """D3CRLConfig.g_scale in the A2C/PPO trainer: g = the mean mixed episode return over the episodes that ended,
    or their total (Algorithm 1 fed the sums); the mixer does not move when no episode ended."""
    config = dataclasses.replace(FAST_D3C, g_scale=g_scale, tau_min=1, tau_max=1)
    trainer = rl.make_train(CONFIG, env, reward=rl.d3c(config))
    plain = rl.d3c(dataclasses.replace(config, g_scale="mean"))
    state = plain.init(jax.random.key(3), 3)
    sums = jnp.array([6.0, -3.0, 1.5])
    stepped = trainer._transform_step(Mixing(state, jnp.zeros((3, 2))), jnp.float32(2.0), sums).state
    expected = plain.update(state, sums if g_scale == "total" else sums / 2)
    for a, b in zip(jax.tree.leaves(stepped), jax.tree.leaves(expected)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    idle = trainer._transform_step(Mixing(state, jnp.zeros((3, 2))), jnp.float32(0.0), jnp.zeros(3)).state
    for a, b in zip(jax.tree.leaves(idle), jax.tree.leaves(state)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("iteration", ["episode", "episodes-slope-per-update"])
def test_readings_that_count_episodes_are_refused_by_the_a2c_trainer_and_its_experiments(env, iteration):
    d3c = dataclasses.replace(FAST_D3C, iteration=iteration)
    with pytest.raises(ValueError, match=f"make_train \\(A2C/PPO\\): D3C iteration '{iteration}' is not supported"):
        rl.make_train(CONFIG, env, reward=rl.d3c(d3c))
    with pytest.raises(ConfigError, match=f"D3C iteration '{iteration}' is not supported here; use 'update'"):
        config_tree.validate(D3CRLExperimentConfig(d3c=d3c))
    config_tree.validate(D3CRLExperimentConfig(d3c=dataclasses.replace(FAST_D3C, g_scale="total")))
