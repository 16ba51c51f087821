"""`methods-ipd`: the opponent-shaping family on the iterated prisoner's dilemma (exact returns, gamma 0.96).

Reproduces the known outcome of Foerster et al. 2018 (Fig. 3) and Letcher et al. 2019 (Fig. 2): LOLA and SOS
find tit-for-tat-like cooperation (average reward per step about -1), while naive learning, LookAhead,
consensus (CGA) and SGA end in mutual defection (about -2).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import optax
import pandas as pd

from mixmo import games
from mixmo.experiments import verdicts, common
from mixmo.experiments import markdown
from mixmo.experiments.method_ids import DISPLAY, parse_methods
from mixmo.experiments.game_driver import each_run
from mixmo.experiments.registry import Claim, Results, register
from mixmo.learning import learn

PAPER = {"simul-ind": -2.0, "lookahead": -2.0, "cga": -2.0, "sga": -2.0, "lola": -1.0, "sos": -1.0}
COOPERATIVE = -1.2  # a run counts as cooperative if its average reward per step ends above this


@dataclass(frozen=True)
class IPDConfig:
    """Configuration of `methods-ipd` (defaults: Letcher et al. 2019's exact IPD setting)."""

    seeds: int = 50
    """Runs, starting logits ~ N(0, 1) (the papers: 50)."""
    steps: int = 200
    """Updates per run."""
    lr: float = 1.0
    """Plain SGD learning rate on the unnormalised losses -V_i (Letcher et al.: 1)."""
    alpha: float = 1.0
    """LookAhead / LOLA / SOS look-ahead rate: the opponents' assumed learning rate (Letcher et al.: 1)."""
    cga_lam: float = 1.0
    """Consensus (CGA) lambda."""
    sga_lam: float = 1.0
    """SGA's |lambda|."""
    gamma: float = 0.96
    """Discount factor."""
    methods: tuple[str, ...] = ("simul-ind", "lookahead", "cga", "sga", "lola", "sos")
    """Methods to compare (command-line ids)."""
    seed: int = 0
    """PRNG seed."""

    def validate(self):
        common.check_budget(self)
        common.require(0 < self.gamma < 1, f"gamma must be in (0, 1), got {self.gamma}.")
        common.require(self.alpha >= 0, f"alpha must be >= 0, got {self.alpha}.")
        parse_methods(self.methods, self)


@register("methods-ipd", IPDConfig, presets={"smoke": {"seeds": "3", "steps": "10", "methods": "simul-ind,lola"}})
def run(config: IPDConfig, progress) -> Results:
    game = games.ipd(config.gamma)
    methods = parse_methods(config.methods, config)
    key = jax.random.key(config.seed)
    rows, per_run, curves = [], [], {}

    def train(game, method_id, method):
        return learn(game, method, optax.sgd(config.lr), steps=config.steps, seeds=config.seeds, key=key)

    for _, _, method_id, traj in each_run([None], lambda _: game, methods, train, progress, "methods"):
        reward = np.asarray(traj.payoffs).mean(axis=-1)  # (runs, steps + 1), average over the two players
        final = reward[:, -1]
        row = {"method": method_id}
        common.mean_and_ci(row, "average_reward", final)
        row["cooperative_runs"] = int(np.sum(final > COOPERATIVE))
        row["diverged_runs"] = int(np.sum(~np.isfinite(final)))
        rows.append(row)
        curves[method_id] = reward
        per_run += [{"method": method_id, "run": r, "average_reward": float(final[r]),
                     "reward_1": float(traj.payoffs[r, -1, 0]), "reward_2": float(traj.payoffs[r, -1, 1])}
                    for r in range(config.seeds)]
    summary = pd.DataFrame(rows)
    found = claims(config, summary)
    return Results(summary=summary, metrics=pd.DataFrame(per_run), figures={"average_reward": _figure(curves)},
                   report=_report(config, summary, found),
                   table_columns=["average_reward", "cooperative_runs", "diverged_runs"], claims=found)


def claims(config: IPDConfig, summary: pd.DataFrame) -> list[Claim]:
    """The known outcomes (Foerster et al. 2018, Fig. 3; Letcher et al. 2019, Fig. 2): about -1 per step for LOLA
    and SOS, -2 for the rest; within 0.3 of it counts as reproduced."""
    budget = verdicts.shortfall(("runs", config.seeds, 50), ("steps", config.steps, 200))
    return [verdicts.number("Letcher et al. 2019, Fig. 2", f"{DISPLAY[row['method']]} average reward per step",
                           PAPER[row["method"]], row["average_reward"], rtol=0.0, atol=0.3, close_atol=0.5,
                           paper_text=f"≈ {PAPER[row['method']]:.0f}", budget=budget)
            for row in summary.to_dict("records") if row["method"] in PAPER]


def _figure(curves):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for method_id, reward in curves.items():
        mean, sd = np.nanmean(reward, axis=0), np.nanstd(reward, axis=0)
        steps = np.arange(reward.shape[1])
        ax.plot(steps, mean, label=DISPLAY[method_id])
        ax.fill_between(steps, mean - sd, mean + sd, alpha=0.15)
    ax.axhline(-1, color="grey", ls="--", lw=1)
    ax.axhline(-2, color="grey", ls=":", lw=1)
    ax.set(xlabel="update", ylabel="average reward per step (mean ± sd over runs)",
           title="Iterated prisoner's dilemma, exact returns (γ = 0.96)", ylim=(-2.2, -0.8))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _report(config: IPDConfig, summary: pd.DataFrame, found: list[Claim]) -> str:
    lines = ["# Opponent shaping on the iterated prisoner's dilemma", "", "![curves](average_reward.png)", "",
             f"{config.seeds} runs, {config.steps} updates, lr {config.lr}, look-ahead α {config.alpha}. Average "
             "reward per step, (1 − γ)·V, at the end (−1: mutual cooperation, −2: mutual defection); a run is "
             f"cooperative if it ends above {COOPERATIVE}.", "",
             "| method | average reward (ours) | known outcome | cooperative runs | verdict |", "|---|---|---|---|---|"]
    verdicts = {claim.quantity.removesuffix(" average reward per step"): claim.verdict for claim in found}
    for row in summary.to_dict("records"):
        known = PAPER.get(row["method"])
        verdict = verdicts.get(DISPLAY[row["method"]], "–")
        lines.append(f"| {DISPLAY[row['method']]} | {common.fmt(row['average_reward'], row['average_reward_ci95'])} "
                     f"| {'–' if known is None else f'≈ {known:.0f}'} | {row['cooperative_runs']}/{config.seeds} "
                     f"| {verdict} |")
    lines += ["", "## Choices", "",
              "- LOLA is the exact-gradient form as Letcher et al. 2019 write it, with the LookAhead term: "
              "(I − αH_o)ξ − α·diag(H_oᵀ∇L). SOS uses their a = 0.5, b = 0.1.",
              "- Losses are the unnormalised −V_i, as in both papers, so their learning rates and SOS's constants "
              "apply unchanged; the table reports the normalised (1 − γ)V_i.",
              "- A method lands within 0.3 of the known outcome to count as reproduced, within 0.5 as close "
              "(`mixmo.experiments.verdicts`); with fewer than half the 50 runs or 200 updates it is not "
              "comparable.", "",
              *markdown.config_block(config)]
    return "\n".join(lines) + "\n"
