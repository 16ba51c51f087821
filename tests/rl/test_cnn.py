"""`PPOConfig(network="cnn")`: the SSD script's CNN in SB3's CnnPolicy layout, its one-optimiser update, frame
stacks."""

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mixmo
from mixmo import envs, rl
from mixmo.rl import _cnn as rl_cnn
from mixmo.rl._cnn import ActorCritic, actor_critic
from mixmo.rl._ppo_loss import normalise

# sb3_train.py: CustomCNN on 12 channels (RGB x 4 frames), view_len 7 (15 x 15), features_dim 32, net_arch [128]
SCRIPT = dict(obs_shape=(15, 15, 12), n_actions=9, conv_and_features=(24, 1024, 32), net_arch=(128,))


def _count(tree) -> int:
    return sum(math.prod(x.shape) for x in jax.tree.leaves(tree))


def test_script_shapes_and_parameter_count():
    net = jax.eval_shape(lambda k: actor_critic(k, **SCRIPT), jax.random.key(0))  # shapes only, nothing computed
    assert net.conv_kernel.shape == (3, 3, 12, 24)
    assert [w.shape for w in net.feature_weights] == [(24 * 13 * 13, 1024), (1024, 32)]  # flatten 4056
    assert [w.shape for w in net.shared_weights] == [(32, 128)] and net.policy_weights == ()
    assert net.action_weight.shape == (128, 9) and net.value_weight.shape == (128, 2)
    # SB3's CnnPolicy with this extractor: conv 2,616 + 4,154,368 + 32,800 + net_arch 4,224 + action 1,161 +
    # value 129 = 4,195,298; mixmo's value head has a second output (u_i): 129 more
    assert _count(net) == 4_195_298 + 129
    out = jax.eval_shape(lambda n, x: n.heads(x), net, jax.ShapeDtypeStruct((5, 15, 15, 12), jnp.uint8))
    assert out[0].shape == (5, 9) and out[1].shape == (5, 2)
    separate = jax.eval_shape(lambda k: actor_critic(k, **SCRIPT, shared_net_arch=False), jax.random.key(0))
    assert separate.shared_weights == () and _count(separate) == _count(net) + 4_224  # SB3 2.x: pi and vf copies


def test_orthogonal_init_gains():
    net = jax.jit(lambda k: actor_critic(k, (7, 7, 3), 5, (4, 16, 8), (8,)))(jax.random.key(0))
    kernel = np.asarray(net.conv_kernel).transpose(3, 0, 1, 2).reshape(4, -1)  # torch's (out, in * k * k)
    np.testing.assert_allclose(kernel @ kernel.T, 2.0 * np.eye(4), atol=1e-5)  # gain sqrt(2), orthogonal rows
    w = np.asarray(net.feature_weights[0])  # (100, 16): orthogonal columns
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(16), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(net.action_weight), axis=0), 0.01, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(net.value_weight), axis=0), 1.0, rtol=1e-5)
    assert all(float(jnp.abs(b).max()) == 0 for b in jax.tree.leaves((net.conv_bias, net.feature_biases)))


@dataclass(frozen=True)
class _SGD(rl.PPOConfig):
    """The update's raw gradient: plain SGD with rate 1, so a step moves the parameters by minus the gradient."""

    def optimizer(self, lr):
        return optax.sgd(1.0)


SMALL = _SGD(network="cnn", cnn=(4, 16, 8), net_arch=(8,), value_coef=0.5, total_steps=16, num_envs=2, num_steps=8,
             num_minibatches=1, update_epochs=1, value_clip=0.0)


@pytest.fixture(scope="module")
def small_env():
    return envs.make("cleanup", num_agents=2, max_steps=16, view_radius=2)  # 5 x 5 views: a small program


def _step(config, env, method, shared):
    """A trainer's state, its whole rollout as one minibatch, and the state after one `learn_minibatch`."""
    trainer = rl.make_train(config, env, method, shared=shared)
    state = jax.jit(trainer.init)(jax.random.key(0))
    state, traj, _ = jax.jit(trainer.rollout)(state, jax.random.key(1))
    mb = jax.jit(trainer.advantages)(state, traj)
    after, info = jax.jit(trainer.learn_minibatch)(state, mb)
    mb = mb._replace(advantage=normalise(mb.advantage, axis=-1),
                     collective_advantage=normalise(mb.collective_advantage))
    return trainer, state, mb, after, info


def test_simul_ind_step_is_policy_plus_value_gradient(small_env):
    trainer, state, mb, after, info = _step(SMALL, small_env, mixmo.methods.simul_ind(), shared=False)
    assert state.critic is None and state.critic_opt is None and isinstance(state.policy, ActorCritic)

    def total(module):  # SB3's PPO loss per agent network: policy loss + vf_coef * value loss
        individual, _, _ = rl.policy_losses(rl.unstack(module, 2), mb, SMALL.surrogate, SMALL.ent_coef)
        return jnp.sum(individual) + SMALL.value_coef * rl.critic_loss(module, mb, SMALL.value_loss)[0]

    grad = jax.jit(jax.grad(total))(state.policy)
    moved = jax.tree.map(lambda new, old: old - new, after.policy, state.policy)
    for g, m in zip(jax.tree.leaves(grad), jax.tree.leaves(moved)):
        np.testing.assert_allclose(m, g, rtol=2e-4, atol=1e-7)
    assert float(jnp.abs(moved.value_weight).max()) > 0 and float(jnp.abs(moved.conv_kernel).max()) > 0
    assert np.isfinite(float(info.value_loss)) and after.critic is None


def test_aga_moves_the_value_head_by_the_value_loss_alone(small_env):
    trainer, state, mb, after, info = _step(SMALL, small_env, mixmo.methods.aga(10.0), shared=True)
    value_grad = jax.jit(jax.grad(lambda m: rl.critic_loss(m, mb, SMALL.value_loss)[0]))(state.policy)
    scale = SMALL.value_coef / 2  # shared by 2 agents: the value loss is averaged as the policy loss is
    for name in ("value_weight", "value_bias"):
        moved = getattr(state.policy, name) - getattr(after.policy, name)
        np.testing.assert_allclose(moved, scale * getattr(value_grad, name), rtol=2e-4, atol=1e-8)
    # the action head moves by the method's direction alone (the value loss does not reach it)
    assert float(jnp.abs(value_grad.action_weight).max()) == 0
    assert float(jnp.abs(state.policy.action_weight - after.policy.action_weight).max()) > 0
    assert float(info.direction_norm) > 0


def test_frame_stack_like_supersuit():
    env = envs.frame_stack(envs.make("cleanup", num_agents=2, max_steps=2, view_radius=1), 3)
    assert env.observation_space(env.agents[0]).shape == (3, 3, 21)
    obs, state = env.reset(jax.random.key(0))
    first = obs["agent_0"]
    assert int(jnp.abs(first[..., :14]).max()) == 0  # zeros before the first frame, which is the newest (last)
    stay = {a: 4 for a in env.agents}
    obs, state, _, dones, _ = env.step(jax.random.key(1), state, stay)
    assert not bool(dones["__all__"])
    np.testing.assert_array_equal(obs["agent_0"][..., 7:14], first[..., 14:])  # pushed one frame back
    obs, state, _, dones, _ = env.step(jax.random.key(2), state, stay)
    assert bool(dones["__all__"]) and int(jnp.abs(obs["agent_0"][..., :14]).max()) == 0  # restarted at the reset
    assert env.render(state).ndim == 3


def test_two_update_cnn_aga_run_is_finite():
    # the script's layer types at small widths (its sizes: test_script_shapes_and_parameter_count and the
    # initialisation test): the full-size run took a minute of the suite for the same code path
    config = rl.PPOConfig(network="cnn", frame_stack=4, total_steps=32, num_envs=2, num_steps=8, num_minibatches=2,
                          update_epochs=1, cnn=(4, 16, 8), net_arch=(8,))
    train = rl.make_train(config, envs.make("cleanup", max_steps=16, num_agents=2), mixmo.methods.aga(10.0),
                          shared=True)
    assert train.obs_shape == (15, 15, 28)  # Cleanup's 7 planes x 4 frames
    state, metrics = jax.jit(train)(jax.random.key(0))
    assert metrics.policy_loss.shape == (2,) and bool(jnp.all(metrics.finite))
    assert np.all(np.isfinite(np.asarray(metrics.value_loss))) and state.policy.conv_kernel.shape == (1, 3, 3, 28, 4)


def test_validation():
    with pytest.raises(ValueError, match="network must be one of mlp, cnn"):
        rl.PPOConfig(network="resnet").validate()
    with pytest.raises(ValueError, match="frame_stack"):
        rl.PPOConfig(frame_stack=0).validate()
    with pytest.raises(ValueError, match="value_coef"):
        rl.PPOConfig(value_coef=-1.0).validate()


def test_two_players_initialise_at_the_script_sizes():
    """XLA's QR hung here on the project's CPU (two players, 4056 x 1024); the numpy Cholesky QR does not."""
    nets = jax.jit(lambda k: rl_cnn.stacked_actor_critics(k, 2, (15, 15, 28), 9, (24, 1024, 32), (128,)))(
        jax.random.key(0))
    w = np.asarray(nets.feature_weights[0][1], np.float64)  # player 1's (4056, 1024): orthogonal columns
    np.testing.assert_allclose(w.T @ w, 2.0 * np.eye(1024), atol=1e-4)
