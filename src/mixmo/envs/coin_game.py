"""JaxMARL's ``coin_game``, behind mixmo's environment interface (needs ``jaxmarl``).

This is a different game from D3C's Coins (``mixmo.envs.coins``): a 3 x 3 torus, exactly
one coin of each colour on the board, a collected coin respawning at once, and rewards from
JaxMARL's ``payoff_matrix`` (default: +1 for any coin, -2 to the owner of a stolen one).
JaxMARL plays ``num_outer_steps`` inner episodes of ``num_inner_steps`` steps and ends the
episode (``dones["__all__"]``) after the last; ``infos["inner_episode_done"]`` (``(2,)``)
marks the inner boundaries. The adapter renames JaxMARL's agents ``"0"``, ``"1"`` to
``agent_0`` (red) and ``agent_1`` (blue) and adds ``render``.

jaxmarl is imported only when this environment is built: importing it takes seconds and
pulls in flax.

References:
    JaxMARL (Rutherford et al. 2024), ``jaxmarl/environments/coin_game/coin_game.py``;
    Lerer & Peysakhovich 2017.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.envs._quiet import quiet_stdout
from mixmo.envs import render
from mixmo.envs._base import MultiAgentEnv, Transition
from mixmo.envs._spaces import Box, Discrete


@contextmanager
def _jaxmarl_numpy():
    """JaxMARL's code relies on NumPy-style implicit promotion (it adds int32 to float32):
    trace it with standard promotion even when the caller runs JAX in strict mode."""
    with jax.numpy_dtype_promotion("standard"), jax.numpy_rank_promotion("allow"):
        yield


class CoinGameParams(NamedTuple):
    """JaxMARL's coin game has no runtime parameters; its options are constructor arguments."""


class CoinGameEnv(MultiAgentEnv):
    """Adapter around ``jaxmarl.environments.coin_game.CoinGame``.

    Args:
        num_inner_steps: steps per inner episode.
        num_outer_steps: inner episodes per episode.
        cnn: observations as ``(3, 3, 4)`` grids instead of flat ``(36,)`` vectors.
        egocentric: JaxMARL's egocentric observation option.
        shared_rewards: give both agents the sum of rewards.

    Raises:
        ImportError: when jaxmarl is not installed, with the command that installs it.
    """

    name = "coin_game"

    def __init__(
        self,
        *,
        num_inner_steps: int = 10,
        num_outer_steps: int = 10,
        cnn: bool = False,
        egocentric: bool = False,
        shared_rewards: bool = False,
    ):
        try:
            with quiet_stdout():  # JaxMARL prints on import
                from jaxmarl.environments.coin_game.coin_game import CoinGame
        except ImportError as err:
            raise ImportError(
                "the 'coin_game' environment wraps JaxMARL's; install it with `pip install jaxmarl`."
            ) from err
        super().__init__(2)
        self._game = CoinGame(
            num_inner_steps=num_inner_steps,
            num_outer_steps=num_outer_steps,
            cnn=cnn,
            egocentric=egocentric,
            shared_rewards=shared_rewards,
        )
        inner = self._game.observation_space(self._game.agents[0])
        self._obs_space = Box(inner.low, inner.high, inner.shape, inner.dtype)

    @property
    def default_params(self) -> CoinGameParams:
        return CoinGameParams()

    def observation_space(self, agent: str) -> Box:
        return self._obs_space

    def action_space(self, agent: str) -> Discrete:
        return Discrete(5)

    def _reset_state(self, key, params):
        with _jaxmarl_numpy():
            return self._game.reset(key)[1]

    def _transition(self, key, state, actions, params):
        inner_actions = {a: actions[i] for i, a in enumerate(self._game.agents)}
        with _jaxmarl_numpy():
            _, state, rewards, dones, infos = self._game.step_env(key, state, inner_actions)
        stacked = jnp.stack([jnp.asarray(rewards[a], jnp.float32) for a in self._game.agents])
        inner_done = jnp.broadcast_to(jnp.asarray(infos["inner_episode_done"]), (2,))
        return Transition(state, stacked, dones["__all__"], {"inner_episode_done": inner_done})

    def _observe(self, state) -> jax.Array:
        with _jaxmarl_numpy():
            obs = self._game.get_obs(state)
        # JaxMARL returns int8 observations but declares a uint8 space: follow the space
        return jnp.stack([obs[a] for a in self._game.agents]).astype(self._obs_space.dtype)

    @partial(jax.jit, static_argnums=0)
    def _render(self, state) -> jax.Array:
        scale, shape = 24, (3, 3)
        img = render._upscale(jnp.broadcast_to(render._colour(render.FLOOR), (*shape, 3)), scale)
        colours = jnp.asarray(render.AGENT_COLOURS[:2])
        agents = jnp.stack([state.red_pos, state.blue_pos]).astype(jnp.int32)
        coins = jnp.stack([state.red_coin_pos, state.blue_coin_pos]).astype(jnp.int32)
        img = render.draw_tokens(img, shape, agents, colours, scale)
        return render.draw_tokens(img, shape, coins, colours, scale, disc=True)

    def render(self, state) -> np.ndarray:
        """uint8 RGB picture ``(72, 72, 3)``: agents as squares, coins as discs (red, blue)."""
        return np.asarray(self._render(state))
