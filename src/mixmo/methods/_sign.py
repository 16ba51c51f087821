"""The sign convention shared by the sign-aligned adjustments (SGA, AgA)."""

import jax.numpy as jnp


def sign_nonnegative(x):
    """sign(x) with sign(0) = +1 (the AgA paper leaves sign(0) open; +1 keeps the unaligned default)."""
    return jnp.where(x >= 0, 1.0, -1.0).astype(jnp.result_type(x))
