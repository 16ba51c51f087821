"""Consensus gradient adjustment (CGA), the AgA paper's "CGA" baseline.

References: Mescheder, Nowozin & Geiger 2017, "The Numerics of GANs" (consensus optimisation);
AgA paper (arXiv 2402.12416) §5. This is consensus optimisation, not competitive gradient descent.
"""

from __future__ import annotations

import jax

from mixmo.methods import _validate
from mixmo.methods._base import GameMethod, stateless
from mixmo.methods._derivatives import simultaneous_gradient


def cga(lam: float) -> GameMethod:
    """Consensus optimisation: direction xi + lam * J^T xi = xi + lam * grad(1/2 ||xi||^2).

    Args:
        lam: adjustment weight lambda (>= 0).

    Cost: xi and one vector-Jacobian product of xi, sharing its forward pass.
    """
    lam = _validate.real("cga: lam", lam, nonnegative=True)

    def direction(losses_fn, params):
        xi, vjp_fn = jax.vjp(lambda p: simultaneous_gradient(losses_fn, p), params)
        (jt_xi,) = vjp_fn(xi)
        return jax.tree.map(lambda x, g: x + lam * g, xi, jt_xi)

    return stateless(direction, joint=True)
