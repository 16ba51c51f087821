"""Shared grid-world mechanics: maps, orientation, movement, conflicts, beams, views.

Everything here is a pure function on stacked per-agent arrays (leading axis = agent), so
one call handles all agents at once; nothing loops over agents or cells in Python (the only
sequential part of a step, the cleaning beams, is a ``lax.scan`` in ``_dilemma``).

Conventions (the sequential-social-dilemma code of Vinitsky et al., ``map_env.py``):

- positions are ``(row, col)``, rows grow downwards;
- facing directions are ``0 UP, 1 RIGHT, 2 DOWN, 3 LEFT`` (clockwise order), so a
  clockwise turn adds one;
- the canonical action codes are ``LEFT, RIGHT, UP, DOWN, STAY, TURN_CW, TURN_CCW, FIRE,
  CLEAN`` (0..8); moves are relative to the facing direction (UP = forward, LEFT = the
  agent's left); an environment exposes a prefix or subset of them.

References:
    Vinitsky et al., sequential_social_dilemma_games (``map_env.py``: ``update_moves``,
    ``update_map_fire``, ``rotate_action``); Hughes et al. 2018; Leibo et al. 2017.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

LEFT, RIGHT, UP, DOWN, STAY, TURN_CW, TURN_CCW, FIRE, CLEAN = range(9)
ACTION_NAMES = ("left", "right", "up", "down", "stay", "turn_cw", "turn_ccw", "fire", "clean")

# Row/col step of each facing direction, clockwise from UP.
DIRECTIONS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int32)
# Quarter turns clockwise from the facing direction for each move code (forward = UP).
_MOVE_QUARTER_TURNS = np.array([3, 1, 0, 2, 0, 0, 0, 0, 0], dtype=np.int32)

MAP_LEGEND = {
    "@": "wall",
    "P": "agent spawn point",
    "A": "apple spawn point, apple at the start",
    "B": "apple spawn point, empty at the start",
    "H": "waste spawn point, polluted at the start",
    "R": "river: waste spawn point, clean at the start",
    "S": "stream: decoration, no mechanic",
    " ": "floor",
}


class GridLayout(NamedTuple):
    """A parsed ASCII map (numpy, static). All masks are bool arrays of shape ``(H, W)``.

    Attributes:
        walls: ``@`` cells; they block movement and beams.
        apple_spawn: ``A`` and ``B`` cells, where apples can grow.
        apple_init: ``A`` cells, holding an apple at the start.
        waste_spawn: ``H`` and ``R`` cells, the potential waste area.
        waste_init: ``H`` cells, polluted at the start.
        stream: ``S`` cells (drawn, otherwise plain floor).
        spawn_points: int32 array ``(K, 2)`` of ``P`` cells in reading order.
    """

    walls: np.ndarray
    apple_spawn: np.ndarray
    apple_init: np.ndarray
    waste_spawn: np.ndarray
    waste_init: np.ndarray
    stream: np.ndarray
    spawn_points: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.walls.shape


def parse_layout(text: str) -> GridLayout:
    """Parse an ASCII map (legend in ``MAP_LEGEND``); raises ``ValueError`` on a bad map."""
    rows = [line for line in text.splitlines() if line.strip() != ""]
    if not rows:
        raise ValueError("empty map: give at least one row of cells.")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"map row {i} has {len(row)} cells, row 0 has {width}: pad the rows.")
        bad = sorted(set(row) - set(MAP_LEGEND))
        if bad:
            raise ValueError(f"map row {i} has unknown cells {bad}; the legend is {sorted(MAP_LEGEND)}.")
    grid = np.array([list(r) for r in rows])
    return GridLayout(
        walls=grid == "@",
        apple_spawn=(grid == "A") | (grid == "B"),
        apple_init=grid == "A",
        waste_spawn=(grid == "H") | (grid == "R"),
        waste_init=grid == "H",
        stream=grid == "S",
        spawn_points=np.argwhere(grid == "P").astype(np.int32),
    )


def uniforms(key: jax.Array, *shapes: tuple[int, ...]) -> list[jax.Array]:
    """Uniform ``[0, 1)`` arrays of the given shapes from a single PRNG call.

    Environments draw all of a step's randomness at once: every separate
    ``jax.random`` call inlines another threefry hash, and on CPU each one adds about
    0.2 s of XLA compile time to a step (measured: five calls 1.0 s, one call 0.4 s).
    """
    sizes = [math.prod(s) for s in shapes]
    flat = jax.random.uniform(key, (sum(sizes),))
    offsets = np.cumsum([0, *sizes])
    return [flat[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes)]


def spread(shape: tuple[int, int], cells: np.ndarray, values: jax.Array, fill: float = 1.0) -> jax.Array:
    """A float grid of ``shape`` holding ``values`` at the flat indices ``cells``, ``fill``
    elsewhere: random draws for the few cells that need them (threefry is the costliest
    part of a step, so drawing for every cell would double it)."""
    return jnp.full(shape[0] * shape[1], fill, values.dtype).at[cells].set(values).reshape(shape)


def load_layout(name: str) -> GridLayout:
    """Load ``maps/<name>.txt`` shipped with the package (read once, at construction)."""
    path = resources.files("mixmo.envs") / "maps" / f"{name}.txt"
    if not path.is_file():
        known = sorted(p.name[:-4] for p in (resources.files("mixmo.envs") / "maps").iterdir()
                       if p.name.endswith(".txt"))
        raise ValueError(f"unknown map {name!r}; the shipped maps are {known}.")
    return parse_layout(path.read_text())


def in_bounds(cells: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """Whether each ``(..., 2)`` cell lies on a grid of ``shape``."""
    return (cells[..., 0] >= 0) & (cells[..., 0] < shape[0]) & (cells[..., 1] >= 0) & (
        cells[..., 1] < shape[1]
    )


def lookup(grid: jax.Array, cells: jax.Array, outside) -> jax.Array:
    """``grid`` at ``(..., 2)`` cells, ``outside`` where a cell is off the grid."""
    inside = in_bounds(cells, grid.shape)
    r = jnp.clip(cells[..., 0], 0, grid.shape[0] - 1)
    c = jnp.clip(cells[..., 1], 0, grid.shape[1] - 1)
    return jnp.where(inside, grid[r, c], outside)


def paint(shape: tuple[int, int], cells: jax.Array, mask: jax.Array) -> jax.Array:
    """Bool grid of ``shape``, true at the ``(..., 2)`` cells where ``mask`` holds."""
    mask = mask & in_bounds(cells, shape)
    r = jnp.clip(cells[..., 0], 0, shape[0] - 1)
    c = jnp.clip(cells[..., 1], 0, shape[1] - 1)
    # max-scatter so repeated (clipped) cells cannot overwrite a true with a false
    return jnp.zeros(shape, jnp.uint8).at[r, c].max(mask.astype(jnp.uint8)) > 0


def turn(direction: jax.Array, codes: jax.Array) -> jax.Array:
    """New facing directions after ``TURN_CW`` / ``TURN_CCW`` codes."""
    quarter = (codes == TURN_CW).astype(jnp.int32) - (codes == TURN_CCW).astype(jnp.int32)
    return (direction + quarter) % 4


def move_targets(pos: jax.Array, direction: jax.Array, codes: jax.Array, walls: jax.Array) -> jax.Array:
    """Where each agent tries to go: ``(N, 2)``; the own cell for non-moves and walls.

    Moves are relative to the facing direction: ``UP`` steps forward, ``LEFT`` to the
    agent's left. A wall (or the map edge) in the way leaves the agent where it is.
    """
    is_move = codes <= DOWN
    heading = (direction + jnp.asarray(_MOVE_QUARTER_TURNS)[codes]) % 4
    target = pos + jnp.asarray(DIRECTIONS)[heading] * is_move[:, None].astype(jnp.int32)
    blocked = lookup(walls, target, True)
    return jnp.where(blocked[:, None], pos, target)


def resolve_moves(priority: jax.Array, pos: jax.Array, target: jax.Array) -> jax.Array:
    """Final positions when agents at ``pos`` (N, D) try to reach ``target`` (N, D).

    ``priority`` (N,) holds i.i.d. uniform draws: the highest wins a contested cell, so
    the winner is uniformly random.

    Rules (as ``map_env.update_moves``): several agents wanting one cell -> a uniformly
    random one of them wins, the others stay; a move into the cell of an agent that stays
    (or is itself blocked) fails; two agents swapping cells both fail (they cannot pass
    through each other); an agent may follow one that leaves its cell, and a closed cycle
    of agents all move. Works for any cell dimension ``D`` (the ring of Trust-Your-Brother
    uses ``D = 1``). Blocking can cascade down a chain, hence the ``N`` relaxation rounds.
    """
    n = pos.shape[0]
    other = ~jnp.eye(n, dtype=bool)
    same = lambda a, b: jnp.all(a[:, None, :] == b[None, :, :], axis=-1)  # noqa: E731
    swapping = same(target, pos) & same(pos, target) & other
    moving = jnp.any(target != pos, axis=-1) & ~jnp.any(swapping, axis=1)

    def relax(_, moving):
        final = jnp.where(moving[:, None], target, pos)
        # j beats i for a shared cell when j stays put or j has the higher priority
        beaten = ~moving[None, :] | (priority[None, :] > priority[:, None])
        loses = moving & jnp.any(same(final, final) & other & beaten, axis=1)
        return moving & ~loses

    moving = jax.lax.fori_loop(0, n, relax, moving)
    return jnp.where(moving[:, None], target, pos)


def beam_rays(pos: jax.Array, direction: jax.Array, length: int) -> jax.Array:
    """Cells of the three rays of each agent's beam: int32 ``(N, 3, length, 2)``.

    Ray 0 (centre) starts in front of the agent; rays 1 and 2 start beside the agent (on
    its right and left), one cell behind the centre ray's start, so the centre reaches one
    cell further. This is ``update_map_fire``'s ``start_pos +- right - forward`` layout.
    """
    fwd = jnp.asarray(DIRECTIONS)[direction][:, None, :]
    right = jnp.asarray(DIRECTIONS)[(direction + 1) % 4][:, None, :]
    k = jnp.arange(length, dtype=jnp.int32)[None, :, None]
    origin = pos[:, None, :]
    centre = origin + fwd * (k + 1)
    return jnp.stack([centre, origin + right + fwd * k, origin - right + fwd * k], axis=1)


def trace_rays(rays: jax.Array, walls: jax.Array, stoppers: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Walk rays ``(..., L, 2)`` outwards. Returns ``(covered, stop)``, bool ``(..., L)``.

    A ray ends before a wall or the map edge, and on (including) the first ``stoppers``
    cell; ``stop`` marks that last cell when the ray ended on a stopper.
    """
    wall = lookup(walls, rays, True)
    stopper = lookup(stoppers, rays, False) & ~wall
    walled = jnp.cumsum(wall.astype(jnp.int32), axis=-1) > 0
    stopped_before = (jnp.cumsum(stopper.astype(jnp.int32), axis=-1) - stopper.astype(jnp.int32)) > 0
    covered = ~walled & ~stopped_before
    return covered, covered & stopper


def view_offsets(radius: int) -> np.ndarray:
    """Map offsets of an egocentric view: int32 ``(4, V, V, 2)``, ``V = 2 * radius + 1``.

    Entry ``[d, i, j]`` is the map offset shown at view cell ``(i, j)`` to an agent facing
    ``d``: row ``i < radius`` is ahead of the agent, column ``j > radius`` to its right,
    so the view is rotated to face up.
    """
    i, j = np.meshgrid(np.arange(2 * radius + 1), np.arange(2 * radius + 1), indexing="ij")
    ahead, right = radius - i, j - radius
    out = [ahead[..., None] * DIRECTIONS[d] + right[..., None] * DIRECTIONS[(d + 1) % 4] for d in range(4)]
    return np.stack(out).astype(np.int32)


def egocentric_views(
    planes: jax.Array, pad: np.ndarray, pos: jax.Array, direction: jax.Array, radius: int
) -> jax.Array:
    """Per-agent rotated views ``(N, V, V, C)`` of ``planes`` ``(H, W, C)``.

    Cells off the map read as ``pad`` (a length-``C`` vector, e.g. walls on).
    """
    h, w, c = planes.shape
    padded = jnp.broadcast_to(jnp.asarray(pad, planes.dtype), (h + 2 * radius, w + 2 * radius, c))
    padded = padded.at[radius : radius + h, radius : radius + w].set(planes)
    idx = pos[:, None, None, :] + radius + jnp.asarray(view_offsets(radius))[direction]
    return padded[idx[..., 0], idx[..., 1]]


def neighbour_count(mask: jax.Array) -> jax.Array:
    """int32 count of true cells in each cell's 3 x 3 block (itself included)."""
    h, w = mask.shape
    p = jnp.pad(mask.astype(jnp.int32), 1)
    return sum(p[dr : dr + h, dc : dc + w] for dr in range(3) for dc in range(3))
