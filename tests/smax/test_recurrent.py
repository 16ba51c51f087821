"""The recurrent multi-agent PPO (`mixmo.rl.make_recurrent_train`): the GameMethod hook (AgA at lambda = 0
updates exactly as Simul-Co), masked actions never sampled, the GRU replay reproducing the rollout's
log-probabilities, determinism, and clear errors. A small environment (D3C's Coins, with an action mask and a
global state added, in smax_helpers.py) keeps compilation short; the Selfish-MMM2 run is in test_cli_smax.py."""

import dataclasses

import jax
import numpy as np
import pytest
from smax_helpers import MaskedCoins

import mixmo
from mixmo import rl
from mixmo.envs import make
from mixmo.rl._batching import unstack
from mixmo.rl._recurrent import recurrent_policy_losses

# MaskedCoins episodes last 12 steps: with 8-step rollouts episodes end in the second of two updates
CONFIG = rl.RecurrentConfig(total_steps=64, num_envs=4, num_steps=8, num_minibatches=2, update_epochs=2,
                            hidden=(8,), critic_hidden=(8,), gru_hidden=8, critic="central")


@pytest.fixture(scope="module")
def env():
    return MaskedCoins()


@pytest.fixture(scope="module")
def simul_co(env):
    trainer = rl.make_recurrent_train(CONFIG, env, mixmo.methods.simul_co())
    return trainer, jax.jit(trainer)


def test_aga_at_lambda_zero_updates_exactly_as_simul_co(env, simul_co):
    _, run_co = simul_co
    aga = rl.make_recurrent_train(CONFIG, env, mixmo.methods.aga(0.0))
    key = jax.random.key(3)
    state_co, metrics_co = run_co(key)
    state_aga, metrics_aga = jax.jit(aga)(key)
    for a, b in zip(jax.tree.leaves(state_co.policy), jax.tree.leaves(state_aga.policy), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    # the policies moved: the comparison is not between two untouched initialisations
    fresh = jax.jit(aga.init)(key).policy
    assert not np.allclose(np.asarray(fresh.w_out), np.asarray(state_aga.policy.w_out))
    np.testing.assert_allclose(np.asarray(metrics_co.collective_loss), np.asarray(metrics_aga.collective_loss),
                               rtol=1e-5, atol=1e-7)


def test_selfish_mixing_is_bit_identical_to_no_mixing(env, simul_co):
    _, plain_run = simul_co
    key = jax.random.key(7)
    plain_state, plain = plain_run(key)
    selfish = rl.make_recurrent_train(CONFIG, env, mixmo.methods.simul_co(), reward=rl.selfish())
    mixed_state, mixed = jax.jit(selfish)(key)
    assert plain_state.mixing is None and plain.mixing_rows is None
    for a, b in zip(jax.tree.leaves(plain_state), jax.tree.leaves(mixed_state._replace(mixing=None)), strict=True):
        np.testing.assert_array_equal(a, b)
    stats = mixed.episode_stats
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(mixed._replace(
            mixing_rows=None, episode_stats={k: v for k, v in stats.items() if k != "mixed_return"})), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(stats["mixed_return"], stats["episode_return"])
    np.testing.assert_array_equal(mixed.episodes, [0, 4])  # not vacuous: the 4 environments' episodes ended
    assert np.abs(stats["episode_return"]).sum() > 0  # with rewards in them
    np.testing.assert_array_equal(mixed.mixing_rows, np.broadcast_to(np.eye(2), (2, 2, 2)))


def test_same_key_same_bits_and_another_key_differs(simul_co):
    _, run = simul_co
    first = jax.tree.leaves(run(jax.random.key(5)))
    again = jax.tree.leaves(run(jax.random.key(5)))
    other = jax.tree.leaves(run(jax.random.key(6)))
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(first, again, strict=True))
    assert not all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(first, other, strict=True))


def test_masked_actions_are_never_taken_and_the_gru_replay_matches_the_rollout(simul_co):
    trainer, _ = simul_co

    @jax.jit
    def check(key):
        state = trainer.init(key)
        h0 = trainer.policy.reset(state.carry, state.first)
        after, traj, (episodes, _) = trainer.rollout(state, key)
        seq = trainer.advantages(after, traj, h0)
        _, _, (entropy, approx_kl) = recurrent_policy_losses(unstack(state.policy, 2), seq, 0.2, 0.01)
        return traj.action, seq.first, approx_kl, entropy

    actions, first, approx_kl, entropy = check(jax.random.key(0))
    actions = np.asarray(actions)  # (T, N, E)
    assert (actions[:, 1] != 0).all()  # agent_1's action 0 is masked
    assert (actions[:, 0] == 0).any()  # agent_0's is not
    assert np.asarray(first)[:, 0].all()  # every sequence starts an episode after the reset
    # replaying the stored sequences from their initial GRU states gives the rollout's log-probabilities
    np.testing.assert_allclose(np.asarray(approx_kl), 0.0, atol=1e-6)
    assert float(entropy[1]) < np.log(5) and float(entropy[1]) > 0


def test_bad_configurations_name_the_fix(env):
    with pytest.raises(ValueError, match="num_envs=3 is not divisible by num_minibatches=2"):
        rl.make_recurrent_train(rl.RecurrentConfig(total_steps=48, num_envs=3, num_steps=16, num_minibatches=2), env)
    with pytest.raises(ValueError, match="critic must be one of"):
        rl.make_recurrent_train(rl.RecurrentConfig(critic="global"), env)
    with pytest.raises(ValueError, match="has none: use critic='local'"):
        rl.make_recurrent_train(rl.RecurrentConfig(), make("coins"))


def test_the_kl_stop_works_with_recurrent_policies_too(env):
    """One trainer for feed-forward and recurrent policies: stable-baselines3's KL early stop holds for GRU policies
    (the first step's KL is taken before it, zero; every later one exceeds 1.5 * 1e-12, so exactly one step of the
    update runs), here with a collective reward of one's own (the feed-forward tests check what it computes)."""
    config = dataclasses.replace(CONFIG, target_kl=1e-12)
    trainer = rl.make_recurrent_train(config, env, mixmo.methods.simul_co(),
                                      collective_reward=lambda rewards: rewards[:, 0])
    metrics = jax.jit(trainer)(jax.random.key(3))[1]
    np.testing.assert_allclose(np.asarray(metrics.steps_taken), 1 / (config.update_epochs * config.num_minibatches))
    assert np.all(np.isfinite(np.asarray(metrics.collective_loss)))
