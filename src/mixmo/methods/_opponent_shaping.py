"""LookAhead, LOLA and SOS: players that anticipate the others' next learning step.

References: Letcher, Foerster, Balduzzi, Rocktäschel & Whiteson 2019, "Stable Opponent Shaping in
Differentiable Games" (ICLR), §3 (LookAhead, LOLA as written there, SOS) and Algorithm 1 (SOS);
Foerster et al. 2018, "Learning with Opponent-Learning Awareness" (AAMAS); Zhang & Lesser 2010 (LookAhead).

Notation: H_o is the game Jacobian without its diagonal blocks, chi = diag(H_o^T grad L).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mixmo.methods import _validate
from mixmo.methods._base import GameMethod, stateless
from mixmo.methods._derivatives import (all_gradients, linearized_simultaneous_gradient, off_diagonal_jvp,
                                        opponent_shaping_term, tree_dot)


def _lookahead_parts(losses_fn, params, alpha):
    """xi_0 = (I - alpha H_o) xi, plus the pieces LOLA and SOS reuse."""
    _, full = all_gradients(losses_fn, params)
    xi, jvp, vjp = linearized_simultaneous_gradient(losses_fn, params)
    h_o_xi = off_diagonal_jvp(losses_fn, params, xi, jvp=jvp)
    xi_0 = jax.tree.map(lambda x, h: x - alpha * h, xi, h_o_xi)
    return xi, xi_0, full, vjp


def lookahead(alpha: float) -> GameMethod:
    """LookAhead: direction (I - alpha H_o) xi — each player descends its loss at the others' next step.

    Args:
        alpha: the opponents' assumed learning rate (> 0).
    """
    alpha = _validate.real("lookahead: alpha", alpha, nonnegative=True)
    return stateless(lambda losses_fn, params: _lookahead_parts(losses_fn, params, alpha)[1])


def lola(alpha: float) -> GameMethod:
    """LOLA in the exact-gradient form of Letcher et al. 2019, §3: (I - alpha H_o) xi - alpha chi.

    This is Foerster et al.'s first-order Taylor expansion with the LookAhead term kept (Letcher et al. write
    LOLA this way), not the variant that drops (I - alpha H_o).

    Args:
        alpha: the opponents' assumed learning rate (> 0).
    """
    alpha = _validate.real("lola: alpha", alpha, nonnegative=True)

    def direction(losses_fn, params):
        _, xi_0, full, vjp = _lookahead_parts(losses_fn, params, alpha)
        chi = opponent_shaping_term(losses_fn, params, full, vjp)
        return jax.tree.map(lambda x, c: x - alpha * c, xi_0, chi)

    return stateless(direction)


def sos(alpha: float, a: float = 0.5, b: float = 0.1) -> GameMethod:
    """Stable Opponent Shaping (Letcher et al. 2019, Algorithm 1): xi_0 - p alpha chi.

    p = min(p1, p2): p1 = 1 if <-alpha chi, xi_0> >= 0 else min(1, -a ||xi_0||^2 / <-alpha chi, xi_0>);
    p2 = ||xi||^2 if ||xi|| < b else 1. SOS keeps LOLA's shaping where it helps and never turns it against
    the LookAhead direction, so it preserves stable fixed points.

    Args:
        alpha: the opponents' assumed learning rate (> 0).
        a: in (0, 1), how far shaping may rotate the LookAhead direction (0.5 in the paper).
        b: gradient-norm scale below which shaping is turned down (0.1 in the paper).
    """
    alpha = _validate.real("sos: alpha", alpha, nonnegative=True)
    a = _validate.real("sos: a", a)
    b = _validate.real("sos: b", b, nonnegative=True)
    if not 0 < a < 1:
        raise ValueError(f"sos: a must be in (0, 1), got {a}.")

    def direction(losses_fn, params):
        xi, xi_0, full, vjp = _lookahead_parts(losses_fn, params, alpha)
        chi = opponent_shaping_term(losses_fn, params, full, vjp)
        shaping = -alpha * tree_dot(chi, xi_0)
        xi_0_sq = tree_dot(xi_0, xi_0)
        safe = jnp.where(shaping < 0, shaping, -1.0)
        p1 = jnp.where(shaping >= 0, 1.0, jnp.minimum(1.0, -a * xi_0_sq / safe))
        xi_sq = tree_dot(xi, xi)
        p2 = jnp.where(xi_sq < b**2, xi_sq, 1.0)
        p = jnp.minimum(p1, p2)
        return jax.tree.map(lambda x, c: x - p * alpha * c, xi_0, chi)

    return stateless(direction)
