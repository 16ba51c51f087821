"""Trust-Your-Brother: two prey escape a predator bot around a table only together.

A ring of 6 cells, numbered clockwise 0..5, around a table; the predator bot and two prey
(``agent_0`` dark blue, ``agent_1`` light blue). One step, in order:

1. the predator moves one cell toward the nearest prey, or stays if it is already next to a
   prey. Equidistant prey: a fair coin picks the target (two prey on the other 5 cells
   are never both 3 away, so the short way to the target is unique). The predator decides from the
   positions at the start of the step and moves before the prey (chosen so that "the
   predator's prey can only escape if the other prey simultaneously moves out of the way"
   holds: a prey next to the predator escapes by stepping away while its brother vacates
   the cell ahead);
2. prey actions ``0 stay, 1 clockwise, 2 counter-clockwise``: a move into an occupied cell
   fails; a prey may step into the cell its brother leaves; two prey swapping cells both
   fail; two prey wanting one free cell: a random winner (``_grid.resolve_moves``);
3. rewards: 0 for staying, -0.1 for trying to move (even if it failed), and -1 for a prey
   next to the predator after the prey moved.

Episodes last 5 steps. Start (fixed layout, the features are relative so nothing is lost):
predator on cell 0, the prey on cells 2 and 3 (adjacent; the one on cell 2 has one empty
cell between it and the predator). ``reset(key)`` lets a fair coin pick which prey is the
close one; ``initial_state(close_prey)`` sets it, for D3C's batches of 10 episodes with
5 of each (appendix F.2). Left alone, the close prey is caught at step 1 and loses 1 per
step (-5); if both prey keep stepping clockwise, each pays only 0.1 per step.

Observation, shared by both prey: float32 ``(2,)``; feature ``i`` is prey ``i``'s
counter-clockwise minus clockwise distance to the predator (values in {-4, -2, 0, 2, 4}).

``infos`` (``(2,)`` running episode totals): ``episode_return``, ``moves_tried``,
``times_caught`` (steps ending next to the predator).

References:
    D3C (Gemp et al. 2022) §3.3, Figure 4b, appendix F.2 and Figure 15.
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

RING = 6
STAY, CLOCKWISE, COUNTER_CLOCKWISE = 0, 1, 2
_STEP = np.array([0, 1, -1], np.int32)
# where ring cells sit on a 3 x 4 picture around a 1 x 2 table, clockwise from the top left
_RING_CELLS = np.array([[0, 1], [0, 2], [1, 3], [2, 2], [2, 1], [1, 0]], np.int32)
PREDATOR_COLOUR = render.PREDATOR
PREY_COLOURS = render.PREY


class TrustYourBrotherParams(NamedTuple):
    """Trust-Your-Brother's numbers (D3C appendix F.2).

    Attributes:
        max_steps: episode length.
        move_cost: paid for trying to move.
        caught_penalty: paid when the predator is adjacent after the move.
    """

    max_steps: int = 5
    move_cost: float = 0.1
    caught_penalty: float = 1.0


class TrustYourBrotherState(NamedTuple):
    """State: ``predator`` int32 scalar and ``prey`` int32 ``(2,)`` ring cells, ``t``, totals."""

    predator: jax.Array
    prey: jax.Array
    t: jax.Array
    episode_return: jax.Array
    moves_tried: jax.Array
    times_caught: jax.Array


def ring_distance(a: jax.Array, b: jax.Array) -> jax.Array:
    """Steps between ring cells ``a`` and ``b`` the short way round."""
    d = (b - a) % RING
    return jnp.minimum(d, RING - d)


def predator_step(coin: jax.Array, predator: jax.Array, prey: jax.Array) -> jax.Array:
    """The predator's next cell (rule 1 of the module docstring).

    ``coin`` (2,) holds uniform draws; among equidistant prey the larger draw is the target.
    """
    dist = ring_distance(predator, prey)
    nearest = dist == jnp.min(dist)
    target = prey[jnp.argmax(jnp.where(nearest, coin, -1.0))]
    # two prey on the 5 other cells are never both 3 away, so a moving predator's target is
    # at most 2 away and the short way round is unique
    cw = (target - predator) % RING
    step = jnp.where(cw < RING - cw, 1, -1)
    return jnp.where(jnp.min(dist) <= 1, predator, (predator + step) % RING)


class TrustYourBrotherEnv(MultiAgentEnv):
    """Two prey, one predator bot, a ring of 6 cells (see the module docstring).

    Example:
        >>> import jax
        >>> env = TrustYourBrotherEnv()
        >>> state = env.initial_state(0)
        >>> env.get_obs(state)["agent_1"].tolist()  # prey 0 two cells clockwise of the predator
        [-2.0, 0.0]
    """

    name = "trust_your_brother"
    horizon_is_terminal = True  # the 5 steps are the game (REINFORCE with gamma = 1)

    def __init__(self, *, params: TrustYourBrotherParams | None = None):
        super().__init__(2)
        self._params = TrustYourBrotherParams() if params is None else params

    @property
    def default_params(self) -> TrustYourBrotherParams:
        return self._params

    def observation_space(self, agent: str) -> Box:
        return Box(-(RING - 2), RING - 2, (2,), jnp.float32)

    def action_space(self, agent: str) -> Discrete:
        return Discrete(3)

    def initial_state(self, close_prey) -> TrustYourBrotherState:
        """The start with prey ``close_prey`` (0 or 1) on cell 2 and the other on cell 3."""
        close = jnp.asarray(close_prey, jnp.int32)
        prey = jnp.where(jnp.arange(2) == close, 2, 3).astype(jnp.int32)
        zeros = jnp.zeros((2,), jnp.int32)
        return TrustYourBrotherState(jnp.zeros((), jnp.int32), prey, jnp.zeros((), jnp.int32),
                                     jnp.zeros((2,), jnp.float32), zeros, zeros)

    def _reset_state(self, key, params):
        return self.initial_state(jax.random.bernoulli(key).astype(jnp.int32))

    def _transition(self, key, state: TrustYourBrotherState, actions, params):
        coin, u_move = _grid.uniforms(key, (2,), (3,))
        predator = predator_step(coin, state.predator, state.prey)
        target = (state.prey + jnp.asarray(_STEP)[actions]) % RING
        # the predator is a third, motionless mover so prey cannot step into it
        pos = jnp.concatenate([state.prey, predator[None]])[:, None]
        tgt = jnp.concatenate([target, predator[None]])[:, None]
        prey = _grid.resolve_moves(u_move, pos, tgt)[:2, 0]

        tried = (actions != STAY).astype(jnp.int32)
        caught = (ring_distance(predator, prey) == 1).astype(jnp.int32)
        # written as 0 - cost so that a prey that stays gets +0.0, not -0.0
        rewards = 0.0 - params.move_cost * tried.astype(jnp.float32)
        rewards = rewards - params.caught_penalty * caught.astype(jnp.float32)
        t = state.t + 1
        nxt = TrustYourBrotherState(predator, prey, t, state.episode_return + rewards,
                                    state.moves_tried + tried, state.times_caught + caught)
        infos = {"episode_return": nxt.episode_return, "moves_tried": nxt.moves_tried,
                 "times_caught": nxt.times_caught}
        return Transition(nxt, rewards, t >= params.max_steps, infos)

    def _observe(self, state: TrustYourBrotherState) -> jax.Array:
        ccw = (state.prey - state.predator) % RING
        cw = (state.predator - state.prey) % RING
        features = (ccw - cw).astype(jnp.float32)
        return jnp.broadcast_to(features, (2, 2))

    @partial(jax.jit, static_argnums=0)
    def _render(self, state: TrustYourBrotherState) -> jax.Array:
        scale = 24
        cells = jnp.asarray(_RING_CELLS)
        img = jnp.broadcast_to(render._colour(render.FLOOR), (3, 4, 3))
        img = render._fill(img, _grid.paint((3, 4), cells, jnp.ones((RING,), bool)), (70, 70, 80))
        img = render._fill(img, jnp.asarray(np.array([[0] * 4, [0, 1, 1, 0], [0] * 4], bool)), render.TABLE)
        img = render._upscale(img, scale)
        pos = cells[jnp.concatenate([state.prey, state.predator[None]])]
        colours = jnp.concatenate([jnp.asarray(PREY_COLOURS), render._colour(PREDATOR_COLOUR)[None]])
        return render.draw_tokens(img, (3, 4), pos, colours, scale, disc=True)

    def render(self, state: TrustYourBrotherState) -> np.ndarray:
        """uint8 RGB picture ``(72, 96, 3)``: the ring around a brown table, predator red."""
        return np.asarray(self._render(state))
