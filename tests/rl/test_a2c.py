"""A2C with V-trace (D3C Appx. G.1): losses by hand, targets against a plain V-trace loop, the GameMethod hook."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mixmo
from rl_helpers import tiny_batch
from mixmo import envs, rl

CONFIG = rl.A2CConfig(total_steps=32, num_envs=2, num_steps=8, hidden=(8,), critic_hidden=(8,))


@pytest.fixture(scope="module")
def env():
    return envs.make("cleanup", num_agents=2, max_steps=16)


@pytest.fixture(scope="module")
def rollout(env):
    """A real state and whole-rollout batch of a tiny A2C on Cleanup (2 agents, 2 envs x 8 steps)."""
    return tiny_batch(CONFIG, env)


def test_a2c_losses_and_optimiser_by_hand():
    probs = np.array([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]])
    nets = rl.MLP((jnp.zeros((2, 4, 2)), jnp.zeros((2, 2, 3))),
                  (jnp.zeros((2, 2)), jnp.log(jnp.asarray(probs, jnp.float32))))
    actions = np.array([[0, 1], [2, 1]])
    adv = np.array([[1.0, -2.0], [0.5, 1.5]])
    adv_c = np.array([2.0, -1.0])
    zeros = jnp.zeros((2, 2))
    mb = rl.Minibatch(obs=jnp.zeros((2, 2, 4)), action=jnp.asarray(actions), log_prob=jnp.full((2, 2), -9.0),
                      advantage=jnp.asarray(adv, jnp.float32),
                      collective_advantage=jnp.broadcast_to(jnp.asarray(adv_c, jnp.float32), (2, 2)),
                      value=zeros, target=zeros, collective_value=zeros, collective_target=zeros)
    individual, collective, (entropy, _) = rl.policy_losses(rl.unstack(nets, 2), mb, CONFIG.surrogate, 0.003)
    log_p = np.log(np.take_along_axis(probs, actions, axis=1))
    h = -np.sum(probs * np.log(probs), axis=1)
    # -mean(log pi(a) A) - 0.003 H; the behaviour log-probabilities (-9) play no part on-policy
    np.testing.assert_allclose(individual, [-np.mean(log_p[i] * adv[i]) - 0.003 * h[i] for i in range(2)], rtol=1e-5)
    assert float(collective) == pytest.approx(sum(-np.mean(log_p[i] * adv_c) - 0.003 * h[i] for i in range(2)),
                                              rel=1e-5)
    # baseline: 0.5 (Table 2's scaling) * 1/2 mean squared error
    value, target = jnp.asarray([1.0, 2.0, 4.0]), jnp.asarray([0.0, 2.0, 1.0])
    assert float(CONFIG.value_loss(value, None, target)) == pytest.approx(0.5 * 0.5 * (1 + 0 + 9) / 3)
    # RMSProp (Table 2): nu = (1 - 0.99) g^2 from zero, step -lr g / sqrt(nu + eps), eps inside the root
    g = jnp.asarray([0.3, -2.0])
    step, _ = CONFIG.optimizer(4e-4).update(g, CONFIG.optimizer(4e-4).init(g))
    np.testing.assert_allclose(step, -4e-4 * g / np.sqrt(0.01 * g**2 + 1e-5), rtol=1e-5)


def _vtrace_loop(r, v, d, last, gamma):
    """V-trace (IMPALA eq. 1) with rho = c = 1, written out: v_s = V(x_s) + sum_t gamma^(t-s) (prod c) delta_t,
    traces cut at episode ends; the policy-gradient advantage r_s + gamma v_{s+1} - V(x_s)."""
    t_len = len(r)
    nxt = np.append(v[1:], last)
    delta = r + gamma * (1 - d) * nxt - v
    targets = np.zeros(t_len)
    for s in range(t_len):
        total, discount = v[s], 1.0
        for t in range(s, t_len):
            total += discount * delta[t]
            if d[t]:
                break
            discount *= gamma  # * c_t = 1
        targets[s] = total
    nxt_target = np.append(targets[1:], last)
    advantages = r + gamma * (1 - d) * nxt_target - v
    return advantages, targets


def test_vtrace_targets_match_a_plain_loop_and_the_n_step_return():
    rng = np.random.default_rng(3)
    t_len, gamma = 12, 0.98
    r, v = rng.normal(size=t_len), rng.normal(size=t_len)
    d = np.zeros(t_len)
    d[4] = 1.0
    last = 0.7
    adv, targets = rl.vtrace_on_policy(jnp.asarray(r), jnp.asarray(v), jnp.asarray(d), jnp.asarray(last), gamma)
    want_adv, want_targets = _vtrace_loop(r, v, d, last, gamma)
    np.testing.assert_allclose(targets, want_targets, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(adv, want_adv, rtol=1e-5, atol=1e-6)
    # the same as the n-step bootstrapped return: discounted rewards to the episode end (step 4) or to the unroll's
    # end, then the bootstrap value
    s = 6
    n_step = sum(gamma ** (t - s) * r[t] for t in range(s, t_len)) + gamma ** (t_len - s) * last
    assert float(targets[s]) == pytest.approx(n_step, rel=1e-5)
    assert float(targets[1]) == pytest.approx(sum(gamma ** (t - 1) * r[t] for t in range(1, 5)), rel=1e-5)


def _step(env, method, state, batch):
    trainer = rl.make_train(CONFIG, env, method)
    return jax.jit(trainer.learn_minibatch)(state, batch)[0].policy


def test_a2c_targets_are_wired_as_lambda_one(env, rollout):
    state, traj, batch = rollout
    last = rl.apply_stacked(state.critic, state.obs)
    adv, _ = rl.gae(traj.shaped, traj.value, traj.done[:, None, :], last[..., 0], CONFIG.gamma, 1.0)
    np.testing.assert_allclose(batch.advantage, jnp.swapaxes(adv, 0, 1).reshape(2, -1), rtol=1e-6)


def test_a2c_with_aga_at_lambda_zero_is_simul_co_and_simul_ind_is_rmsprop_a2c(env, rollout):
    state, _, batch = rollout
    aga0 = _step(env, mixmo.methods.aga(0.0), state, batch)
    co = _step(env, mixmo.methods.simul_co(), state, batch)
    ind = _step(env, mixmo.methods.simul_ind(), state, batch)
    for a, c in zip(jax.tree.leaves(aga0), jax.tree.leaves(co)):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-8)
    assert not all(np.allclose(c, i) for c, i in zip(jax.tree.leaves(co), jax.tree.leaves(ind)))
    for i in range(2):  # Simul-Ind: each agent one RMSProp step on its own A2C loss with RAW advantages
        net = jax.tree.map(lambda x, i=i: x[i], state.policy)

        def loss(net, i=i):
            log_probs = jax.nn.log_softmax(net(batch.obs[i]))
            log_prob = jnp.take_along_axis(log_probs, batch.action[i][:, None], axis=1)[:, 0]
            entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, axis=1))
            return -jnp.mean(log_prob * batch.advantage[i]) - CONFIG.ent_coef * entropy

        def rmsprop_step(net, loss=loss):
            opt = optax.rmsprop(CONFIG.lr, decay=0.99, eps=1e-5)
            updates, _ = opt.update(jax.grad(loss)(net), opt.init(net), net)
            return optax.apply_updates(net, updates)

        want = jax.jit(rmsprop_step)(net)  # one program, not one per operation run eagerly
        for got, w in zip(jax.tree.leaves(jax.tree.map(lambda x, i=i: x[i], ind)), jax.tree.leaves(want)):
            np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-7)


def test_a2c_config_is_table_2_and_validates():
    c = rl.A2CConfig()
    assert (c.num_steps, c.gamma, c.ent_coef, c.baseline_coef, c.lr, c.rms_eps, c.rms_decay, c.rms_momentum) == (
        100, 0.98, 0.003, 0.5, 4e-4, 1e-5, 0.99, 0.0)
    assert (c.update_epochs, c.num_minibatches, c.normalise_advantages) == (1, 1, False)
    with pytest.raises(ValueError, match="rms_decay"):
        rl.A2CConfig(rms_decay=1.5).validate()
    with pytest.raises(ValueError, match="total_steps"):
        rl.A2CConfig(total_steps=10).validate()
