"""Coins (the coin dilemma), D3C's variant: a 5 x 5 grid, coins of each agent's colour.

Agent ``i`` owns colour ``i`` (agent 0 red, agent 1 blue). Each step, in order:

1. agents move (left, right, up, down in absolute grid directions, or stay; the grid edge
   blocks; agents may share a cell, as in the LOLA / JaxMARL coin games, so moves never
   conflict);
2. an agent on a coin collects it: +1 to the collector; if the coin is another agent's
   colour, -2 to that owner. Two agents landing on one coin both collect it (each gets
   +1; the owner pays 2 for each other collector);
3. coins spawn. D3C says coins of each colour spawn "at each time step with probability
   0.005" and leaves per cell vs per grid open; we spawn **per cell**: every cell with no
   coin and no agent draws one uniform ``u``; colour ``c`` appears when
   ``c * p <= u < (c + 1) * p`` (``p = 0.005``), so each colour has probability exactly
   ``p`` per cell and a cell never gets two coins. With 23 free cells about 0.23 coins
   appear per step, ~115 per 500-step episode. The grid starts without coins.

Episodes last 500 steps. Observation (fully observed, per agent, uint8 0/1
``(5, 5, 4)``): channels ``self, others, own_coins, others_coins`` — the same layout for
every agent, from its own point of view.

``infos`` (``(num_agents,)`` running episode totals): ``episode_return``, ``own_coins``
(coins of its own colour collected), ``other_coins`` (coins of other colours collected);
D3C's "% own coins" is ``own / (own + other)``.

References:
    Lerer & Peysakhovich 2017 and Foerster et al. 2018 (LOLA), the coin game; D3C (Gemp et
    al. 2022) §3.4 and Figure 8.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.envs import _grid, render
from mixmo.envs._base import MultiAgentEnv, Transition
from mixmo.envs._spaces import Box, Discrete

COIN_ACTIONS = (_grid.LEFT, _grid.RIGHT, _grid.UP, _grid.DOWN, _grid.STAY)
CHANNELS = ("self", "others", "own_coins", "others_coins")


class CoinsParams(NamedTuple):
    """Coins' numbers (D3C §3.4).

    Attributes:
        max_steps: episode length.
        spawn_prob: per free cell and per colour, each step.
        coin_reward: to the collector of any coin.
        stolen_penalty: paid by a coin's owner when another agent collects it.
    """

    max_steps: int = 500
    spawn_prob: float = 0.005
    coin_reward: float = 1.0
    stolen_penalty: float = 2.0


class CoinsState(NamedTuple):
    """State of Coins.

    Attributes:
        pos: int32 ``(N, 2)`` agent cells.
        coins: int32 ``(H, W)``: 0 no coin, ``c + 1`` a coin of agent ``c``'s colour.
        t: int32 scalar, steps taken.
        episode_return, own_coins, other_coins: running totals ``(N,)``.
    """

    pos: jax.Array
    coins: jax.Array
    t: jax.Array
    episode_return: jax.Array
    own_coins: jax.Array
    other_coins: jax.Array


class CoinsEnv(MultiAgentEnv):
    """The coin dilemma on a bounded ``size x size`` grid.

    Args:
        size: grid side.
        num_agents: agents (and colours); ``num_agents * spawn_prob`` must be <= 1.
        params: default ``CoinsParams``.

    Example:
        >>> import jax
        >>> env = CoinsEnv()
        >>> obs, state = env.reset(jax.random.key(0))
        >>> obs["agent_1"].shape
        (5, 5, 4)
    """

    name = "coins"

    def __init__(self, size: int = 5, *, num_agents: int = 2, params: CoinsParams | None = None):
        super().__init__(num_agents)
        params = CoinsParams() if params is None else params
        if size < 2 or num_agents > size * size:
            raise ValueError(f"need size >= 2 and num_agents <= size**2, got size={size}, num_agents={num_agents}.")
        if not 0 <= num_agents * params.spawn_prob <= 1:
            raise ValueError(f"num_agents * spawn_prob must lie in [0, 1], got {num_agents} * {params.spawn_prob}.")
        self.size = int(size)
        self._params = params
        self.channels = CHANNELS

    @property
    def default_params(self) -> CoinsParams:
        return self._params

    def observation_space(self, agent: str) -> Box:
        return Box(0, 1, (self.size, self.size, len(CHANNELS)), jnp.uint8)

    def action_space(self, agent: str) -> Discrete:
        return Discrete(len(COIN_ACTIONS))

    def _reset_state(self, key, params):
        n = self.num_agents
        cells = jnp.argsort(jax.random.uniform(key, (self.size * self.size,)))[:n]  # distinct cells
        pos = jnp.stack([cells // self.size, cells % self.size], axis=-1).astype(jnp.int32)
        zeros = jnp.zeros((n,), jnp.int32)
        return CoinsState(pos, jnp.zeros((self.size, self.size), jnp.int32), jnp.zeros((), jnp.int32),
                          jnp.zeros((n,), jnp.float32), zeros, zeros)

    def _transition(self, key, state: CoinsState, actions, params):
        n = self.num_agents
        codes = jnp.asarray(COIN_ACTIONS, jnp.int32)[actions]
        walls = jnp.zeros((self.size, self.size), bool)
        pos = _grid.move_targets(state.pos, jnp.zeros((n,), jnp.int32), codes, walls)

        colour = state.coins[pos[:, 0], pos[:, 1]] - 1  # -1: no coin under agent i
        got = colour >= 0
        own = got & (colour == jnp.arange(n))
        other = got & ~own
        # owner j pays for every other agent that took one of j's coins
        stolen_from = jnp.sum(other[:, None] & (colour[:, None] == jnp.arange(n)[None, :]), axis=0)
        rewards = params.coin_reward * got.astype(jnp.float32) - params.stolen_penalty * stolen_from.astype(
            jnp.float32
        )
        coins = state.coins.at[pos[:, 0], pos[:, 1]].set(0)

        free = (coins == 0) & ~_grid.paint(coins.shape, pos, jnp.ones((n,), bool))
        u = jax.random.uniform(key, coins.shape)
        new_colour = jnp.floor(u / params.spawn_prob).astype(jnp.int32)  # c for u in [c p, (c+1) p)
        coins = jnp.where(free & (new_colour < n), new_colour + 1, coins)

        t = state.t + 1
        next_state = CoinsState(
            pos, coins, t, state.episode_return + rewards,
            state.own_coins + own.astype(jnp.int32), state.other_coins + other.astype(jnp.int32),
        )
        infos = {"episode_return": next_state.episode_return, "own_coins": next_state.own_coins,
                 "other_coins": next_state.other_coins}
        return Transition(next_state, rewards, t >= params.max_steps, infos)

    def _observe(self, state: CoinsState) -> jax.Array:
        n = self.num_agents
        at = jax.nn.one_hot(state.pos[:, 0] * self.size + state.pos[:, 1], self.size * self.size, dtype=jnp.int32)
        at = at.reshape(n, self.size, self.size)  # (N, H, W) each agent's cell
        coin_of = state.coins[None, :, :] == (jnp.arange(n) + 1)[:, None, None]  # (N, H, W) agent i's coins
        any_coin = (state.coins > 0)[None]
        others = (jnp.sum(at, axis=0)[None] - at) > 0
        planes = [at > 0, others, coin_of, any_coin & ~coin_of]
        return jnp.stack(planes, axis=-1).astype(jnp.uint8)

    @partial(jax.jit, static_argnums=0)
    def _render(self, state: CoinsState) -> jax.Array:
        s, scale = self.size, 16
        colours = jnp.asarray(render.AGENT_COLOURS)[jnp.arange(self.num_agents) % len(render.AGENT_COLOURS)]
        img = render._upscale(jnp.broadcast_to(render._colour(render.FLOOR), (s, s, 3)), scale)
        # borders between cells so the grid is readable
        py, px = np.indices((s * scale, s * scale))
        img = render._fill(img, jnp.asarray((py % scale == 0) | (px % scale == 0)), (50, 50, 50))
        img = render.draw_tokens(img, (s, s), state.pos, colours, scale)
        coin_cells = jnp.argwhere(state.coins > 0, size=s * s, fill_value=-1)
        coin_colour = colours[jnp.maximum(state.coins[coin_cells[:, 0], coin_cells[:, 1]] - 1, 0)]
        # unused (-1) rows are moved off-grid so they draw nothing
        coin_cells = jnp.where(coin_cells[:, :1] >= 0, coin_cells, s * s)
        return render.draw_tokens(img, (s, s), coin_cells, coin_colour, scale, disc=True)

    def render(self, state: CoinsState) -> np.ndarray:
        """uint8 RGB picture ``(16 * size, 16 * size, 3)``: agents as squares, coins as discs."""
        return np.asarray(self._render(state))
