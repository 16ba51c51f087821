"""Coins (D3C §3.4): spawning, the +1 / -2 rewards, movement and the episode length."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

LEFT, RIGHT, UP, DOWN, STAY = range(5)


@pytest.fixture(scope="module")
def coins(registered):
    return registered("coins")


def with_coins(env, pos, coin_cells=()):
    """A state with agents at ``pos`` and coins ``(row, col, owner)``."""
    _, state = env.reset(jax.random.key(0))
    grid = np.zeros((env.size, env.size), np.int32)
    for r, c, owner in coin_cells:
        grid[r, c] = owner + 1
    return state._replace(pos=jnp.asarray(pos, jnp.int32), coins=jnp.asarray(grid))


NO_SPAWN_P = 0.0


def test_coins_spawn_per_free_cell_per_colour_with_probability_0_005(coins, act, step_many):
    state = with_coins(coins, [[0, 0], [2, 2]])
    grid = np.asarray(step_many(coins, state, act(coins, STAY, STAY))[1].coins)
    assert not grid[:, 0, 0].any() and not grid[:, 2, 2].any()  # never under an agent
    trials = 1000 * 23
    for colour in (1, 2):
        rate = (grid == colour).sum() / trials
        assert abs(rate - 0.005) < 5 * np.sqrt(0.005 / trials), (colour, rate)
    assert grid.max() <= 2


def test_picking_up_coins_gives_1_and_costs_the_owner_2(coins, act):
    params = coins.default_params._replace(spawn_prob=NO_SPAWN_P)
    # agent 0 steps right onto its own coin, agent 1 steps up onto agent 0's coin
    state = with_coins(coins, [[0, 0], [3, 3]], [(0, 1, 0), (2, 3, 0), (4, 4, 1)])
    _, nxt, rewards, _, infos = coins.step_env(jax.random.key(0), state, act(coins, RIGHT, UP), params)
    assert [float(rewards[a]) for a in coins.agents] == [1.0 - 2.0, 1.0]
    assert infos["own_coins"].tolist() == [1, 0] and infos["other_coins"].tolist() == [0, 1]
    assert np.asarray(nxt.coins).tolist()[4][4] == 2 and np.asarray(nxt.coins).sum() == 2


def test_both_agents_landing_on_one_coin_both_collect_it(coins, act):
    params = coins.default_params._replace(spawn_prob=NO_SPAWN_P)
    state = with_coins(coins, [[2, 1], [2, 3]], [(2, 2, 1)])  # agent 1's coin between them
    _, nxt, rewards, *_ = coins.step_env(jax.random.key(0), state, act(coins, RIGHT, LEFT), params)
    assert nxt.pos.tolist() == [[2, 2], [2, 2]]  # agents may share a cell
    assert [float(rewards[a]) for a in coins.agents] == [1.0, 1.0 - 2.0]
    assert int(np.asarray(nxt.coins).sum()) == 0


def test_moves_are_absolute_and_the_edge_blocks(coins, act):
    state = with_coins(coins, [[0, 0], [4, 4]])
    nxt = coins.step_env(jax.random.key(0), state, act(coins, UP, RIGHT))[1]
    assert nxt.pos.tolist() == [[0, 0], [4, 4]]
    nxt = coins.step_env(jax.random.key(0), state, act(coins, DOWN, LEFT))[1]
    assert nxt.pos.tolist() == [[1, 0], [4, 3]]


def test_coins_observation_is_from_each_agents_point_of_view(coins):
    state = with_coins(coins, [[0, 0], [4, 4]], [(1, 1, 0), (3, 3, 1)])
    obs = coins.get_obs(state)
    o0, o1 = np.asarray(obs["agent_0"]), np.asarray(obs["agent_1"])
    assert o0.shape == (5, 5, 4) and o0.dtype == np.uint8
    assert o0[0, 0, 0] == 1 and o0[4, 4, 1] == 1 and o0[1, 1, 2] == 1 and o0[3, 3, 3] == 1
    assert o1[4, 4, 0] == 1 and o1[0, 0, 1] == 1 and o1[3, 3, 2] == 1 and o1[1, 1, 3] == 1
    assert o0.sum() == 4 and o1.sum() == 4


def test_coins_episode_lasts_500_steps(coins, act):
    _, state = coins.reset(jax.random.key(0))
    assert int(state.coins.sum()) == 0 and state.pos.tolist()[0] != state.pos.tolist()[1]
    dones = coins.step_env(jax.random.key(0), state._replace(t=jnp.asarray(498, jnp.int32)), act(coins, 4, 4))[3]
    assert not bool(dones["__all__"])
    dones = coins.step_env(jax.random.key(0), state._replace(t=jnp.asarray(499, jnp.int32)), act(coins, 4, 4))[3]
    assert bool(dones["__all__"])


def test_coins_rejects_impossible_spawn_probabilities():
    from mixmo.envs import CoinsEnv, CoinsParams

    with pytest.raises(ValueError, match="num_agents \\* spawn_prob"):
        CoinsEnv(params=CoinsParams(spawn_prob=0.7))
