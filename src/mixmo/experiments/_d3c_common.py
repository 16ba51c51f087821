"""Pieces shared by the D3C experiments: the two methods, checks, the local price-of-anarchy bound over
training, and the mean ± sd band plots of the paper's figures."""

from __future__ import annotations

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mixmo import methods, metrics
from mixmo.experiments import _common
from mixmo.experiments._registry import ConfigError
from mixmo.learn import learn

COLOURS = {"gd": "tab:blue", "d3c": "tab:red"}
LABELS = {"gd": "gradient descent", "d3c": "D3C"}


def check_d3c(config) -> None:
    """Checks shared by every D3C configuration (seeds, steps, lr, and D3C's hyperparameters)."""
    _common.check_budget(config)
    _common.require(config.lr_mix >= 0, f"lr_mix must be >= 0, got {config.lr_mix}.")
    _common.require(config.kl >= 0, f"kl must be >= 0, got {config.kl}.")
    _common.require(0 < config.init_self < 1, f"init_self must be in (0, 1), got {config.init_self}.")
    _common.require(len(config.clip) in (0, 2), f"clip must be empty (no clipping) or two numbers l,h, got "
                                                f"{config.clip}; e.g. --set clip=-5,5.")
    if len(config.clip) == 2:
        _common.require(config.clip[0] < config.clip[1], f"clip must satisfy l < h, got {config.clip}.")
    if hasattr(config, "mu_bar"):
        _common.require(config.mu_bar > 0, f"mu_bar must be > 0, got {config.mu_bar}.")
    if hasattr(config, "bound_every"):
        _common.require(config.bound_every >= 1, f"bound_every must be >= 1, got {config.bound_every}.")
        _common.require(config.bound_runs >= 1, f"bound_runs must be >= 1, got {config.bound_runs}.")


def d3c_method(config, **overrides) -> methods.GameMethod:
    """`methods.d3c` with the configuration's lr_mix, eps, kl, init_self and clip (plus `overrides`)."""
    kwargs = dict(lr_mix=config.lr_mix, eps=config.eps, kl=config.kl, init_self=config.init_self,
                  clip=tuple(config.clip) if config.clip else None)
    kwargs.update(overrides)
    try:
        return methods.d3c(**kwargs)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def both_methods(config) -> dict[str, methods.GameMethod]:
    """{"gd": plain simultaneous gradient descent (Simul-Ind), "d3c": D3C as configured}."""
    return {"gd": methods.simul_ind(), "d3c": d3c_method(config)}


def run(game, method, config, *, key, seeds=None, steps=None, record_params=False):
    """`learn` with plain SGD at `config.lr`: all runs in one jit(vmap(scan))."""
    return learn(game, method, optax.sgd(config.lr), steps=steps or config.steps, seeds=seeds or config.seeds,
                 key=key, record_params=record_params)


def mixing_path(traj, n: int):
    """A over training, shape `(runs, steps + 1, n, n)`: D3C's state, or the identity for stateless methods."""
    if isinstance(traj.method_states, methods.D3CState):
        return traj.method_states.A
    runs, points = traj.losses.shape[:2]
    return jnp.broadcast_to(jnp.eye(n, dtype=traj.losses.dtype), (runs, points, n, n))


def bound_over_training(game, traj, config, *, egalitarian: bool = False):
    """The local price-of-anarchy bound (Theorem 1, or Theorem 2 if `egalitarian`) every `config.bound_every`
    steps of the first `config.bound_runs` runs, with dt = the learning rate and mu_bar from the config.

    Needs a trajectory recorded with `record_params=True`. Returns `(steps, values)` with values of shape
    `(runs, len(steps))`.
    """
    if traj.params_path is None:
        raise ValueError("bound_over_training needs learn(..., record_params=True).")
    points = traj.losses.shape[1]
    index = np.arange(0, points, config.bound_every)
    if index[-1] != points - 1:
        index = np.append(index, points - 1)
    runs = min(config.bound_runs, traj.losses.shape[0])
    params = jax.tree.map(lambda leaf: leaf[:runs, index], traj.params_path)
    mixing = mixing_path(traj, game.n_players)[:runs, index]
    fn = _batched_bound(game.losses, egalitarian)
    return index, np.asarray(fn(params, mixing, config.lr, config.mu_bar))


@functools.lru_cache(maxsize=16)
def _batched_bound(losses_fn, egalitarian: bool):
    """The bound vmapped over runs and steps and jitted once per game (shared by the methods compared on it)."""
    bound = metrics.local_egalitarian_poa_bound if egalitarian else metrics.local_poa_bound
    return jax.jit(jax.vmap(jax.vmap(lambda p, a, dt, mu: bound(losses_fn, p, a, dt, mu),
                                     in_axes=(0, 0, None, None)), in_axes=(0, 0, None, None)))


def band(ax, steps, values, *, colour, label, median: bool = True, alpha: float = 0.2):
    """Mean ± 1 sd over runs (axis 0) as a line and a shaded band, and the median dashed."""
    values = np.asarray(values, np.float64)
    mean, sd = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    ax.plot(steps, mean, color=colour, lw=1.6, label=f"{label}: mean ± 1 sd")
    ax.fill_between(steps, mean - sd, mean + sd, color=colour, alpha=alpha, lw=0)
    if median:
        ax.plot(steps, np.nanmedian(values, axis=0), color=colour, lw=1.0, ls="--", label=f"{label}: median")


def mean_sd_row(row: dict, key: str, values) -> None:
    """`key` (mean), `key_ci95`, `key_sd` and `key_median` over the finite runs."""
    values = np.asarray(values, np.float64)
    _common.mean_and_ci(row, key, values)
    finite = values[np.isfinite(values)]
    row[f"{key}_sd"] = float(finite.std()) if finite.size else float("nan")
    row[f"{key}_median"] = float(np.median(finite)) if finite.size else float("nan")


def config_lines(config) -> list[str]:
    """The report's closing "Configuration" section."""
    return ["## Configuration", "", "```json", json.dumps(dataclasses.asdict(config), indent=2), "```"]


def hyperparameter_line(config) -> str:
    """One sentence naming D3C's hyperparameters as configured."""
    clip = f"logits clipped to [{config.clip[0]:g}, {config.clip[1]:g}]" if config.clip else "no clipping"
    return (f"D3C: lr_mix (η_A) = {config.lr_mix:g}, ε = {config.eps:g}, ν (KL weight) = {config.kl:g}, "
            f"A_ii = {config.init_self:g} at the start, {clip}; players: plain SGD with learning rate {config.lr:g} "
            f"(the same for gradient descent).")
