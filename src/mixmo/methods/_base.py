"""`GameMethod`: a pair of pure functions, like optax's `GradientTransformation`, with the losses passed in."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from mixmo.game import LossesFn, Params

State = Any


class EmptyState(NamedTuple):
    """State of a method that keeps none."""


class GameMethod(NamedTuple):
    """A gradient method for differentiable games.

    Attributes:
        init: joint parameters -> initial method state.
        update: `(losses_fn, params, state) -> (direction, new_state)`. `direction` has the structure of
            `params` and is a direction to DESCEND: `params - lr * direction`, or feed it to any optax
            `GradientTransformation` as the gradient.
        joint: True when, on separable `StructuredLosses` (player i's loss depends on w_i alone), the direction
            depends on the game only through the joint parameter vector: ξ, ξ_c, their derivatives and inner
            products over all parameters (Simul-Ind, Simul-Co, CGA, SGA, AgA). Grouping the parameters into
            players differently then gives the same direction, so a caller may pass every player's parameters
            stacked on a leading axis as ONE player: `mixmo.rl`'s trainer does, and so differentiates the
            agents' vmapped policies at once instead of agent by agent (smaller programs, faster compiles).
    """

    init: Callable[[Params], State]
    update: Callable[[LossesFn, Params, State], tuple[Params, State]]
    joint: bool = False


def stateless(direction_fn: Callable[[LossesFn, Params], Params], joint: bool = False) -> GameMethod:
    """Wrap a pure `(losses_fn, params) -> direction` into a `GameMethod` with an empty state (`joint`: see
    `GameMethod`)."""

    def init(params):
        del params
        return EmptyState()

    def update(losses_fn, params, state):
        return direction_fn(losses_fn, params), state

    return GameMethod(init, update, joint)
