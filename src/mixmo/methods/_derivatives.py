"""Matrix-free derivatives of a differentiable game (DESIGN.md, "The methods, exactly").

Notation: w = (w_1..w_n) joint parameters (a tuple of pytrees), losses l = (l_1..l_n), l_c = sum_i l_i.

- xi        = (grad_{w_1} l_1, ..., grad_{w_n} l_n), the simultaneous gradient;
- xi_c      = grad_w l_c, the collective gradient;
- H_c v     = Hessian of l_c times v (forward-over-reverse);
- J v, J^T v with J = grad xi, the game Jacobian (not symmetric).

No Hessian or Jacobian is ever built: every function here costs a small constant number of gradient
evaluations, so methods work at d = 10^6 parameters.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Callable

import jax
import jax.numpy as jnp

from mixmo.game import LossesFn, Params, StructuredLosses, collective_loss

# While `reuse_derivatives()` is open in a thread: its [(derivative, inputs, result)] of the calls made in it.
_scope = threading.local()


@contextlib.contextmanager
def reuse_derivatives():
    """Within this scope `simultaneous_and_collective` and `collective_hvp`, asked again with the very same losses,
    params (and vector) objects, return their first result instead of differentiating again.

    What it is for: a method's direction and its `diagnostics` at the same point need the same ξ, ξ_c and
    H_c ξ_c (AgA computes all three). Traced under `jit`, each call adds its own copy of the derivatives to the
    program, and XLA merges only part of the repetition; reused, the program holds them once (the diagnostics of
    AgA's RL update add 7% to its jaxpr instead of about half; results unchanged: the derivatives are the same
    functions of the same inputs). Inputs are matched by identity, so arrays or tracers from another trace never
    match.
    """
    saved = getattr(_scope, "reused", None)
    _scope.reused = []
    try:
        yield
    finally:
        _scope.reused = saved


def _memoised(derivative: Callable, inputs: tuple, compute: Callable):
    """`compute()`, or the result of an earlier call of `derivative` on the same input objects while
    `reuse_derivatives()` is open (the inputs are kept alive with the result, so identities stay unique)."""
    reused = getattr(_scope, "reused", None)
    if reused is None:
        return compute()
    leaves = jax.tree.leaves(inputs, is_leaf=callable)
    for seen, seen_leaves, result in reused:
        if seen is derivative and len(seen_leaves) == len(leaves) and all(a is b for a, b in zip(seen_leaves, leaves)):
            return result
    result = compute()
    reused.append((derivative, leaves, result))
    return result


def tree_dot(a, b) -> jax.Array:
    """Inner product of two pytrees with the same structure."""
    leaves = jax.tree.leaves(jax.tree.map(lambda x, y: jnp.vdot(x, y), a, b))
    return sum(leaves, jnp.zeros((), jnp.result_type(*leaves)))


def tree_axpy(alpha, x, y):
    """alpha * x + y for pytrees x, y and a scalar alpha."""
    return jax.tree.map(lambda xi, yi: alpha * xi + yi, x, y)


def tree_size(tree) -> int:
    """Total number of scalars d in a pytree (a static Python int)."""
    return sum(x.size for x in jax.tree.leaves(tree))


def all_gradients(losses_fn: LossesFn, params: Params):
    """Every player's loss differentiated by every player's parameters, from one shared forward pass.

    Returns:
        `(losses, full)` where `losses` has shape `(n,)` and `full` has the structure of `params` with a
        leading axis of size n on every leaf: `full[j]` leaf `[i]` is d l_i / d w_j.
        Cost: one forward pass and n reverse passes (vmapped), which is what xi needs anyway.
    """
    losses, vjp_fn = jax.vjp(losses_fn, params)
    (full,) = jax.vmap(vjp_fn)(jnp.eye(losses.shape[0], dtype=losses.dtype))
    return losses, full


def simultaneous_and_collective(losses_fn: LossesFn, params: Params):
    """xi and xi_c from one forward pass and n reverse passes: xi_c is the row-sum of the full gradients.

    For `StructuredLosses`, xi of separable losses is one reverse pass of their sum, and an explicit
    collective loss gets its own reverse pass.

    Returns:
        `(losses, xi, xi_c)`.
    """
    return _memoised(simultaneous_and_collective, (losses_fn, params),
                     lambda: _simultaneous_and_collective(losses_fn, params))


def _simultaneous_and_collective(losses_fn: LossesFn, params: Params):
    if isinstance(losses_fn, StructuredLosses):
        if losses_fn.separable:
            losses, vjp_fn = jax.vjp(losses_fn.individual, params)
            (xi,) = vjp_fn(jnp.ones_like(losses))  # separable: grad of the sum is xi
            xi_c = xi
        else:
            losses, xi, xi_c = simultaneous_and_collective(losses_fn.individual, params)
        if losses_fn.collective is not None:
            xi_c = collective_gradient(losses_fn, params)
        return losses, xi, xi_c
    losses, full = all_gradients(losses_fn, params)
    xi = tuple(jax.tree.map(lambda g, i=i: g[i], full[i]) for i in range(len(params)))
    xi_c = jax.tree.map(lambda g: jnp.sum(g, axis=0), full)
    return losses, xi, xi_c


def simultaneous_gradient(losses_fn: LossesFn, params: Params) -> Params:
    """xi = (grad_{w_i} l_i)_i, the simultaneous (individual) gradient."""
    if isinstance(losses_fn, StructuredLosses):
        if losses_fn.separable:
            return jax.grad(lambda p: jnp.sum(losses_fn.individual(p)))(params)
        losses_fn = losses_fn.individual
    return simultaneous_and_collective(losses_fn, params)[1]


def collective_gradient(losses_fn: LossesFn, params: Params) -> Params:
    """xi_c = grad_w l_c (l_c = sum_i l_i unless the losses carry their own collective loss), one reverse pass."""
    return jax.grad(collective_loss(losses_fn))(params)


def collective_hvp(losses_fn: LossesFn, params: Params, v: Params) -> Params:
    """H_c v, the Hessian of the collective loss times v, by forward-over-reverse differentiation."""
    return _memoised(collective_hvp, (losses_fn, params, v),
                     lambda: jax.jvp(jax.grad(collective_loss(losses_fn)), (params,), (v,))[1])


def jacobian_vp(losses_fn: LossesFn, params: Params, v: Params) -> Params:
    """J v, with J = d xi / d w the game Jacobian."""
    return jax.jvp(lambda p: simultaneous_gradient(losses_fn, p), (params,), (v,))[1]


def jacobian_tvp(losses_fn: LossesFn, params: Params, v: Params) -> Params:
    """J^T v, with J = d xi / d w the game Jacobian."""
    _, vjp_fn = jax.vjp(lambda p: simultaneous_gradient(losses_fn, p), params)
    return vjp_fn(v)[0]


def linearized_simultaneous_gradient(losses_fn: LossesFn, params: Params):
    """xi with J v and J^T v sharing one linearisation of xi.

    Returns:
        `(xi, jvp, vjp)` where `jvp(v) = J v` and `vjp(v) = J^T v`.
    """
    xi, jvp = jax.linearize(lambda p: simultaneous_gradient(losses_fn, p), params)
    transpose = jax.linear_transpose(jvp, params)
    return xi, jvp, lambda v: transpose(v)[0]


def _zero_block(tree: Params, i: int) -> Params:
    """`tree` with player i's block set to zero."""
    return tuple(jax.tree.map(jnp.zeros_like, p) if j == i else p for j, p in enumerate(tree))


def _own_block(trees: Params, n: int) -> Params:
    """From a stack of n joint pytrees (leading axis n), player i's block of the i-th."""
    return tuple(jax.tree.map(lambda g, i=i: g[i], trees[i]) for i in range(n))


def off_diagonal_jvp(losses_fn: LossesFn, params: Params, v: Params, jvp=None) -> Params:
    """H_o v, with H_o the game Jacobian J = d xi / d w with its diagonal blocks d^2 l_i / d w_i^2 removed.

    (H_o v)_i = sum_{j != i} d^2 l_i / (d w_i d w_j) v_j: one J v per player with the player's own tangent
    block zeroed, vmapped. Pass `jvp` (from `linearized_simultaneous_gradient`) to reuse a linearisation.
    """
    n = len(params)
    if jvp is None:
        _, jvp, _ = linearized_simultaneous_gradient(losses_fn, params)
    tangents = jax.tree.map(lambda *blocks: jnp.stack(blocks), *[_zero_block(v, i) for i in range(n)])
    return _own_block(jax.vmap(jvp)(tangents), n)


def opponent_shaping_term(losses_fn: LossesFn, params: Params, full_gradients=None, vjp=None) -> Params:
    """chi = diag(H_o^T grad L) of LOLA/SOS (Letcher et al. 2019, eq. for chi).

    chi_i = sum_{j != i} (d^2 l_j / d w_i d w_j) grad_{w_j} l_i: player i's gradient through the others'
    learning steps. Computed as one J^T c^(i) per player, c^(i) = (grad_{w_j} l_i)_{j != i}, vmapped.
    """
    n = len(params)
    if full_gradients is None:
        _, full_gradients = all_gradients(losses_fn, params)
    if vjp is None:
        _, _, vjp = linearized_simultaneous_gradient(losses_fn, params)
    # c^(i)_j = d l_i / d w_j for j != i, 0 for j = i; stacked over i on a leading axis.
    own = jnp.eye(n, dtype=bool)
    cotangents = tuple(jax.tree.map(lambda g, j=j: jnp.where(
        own[:, j].reshape((n,) + (1,) * (g.ndim - 1)), 0.0, g), full_gradients[j]) for j in range(n))
    return _own_block(jax.vmap(vjp)(cotangents), n)
