"""`learn`: many independent runs of a gradient method on a game, in one `jit(vmap(scan))`.

DESIGN.md, "Core types": `learn(game, method, optimizer, *, steps, seeds, key, stop=None) -> Trajectory`.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from mixmo.game import Game, Params
from mixmo.methods import GameMethod



class StepInfo(NamedTuple):
    """What a stopping rule sees after each update of one run."""

    step: jax.Array  # number of updates taken so far (1 after the first update)
    previous_params: Params
    params: Params
    previous_losses: jax.Array  # shape (n_players,)
    losses: jax.Array  # shape (n_players,)


# stop(info) -> scalar bool: True once a run has converged.
StopFn = Callable[[StepInfo], jax.Array]


class Trajectory(NamedTuple):
    """What `learn` returns; every array has a leading axis over seeds.

    Attributes:
        params: final joint parameters, leaves of shape `(seeds, ...)`.
        losses: losses along the way, shape `(seeds, steps + 1, n_players)`; index 0 is the start.
        payoffs: the game's payoffs along the way, same shape as `losses`.
        method_states: the method's state after each step, leaves `(seeds, steps + 1, ...)` (index 0 is
            the initial state); an empty tuple for stateless methods.
        stop_step: number of updates each run took until `stop` first held, shape `(seeds,)`; `steps`
            for runs that never met it (and for every run when `stop` is None).
        converged: whether each run met `stop`, shape `(seeds,)`.
        params_path: joint parameters after every step, leaves `(seeds, steps + 1, ...)`, when
            `record_params=True`; otherwise None.
    """

    params: Params
    losses: jax.Array
    payoffs: jax.Array
    method_states: Any
    stop_step: jax.Array
    converged: jax.Array
    params_path: Params | None


class _Carry(NamedTuple):
    params: Params
    method_state: Any
    opt_state: Any
    stopped: jax.Array
    stop_step: jax.Array


def param_change_below(tol: float) -> StopFn:
    """Stop once the largest absolute change of any parameter in one update is below `tol`."""

    def stop(info: StepInfo):
        changes = jax.tree.map(lambda a, b: jnp.max(jnp.abs(a - b)), info.previous_params, info.params)
        return jnp.max(jnp.stack(jax.tree.leaves(changes))) < tol

    return stop


def loss_change_below(tol: float) -> StopFn:
    """Stop once no player's loss changes by `tol` or more in one update (the payoffs have settled)."""
    return lambda info: jnp.max(jnp.abs(info.losses - info.previous_losses)) < tol


def learn(
    game: Game,
    method: GameMethod,
    optimizer: optax.GradientTransformation | None = None,
    *,
    steps: int,
    seeds: int,
    key: jax.Array,
    stop: StopFn | None = None,
    record_params: bool = False,
) -> Trajectory:
    """Run `seeds` independent runs of `method` on `game` for `steps` updates each.

    Each run starts from `game.init` with its own key, and at every step takes the method's direction,
    passes it through `optimizer` (any optax `GradientTransformation`; default plain SGD, lr 0.1), and
    projects onto the game's constraints. A run that meets `stop` is frozen there: its later updates are
    discarded, so final payoffs are the ones at convergence. Everything runs in one `jit(vmap(scan))`;
    float64 is used when `jax_enable_x64` is on.

    Args:
        game: the differentiable game.
        method: a `GameMethod` from `mixmo.methods`.
        optimizer: optax transformation applied to the direction (descent).
        steps: number of updates per run (>= 1).
        seeds: number of independent runs (>= 1).
        key: PRNG key; the same key gives bit-identical results.
        stop: optional convergence test `stop(info: StepInfo) -> bool`, e.g. `loss_change_below(1e-3)`.
        record_params: also return the parameters after every step in `Trajectory.params_path`.

    Returns:
        A `Trajectory`.

    Example:
        >>> import jax, mixmo
        >>> traj = mixmo.learn(mixmo.games.toy(), mixmo.methods.aga(1.0), steps=10, seeds=4,
        ...                    key=jax.random.key(0))
        >>> traj.losses.shape
        (4, 11, 2)
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"learn: steps must be a positive integer, got {steps!r}.")
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"learn: seeds must be a positive integer, got {seeds!r}.")
    optimizer = optax.sgd(0.1) if optimizer is None else optimizer
    return _learn_jit(game, method, optimizer, steps, seeds, stop, record_params, key)


def _run(game: Game, method: GameMethod, optimizer, steps: int, stop, record_params: bool, key):
    """One run: init, then `steps` scanned updates. Pure; vmapped over keys by `_learn_jit`."""
    params = game.project_params(game.init(key))
    for leaf in jax.tree.leaves(params):
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"Game {game.name!r}: init must return floating-point parameters, got {leaf.dtype}; "
                            "use e.g. jnp.asarray(x, float).")
    carry = _Carry(
        params=params,
        method_state=method.init(params),
        opt_state=optimizer.init(params),
        stopped=jnp.array(False),
        stop_step=jnp.array(steps, jnp.int32),
    )

    def record(c: _Carry):
        return (game.losses(c.params), game.payoffs_of(c.params), c.method_state,
                c.params if record_params else None)

    def step(c: _Carry, t):
        direction, method_state = method.update(game.losses, c.params, c.method_state)
        updates, opt_state = optimizer.update(direction, c.opt_state, c.params)
        params = game.project_params(optax.apply_updates(c.params, updates))
        new = _Carry(params, method_state, opt_state, c.stopped, c.stop_step)
        if stop is not None:
            info = StepInfo(t + 1, c.params, params, game.losses(c.params), game.losses(params))
            met = jnp.asarray(stop(info), bool)
            new = jax.tree.map(lambda old, upd: jnp.where(c.stopped, old, upd), c, new)
            first = met & ~c.stopped
            new = new._replace(stopped=c.stopped | met, stop_step=jnp.where(first, t + 1, c.stop_step))
        return new, record(new)

    final, path = jax.lax.scan(step, carry, jnp.arange(steps))
    start = record(carry)
    losses, payoffs, states, params_path = jax.tree.map(
        lambda s, p: jnp.concatenate([s[None], p]), start, path)
    return Trajectory(final.params, losses, payoffs, states, final.stop_step, final.stopped, params_path)


# Everything but the key is static: the same game, method and optimizer objects reuse one compilation.
@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4, 5, 6))
def _learn_jit(game, method, optimizer, steps, seeds, stop, record_params, key):
    keys = jax.random.split(key, seeds)
    return jax.vmap(lambda k: _run(game, method, optimizer, steps, stop, record_params, k))(keys)
