"""Pieces shared by the RL experiments (`aga.ssd`, `aga.selfish_mmm2`, `d3c.rl`, `d3c.tyb`): the run settings,
training runs through `mixmo.rl.train_segments` with checkpoints, resume, loggers and progress; per-update logging;
end-of-training window means; trainers reused within a process."""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import numpy as np
import pandas as pd

from mixmo import config as config_tree
from mixmo import envs, metrics, rl
from mixmo.config import ConfigError


# `mixmo.methods.Diagnostics` fields -> metrics.csv columns (per update: means over its minibatch steps)
DIAGNOSTIC_COLUMNS = {
    "negative_sign": "negative_sign_fraction",  # fraction of minibatch steps where AgA's sign rule gives -|lambda|
    "cos_xi": "cos_direction_xi",  # cos(xi~, xi)
    "cos_xi_c": "cos_direction_xi_c",  # cos(xi~, xi_c)
    "xi_norm": "xi_norm",  # ||xi||
    "xi_c_norm": "xi_c_norm",  # ||xi_c||
    "hc_xi_c_norm": "hc_xi_c_norm",  # ||H_c xi_c||
}


@dataclass(frozen=True)
class RunSettings:
    """How an RL experiment runs, beside what it trains: PRNG seed, segments, summary window."""

    seed: int = 0
    """PRNG seed; the same seed gives bit-identical results on the same machine."""
    checkpoint_every: int = 16
    """Updates per compiled segment: a checkpoint, a progress tick and the NaN check after each."""
    window: float = 0.1
    """Fraction of training at the end over which the summary averages episodes (the papers: the last 10%)."""

    def validate(self):
        if self.checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {self.checkpoint_every}.")
        if not 0 < self.window <= 1:
            raise ValueError(f"window must be in (0, 1], got {self.window}.")


# --- reuse within a process -----------------------------------------------------------------------------------
# An RL run's cost at small budgets is mostly tracing and compiling its trainers (seconds each). A run repeated in
# the same process (a resumed run, `mixmo reproduce` after a benchmark of the same set-up, a notebook) gets the
# same environment instance and the same trainer objects back, and with them the programs `train_segments` keeps
# on each trainer: nothing is traced or compiled again. Environments and trainers are immutable, so sharing them
# is safe; the key is everything a trainer is built from (the experiment's config, the run id, the environment).

TRAINERS: collections.OrderedDict = collections.OrderedDict()
"""The most recently built trainers, `(make_trainer, run id, trainer_part(config), env) -> trainer`, at most `KEEP`.
Clear it to build afresh; a test that patches a builder gives itself an empty one (`monkeypatch.setattr`)."""
KEEP = 32
DRIVING_FIELDS = ("seeds", "run", "gif_steps")
"""Fields of an RL experiment's config that say how its runs are driven and reported (the number of seeds vmapped,
the PRNG seed, segments, the summary window, the GIF), not what a trainer is: `reused` builds a trainer from the
config with these at their defaults, so runs that differ only here share their trainers."""


@functools.lru_cache(maxsize=KEEP)
def environment(name: str, **options) -> object:
    """`mixmo.envs.make(name, **options)`, one instance per (name, options) in this process (option values must be
    hashable), so the trainers built on it can be reused (`reused`)."""
    return envs.make(name, **options)


def trainer_part(config):
    """`config` with its `DRIVING_FIELDS` at their defaults: all a trainer may be built from."""
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(config) if f.name in DRIVING_FIELDS}
    return dataclasses.replace(config, **defaults)


def reused(make_trainer: Callable) -> Callable:
    """Decorate an experiment's `make_trainer(run_id, config, env)` so an equal (run id, config, environment
    instance) gives back the trainer built before (`TRAINERS`), with its compiled programs. The config is compared,
    and passed on, without its `DRIVING_FIELDS` (`trainer_part`): a builder cannot depend on them. Unhashable configs
    are built afresh every time."""

    @functools.wraps(make_trainer)
    def build(run_id: str, config, env):
        config = trainer_part(config)
        try:
            key = (make_trainer, run_id, config, env)
            hash(key)
        except TypeError:
            return make_trainer(run_id, config, env)
        if key in TRAINERS:
            TRAINERS.move_to_end(key)
            return TRAINERS[key]
        trainer = TRAINERS[key] = make_trainer(run_id, config, env)
        while len(TRAINERS) > KEEP:
            TRAINERS.popitem(last=False)
        return trainer

    return build


def open_loggers(context: rl.RunContext, group: str) -> list:
    """The run's opt-in loggers (`--logger`), or a `ConfigError` naming the missing package."""
    if not context.loggers:
        return []
    try:
        return rl.make_loggers(context.loggers, context.run_dir or Path("."), group)
    except rl.LoggerUnavailable as error:
        raise ConfigError(str(error)) from None


def baseline_start(method: str, mixer_state: Callable, with_mixer_state: Callable) -> Callable | None:
    """`rl.train_segments`' `start` for a run of `method` on a trainer with D3C's mixer: a baseline's matrix
    (`rl.BASELINE_MATRICES`) with learning off (`rl.fixed_rows`), so its rewards are mixed exactly as `rl.selfish()`
    or `rl.cooperative()` mix them and it shares D3C's trainer and programs; None for any other method.
    `mixer_state(states)` reads the D3C state from the trainer's states, `with_mixer_state(states, state)` puts it
    back."""
    matrix_for = rl.BASELINE_MATRICES.get(method)
    if matrix_for is None:
        return None

    def fix(states):
        state = mixer_state(states)
        return with_mixer_state(states, rl.fixed_rows(state, matrix_for(state.rows.shape[-1])))

    return fix


def train_runs(run_ids: list[str], make_trainer: Callable[[str], rl.Trainer], config, context: rl.RunContext,
               progress, *, label: str, stats: tuple[str, ...], start: Callable[[str], Callable | None] | None = None):
    """Train every run (`config.seeds` vmapped, `config.run.checkpoint_every` updates per segment), one after
    another. `start(run id)`, where given, is that run's `start` for `rl.train_segments` (what it changes in the
    initial states), or None.

    Each run keeps its checkpoint in `run_dir/checkpoints/<run id>` (so `--resume` skips finished runs and
    continues the unfinished one), streams to the loggers, and advances one progress bar over all runs.

    Returns:
        `(states, histories, seconds)`: run id -> final `TrainState` (leading seed axis), -> metrics as numpy
        `(seeds, updates, ...)`, -> wall seconds of training (compilation included; a resumed run counts its
        segments' recorded times).
    """
    keys = jax.random.split(jax.random.key(config.run.seed), config.seeds)
    loggers = open_loggers(context, label)
    trainers = {run_id: make_trainer(run_id) for run_id in run_ids}
    updates = {run_id: trainer.config.num_updates for run_id, trainer in trainers.items()}
    runs = f"{len(run_ids)} run{'' if len(run_ids) == 1 else 's'}"
    advance = progress(f"updates ({runs} × {max(updates.values())})", sum(updates.values()))
    states, histories, seconds = {}, {}, {}
    try:
        for run_id, trainer in trainers.items():
            for logger in loggers:
                logger.start(run_id, {**config_tree.flat(config), "run": run_id})
            on_segment = log_segment(loggers, trainer.config.batch_steps, stats) if loggers else None
            checkpoint = context.run_dir / "checkpoints" / run_id if context.run_dir is not None else None
            states[run_id], histories[run_id] = rl.train_segments(
                trainer, keys, label=f"{label} {run_id}", segment=config.run.checkpoint_every, checkpoint_dir=checkpoint,
                resume=context.resume, advance=advance, on_segment=on_segment,
                start=None if start is None else start(run_id))
            seconds[run_id] = float(histories[run_id]["seconds"][0].sum())
            for logger in loggers:
                logger.finish()
    finally:
        for logger in loggers:
            logger.finish()
    if context.run_dir is not None:
        save_policies(context.run_dir / "policies", states)
    return states, histories, seconds


def save_policies(folder: Path, states: dict) -> None:
    """Write each run's final policies (every seed: a leading seed axis) to `folder/<run id>.eqx` in equinox's
    leaf format; read one back with `equinox.tree_deserialise_leaves(path, like)` given a policy of the same
    structure (e.g. the `policy` of `jax.vmap(trainer.init)(keys)`)."""
    import equinox as eqx

    from mixmo.app import files

    folder.mkdir(parents=True, exist_ok=True)
    for run_id, state in states.items():
        with files.atomic_file(folder / f"{run_id}.eqx") as partial:
            eqx.tree_serialise_leaves(partial, state.policy)


def episode_notes(histories: dict[str, dict[str, np.ndarray]], window: float, *, max_steps: int, num_envs: int,
                  steps_per_env: int, steps_key: str) -> list[str]:
    """One-line notes for runs whose summary lacks finished episodes, with the budget that would give them:
    seeds in which no episode ended at all (their values are missing), and seeds in which none ended in the
    averaging window (their values come from the last update in which one did)."""
    none, outside = [], []
    for run_id, history in histories.items():
        episodes = history["episodes"]  # (seeds, updates)
        seeds, updates = episodes.shape
        first = updates - max(1, int(round(window * updates)))
        never = int((episodes.sum(axis=1) == 0).sum())
        late = int((episodes[:, first:].sum(axis=1) == 0).sum()) - never
        if never:
            none.append(f"{run_id} ({never} of {seeds} seed{'' if seeds == 1 else 's'})")
        if late:
            outside.append(f"{run_id} ({late} of {seeds} seed{'' if seeds == 1 else 's'})")
    if not none and not outside:
        return []
    one = max_steps * num_envs
    in_window = math.ceil(max_steps / window) * num_envs
    budget = (f"episodes last up to {max_steps} steps and each of the {num_envs} environments ran {steps_per_env:,} "
              f"steps; {steps_key} >= {one:,} ends an episode in every environment, >= {in_window:,} puts episode "
              f"ends in the averaging window (the last {window:.0%} of training)")
    notes = []
    if none:
        notes.append(f"no episode ended during training in {', '.join(none)}, so those values are missing (–) and "
                     f"left out of the means and rankings: {budget}.")
    if outside:
        notes.append(f"no episode ended in the averaging window in {', '.join(outside)}: those values come from "
                     f"the last update in which episodes ended; {budget}.")
    return notes


def log_segment(loggers, batch_steps: int, stats: tuple[str, ...]):
    """An `on_segment` callback that logs each update's losses and per-episode returns (means over seeds);
    with reward mixing also each agent's relative reward attention ln(A_ii / mean_{j≠i} A_ij)."""

    def log(segment_metrics: dict[str, np.ndarray], first_update: int):
        updates = segment_metrics["policy_loss"].shape[1]
        for j in range(updates):
            update = first_update + j + 1
            scalars = {
                "loss/policy": segment_metrics["policy_loss"][:, j].mean(),
                "loss/collective": segment_metrics["collective_loss"][:, j].mean(),
                "loss/value": segment_metrics["value_loss"][:, j].mean(),
                "policy/entropy": segment_metrics["entropy"][:, j].mean(),
                "policy/approx_kl": segment_metrics["approx_kl"][:, j].mean(),
                "policy/direction_norm": segment_metrics["direction_norm"][:, j].mean(),
            }
            if "steps_taken" in segment_metrics:
                scalars["policy/steps_taken"] = segment_metrics["steps_taken"][:, j].mean()
            for name, column in DIAGNOSTIC_COLUMNS.items():
                if name in segment_metrics:
                    scalars[f"diagnostics/{column}"] = segment_metrics[name][:, j].mean()
            if "mixing_rows" in segment_metrics:
                attention = np.asarray(rl.relative_attention(segment_metrics["mixing_rows"][:, j])).mean(axis=0)
                for i, a in enumerate(attention):
                    scalars[f"mixing/relative_attention_{i}"] = a
            episodes = segment_metrics["episodes"][:, j].sum()
            if episodes > 0:
                returns = segment_metrics["stat/episode_return"][:, j].sum(axis=0) / episodes
                for i, r in enumerate(returns):
                    scalars[f"train/return_{i}"] = r
                scalars["train/social_welfare"] = returns.sum()
                scalars["train/equality"] = float(equality_or_nan(returns))
                for name in stats:
                    if f"stat/{name}" in segment_metrics:
                        scalars[f"train/{name}"] = segment_metrics[f"stat/{name}"][:, j].sum() / episodes
            scalars = {k: float(v) for k, v in scalars.items()}
            for logger in loggers:
                logger.log(update * batch_steps, scalars)

    return log


def window_means(curves: pd.DataFrame, column: str, window: float, num_updates: int) -> np.ndarray:
    """Per seed: the episode-weighted mean of `column` over episodes ending in the last `window` of training
    (or, if none ended there, in the last update where any did)."""
    first = num_updates - max(1, int(round(window * num_updates))) + 1
    out = []
    for _, rows in curves.groupby("seed", sort=True):
        ended = rows[rows.episodes > 0]
        late = ended[ended["update"] >= first]
        if late.empty:
            late = ended.tail(1)
        if late.empty:
            out.append(np.nan)
            continue
        out.append(float(np.average(late[column], weights=late.episodes)))
    return np.asarray(out)


def equality_or_nan(returns) -> np.ndarray:
    """1 − Gini of per-agent returns `(..., n)`, NaN where the mean return is not positive (undefined there)."""
    returns = np.asarray(returns, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(returns.mean(axis=-1) > 0, np.asarray(metrics.equality(returns)), np.nan)


def episode_frame(method: str, history: dict[str, np.ndarray], batch_steps: int, stats) -> dict[str, np.ndarray]:
    """The per seed x update columns every RL experiment reports (before its own): `method`, `seed`, `update`,
    `env_steps`, `episodes`, per-episode means of each agent's return (`return_<i>`), `social_welfare`,
    `equality` (blank when the mean return is not positive) and the environment statistics `stats` (summed over
    agents), over the episodes that ended in that update."""
    seeds, updates = history["policy_loss"].shape
    episodes = history["episodes"]  # (S, U)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_episode = {k[5:]: v / episodes[..., None] for k, v in history.items() if k.startswith("stat/")}
        returns = per_episode["episode_return"]  # (S, U, N)
    frame = {
        "method": method,
        "seed": np.repeat(np.arange(seeds), updates), "update": np.tile(np.arange(1, updates + 1), seeds),
        "env_steps": np.tile(np.arange(1, updates + 1) * batch_steps, seeds),
        "episodes": episodes.ravel().astype(np.int64),
    }
    for i in range(returns.shape[-1]):
        frame[f"return_{i}"] = returns[..., i].ravel()
    frame["social_welfare"] = returns.sum(axis=-1).ravel()
    frame["equality"] = equality_or_nan(returns).ravel()
    for name in stats:
        if name in per_episode:
            frame[name] = per_episode[name].sum(axis=-1).ravel()
    return frame
