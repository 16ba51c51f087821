"""Cleanup: a public-goods sequential social dilemma, and LIO's small variants.

Agents eat apples (+1) that grow only while the river is clean enough; cleaning the river
(the CLEAN beam) earns nothing, so every agent would rather let the others clean.

Dynamics every step (after moves, eating and beams; see ``_dilemma``): the waste density
``rho = #waste / #(H + R cells)``. If ``rho >= depletion_threshold`` nothing spawns.
Otherwise each empty apple cell not under an agent grows an apple with probability
``apple_respawn_prob * (1 - (rho - r) / (depletion_threshold - r))`` (``r`` the restoration
threshold, 0 by default; the full ``apple_respawn_prob`` when ``rho <= r``), and at most one
clean river cell becomes waste: candidates are tried in a random order, each with
probability ``waste_spawn_prob``, until one succeeds. We draw one uniform ``u`` per
candidate and pollute the candidate with the smallest ``u`` if that ``u`` is below the
probability: the same law (some candidate succeeds with probability ``1 - (1 - p)^m``, the
winner uniform among the candidates), one draw per cell. Waste may appear under an agent.
Nothing spawns at reset.

Actions (9): left, right, up, down (relative to the facing direction), stay, turn
clockwise, turn counter-clockwise, FIRE (penalty beam), CLEAN. Episodes last 1000 steps;
the view is 15 x 15. Observation channels: ``wall, apple, waste, river, agent, fire_beam,
clean_beam`` (see ``_dilemma``).

Variants (``mini_cleanup``, ``cleanup_10x10``, LIO's ``cleanup_small_sym`` and
``cleanup_10x10_sym``): 2 agents facing up forever, 6 actions (left, right, up, down,
no-op, CLEAN; no rotation, no penalty beam), 50 steps, cleaning costs 0, waste spawn 0.5,
restoration 0; the 7 x 7 map has apple probability 0.5, depletion 0.6 and a 9 x 9 view;
the 10 x 10 map 0.3, 0.4 and a 15 x 15 view. LIO spawned agents on fixed cells; here they
take the map's ``P`` cells in a random order.

References:
    Hughes et al. 2018, "Inequity aversion improves cooperation in intertemporal social
    dilemmas"; Vinitsky et al., sequential_social_dilemma_games ``cleanup.py``
    (``compute_probabilities``, ``spawn_apples_and_waste``); AgA (Li et al. 2024) §5.2;
    D3C (Gemp et al. 2022) §3.5 and appendix F.3; LIO (Yang et al. 2020)
    ``config_ssd_lio.py``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mixmo.envs import _grid
from mixmo.envs._dilemma import GridDilemmaEnv

FULL_ACTIONS = (
    _grid.LEFT, _grid.RIGHT, _grid.UP, _grid.DOWN, _grid.STAY,
    _grid.TURN_CW, _grid.TURN_CCW, _grid.FIRE, _grid.CLEAN,
)
LIO_ACTIONS = (_grid.LEFT, _grid.RIGHT, _grid.UP, _grid.DOWN, _grid.STAY, _grid.CLEAN)


class CleanupParams(NamedTuple):
    """Cleanup's numbers (defaults: Hughes et al. 2018 / the SSD code).

    Attributes:
        max_steps: episode length.
        apple_reward: reward for eating an apple.
        fire_cost: paid by the shooter for each FIRE.
        hit_penalty: paid by an agent for each penalty beam that hits it.
        clean_cost: paid for each CLEAN.
        apple_respawn_prob: apple spawn probability at zero waste.
        waste_spawn_prob: probability that a candidate river cell is polluted.
        depletion_threshold: waste density at which nothing spawns.
        restoration_threshold: waste density below which apples spawn at full rate.
    """

    max_steps: int = 1000
    apple_reward: float = 1.0
    fire_cost: float = 1.0
    hit_penalty: float = 50.0
    clean_cost: float = 0.0
    apple_respawn_prob: float = 0.05
    waste_spawn_prob: float = 0.5
    depletion_threshold: float = 0.4
    restoration_threshold: float = 0.0


def spawn_probabilities(waste_density: jax.Array, params: CleanupParams) -> tuple[jax.Array, jax.Array]:
    """Apple and waste spawn probabilities at a waste density (``compute_probabilities``)."""
    depleted = waste_density >= params.depletion_threshold
    span = params.depletion_threshold - params.restoration_threshold
    scale = 1.0 - (waste_density - params.restoration_threshold) / span
    apple = params.apple_respawn_prob * jnp.clip(scale, 0.0, 1.0)
    return jnp.where(depleted, 0.0, apple), jnp.where(depleted, 0.0, params.waste_spawn_prob)


class CleanupEnv(GridDilemmaEnv):
    """Cleanup on any map with ``H``/``R`` waste cells and ``B`` apple cells.

    Args:
        map_name: a map shipped in ``mixmo/envs/maps`` (``cleanup``, ``mini_cleanup``,
            ``cleanup_10x10``).
        layout: an ASCII map (legend in ``_grid.MAP_LEGEND``) to use instead of a shipped one.
        num_agents: number of agents.
        actions: canonical action codes; ``FULL_ACTIONS`` or ``LIO_ACTIONS``.
        view_radius: the view is ``2 * view_radius + 1`` cells wide.
        beam_length: beam length (the centre ray).
        random_orientation: spawn facing a random direction (else up).
        params: default ``CleanupParams``.

    Example:
        >>> import jax
        >>> env = CleanupEnv()
        >>> obs, state = env.reset(jax.random.key(0))
        >>> obs["agent_0"].shape
        (15, 15, 7)
    """

    name = "cleanup"

    def __init__(
        self,
        map_name: str = "cleanup",
        *,
        layout: str | None = None,
        num_agents: int = 5,
        actions: tuple[int, ...] = FULL_ACTIONS,
        view_radius: int = 7,
        beam_length: int = 5,
        random_orientation: bool = True,
        params: CleanupParams | None = None,
    ):
        params = CleanupParams() if params is None else params
        if not 0 <= params.restoration_threshold < params.depletion_threshold:
            raise ValueError(
                "need 0 <= restoration_threshold < depletion_threshold, got "
                f"{params.restoration_threshold} and {params.depletion_threshold}."
            )
        grid = _grid.parse_layout(layout) if layout is not None else _grid.load_layout(map_name)
        if not grid.waste_spawn.any():
            raise ValueError(f"map {map_name!r} has no waste cells 'H'/'R': Cleanup needs a river.")
        super().__init__(
            grid,
            num_agents=num_agents,
            actions=actions,
            view_radius=view_radius,
            beam_length=beam_length,
            random_orientation=random_orientation,
            params=params,
        )
        self.name = map_name if layout is None else "custom_cleanup"

    def waste_density(self, waste: jax.Array) -> jax.Array:
        """Fraction of the potential waste area that is polluted (float32 scalar)."""
        return jnp.sum(waste).astype(jnp.float32) / self._potential_waste

    def _regrow(self, noise, apples, waste, occupied, params):
        p_apple, p_waste = spawn_probabilities(self.waste_density(waste), params)
        can_grow = jnp.asarray(self.layout.apple_spawn) & ~apples & ~occupied
        apples = apples | (can_grow & (noise[0] < p_apple))
        # at most one new waste cell: the candidate with the smallest draw, if it succeeds
        candidates = jnp.asarray(self.layout.waste_spawn) & ~waste
        u = jnp.where(candidates, noise[1], 2.0).ravel()
        first = jnp.argmin(u)
        new = jnp.zeros(waste.size, bool).at[first].set(u[first] < p_waste).reshape(waste.shape)
        return apples, waste | new


def mini_cleanup(**kwargs) -> CleanupEnv:
    """LIO's ``cleanup_small_sym``: 7 x 7 map, 2 agents, 50 steps (D3C appendix F.3)."""
    params = CleanupParams(max_steps=50, fire_cost=0.0, hit_penalty=0.0, apple_respawn_prob=0.5,
                           depletion_threshold=0.6)
    return _lio("mini_cleanup", 4, params, kwargs)


def cleanup_10x10(**kwargs) -> CleanupEnv:
    """LIO's ``cleanup_10x10_sym``: 10 x 10 map, 2 agents, 50 steps, 15 x 15 view."""
    params = CleanupParams(max_steps=50, fire_cost=0.0, hit_penalty=0.0, apple_respawn_prob=0.3,
                           depletion_threshold=0.4)
    return _lio("cleanup_10x10", 7, params, kwargs)


def _lio(map_name: str, view_radius: int, params: CleanupParams, kwargs: dict) -> CleanupEnv:
    defaults = dict(num_agents=2, actions=LIO_ACTIONS, view_radius=view_radius, random_orientation=False,
                    params=params)
    return CleanupEnv(map_name, **{**defaults, **kwargs})
