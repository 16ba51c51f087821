"""`d3c-trust-your-brother`: D3C's Trust-Your-Brother, REINFORCE prey with and without reward mixing.

Reproduces: Gemp et al. 2022 (AAMAS), §3.3, Fig. 7 (median return over training of policy gradient vs policy
gradient with D3C, and D3C's relative reward attention ln(A_ii / A_ij), 1000 runs) and Appx. F.2, Fig. 16 (the
path of the mixing weights from "attend to yourself" to a mixture). Full cooperation (A_ij = 1/n, D3C §3) is the
third method, as the paper's reference for the best total return.

Learner (D3C Appx. G.1): REINFORCE with linear softmax policies (no bias), batches of 10 episodes, 5 with each
prey the closer one, full Monte Carlo returns (γ = 1), a linear value baseline trained by TD with lr 0.1, lr 0.1
(`mixmo.rl.make_reinforce`). D3C: Algorithm 1 with Table 1's Trust-Your-Brother row (`mixmo.rl.d3c`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from mixmo import envs, rl
from mixmo.experiments import common, verdicts
from mixmo.experiments.d3c import game_runs
from mixmo.experiments.d3c import tyb_report as report
from mixmo.experiments.d3c.tyb_report import MAX_TOTAL_RETURN, METHODS, PAPER_RUNS
from mixmo.experiments.registry import Claim, Results, register



@dataclass(frozen=True)
class TYBConfig:
    """Configuration of `d3c-trust-your-brother` (defaults: D3C Appx. G.1 where it speaks)."""

    seeds: int = 1000
    """Independent runs per method, vmapped (Fig. 7: 1000 runs)."""
    methods: tuple[str, ...] = METHODS
    """Mixing of the rewards: selfish (none, the paper's "policy gradient"), d3c, cooperative (A_ij = 1/n)."""
    reinforce: rl.ReinforceConfig = rl.ReinforceConfig()
    """The prey's learner (Appx. G.1: REINFORCE, plain SGD lr 0.1, batches of 10 episodes, a linear TD baseline).
    num_updates: the paper does not say how long; 2000 chosen to fit about 10 minutes."""
    d3c: rl.D3CRLConfig = rl.D3CRLConfig(lr=1.0, delta=1.0, kl=0.0, tau_min=10, tau_max=20, eps=0.0)
    """D3C's reward mixing (Table 1's Trust-Your-Brother row)."""
    window: float = 0.1
    """Fraction of training at the end over which the summary averages (the last 10%)."""
    points: int = 10
    """Points per run in metrics.csv (each the mean over its block of updates; 1000 runs x 3 methods x 10 points
    is about 5 MB)."""
    seed: int = 0
    """PRNG seed; every method sees the same seeds."""

    def validate(self):
        common.require(self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}; e.g. --seeds 100.")
        common.require(self.reinforce.episodes % 2 == 0, "reinforce.episodes must be even (half start with each "
                       f"prey closer), got {self.reinforce.episodes}.")
        common.require(bool(self.methods), f"methods: give at least one of {', '.join(METHODS)}.")
        unknown = [m for m in self.methods if m not in METHODS]
        common.require(not unknown, f"unknown method {unknown[0] if unknown else ''!r}; known: {', '.join(METHODS)}.")
        common.require(len(set(self.methods)) == len(self.methods), f"methods: {self.methods} lists one twice.")
        common.require(0 < self.window <= 1, f"window must be in (0, 1], got {self.window}.")
        common.require(self.points >= 1, f"points must be >= 1, got {self.points}.")


def close_prey(episodes: int) -> jax.Array:
    """Which prey starts one empty cell from the predator in each episode of a batch: the first half prey 0, the
    second half prey 1 (Appx. G.1: "5 episodes ... with one prey closer ... The other 5 episodes swap the prey")."""
    return (jnp.arange(episodes) * 2 // episodes).astype(jnp.int32)


def batch_starts(env, episodes: int):
    """`starts` for `make_reinforce`: the batch's fixed starts (`close_prey`), the same for every update."""
    close = close_prey(episodes)

    def starts(key, n):
        del key
        return jax.vmap(env.initial_state)(close)

    return starts


def outcomes(episodes: int):
    """Per update: the fraction of episodes in which no prey was ever caught, and the mean raw episode return of
    the close prey and of the far prey (from the environment's end-of-episode infos, `(episodes, 2)` each)."""
    close = close_prey(episodes)
    index = jnp.arange(episodes)

    def measure(infos):
        returns = infos["episode_return"]
        return {"escape_rate": jnp.mean(jnp.all(infos["times_caught"] == 0, axis=-1).astype(jnp.float32)),
                "close_return": jnp.mean(returns[index, close]), "far_return": jnp.mean(returns[index, 1 - close])}

    return measure


def mixer(method: str, config: TYBConfig) -> rl.RewardMixer:
    return {"selfish": rl.selfish, "cooperative": rl.cooperative,
            "d3c": lambda: rl.d3c(config.d3c)}[method]()


def _per_update(metrics: rl.ReinforceMetrics) -> dict[str, np.ndarray]:
    """The quantities kept per seed and update, each `(seeds, updates)`."""
    returns = np.asarray(metrics.episode_return, np.float64)
    rows = np.asarray(metrics.mixing, np.float64)
    attention = np.asarray(rl.relative_attention(jnp.asarray(rows)), np.float64)
    attention = np.where(np.isfinite(attention), attention, np.nan)  # no mixing: ln(1/0)
    out = {f"return_{i}": returns[..., i] for i in range(returns.shape[-1])}
    out["social_welfare"] = returns.sum(-1)
    for name in ("escape_rate", "close_return", "far_return"):
        out[name] = np.asarray(metrics.outcomes[name], np.float64)
    out["times_caught"] = np.asarray(metrics.episode_stats["times_caught"], np.float64).sum(-1)
    out["moves_tried"] = np.asarray(metrics.episode_stats["moves_tried"], np.float64).sum(-1)
    for i in range(rows.shape[-1]):
        out[f"relative_attention_{i}"] = attention[..., i]
        out[f"weight_to_other_{i}"] = rows[..., i, 1 - i]
    return out


def train(method: str, config: TYBConfig, progress_tick) -> dict[str, np.ndarray]:
    """All seeds of one method in one jit(vmap(scan)), in 10 chunks for progress. Returns `_per_update` arrays."""
    env = envs.make("trust_your_brother")
    trainer = rl.make_reinforce(config.reinforce, env, mixer(method, config),
                                starts=batch_starts(env, config.reinforce.episodes), outcomes=outcomes(config.reinforce.episodes))
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    states = jax.jit(jax.vmap(trainer.init))(keys)
    chunk = max(1, math.ceil(config.reinforce.num_updates / 10))
    runners, parts, done = {}, [], 0
    while done < config.reinforce.num_updates:
        n = min(chunk, config.reinforce.num_updates - done)
        if n not in runners:
            runners[n] = jax.jit(jax.vmap(lambda s, n=n: trainer.run(s, n)))
        states, metrics = runners[n](states)
        parts.append(_per_update(jax.device_get(metrics)))
        done += n
        progress_tick(n)
    return {k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0]}


def _gini_equality(costs: np.ndarray) -> np.ndarray:
    """1 − Gini over the last axis of positive costs (the prey's returns are ≤ 0, so Gini is taken of −return)."""
    pairwise = np.abs(costs[..., :, None] - costs[..., None, :]).sum((-2, -1))
    n = costs.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - pairwise / (2 * n**2 * costs.mean(-1))


def summarise(method: str, data: dict[str, np.ndarray], config: TYBConfig) -> dict:
    """The summary row: per-seed means over the last `window` of training, then mean ± 95% CI over seeds."""
    last = max(1, int(round(config.window * config.reinforce.num_updates)))
    late = {k: v[:, -last:].mean(axis=1) for k, v in data.items()}
    row = {"method": method}
    game_runs.mean_sd_row(row, "social_welfare", late["social_welfare"])
    returns = np.stack([late["return_0"], late["return_1"]], axis=-1)
    common.mean_and_ci(row, "equality", _gini_equality(-returns))
    roles = np.stack([late["close_return"], late["far_return"]], axis=-1)
    common.mean_and_ci(row, "equality_roles", _gini_equality(-roles))
    for name in ("return_0", "return_1", "close_return", "far_return", "escape_rate", "times_caught", "moves_tried"):
        common.mean_and_ci(row, name, late[name])
    for i in range(2):
        final = data[f"relative_attention_{i}"][:, -1] if method == "d3c" else np.full(config.seeds, np.nan)
        game_runs.mean_sd_row(row, f"relative_attention_{i}", final)
        common.mean_and_ci(row, f"weight_to_other_{i}", data[f"weight_to_other_{i}"][:, -1])
    return row


def tidy(method: str, data: dict[str, np.ndarray], config: TYBConfig) -> pd.DataFrame:
    """metrics.csv rows: one per seed and block of updates (block means; attention and weights at the block end)."""
    edges = np.unique(np.linspace(0, config.reinforce.num_updates, min(config.points, config.reinforce.num_updates) + 1).astype(int))
    frame = {"method": method, "seed": np.repeat(np.arange(config.seeds), len(edges) - 1),
             "update": np.tile(edges[1:], config.seeds), "episodes": np.tile(edges[1:] * config.reinforce.episodes, config.seeds)}
    for name, values in data.items():
        if name.startswith(("relative_attention", "weight_to_other")):
            frame[name] = values[:, edges[1:] - 1].ravel()
        else:
            frame[name] = np.stack([values[:, a:b].mean(1) for a, b in zip(edges[:-1], edges[1:])], axis=1).ravel()
    return pd.DataFrame(frame)


@register("d3c-trust-your-brother", TYBConfig, presets={"smoke": {"seeds": 20, "reinforce.num_updates": 200}},
          steps_key="reinforce.num_updates")
def run(config: TYBConfig, progress) -> Results:
    tick = progress(f"updates ({len(config.methods)} methods x {config.reinforce.num_updates})", len(config.methods) * config.reinforce.num_updates)
    rows, tables, curves = [], [], {}
    for method in config.methods:
        data = train(method, config, tick)
        rows.append(summarise(method, data, config))
        tables.append(tidy(method, data, config))
        curves[method] = _curves(data)
    summary = pd.DataFrame(rows)

    return Results(summary=summary, metrics=pd.concat(tables, ignore_index=True),
                   figures=report.figures(config, curves), report=report.markdown(config, summary),
                   table_columns=["social_welfare", "equality_roles", "close_return", "far_return", "escape_rate",
                                  "relative_attention_0", "relative_attention_1"],
                   claims=claims(config, summary))


def _curves(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the figures need: every seed's returns, attention and weights over training (the first 200 seeds)."""
    keep = ("return_0", "return_1", "social_welfare", "relative_attention_0", "relative_attention_1",
            "weight_to_other_0", "weight_to_other_1")
    return {k: data[k][:200] for k in keep}


def claims(config: TYBConfig, summary: pd.DataFrame) -> list[Claim]:
    """§3.3 / Fig. 7: D3C approaches the maximal total return and beats policy gradient; its agents move from
    selfish to other-regarding attention. Appx. F.2 / Fig. 16: the mixing weights end at a mixture."""
    rows = {r["method"]: r for r in summary.to_dict("records")}
    budget = verdicts.shortfall(("runs", config.seeds, PAPER_RUNS))
    out = []
    if "d3c" in rows:
        d3c = rows["d3c"]
        out.append(verdicts.number(
            "Fig. 7 (left), §3.3", "D3C total return per episode, median over runs (last 10%)", MAX_TOTAL_RETURN,
            d3c["social_welfare_median"], atol=0.25, close_atol=1.0, paper_text="approaches −1.0 (the maximum)",
            budget=budget))
        attention = max(d3c["relative_attention_0"], d3c["relative_attention_1"])
        out.append(verdicts.finding(
            "Fig. 7 (right)", "D3C relative reward attention ln(A_ii/A_ij) ends other-regarding (≤ 0)",
            "from ln 99 = 4.6 to negative", f"{d3c['relative_attention_0']:.2f}, {d3c['relative_attention_1']:.2f} "
            "(mean at the end)", attention <= 0, nearly=attention < 4.6 / 2, budget=budget,
            reason="attention stays selfish"))
        weight = min(d3c["weight_to_other_0"], d3c["weight_to_other_1"])
        out.append(verdicts.finding(
            "Fig. 16 (Appx. F.2)", "D3C's mixing weights move from A_ij = 0.01 to a mixture (A_ij ≥ 0.1)",
            "a mixture of losses", f"A_01 = {d3c['weight_to_other_0']:.2f}, A_10 = {d3c['weight_to_other_1']:.2f} "
            "(mean at the end)", weight >= 0.1, nearly=weight >= 0.03, budget=budget, reason="weights stay near 0.01"))
    if {"d3c", "selfish"} <= set(rows):
        values = {"D3C": (rows["d3c"]["social_welfare"], rows["d3c"]["social_welfare_ci95"]),
                  "policy gradient": (rows["selfish"]["social_welfare"], rows["selfish"]["social_welfare_ci95"])}
        out.append(verdicts.best("Fig. 7 (left)", "higher mean total return: D3C vs policy gradient", "D3C", values,
                                "D3C", budget=budget))
    return out
