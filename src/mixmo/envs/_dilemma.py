"""The sequential-social-dilemma grid game shared by Cleanup and Harvest.

One step, in this order (as ``map_env.step`` of Vinitsky et al.):

1. turns, then moves relative to the facing direction (walls block; several agents
   wanting one cell -> a random winner; see ``_grid.resolve_moves``);
2. an agent standing on an apple eats it (+``apple_reward``);
3. beams from the agents' new cells: every ``FIRE`` costs the shooter ``fire_cost`` and
   costs each agent it hits ``hit_penalty`` (per hit; a hit agent is not removed); then the
   ``CLEAN`` beams are resolved one agent at a time in a random order, each ray turning the
   first waste cell it meets into river and stopping there (so a later beam can reach past
   a cell an earlier beam cleaned);
4. the environment's regrowth rule (Cleanup: waste-density driven; Harvest: neighbours);
5. the step counter; the episode ends after ``max_steps`` steps.

Observation encoding (instead of the original RGB): a uint8 0/1 tensor ``(V, V, C)``,
``V = 2 * view_radius + 1``, centred on the agent and rotated so that it faces up (row 0 is
ahead, column ``V - 1`` to its right). Channels, in this order, present only when the
game has the thing:

- ``wall``: walls, and every cell off the map;
- ``apple``: apples;
- ``waste``, ``river``: polluted and clean cells of the potential waste area (Cleanup);
- ``agent``: the other agents (the observer itself is always at the centre and not shown);
- ``fire_beam``, ``clean_beam``: cells swept by penalty / cleaning beams during the last step
  (games with those actions).

``env.channels`` lists the names. Stream cells (``S``) are plain walkable floor: the rules
say walls are the only obstacle, as in the original code (the map README calls ``S``
impassable; we follow the rules and the original ``return_valid_pos``).

``infos`` (each ``(num_agents,)``, running totals for the episode including this step):
``episode_return``, ``apples_eaten``, ``eat_step_sum`` (sum of the step numbers, 1-based, at
which the agent ate), ``sustainability`` (their mean, 0 for an agent that ate nothing),
``beams_fired``, ``cleaning_actions``, ``times_hit``.

References:
    Leibo et al. 2017 (Harvest/Gathering), Hughes et al. 2018 (Cleanup, Harvest),
    Vinitsky et al. sequential_social_dilemma_games (``map_env.py``, ``agent.py``):
    FIRE costs 1, a hit costs 50, beams are 5 long and 3 wide.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.envs import _grid
from mixmo.envs._base import MultiAgentEnv, Transition
from mixmo.envs._spaces import Box, Discrete


class EpisodeStats(NamedTuple):
    """Running per-agent totals for the current episode, each of shape ``(num_agents,)``."""

    episode_return: jax.Array
    apples_eaten: jax.Array
    eat_step_sum: jax.Array
    beams_fired: jax.Array
    cleaning_actions: jax.Array
    times_hit: jax.Array

    @classmethod
    def zeros(cls, n: int) -> EpisodeStats:
        i = jnp.zeros((n,), jnp.int32)
        return cls(jnp.zeros((n,), jnp.float32), i, i, i, i, i)


class GridState(NamedTuple):
    """State of a grid dilemma.

    Attributes:
        pos: int32 ``(N, 2)`` agent cells (row, col).
        direction: int32 ``(N,)`` facing, 0 up, 1 right, 2 down, 3 left.
        apples: bool ``(H, W)``.
        waste: bool ``(H, W)`` (all false in Harvest).
        fire_beam: bool ``(H, W)`` cells swept by penalty beams at the last step.
        clean_beam: bool ``(H, W)`` cells swept by cleaning beams at the last step.
        t: int32 scalar, steps taken this episode.
        stats: the episode's running totals.
    """

    pos: jax.Array
    direction: jax.Array
    apples: jax.Array
    waste: jax.Array
    fire_beam: jax.Array
    clean_beam: jax.Array
    t: jax.Array
    stats: EpisodeStats


class GridDilemmaEnv(MultiAgentEnv):
    """Base class of Cleanup and Harvest; subclasses define ``_regrow``.

    Args:
        layout: the parsed map.
        num_agents: number of agents; at most the number of ``P`` cells.
        actions: canonical action codes (``_grid.LEFT`` ...) in the order the agents index
            them.
        view_radius: cells seen on each side; the view is ``2 * view_radius + 1`` wide.
        beam_length: length of the centre ray of FIRE and CLEAN beams.
        random_orientation: spawn facing a random direction, else facing up.
        params: default parameters (a NamedTuple with at least ``max_steps``,
            ``apple_reward``, ``fire_cost``, ``hit_penalty``, ``clean_cost``).
    """

    def __init__(
        self,
        layout: _grid.GridLayout,
        *,
        num_agents: int,
        actions: tuple[int, ...],
        view_radius: int,
        beam_length: int,
        random_orientation: bool,
        params: Any,
    ):
        super().__init__(num_agents)
        if num_agents > len(layout.spawn_points):
            raise ValueError(
                f"num_agents={num_agents} but the map has only {len(layout.spawn_points)} "
                "spawn points 'P': use fewer agents or add spawn points."
            )
        if len(set(actions)) != len(actions) or not set(actions) <= set(range(9)):
            raise ValueError(f"actions must be distinct codes in 0..8, got {actions}.")
        if view_radius < 0 or beam_length < 1:
            raise ValueError(f"need view_radius >= 0 and beam_length >= 1, got {view_radius}, {beam_length}.")
        self.layout = layout
        self.actions = tuple(actions)
        self.action_names = tuple(_grid.ACTION_NAMES[a] for a in actions)
        self.view_radius = int(view_radius)
        self.beam_length = int(beam_length)
        self.random_orientation = bool(random_orientation)
        self._params = params
        has_waste = bool(layout.waste_spawn.any())
        self.channels = tuple(
            ["wall", "apple"]
            + (["waste", "river"] if has_waste else [])
            + ["agent"]
            + (["fire_beam"] if _grid.FIRE in actions else [])
            + (["clean_beam"] if _grid.CLEAN in actions else [])
        )
        self._pad = np.array([c == "wall" for c in self.channels], np.uint8)
        v = 2 * self.view_radius + 1
        self._not_self = np.ones((v, v, len(self.channels)), np.uint8)
        self._not_self[self.view_radius, self.view_radius, self.channels.index("agent")] = 0
        self._potential_waste = max(int(layout.waste_spawn.sum()), 1)
        self._apple_cells = np.flatnonzero(layout.apple_spawn)
        self._waste_cells = np.flatnonzero(layout.waste_spawn)

    @property
    def default_params(self) -> Any:
        return self._params

    def observation_space(self, agent: str) -> Box:
        v = 2 * self.view_radius + 1
        return Box(0, 1, (v, v, len(self.channels)), jnp.uint8)

    def action_space(self, agent: str) -> Discrete:
        return Discrete(len(self.actions))

    # --- dynamics ----------------------------------------------------------------------
    def _reset_state(self, key: jax.Array, params: Any) -> GridState:
        n = self.num_agents
        u_spawn, u_dir = _grid.uniforms(key, (len(self.layout.spawn_points),), (n,))
        pos = jnp.asarray(self.layout.spawn_points)[jnp.argsort(u_spawn)[:n]]  # distinct random P cells
        direction = (
            jnp.floor(u_dir * 4).astype(jnp.int32) if self.random_orientation else jnp.zeros((n,), jnp.int32)
        )
        empty = jnp.zeros(self.layout.shape, bool)
        return GridState(
            pos=pos,
            direction=direction,
            apples=jnp.asarray(self.layout.apple_init),
            waste=jnp.asarray(self.layout.waste_init),
            fire_beam=empty,
            clean_beam=empty,
            t=jnp.zeros((), jnp.int32),
            stats=EpisodeStats.zeros(n),
        )

    def _regrow(
        self, noise: jax.Array, apples: jax.Array, waste: jax.Array, occupied: jax.Array, params: Any
    ) -> tuple[jax.Array, jax.Array]:
        """Spawn apples (and waste). ``noise`` ``(2, H, W)`` holds uniform draws on apple
        cells (plane 0) and potential waste cells (plane 1), 1.0 elsewhere; ``occupied``
        marks cells under agents."""
        raise NotImplementedError

    def _transition(self, key: jax.Array, state: GridState, actions: jax.Array, params: Any) -> Transition:
        n, shape = self.num_agents, self.layout.shape
        u_move, u_clean, u_apple, u_waste = _grid.uniforms(
            key, (n,), (n,), self._apple_cells.shape, self._waste_cells.shape
        )
        u_grow = jnp.stack(
            [_grid.spread(shape, self._apple_cells, u_apple), _grid.spread(shape, self._waste_cells, u_waste)]
        )
        codes = jnp.asarray(self.actions, jnp.int32)[actions]
        walls = jnp.asarray(self.layout.walls)

        target = _grid.move_targets(state.pos, state.direction, codes, walls)
        pos = _grid.resolve_moves(u_move, state.pos, target)
        direction = _grid.turn(state.direction, codes)

        ate = state.apples[pos[:, 0], pos[:, 1]]
        apples = state.apples.at[pos[:, 0], pos[:, 1]].set(False)

        occupied = _grid.paint(shape, pos, jnp.ones((n,), bool))
        rays = _grid.beam_rays(pos, direction, self.beam_length)
        firing = codes == _grid.FIRE
        cleaning = codes == _grid.CLEAN
        hits, fire_beam = self._penalty_beams(rays, pos, firing, walls, occupied)
        waste, clean_beam = self._cleaning_beams(u_clean, rays, cleaning, walls, occupied, state.waste)

        apples, waste = self._regrow(u_grow, apples, waste, occupied, params)

        rewards = (
            params.apple_reward * ate.astype(jnp.float32)
            - params.fire_cost * firing.astype(jnp.float32)
            - params.clean_cost * cleaning.astype(jnp.float32)
            - params.hit_penalty * hits.astype(jnp.float32)
        )
        t = state.t + 1
        s = state.stats
        ate_i = ate.astype(jnp.int32)
        stats = EpisodeStats(
            episode_return=s.episode_return + rewards,
            apples_eaten=s.apples_eaten + ate_i,
            eat_step_sum=s.eat_step_sum + ate_i * t,
            beams_fired=s.beams_fired + firing.astype(jnp.int32),
            cleaning_actions=s.cleaning_actions + cleaning.astype(jnp.int32),
            times_hit=s.times_hit + hits,
        )
        next_state = GridState(pos, direction, apples, waste, fire_beam, clean_beam, t, stats)
        infos = stats._asdict()
        infos["sustainability"] = jnp.where(
            stats.apples_eaten > 0,
            stats.eat_step_sum.astype(jnp.float32) / jnp.maximum(stats.apples_eaten, 1).astype(jnp.float32),
            0.0,
        )
        return Transition(next_state, rewards, t >= params.max_steps, infos)

    def _penalty_beams(self, rays, pos, firing, walls, occupied):
        """Hits per agent (int32 ``(N,)``) and the swept cells; all beams at once.

        The order of penalty beams does not matter: a hit agent stays where it is.
        """
        if _grid.FIRE not in self.actions:
            return jnp.zeros((self.num_agents,), jnp.int32), jnp.zeros(self.layout.shape, bool)
        covered, stop = _grid.trace_rays(rays, walls, occupied)
        covered = covered & firing[:, None, None]
        stop = stop & firing[:, None, None]
        # stop cells are agent cells: count, for every agent j, the rays that ended on it
        on_j = jnp.all(rays[:, :, :, None, :] == pos[None, None, None, :, :], axis=-1)
        hits = jnp.sum(stop[..., None] & on_j, axis=(0, 1, 2)).astype(jnp.int32)
        return hits, _grid.paint(self.layout.shape, rays, covered)

    def _cleaning_beams(self, order_noise, rays, cleaning, walls, occupied, waste):
        """Waste after the cleaning beams and the swept cells, agents in a random order
        (``argsort`` of the uniform ``order_noise``)."""
        if _grid.CLEAN not in self.actions:
            return waste, jnp.zeros(self.layout.shape, bool)
        shape = self.layout.shape

        def one_agent(waste, i):
            covered, stop = _grid.trace_rays(rays[i], walls, waste | occupied)
            covered = covered & cleaning[i]
            # a ray ends on waste (cleans it) or on an agent (cleans the waste under it)
            cleaned = _grid.paint(shape, rays[i], stop & cleaning[i]) & waste
            return waste & ~cleaned, _grid.paint(shape, rays[i], covered)

        waste, swept = jax.lax.scan(one_agent, waste, jnp.argsort(order_noise))
        return waste, jnp.any(swept, axis=0)

    # --- observation and picture ---------------------------------------------------------
    def _planes(self, state: GridState) -> dict[str, jax.Array]:
        return {
            "wall": jnp.asarray(self.layout.walls),
            "apple": state.apples,
            "waste": state.waste,
            "river": jnp.asarray(self.layout.waste_spawn) & ~state.waste,
            "agent": _grid.paint(self.layout.shape, state.pos, jnp.ones((self.num_agents,), bool)),
            "fire_beam": state.fire_beam,
            "clean_beam": state.clean_beam,
        }

    def _observe(self, state: GridState) -> jax.Array:
        planes = self._planes(state)
        stacked = jnp.stack([planes[c] for c in self.channels], axis=-1).astype(jnp.uint8)
        views = _grid.egocentric_views(stacked, self._pad, state.pos, state.direction, self.view_radius)
        # a static mask hides the observer itself (scattering a 0 into every view is far slower)
        return views * jnp.asarray(self._not_self)[None]

    @partial(jax.jit, static_argnums=0)
    def _render(self, state: GridState) -> jax.Array:
        from mixmo.envs import render

        return render.grid_image(self.layout, state)

    def render(self, state: GridState) -> np.ndarray:
        """uint8 RGB picture ``(H * 8, W * 8, 3)``; beams of the last step are drawn."""
        return np.asarray(self._render(state))
