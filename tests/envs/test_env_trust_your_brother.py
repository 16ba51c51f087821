"""Trust-Your-Brother (D3C §3.3, appendix F.2): the predator rule, rewards, 5-step episodes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixmo.envs.trust_your_brother import COUNTER_CLOCKWISE, CLOCKWISE, STAY, predator_step

predator = jax.jit(predator_step)


@pytest.fixture(scope="module")
def tyb(registered):
    return registered("trust_your_brother")


def at(env, pred, prey):
    return env.initial_state(0)._replace(predator=jnp.asarray(pred, jnp.int32), prey=jnp.asarray(prey, jnp.int32))


def test_start_has_adjacent_prey_one_of_them_one_empty_cell_from_the_predator(tyb):
    for close in (0, 1):
        s = tyb.initial_state(close)
        assert int(s.predator) == 0 and int(s.prey[close]) == 2 and int(s.prey[1 - close]) == 3
    assert tyb.get_obs(tyb.initial_state(0))["agent_0"].tolist() == [-2.0, 0.0]
    obs = tyb.get_obs(tyb.initial_state(1))
    assert obs["agent_0"].tolist() == [0.0, -2.0] and obs["agent_1"].tolist() == [0.0, -2.0]  # shared
    closes = [int(jnp.argmin(tyb.reset(jax.random.key(i))[1].prey)) for i in range(40)]
    assert 5 < sum(closes) < 35  # reset picks the close prey with a fair coin


def test_predator_moves_toward_the_nearest_prey_and_stays_when_adjacent():
    assert int(predator(jnp.zeros(2), jnp.asarray(0), jnp.asarray([2, 3]))) == 1
    assert int(predator(jnp.zeros(2), jnp.asarray(0), jnp.asarray([4, 3]))) == 5
    assert int(predator(jnp.zeros(2), jnp.asarray(0), jnp.asarray([1, 3]))) == 0
    assert int(predator(jnp.zeros(2), jnp.asarray(3), jnp.asarray([0, 5]))) == 4


def test_equidistant_prey_a_fair_coin_picks_the_target():
    coins = jax.random.uniform(jax.random.key(0), (400, 2))
    moves = np.asarray(jax.vmap(predator, in_axes=(0, None, None))(coins, jnp.asarray(0), jnp.asarray([2, 4])))
    assert set(moves.tolist()) == {1, 5}
    assert 0.4 < (moves == 1).mean() < 0.6


def test_staying_put_the_close_prey_is_caught_every_step(tyb, act):
    state = tyb.initial_state(0)
    total = np.zeros(2)
    for t in range(5):
        _, state, rewards, dones, _ = tyb.step_env(jax.random.key(t), state, act(tyb, STAY, STAY))
        total += [float(rewards["agent_0"]), float(rewards["agent_1"])]
        assert bool(dones["__all__"]) == (t == 4)
    assert total.tolist() == [-5.0, 0.0] and int(state.predator) == 1


def test_moving_together_the_prey_escape_for_a_tenth_each_per_step(tyb, act):
    state = tyb.initial_state(0)
    for t in range(5):
        _, state, rewards, _, infos = tyb.step_env(jax.random.key(t), state, act(tyb, CLOCKWISE, CLOCKWISE))
        assert [round(float(rewards[a]), 6) for a in tyb.agents] == [-0.1, -0.1]
    assert infos["moves_tried"].tolist() == [5, 5] and infos["times_caught"].tolist() == [0, 0]


def test_a_move_into_an_occupied_cell_fails_and_still_costs(tyb, act):
    state = tyb.initial_state(0)  # prey 0 on 2, prey 1 on 3: prey 0 can only go clockwise into prey 1
    _, nxt, rewards, *_ = tyb.step_env(jax.random.key(0), state, act(tyb, CLOCKWISE, STAY))
    assert nxt.prey.tolist() == [2, 3]
    assert [round(float(rewards[a]), 6) for a in tyb.agents] == [-1.1, 0.0]
    # nor can a prey step into the predator
    _, nxt, rewards, *_ = tyb.step_env(jax.random.key(0), at(tyb, 0, [1, 3]), act(tyb, COUNTER_CLOCKWISE, STAY))
    assert nxt.prey.tolist() == [1, 3] and round(float(rewards["agent_0"]), 6) == -1.1


def test_the_episode_lasts_5_steps_then_resets(tyb, act):
    _, state = tyb.reset(jax.random.key(0))
    for t in range(5):
        _, state, _, dones, infos = tyb.step(jax.random.key(t), state, act(tyb, STAY, STAY))
    assert bool(dones["__all__"]) and int(state.t) == 0 and int(infos["times_caught"].sum()) == 5
    assert tyb.horizon_is_terminal and tyb.action_space("agent_0").n == 3
