"""Extragradient and optimistic gradient: simultaneous gradients that look one step ahead or back.

References: Korpelevich 1976 (extragradient); Popov 1980 and Daskalakis et al. 2018, "Training GANs with
Optimism" (optimistic gradient descent, 2 xi_t - xi_{t-1}).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mixmo.game import Params
from mixmo.methods import _validate
from mixmo.methods._base import GameMethod, stateless
from mixmo.methods._derivatives import simultaneous_gradient


def extragradient(lr: float) -> GameMethod:
    """Extragradient: direction xi(w - lr xi(w)), the simultaneous gradient at an extrapolated point.

    Args:
        lr: the extrapolation step (usually the learning rate of the outer update).
    """
    lr = _validate.real("extragradient: lr", lr, nonnegative=True)

    def direction(losses_fn, params):
        xi = simultaneous_gradient(losses_fn, params)
        ahead = jax.tree.map(lambda w, g: w - lr * g, params, xi)
        return simultaneous_gradient(losses_fn, ahead)

    return stateless(direction, joint=True)


class OptimisticState(NamedTuple):
    """The simultaneous gradient of the previous step, and whether there was one."""

    previous: Params
    started: jax.Array


def optimistic() -> GameMethod:
    """Optimistic gradient: direction 2 xi_t - xi_{t-1} (xi_{-1} = xi_0 at the first step)."""

    def init(params):
        return OptimisticState(previous=jax.tree.map(jnp.zeros_like, params), started=jnp.array(False))

    def update(losses_fn, params, state):
        xi = simultaneous_gradient(losses_fn, params)
        previous = jax.tree.map(lambda h, g: jnp.where(state.started, h, g), state.previous, xi)
        return jax.tree.map(lambda g, h: 2 * g - h, xi, previous), OptimisticState(xi, jnp.array(True))

    return GameMethod(init, update, joint=True)
