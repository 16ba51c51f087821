"""`d3c-trust-your-brother`: D3C's Trust-Your-Brother, REINFORCE prey with and without reward mixing.

Reproduces: Gemp et al. 2022 (AAMAS), §3.3, Fig. 7 (median return over training of policy gradient vs policy
gradient with D3C, and D3C's relative reward attention ln(A_ii / A_ij), 1000 runs) and Appx. F.2, Fig. 16 (the
path of the mixing weights from "attend to yourself" to a mixture). Full cooperation (A_ij = 1/n, D3C §3) is the
paper's reference for the best total return.

D3C runs under each reading of Algorithm 1 for a batched learner (`rl.D3CRLConfig.iteration`: what one iteration
is; `g_scale`: batch mean or total), each a method id "d3c@KEY=VALUE" (`tyb_report`), at Table 1's η_A = 1, and
the literal reading also at the η_A whose median reproduced Fig. 7 (`tyb_report.CHOSEN_LR`). The report shows
median and mean beside Fig. 7 and says which reading reproduces what.

Learner (D3C Appx. G.1): REINFORCE with linear softmax policies (no bias), batches of 10 episodes, 5 with each
prey the closer one, full Monte Carlo returns (γ = 1), a linear value baseline trained by TD with lr 0.1, lr 0.1
(`mixmo.rl.make_reinforce`). D3C: Algorithm 1 with Table 1's Trust-Your-Brother row (`mixmo.rl.d3c`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from mixmo import config as config_tree
from mixmo import rl
from mixmo.experiments import common, rl_common, verdicts
from mixmo.experiments.d3c import game_runs
from mixmo.experiments.d3c import tyb_report as report
from mixmo.experiments.d3c.tyb_report import (COOPERATIVE_RUN, MAX_TOTAL_RETURN, MEDIAN_ATOL, MEDIAN_CLOSE_ATOL,
                                              METHODS, PAPER_RUNS, is_d3c)
from mixmo.experiments.registry import Claim, Results, register



@dataclass(frozen=True)
class TYBConfig:
    """Configuration of `d3c-trust-your-brother` (defaults: D3C Appx. G.1 where it speaks)."""

    seeds: int = 1000
    """Independent runs per method, vmapped (Fig. 7: 1000 runs)."""
    methods: tuple[str, ...] = METHODS
    """Mixing of the rewards: selfish (none, the paper's "policy gradient"), cooperative (A_ij = 1/n), d3c (the d3c.*
    settings) and D3C variants d3c@KEY=VALUE[@KEY=VALUE...] overriding d3c.* settings for that method (e.g.
    d3c@iteration=episode, d3c@g_scale=total, d3c@lr=30). Default: Table 1's η_A = 1 under every reading of
    Algorithm 1 (iteration x g_scale) and the literal reading at η_A 30."""
    reinforce: rl.ReinforceConfig = rl.ReinforceConfig()
    """The prey's learner (Appx. G.1: REINFORCE, plain SGD lr 0.1, batches of 10 episodes, a linear TD baseline).
    num_updates: the paper does not say how long; 2000 (the default run, 8 methods x 1000 runs: 39 minutes measured on
    the project's shared 2-core CPU under load, 2026-11-28)."""
    d3c: rl.D3CRLConfig = rl.D3CRLConfig(lr=1.0, delta=1.0, kl=0.0, tau_min=10, tau_max=20, eps=0.0)
    """D3C's reward mixing (Table 1's Trust-Your-Brother row; iteration "update", g_scale "mean": the literal
    reading); the method d3c runs it, d3c@KEY=VALUE methods override it."""
    points: int = 10
    """Points per run in metrics.csv (each the mean over its block of updates; 1000 runs x 8 methods x 10 points
    is about 19 MB)."""
    run: rl_common.RunSettings = rl_common.RunSettings(checkpoint_every=200)
    """PRNG seed (every method sees the same seeds), updates per compiled segment (200: a checkpoint for --resume,
    a progress tick and the NaN check after each) and the summary window (the last 10% of training), as every RL
    experiment has them."""

    def validate(self):
        common.require(self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}; e.g. --seeds 100.")
        common.require(self.reinforce.episodes % 2 == 0, "reinforce.episodes must be even (half start with each "
                       f"prey closer), got {self.reinforce.episodes}.")
        common.require(bool(self.methods), f"methods: give at least one of {', '.join(METHODS)}.")
        for method in self.methods:
            d3c_config(method, self.d3c)  # raises ValueError naming the bad id or setting
        common.require(len(set(self.methods)) == len(self.methods), f"methods: {self.methods} lists one twice.")
        common.require(self.points >= 1, f"points must be >= 1, got {self.points}.")
        self.run.validate()


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


def d3c_config(method: str, base: rl.D3CRLConfig) -> rl.D3CRLConfig | None:
    """The D3C settings of a method id: None for selfish / cooperative, `base` for "d3c", and `base` with the
    overrides of "d3c@KEY=VALUE[@...]" (validated). Raises `ValueError` naming a bad id, key or value."""
    changes = report.overrides(method)
    if not is_d3c(method):
        return None
    known = config_tree.leaves(rl.D3CRLConfig)
    values = {}
    for key, text in changes.items():
        if key not in known:
            raise ValueError(f"method {method!r}: {key!r} is not a d3c setting; known: {', '.join(known)}.")
        try:
            values[key] = config_tree.parse(key, text, known[key].kind)
        except config_tree.ConfigError as error:
            raise ValueError(f"method {method!r}: {error}") from None
    out = dataclasses.replace(base, **values)
    try:
        out.validate()
    except ValueError as error:
        raise ValueError(f"method {method!r}: {error}") from None
    return out


def trainer_id(method: str) -> str:
    """The trainer a method's runs train: the baselines (`rl.BASELINE_MATRICES`) run the "d3c" trainer with their
    matrix fixed (`start`), so selfish, cooperative and d3c share one program; each d3c@KEY=VALUE variant has its
    own."""
    return "d3c" if method in rl.BASELINE_MATRICES else method


def start(method: str):
    """What a method's run sets in the shared trainer's initial states (`rl_common.baseline_start`): a baseline's
    fixed matrix with learning off; nothing for D3C."""
    return rl_common.baseline_start(method, lambda states: states.mix_state,
                                    lambda states, state: states._replace(mix_state=state))


def _per_update(metrics: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The quantities kept per seed and update, each `(seeds, updates)`, from `rl.train_segments`' metrics."""
    returns = np.asarray(metrics["episode_return"], np.float64)
    rows = np.asarray(metrics["mixing"], np.float64)
    attention = np.asarray(rl.relative_attention(jnp.asarray(rows)), np.float64)
    attention = np.where(np.isfinite(attention), attention, np.nan)  # no mixing: ln(1/0)
    out = {f"return_{i}": returns[..., i] for i in range(returns.shape[-1])}
    out["social_welfare"] = returns.sum(-1)
    for name in ("escape_rate", "close_return", "far_return"):
        out[name] = np.asarray(metrics[f"outcome/{name}"], np.float64)
    out["times_caught"] = np.asarray(metrics["stat/times_caught"], np.float64).sum(-1)
    out["moves_tried"] = np.asarray(metrics["stat/moves_tried"], np.float64).sum(-1)
    for i in range(rows.shape[-1]):
        out[f"relative_attention_{i}"] = attention[..., i]
        out[f"weight_to_other_{i}"] = rows[..., i, 1 - i]
    return out


def make_trainer(method: str, config: TYBConfig, env) -> rl.ReinforceTrainer:
    """The REINFORCE trainer a method's runs train (`trainer_id`), with the batch's fixed starts."""
    return _d3c_trainer(trainer_id(method), config, env)


@rl_common.reused
def _d3c_trainer(method: str, config: TYBConfig, env) -> rl.ReinforceTrainer:
    return rl.make_reinforce(config.reinforce, env, rl.d3c(d3c_config(method, config.d3c)),
                             starts=batch_starts(env, config.reinforce.episodes),
                             outcomes=outcomes(config.reinforce.episodes))


def train(method: str, config: TYBConfig, progress_tick, context: rl.RunContext) -> dict[str, np.ndarray]:
    """All seeds of one method vmapped, through `rl.train_segments` (`run.checkpoint_every` updates per compiled
    segment; checkpoints in `run_dir/checkpoints/<method>` for --resume; NaN stop). Returns `_per_update` arrays."""
    trainer = make_trainer(method, config, rl_common.environment("trust_your_brother"))
    keys = jax.random.split(jax.random.key(config.run.seed), config.seeds)
    checkpoint = context.run_dir / "checkpoints" / method if context.run_dir is not None else None
    _, metrics = rl.train_segments(trainer, keys, label=f"trust_your_brother {method}",
                                   segment=config.run.checkpoint_every, checkpoint_dir=checkpoint,
                                   resume=context.resume, advance=progress_tick, start=start(method))
    return _per_update(metrics)


def _gini_equality(costs: np.ndarray) -> np.ndarray:
    """1 − Gini over the last axis of positive costs (the prey's returns are ≤ 0, so Gini is taken of −return)."""
    pairwise = np.abs(costs[..., :, None] - costs[..., None, :]).sum((-2, -1))
    n = costs.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - pairwise / (2 * n**2 * costs.mean(-1))


def median_ci95(values: np.ndarray) -> tuple[float, float]:
    """A distribution-free 95% interval for the median: the order statistics of ranks n/2 ∓ 1.96 √n / 2 (the
    normal approximation to the binomial), clipped to the sample; NaN without finite values."""
    x = np.sort(np.asarray(values, np.float64)[np.isfinite(values)])
    n = x.size
    if n == 0:
        return math.nan, math.nan
    half = 1.96 * math.sqrt(n) / 2
    low, high = math.floor(n / 2 - half), math.ceil(n / 2 + half)  # 1-based ranks
    return float(x[min(max(low, 1), n) - 1]), float(x[min(max(high, 1), n) - 1])


def summarise(method: str, data: dict[str, np.ndarray], config: TYBConfig) -> dict:
    """The summary row: per-seed means over the last `run.window` of training, then mean ± 95% CI over seeds (and the
    median with its 95% interval for the total return); the D3C settings the method ran with."""
    last = max(1, int(round(config.run.window * config.reinforce.num_updates)))
    late = {k: v[:, -last:].mean(axis=1) for k, v in data.items()}
    d3c = d3c_config(method, config.d3c)
    row = {"method": method, "d3c_lr": d3c.lr if d3c else math.nan, "d3c_iteration": d3c.iteration if d3c else None,
           "d3c_g_scale": d3c.g_scale if d3c else None}
    game_runs.mean_sd_row(row, "social_welfare", late["social_welfare"])
    row["social_welfare_median_low"], row["social_welfare_median_high"] = median_ci95(late["social_welfare"])
    row["cooperative_runs"] = float(np.mean(late["social_welfare"] > COOPERATIVE_RUN))
    returns = np.stack([late["return_0"], late["return_1"]], axis=-1)
    common.mean_and_ci(row, "equality", _gini_equality(-returns))
    roles = np.stack([late["close_return"], late["far_return"]], axis=-1)
    common.mean_and_ci(row, "equality_roles", _gini_equality(-roles))
    for name in ("return_0", "return_1", "close_return", "far_return", "escape_rate", "times_caught", "moves_tried"):
        common.mean_and_ci(row, name, late[name])
    for i in range(2):
        final = data[f"relative_attention_{i}"][:, -1] if d3c else np.full(config.seeds, np.nan)
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


SMOKE = {"seeds": 20, "reinforce.num_updates": 200, "methods": "selfish,d3c,d3c@iteration=episodes-slope-per-update"}
"""Tiny: three methods (every kind of claim: a D3C median per method, policy gradient's, "d3c"'s attention, weights
and ranking), 20 runs, 200 updates."""


@register("d3c-trust-your-brother", TYBConfig, presets={"smoke": SMOKE}, steps_key="reinforce.num_updates",
          run_folder=True)
def run(config: TYBConfig, progress, context: rl.RunContext | None = None) -> Results:
    context = context or rl.RunContext()
    common.require(not context.loggers, "d3c-trust-your-brother does not stream to loggers (its REINFORCE metrics "
                   "are per batch of episodes); drop --logger and read metrics.csv.")
    tick = progress(f"updates ({len(config.methods)} methods x {config.reinforce.num_updates})", len(config.methods) * config.reinforce.num_updates)
    rows, tables, curves = [], [], {}
    for method in config.methods:
        data = train(method, config, tick, context)
        rows.append(summarise(method, data, config))
        tables.append(tidy(method, data, config))
        curves[method] = _curves(data)
    summary = pd.DataFrame(rows)
    return Results(summary=summary, metrics=pd.concat(tables, ignore_index=True),
                   figures=report.figures(config, curves), report=report.markdown(config, summary),
                   table_columns=["social_welfare_median", "social_welfare", "cooperative_runs", "escape_rate",
                                  "relative_attention_0", "relative_attention_1"],
                   claims=claims(config, summary))


def _curves(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the figures need: every seed's returns, attention and weights over training (the first 200 seeds)."""
    keep = ("return_0", "return_1", "social_welfare", "relative_attention_0", "relative_attention_1",
            "weight_to_other_0", "weight_to_other_1")
    return {k: data[k][:200] for k in keep}


def claims(config: TYBConfig, summary: pd.DataFrame) -> list[Claim]:
    """§3.3 / Fig. 7 (medians over runs): D3C approaches the maximal total return, plain policy gradient does not;
    judged for every D3C method (reading) run. For "d3c" (Table 1 read literally; else the first D3C method): its
    agents move from selfish to other-regarding attention (Fig. 7 right), the mixing weights end at a mixture
    (Appx. F.2 / Fig. 16), and it has the higher mean total return than policy gradient."""
    rows = {r["method"]: r for r in summary.to_dict("records")}
    budget = verdicts.shortfall(("runs", config.seeds, PAPER_RUNS))
    out = []
    for method in (m for m in rows if is_d3c(m)):
        out.append(verdicts.number(
            "Fig. 7 (left), §3.3", report.claim_quantity(method, config.d3c), MAX_TOTAL_RETURN,
            rows[method]["social_welfare_median"], atol=MEDIAN_ATOL, close_atol=MEDIAN_CLOSE_ATOL,
            paper_text="approaches −1.0 (the maximum)", budget=budget))
    if "selfish" in rows:
        median = rows["selfish"]["social_welfare_median"]
        out.append(verdicts.finding(
            "Fig. 7 (left), §3.3", report.claim_quantity("selfish", config.d3c), "stays at a low return",
            f"{median:.3f}", median < MAX_TOTAL_RETURN - MEDIAN_CLOSE_ATOL, budget=budget,
            reason="policy gradient comes within 1.0 of the maximum"))
    primary = "d3c" if "d3c" in rows else next((m for m in rows if is_d3c(m)), None)
    if primary is None:
        return out
    d3c, name = rows[primary], report.label(primary, config.d3c)
    attention = max(d3c["relative_attention_0"], d3c["relative_attention_1"])
    out.append(verdicts.finding(
        "Fig. 7 (right)", f"{name}: relative reward attention ln(A_ii/A_ij) ends other-regarding (≤ 0)",
        "from ln 99 = 4.6 to negative", f"{d3c['relative_attention_0']:.2f}, {d3c['relative_attention_1']:.2f} "
        "(mean at the end)", attention <= 0, nearly=attention < 4.6 / 2, budget=budget,
        reason="attention stays selfish"))
    weight = min(d3c["weight_to_other_0"], d3c["weight_to_other_1"])
    out.append(verdicts.finding(
        "Fig. 16 (Appx. F.2)", f"{name}: mixing weights move from A_ij = 0.01 to a mixture (A_ij ≥ 0.1)",
        "a mixture of losses", f"A_01 = {d3c['weight_to_other_0']:.2f}, A_10 = {d3c['weight_to_other_1']:.2f} "
        "(mean at the end)", weight >= 0.1, nearly=weight >= 0.03, budget=budget, reason="weights stay near 0.01"))
    if "selfish" in rows:
        values = {"D3C": (d3c["social_welfare"], d3c["social_welfare_ci95"]),
                  "policy gradient": (rows["selfish"]["social_welfare"], rows["selfish"]["social_welfare_ci95"])}
        out.append(verdicts.best("Fig. 7 (left)", f"higher mean total return: {name} vs policy gradient", "D3C",
                                 values, "D3C", budget=budget))
    return out
