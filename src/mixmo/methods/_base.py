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
    """

    init: Callable[[Params], State]
    update: Callable[[LossesFn, Params, State], tuple[Params, State]]


def stateless(direction_fn: Callable[[LossesFn, Params], Params]) -> GameMethod:
    """Wrap a pure `(losses_fn, params) -> direction` into a `GameMethod` with an empty state."""

    def init(params):
        del params
        return EmptyState()

    def update(losses_fn, params, state):
        return direction_fn(losses_fn, params), state

    return GameMethod(init, update)
