"""Small equinox networks for per-agent policies and critics, stacked on a leading agent axis.

Equinox is the project's network library (DESIGN.md, "Dependencies"): a module is a plain pytree of arrays,
so the same object is what `jax.grad`, the `GameMethod`s' Hessian-vector products, `vmap` over agents and
seeds, and `equinox.tree_serialise_leaves` (checkpoints) all see, with no separate `apply`/`params` split.

`MLP` holds only arrays (the activation is a static field), which keeps the `GameMethod` derivatives free of
the non-array leaves that `equinox.nn.MLP` carries. Observations are flattened and cast to float32 inside
the network, so rollout buffers stay uint8.
"""

from __future__ import annotations

from typing import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp

from mixmo.rl._random import truncated_normal_fan_in

_ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}


class MLP(eqx.Module):
    """A multilayer perceptron on flattened inputs: `x -> W_k(... act(W_1 x + b_1) ...) + b_k`.

    Call it on a batch: input shape `(batch, *obs_shape)` (any dtype), output `(batch, out)`.

    Attributes:
        weights: one `(in, out)` matrix per layer.
        biases: one `(out,)` vector per layer.
        activation: "relu" or "tanh", applied after every layer but the last.
    """

    weights: tuple[jax.Array, ...]
    biases: tuple[jax.Array, ...]
    activation: str = eqx.field(static=True, default="relu")

    def __call__(self, x: jax.Array) -> jax.Array:
        h = x.reshape(x.shape[0], -1).astype(jnp.float32)
        act = _ACTIVATIONS[self.activation]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w + b[None, :]
            if i < len(self.weights) - 1:
                h = act(h)
        return h


def mlp(key: jax.Array, sizes: Sequence[int], head_scale: float, activation: str = "relu") -> MLP:
    """An `MLP` with layer sizes `sizes = (in, hidden..., out)`, scaled normal weights and zero biases.

    Weights are truncated normal with variance gain^2 / fan_in: gain sqrt(2) for hidden layers (He init),
    `head_scale` for the last (e.g. 0.01 for a near-uniform first policy, as in Huang et al. 2022, "The 37
    Implementation Details of PPO", details 2–3; `mixmo.rl.PPOConfig` uses 1.0, see docs/rl.md). Not their
    orthogonal matrices: on the project's CPU (jaxlib 0.10.2) a QR decomposition compiled into the same
    program as the environments' reset deadlocked XLA's thread pool (and XLA's QR hung again in the CNN's
    initialisation, which computes its QR on the host instead: `mixmo.rl._cnn`).
    """
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(f"mlp: sizes must be at least (in, out) with positive entries, got {tuple(sizes)}.")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"mlp: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}.")
    keys = jax.random.split(key, len(sizes) - 1)
    weights, biases = [], []
    for i, (k, fan_in, fan_out) in enumerate(zip(keys, sizes[:-1], sizes[1:])):
        scale = head_scale if i == len(sizes) - 2 else 2.0**0.5
        # variance_scaling(scale**2, "fan_in", "truncated_normal"), drawn flat (the same numbers; `_random`)
        weights.append(truncated_normal_fan_in(k, (fan_in, fan_out), scale))
        biases.append(jnp.zeros((fan_out,), jnp.float32))
    return MLP(tuple(weights), tuple(biases), activation)


def stacked_mlps(key: jax.Array, n: int, sizes: Sequence[int], head_scale: float, activation: str = "relu") -> MLP:
    """`n` independently initialised `MLP`s stacked on a leading axis of every leaf (one per agent)."""
    return jax.vmap(lambda k: mlp(k, sizes, head_scale, activation))(jax.random.split(key, n))


def apply_stacked(nets: MLP, x: jax.Array, call: Callable | None = None) -> jax.Array:
    """Evaluate stacked networks on per-agent inputs: `x` `(n, batch, ...)` -> `(n, batch, out)`.

    `nets` holds one network per agent (leading axis n, evaluated with `vmap`) or one network shared by all
    agents (leading axis 1, parameter sharing: evaluated once on the agents' samples together). `call(net, x)`
    evaluates one network on a batch (default `net(x)`; e.g. `ActorCritic.values`).
    """
    call = (lambda net, xi: net(xi)) if call is None else call
    if jax.tree.leaves(nets)[0].shape[0] == 1 and x.shape[0] > 1:
        shared = jax.tree.map(lambda leaf: leaf[0], nets)
        out = call(shared, x.reshape((x.shape[0] * x.shape[1],) + x.shape[2:]))
        return out.reshape(x.shape[:2] + out.shape[1:])
    return jax.vmap(call)(nets, x)
