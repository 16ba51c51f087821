"""Shared grid mechanics (``mixmo.envs._grid``): orientation, moves, conflicts, beams, views."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixmo.envs import _grid

OPEN = jnp.asarray(np.pad(np.zeros((7, 7), bool), 1, constant_values=True))  # 9 x 9, wall border

move_targets = jax.jit(_grid.move_targets)


@jax.jit
def resolve(key, pos, target):
    return _grid.resolve_moves(jax.random.uniform(key, (pos.shape[0],)), pos, target)


rays_of = jax.jit(_grid.beam_rays, static_argnums=2)
trace = jax.jit(_grid.trace_rays)


def _pos(*cells):
    return jnp.asarray(cells, jnp.int32).reshape(-1, 2)


@pytest.mark.parametrize(
    ("facing", "code", "step"),
    [
        (0, _grid.UP, (-1, 0)), (0, _grid.DOWN, (1, 0)), (0, _grid.LEFT, (0, -1)), (0, _grid.RIGHT, (0, 1)),
        (1, _grid.UP, (0, 1)), (1, _grid.LEFT, (-1, 0)), (1, _grid.RIGHT, (1, 0)), (1, _grid.DOWN, (0, -1)),
        (2, _grid.UP, (1, 0)), (2, _grid.LEFT, (0, 1)), (3, _grid.UP, (0, -1)), (3, _grid.LEFT, (1, 0)),
        (2, _grid.STAY, (0, 0)), (1, _grid.FIRE, (0, 0)), (3, _grid.TURN_CW, (0, 0)),
    ],
)
def test_moves_are_relative_to_the_facing_direction(facing, code, step):
    target = move_targets(_pos(4, 4), jnp.asarray([facing]), jnp.asarray([code]), OPEN)
    assert target[0].tolist() == [4 + step[0], 4 + step[1]]


def test_turns_go_round_clockwise_and_back():
    d = jnp.arange(4, dtype=jnp.int32)
    assert _grid.turn(d, jnp.full((4,), _grid.TURN_CW)).tolist() == [1, 2, 3, 0]
    assert _grid.turn(d, jnp.full((4,), _grid.TURN_CCW)).tolist() == [3, 0, 1, 2]
    assert _grid.turn(d, jnp.full((4,), _grid.UP)).tolist() == [0, 1, 2, 3]


def test_walls_and_the_map_edge_block_moves():
    # facing up at the top row: the wall is ahead; facing left at column 1: the wall is ahead
    target = move_targets(_pos((1, 3), (4, 1)), jnp.asarray([0, 3]), jnp.asarray([_grid.UP, _grid.UP]), OPEN)
    assert target.tolist() == [[1, 3], [4, 1]]
    edge = move_targets(_pos(0, 0), jnp.asarray([0]), jnp.asarray([_grid.UP]), jnp.zeros((3, 3), bool))
    assert edge.tolist() == [[0, 0]]


def test_two_agents_wanting_one_cell_get_a_fair_random_winner():
    pos, target = _pos((2, 1), (2, 3)), _pos((2, 2), (2, 2))
    keys = jax.random.split(jax.random.key(0), 400)
    finals = np.asarray(jax.vmap(resolve, in_axes=(0, None, None))(keys, pos, target))
    first_wins = np.all(finals[:, 0] == [2, 2], axis=-1)
    second_wins = np.all(finals[:, 1] == [2, 2], axis=-1)
    assert np.all(first_wins ^ second_wins)  # exactly one moves, the other stays
    loser = np.where(first_wins[:, None], finals[:, 1], finals[:, 0])
    loser_start = np.where(first_wins[:, None], np.asarray(pos[1]), np.asarray(pos[0]))
    assert np.array_equal(loser, loser_start)  # the loser stays where it was
    assert 0.4 < first_wins.mean() < 0.6


def test_a_move_into_a_staying_agent_fails_and_blocking_cascades_down_a_chain():
    key = jax.random.key(1)
    # a -> b's cell, b -> c's cell, c stays: nobody moves
    pos = _pos((1, 1), (1, 2), (1, 3))
    assert resolve(key, pos, _pos((1, 2), (1, 3), (1, 3))).tolist() == pos.tolist()
    # same chain with c leaving: everybody moves (agents follow one another)
    assert resolve(key, pos, _pos((1, 2), (1, 3), (1, 4))).tolist() == [[1, 2], [1, 3], [1, 4]]


def test_agents_cannot_swap_but_a_cycle_of_three_or_more_turns():
    key = jax.random.key(2)
    pos = _pos((1, 1), (1, 2))
    assert resolve(key, pos, _pos((1, 2), (1, 1))).tolist() == pos.tolist()
    square = _pos((1, 1), (1, 2), (2, 2), (2, 1))
    rotated = _pos((1, 2), (2, 2), (2, 1), (1, 1))
    assert resolve(key, square, rotated).tolist() == rotated.tolist()


@settings(max_examples=60, deadline=None)
@given(
    cells=st.lists(st.integers(0, 15), min_size=5, max_size=5, unique=True),
    steps=st.lists(st.integers(0, 4), min_size=5, max_size=5),
    seed=st.integers(0, 2**31 - 1),
)
def test_resolved_moves_never_share_a_cell_and_each_agent_stays_or_arrives(cells, steps, seed):
    pos = jnp.asarray([[c // 4, c % 4] for c in cells], jnp.int32)
    delta = jnp.asarray([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], jnp.int32)[jnp.asarray(steps)]
    target = pos + delta
    final = np.asarray(resolve(jax.random.key(seed), pos, target))
    assert len({tuple(f) for f in final}) == 5
    assert np.all(np.all(final == np.asarray(pos), axis=1) | np.all(final == np.asarray(target), axis=1))
    # an uncontested move into a cell nobody holds at the start always succeeds
    for i in range(5):
        t = tuple(np.asarray(target[i]))
        free = all(t != tuple(np.asarray(p)) for p in pos)
        alone = sum(t == tuple(np.asarray(u)) for u in target) == 1
        if free and alone:
            assert tuple(final[i]) == t


def test_beam_geometry_centre_ray_one_longer_than_the_side_rays():
    rays = rays_of(_pos(10, 10), jnp.asarray([0]), 5)[0]  # facing up
    assert rays[0].tolist() == [[9, 10], [8, 10], [7, 10], [6, 10], [5, 10]]
    assert rays[1].tolist() == [[10, 11], [9, 11], [8, 11], [7, 11], [6, 11]]  # right side
    assert rays[2].tolist() == [[10, 9], [9, 9], [8, 9], [7, 9], [6, 9]]  # left side
    east = rays_of(_pos(10, 10), jnp.asarray([1]), 5)[0]
    assert east[0, -1].tolist() == [10, 15] and east[1, 0].tolist() == [11, 10] and east[2, -1].tolist() == [9, 14]


def test_rays_stop_before_walls_and_on_the_first_stopper():
    walls = jnp.zeros((1, 8), bool).at[0, 5].set(True)
    stoppers = jnp.zeros((1, 8), bool).at[0, 3].set(True).at[0, 4].set(True)
    ray = jnp.asarray([[[0, c] for c in range(1, 8)]], jnp.int32)
    covered, stop = trace(ray, walls, stoppers)
    assert covered[0].tolist() == [True, True, True, False, False, False, False]
    assert stop[0].tolist() == [False, False, True, False, False, False, False]
    covered, stop = trace(ray, walls, jnp.zeros((1, 8), bool))
    assert covered[0].tolist() == [True, True, True, True, False, False, False] and not stop.any()
    off_map = jnp.asarray([[[0, 6], [0, 7], [0, 8], [0, 9]]], jnp.int32)
    assert trace(off_map, jnp.zeros((1, 8), bool), jnp.zeros((1, 8), bool))[0][0].tolist() == [
        True, True, False, False,
    ]


@pytest.mark.parametrize("facing", [0, 1, 2, 3])
def test_views_are_rotated_so_the_agent_faces_up(facing):
    step = _grid.DIRECTIONS[facing]
    right = _grid.DIRECTIONS[(facing + 1) % 4]
    planes = np.zeros((9, 9, 2), np.uint8)
    planes[4 + step[0], 4 + step[1], 0] = 1  # in front of the agent at (4, 4)
    planes[4 + right[0], 4 + right[1], 1] = 1  # on its right
    pad = np.array([1, 0], np.uint8)
    views = _grid.egocentric_views(jnp.asarray(planes), pad, _pos(4, 4), jnp.asarray([facing]), 2)
    v = np.asarray(views[0])
    assert v.shape == (5, 5, 2)
    assert v[1, 2, 0] == 1 and v[:, :, 0].sum() == 1
    assert v[2, 3, 1] == 1 and v[:, :, 1].sum() == 1


def test_views_pad_off_map_cells_with_the_pad_value():
    planes = jnp.zeros((3, 3, 2), jnp.uint8)
    v = np.asarray(_grid.egocentric_views(planes, np.array([1, 0], np.uint8), _pos(0, 0), jnp.asarray([0]), 1)[0])
    assert v[0, :, 0].tolist() == [1, 1, 1] and v[:, 0, 0].tolist() == [1, 1, 1]
    assert v[1:, 1:, 0].sum() == 0 and v[..., 1].sum() == 0


def test_uniforms_cuts_one_draw_into_independent_looking_pieces():
    a, b, c = _grid.uniforms(jax.random.key(0), (3,), (2, 4), (1000,))
    assert a.shape == (3,) and b.shape == (2, 4) and c.shape == (1000,)
    assert float(c.min()) >= 0.0 and float(c.max()) < 1.0 and abs(float(c.mean()) - 0.5) < 0.05
    assert len(set(np.concatenate([a, b.ravel()]).tolist())) == 11


def test_neighbour_count_is_the_3x3_block_sum():
    rng = np.random.default_rng(0)
    mask = rng.random((6, 7)) < 0.4
    padded = np.pad(mask, 1).astype(int)
    expected = sum(padded[r : r + 6, c : c + 7] for r in range(3) for c in range(3))
    assert np.array_equal(np.asarray(_grid.neighbour_count(jnp.asarray(mask))), expected)


def test_layout_parsing_and_its_errors():
    layout = _grid.parse_layout("@@@@\n@PA@\n@HR@\n@BS@\n@@@@\n")
    assert layout.shape == (5, 4)
    assert layout.spawn_points.tolist() == [[1, 1]]
    assert layout.apple_init.sum() == 1 and layout.apple_spawn.sum() == 2
    assert layout.waste_init.sum() == 1 and layout.waste_spawn.sum() == 2 and layout.stream.sum() == 1
    with pytest.raises(ValueError, match="row 1 has 3 cells"):
        _grid.parse_layout("@@@@\n@P@\n")
    with pytest.raises(ValueError, match=r"unknown cells \['X'\]"):
        _grid.parse_layout("@X@\n")
    with pytest.raises(ValueError, match="shipped maps are.*cleanup"):
        _grid.load_layout("nope")


def test_shipped_maps_have_the_documented_sizes():
    sizes = {"cleanup": (25, 18), "harvest": (16, 38), "mini_cleanup": (7, 7), "cleanup_10x10": (10, 10)}
    for name, shape in sizes.items():
        layout = _grid.load_layout(name)
        assert layout.shape == shape
        assert layout.walls[0].all() and layout.walls[-1].all()
