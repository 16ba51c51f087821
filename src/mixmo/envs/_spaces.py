"""Jittable observation and action spaces, attribute-compatible with JaxMARL's.

mixmo does not import ``jaxmarl.environments.spaces`` (importing jaxmarl costs seconds
and pulls in flax, orbax and tensorstore); these two classes keep its attribute names
(``n``, ``shape``, ``dtype``, ``low``, ``high``) and its ``sample(key)`` /
``contains(x)`` methods, so code written against JaxMARL's spaces works unchanged.

References:
    JaxMARL, ``jaxmarl/environments/spaces.py`` (itself built on gymnax's spaces).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


class Discrete:
    """The integers ``{0, 1, ..., n - 1}``.

    Args:
        num_categories: how many actions; must be positive.
        dtype: dtype of samples.

    Example:
        >>> import jax
        >>> space = Discrete(5)
        >>> int(space.sample(jax.random.key(0))) in range(5)
        True
    """

    def __init__(self, num_categories: int, dtype: Any = jnp.int32):
        if num_categories < 1:
            raise ValueError(f"Discrete needs num_categories >= 1, got {num_categories}.")
        self.n = int(num_categories)
        self.shape: tuple[int, ...] = ()
        self.dtype = dtype

    def sample(self, key: jax.Array) -> jax.Array:
        """A uniformly random element, as a scalar array of ``dtype``."""
        return jax.random.randint(key, self.shape, 0, self.n).astype(self.dtype)

    def contains(self, x: jax.Array) -> jax.Array:
        """Whether ``x`` is an integer in ``[0, n)`` (a boolean scalar array)."""
        x = jnp.asarray(x)
        return jnp.logical_and(x >= 0, x < self.n) & (x == jnp.round(x))

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class Box:
    """Arrays of a fixed shape with entries in ``[low, high]``.

    Args:
        low: lower bound (scalar or array broadcastable to ``shape``).
        high: upper bound.
        shape: array shape.
        dtype: dtype of the arrays; integer dtypes sample integers in ``[low, high]``.
    """

    def __init__(self, low: Any, high: Any, shape: tuple[int, ...], dtype: Any = jnp.float32):
        self.low = low
        self.high = high
        self.shape = tuple(int(s) for s in shape)
        self.dtype = dtype

    def sample(self, key: jax.Array) -> jax.Array:
        """A uniformly random element."""
        if jnp.issubdtype(self.dtype, jnp.integer):
            return jax.random.randint(key, self.shape, self.low, np.asarray(self.high) + 1).astype(
                self.dtype
            )
        return jax.random.uniform(key, self.shape, minval=self.low, maxval=self.high).astype(
            self.dtype
        )

    def contains(self, x: jax.Array) -> jax.Array:
        """Whether ``x`` has this shape and lies within the bounds (a boolean scalar array)."""
        x = jnp.asarray(x)
        if x.shape != self.shape:
            return jnp.asarray(False)
        return jnp.all(x >= self.low) & jnp.all(x <= self.high)

    def __repr__(self) -> str:
        return f"Box(low={self.low}, high={self.high}, shape={self.shape}, dtype={np.dtype(self.dtype).name})"
