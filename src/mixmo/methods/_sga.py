"""Symplectic gradient adjustment (SGA).

References: Balduzzi et al. 2018, "The Mechanics of n-Player Differentiable Games", Algorithm 1 and
§3.3 (sign alignment); Letcher et al. 2019 (JMLR) eq. for lambda.
"""

from __future__ import annotations

import jax

from mixmo.methods import _validate
from mixmo.methods._base import GameMethod, stateless
from mixmo.methods._derivatives import linearized_simultaneous_gradient, tree_dot, tree_size
from mixmo.methods._sign import sign_nonnegative


def sga(lam: float, eps: float = 0.1, align: bool = True) -> GameMethod:
    """SGA: direction xi + lambda * A^T xi, A^T xi = 1/2 (J^T xi - J xi) (antisymmetric part of J).

    With `align=True` (Balduzzi et al. 2018, §3.3):
    lambda = |lam| * sign(<xi, J^T xi> <A^T xi, J^T xi> / d + eps), d the number of parameters.

    Args:
        lam: adjustment weight; its magnitude is used when `align=True`.
        eps: the small positive constant of the alignment rule (0.1 in Balduzzi et al.).
        align: choose the sign of lambda by the alignment rule; otherwise use `lam` as given.

    Cost: xi, one J v and one J^T v, sharing one linearisation of xi.
    """
    lam = _validate.real("sga: lam", lam)
    eps = _validate.real("sga: eps", eps)

    def direction(losses_fn, params):
        xi, jvp, vjp = linearized_simultaneous_gradient(losses_fn, params)
        j_xi, jt_xi = jvp(xi), vjp(xi)
        at_xi = jax.tree.map(lambda t, j: 0.5 * (t - j), jt_xi, j_xi)
        if align:
            d = tree_size(xi)
            weight = abs(lam) * sign_nonnegative(tree_dot(xi, jt_xi) * tree_dot(at_xi, jt_xi) / d + eps)
        else:
            weight = lam
        return jax.tree.map(lambda x, a: x + weight * a, xi, at_xi)

    return stateless(direction, joint=True)
