"""D3C, exact-gradient form: players learn how to mix their losses to lower a local price of anarchy.

References: Gemp et al. 2022, "D3C: Reducing the Price of Anarchy in Multi-Agent Learning" (AAMAS 2022),
§2.1 (f^A = A^T f), §2.5 (eqs. 9–11), Appx. D.1 (eqs. 93, 97), Appx. E.2.1 (mixed populations);
DESIGN.md "D3C, exact-gradient form".

Notation: A is n x n, row i on the simplex and owned by player i; player i's mixed loss is column i of A,
f_i^A = sum_k A_ki f_k. The players' learning dynamics are F^A = (grad_{x_j} f_j^A)_j, and the rate of change
of player i's mixed loss along them is d/dt f_i^A = -<grad_x f_i^A, F^A>.

How the mixing gradient is computed, matrix-free: with G_jk = grad_{x_j} f_k (one forward and n reverse passes,
the same ones Simul-Ind needs), both grad_x f_i^A and F^A are linear in A, so

    d/dt f_i^A = -sum_j  A[:, i]^T  M_j  A[:, j],       M_j[k, l] = <G_jk, G_jl>,

where M (n x n x n) is the Gram tensor of each player's block of loss gradients. No Hessian or game Jacobian
is ever formed: the x-dependence enters only through first derivatives, and each player's objective is a small
function of A alone. Its gradient by the player's own row is the derivative of this quadratic form, written out
in O(n^3) (`_row_gradients`); autodiff of the same objective, one `grad` per row vmapped over rows
(`_row_gradients_autodiff`, O(n^4)), gives the same numbers and is what the tests check it against, with finite
differences. Cost per step: what Simul-Ind costs, plus n^2 d for the Gram tensor and O(n^3) for the rows.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from mixmo.methods import _validate
from mixmo.methods._base import GameMethod
from mixmo.methods._derivatives import all_gradients


class D3CState(NamedTuple):
    """State of `d3c`.

    Attributes:
        A: the mixing matrix, shape `(n, n)`; row i lies on the simplex and belongs to player i, and player i
            descends column i, f_i^A = sum_k A_ki f_k.
    """

    A: jax.Array


class MixedDynamics(NamedTuple):
    """What D3C measures at one point (x, A); each field has shape `(n,)`.

    Attributes:
        mixed_losses: f^A = A^T f.
        rates: d/dt f_i^A = -<grad_x f_i^A, F^A>, the rate of change of each mixed loss along the players'
            learning dynamics (frozen players do not move).
        own_grad_sq: ||grad_{x_i} f_i^A||^2.
    """

    mixed_losses: jax.Array
    rates: jax.Array
    own_grad_sq: jax.Array


def _gram(full) -> jax.Array:
    """M[j, k, l] = <grad_{x_j} f_k, grad_{x_j} f_l>, shape `(n, n, n)`, from `all_gradients`' per-player blocks.

    When every player's parameters have the same structure (the common case) the blocks are stacked and
    contracted in one einsum; otherwise player by player.
    """
    n = len(full)
    structures = {jax.tree.structure(t) for t in full}
    shapes = {tuple(leaf.shape for leaf in jax.tree.leaves(t)) for t in full}
    if len(structures) == 1 and len(shapes) == 1 and jax.tree.leaves(full[0]):
        stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves).reshape(n, n, -1), *full)
        return sum(jnp.einsum("jkd,jld->jkl", leaf, leaf) for leaf in jax.tree.leaves(stacked))
    blocks = [[leaf.reshape(n, -1) for leaf in jax.tree.leaves(t)] for t in full]
    dtype = jnp.result_type(*[leaf for player in blocks for leaf in player])
    return jnp.stack([sum((b @ b.T for b in player), jnp.zeros((n, n), dtype)) for player in blocks])


def _rates(A, gram, moving):
    """d/dt f_i^A = -sum_j moving_j A[:, i]^T M_j A[:, j] for every i, shape `(n,)`."""
    per_player = jnp.einsum("jkl,lj->jk", gram, A) * moving[:, None]  # row j: M_j A[:, j] (zero if frozen)
    return -A.T @ jnp.sum(per_player, axis=0)


def mixed_dynamics(losses_fn, params, A, moving=None) -> MixedDynamics:
    """f^A, d/dt f^A and ||grad_{x_i} f_i^A||^2 at `params` for mixing matrix `A` (shape `(n, n)`).

    Args:
        losses_fn: joint parameters -> losses, shape `(n,)`.
        params: joint parameters, one pytree per player.
        A: mixing matrix; player i's mixed loss is column i.
        moving: optional `(n,)` 0/1 mask of players that move (0 for players with fixed strategies).

    Cost: one forward and n reverse passes, plus n^2 d for the Gram tensor; nothing of size d x d.
    """
    losses, full = all_gradients(losses_fn, params)
    gram = _gram(full)
    n = losses.shape[0]
    moving = jnp.ones(n, losses.dtype) if moving is None else jnp.asarray(moving, losses.dtype)
    own = jnp.einsum("ikl,ki,li->i", gram, A, A)
    return MixedDynamics(A.T @ losses, _rates(A, gram, moving), own)


def _objectives(A, gram, moving, losses, eps, kl, multiplicative):
    """rho~_i(A) for every player i, shape `(n,)`: ReLU(d/dt f_i^A + eps) (or d/dt log f_i^A) + kl KL(e_i || A_i)."""
    rates = _rates(A, gram, moving)
    if multiplicative:
        rates = rates / (A.T @ losses)
    # KL(e_i || A_i) = -log A_ii; the floor keeps kl = 0 from meeting log 0 (0 * inf) where A_ii underflows
    return jax.nn.relu(rates + eps) - kl * jnp.log(jnp.maximum(jnp.diagonal(A), jnp.finfo(A.dtype).tiny))


def _row_gradients_autodiff(A, gram, moving, losses, eps, kl, multiplicative):
    """Row i: grad_{A_i} rho~_i(A) by autodiff of `_objectives`, vmapped over rows: O(n^4). The reference for
    `_row_gradients` (the tests hold the two equal in float64)."""
    def own(i):
        return jax.grad(lambda a: _objectives(a, gram, moving, losses, eps, kl, multiplicative)[i])(A)[i]

    return jax.vmap(own)(jnp.arange(A.shape[0]))


def _row_gradients(A, gram, moving, losses, eps, kl, multiplicative):
    """Row i: grad_{A_i} rho~_i(A), player i's own objective by its own row only, in O(n^3).

    The rate r_i = -sum_j moving_j A[:, i]^T M_j A[:, j] is a quadratic form in A, so its derivative by an entry
    A_im of player i's own row is -delta_im s_i - moving_m (M_m A[:, i])_i with s = sum_j moving_j M_j A[:, j]
    (A_im enters as A_ii in column i, and as A_ij in player j's dynamics). This is exactly what
    `_row_gradients_autodiff` computes, without its n-fold repetition of the n^3 forward pass.
    """
    n = A.shape[0]
    eye = jnp.eye(n, dtype=A.dtype)
    pulled = jnp.sum(jnp.einsum("jkl,lj->jk", gram, A) * moving[:, None], axis=0)  # s
    rates = -A.T @ pulled
    d_rates = -(eye * pulled[:, None] + jnp.einsum("mik,ki->im", gram, A) * moving[None, :])
    if multiplicative:
        mixed = A.T @ losses
        d_rates = d_rates / mixed[:, None] - eye * (rates * losses / mixed**2)[:, None]
        rates = rates / mixed
    gate = (rates + eps > 0).astype(A.dtype)  # ReLU'(0) = 0, as jax.nn.relu
    diagonal = jnp.diagonal(A)
    kl_grad = jnp.where(diagonal > jnp.finfo(A.dtype).tiny, -kl / diagonal, 0.0)
    return gate[:, None] * d_rates + eye * kl_grad[:, None]


def mixing_gradient(losses_fn, params, A, *, eps: float = 0.0, kl: float = 0.0, multiplicative: bool = False,
                    frozen=None) -> jax.Array:
    """The gradients D3C's players follow on A: row i is grad_{A_i} of player i's objective, shape `(n, n)`.

    Player i's objective is ReLU(d/dt f_i^A + eps) + kl * KL(e_i || A_i) (with d/dt log f_i^A if
    `multiplicative`); `frozen` marks players that do not move (they drop out of the dynamics F^A).
    """
    losses, full = all_gradients(losses_fn, params)
    n = losses.shape[0]
    moving = jnp.ones(n, A.dtype) if frozen is None else jnp.asarray(~np.asarray(frozen, bool), A.dtype)
    return _row_gradients(A, _gram(full), moving, losses, eps, kl, multiplicative)


def _player_masks(n: int, participants, frozen):
    """Static (numpy) boolean masks `(participating, frozen)` of length n, checked against each other."""
    frozen_mask = np.zeros(n, bool) if frozen is None else np.asarray(frozen, bool)
    if frozen_mask.shape != (n,):
        raise ValueError(f"d3c: frozen has {frozen_mask.size} entries but the game has {n} players; "
                         "give one boolean per player.")
    if participants is None:
        part_mask = ~frozen_mask
    else:
        part_mask = np.asarray(participants, bool)
        if part_mask.shape != (n,):
            raise ValueError(f"d3c: participants has {part_mask.size} entries but the game has {n} players; "
                             "give one boolean per player.")
    both = np.flatnonzero(part_mask & frozen_mask)
    if both.size:
        raise ValueError(f"d3c: player(s) {both.tolist()} are both frozen and participating; a frozen player "
                         "never moves, so it cannot mix its loss. Mark it participants=False.")
    return part_mask, frozen_mask


def _bool_tuple(name: str, value):
    if value is None:
        return None
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"d3c: {name} must be a sequence of booleans, one per player, got {value!r}.") from None
    if not all(isinstance(v, (bool, np.bool_)) or v in (0, 1) for v in items):
        raise ValueError(f"d3c: {name} must hold booleans (True/False), got {value!r}.")
    return tuple(bool(v) for v in items)


def initial_mixing(n: int, init_self: float, participants=None, dtype=jnp.float32) -> jax.Array:
    """A^0: A_ii = init_self, A_ij = (1 - init_self)/(p - 1) among the p participants; e_i for the others."""
    part = np.ones(n, bool) if participants is None else np.asarray(participants, bool)
    p = int(part.sum())
    A = np.eye(n)
    if p > 1:
        off = (1.0 - init_self) / (p - 1)
        block = np.full((p, p), off)
        np.fill_diagonal(block, init_self)
        idx = np.flatnonzero(part)
        A[np.ix_(idx, idx)] = block
    return jnp.asarray(A, dtype)


def d3c(lr_mix: float, eps: float = 0.0, kl: float = 0.0, init_self: float = 0.99,
        clip: tuple[float, float] | None = None, *, multiplicative: bool = False,
        participants: Sequence[bool] | None = None, frozen: Sequence[bool] | None = None) -> GameMethod:
    """D3C with exact gradients: descend mixed losses, and learn the mixing by entropic mirror descent.

    Player i descends its mixed loss f_i^A = sum_k A_ki f_k (direction grad_{x_i} f_i^A) and, at the same
    point, updates its own row A_i by

        A_i <- softmax( [log A_i - lr_mix * grad_{A_i} rho_i(A)]_l^h ),
        rho_i(A) = ReLU( d/dt f_i^A + eps ) + kl * KL(e_i || A_i)                     (eq. 11, additive form)
        rho_i(A) = ReLU( d/dt log f_i^A + eps ) + kl * KL(e_i || A_i)                  (eq. 10 with eq. 93)

    where d/dt f_i^A = -<grad_x f_i^A, F^A> is the rate of change of the mixed loss along the players' own
    dynamics F^A = (grad_{x_j} f_j^A)_j, and KL(e_i || A_i) = -log A_ii. Only player i's row moves from player
    i's objective. Improve-stay, suffer-shift: a player whose mixed loss is falling (rate < -eps) keeps its row.
    ReLU'(0) = 0, so with eps = 0 and kl = 0 a point where the players stop moving is a fixed point of A.

    Heterogeneous populations (Appx. E.2.1): `participants[i] = False` makes player i a plain gradient-descent
    player on its own loss (row A_i = e_i, never updated), and no participant mixes weight onto it, so its mixed
    loss is its own loss and the budget still balances. `frozen[i] = True` makes player i play a fixed strategy
    (direction 0; it does not count in the dynamics F^A either). By default every player that is not frozen
    participates; a frozen player cannot participate.

    Args:
        lr_mix: eta_A >= 0, the mixing learning rate.
        eps: the constant epsilon of eq. 11 (eq. 93 in the multiplicative form).
        kl: nu >= 0, weight of KL(e_i || A_i) pulling row i back toward e_i.
        init_self: A_ii at the start, in (0, 1); A_ij = (1 - init_self)/(p - 1) for the other participants.
        clip: `(l, h)` with l < h to clip the logits log A_i - eta_A grad to [l, h] (Algorithm 1), or None.
        multiplicative: use d/dt log f_i^A (eq. 10): defined only for positive losses. Raises at run time
            (via `equinox.error_if`; set `EQX_ON_ERROR=nan` to get NaNs instead) if a loss is <= 0.
        participants: one bool per player, or None (every non-frozen player).
        frozen: one bool per player, or None (no player frozen).

    Returns:
        A `GameMethod` whose state is `D3CState(A)`.

    Example:
        >>> import jax.numpy as jnp, mixmo
        >>> losses = lambda p: jnp.stack([p[0] ** 2 + (p[1] - 1) ** 2, p[1] ** 2 + (p[0] - 1) ** 2])
        >>> method = mixmo.methods.d3c(lr_mix=1.0)
        >>> params = (jnp.array(0.5), jnp.array(0.5))     # the social optimum of this prisoner's dilemma
        >>> state = method.init(params)
        >>> [[round(float(a), 2) for a in row] for row in state.A]
        [[0.99, 0.01], [0.01, 0.99]]
        >>> direction, state = method.update(losses, params, state)
        >>> [round(float(d), 2) for d in direction]     # each player descends its own (mixed) loss
        [0.98, 0.98]

    References: Gemp et al. 2022 (AAMAS), §2.5 eqs. 9–11, Appx. D.1, Algorithm 1 (clipping), Appx. E.2.1.
    """
    lr_mix = _validate.real("d3c: lr_mix", lr_mix, nonnegative=True)
    eps = _validate.real("d3c: eps", eps)
    kl = _validate.real("d3c: kl", kl, nonnegative=True)
    init_self = _validate.real("d3c: init_self", init_self)
    if not 0.0 < init_self < 1.0:
        raise ValueError(f"d3c: init_self must be in (0, 1) (entropic mirror descent needs the interior of the "
                         f"simplex), got {init_self}; the paper uses 0.99.")
    if clip is not None:
        try:
            low, high = clip
        except (TypeError, ValueError):
            raise ValueError(f"d3c: clip must be None or a pair (l, h), got {clip!r}.") from None
        low, high = _validate.real("d3c: clip[0]", low), _validate.real("d3c: clip[1]", high)
        if not low < high:
            raise ValueError(f"d3c: clip must satisfy l < h, got {clip!r}; the paper uses (-5, 5).")
        clip = (low, high)
    if not isinstance(multiplicative, bool):
        raise ValueError(f"d3c: multiplicative must be True or False, got {multiplicative!r}.")
    participants = _bool_tuple("participants", participants)
    frozen = _bool_tuple("frozen", frozen)

    def masks(n):
        part, froz = _player_masks(n, participants, frozen)
        return part, froz, part[:, None] & part[None, :] | np.eye(n, dtype=bool)

    def init(params):
        n = len(params)
        part, _, _ = masks(n)
        dtype = jnp.result_type(*jax.tree.leaves(params)) if jax.tree.leaves(params) else jnp.float32
        dtype = dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.float32
        return D3CState(initial_mixing(n, init_self, part, dtype))

    def update(losses_fn, params, state):
        n = len(params)
        part, froz, support = masks(n)
        A = state.A
        losses, full = all_gradients(losses_fn, params)
        if multiplicative:
            losses = eqx.error_if(losses, jnp.any(losses <= 0),
                                  "d3c(multiplicative=True) needs positive losses (the log in eq. 10); got a loss "
                                  "<= 0. Use the additive form d3c(..., multiplicative=False) (eq. 11).")
        moving = jnp.asarray(~froz, A.dtype)
        gram = _gram(full)
        direction = tuple(jax.tree.map(lambda g, j=j: jnp.tensordot(A[:, j], g, axes=1) * moving[j], full[j])
                          for j in range(n))
        row_grads = _row_gradients(A, gram, moving, losses, eps, kl, multiplicative)
        logits = jnp.log(A) - lr_mix * row_grads
        if clip is not None:
            logits = jnp.clip(logits, clip[0], clip[1])
        logits = jnp.where(support, logits, -jnp.inf)
        new_A = jax.nn.softmax(logits, axis=1)
        new_A = jnp.where(part[:, None], new_A, A)  # non-participants keep e_i
        return direction, D3CState(new_A.astype(A.dtype))

    return GameMethod(init, update)
