"""Random draws made flat: the same numbers as `jax.random` draws of the full shape, far less to compile.

JAX's threefry generator numbers the elements of a draw in row-major order (with
`jax_threefry_partitionable` on or off), so a draw of `prod(shape)` values reshaped to `shape` is
bit-for-bit the draw of `shape`. The compiled code is not the same: on CPU, XLA and LLVM turn a
multi-dimensional threefry kernel with small dimensions into a fully unrolled nest of loops, and compiling it
dominates the compile time of small programs. Measured on the project's 2-core CPU (jaxlib 0.10.2, CPU
seconds): `jax.random.bits` of shape (2, 8, 9) 5.0 s, of shape (144,) 0.55 s; vmapped over two keys,
(2, 8, 9) 10 s and (144,) 0.56 s. The trainers draw their network initialisations and actions through here.

The draws are the same numbers; what a program computes from them is compiled anew and can, in principle, round
differently (D3C's unit directions did, in the last bit, so they are still drawn whole). The trainers' results
were checked bit for bit against drawing whole (benchmarks/RESULTS.md, "RL compile time").
"""

from __future__ import annotations

import math
from typing import Sequence

import jax
import jax.numpy as jnp

# the standard deviation of a standard normal truncated to (-2, 2), as jax.nn.initializers.variance_scaling uses
_TRUNCATED_STD = 0.87962566103423978


def truncated_normal_fan_in(key: jax.Array, shape: Sequence[int], gain: float) -> jax.Array:
    """`jax.nn.initializers.variance_scaling(gain**2, "fan_in", "truncated_normal")(key, shape)` for a matrix
    `(fan_in, fan_out)`, bit for bit: truncated normal on (-2, 2) times sqrt(gain^2 / fan_in) / 0.8796..."""
    fan_in, fan_out = shape
    variance = jnp.array(gain**2 / fan_in, jnp.float32)
    stddev = jnp.sqrt(variance) / jnp.array(_TRUNCATED_STD, jnp.float32)
    flat = jax.random.truncated_normal(key, -2, 2, (fan_in * fan_out,), jnp.float32) * stddev
    return flat.reshape(fan_in, fan_out)


def categorical(key: jax.Array, logits: jax.Array) -> jax.Array:
    """`jax.random.categorical(key, logits)` over the last axis, bit for bit: argmax(Gumbel noise + logits)."""
    noise = jax.random.gumbel(key, (math.prod(logits.shape),), logits.dtype).reshape(logits.shape)
    return jnp.argmax(noise + logits, axis=-1)
