"""A small recurrent policy (dense -> GRU -> logits) as an equinox module of plain arrays, stacked per agent.

Like `mixmo.rl.MLP`, the module holds only arrays, so `jax.grad`, the `GameMethod`s' Hessian-vector products,
`vmap` over agents and seeds and checkpoint serialisation all see the same pytree.

GRU cell (Cho et al. 2014; the form of PyTorch's `nn.GRUCell`, as in MAPPO's recurrent policies):

    r = sigmoid(x W_r + h U_r + b_r),  z = sigmoid(x W_z + h U_z + b_z),
    n = tanh(x W_n + b_n + r * (h U_n + c_n)),  h' = (1 - z) * n + z * h.

The hidden state is reset to zeros at the first step of every episode (`first` flags), in the rollout and
when the loss replays a stored sequence from its initial hidden state, so both see the same computation.

Stacked policies (`step_stacked`, `unroll_stacked`) have a leading axis of either one network per agent
(evaluated with `vmap` over the agents) or 1: one network shared by all agents (parameter sharing, as
`mixmo.rl.apply_stacked` for MLPs), evaluated with `vmap` over the agents' inputs and hidden states with the
network broadcast.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from mixmo.rl._random import truncated_normal_fan_in


class GRUPolicy(eqx.Module):
    """Input layer (ReLU), GRU cell, linear head to action logits.

    Attributes:
        w_in, b_in: `(obs_size, embed)`, `(embed,)`.
        w_x, b_x: input-to-gates `(embed, 3 * hidden)`, `(3 * hidden,)` (order r, z, n).
        w_h, c_n: hidden-to-gates `(hidden, 3 * hidden)`, and the candidate's hidden bias `(hidden,)`.
        w_out, b_out: `(hidden, n_actions)`, `(n_actions,)`.
    """

    w_in: jax.Array
    b_in: jax.Array
    w_x: jax.Array
    b_x: jax.Array
    w_h: jax.Array
    c_n: jax.Array
    w_out: jax.Array
    b_out: jax.Array

    @property
    def hidden_size(self) -> int:
        return self.w_h.shape[-2]

    def step(self, x: jax.Array, h: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One step on a batch: `x` `(B, *obs_shape)`, `h` `(B, hidden)` -> `(logits (B, A), new h)`."""
        e = jax.nn.relu(x.reshape(x.shape[0], -1).astype(jnp.float32) @ self.w_in + self.b_in[None, :])
        gx = e @ self.w_x + self.b_x[None, :]
        gh = h @ self.w_h
        size = self.hidden_size
        r = jax.nn.sigmoid(gx[:, :size] + gh[:, :size])
        z = jax.nn.sigmoid(gx[:, size:2 * size] + gh[:, size:2 * size])
        n = jnp.tanh(gx[:, 2 * size:] + r * (gh[:, 2 * size:] + self.c_n[None, :]))
        h = (1.0 - z) * n + z * h
        return h @ self.w_out + self.b_out[None, :], h

    def unroll(self, xs: jax.Array, first: jax.Array, h0: jax.Array) -> jax.Array:
        """Logits of a sequence: `xs` `(T, B, ...)`, `first` `(T, B)` bool, `h0` `(B, hidden)` -> `(T, B, A)`."""

        def one(h, inputs):
            x, reset = inputs
            logits, h = self.step(x, jnp.where(reset[:, None], 0.0, h))
            return h, logits

        return jax.lax.scan(one, h0, (xs, first))[1]


def gru_policy(key: jax.Array, obs_size: int, embed: int, hidden: int, n_actions: int,
               head_scale: float) -> GRUPolicy:
    """A `GRUPolicy` with scaled truncated-normal weights (variance gain^2 / fan_in) and zero biases.

    Gains: sqrt(2) for the ReLU input layer, 1 for the gates, `head_scale` for the logits (see
    `mixmo.rl.PPOConfig.policy_head_scale` for why the default is 1, not 0.01).
    """
    if min(obs_size, embed, hidden, n_actions) < 1:
        raise ValueError(f"gru_policy: sizes must be positive, got obs {obs_size}, embed {embed}, "
                         f"hidden {hidden}, actions {n_actions}.")
    k_in, k_x, k_h, k_out = jax.random.split(key, 4)

    init = truncated_normal_fan_in  # variance_scaling(gain**2, "fan_in", "truncated_normal"), drawn flat

    return GRUPolicy(
        w_in=init(k_in, (obs_size, embed), 2.0**0.5), b_in=jnp.zeros((embed,), jnp.float32),
        w_x=init(k_x, (embed, 3 * hidden), 1.0), b_x=jnp.zeros((3 * hidden,), jnp.float32),
        w_h=init(k_h, (hidden, 3 * hidden), 1.0), c_n=jnp.zeros((hidden,), jnp.float32),
        w_out=init(k_out, (hidden, n_actions), head_scale), b_out=jnp.zeros((n_actions,), jnp.float32))


def stacked_gru_policies(key: jax.Array, n: int, obs_size: int, embed: int, hidden: int, n_actions: int,
                         head_scale: float) -> GRUPolicy:
    """`n` independently initialised `GRUPolicy`s stacked on a leading agent axis."""
    return jax.vmap(lambda k: gru_policy(k, obs_size, embed, hidden, n_actions, head_scale))(
        jax.random.split(key, n))


def _shared(policy: GRUPolicy, n_inputs: int) -> GRUPolicy | None:
    """The one network of a leading-axis-1 stack evaluated on several agents' inputs, else None."""
    if policy.w_in.shape[0] == 1 and n_inputs > 1:
        return jax.tree.map(lambda leaf: leaf[0], policy)
    return None


def step_stacked(policy: GRUPolicy, x: jax.Array, h: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One step of every agent: `x` `(N, B, *obs_shape)`, `h` `(N, B, hidden)` -> `(logits (N, B, A), h)`.

    `policy` is stacked per agent (leading axis N) or shared (leading axis 1: the same network for every agent).
    """
    shared = _shared(policy, x.shape[0])
    if shared is not None:
        return jax.vmap(shared.step)(x, h)
    return jax.vmap(lambda p, xi, hi: p.step(xi, hi))(policy, x, h)


def unroll_stacked(policy: GRUPolicy, xs: jax.Array, first: jax.Array, h0: jax.Array) -> jax.Array:
    """Every agent's logits over a sequence: `xs` `(N, T, B, ...)`, `first` `(T, B)`, `h0` `(N, B, hidden)` ->
    `(N, T, B, A)`; `policy` stacked per agent or shared, as in `step_stacked`."""
    shared = _shared(policy, xs.shape[0])
    if shared is not None:
        return jax.vmap(lambda x, h: shared.unroll(x, first, h))(xs, h0)
    return jax.vmap(lambda p, x, h: p.unroll(x, first, h))(policy, xs, h0)


def masked_logits(logits: jax.Array, mask: jax.Array | None) -> jax.Array:
    """Unavailable actions (mask False) get logit -1e9: probability 0, no gradient, finite entropy terms."""
    return logits if mask is None else jnp.where(mask, logits, -1e9)
