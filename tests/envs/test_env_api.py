"""The API every registered environment must honour (JaxMARL's interface; STYLE.md's
conformance suite): spaces, jit + vmap, determinism, auto-reset, rendering; and the registry."""

import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixmo.envs import make, registered_envs

NAMES = sorted(registered_envs())
# mmm2 is Selfish-MMM2's battle (one class) with SMAX's team reward: selfish_mmm2 runs the suite here and the team
# reward is checked under jit in smax/test_selfish_reward.py, so mmm2's own run of the suite (its SMAX programs
# compiled once more) is slow
PARAMS = [pytest.param(name, marks=pytest.mark.slow) if name == "mmm2" else name for name in NAMES]


@pytest.fixture(scope="module", params=PARAMS)
def env(request, registered):
    if request.param == "coin_game":
        pytest.importorskip("jaxmarl")
    return registered(request.param)


def random_actions(env, key):
    keys = jax.random.split(key, env.num_agents)
    return {a: env.action_space(a).sample(k) for a, k in zip(env.agents, keys)}


# outside traced code: one program per environment, not one per operation run eagerly
jitted_random_actions = jax.jit(random_actions, static_argnums=0)


def rollout(env, key, steps, state=None):
    """States, rewards and dones of ``steps`` random steps with the public ``step``."""
    k_reset, key = jax.random.split(key)
    if state is None:
        _, state = env.reset(k_reset)
    out = []
    for k in jax.random.split(key, steps):
        k_act, k_step = jax.random.split(k)
        _, state, rewards, dones, infos = env.step(k_step, state, jitted_random_actions(env, k_act))
        out.append((state, rewards, dones, infos))
    return out


def test_reset_and_step_agree_with_the_spaces(env):
    obs, state = env.reset(jax.random.key(0))
    assert list(obs) == env.agents and env.num_agents == len(env.agents)
    assert env.agents == [f"agent_{i}" for i in range(env.num_agents)]
    for a in env.agents:
        space = env.observation_space(a)
        assert obs[a].shape == space.shape and obs[a].dtype == space.dtype
        assert bool(space.contains(obs[a]))
        assert env.action_space(a).n >= 2
    obs, state, rewards, dones, infos = env.step(jax.random.key(1), state,
                                                 jitted_random_actions(env, jax.random.key(2)))
    assert all(bool(env.observation_space(a).contains(obs[a])) for a in env.agents)
    assert set(rewards) == set(env.agents) and all(rewards[a].shape == () for a in env.agents)
    assert all(rewards[a].dtype == jnp.float32 for a in env.agents)
    assert set(dones) == {*env.agents, "__all__"} and all(dones[k].dtype == jnp.bool_ for k in dones)
    assert infos and all(np.shape(v)[0] == env.num_agents for v in infos.values())


def test_jit_and_vmap_over_four_environments(env):
    keys = jax.random.split(jax.random.key(3), 4)

    @jax.jit
    def batch(keys):
        _, starts = jax.vmap(env.reset)(keys)
        actions = jax.vmap(lambda k: random_actions(env, k))(keys)
        return starts, actions, jax.vmap(env.step)(keys, starts, actions)

    starts, actions, (obs, states, rewards, dones, infos) = batch(keys)
    a = env.agents[0]
    assert obs[a].shape == (4, *env.observation_space(a).shape)
    assert rewards[a].shape == (4,) and dones["__all__"].shape == (4,)
    assert all(np.shape(v)[:2] == (4, env.num_agents) for v in infos.values())
    # each batch member is the unbatched environment
    third = jax.jit(lambda tree: jax.tree.map(lambda x: x[2], tree))
    single = env.step(keys[2], third(starts), third(actions))
    assert np.array_equal(np.asarray(single[0][a]), np.asarray(obs[a][2]))


def test_same_key_gives_bit_identical_rollouts(env):
    first = jax.tree.leaves(rollout(env, jax.random.key(5), 3))
    second = jax.tree.leaves(rollout(env, jax.random.key(5), 3))
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(first, second, strict=True))
    other = jax.tree.leaves(rollout(env, jax.random.key(6), 3))
    assert not all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(first, other, strict=True))


def _near_the_end(env, state):
    """A state 3 steps before the episode ends, and that number of steps."""
    if hasattr(state, "t"):
        return state._replace(t=jnp.asarray(env.default_params.max_steps - 3, jnp.int32)), 3
    return state, 100  # jaxmarl's coin game: 10 inner episodes of 10 steps


def test_episodes_end_on_time_and_auto_reset(env):
    _, state = env.reset(jax.random.key(0))
    state, left = _near_the_end(env, state)
    steps = rollout(env, jax.random.key(1), left, state)
    done_at = [i for i, (_, _, dones, _) in enumerate(steps) if bool(dones["__all__"])]
    assert done_at == [left - 1]
    assert all(bool(steps[-1][2][a]) for a in env.agents)
    fresh = steps[-1][0]  # auto-reset: the next episode runs its full length again
    if hasattr(fresh, "t"):
        assert int(fresh.t) == 0
    after = rollout(env, jax.random.key(2), 3, fresh)
    assert not any(bool(d["__all__"]) for _, _, d, _ in after)


def test_render_gives_an_rgb_picture_that_follows_the_state(env):
    _, state = env.reset(jax.random.key(0))
    frame = env.render(state)
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
    assert frame.ndim == 3 and frame.shape[2] == 3 and min(frame.shape[:2]) >= 16
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 3
    later = [env.render(s) for s, *_ in rollout(env, jax.random.key(4), 6, state)]
    assert any(not np.array_equal(frame, f) for f in later)
    assert np.array_equal(env.render(state), frame)


def test_make_rejects_unknown_names_and_options_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown environment 'nope'; known: .*cleanup.*harvest_patch"):
        make("nope")
    with pytest.raises(ValueError, match="has no option colour; options: .*max_steps.*num_agents"):
        make("cleanup", colour="red")


def test_make_applies_parameter_overrides_and_validates_them():
    env = make("cleanup", max_steps=100, num_agents=3)
    assert env.default_params.max_steps == 100 and env.num_agents == 3
    assert make("mini_cleanup", apple_respawn_prob=0.2).default_params.depletion_threshold == 0.6
    with pytest.raises(ValueError, match="restoration_threshold < depletion_threshold"):
        make("cleanup", depletion_threshold=0.0)
    with pytest.raises(ValueError, match="only 10 spawn points"):
        make("cleanup", num_agents=11)


def test_optional_dependencies_missing_give_the_install_command(monkeypatch, registered):
    from mixmo.envs import to_pettingzoo

    monkeypatch.setitem(sys.modules, "jaxmarl.environments.coin_game.coin_game", None)
    with pytest.raises(ImportError, match="pip install jaxmarl"):
        make("coin_game")
    monkeypatch.setitem(sys.modules, "pettingzoo", None)
    with pytest.raises(ImportError, match="pip install pettingzoo"):
        to_pettingzoo(registered("coins"))
