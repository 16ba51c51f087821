"""Moving data between the shapes an environment, a network and a `GameMethod` want.

- Environments speak dicts keyed by agent name (JaxMARL API); networks and losses want arrays stacked on a
  leading agent axis (`batchify` / `unbatchify`).
- Per-agent network parameters live stacked on a leading agent axis (evaluated with `vmap`); a `GameMethod`
  wants a tuple of per-agent pytrees (`unstack` / `stack`).
- PPO's epochs shuffle a batch and cut it into minibatches (`shuffled_minibatches`).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp

PyTree = Any


def batchify(per_agent: dict[str, jax.Array], agents: Sequence[str]) -> jax.Array:
    """Stack a dict keyed by agent name into one array with a leading agent axis, in the order of `agents`.

    Example:
        >>> import jax.numpy as jnp
        >>> batchify({"agent_1": jnp.ones(2), "agent_0": jnp.zeros(2)}, ["agent_0", "agent_1"]).tolist()
        [[0.0, 0.0], [1.0, 1.0]]
    """
    missing = [a for a in agents if a not in per_agent]
    if missing:
        raise KeyError(f"batchify: no entry for {missing}; the dict has {sorted(per_agent)}.")
    return jnp.stack([jnp.asarray(per_agent[a]) for a in agents])


def unbatchify(stacked: jax.Array, agents: Sequence[str]) -> dict[str, jax.Array]:
    """Split an array with a leading agent axis into a dict keyed by agent name (inverse of `batchify`)."""
    if stacked.shape[0] != len(agents):
        raise ValueError(f"unbatchify: leading axis {stacked.shape[0]} != {len(agents)} agents.")
    return {a: stacked[i] for i, a in enumerate(agents)}


def unstack(tree: PyTree, n: int) -> tuple[PyTree, ...]:
    """A pytree whose leaves have a leading axis of size `n` -> a tuple of `n` pytrees (the method's `Params`)."""
    return tuple(jax.tree.map(lambda x, i=i: x[i], tree) for i in range(n))


def stack(trees: Sequence[PyTree]) -> PyTree:
    """A sequence of pytrees with one structure -> one pytree with a new leading axis (inverse of `unstack`)."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def shuffled_minibatches(key: jax.Array, batch: PyTree, num_minibatches: int, axis: int = 0) -> PyTree:
    """Shuffle `batch` along `axis` and cut it into `num_minibatches` equal minibatches.

    Every leaf of `batch` has the same size `B` along `axis`; `B` must be divisible by `num_minibatches`.
    The same permutation is applied to every leaf, so samples stay aligned across leaves (and across the
    agent axis when `axis` is not the agent axis).

    Returns:
        `batch` with every leaf reshaped so that a new LEADING axis of size `num_minibatches` indexes the
        minibatch, and `axis` (shifted by one) has size `B // num_minibatches`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> mb = shuffled_minibatches(jax.random.key(0), {"x": jnp.arange(6)}, 3)
        >>> mb["x"].shape, sorted(mb["x"].ravel().tolist())
        ((3, 2), [0, 1, 2, 3, 4, 5])
    """
    sizes = {x.shape[axis] for x in jax.tree.leaves(batch)}
    if len(sizes) != 1:
        raise ValueError(f"shuffled_minibatches: leaves disagree on the size of axis {axis}: {sorted(sizes)}.")
    (size,) = sizes
    if num_minibatches < 1 or size % num_minibatches:
        raise ValueError(f"shuffled_minibatches: {size} samples do not split into {num_minibatches} minibatches.")
    order = jax.random.permutation(key, size)

    def cut(x):
        x = jnp.take(x, order, axis=axis)
        x = x.reshape(x.shape[:axis] + (num_minibatches, size // num_minibatches) + x.shape[axis + 1:])
        return jnp.moveaxis(x, axis, 0)

    return jax.tree.map(cut, batch)
