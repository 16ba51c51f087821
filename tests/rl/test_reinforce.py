"""REINFORCE trainer: the policy gradient and the TD step against plain-Python loops, reward mixing, determinism."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixmo import envs, methods, rl
from mixmo.experiments.d3c import tyb as d3c_tyb
from mixmo.rl import _mixing

T, N, B, O, A = 5, 2, 4, 2, 3


@pytest.fixture(scope="module")
def env():
    return envs.make("trust_your_brother")


def trainer(env, mixer=None, **kwargs):
    config = rl.ReinforceConfig(num_updates=4, episodes=B, **kwargs)
    return rl.make_reinforce(config, env, mixer, starts=d3c_tyb.batch_starts(env, B))


def hand_batch(seed=0):
    """A batch with random observations, actions and rewards; episode 3 ends after 3 steps (masked after)."""
    rng = np.random.default_rng(seed)
    alive = np.ones((T, B), np.float32)
    alive[3:, 3] = 0.0
    done = np.zeros((T, B), np.float32)
    done[-1, :3] = 1.0
    done[2, 3] = 1.0
    reward = rng.normal(size=(T, N, B)).astype(np.float32) * alive[:, None, :]
    obs = rng.integers(-4, 5, size=(T + 1, N, B, O)).astype(np.float32)
    return rl.EpisodeBatch(obs=jnp.asarray(obs[:-1]), next_obs=jnp.asarray(obs[1:]),
                           action=jnp.asarray(rng.integers(0, A, size=(T, N, B)), jnp.int32),
                           reward=jnp.asarray(reward), alive=jnp.asarray(alive), done=jnp.asarray(done),
                           final_infos={})


def random_state(tr, seed=1):
    rng = np.random.default_rng(seed)
    state = tr.init(jax.random.key(0))
    return state._replace(policy=jnp.asarray(rng.normal(size=(N, O, A)), jnp.float32),
                          value=jnp.asarray(rng.normal(size=(N, O + 1)), jnp.float32))


def reference(policy, value, batch, rewards, lr=0.1, value_lr=0.1, collective=False):
    """REINFORCE with a TD(0)-trained linear baseline, one episode and one step at a time (float64)."""
    policy, value = np.asarray(policy, np.float64), np.asarray(value, np.float64)
    obs, next_obs, action = (np.asarray(x, np.float64) for x in (batch.obs, batch.next_obs, batch.action))
    alive, done, rewards = np.asarray(batch.alive), np.asarray(batch.done), np.asarray(rewards, np.float64)
    phi = lambda o: np.append(o, 1.0)  # noqa: E731
    advantage = np.zeros((T, N, B))
    for i in range(N):
        for b in range(B):
            g = 0.0
            for t in reversed(range(T)):
                if alive[t, b]:
                    g = rewards[t, i, b] + g
                    advantage[t, i, b] = g - phi(obs[t, i, b]) @ value[i]
    grad = np.zeros_like(policy)
    td = np.zeros_like(value)
    for i in range(N):
        for b in range(B):
            for t in range(T):
                if not alive[t, b]:
                    continue
                o = obs[t, i, b]
                logits = o @ policy[i]
                p = np.exp(logits - logits.max())
                p /= p.sum()
                score = np.outer(o, np.eye(A)[int(action[t, i, b])] - p)  # d log pi(a|o) / dW
                adv = advantage[t, :, b].sum() if collective else advantage[t, i, b]
                grad[i] += score * adv / B
                v_next = 0.0 if done[t, b] else phi(next_obs[t, i, b]) @ value[i]
                delta = rewards[t, i, b] + v_next - phi(o) @ value[i]
                td[i] += delta * phi(o)
    return policy + lr * grad, value + value_lr * td / alive.sum()


def test_policy_gradient_and_td_step_match_a_plain_loop(env):
    tr = trainer(env)
    state, batch = random_state(tr), hand_batch()
    new, metrics = jax.jit(tr.learn)(state, batch)
    policy, value = reference(state.policy, state.value, batch, batch.reward)
    np.testing.assert_allclose(new.policy, policy, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new.value, value, rtol=1e-5, atol=1e-5)
    assert not np.allclose(new.policy, state.policy)
    np.testing.assert_allclose(metrics.episode_return, np.asarray(batch.reward).sum(0).mean(-1), rtol=1e-6)


def test_simul_co_descends_the_collective_advantage(env):
    tr = rl.make_reinforce(rl.ReinforceConfig(episodes=B), env, method=methods.simul_co(),
                           starts=d3c_tyb.batch_starts(env, B))
    state, batch = random_state(tr), hand_batch(2)
    new, _ = jax.jit(tr.learn)(state, batch)
    policy, _ = reference(state.policy, state.value, batch, batch.reward, collective=True)
    np.testing.assert_allclose(new.policy, policy, rtol=1e-5, atol=1e-5)


D3C_FAST = dataclasses.replace(rl.D3C_TRUST_YOUR_BROTHER, tau_min=1, tau_max=2)


def test_cooperative_learners_see_the_mean_reward(env):
    batch = hand_batch(3)
    coop = trainer(env, rl.cooperative())
    state = random_state(coop)
    new, _ = jax.jit(coop.learn)(state, batch)
    mean = jnp.broadcast_to(jnp.mean(batch.reward, axis=1, keepdims=True), batch.reward.shape)
    policy, value = reference(state.policy, state.value, batch, mean)
    np.testing.assert_allclose(new.policy, policy, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new.value, value, rtol=1e-5, atol=1e-5)


def test_per_episode_d3c_advances_once_per_episode_balances_the_budget_and_stays_on_the_simplex(env):
    d3c = rl.d3c(dataclasses.replace(D3C_FAST, iteration="episode"))
    tr = trainer(env, d3c)
    state, learn = tr.init(jax.random.key(6)), jax.jit(tr.learn)
    for update in range(4):
        batch = hand_batch(10 + update)
        new, metrics = learn(state, batch)
        mix, trials = state.mix_state, []
        for b in range(B):
            trials.append(d3c.matrix(mix))
            g = np.asarray(rl.mix_rewards(trials[-1], batch.reward[:, :, b].T)).sum(-1)
            mix = d3c.update(mix, jnp.asarray(g), 1)
        np.testing.assert_allclose(new.mix_state.rows, mix.rows, rtol=1e-5)
        np.testing.assert_allclose(metrics.trial, np.mean(trials, axis=0), rtol=1e-6)
        np.testing.assert_allclose(metrics.mixed_return.sum(), metrics.episode_return.sum(), atol=1e-5)
        for rows in (metrics.mixing, metrics.trial):
            assert np.all(np.asarray(rows) > 0)
            np.testing.assert_allclose(np.asarray(rows).sum(-1), 1.0, atol=1e-6)
        state = new
    assert int(state.mix_state.t) == 4 * B
    assert not np.allclose(state.mix_state.rows, tr.init(jax.random.key(6)).mix_state.rows)  # the weights moved


REPLAY_D3C = rl.D3CRLConfig(lr=0.5, delta=1.0, kl=0.05, tau_min=2, tau_max=5, init_self=0.8, eps=0.3)


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def replay_algorithm_1(config, batches, first):
    """D3C Algorithm 1 for both agents in plain Python (float64) under `config`'s reading, mixing each batch's
    rewards itself. Algorithm 2's random draws come from the mixer's key chain (`trial_draws`): the initial trial
    from `first` (the mixer's state after `init`), then one draw per iteration. Per update: (rows A after it,
    mean over its episodes of the Ã each was mixed with, mean mixed episode return (n,)); and the iterations run."""
    n = N
    slope = config.iteration == "episodes-slope-per-update"
    key = np.asarray(first.key)
    rows = np.asarray(first.rows, np.float64)
    direction, tau = np.asarray(first.direction, np.float64), np.asarray(first.tau).copy()
    trial = _softmax(np.log(rows) + config.delta * direction)
    t, t_b, mean, baseline, completed = 0, np.zeros(n, int), np.zeros(n), np.zeros(n), np.zeros(n, int)

    def iterate(g, episodes):
        nonlocal key, t, trial
        t += 1
        key, new_direction, new_tau = (np.asarray(x) for x in _mixing.trial_draws(jnp.asarray(key), n, config))
        for i in range(n):
            dt = t - t_b[i]
            mean[i] = (mean[i] * (dt - 1) + g[i]) / dt
            length = math.ceil(tau[i] / episodes) if slope else tau[i]
            if dt == length:  # trial complete
                rho = max((baseline[i] - mean[i]) / length + config.eps, 0.0)
                grad = rho * direction[i] - config.kl * np.eye(n)[i] / rows[i]
                rows[i] = _softmax(np.clip(np.log(rows[i]) - config.lr * grad, config.low, config.high))
                direction[i], tau[i], t_b[i], baseline[i] = new_direction[i], new_tau[i], t, mean[i]
                trial[i] = _softmax(np.log(rows[i]) + config.delta * direction[i])
                completed[i] += 1

    out = []
    for batch in batches:
        reward = np.asarray(batch.reward, np.float64)  # (T, n, B)
        used, returns = [], []
        for b in range(B):
            used.append(trial.copy())
            returns.append(np.einsum("ji,tj->i", trial, reward[:, :, b]))  # r̃_i = Σ_j Ã_ji r_j, summed over t
            if config.iteration == "episode":
                iterate(returns[-1], 1)
        if config.iteration != "episode":
            g = np.mean(returns, axis=0) * (B if config.g_scale == "total" else 1)
            iterate(g, B)
        out.append((rows.copy(), np.mean(used, axis=0), np.mean(returns, axis=0)))
    return out, t, completed


@pytest.mark.parametrize("iteration, g_scale", [
    ("update", "mean"), ("update", "total"), ("episode", "mean"), ("episode", "total"),
    ("episodes-slope-per-update", "mean"), ("episodes-slope-per-update", "total")])
def test_each_d3c_reading_matches_a_plain_python_replay_of_algorithm_1(env, iteration, g_scale):
    """The trainer under every reading of Algorithm 1 against a plain loop on a fixed sequence of reward batches:
    the rows A after every update, the trial matrices the rewards were mixed with, the mixed returns, and how many
    iterations ran (B episodes per update; τ 2..5: under "episodes-slope-per-update" trials of 1 or 2 updates)."""
    config = dataclasses.replace(REPLAY_D3C, iteration=iteration, g_scale=g_scale)
    updates = 10
    tr = trainer(env, rl.d3c(config))
    state, learn = tr.init(jax.random.key(5)), jax.jit(tr.learn)
    batches = [hand_batch(20 + u) for u in range(updates)]
    expected, iterations, completed = replay_algorithm_1(config, batches, state.mix_state)
    for batch, (rows, trial, mixed_return) in zip(batches, expected):
        state, metrics = learn(state, batch)
        np.testing.assert_allclose(metrics.trial, trial, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(metrics.mixed_return, mixed_return, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(metrics.mixing, rows, rtol=1e-4, atol=1e-6)
    assert int(state.mix_state.t) == iterations == updates * (B if iteration == "episode" else 1)
    assert completed.min() >= 2  # several trials completed for each agent: the test is not vacuous
    assert not np.allclose(expected[-1][0], np.asarray(_mixing.initial_rows(N, config.init_self)))


def test_runs_are_deterministic_chunks_chain_and_selfish_mixing_is_bit_identical_to_none(env):
    keys = jax.random.split(jax.random.key(7), 2)
    selfish = trainer(env, rl.selfish())
    run = jax.jit(jax.vmap(selfish))
    first, again = run(keys), run(keys)
    plain = jax.jit(jax.vmap(trainer(env)))(keys)
    for a, b, c in zip(jax.tree.leaves(first[1]), jax.tree.leaves(again[1]), jax.tree.leaves(plain[1])):
        assert np.array_equal(np.asarray(a), np.asarray(b))  # same key, same bits
        assert np.array_equal(np.asarray(a), np.asarray(c))  # selfish mixing (A = I) changes nothing
    for a, b in [(first[0].policy, plain[0].policy), (first[0].value, plain[0].value)]:
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(plain[0].policy), 0.0)
    half = jax.jit(jax.vmap(lambda s: selfish.run(s, 2)))
    state, _ = half(jax.vmap(selfish.init)(keys))
    state, _ = half(state)
    assert np.array_equal(np.asarray(state.policy), np.asarray(first[0].policy))
    assert np.array_equal(np.asarray(state.value), np.asarray(first[0].value))


def test_the_batch_has_half_of_its_episodes_with_each_prey_closer(env):
    batch = trainer(env).rollout(jnp.zeros((N, O, A)), jax.random.key(9))
    first = np.asarray(batch.obs[0, 0])  # agent 0's view at the start of each episode
    assert first.tolist() == [[-2.0, 0.0]] * 2 + [[0.0, -2.0]] * 2
    assert np.asarray(batch.alive).all() and np.asarray(batch.done)[-1].all()
    np.testing.assert_allclose(np.asarray(batch.final_infos["episode_return"]),
                               np.asarray(batch.reward).sum(0).T, rtol=1e-6)


@pytest.mark.parametrize("field,value,message", [("episodes", 0, "episodes must be >= 1"),
                                                 ("lr", -1.0, "lr must be a positive"),
                                                 ("gamma", 1.5, "gamma must be in [0, 1]")])
def test_bad_settings_are_refused(env, field, value, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        rl.make_reinforce(rl.ReinforceConfig(**{field: value}), env)
