"""Pieces shared by the D3C experiments: the two methods, checks, the local price-of-anarchy bound over
training, and the mean ± sd band plots of the paper's figures."""

from __future__ import annotations

from dataclasses import dataclass
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mixmo import methods, metrics
from mixmo.experiments import common
from mixmo.experiments import markdown
from mixmo.experiments.registry import ConfigError
from mixmo.learning import learn

COLOURS = {"gd": "tab:blue", "d3c": "tab:red"}
LABELS = {"gd": "gradient descent", "d3c": "D3C"}


@dataclass(frozen=True)
class D3CSettings:
    """D3C on a differentiable game (Gemp et al. 2022, §2.5, eqs. 9–11; `mixmo.methods.d3c`)."""

    lr_mix: float = 1.0
    """The mixing learning rate eta_A (the paper gives none for its games)."""
    eps: float = 0.0
    """epsilon in ReLU(d/dt f_i^A + epsilon) (eq. 11)."""
    kl: float = 0.0
    """The KL weight nu (the paper: 0 outside Coins)."""
    init_self: float = 0.99
    """A_ii at the start (the paper: 0.99)."""
    clip: tuple[float, ...] = ()
    """Logit bounds l,h of the mixing weights (the paper's RL value: -5,5); empty: none."""

    def validate(self):
        if self.lr_mix < 0:
            raise ValueError(f"lr_mix must be >= 0, got {self.lr_mix}.")
        if self.kl < 0:
            raise ValueError(f"kl must be >= 0, got {self.kl}.")
        if not 0 < self.init_self < 1:
            raise ValueError(f"init_self must be in (0, 1), got {self.init_self}.")
        if len(self.clip) not in (0, 2) or (len(self.clip) == 2 and self.clip[0] >= self.clip[1]):
            raise ValueError(f"clip must be empty (no clipping) or two numbers l < h, got {self.clip}; "
                             "e.g. --set d3c.clip=-5,5.")

    def method(self, **overrides) -> methods.GameMethod:
        """`methods.d3c` with these settings (plus `overrides`)."""
        kwargs = dict(lr_mix=self.lr_mix, eps=self.eps, kl=self.kl, init_self=self.init_self,
                      clip=tuple(self.clip) if self.clip else None)
        kwargs.update(overrides)
        try:
            return methods.d3c(**kwargs)
        except ValueError as error:
            raise ConfigError(str(error)) from None


@dataclass(frozen=True)
class BoundSettings:
    """The local price-of-anarchy bound (D3C Theorem 1) evaluated over training."""

    mu_bar: float = 1.0
    """mu_bar of the bound."""
    every: int = 10
    """Evaluate the bound every this many steps."""
    runs: int = 200
    """Evaluate the bound on this many runs (the first ones); its mean over them is plotted."""

    def validate(self):
        if not self.mu_bar > 0:
            raise ValueError(f"mu_bar must be > 0, got {self.mu_bar}.")
        if self.every < 1 or self.runs < 1:
            raise ValueError(f"every and runs must be >= 1, got {self.every} and {self.runs}.")


def both_methods(config) -> dict[str, methods.GameMethod]:
    """{"gd": plain simultaneous gradient descent (Simul-Ind), "d3c": D3C as configured}."""
    return {"gd": methods.simul_ind(), "d3c": config.d3c.method()}


def run(game, method, config, *, key, seeds=None, steps=None, record_params=False):
    """`learn` with plain SGD at `config.lr`: all runs in one jit(vmap(scan))."""
    return learn(game, method, optax.sgd(config.lr), steps=steps or config.steps, seeds=seeds or config.seeds,
                 key=key, record_params=record_params)


def trainer(config, key, *, record_params: bool | str = False):
    """`train(game, method_id, method)` for `game_driver.each_run`: `run` with these settings and key;
    `record_params` True, False, or a method id whose runs alone record their parameters."""

    def train(game, method_id, method):
        record = record_params if isinstance(record_params, bool) else method_id == record_params
        return run(game, method, config, key=key, record_params=record)

    return train


def mixing_path(traj, n: int):
    """A over training, shape `(runs, steps + 1, n, n)`: D3C's state, or the identity for stateless methods."""
    if isinstance(traj.method_states, methods.D3CState):
        return traj.method_states.A
    runs, points = traj.losses.shape[:2]
    return jnp.broadcast_to(jnp.eye(n, dtype=traj.losses.dtype), (runs, points, n, n))


def bound_over_training(game, traj, config, *, egalitarian: bool = False):
    """The local price-of-anarchy bound (Theorem 1, or Theorem 2 if `egalitarian`) every `config.bound.every`
    steps of the first `config.bound.runs` runs, with dt = the learning rate and mu_bar from the config.

    Needs a trajectory recorded with `record_params=True`. Returns `(steps, values)` with values of shape
    `(runs, len(steps))`.
    """
    if traj.params_path is None:
        raise ValueError("bound_over_training needs learn(..., record_params=True).")
    points = traj.losses.shape[1]
    index = np.arange(0, points, config.bound.every)
    if index[-1] != points - 1:
        index = np.append(index, points - 1)
    runs = min(config.bound.runs, traj.losses.shape[0])
    params = jax.tree.map(lambda leaf: leaf[:runs, index], traj.params_path)
    mixing = mixing_path(traj, game.n_players)[:runs, index]
    fn = _batched_bound(game.losses, egalitarian)
    return index, np.asarray(fn(params, mixing, config.lr, config.bound.mu_bar))


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
    common.mean_and_ci(row, key, values)
    finite = values[np.isfinite(values)]
    row[f"{key}_sd"] = float(finite.std()) if finite.size else float("nan")
    row[f"{key}_median"] = float(np.median(finite)) if finite.size else float("nan")


def config_lines(config) -> list[str]:
    """The report's closing "Configuration" section."""
    return markdown.config_block(config)


def hyperparameter_line(config) -> str:
    """One sentence naming D3C's hyperparameters as configured."""
    d3c = config.d3c
    clip = f"logits clipped to [{d3c.clip[0]:g}, {d3c.clip[1]:g}]" if d3c.clip else "no clipping"
    return (f"D3C: lr_mix (η_A) = {d3c.lr_mix:g}, ε = {d3c.eps:g}, ν (KL weight) = {d3c.kl:g}, "
            f"A_ii = {d3c.init_self:g} at the start, {clip}; players: plain SGD with learning rate {config.lr:g} "
            f"(the same for gradient descent).")
