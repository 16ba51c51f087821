"""The multi-agent PPO trainer: loss wiring by hand, the GameMethod hook against independent references."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mixmo
from rl_helpers import tiny_batch
from mixmo import envs, rl

CONFIG = rl.PPOConfig(total_steps=32, num_envs=2, num_steps=8, num_minibatches=2, update_epochs=1, hidden=(8,),
                      critic_hidden=(8,))


@pytest.fixture(scope="module")
def env():
    return envs.make("cleanup", num_agents=2, max_steps=16)


@pytest.fixture(scope="module")
def rollout(env):
    """A real state, rollout and whole-rollout batch from a tiny Cleanup (2 agents, 2 envs x 8 steps)."""
    return tiny_batch(CONFIG, env)


def _agent(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def test_policy_losses_by_hand():
    probs = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    old_probs = np.array([[0.4, 0.3, 0.2], [0.2, 0.5, 0.6]])
    # zero weights: the logits are the last bias, so the policy is `probs` whatever the observation
    nets = rl.MLP((jnp.zeros((2, 4, 2)), jnp.zeros((2, 2, 3))),
                  (jnp.zeros((2, 2)), jnp.log(jnp.asarray(probs, jnp.float32))))
    actions = np.array([[0, 1], [2, 1]])  # (agents, batch)
    adv = np.array([[1.0, -2.0], [0.5, 1.5]])
    adv_c = np.array([2.0, -1.0])
    old_log_prob = np.log(np.take_along_axis(old_probs, actions, axis=1))
    zeros = jnp.zeros((2, 2))
    mb = rl.Minibatch(obs=jnp.zeros((2, 2, 4)), action=jnp.asarray(actions), log_prob=jnp.asarray(old_log_prob, jnp.float32),
                      advantage=jnp.asarray(adv, jnp.float32),
                      collective_advantage=jnp.broadcast_to(jnp.asarray(adv_c, jnp.float32), (2, 2)),
                      value=zeros, target=zeros, collective_value=zeros, collective_target=zeros)
    individual, collective, (entropy, _) = rl.policy_losses(rl.unstack(nets, 2), mb, 0.2, 0.01)

    def surrogate(i, a):
        ratio = np.take_along_axis(probs, actions, axis=1)[i] / np.exp(old_log_prob[i])
        return -np.mean(np.minimum(ratio * a, np.clip(ratio, 0.8, 1.2) * a))

    h = -np.sum(probs * np.log(probs), axis=1)
    np.testing.assert_allclose(entropy, h, rtol=1e-5)
    np.testing.assert_allclose(individual, [surrogate(i, adv[i]) - 0.01 * h[i] for i in range(2)], rtol=1e-5)
    assert float(collective) == pytest.approx(sum(surrogate(i, adv_c) - 0.01 * h[i] for i in range(2)), rel=1e-5)
    # agent 0, sample 0: ratio 0.5 / 0.4 = 1.25 is clipped to 1.2 for a positive advantage
    assert surrogate(0, np.array([1.0, 0.0])) == pytest.approx(-(1.2 * 1.0 + 0.0) / 2)


def test_advantages_wire_individual_and_collective_gae(env):
    trainer = rl.make_train(CONFIG, env)
    state = jax.jit(trainer.init)(jax.random.key(0))
    rng = np.random.default_rng(0)
    t, n, e = CONFIG.num_steps, 2, CONFIG.num_envs
    f = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)  # noqa: E731
    done = np.zeros((t, e), bool)
    done[3, 0] = done[5, 1] = True
    traj = rl._ppo.Rollout(obs=jnp.broadcast_to(state.obs, (t,) + state.obs.shape), action=jnp.zeros((t, n, e), jnp.int32),
                           log_prob=f(t, n, e), value=f(t, n, e), share=f(t, n, e), reward=f(t, n, e),
                           shaped=f(t, n, e), done=jnp.asarray(done))
    batch = trainer.advantages(state, traj)
    last = np.asarray(rl.apply_stacked(state.critic, state.obs))  # (N, E, 2)

    def gae_loop(r, v, d, last_v):
        out, nxt_a, nxt_v = np.zeros(len(r)), 0.0, last_v
        for k in reversed(range(len(r))):
            keep = 1.0 - d[k]
            nxt_a = r[k] + 0.99 * keep * nxt_v - v[k] + 0.99 * 0.95 * keep * nxt_a
            out[k], nxt_v = nxt_a, v[k]
        return out

    shaped, value, share, reward = (np.asarray(x) for x in (traj.shaped, traj.value, traj.share, traj.reward))
    for i in range(n):
        for j in range(e):
            want = gae_loop(shaped[:, i, j], value[:, i, j], done[:, j], last[i, j, 0])
            got = np.asarray(batch.advantage[i]).reshape(t, e)[:, j]  # samples are time-major, env-minor
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for j in range(e):
        want = gae_loop(reward[:, :, j].sum(1), share[:, :, j].sum(1), done[:, j], last[:, j, 1].sum())
        for i in range(n):  # the collective advantage is the same for every agent
            np.testing.assert_allclose(np.asarray(batch.collective_advantage[i]).reshape(t, e)[:, j], want,
                                       rtol=1e-4, atol=1e-5)


def _step(env, method, state, batch):
    trainer = rl.make_train(CONFIG, env, method)
    return jax.jit(trainer.learn_minibatch)(state, batch)[0].policy


def test_aga_with_lambda_zero_is_simul_co(env, rollout):
    state, _, batch = rollout
    aga0 = _step(env, mixmo.methods.aga(0.0), state, batch)
    co = _step(env, mixmo.methods.simul_co(), state, batch)
    ind = _step(env, mixmo.methods.simul_ind(), state, batch)
    aga100 = _step(env, mixmo.methods.aga(100.0), state, batch)
    for a, c in zip(jax.tree.leaves(aga0), jax.tree.leaves(co)):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-8)
    # and the comparison has teeth: the collective and individual updates differ, as does AgA at lambda 100
    assert not all(np.allclose(c, i) for c, i in zip(jax.tree.leaves(co), jax.tree.leaves(ind)))
    assert not all(np.allclose(c, a) for c, a in zip(jax.tree.leaves(co), jax.tree.leaves(aga100)))


def test_simul_ind_is_single_agent_ppo_per_agent(env, rollout):
    state, _, batch = rollout
    new = _step(env, mixmo.methods.simul_ind(), state, batch)

    @jax.jit  # one program for both agents (op by op, each operation would compile on its own)
    def single_agent_ppo(net, obs, action, old, advantage):
        adv = (advantage - jnp.mean(advantage)) / (jnp.std(advantage) + 1e-8)

        def loss(net):
            log_probs = jax.nn.log_softmax(net(obs))
            log_prob = jnp.take_along_axis(log_probs, action[:, None], axis=1)[:, 0]
            entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, axis=1))
            return rl.clipped_surrogate(log_prob, old, adv, CONFIG.clip) - CONFIG.ent_coef * entropy

        opt = optax.chain(optax.clip_by_global_norm(CONFIG.max_grad_norm), optax.adam(CONFIG.lr))
        updates, _ = opt.update(jax.grad(loss)(net), opt.init(net), net)
        return optax.apply_updates(net, updates)

    for i in range(2):
        net = _agent(state.policy, i)
        want = single_agent_ppo(net, batch.obs[i], batch.action[i], batch.log_prob[i], batch.advantage[i])
        for got, w, before in zip(jax.tree.leaves(_agent(new, i)), jax.tree.leaves(want), jax.tree.leaves(net)):
            np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-7)
        assert not all(np.allclose(w, b) for w, b in zip(jax.tree.leaves(want), jax.tree.leaves(net)))


def test_sl_shapes_the_rollout_rewards(env):
    trainer = rl.make_train(CONFIG, env, reward=rl.sl(0.5))
    state = jax.jit(trainer.init)(jax.random.key(0))
    _, traj, _ = jax.jit(trainer.rollout)(state, jax.random.key(2))
    reward = np.asarray(traj.reward)
    np.testing.assert_allclose(traj.shaped, reward + 0.5 * reward.sum(axis=1, keepdims=True), rtol=1e-6)
    assert np.abs(reward).sum() > 0  # random agents fire and get fined: the check is not vacuous


def test_train_vmaps_over_seeds(env):
    trainer = rl.make_train(CONFIG, env, mixmo.methods.simul_ind())
    keys = jax.random.split(jax.random.key(5), 2)
    states, metrics = jax.jit(jax.vmap(trainer))(keys)
    assert metrics.policy_loss.shape == (2, CONFIG.num_updates) == (2, 2)
    assert bool(jnp.all(metrics.finite)) and states.update.tolist() == [2, 2]
    # 16-step episodes, 8 steps per update in 2 envs: both episodes end at the second update
    np.testing.assert_array_equal(metrics.episodes, [[0, 2], [0, 2]])
    returns = metrics.episode_stats["episode_return"]
    assert returns.shape == (2, 2, 2) and not np.allclose(returns[0], returns[1])  # seeds differ
    assert {"apples_eaten", "cleaning_actions", "beams_fired"} <= set(metrics.episode_stats)


def test_config_validation_names_the_problem():
    with pytest.raises(ValueError, match="num_minibatches"):
        rl.make_train(rl.PPOConfig(num_envs=3, num_steps=5, num_minibatches=2, total_steps=30), envs.make("harvest"))
    with pytest.raises(ValueError, match="total_steps"):
        rl.PPOConfig(total_steps=10).validate()
    assert math.isfinite(rl.PPOConfig().lr)
