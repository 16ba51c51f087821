"""Altruistic Gradient Adjustment (AgA).

References: Li et al. 2024, "Aligning Individual and Collective Objectives in Multi-Agent Cooperation"
(NeurIPS 2024, arXiv 2402.12416), Definition 4.2 (eq. 1), Corollary 4.3 and Algorithm 1.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mixmo.methods import _validate
from mixmo.methods._base import GameMethod, stateless
from mixmo.methods._derivatives import collective_hvp, simultaneous_and_collective, tree_dot
from mixmo.methods._sign import sign_nonnegative


class ScheduleState(NamedTuple):
    """State of AgA with a λ schedule: the number of updates done so far (int32)."""

    count: jax.Array


def aga(lam: float, align: bool = True, decay: float = 1.0, every: int = 0) -> GameMethod:
    """AgA: direction xi_c + lambda * (xi + grad H_c), with grad H_c = H_c xi_c (H_c = 1/2 ||xi_c||^2).

    The sign of lambda follows Corollary 4.3 / Algorithm 1 of the AgA paper:
    lambda = |lam| * sign(<xi_c, grad H_c> * (<xi, grad H_c> + ||grad H_c||^2)), with sign(0) = +1.
    The statement of the paper's Lemma B.1 swaps xi and xi_c; Algorithm 1 and the last line of its proof
    give the form used here.

    Args:
        lam: alignment parameter; its magnitude when `align=True`.
        align: sign alignment on. `align=False` is the paper's ablation "AgA-Sign": lambda = +|lam| always.
        decay, every: an optional geometric schedule |lambda_t| = |lam| * decay ** floor(t / every), t the
            number of updates done (the method's own clock: one call of `update`). Not in the paper: it is
            what code that looks like the authors' unreleased SB3 modification does (issue 12 of mixmo's
            tracker); `every=0` (default) keeps lambda constant and the method stateless.

    Cost: xi and xi_c from one forward and n reverse passes, plus one Hessian-vector product.

    Example:
        >>> import jax.numpy as jnp, mixmo
        >>> losses = lambda p: jnp.stack([p[0] * p[1], -p[0] * p[1]])   # zero-sum: l_c = 0
        >>> direction, _ = mixmo.methods.aga(2.0).update(losses, (1.0, 3.0), ())
        >>> [float(x) for x in direction]       # xi_c = 0 and H_c = 0, so 2 * xi
        [6.0, -2.0]
    """
    lam = _validate.real("aga: lam", lam)
    decay = _validate.real("aga: decay", decay)
    if every < 0:
        raise ValueError(f"aga: every must be >= 0 (0: constant lambda), got {every}.")

    def direction(losses_fn, params, magnitude):
        _, xi, xi_c = simultaneous_and_collective(losses_fn, params)
        grad_h = collective_hvp(losses_fn, params, xi_c)
        if align:
            criterion = tree_dot(xi_c, grad_h) * (tree_dot(xi, grad_h) + tree_dot(grad_h, grad_h))
            weight = magnitude * sign_nonnegative(criterion)
        else:
            weight = magnitude
        return jax.tree.map(lambda c, x, h: c + weight * (x + h), xi_c, xi, grad_h)

    if not every:
        return stateless(lambda losses_fn, params: direction(losses_fn, params, abs(lam)), joint=True)

    def init(params):
        del params
        return ScheduleState(jnp.zeros((), jnp.int32))

    def update(losses_fn, params, state):
        magnitude = abs(lam) * decay ** (state.count // every).astype(jnp.float32)
        return direction(losses_fn, params, magnitude), ScheduleState(state.count + 1)

    return GameMethod(init, update, joint=True)
