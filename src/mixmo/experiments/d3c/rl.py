"""`d3c-coins`, `d3c-cleanup`, `d3c-mini-cleanup`, `d3c-harvest-patch`: D3C's reward mixing with A2C learners.

Reproduces: Gemp et al. 2022 (D3C), §3.4 Coins (Fig. 8), §3.5 Cleanup (Fig. 9), Appx. F.3 Mini-Cleanup (Fig. 17)
and F.4 HarvestPatch (Fig. 18): agents trained with A2C (V-trace, on-policy; Appx. G.1 Table 2) on rewards
mixed by D3C's learnt matrix (Algorithm 1, Table 1's Coins/Cleanup/HarvestPatch row), against no mixing
(`selfish`, the paper's "A2C") and full cooperation (`cooperative`, Ã_ij = 1/n), several seeds vmapped.

Every method trains the same `mixmo.rl.make_train(A2CConfig, env, simul_ind(), reward=rl.d3c(config.d3c))`;
only the mixing differs. The baselines start D3C's state at their fixed matrix with learning off
(`mixmo.rl.fixed_rows`, `start`): their rewards are mixed exactly as `rl.selfish()` and `rl.cooperative()` mix
them, and the three runs share one trainer, traced and compiled once. Summaries: social welfare (mean total
return per episode over the last 10% of training), equality, per-agent returns, environment statistics and, for
D3C, the relative reward attention ln(A_ii / mean_{j≠i} A_ij).
The report and claims are in `d3c_rl_report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from mixmo import methods, rl
from mixmo.experiments import common, rl_common
from mixmo.experiments.registry import Results, register
from mixmo.experiments.rl_common import RunSettings
from mixmo.experiments.d3c.rl_report import claims, figure, report

METHODS = ("selfish", "d3c", "cooperative")
"""The methods: no mixing, D3C's learnt matrix, full cooperation (the baselines: `rl.BASELINE_MATRICES`)."""


class EnvSpec(NamedTuple):
    """What differs between the four experiments."""

    env: str
    title: str
    stats: tuple[str, ...]  # per-episode environment statistics to report (sums over agents)


SPECS = {
    "coins": EnvSpec("coins", "Coins (§3.4, Fig. 8)", ("own_coins", "other_coins")),
    "cleanup": EnvSpec("cleanup", "Cleanup (§3.5, Fig. 9)", ("apples_eaten", "cleaning_actions", "beams_fired")),
    "mini_cleanup": EnvSpec("mini_cleanup", "Mini-Cleanup (Appx. F.3, Fig. 17)", ("apples_eaten", "cleaning_actions")),
    "harvest_patch": EnvSpec("harvest_patch", "HarvestPatch (Appx. F.4, Fig. 18)", ("apples_eaten", "beams_fired")),
}


@dataclass(frozen=True)
class D3CRLExperimentConfig:
    """Configuration shared by the four D3C RL experiments (A2C: D3C Appx. G.1 Table 2; D3C: Table 1); its defaults
    are `d3c-mini-cleanup`'s (13 minutes measured on the project's 2-core CPU under load from other jobs)."""

    seeds: int = 5
    """Independent runs per method, vmapped together (the paper: 10)."""
    methods: tuple[str, ...] = ("selfish", "d3c", "cooperative")
    """Mixers to compare: selfish (no mixing, the paper's A2C), d3c, cooperative (A_ij = 1/n)."""
    num_agents: int = 0
    """Agents; 0: the environment's (Coins 2, Cleanup 5, Mini-Cleanup 2, HarvestPatch 5)."""
    max_steps: int = 0
    """Episode length; 0: the environment's (Coins 500, Cleanup 1000, Mini-Cleanup 50, HarvestPatch 1000)."""
    a2c: rl.A2CConfig = rl.A2CConfig(total_steps=400_000)
    """The learners (Table 2); num_envs, networks and activation are not given in the paper."""
    d3c: rl.D3CRLConfig = rl.D3CRLConfig()
    """D3C's reward mixing (Algorithm 1; Table 1's Coins/Cleanup/HarvestPatch row). One Algorithm-1 iteration per
    update in which episodes ended (iteration "update" only); g_scale "mean" or "total" over those episodes."""
    run: RunSettings = RunSettings(checkpoint_every=25, window=0.1)

    def validate(self):
        common.require(self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}.")
        common.require(self.num_agents >= 0 and self.max_steps >= 0, "num_agents and max_steps must be >= 0.")
        common.require(bool(self.methods), "methods: give at least one, e.g. --set methods=selfish,d3c.")
        unknown = [m for m in self.methods if m not in METHODS]
        common.require(not unknown, f"unknown method {unknown[0] if unknown else ''!r}; known: {', '.join(METHODS)}.")
        common.require(len(set(self.methods)) == len(self.methods), f"methods: {self.methods} lists one twice.")
        rl.check_d3c_iteration(self.d3c.iteration, ("update",), "the A2C trainer of the D3C RL experiments")


@dataclass(frozen=True)
class CoinsConfig(D3CRLExperimentConfig):
    """`d3c-coins` (defaults: 13.5 minutes measured on the project's 2-core CPU under load from other jobs)."""

    a2c: rl.A2CConfig = rl.A2CConfig(total_steps=1_200_000)
    """The learners (Table 2); 1.2e6 environment steps per seed (each step moves both agents)."""


@dataclass(frozen=True)
class CleanupConfig(D3CRLExperimentConfig):
    """`d3c-cleanup` / `d3c-harvest-patch` (defaults measured on the project's 2-core CPU: Cleanup 12 minutes under
    heavy load from other jobs, HarvestPatch 4 minutes under light load)."""

    seeds: int = 3
    """Independent runs per method, vmapped together (the paper: 10)."""
    a2c: rl.A2CConfig = rl.A2CConfig(total_steps=160_000)
    """The learners (Table 2); 1.6e5 environment steps per seed (each step moves all 5 agents)."""


def start(method: str):
    """What a method's run sets in the shared trainer's initial states (`rl_common.baseline_start`): a baseline's
    fixed matrix with learning off; nothing for D3C."""
    return rl_common.baseline_start(method, lambda states: states.mixing.state,
                                    lambda states, state: states._replace(mixing=states.mixing._replace(state=state)))


def make_env(spec: EnvSpec, config: D3CRLExperimentConfig):
    options = {k: v for k, v in (("num_agents", config.num_agents), ("max_steps", config.max_steps)) if v}
    return rl_common.environment(spec.env, **options)


def make_trainer(method: str, config: D3CRLExperimentConfig, env) -> rl.Trainer:
    """The A2C trainer a method's run trains (the benchmarks' too): the same for every method, with D3C's mixer;
    a run's `start(method)` fixes the baselines' matrices."""
    del method
    return _mixing_trainer("mixing", config, env)


@rl_common.reused
def _mixing_trainer(run_id: str, config: D3CRLExperimentConfig, env) -> rl.Trainer:
    del run_id
    return rl.make_train(config.a2c, env, methods.simul_ind(), reward=rl.d3c(config.d3c))


def run(spec: EnvSpec, config: D3CRLExperimentConfig, progress, context: rl.RunContext | None) -> Results:
    """Train every method, tidy the curves, summarise the end of training, and write the report."""
    context = context or rl.RunContext()
    env = make_env(spec, config)
    a2c = config.a2c
    _, histories, seconds = rl_common.train_runs(
        list(config.methods), lambda m: make_trainer(m, config, env),
        config, context, progress, label=spec.env, stats=spec.stats, start=start)
    curves = pd.concat([tidy(m, histories[m], a2c, spec) for m in config.methods], ignore_index=True)
    summary = summarise(curves, config, a2c, spec, env.num_agents)
    max_steps = int(getattr(env.default_params, "max_steps", 0) or 0)
    notes = rl_common.episode_notes(histories, config.run.window, max_steps=max_steps, num_envs=a2c.num_envs,
                                    steps_per_env=a2c.num_updates * a2c.num_steps,
                                    steps_key="a2c.total_steps") if max_steps else []
    return Results(
        summary=summary, metrics=curves, timings={"training_seconds": seconds}, notes=notes,
        figures={"training_curves": figure(curves, config, spec, env.num_agents)},
        report=report(spec, config, a2c, summary, seconds, env.num_agents, notes),
        table_columns=["social_welfare", "equality"] + [f"return_{i}" for i in range(env.num_agents)]
        + (["relative_attention"] if "d3c" in config.methods else []),
        claims=claims(spec, config, summary, curves, env.num_agents))


def tidy(method: str, history: dict[str, np.ndarray], a2c: rl.A2CConfig, spec: EnvSpec) -> pd.DataFrame:
    """One row per seed x update: per-episode means over the episodes that ended in that update, losses, and
    (D3C) each agent's relative reward attention after the update."""
    frame = rl_common.episode_frame(method, history, a2c.batch_steps, spec.stats)
    n = history["stat/episode_return"].shape[-1]
    if method == "d3c":
        attention = np.asarray(rl.relative_attention(history["mixing_rows"]))  # (S, U, N)
        for i in range(n):
            frame[f"attention_{i}"] = attention[..., i].ravel()
    for name in ("policy_loss", "value_loss", "entropy"):
        frame[name] = history[name].ravel()
    return pd.DataFrame(frame)


def summarise(curves: pd.DataFrame, config: D3CRLExperimentConfig, a2c: rl.A2CConfig, spec: EnvSpec, n: int) -> pd.DataFrame:
    """One row per method: window means over seeds with 95% intervals."""
    updates = a2c.num_updates
    first = updates - max(1, int(round(config.run.window * updates))) + 1
    rows = []
    for method in config.methods:
        data = curves[curves.method == method]
        row = {"method": method}
        returns = np.stack([rl_common.window_means(data, f"return_{i}", config.run.window, updates)
                            for i in range(n)], axis=-1)  # (seeds, N)
        common.mean_and_ci(row, "social_welfare", returns.sum(axis=-1))
        common.mean_and_ci(row, "equality", rl_common.equality_or_nan(returns))
        for i in range(n):
            common.mean_and_ci(row, f"return_{i}", returns[:, i])
        common.mean_and_ci(row, "lowest_return", returns.min(axis=-1))
        stats = {name: rl_common.window_means(data, name, config.run.window, updates) for name in spec.stats}
        for name, values in stats.items():
            common.mean_and_ci(row, name, values)
        if spec.env == "coins":
            with np.errstate(invalid="ignore", divide="ignore"):
                own = 100 * stats["own_coins"] / (stats["own_coins"] + stats["other_coins"])
            common.mean_and_ci(row, "own_coin_pct", own)
        if method == "d3c":
            late = data[data["update"] >= first]
            attention = late[[f"attention_{i}" for i in range(n)]].mean(axis=1).groupby(late.seed).mean()
            common.mean_and_ci(row, "relative_attention", attention.to_numpy())
        row["env_steps_per_seed"] = updates * a2c.batch_steps
        rows.append(row)
    return pd.DataFrame(rows)


SMOKE = {"seeds": 2, "max_steps": 50, "run.checkpoint_every": 1, "a2c.total_steps": 400, "a2c.num_envs": 2,
         "a2c.num_steps": 100, "a2c.hidden": (8,), "a2c.critic_hidden": (8,)}
# the paper's 10 training runs; its training length is not in its text, so 10^8 steps per seed stands in for it
PRESETS = {"smoke": SMOKE, "paper": {"seeds": 10, "a2c.total_steps": 100_000_000}}
REGISTRATION = dict(presets=PRESETS, steps_key="a2c.total_steps", run_folder=True)


@register("d3c-coins", CoinsConfig, **REGISTRATION)
def run_coins(config: CoinsConfig, progress, context: rl.RunContext | None = None) -> Results:
    return run(SPECS["coins"], config, progress, context)


@register("d3c-cleanup", CleanupConfig, **REGISTRATION)
def run_cleanup(config: CleanupConfig, progress, context: rl.RunContext | None = None) -> Results:
    return run(SPECS["cleanup"], config, progress, context)


@register("d3c-mini-cleanup", D3CRLExperimentConfig, **REGISTRATION)
def run_mini_cleanup(config: D3CRLExperimentConfig, progress, context: rl.RunContext | None = None) -> Results:
    return run(SPECS["mini_cleanup"], config, progress, context)


@register("d3c-harvest-patch", CleanupConfig, **REGISTRATION)
def run_harvest_patch(config: CleanupConfig, progress, context: rl.RunContext | None = None) -> Results:
    return run(SPECS["harvest_patch"], config, progress, context)
