"""`network="cnn"`: one actor-critic module per player, the SSD script's CNN with stable-baselines3's CnnPolicy layout.

The SSD repository's `run_scripts/sb3_train.py` (eugenevinitsky/sequential_social_dilemma_games), which the AgA
paper's App. E.1 set-up matches, trains SB3's `PPO("CnnPolicy")` with its `CustomCNN` features extractor
(features_dim 32, view_len 7) and `net_arch=[128]`:

    frames (4 stacked) -> Conv2d(3x3, stride 1, valid, 24 channels) -> ReLU -> flatten (24 * 13 * 13 = 4056)
    -> Linear(1024) -> ReLU -> Linear(32) -> ReLU                                   (the features extractor)
    -> net_arch: Linear(128) -> Tanh                        (SB3's default activation_fn for its policies)
    -> action head Linear(n_actions); value head Linear(1)

SB3's CnnPolicy shares the features extractor between actor and critic (`share_features_extractor=True`) and
initialises every layer orthogonally (`ortho_init`): gain sqrt(2) for the extractor and the net_arch layers, 0.01
for the action head, 1 for the value head, zero biases. Here the value head has two outputs, mixmo's own value
V_i and the share u_i of the collective value V_c = sum_i u_i (`mixmo.rl._trainer`).

Differences from the script, on purpose:
- Input: the script's observation is RGB (3 channels x 4 frames = 12); mixmo's are one-hot planes (Cleanup 7,
  Harvest 4 channels), so the convolution takes `channels * frame_stack` inputs. The planes are 0/1 already and
  are used as they are; the script scales RGB by 1/255 (and, through SB3's own `normalize_images` before its
  extractor divides again, by 1/255^2 in effect).
- `net_arch=[128]`: SB3 before 1.8 read a list as layers SHARED by actor and critic (the script's era:
  supersuit's `frame_stack_v1` and `pettingzoo_env_to_vec_env_v0`); SB3 2.x reads it as one such layer for the
  actor and another for the critic. `shared_net_arch` chooses (default: shared, the script's era).

Orthogonal matrices come from a QR decomposition of a normal draw with the signs of R's diagonal (torch's
`nn.init.orthogonal_`; the same distribution, not the same numbers). The QR is computed by numpy (Cholesky QR,
`_orthonormal_columns`), called from the traced program with `jax.pure_callback`: XLA's own (`jnp.linalg.qr`)
hung on the project's 2-core CPU (jaxlib 0.10.2) in `jax.jit` of two players' initialisation at the script's
sizes (27 s of CPU, then no progress for 4 minutes), as `mixmo.rl._networks` records for an earlier case, though
it ran at small sizes and for one player; and a batched XLA QR of two 4056 x 1024 matrices alone took about 40 s.
A program
with a host callback is left out of JAX's persistent compilation cache: `mixmo.rl._driver` initialises in a jit of
its own, so its training program is cached as before; calling `trainer(key)` whole compiles the CNN's anew.
"""

from __future__ import annotations

import math
from typing import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mixmo.rl._networks import apply_stacked

# SB3's ortho_init gains: features extractor and net_arch (mlp_extractor) sqrt(2), action_net 0.01, value_net 1
TRUNK_GAIN = math.sqrt(2.0)
ACTION_GAIN = 0.01
VALUE_GAIN = 1.0
KERNEL = 3  # the script's Conv2d: 3 x 3, stride 1, padding "valid"


def _orthonormal_columns(a: np.ndarray) -> np.ndarray:
    """Q of the QR decompositions of `a` `(..., big, small)` with R's diagonal positive (numpy, on the host).

    By Cholesky QR twice (CholeskyQR2): R = chol(AᵀA)ᵀ, Q = A R⁻¹, then once more on Q to restore the
    orthogonality that rounding loses (float64; a Gaussian draw is well conditioned). The same Q as a Householder
    QR with R's signs made positive, in exact arithmetic, and on the project's CPU about 2 s for a 4056 x 1024
    draw where `np.linalg.qr` took 20-40 s under load.
    """
    q = np.asarray(a, np.float64)
    for _ in range(2):
        lower = np.linalg.cholesky(np.swapaxes(q, -1, -2) @ q)  # AᵀA = L Lᵀ, R = Lᵀ
        q = np.swapaxes(np.linalg.solve(lower, np.swapaxes(q, -1, -2)), -1, -2)  # (L⁻¹ Aᵀ)ᵀ = A R⁻¹
    return q.astype(np.float32)


def orthogonal(key: jax.Array, rows: int, cols: int, gain: float) -> jax.Array:
    """A `(rows, cols)` matrix with orthonormal rows or columns (whichever are fewer) times `gain`, as torch's
    `orthogonal_` on a weight of that shape. The normal draw is JAX's (flat: `mixmo.rl._random`, less to
    compile); the QR decomposition is numpy's, through `jax.pure_callback` (jit- and vmap-able; see the module
    docstring for why not `jnp.linalg.qr`)."""
    big, small = max(rows, cols), min(rows, cols)
    a = jax.random.normal(key, (rows * cols,), jnp.float32).reshape(big, small)
    q = jax.pure_callback(_orthonormal_columns, jax.ShapeDtypeStruct((big, small), jnp.float32), a,
                          vmap_method="expand_dims")
    return gain * (q.T if rows < cols else q)


def _dense(key: jax.Array, sizes: Sequence[int], gain: float) -> tuple[tuple, tuple]:
    """Orthogonal `(in, out)` weights and zero biases of a chain of Linear layers `sizes = (in, ..., out)`."""
    keys = jax.random.split(key, max(len(sizes) - 1, 1))
    weights = tuple(orthogonal(k, fan_out, fan_in, gain).T for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:]))
    biases = tuple(jnp.zeros((fan_out,), jnp.float32) for fan_out in sizes[1:])
    return weights, biases


def _chain(h: jax.Array, weights, biases, act) -> jax.Array:
    for w, b in zip(weights, biases):
        h = act(h @ w + b[None, :])
    return h


class ActorCritic(eqx.Module):
    """One player's actor-critic: CNN trunk shared by both heads, net_arch layers, action and value heads.

    Call it on a batch `(batch, H, W, C)` (any dtype) for the action logits `(batch, n_actions)`, so it stands
    wherever a policy `MLP` does; `values(x)` gives `(batch, 2)` (V_i, u_i) and `heads(x)` both.

    Attributes:
        conv_kernel: `(3, 3, C, channels)` (HWIO); conv_bias `(channels,)`.
        feature_weights, feature_biases: the extractor's Linear layers (ReLU after each, the last included).
        shared_weights, shared_biases: net_arch layers shared by actor and critic (Tanh), or empty.
        policy_weights, policy_biases / value_weights, value_biases: net_arch layers of the actor / critic alone
            (Tanh; SB3 2.x's reading of net_arch), or empty.
        action_weight, action_bias: the action head; value_weight, value_bias: the two-output value head.
    """

    conv_kernel: jax.Array
    conv_bias: jax.Array
    feature_weights: tuple[jax.Array, ...]
    feature_biases: tuple[jax.Array, ...]
    shared_weights: tuple[jax.Array, ...]
    shared_biases: tuple[jax.Array, ...]
    policy_weights: tuple[jax.Array, ...]
    policy_biases: tuple[jax.Array, ...]
    value_weights: tuple[jax.Array, ...]
    value_biases: tuple[jax.Array, ...]
    action_weight: jax.Array
    action_bias: jax.Array
    value_weight: jax.Array
    value_bias: jax.Array

    def latent(self, x: jax.Array) -> jax.Array:
        """The shared part: convolution, extractor and shared net_arch layers, `(batch, width)`."""
        h = jax.lax.conv_general_dilated(x.astype(jnp.float32), self.conv_kernel, (1, 1), "VALID",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jax.nn.relu(h + self.conv_bias[None, None, None, :])
        h = _chain(h.reshape(h.shape[0], -1), self.feature_weights, self.feature_biases, jax.nn.relu)
        return _chain(h, self.shared_weights, self.shared_biases, jnp.tanh)

    def _logits(self, h: jax.Array) -> jax.Array:
        h = _chain(h, self.policy_weights, self.policy_biases, jnp.tanh)
        return h @ self.action_weight + self.action_bias[None, :]

    def _values(self, h: jax.Array) -> jax.Array:
        h = _chain(h, self.value_weights, self.value_biases, jnp.tanh)
        return h @ self.value_weight + self.value_bias[None, :]

    def __call__(self, x: jax.Array) -> jax.Array:
        return self._logits(self.latent(x))

    def values(self, x: jax.Array) -> jax.Array:
        return self._values(self.latent(x))

    def heads(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = self.latent(x)
        return self._logits(h), self._values(h)


def actor_critic(key: jax.Array, obs_shape: Sequence[int], n_actions: int, conv_and_features: Sequence[int],
                 net_arch: Sequence[int], shared_net_arch: bool = True) -> ActorCritic:
    """An `ActorCritic` for observations `obs_shape = (H, W, C)` with SB3's orthogonal initialisation.

    Args:
        conv_and_features: the convolution's output channels, then the extractor's Linear widths (the script:
            `(24, 1024, 32)`; the last is SB3's features_dim).
        net_arch: SB3's net_arch widths (the script: `(128,)`), shared by actor and critic or one copy each.
    """
    height, width, channels = obs_shape
    if height < KERNEL or width < KERNEL:
        raise ValueError(f"actor_critic: the view {height} x {width} is smaller than the {KERNEL} x {KERNEL} kernel.")
    conv_out, *features = conv_and_features
    k_conv, k_feat, k_shared, k_pi, k_vf, k_act, k_val = jax.random.split(key, 7)
    kernel = orthogonal(k_conv, conv_out, KERNEL * KERNEL * channels, TRUNK_GAIN)
    kernel = kernel.reshape(conv_out, KERNEL, KERNEL, channels).transpose(1, 2, 3, 0)
    flat = conv_out * (height - KERNEL + 1) * (width - KERNEL + 1)
    fw, fb = _dense(k_feat, (flat, *features), TRUNK_GAIN)
    latent = features[-1] if features else flat
    arch = (latent, *net_arch)
    empty = ((), ())
    sw, sb = _dense(k_shared, arch, TRUNK_GAIN) if shared_net_arch and net_arch else empty
    pw, pb = _dense(k_pi, arch, TRUNK_GAIN) if not shared_net_arch and net_arch else empty
    vw, vb = _dense(k_vf, arch, TRUNK_GAIN) if not shared_net_arch and net_arch else empty
    (aw,), (ab,) = _dense(k_act, (arch[-1], n_actions), ACTION_GAIN)
    (ww,), (wb,) = _dense(k_val, (arch[-1], 2), VALUE_GAIN)
    return ActorCritic(jnp.asarray(kernel), jnp.zeros((conv_out,), jnp.float32), fw, fb, sw, sb, pw, pb, vw, vb,
                       aw, ab, ww, wb)


def stacked_actor_critics(key: jax.Array, n: int, obs_shape: Sequence[int], n_actions: int,
                          conv_and_features: Sequence[int], net_arch: Sequence[int],
                          shared_net_arch: bool = True) -> ActorCritic:
    """`n` independently initialised `ActorCritic`s stacked on a leading axis of every leaf (one per player)."""
    return jax.vmap(lambda k: actor_critic(k, obs_shape, n_actions, conv_and_features, net_arch, shared_net_arch))(
        jax.random.split(key, n))


def critic_outputs(nets, x: jax.Array) -> jax.Array:
    """The critic's (V_i, u_i) `(n, batch, 2)` from stacked critic `MLP`s or stacked `ActorCritic`s."""
    if isinstance(nets, ActorCritic):
        return apply_stacked(nets, x, call=ActorCritic.values)
    return apply_stacked(nets, x)


def policy_and_critic(nets: ActorCritic, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Logits `(n, batch, A)` and (V_i, u_i) `(n, batch, 2)` of stacked `ActorCritic`s in one forward pass."""
    both = apply_stacked(nets, x, call=lambda net, xi: jnp.concatenate(net.heads(xi), axis=-1))
    return both[..., :-2], both[..., -2:]
