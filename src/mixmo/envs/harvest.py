"""Harvest: a common-pool-resource sequential social dilemma, and HarvestPatch.

Apples regrow faster next to other apples, so greedy harvesting of a region kills it.
Every step (after moves, eating and beams; see ``_dilemma``) each empty apple cell not under
an agent grows an apple with probability ``p[min(k, 3)]``, ``p = (0, 0.005, 0.02, 0.05)``,
``k`` the number of apples in its 3 x 3 block (the original code counts cells with
``j^2 + k^2 <= 2``, which is that block). With ``p[0] = 0`` a region harvested bare never
regrows.

Actions (8): left, right, up, down (relative to facing), stay, turn clockwise, turn
counter-clockwise, FIRE. Episodes last 1000 steps; the view is 15 x 15; observation
channels ``wall, apple, agent, fire_beam`` (see ``_dilemma``).

HarvestPatch (McKee et al. 2020) has no public layout; ``maps/harvest_patch.txt`` is ours:
a 16 x 23 arena with six diamond-shaped patches of 13 apple cells (2 rows of 3), every two
patches at least 3 cells apart (Chebyshev), so no 3 x 3 block touches two patches. With the
Harvest rule unchanged, a patch therefore regrows exactly while it still holds an apple
(each patch is connected, so one apple can regrow the whole patch), and a patch harvested
to zero is dead for the episode. 12 spawn points lie in the corridors between patches.

References:
    Perolat et al. 2017 and Hughes et al. 2018 (Harvest); Vinitsky et al.,
    sequential_social_dilemma_games ``harvest.py`` (``spawn_apples``, ``SPAWN_PROB``,
    ``APPLE_RADIUS = 2``); AgA (Li et al. 2024) §5.2; McKee et al. 2020 (HarvestPatch);
    D3C (Gemp et al. 2022) appendix F.4.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mixmo.envs import _grid
from mixmo.envs._dilemma import GridDilemmaEnv

HARVEST_ACTIONS = (
    _grid.LEFT, _grid.RIGHT, _grid.UP, _grid.DOWN, _grid.STAY, _grid.TURN_CW, _grid.TURN_CCW, _grid.FIRE,
)


class HarvestParams(NamedTuple):
    """Harvest's numbers (defaults: the SSD code).

    Attributes:
        max_steps: episode length.
        apple_reward: reward for eating an apple.
        fire_cost: paid by the shooter for each FIRE.
        hit_penalty: paid by an agent for each penalty beam that hits it.
        clean_cost: unused (Harvest has no CLEAN); kept so all grid games share fields.
        regrowth_probs: ``p[k]`` for ``k = 0, 1, 2, >= 3`` apples in the 3 x 3 block.
    """

    max_steps: int = 1000
    apple_reward: float = 1.0
    fire_cost: float = 1.0
    hit_penalty: float = 50.0
    clean_cost: float = 0.0
    regrowth_probs: tuple[float, float, float, float] = (0.0, 0.005, 0.02, 0.05)


def regrowth_probability(apples: jax.Array, regrowth_probs) -> jax.Array:
    """Per-cell regrowth probability ``p[min(k, 3)]`` (float32 ``(H, W)``)."""
    k = jnp.minimum(_grid.neighbour_count(apples), 3)
    return jnp.asarray(regrowth_probs, jnp.float32)[k]


class HarvestEnv(GridDilemmaEnv):
    """Harvest on any map with ``A`` apple cells.

    Args:
        map_name: a map shipped in ``mixmo/envs/maps`` (``harvest``, ``harvest_patch``).
        layout: an ASCII map (legend in ``_grid.MAP_LEGEND``) to use instead of a shipped one.
        num_agents: number of agents.
        view_radius: the view is ``2 * view_radius + 1`` cells wide.
        beam_length: penalty beam length (the centre ray).
        random_orientation: spawn facing a random direction (else up).
        params: default ``HarvestParams``.

    Example:
        >>> import jax
        >>> env = HarvestEnv()
        >>> obs, state = env.reset(jax.random.key(0))
        >>> obs["agent_0"].shape, int(state.apples.sum())
        ((15, 15, 4), 155)
    """

    name = "harvest"

    def __init__(
        self,
        map_name: str = "harvest",
        *,
        layout: str | None = None,
        num_agents: int = 5,
        view_radius: int = 7,
        beam_length: int = 5,
        random_orientation: bool = True,
        params: HarvestParams | None = None,
    ):
        params = HarvestParams() if params is None else params
        if len(params.regrowth_probs) != 4:
            raise ValueError(f"regrowth_probs needs 4 entries (k = 0, 1, 2, >= 3), got {params.regrowth_probs}.")
        grid = _grid.parse_layout(layout) if layout is not None else _grid.load_layout(map_name)
        if not grid.apple_spawn.any():
            raise ValueError(f"map {map_name!r} has no apple cells 'A'/'B'.")
        super().__init__(
            grid,
            num_agents=num_agents,
            actions=HARVEST_ACTIONS,
            view_radius=view_radius,
            beam_length=beam_length,
            random_orientation=random_orientation,
            params=params,
        )
        self.name = map_name if layout is None else "custom_harvest"

    def _regrow(self, noise, apples, waste, occupied, params):
        can_grow = jnp.asarray(self.layout.apple_spawn) & ~apples & ~occupied
        grow = noise[0] < regrowth_probability(apples, params.regrowth_probs)
        return apples | (can_grow & grow), waste


def harvest_patch(**kwargs) -> HarvestEnv:
    """HarvestPatch: Harvest's rules on our six-patch map (see the module docstring)."""
    return HarvestEnv("harvest_patch", **kwargs)
