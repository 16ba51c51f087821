"""What a user needs to see why an adjusted method moves where it does (AgA paper §4, Corollary 4.3).

`diagnostics(losses, params, direction)` compares a method's direction ξ̃ with the game's own vectors:
the simultaneous gradient ξ, the collective gradient ξ_c and the curvature term ∇H_c = H_c ξ_c
(H_c = ½‖ξ_c‖²), and evaluates AgA's sign criterion <ξ_c, ∇H_c>(<ξ, ∇H_c> + ‖∇H_c‖²) (Corollary 4.3,
Algorithm 1). When ‖H_c ξ_c‖ outgrows ‖ξ‖ the sign follows the curvature of the collective loss and can
turn negative; `negative_sign` and the cosines show it happening.

Cost: ξ, ξ_c and one Hessian-vector product, the derivatives AgA computes anyway. Called inside
`reuse_derivatives()` right after a method that computed them (AgA; the RL trainer does this), it reuses them and
adds only the inner products; otherwise it computes its own.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from mixmo.game import LossesFn, Params
from mixmo.methods._derivatives import collective_hvp, simultaneous_and_collective, tree_dot


class Diagnostics(NamedTuple):
    """Scalars comparing a direction ξ̃ with ξ, ξ_c and H_c ξ_c at one point (each a 0-d array).

    Attributes:
        negative_sign: 1.0 where AgA's sign criterion is negative (λ's sign flips), else 0.0; its mean over
            steps is the fraction of steps with a negative sign.
        cos_xi: cos(ξ̃, ξ).
        cos_xi_c: cos(ξ̃, ξ_c).
        xi_norm: ‖ξ‖.
        xi_c_norm: ‖ξ_c‖.
        hc_xi_c_norm: ‖H_c ξ_c‖.
    """

    negative_sign: jax.Array
    cos_xi: jax.Array
    cos_xi_c: jax.Array
    xi_norm: jax.Array
    xi_c_norm: jax.Array
    hc_xi_c_norm: jax.Array


def _cosine(a, b, norm_a, norm_b):
    """cos(a, b); 0 when either vector is zero (no direction to compare)."""
    denominator = norm_a * norm_b
    return jnp.where(denominator > 0, tree_dot(a, b) / jnp.where(denominator > 0, denominator, 1.0), 0.0)


def diagnostics(losses_fn: LossesFn, params: Params, direction: Params) -> Diagnostics:
    """`Diagnostics` of `direction` (any method's, same structure as `params`) for the game `losses_fn`.

    Example:
        >>> import jax.numpy as jnp, mixmo
        >>> losses = lambda p: jnp.stack([p[0] ** 2, p[1] ** 2])
        >>> d = mixmo.methods.diagnostics(losses, (1.0, 2.0), (2.0, 4.0))   # direction = xi
        >>> float(d.cos_xi), float(d.xi_norm) ** 2, float(d.negative_sign)
        (1.0, 20.0, 0.0)
    """
    _, xi, xi_c = simultaneous_and_collective(losses_fn, params)
    grad_h = collective_hvp(losses_fn, params, xi_c)
    criterion = tree_dot(xi_c, grad_h) * (tree_dot(xi, grad_h) + tree_dot(grad_h, grad_h))
    norms = [jnp.sqrt(tree_dot(v, v)) for v in (direction, xi, xi_c, grad_h)]
    return Diagnostics(
        negative_sign=(criterion < 0).astype(norms[0].dtype),
        cos_xi=_cosine(direction, xi, norms[0], norms[1]),
        cos_xi_c=_cosine(direction, xi_c, norms[0], norms[2]),
        xi_norm=norms[1], xi_c_norm=norms[2], hc_xi_c_norm=norms[3])
