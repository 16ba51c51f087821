"""Cleanup's rules (ENVIRONMENTS.md, "Cleanup" and "Mini-Cleanup"), one tiny situation each."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixmo.envs._grid import CLEAN, FIRE, STAY, TURN_CW, UP
from mixmo.envs.cleanup import CleanupEnv, CleanupParams, spawn_probabilities

# left: an open room over a river; right: two one-cell-wide corridors crossing at (4, 15),
# where beams have no side rays (they start inside walls) and river cells X, Y, Z
ARENA = """
@@@@@@@@@@@@@@@@@@@@
@P P P     @@@@ @@@@
@          @@@@ @@@@
@          @@@@R@@@@
@          @P  RR  @
@          @@@@ @@@@
@          @@@@ @@@@
@  BB      @@@@ @@@@
@HHHHHHHHHH@@@@@@@@@
@RRRRRRRRRR@@@@@@@@@
@@@@@@@@@@@@@@@@@@@@
"""
NO_SPAWN = CleanupParams(apple_respawn_prob=0.0, waste_spawn_prob=0.0)


@pytest.fixture(scope="module")
def arena():
    return CleanupEnv(layout=ARENA, num_agents=3, random_orientation=False)


@pytest.fixture(scope="module")
def cleanup(registered):
    return registered("cleanup")


def place(env, pos, facing, waste=None, apples=None, key=0):
    """A state of ``env`` with agents at ``pos`` facing ``facing``."""
    _, state = env.reset(jax.random.key(key))
    return state._replace(
        pos=jnp.asarray(pos, jnp.int32),
        direction=jnp.asarray(facing, jnp.int32),
        waste=state.waste if waste is None else jnp.asarray(waste),
        apples=jnp.zeros_like(state.apples) if apples is None else jnp.asarray(apples),
    )


def cells(mask):
    return {tuple(c) for c in np.argwhere(np.asarray(mask)).tolist()}


def test_fire_costs_the_shooter_1_and_the_first_agent_hit_50(arena, act):
    state = place(arena, [[5, 5], [3, 5], [2, 5]], [0, 0, 0])
    _, nxt, rewards, _, infos = arena.step_env(jax.random.key(0), state, act(arena, FIRE, STAY, STAY), NO_SPAWN)
    assert [float(rewards[a]) for a in arena.agents] == [-1.0, -50.0, 0.0]  # agent_2 is shielded
    assert infos["beams_fired"].tolist() == [1, 0, 0] and infos["times_hit"].tolist() == [0, 1, 0]
    assert nxt.pos.tolist() == state.pos.tolist()  # nobody is removed
    side = {(r, c) for r in range(1, 6) for c in (4, 6)}
    assert cells(nxt.fire_beam) == {(4, 5), (3, 5)} | side


def test_beam_is_5_long_and_3_wide_with_side_rays_starting_beside_the_shooter(arena, act):
    state = place(arena, [[4, 2], [1, 10], [1, 1]], [1, 0, 0])  # facing right
    _, nxt, *_ = arena.step_env(jax.random.key(0), state, act(arena, FIRE, STAY, STAY), NO_SPAWN)
    expected = {(4, c) for c in range(3, 8)} | {(r, c) for r in (3, 5) for c in range(2, 7)}
    assert cells(nxt.fire_beam) == expected


def test_walls_stop_beams(arena, act):
    state = place(arena, [[1, 5], [6, 1], [6, 10]], [0, 0, 0])  # wall right ahead
    _, nxt, *_ = arena.step_env(jax.random.key(0), state, act(arena, FIRE, STAY, STAY), NO_SPAWN)
    assert cells(nxt.fire_beam) == {(1, 4), (1, 6)}


def test_side_ray_hits_an_agent_standing_beside_the_shooter(arena, act):
    state = place(arena, [[5, 5], [5, 6], [1, 1]], [0, 2, 0])
    _, _, rewards, *_ = arena.step_env(jax.random.key(0), state, act(arena, FIRE, STAY, STAY), NO_SPAWN)
    assert float(rewards["agent_1"]) == -50.0


def test_each_beam_that_hits_an_agent_costs_it_50(arena, act):
    state = place(arena, [[5, 3], [5, 5], [5, 7]], [1, 0, 3])  # 0 and 2 face agent 1 from both sides
    _, _, rewards, _, infos = arena.step_env(jax.random.key(0), state, act(arena, FIRE, STAY, FIRE), NO_SPAWN)
    assert [float(rewards[a]) for a in arena.agents] == [-1.0, -100.0, -1.0]
    assert infos["times_hit"].tolist() == [0, 2, 0]


def test_clean_turns_the_first_waste_of_each_ray_into_river_and_costs_nothing(arena, act):
    waste = np.asarray(arena.layout.waste_init).copy()
    waste[9, 5] = True  # a second waste cell behind the first on the centre ray
    state = place(arena, [[6, 5], [1, 1], [1, 10]], [2, 0, 0], waste=waste)  # facing down
    _, nxt, rewards, _, infos = arena.step_env(jax.random.key(0), state, act(arena, CLEAN, STAY, STAY), NO_SPAWN)
    assert cells(np.asarray(state.waste) & ~np.asarray(nxt.waste)) == {(8, 4), (8, 5), (8, 6)}
    assert bool(nxt.waste[9, 5])
    assert float(rewards["agent_0"]) == 0.0 and infos["cleaning_actions"].tolist() == [1, 0, 0]
    assert cells(nxt.clean_beam) == {(7, 5), (8, 5), (6, 4), (7, 4), (8, 4), (6, 6), (7, 6), (8, 6)}


def test_agents_block_the_cleaning_beam(arena, act):
    state = place(arena, [[6, 5], [7, 5], [1, 10]], [2, 0, 0])
    _, nxt, *_ = arena.step_env(jax.random.key(0), state, act(arena, CLEAN, STAY, STAY), NO_SPAWN)
    assert cells(np.asarray(state.waste) & ~np.asarray(nxt.waste)) == {(8, 4), (8, 6)}


def test_cleaning_beams_are_resolved_in_a_random_agent_order(arena, act, step_many):
    waste = np.zeros((11, 20), bool)
    waste[3, 15] = waste[4, 15] = waste[4, 16] = True  # Y above the crossing X, Z right of it
    state = place(arena, [[4, 12], [7, 15], [1, 1]], [1, 0, 0], waste=waste)
    left = np.asarray(step_many(arena, state, act(arena, CLEAN, CLEAN, STAY), NO_SPAWN)[1].waste)
    assert not left[:, 4, 15].any()  # the crossing is always cleaned, by whoever goes first
    first_is_agent_0 = left[:, 4, 16]  # agent 0 stopped at X, agent 1 reached Y
    first_is_agent_1 = left[:, 3, 15]
    assert np.all(first_is_agent_0 ^ first_is_agent_1)
    assert 0.43 < first_is_agent_0.mean() < 0.57


def test_eating_an_apple_gives_1_and_removes_it(arena, act):
    apples = np.zeros((11, 20), bool)
    apples[4, 5] = True
    state = place(arena, [[5, 5], [1, 1], [1, 10]], [0, 0, 0], apples=apples)
    state = state._replace(t=jnp.asarray(41, jnp.int32))
    _, nxt, rewards, _, infos = arena.step_env(jax.random.key(0), state, act(arena, UP, TURN_CW, STAY), NO_SPAWN)
    assert float(rewards["agent_0"]) == 1.0 and not bool(nxt.apples[4, 5])
    assert infos["apples_eaten"].tolist() == [1, 0, 0] and infos["eat_step_sum"].tolist() == [42, 0, 0]
    assert float(infos["sustainability"][0]) == 42.0
    assert nxt.direction.tolist() == [0, 1, 0]


@pytest.mark.parametrize("n_waste", [0, 12, 24, 36])
def test_apple_spawn_probability_falls_linearly_with_waste_density(cleanup, act, step_many, n_waste):
    spots = np.argwhere(cleanup.layout.waste_spawn)[:n_waste]
    waste = np.zeros(cleanup.layout.shape, bool)
    waste[spots[:, 0], spots[:, 1]] = True
    state = place(cleanup, [[4, 8], [5, 10], [10, 9], [10, 11], [11, 9]], [0] * 5, waste=waste)
    nxt = step_many(cleanup, state, act(cleanup, *[STAY] * 5))[1]
    rho = n_waste / cleanup.layout.waste_spawn.sum()
    expected = 0.05 * (1 - rho / 0.4)
    observed = np.asarray(nxt.apples).sum() / (1000 * cleanup.layout.apple_spawn.sum())
    assert abs(observed - expected) < 5 * np.sqrt(expected * (1 - expected) / (1000 * 103)) + 1e-9
    new_waste = np.asarray(nxt.waste).sum(axis=(1, 2)) - n_waste
    assert np.all(new_waste == 1)  # ~100 candidates at p = 0.5: one, never more


def test_nothing_spawns_at_or_above_the_depletion_threshold(cleanup, act, step_many):
    assert cleanup.layout.waste_init.sum() / cleanup.layout.waste_spawn.sum() >= 0.4  # the start
    _, state = cleanup.reset(jax.random.key(0))
    nxt = step_many(cleanup, state, act(cleanup, *[STAY] * 5))[1]
    assert not np.asarray(nxt.apples).any()
    assert np.array_equal(np.asarray(nxt.waste), np.broadcast_to(cleanup.layout.waste_init, nxt.waste.shape))


def test_spawn_probabilities_formula():
    p = CleanupParams(restoration_threshold=0.1)
    apple, waste = spawn_probabilities(jnp.asarray([0.0, 0.1, 0.25, 0.4, 0.9]), p)
    assert np.allclose(apple, [0.05, 0.05, 0.025, 0.0, 0.0]) and np.allclose(waste, [0.5, 0.5, 0.5, 0.0, 0.0])


def test_at_most_one_waste_cell_per_step_candidates_tried_until_one_succeeds(arena, act, step_many):
    waste = np.zeros((11, 20), bool)
    waste[8, 1:8] = True  # 7 of the 23 potential waste cells: density 0.30, 16 candidates
    state = place(arena, [[1, 1], [1, 3], [1, 5]], [0, 0, 0], waste=waste)
    p = 0.05  # candidates in random order, each succeeding with p, until one does
    params = CleanupParams(apple_respawn_prob=0.0, waste_spawn_prob=p)
    new = np.asarray(step_many(arena, state, act(arena, STAY, STAY, STAY), params)[1].waste) & ~waste
    candidates = np.asarray(arena.layout.waste_spawn) & ~waste
    assert candidates.sum() == 16 and not new[:, ~candidates].any()
    assert new.sum(axis=(1, 2)).max() == 1
    p_any = 1 - (1 - p) ** 16
    assert abs(new.any(axis=(1, 2)).mean() - p_any) < 5 * np.sqrt(p_any * (1 - p_any) / 1000)
    per_cell = new[:, candidates].mean()
    assert abs(per_cell - p_any / 16) < 5 * np.sqrt(p_any / 16 / 16000)


def test_apples_never_grow_under_agents(arena, act):
    state = place(arena, [[7, 3], [1, 1], [1, 3]], [0, 0, 0], waste=np.zeros((11, 20), bool))
    params = CleanupParams(apple_respawn_prob=1.0)
    _, nxt, *_ = arena.step_env(jax.random.key(0), state, act(arena, STAY, STAY, STAY), params)
    assert not bool(nxt.apples[7, 3]) and bool(nxt.apples[7, 4])


def test_cleanup_episode_lasts_1000_steps_then_resets(cleanup, act):
    _, state = cleanup.reset(jax.random.key(0))
    actions = act(cleanup, *[STAY] * 5)
    dones = cleanup.step_env(jax.random.key(1), state._replace(t=jnp.asarray(998, jnp.int32)), actions)[3]
    assert not bool(dones["__all__"])
    _, nxt, _, dones, _ = cleanup.step(jax.random.key(1), state._replace(t=jnp.asarray(999, jnp.int32)), actions)
    assert bool(dones["__all__"]) and all(bool(dones[a]) for a in cleanup.agents)
    assert int(nxt.t) == 0


def test_stream_cells_are_walkable_floor(cleanup, act):
    assert cleanup.layout.stream[8, 8] and not cleanup.layout.walls[8, 8]
    state = place(cleanup, [[7, 8], [4, 8], [5, 10], [10, 9], [11, 9]], [2, 0, 0, 0, 0])  # agent 0 faces S
    nxt = cleanup.step_env(jax.random.key(0), state, act(cleanup, UP, STAY, STAY, STAY, STAY))[1]
    assert nxt.pos.tolist()[0] == [8, 8]


def test_cleanup_spec(cleanup):
    assert cleanup.num_agents == 5 and cleanup.action_space("agent_0").n == 9
    assert cleanup.observation_space("agent_3").shape == (15, 15, 7)
    assert cleanup.channels == ("wall", "apple", "waste", "river", "agent", "fire_beam", "clean_beam")
    p = cleanup.default_params
    assert (p.max_steps, p.apple_respawn_prob, p.waste_spawn_prob, p.depletion_threshold) == (1000, 0.05, 0.5, 0.4)
    assert (p.fire_cost, p.hit_penalty, p.clean_cost, p.apple_reward) == (1.0, 50.0, 0.0, 1.0)


def test_observation_shows_waste_river_and_other_agents_from_the_agents_view(arena):
    state = place(arena, [[6, 5], [4, 5], [1, 1]], [2, 0, 0])  # agent 0 faces down, towards the river
    obs = np.asarray(arena.get_obs(state)["agent_0"])
    ch = {c: i for i, c in enumerate(arena.channels)}
    # facing down, the waste row 8 (2 rows ahead) is view row 7 - 2 = 5, the river row 9 is view row 4
    assert obs[5, 7, ch["waste"]] == 1 and obs[4, 7, ch["river"]] == 1 and obs[5, 7, ch["river"]] == 0
    # agent 1, two cells behind, appears below the centre; the observer itself is not drawn
    assert obs[9, 7, ch["agent"]] == 1 and obs[7, 7, ch["agent"]] == 0
    assert obs[3, 7, ch["wall"]] == 1  # row 10 (the wall) is 4 ahead


def test_mini_cleanup_grows_nothing_until_a_waste_cell_is_cleaned(registered, act, step_many):
    env = registered("mini_cleanup")
    assert env.action_names == ("left", "right", "up", "down", "stay", "clean")
    assert env.observation_space("agent_0").shape == (9, 9, 6) and env.default_params.max_steps == 50
    _, state = env.reset(jax.random.key(0))
    assert state.direction.tolist() == [0, 0] and int(state.waste.sum()) == 2
    nxt = step_many(env, state, act(env, 4, 4))[1]
    assert not np.asarray(nxt.apples).any() and np.asarray(nxt.waste).sum(axis=(1, 2)).tolist() == [2] * 1000
    # an agent below the waste column cleans upwards (fixed orientation: up)
    cleaner = state._replace(pos=jnp.asarray([[3, 1], [5, 4]], jnp.int32))
    frozen = env.default_params._replace(waste_spawn_prob=0.0, apple_respawn_prob=0.0)
    cleaned = jax.tree.map(lambda x: x[0], step_many(env, cleaner, act(env, 5, 4), frozen)[1])
    assert not bool(cleaned.waste[2, 1]) and bool(cleaned.waste[1, 1])
    # density 1/2 < 0.6: apples at 0.5 * (1 - 0.5 / 0.6), the cleaned cell re-polluted at 0.5
    nxt = step_many(env, cleaned, act(env, 4, 4))[1]
    rate = np.asarray(nxt.apples).sum() / (1000 * 5)
    expected = 0.5 * (1 - 0.5 / 0.6)
    assert abs(rate - expected) < 5 * np.sqrt(expected / 5000)
    assert abs(np.asarray(nxt.waste)[:, 2, 1].mean() - 0.5) < 0.08


def test_cleanup_10x10_numbers(registered):
    env = registered("cleanup_10x10")
    p = env.default_params
    assert (p.apple_respawn_prob, p.depletion_threshold, p.waste_spawn_prob, p.max_steps) == (0.3, 0.4, 0.5, 50)
    assert env.observation_space("agent_0").shape == (15, 15, 6) and env.num_agents == 2
    assert env.action_space("agent_1").n == 6
