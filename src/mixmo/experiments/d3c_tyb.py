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
from mixmo.experiments import _claims, _common
from mixmo.experiments import _d3c_common as d3c_common
from mixmo.experiments._registry import Claim, ConfigError, Results, register

METHODS = ("selfish", "d3c", "cooperative")
LABELS = {"selfish": "policy gradient (no mixing)", "d3c": "policy gradient + D3C",
          "cooperative": "cooperative (A_ij = 1/2)"}
COLOURS = {"selfish": "tab:blue", "d3c": "tab:red", "cooperative": "tab:green"}
PAPER_RUNS = 1000  # Fig. 7: 1000 runs
MAX_TOTAL_RETURN = -1.0  # both prey step away together every step: 5 steps x 0.1 each (Appx. F.2's rewards)
SELFISH_TOTAL_RETURN = -5.0  # the far prey stays, the close one is caught at every step


@dataclass(frozen=True)
class TYBConfig:
    """Configuration of `d3c-trust-your-brother` (defaults: D3C Appx. G.1 where it speaks)."""

    seeds: int = 1000
    """Independent runs per method, vmapped (Fig. 7: 1000 runs)."""
    steps: int = 2000
    """REINFORCE updates per run, 10 episodes each (the paper does not say how long; chosen to fit ~10 min)."""
    methods: tuple[str, ...] = METHODS
    """Mixing of the rewards: selfish (none, the paper's "policy gradient"), d3c, cooperative (A_ij = 1/n)."""
    episodes: int = 10
    """Episodes per batch, half with each prey the closer one (Appx. G.1: 10); must be even."""
    lr: float = 0.1
    """REINFORCE learning rate, plain SGD (Appx. G.1)."""
    value_lr: float = 0.1
    """TD learning rate of the linear value baseline (Appx. G.1)."""
    lr_mix: float = 1.0
    """D3C's η_A (Table 1)."""
    delta: float = 1.0
    """D3C's perturbation scale δ (Table 1)."""
    kl: float = 0.0
    """D3C's KL weight ν (Table 1)."""
    tau_min: int = 10
    """Shortest D3C trial (Table 1), in mixer steps (episodes with mix_per_episode, else updates)."""
    tau_max: int = 20
    """Longest D3C trial (Table 1)."""
    init_self: float = 0.99
    """A_ii at the start (Table 1)."""
    eps: float = 0.0
    """D3C's ε (Table 1)."""
    clip: tuple[float, ...] = (-5.0, 5.0)
    """D3C's logit bounds l, h (Table 1)."""
    mix_per_episode: bool = False
    """Advance D3C's loop (Algorithm 1) once per REINFORCE update with g = the batch's mean mixed episode return
    (Algorithm 1's step is "Update Policy With Mixed Rewards"); true: once per episode with g = that episode's mixed
    return (Algorithm 3 read literally: it plays one episode and returns its return), τ then counts episodes."""
    window: float = 0.1
    """Fraction of training at the end over which the summary averages (the last 10%)."""
    points: int = 10
    """Points per run in metrics.csv (each the mean over its block of updates; 1000 runs x 3 methods x 10 points
    is about 5 MB)."""
    seed: int = 0
    """PRNG seed; every method sees the same seeds."""

    def validate(self):
        _common.require(self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}; e.g. --seeds 100.")
        _common.require(self.steps >= 1, f"steps must be >= 1, got {self.steps}; e.g. --steps 500.")
        _common.require(self.episodes >= 2 and self.episodes % 2 == 0,
                        f"episodes must be even and >= 2 (half start with each prey closer), got {self.episodes}.")
        _common.require(bool(self.methods), f"methods: give at least one of {', '.join(METHODS)}.")
        unknown = [m for m in self.methods if m not in METHODS]
        _common.require(not unknown, f"unknown method {unknown[0] if unknown else ''!r}; known: {', '.join(METHODS)}.")
        _common.require(len(set(self.methods)) == len(self.methods), f"methods: {self.methods} lists one twice.")
        _common.require(0 < self.window <= 1, f"window must be in (0, 1], got {self.window}.")
        _common.require(self.points >= 1, f"points must be >= 1, got {self.points}.")
        _common.require(len(self.clip) == 2, f"clip must be two numbers l,h, got {self.clip}; e.g. --set clip=-5,5.")
        try:
            reinforce_config(self).validate()
            d3c_config(self).validate()
        except ValueError as error:
            raise ConfigError(str(error)) from None


def reinforce_config(config: TYBConfig) -> rl.ReinforceConfig:
    return rl.ReinforceConfig(num_updates=config.steps, episodes=config.episodes, max_episode_steps=5, lr=config.lr,
                              value_lr=config.value_lr, gamma=1.0, mix_per_episode=config.mix_per_episode)


def d3c_config(config: TYBConfig) -> rl.D3CRLConfig:
    return rl.D3CRLConfig(lr=config.lr_mix, delta=config.delta, kl=config.kl, tau_min=config.tau_min,
                          tau_max=config.tau_max, init_self=config.init_self, eps=config.eps, low=config.clip[0],
                          high=config.clip[1])


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
            "d3c": lambda: rl.d3c(d3c_config(config))}[method]()


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
    trainer = rl.make_reinforce(reinforce_config(config), env, mixer(method, config),
                                starts=batch_starts(env, config.episodes), outcomes=outcomes(config.episodes))
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    states = jax.jit(jax.vmap(trainer.init))(keys)
    chunk = max(1, math.ceil(config.steps / 10))
    runners, parts, done = {}, [], 0
    while done < config.steps:
        n = min(chunk, config.steps - done)
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
    last = max(1, int(round(config.window * config.steps)))
    late = {k: v[:, -last:].mean(axis=1) for k, v in data.items()}
    row = {"method": method}
    d3c_common.mean_sd_row(row, "social_welfare", late["social_welfare"])
    returns = np.stack([late["return_0"], late["return_1"]], axis=-1)
    _common.mean_and_ci(row, "equality", _gini_equality(-returns))
    roles = np.stack([late["close_return"], late["far_return"]], axis=-1)
    _common.mean_and_ci(row, "equality_roles", _gini_equality(-roles))
    for name in ("return_0", "return_1", "close_return", "far_return", "escape_rate", "times_caught", "moves_tried"):
        _common.mean_and_ci(row, name, late[name])
    for i in range(2):
        final = data[f"relative_attention_{i}"][:, -1] if method == "d3c" else np.full(config.seeds, np.nan)
        d3c_common.mean_sd_row(row, f"relative_attention_{i}", final)
        _common.mean_and_ci(row, f"weight_to_other_{i}", data[f"weight_to_other_{i}"][:, -1])
    return row


def tidy(method: str, data: dict[str, np.ndarray], config: TYBConfig) -> pd.DataFrame:
    """metrics.csv rows: one per seed and block of updates (block means; attention and weights at the block end)."""
    edges = np.unique(np.linspace(0, config.steps, min(config.points, config.steps) + 1).astype(int))
    frame = {"method": method, "seed": np.repeat(np.arange(config.seeds), len(edges) - 1),
             "update": np.tile(edges[1:], config.seeds), "episodes": np.tile(edges[1:] * config.episodes, config.seeds)}
    for name, values in data.items():
        if name.startswith(("relative_attention", "weight_to_other")):
            frame[name] = values[:, edges[1:] - 1].ravel()
        else:
            frame[name] = np.stack([values[:, a:b].mean(1) for a, b in zip(edges[:-1], edges[1:])], axis=1).ravel()
    return pd.DataFrame(frame)


@register("d3c-trust-your-brother", "D3C Fig. 7/16: Trust-Your-Brother, REINFORCE prey: no mixing vs D3C vs "
          "cooperative, 1000 runs", TYBConfig, budget="about 7 min", paper="d3c",
          budgets={"smoke": {"seeds": "20", "steps": "200"}, "paper": {}})
def run(config: TYBConfig, progress) -> Results:
    tick = progress(f"updates ({len(config.methods)} methods x {config.steps})", len(config.methods) * config.steps)
    rows, tables, curves = [], [], {}
    for method in config.methods:
        data = train(method, config, tick)
        rows.append(summarise(method, data, config))
        tables.append(tidy(method, data, config))
        curves[method] = _curves(data)
    summary = pd.DataFrame(rows)
    from mixmo.experiments import _tyb_report as report  # here: it imports this module's constants

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
    budget = _claims.shortfall(("runs", config.seeds, PAPER_RUNS))
    out = []
    if "d3c" in rows:
        d3c = rows["d3c"]
        out.append(_claims.number(
            "Fig. 7 (left), §3.3", "D3C total return per episode, median over runs (last 10%)", MAX_TOTAL_RETURN,
            d3c["social_welfare_median"], atol=0.25, close_atol=1.0, paper_text="approaches −1.0 (the maximum)",
            budget=budget))
        attention = max(d3c["relative_attention_0"], d3c["relative_attention_1"])
        out.append(_claims.finding(
            "Fig. 7 (right)", "D3C relative reward attention ln(A_ii/A_ij) ends other-regarding (≤ 0)",
            "from ln 99 = 4.6 to negative", f"{d3c['relative_attention_0']:.2f}, {d3c['relative_attention_1']:.2f} "
            "(mean at the end)", attention <= 0, nearly=attention < 4.6 / 2, budget=budget,
            reason="attention stays selfish"))
        weight = min(d3c["weight_to_other_0"], d3c["weight_to_other_1"])
        out.append(_claims.finding(
            "Fig. 16 (Appx. F.2)", "D3C's mixing weights move from A_ij = 0.01 to a mixture (A_ij ≥ 0.1)",
            "a mixture of losses", f"A_01 = {d3c['weight_to_other_0']:.2f}, A_10 = {d3c['weight_to_other_1']:.2f} "
            "(mean at the end)", weight >= 0.1, nearly=weight >= 0.03, budget=budget, reason="weights stay near 0.01"))
    if {"d3c", "selfish"} <= set(rows):
        values = {"D3C": (rows["d3c"]["social_welfare"], rows["d3c"]["social_welfare_ci95"]),
                  "policy gradient": (rows["selfish"]["social_welfare"], rows["selfish"]["social_welfare_ci95"])}
        out.append(_claims.best("Fig. 7 (left)", "higher mean total return: D3C vs policy gradient", "D3C", values,
                                "D3C", budget=budget))
    return out
