"""The AgA paper's RL options (issue 12): parameter sharing, head-only AgA, §5.2's fairness-shaped collective
reward, the KL early stop, and the diagnostics — each against an independent reference.

The shared-policy directions are checked against dense float64 derivatives of losses written out here with
an explicit loop over agents (not the trainer's vmapped `policy_losses`)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from mixmo import envs, methods, rl
from mixmo.game import StructuredLosses

N_AGENTS, SAMPLES, OBS, ACTIONS, CLIP, ENT = 3, 6, 4, 3, 0.2, 0.01


def _tiny_minibatch(key):
    k = jax.random.split(key, 6)
    shape = (N_AGENTS, SAMPLES)
    return rl.Minibatch(
        obs=jax.random.normal(k[0], shape + (OBS,), jnp.float64),
        action=jax.random.randint(k[1], shape, 0, ACTIONS),
        log_prob=jnp.log(jax.random.uniform(k[2], shape, jnp.float64, 0.2, 0.5)),
        advantage=jax.random.normal(k[3], shape, jnp.float64),
        collective_advantage=jnp.broadcast_to(jax.random.normal(k[4], (1, SAMPLES), jnp.float64), shape),
        value=None, target=None, collective_value=None, collective_target=None)


def _reference_losses(net, mb):
    """Mean over agents of each agent's PPO-clip loss (own advantage) and of the collective-advantage term, one
    agent at a time."""
    own, collective = [], []
    for i in range(N_AGENTS):
        log_probs = jax.nn.log_softmax(net(mb.obs[i]))
        log_prob = log_probs[jnp.arange(SAMPLES), mb.action[i]]
        entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1))
        ratio = jnp.exp(log_prob - mb.log_prob[i])

        def clip_loss(adv):
            return -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - CLIP, 1 + CLIP) * adv))

        own.append(clip_loss(mb.advantage[i]) - ENT * entropy)
        collective.append(clip_loss(mb.collective_advantage[i]) - ENT * entropy)
    return sum(own) / N_AGENTS, sum(collective) / N_AGENTS


def _shared_game(net, mb):
    """The losses the trainer gives a `GameMethod` for one shared policy (what `method_step` builds)."""
    terms = rl.shared_terms(lambda p: rl.policy_losses(p, mb, CLIP, ENT), N_AGENTS)
    return StructuredLosses(individual=lambda p: terms(p)[0], collective=lambda p: terms(p)[1], separable=True)


@pytest.mark.parametrize("name", ["aga", "cga", "simul-co", "simul-ind"])
def test_shared_policy_directions_match_dense_float64_reference(name):
    with jax.enable_x64(True):
        mb = _tiny_minibatch(jax.random.key(3))
        net = jax.tree.map(lambda x: x.astype(jnp.float64), rl.mlp(jax.random.key(4), (OBS, 5, ACTIONS), 1.0, "tanh"))
        flat, unravel = ravel_pytree(net)
        mean_own = lambda v: _reference_losses(unravel(v), mb)[0]  # noqa: E731
        mean_collective = lambda v: _reference_losses(unravel(v), mb)[1]  # noqa: E731
        xi, xi_c, hessian_own, hessian_c = jax.jit(lambda v: (
            jax.grad(mean_own)(v), jax.grad(mean_collective)(v), jax.hessian(mean_own)(v),
            jax.hessian(mean_collective)(v)))(flat)
        lam = 3.0
        if name == "aga":
            h = hessian_c @ xi_c
            sign = 1.0 if (xi_c @ h) * (xi @ h + h @ h) >= 0 else -1.0
            expected, method = xi_c + sign * lam * (xi + h), methods.aga(lam)
        elif name == "cga":  # one player: J is the Hessian of the mean individual loss
            expected, method = xi + lam * hessian_own.T @ xi, methods.cga(lam)
        elif name == "simul-co":
            expected, method = xi_c, methods.simul_co()
        else:
            expected, method = xi, methods.simul_ind()
        game = _shared_game(net, mb)
        (direction,), _ = jax.jit(lambda p: method.update(game, (p,), method.init((p,))))(net)
        np.testing.assert_allclose(ravel_pytree(direction)[0], expected, rtol=1e-9, atol=1e-12)


def test_head_only_aga_steps_the_trunk_like_ppo_and_the_head_like_aga():
    with jax.enable_x64(True):
        mb = _tiny_minibatch(jax.random.key(5))
        net = jax.tree.map(lambda x: x.astype(jnp.float64), rl.mlp(jax.random.key(6), (OBS, 5, ACTIONS), 1.0, "tanh"))
        game, lam = _shared_game(net, mb), 2.0
        # jitted: op by op, each of the hundreds of operations of these derivatives would compile on its own
        (direction,), _ = jax.jit(lambda n: rl.head_only(methods.aga(lam)).update(game, (n,), ()))(net)
        (plain,), _ = jax.jit(lambda n: methods.simul_ind().update(game, (n,), ()))(net)
        # the trunk: plain PPO's gradient, exactly
        for got, want in zip(direction.weights[:-1] + direction.biases[:-1], plain.weights[:-1] + plain.biases[:-1]):
            np.testing.assert_array_equal(got, want)
        # the head: AgA on the game of the heads alone (trunk fixed), dense float64
        head, unravel = ravel_pytree((net.weights[-1], net.biases[-1]))

        def with_head(v):
            w, b = unravel(v)
            return rl.MLP(net.weights[:-1] + (w,), net.biases[:-1] + (b,), net.activation)

        own = lambda v: _reference_losses(with_head(v), mb)[0]  # noqa: E731
        collective = lambda v: _reference_losses(with_head(v), mb)[1]  # noqa: E731
        xi, xi_c, h = jax.jit(lambda v: (jax.grad(own)(v), jax.grad(collective)(v),
                                         jax.hessian(collective)(v) @ jax.grad(collective)(v)))(head)
        sign = 1.0 if (xi_c @ h) * (xi @ h + h @ h) >= 0 else -1.0
        got = ravel_pytree((direction.weights[-1], direction.biases[-1]))[0]
        np.testing.assert_allclose(got, xi_c + sign * lam * (xi + h), rtol=1e-9, atol=1e-12)
        assert not np.allclose(got, ravel_pytree((plain.weights[-1], plain.biases[-1]))[0])


def test_fairness_collective_reward_hand_values():
    alpha = 0.5
    fair = rl.fairness_collective(alpha)

    def one(rewards):  # (N,) -> scalar, through the (T, N, E) interface
        return float(fair(jnp.asarray(rewards, jnp.float32)[None, :, None])[0, 0])

    assert one([0.0, 0.0, 0.0]) == pytest.approx(-3 * alpha)  # nobody rewarded: angle 0 for every agent
    # agent 0 alone rewarded: its angle 0; the others' angle atan2(1, 0) = pi / 2
    assert one([1.0, 0.0, 0.0]) == pytest.approx(1 - alpha - 2 * alpha * (1 - math.pi / 2), rel=1e-6)
    # negative own reward: atan2 puts the angle in the second quadrant
    expected = (-1 - alpha * (1 - math.atan2(2, -1))) + (2 - alpha * (1 - math.atan2(-1, 2)))
    assert one([-1.0, 2.0]) == pytest.approx(expected, rel=1e-6)
    # all equal: every angle arctan(n - 1)
    assert one([2.0, 2.0, 2.0]) == pytest.approx(6 - 3 * alpha * (1 - math.atan(2)), rel=1e-6)
    rewards = jax.random.normal(jax.random.key(0), (4, 3, 2))
    np.testing.assert_array_equal(rl.fairness_collective(0.0)(rewards), jnp.sum(rewards, axis=1))


def test_apply_stacked_with_one_network_evaluates_it_on_every_agent():
    net = rl.stacked_mlps(jax.random.key(0), 1, (4, 6, 3), 1.0)
    x = jax.random.normal(jax.random.key(1), (3, 5, 4))
    single = jax.tree.map(lambda leaf: leaf[0], net)
    expected = jnp.stack([single(x[i]) for i in range(3)])
    np.testing.assert_allclose(rl.apply_stacked(net, x), expected, rtol=1e-6, atol=1e-6)


def _kl_trainer(target_kl: float, shared: bool = False):
    env = envs.make("cleanup", max_steps=16, num_agents=2)
    config = rl.PPOConfig(total_steps=64, num_envs=2, num_steps=16, num_minibatches=2, update_epochs=4,
                          hidden=(8,), critic_hidden=(8,), lr=0.05, target_kl=target_kl)
    return rl.make_train(config, env, shared=shared)


def test_target_kl_stops_where_a_plain_python_replay_of_stable_baselines3_stops():
    replay = _kl_trainer(0.0)
    state = jax.jit(replay.init)(jax.random.key(0))
    key = jax.random.wrap_key_data(state.key)
    _, k_roll, k_epochs = jax.random.split(key, 3)
    rolled, traj, _ = jax.jit(replay.rollout)(state, k_roll)
    batch = jax.jit(replay.advantages)(rolled, traj)
    learn = jax.jit(replay.learn_minibatch)
    epochs = jax.jit(jax.vmap(replay._minibatches, in_axes=(0, None)))(jax.random.split(k_epochs, 4), batch)
    minibatches = [jax.tree.map(lambda x, e=e, i=i: x[e, i], epochs) for e in range(4) for i in range(2)]
    kls, states, s = [], [], rolled
    for mb in minibatches:  # no stop: every step's pre-step KL, and the state before it
        states.append(s)
        s, info = learn(s, mb)
        kls.append(float(info.approx_kl))
    # the first step (after the first) whose KL exceeds every earlier one: a target between them stops there
    stop = next(k for k in range(2, len(kls)) if kls[k] > max(kls[:k]) * 1.01)
    target = (max(kls[:stop]) + kls[stop]) / 2 / 1.5
    # vmapped over seeds as the experiments run it: the while loop goes on until every seed has stopped, and the
    # replayed seed (key 0) must have stopped at its own step whatever the other seed (key 1) does
    trainer = _kl_trainer(target)
    keys = jnp.stack([jax.random.key(0), jax.random.key(1)])
    new_states, metrics = jax.jit(jax.vmap(lambda k: trainer.update(trainer.init(k))))(keys)
    assert float(metrics.steps_taken[0]) == pytest.approx(stop / len(kls))
    # float32 rounding differs between the vmapped update and the replay's unbatched steps (jax 0.12: 1.6e-7 after
    # a few Adam steps at lr 0.05); a wrong stop would differ by a whole step
    for got, want in zip(jax.tree.leaves(new_states.policy), jax.tree.leaves(states[stop].policy)):
        np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-6)


def test_shared_trainer_has_one_policy_and_trains():
    trainer = _kl_trainer(0.0, shared=True)
    state, metrics = jax.jit(trainer)(jax.random.key(0))
    assert all(leaf.shape[0] == 1 for leaf in jax.tree.leaves(state.policy))
    assert all(leaf.shape[0] == 1 for leaf in jax.tree.leaves(state.critic))
    assert bool(jnp.all(metrics.finite)) and metrics.policy_loss.shape == (2,)
    assert float(metrics.steps_taken[0]) == 1.0


def test_diagnostics_match_their_definitions():
    with jax.enable_x64(True):
        a = jnp.array([[1.0, 0.5], [0.5, 2.0]])

        def losses(p):  # two players, quadratic, not zero-sum
            x, y = p
            return jnp.stack([x**2 * a[0, 0] + x * y * a[0, 1], y**2 * a[1, 1] - x * y + x**3])

        params = (jnp.asarray(0.7), jnp.asarray(-0.4))
        direction = (jnp.asarray(0.3), jnp.asarray(-1.1))
        d = jax.jit(methods.diagnostics, static_argnums=0)(losses, params, direction)  # jitted: one program
        v = jnp.stack(params)
        f = lambda v: losses((v[0], v[1]))  # noqa: E731

        @jax.jit
        def reference(v):
            jac = jax.jacobian(f)(v)
            xi_c = jac.sum(axis=0)
            return jnp.array([jac[0, 0], jac[1, 1]]), xi_c, jax.hessian(lambda v: jnp.sum(f(v)))(v) @ xi_c

        xi, xi_c, h = reference(v)
        t = jnp.stack(direction)
        cos = lambda a, b: float(a @ b / jnp.linalg.norm(a) / jnp.linalg.norm(b))  # noqa: E731
        assert float(d.cos_xi) == pytest.approx(cos(t, xi))
        assert float(d.cos_xi_c) == pytest.approx(cos(t, xi_c))
        assert float(d.xi_norm) == pytest.approx(float(jnp.linalg.norm(xi)))
        assert float(d.hc_xi_c_norm) == pytest.approx(float(jnp.linalg.norm(h)))
        assert float(d.negative_sign) == float((xi_c @ h) * (xi @ h + h @ h) < 0)


def test_aga_lambda_schedule_decays_geometrically():
    losses = lambda p: jnp.stack([p[0] * p[1] + p[0] ** 2, -p[0] * p[1]])  # noqa: E731
    params = (jnp.asarray(1.0), jnp.asarray(3.0))
    scheduled = methods.aga(8.0, decay=0.5, every=2)
    state = scheduled.init(params)
    for t in range(5):
        direction, state = scheduled.update(losses, params, state)
        want, _ = methods.aga(8.0 * 0.5 ** (t // 2)).update(losses, params, ())
        np.testing.assert_allclose(direction, want, rtol=1e-6)
    with pytest.raises(ValueError, match="every"):
        methods.aga(1.0, every=-1)


def test_svo_of_appendix_e1_is_the_per_agent_fairness_term():
    """App. E.1: SVO's reward r_i - alpha (1 - arctan(sum_{j != i} r_j / r_i)); summed over agents it is §5.2's
    collective reward."""
    rewards = jnp.asarray([[1.0, 0.0], [0.0, 2.0], [3.0, -1.0]])  # (N=3 agents, E=2 environments)
    shaped = rl.svo_e1(0.5).apply((), rewards, rewards)
    for env in range(2):
        for i in range(3):
            r = [float(x) for x in rewards[:, env]]
            want = r[i] - 0.5 * (1 - math.atan2(sum(r) - r[i], r[i]))
            assert float(shaped[i, env]) == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(jnp.sum(shaped, axis=0), rl.fairness_collective(0.5)(rewards[None])[0], rtol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        rl.svo_e1(-1.0)
