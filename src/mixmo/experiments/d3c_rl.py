"""`d3c-coins`, `d3c-cleanup`, `d3c-mini-cleanup`, `d3c-harvest-patch`: D3C's reward mixing with A2C learners.

Reproduces: Gemp et al. 2022 (D3C), §3.4 Coins (Fig. 8), §3.5 Cleanup (Fig. 9), Appx. F.3 Mini-Cleanup (Fig. 17)
and F.4 HarvestPatch (Fig. 18): agents trained with A2C (V-trace, on-policy; Appx. G.1 Table 2) on rewards
mixed by D3C's learnt matrix (Algorithm 1, Table 1's Coins/Cleanup/HarvestPatch row), against no mixing
(`selfish`, the paper's "A2C") and full cooperation (`cooperative`, Ã_ij = 1/n), several seeds vmapped.

Every method trains the same `mixmo.rl.make_train(A2CConfig, env, simul_ind(), mixer=...)`; only the mixer
differs. Summaries: social welfare (mean total return per episode over the last 10% of training), equality,
per-agent returns, environment statistics and, for D3C, the relative reward attention ln(A_ii / mean_{j≠i} A_ij).
The report and claims are in `d3c_rl_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import pandas as pd

from mixmo import envs, methods, rl
from mixmo.experiments import _common, _rl_common
from mixmo.experiments._registry import ConfigError, Results, register
from mixmo.experiments.d3c_rl_report import claims, figure, report

MIXERS = {"selfish": rl.selfish, "d3c": None, "cooperative": rl.cooperative}


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
    total_steps: int = 400_000
    """Environment steps per seed per method (each step moves all agents)."""
    methods: tuple[str, ...] = ("selfish", "d3c", "cooperative")
    """Mixers to compare: selfish (no mixing, the paper's A2C), d3c, cooperative (A_ij = 1/n)."""
    num_agents: int = 0
    """Agents; 0: the environment's (Coins 2, Cleanup 5, Mini-Cleanup 2, HarvestPatch 5)."""
    max_steps: int = 0
    """Episode length; 0: the environment's (Coins 500, Cleanup 1000, Mini-Cleanup 50, HarvestPatch 1000)."""
    num_envs: int = 16
    """Parallel environments per seed (the paper does not say)."""
    num_steps: int = 100
    """A2C unroll length (Table 2: 100)."""
    gamma: float = 0.98
    """Discount (Table 2)."""
    ent_coef: float = 0.003
    """Entropy regularisation (Table 2)."""
    baseline_coef: float = 0.5
    """Baseline loss scaling (Table 2)."""
    lr: float = 4e-4
    """RMSProp learning rate of policies (Table 2)."""
    critic_lr: float = 4e-4
    """RMSProp learning rate of critics (Table 2)."""
    rms_decay: float = 0.99
    """RMSProp decay (Table 2)."""
    rms_eps: float = 1e-5
    """RMSProp epsilon (Table 2)."""
    rms_momentum: float = 0.0
    """RMSProp momentum (Table 2)."""
    max_grad_norm: float = 0.0
    """Per-agent global-norm gradient clip; 0: none (Table 2 lists none)."""
    hidden: tuple[int, ...] = (64,)
    """Policy MLP hidden widths on the flattened observation (the paper does not describe its networks)."""
    critic_hidden: tuple[int, ...] = (64,)
    """Critic MLP hidden widths."""
    activation: str = "relu"
    """Hidden activation: relu or tanh."""
    policy_head_scale: float = 1.0
    """Initial weight scale of each policy's output layer (docs/rl.md)."""
    d3c_lr: float = 1e-3
    """D3C η_A (Table 1)."""
    d3c_delta: float = 0.1
    """D3C δ, the trial perturbation (Table 1)."""
    d3c_kl: float = 1e-6
    """D3C ν, the KL weight (Table 1; §3's text says 1e-5 for Coins)."""
    d3c_tau_min: int = 5
    """Shortest trial, in mixer steps (Table 1)."""
    d3c_tau_max: int = 10
    """Longest trial, in mixer steps (Table 1)."""
    d3c_init_self: float = 0.99
    """A_ii at the start (Table 1; Fig. 8b-d's single run used 0.9)."""
    d3c_eps: float = 100.0
    """ε in ρ̃ = ReLU((G_b − G)/τ + ε) (Table 1)."""
    d3c_low: float = -5.0
    """Lower logit clip l (Table 1)."""
    d3c_high: float = 5.0
    """Upper logit clip h (Table 1)."""
    checkpoint_every: int = 25
    """Updates per compiled segment: a checkpoint, a progress tick and the NaN check after each."""
    window: float = 0.1
    """Fraction of training at the end over which the summary averages episodes (the task: last 10%)."""
    seed: int = 0
    """PRNG seed; the same seed gives bit-identical results on the same machine."""
    nan_at_update: int = 0
    """Testing aid: make the policy loss NaN at this update (0: off), to exercise the NaN stop."""

    def validate(self):
        _common.require(self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}.")
        _common.require(self.num_agents >= 0 and self.max_steps >= 0, "num_agents and max_steps must be >= 0.")
        _common.require(self.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {self.checkpoint_every}.")
        _common.require(0 < self.window <= 1, f"window must be in (0, 1], got {self.window}.")
        _common.require(bool(self.methods), "methods: give at least one, e.g. --set methods=selfish,d3c.")
        unknown = [m for m in self.methods if m not in MIXERS]
        _common.require(not unknown, f"unknown method {unknown[0] if unknown else ''!r}; known: {', '.join(MIXERS)}.")
        _common.require(len(set(self.methods)) == len(self.methods), f"methods: {self.methods} lists one twice.")
        try:
            a2c_config(self).validate()
            d3c_config(self).validate()
        except ValueError as error:
            raise ConfigError(str(error)) from None


@dataclass(frozen=True)
class CoinsConfig(D3CRLExperimentConfig):
    """`d3c-coins` (defaults: 13.5 minutes measured on the project's 2-core CPU under load from other jobs)."""

    total_steps: int = 1_200_000
    """Environment steps per seed per method (each step moves both agents)."""


@dataclass(frozen=True)
class CleanupConfig(D3CRLExperimentConfig):
    """`d3c-cleanup` / `d3c-harvest-patch` (defaults measured on the project's 2-core CPU: Cleanup 12 minutes under
    heavy load from other jobs, HarvestPatch 4 minutes under light load)."""

    seeds: int = 3
    """Independent runs per method, vmapped together (the paper: 10)."""
    total_steps: int = 160_000
    """Environment steps per seed per method (each step moves all 5 agents)."""


def a2c_config(config: D3CRLExperimentConfig) -> rl.A2CConfig:
    """The trainer's hyperparameters from the experiment's."""
    names = {f.name for f in fields(rl.A2CConfig)} & {f.name for f in fields(config)}
    return rl.A2CConfig(**{name: getattr(config, name) for name in names})


def d3c_config(config: D3CRLExperimentConfig) -> rl.D3CRLConfig:
    """Algorithm 1's hyperparameters from the experiment's `d3c_*` fields."""
    names = {f.name for f in fields(rl.D3CRLConfig)}
    return rl.D3CRLConfig(**{name: getattr(config, f"d3c_{name}") for name in names})


def mixer(method: str, config: D3CRLExperimentConfig) -> rl.RewardMixer:
    """The `RewardMixer` of a method id."""
    return rl.d3c(d3c_config(config)) if method == "d3c" else MIXERS[method]()


def make_env(spec: EnvSpec, config: D3CRLExperimentConfig):
    options = {k: v for k, v in (("num_agents", config.num_agents), ("max_steps", config.max_steps)) if v}
    return envs.make(spec.env, **options)


def run(spec: EnvSpec, config: D3CRLExperimentConfig, progress, context: rl.RunContext | None) -> Results:
    """Train every method, tidy the curves, summarise the end of training, and write the report."""
    context = context or rl.RunContext()
    env = make_env(spec, config)
    a2c = a2c_config(config)
    _, histories, seconds = _rl_common.train_runs(
        list(config.methods), lambda m: rl.make_train(a2c, env, methods.simul_ind(), mixer=mixer(m, config)),
        config, context, progress, label=spec.env, stats=spec.stats)
    curves = pd.concat([tidy(m, histories[m], a2c, spec) for m in config.methods], ignore_index=True)
    summary = summarise(curves, config, a2c, spec, env.num_agents)
    return Results(
        summary=summary, metrics=curves,
        figures={"training_curves": figure(curves, config, spec, env.num_agents)},
        report=report(spec, config, a2c, summary, seconds, env.num_agents),
        table_columns=["social_welfare", "equality"] + [f"return_{i}" for i in range(env.num_agents)]
        + (["relative_attention"] if "d3c" in config.methods else []),
        claims=claims(spec, config, summary, curves, env.num_agents))


def tidy(method: str, history: dict[str, np.ndarray], a2c: rl.A2CConfig, spec: EnvSpec) -> pd.DataFrame:
    """One row per seed x update: per-episode means over the episodes that ended in that update, losses, and
    (D3C) each agent's relative reward attention after the update."""
    frame = _rl_common.episode_frame(method, history, a2c.batch_steps, spec.stats)
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
    first = updates - max(1, int(round(config.window * updates))) + 1
    rows = []
    for method in config.methods:
        data = curves[curves.method == method]
        row = {"method": method}
        returns = np.stack([_rl_common.window_means(data, f"return_{i}", config.window, updates)
                            for i in range(n)], axis=-1)  # (seeds, N)
        _common.mean_and_ci(row, "social_welfare", returns.sum(axis=-1))
        _common.mean_and_ci(row, "equality", _rl_common.equality_or_nan(returns))
        for i in range(n):
            _common.mean_and_ci(row, f"return_{i}", returns[:, i])
        _common.mean_and_ci(row, "lowest_return", returns.min(axis=-1))
        stats = {name: _rl_common.window_means(data, name, config.window, updates) for name in spec.stats}
        for name, values in stats.items():
            _common.mean_and_ci(row, name, values)
        if spec.env == "coins":
            with np.errstate(invalid="ignore", divide="ignore"):
                own = 100 * stats["own_coins"] / (stats["own_coins"] + stats["other_coins"])
            _common.mean_and_ci(row, "own_coin_pct", own)
        if method == "d3c":
            late = data[data["update"] >= first]
            attention = late[[f"attention_{i}" for i in range(n)]].mean(axis=1).groupby(late.seed).mean()
            _common.mean_and_ci(row, "relative_attention", attention.to_numpy())
        row["env_steps_per_seed"] = updates * a2c.batch_steps
        rows.append(row)
    return pd.DataFrame(rows)


SMOKE = {"seeds": "2", "total_steps": "400", "max_steps": "50", "num_envs": "2", "num_steps": "100", "hidden": "8",
         "critic_hidden": "8", "checkpoint_every": "1"}
# the paper's 10 training runs; its training length is not in its text, so 10^8 steps per seed stands in for it
PAPER_BUDGET = {"seeds": "10", "total_steps": "100000000"}
DESCRIPTION = "D3C {}: A2C with D3C reward mixing vs no mixing vs full cooperation"


@register("d3c-coins", DESCRIPTION.format("§3.4 Coins (Fig. 8), 2 agents x 5 seeds"), CoinsConfig,
          budget="about 14 min", paper="d3c", budgets={"smoke": SMOKE, "paper": PAPER_BUDGET})
def run_coins(config: CoinsConfig, progress, context: rl.RunContext | None = None) -> Results:
    return run(SPECS["coins"], config, progress, context)


@register("d3c-cleanup", DESCRIPTION.format("§3.5 Cleanup (Fig. 9), 5 agents x 3 seeds"), CleanupConfig,
          budget="about 12 min", paper="d3c", budgets={"smoke": SMOKE, "paper": PAPER_BUDGET})
def run_cleanup(config: CleanupConfig, progress, context: rl.RunContext | None = None) -> Results:
    return run(SPECS["cleanup"], config, progress, context)


@register("d3c-mini-cleanup", DESCRIPTION.format("Appx. F.3 Mini-Cleanup (Fig. 17), 2 agents x 5 seeds"),
          D3CRLExperimentConfig, budget="about 13 min", paper="d3c", budgets={"smoke": SMOKE, "paper": PAPER_BUDGET})
def run_mini_cleanup(config: D3CRLExperimentConfig, progress, context: rl.RunContext | None = None) -> Results:
    return run(SPECS["mini_cleanup"], config, progress, context)


@register("d3c-harvest-patch", DESCRIPTION.format("Appx. F.4 HarvestPatch (Fig. 18), 5 agents x 3 seeds"),
          CleanupConfig, budget="about 5 min", paper="d3c", budgets={"smoke": SMOKE, "paper": PAPER_BUDGET})
def run_harvest_patch(config: CleanupConfig, progress, context: rl.RunContext | None = None) -> Results:
    return run(SPECS["harvest_patch"], config, progress, context)
