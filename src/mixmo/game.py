"""The differentiable-game type: what every gradient method and learner sees.

A game is n players, one parameter pytree each, and a function from the joint parameters to the vector of
the players' losses (to minimise). That is the whole contract between games and methods (DESIGN.md, "Core
types"): a method never looks inside a game.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

PyTree = Any
Params = tuple  # tuple[PyTree, ...], one pytree per player
LossesFn = Callable[[Params], jax.Array]  # -> shape (n_players,), losses to minimise


@dataclass(frozen=True)
class Game:
    """A differentiable n-player game.

    Attributes:
        name: short identifier, used in reports.
        n_players: number of players n.
        losses: joint parameters -> vector of shape `(n_players,)` of individual losses to minimise.
        init: PRNG key -> a random starting point (the papers' "random runs").
        project: joint parameters -> joint parameters, applied after every update (constraint handling);
            `None` means unconstrained.
        optimum_total_loss: `min_x sum_i losses(x)_i` when known, for ratio to optimal.
        nash_total_loss: total loss at the (worst) Nash equilibrium when known, for the price of anarchy.
        payoffs: joint parameters -> what the paper reports (defaults to `-losses`).
        description: one line for `mixmo list` and reports.
    """

    name: str
    n_players: int
    losses: LossesFn
    init: Callable[[jax.Array], Params]
    project: Callable[[Params], Params] | None = None
    optimum_total_loss: float | None = None
    nash_total_loss: float | None = None
    payoffs: Callable[[Params], jax.Array] | None = None
    description: str = ""

    def __post_init__(self):
        if self.n_players < 1:
            raise ValueError(f"Game {self.name!r}: n_players must be >= 1, got {self.n_players}.")

    def payoffs_of(self, params: Params) -> jax.Array:
        """Payoffs (rewards) at `params`: `payoffs(params)` if the game defines them, else `-losses(params)`."""
        if self.payoffs is not None:
            return self.payoffs(params)
        return -self.losses(params)

    def project_params(self, params: Params) -> Params:
        """Apply the game's constraint projection (identity for unconstrained games)."""
        return params if self.project is None else self.project(params)


class StructuredLosses(NamedTuple):
    """Losses with structure a method can exploit; callable like a plain `LossesFn`.

    Attributes:
        individual: joint parameters -> individual losses, shape `(n_players,)`.
        collective: joint parameters -> the collective loss (scalar) when it is not `sum(individual)`, e.g.
            the policy loss with collective advantages from a collective critic (AgA paper §5.2); None
            means `sum(individual)`.
        separable: True when `individual[i]` depends on `params[i]` only (separate per-agent policies with
            their own advantages). Then xi is one reverse pass of `sum(individual)` instead of n.
    """

    individual: LossesFn
    collective: Callable[[Params], jax.Array] | None = None
    separable: bool = False

    def __call__(self, params: Params) -> jax.Array:
        return self.individual(params)


def collective_loss(losses: LossesFn) -> Callable[[Params], jax.Array]:
    """The collective loss l_c as a scalar function: `losses.collective` if given, else `sum_i l_i`."""
    if isinstance(losses, StructuredLosses) and losses.collective is not None:
        return losses.collective
    return lambda params: jnp.sum(losses(params))
