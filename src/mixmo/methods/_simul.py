"""Simultaneous gradient descent on individual losses (Simul-Ind) and on the collective loss (Simul-Co).

References: AgA paper (Li et al. 2024, arXiv 2402.12416), §5 baselines "Simul-Ind" and "Simul-Co".
"""

from __future__ import annotations

from mixmo.methods._base import GameMethod, stateless
from mixmo.methods._derivatives import collective_gradient, simultaneous_gradient


def simul_ind() -> GameMethod:
    """Independent learners: every player descends its own loss, direction xi = (grad_{w_i} l_i)_i.

    Example:
        >>> import jax.numpy as jnp, mixmo
        >>> losses = lambda p: jnp.stack([p[0] ** 2, p[1] ** 2 + p[0] * p[1]])
        >>> direction, _ = mixmo.methods.simul_ind().update(losses, (1.0, 2.0), ())
        >>> [float(x) for x in direction]
        [2.0, 5.0]
    """
    return stateless(simultaneous_gradient, joint=True)


def simul_co() -> GameMethod:
    """Everyone descends the collective loss l_c = sum_i l_i: direction xi_c = grad_w l_c."""
    return stateless(collective_gradient, joint=True)
