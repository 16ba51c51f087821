"""`d3c-nash-paradox` and `d3c-unfair`: the D3C paper's two small counterexamples, a bad Nash and an unfair
optimum.

Reproduces: Gemp et al. 2022 (AAMAS), Appx. B.1 (Game 1: gradient descent ends at the worst outcome for
kappa < 0.618) and Appx. F.6 (Game 2: D3C stops near losses 1.079 and -1.162 with A_11/A_12 about 11/10).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

from mixmo import games
from mixmo.experiments import common, markdown, verdicts
from mixmo.experiments.d3c import game_runs
from mixmo.experiments.d3c.game_runs import BoundSettings, D3CSettings
from mixmo.experiments.method_ids import DISPLAY
from mixmo.experiments.game_driver import each_run
from mixmo.experiments.registry import Claim, Results, register

PAPER_UNFAIR = {"loss_1": 1.079, "loss_2": -1.162, "A11/A12": 11 / 10}


@dataclass(frozen=True)
class NashParadoxConfig:
    """Configuration of `d3c-nash-paradox` (Appx. B). D3C's hyperparameters are not in the paper: chosen here."""

    seeds: int = 1000
    """Runs per kappa and method; starts uniform in [0, 1]^2."""
    steps: int = 1000
    """Updates per run."""
    lr: float = 0.05
    """Plain SGD learning rate, for both methods."""
    d3c: D3CSettings = D3CSettings(eps=0.1)
    """D3C's mixing (Gemp et al. 2022, §2.5)."""
    kappas: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)
    """Values of kappa in (0, 1]."""
    bound: BoundSettings = BoundSettings(every=50)
    """The local price-of-anarchy bound over training (Theorem 1)."""
    seed: int = 0
    """PRNG seed."""

    def validate(self):
        common.check_budget(self)
        common.require(len(self.kappas) >= 1 and all(0 < k <= 1 for k in self.kappas),
                        f"kappas must lie in (0, 1], got {self.kappas}.")


@register("d3c-nash-paradox", NashParadoxConfig, presets={"smoke": {"seeds": "3", "steps": "10", "kappas": "0.3", "bound.runs": "3"}})
def run_nash_paradox(config: NashParadoxConfig, progress) -> Results:
    key = jax.random.key(config.seed)
    compared = game_runs.both_methods(config)
    rows, per_run, curves = [], [], {}
    train = game_runs.trainer(config, key, record_params=True)
    for kappa, game, method_id, traj in each_run(config.kappas, games.nash_paradox, compared, train, progress,
                                                 "kappas x methods"):
        total = np.asarray(traj.losses, np.float64).sum(-1)
        ratio = total / game.optimum_total_loss
        x = np.stack([np.asarray(p, np.float64) for p in traj.params], axis=1)
        at_nash = np.all(x < 1e-3, axis=1)
        bound_steps, bound = game_runs.bound_over_training(game, traj, config)
        curves[kappa, method_id] = (ratio, bound_steps, bound)
        row = {"method": method_id, "kappa": kappa}
        game_runs.mean_sd_row(row, "ratio_to_optimal", ratio[:, -1])
        game_runs.mean_sd_row(row, "total_loss", total[:, -1])
        row["runs_at_nash"] = int(at_nash.sum())
        row["price_of_anarchy"] = game.nash_total_loss / game.optimum_total_loss
        row["nash_is_worst_outcome"] = bool(kappa < games.GOLDEN_RATIO_CONJUGATE)
        game_runs.mean_sd_row(row, "poa_bound", bound[:, -1])
        rows.append(row)
        per_run += [{"method": method_id, "kappa": kappa, "run": r, "x1": x[r, 0], "x2": x[r, 1],
                     "total_loss": total[r, -1], "ratio_to_optimal": ratio[r, -1]} for r in range(config.seeds)]
    summary = pd.DataFrame(rows)
    return Results(summary=summary, metrics=pd.DataFrame(per_run),
                   figures={"nash_paradox": _paradox_figure(config, summary, curves)},
                   report=_paradox_report(config, summary),
                   table_columns=["kappa", "ratio_to_optimal", "ratio_to_optimal_median", "runs_at_nash",
                                  "price_of_anarchy"],
                   claims=paradox_claims(config, summary))


def paradox_claims(config: NashParadoxConfig, summary: pd.DataFrame) -> list[Claim]:
    """Gemp et al. 2022, Appx. B (Game 1): gradient descent converges to the Nash (0, 0), the worst outcome for
    kappa < 0.618; D3C does better (no number given)."""
    defaults = NashParadoxConfig()
    budget = verdicts.shortfall(("runs", config.seeds, defaults.seeds), ("steps", config.steps, defaults.steps))
    out = []
    for kappa in config.kappas:
        rows = {r["method"]: r for r in summary[summary.kappa == kappa].to_dict("records")}
        if "gd" in rows:
            at_nash = rows["gd"]["runs_at_nash"]
            worst = " (the worst outcome)" if rows["gd"]["nash_is_worst_outcome"] else ""
            out.append(verdicts.finding("Appx. B", f"κ = {kappa:g}: gradient descent ends at the Nash{worst}",
                                       "every run", f"{at_nash}/{markdown.plural(config.seeds, 'run')}", at_nash >= 0.99 * config.seeds,
                                       nearly=at_nash >= 0.9 * config.seeds, budget=budget,
                                       reason="runs end away from (0, 0)"))
        if {"gd", "d3c"} <= set(rows):
            values = {DISPLAY[m]: (r["ratio_to_optimal"], r["ratio_to_optimal_ci95"]) for m, r in rows.items()}
            out.append(verdicts.best("Appx. B", f"κ = {kappa:g}: D3C does better (lower total loss)", "D3C", values,
                                    "D3C", higher=False, digits=4, budget=budget))
    return out


def _paradox_figure(config: NashParadoxConfig, summary: pd.DataFrame, curves):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    for method_id in ("gd", "d3c"):
        part = summary[summary.method == method_id]
        ax.errorbar(part.kappa, part.ratio_to_optimal, yerr=part.ratio_to_optimal_sd, fmt="o-", capsize=3,
                    color=game_runs.COLOURS[method_id], label=f"{game_runs.LABELS[method_id]} (mean ± 1 sd)")
    grid = np.linspace(min(config.kappas), max(config.kappas), 200)
    ax.plot(grid, (1 / grid) / (2 - grid), "k--", lw=1, label="price of anarchy (1/κ)/(2-κ)")
    ax.axvline(games.GOLDEN_RATIO_CONJUGATE, color="grey", lw=0.8, ls=":", label="κ = 0.618")
    ax.set(xlabel="κ", ylabel="final ratio to optimal", title="Game 1 (Nash paradox)")
    ax.legend(fontsize=8)
    ax = axes[1]
    kappa = min(config.kappas)
    for method_id in ("gd", "d3c"):
        ratio, bound_steps, bound = curves[kappa, method_id]
        game_runs.band(ax, np.arange(ratio.shape[1]), ratio, colour=game_runs.COLOURS[method_id],
                    label=game_runs.LABELS[method_id], median=False)
        ax.plot(bound_steps, np.nanmean(bound, 0), color=game_runs.COLOURS[method_id], ls=":", lw=1.2,
                label=f"{game_runs.LABELS[method_id]}: local PoA bound (Thm 1), mean")
    ax.set(xlabel="step", ylabel="ratio to optimal", title=f"over training, κ = {kappa:g}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _paradox_report(config: NashParadoxConfig, summary: pd.DataFrame) -> str:
    lines = ["# D3C paper, Appendix B: the Nash paradox (Game 1)", "", "![outcomes](nash_paradox.png)", "",
             "f_1 = x1² + 1/(x2² + κ), f_2 = x2² + 1/(x1² + κ), x_i in [0, 1]. The unique Nash equilibrium is "
             "(0, 0) with total 2/κ; the optimum x_i = √(1-κ) has total 2(2-κ). For κ < 0.618 the Nash equilibrium "
             f"has the largest total of all profiles. {markdown.plural(config.seeds, 'run')} per κ, starts uniform in [0, 1]². "
             "Final step; mean ± 95% CI, sd and median over runs.", "",
             "| κ | method | ratio to optimal (ours) | sd | median | runs at Nash | price of anarchy | Nash is the "
             "worst outcome | paper |", "|---|---|---|---|---|---|---|---|---|"]
    for row in summary.to_dict("records"):
        paper = ("worst outcome (the Nash)" if row["nash_is_worst_outcome"] else "the Nash") \
            if row["method"] == "gd" else "does better"
        lines.append(f"| {row['kappa']:g} | {DISPLAY[row['method']]} | "
                     f"{common.fmt(row['ratio_to_optimal'], row['ratio_to_optimal_ci95'], 4)} | "
                     f"{row['ratio_to_optimal_sd']:.3g} | {row['ratio_to_optimal_median']:.4f} | "
                     f"{row['runs_at_nash']}/{config.seeds} | {row['price_of_anarchy']:.4f} | "
                     f"{'yes' if row['nash_is_worst_outcome'] else 'no'} | {paper} |")
    lines += ["", "Paper (Appx. B): gradient descent, and any opponent shaping, converges to the Nash equilibrium "
              "(0, 0) — for κ < 0.618 the worst outcome for both players — because each player's own term x_i² "
              "pulls it to 0 whatever the other does. D3C players see their losses rise on the way there and mix "
              "the other's loss into theirs; the paper claims D3C does better but gives no number.", "",
              "## Choices the paper leaves open", "",
              "- x_i in [0, 1] is enforced by projection (clipping after each step); each f_i is even in x_i, so this "
              "only matters when a step overshoots.",
              f"- {game_runs.hyperparameter_line(config)}",
              "- ε > 0 keeps the mixing moving near a stationary point, so D3C does not stop at an equilibrium of "
              "the partly mixed game short of the optimum.",
              f"- The bound uses Δt = lr and μ̄ = {config.bound.mu_bar:g}.", "", *game_runs.config_lines(config)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class UnfairConfig:
    """Configuration of `d3c-unfair` (Appx. F.6). D3C's hyperparameters are not in the paper: chosen here."""

    seeds: int = 1000
    """Runs; starts uniform in [-1, 1]^2 (the paper shows one run and does not say where it starts)."""
    steps: int = 5000
    """Updates per run."""
    lr: float = 0.1
    """Plain SGD learning rate, for both methods."""
    d3c: D3CSettings = D3CSettings()
    """D3C's mixing (Gemp et al. 2022, §2.5)."""
    nash_tol: float = 1e-3
    """A run ends at the Nash equilibrium if |x1| < nash_tol."""
    diverged_above: float = 10.0
    """A run has diverged if |x1| > this (or is not finite)."""
    seed: int = 0
    """PRNG seed."""

    def validate(self):
        common.check_budget(self)
        common.require(0 < self.nash_tol < self.diverged_above, "need 0 < nash_tol < diverged_above.")


@register("d3c-unfair", UnfairConfig, presets={"smoke": {"seeds": "3", "steps": "10"}})
def run_unfair(config: UnfairConfig, progress) -> Results:
    game = games.unfair()
    key = jax.random.key(config.seed)
    rows, per_run, example = [], [], None
    compared = game_runs.both_methods(config)
    train = game_runs.trainer(config, key, record_params="d3c")
    for _, _, method_id, traj in each_run([None], lambda _: game, compared, train, progress, "methods"):
        final = np.asarray(traj.losses[:, -1], np.float64)
        x1 = np.asarray(traj.params[0], np.float64)
        A = np.asarray(game_runs.mixing_path(traj, 2)[:, -1], np.float64)
        outcome = np.where(~np.isfinite(x1) | (np.abs(x1) > config.diverged_above), "diverged",
                           np.where(np.abs(x1) < config.nash_tol, "nash", "halted"))
        halted = outcome == "halted"
        row = {"method": method_id}
        # a diverging run's losses head to (+inf, -inf); count non-finite ones there, and use medians: the
        # diverging runs swamp any mean
        final = np.where(np.isfinite(final), final, np.array([np.inf, -np.inf]))
        for i in (1, 2):
            row[f"loss_{i}"] = float(np.median(final[:, i - 1]))
            row[f"loss_{i}_halted"] = float(np.median(final[halted, i - 1])) if halted.any() else None
        for name in ("nash", "halted", "diverged"):
            row[f"runs_{name}"] = int(np.sum(outcome == name))
        with np.errstate(divide="ignore", invalid="ignore"):
            row["A11_over_A12_halted"] = float(np.median(A[halted, 0, 0] / A[halted, 0, 1])) if halted.any() else None
            row["A11_over_A21_halted"] = float(np.median(A[halted, 0, 0] / A[halted, 1, 0])) if halted.any() else None
        rows.append(row)
        per_run += [{"method": method_id, "run": r, "outcome": outcome[r], "loss_1": final[r, 0],
                     "loss_2": final[r, 1], "A11": A[r, 0, 0], "A12": A[r, 0, 1], "A21": A[r, 1, 0],
                     "A22": A[r, 1, 1]} for r in range(config.seeds)]
        if method_id == "d3c" and halted.any():
            r = int(np.flatnonzero(halted)[0])
            example = (r, np.asarray(traj.params_path[0][r]), np.asarray(traj.losses[r]),
                       np.asarray(traj.method_states.A[r]))
    summary = pd.DataFrame(rows)
    return Results(summary=summary, metrics=pd.DataFrame(per_run),
                   figures={"unfair": _unfair_figure(pd.DataFrame(per_run), example)},
                   report=_unfair_report(config, summary),
                   table_columns=["loss_1", "loss_2", "runs_nash", "runs_halted", "runs_diverged",
                                  "loss_1_halted", "loss_2_halted", "A11_over_A21_halted"],
                   claims=unfair_claims(config, summary))


def unfair_claims(config: UnfairConfig, summary: pd.DataFrame) -> list[Claim]:
    """Gemp et al. 2022, Appx. F.6 (Game 2): D3C effectively halts near losses 1.079 and -1.162 with
    A_11/A_12 about 11/10 (one run)."""
    d3c = summary[summary.method == "d3c"]
    quantities = [("D3C's final loss f_1", "loss_1_halted", PAPER_UNFAIR["loss_1"], "1.079"),
                  ("D3C's final loss f_2", "loss_2_halted", PAPER_UNFAIR["loss_2"], "-1.162"),
                  ("D3C's final A_11/A_12", "A11_over_A12_halted", PAPER_UNFAIR["A11/A12"], "≈ 11/10"),
                  ("D3C's final A_11/A_21 (the transpose)", "A11_over_A21_halted", PAPER_UNFAIR["A11/A12"], "≈ 11/10")]
    if d3c.empty or pd.isna(d3c.iloc[0]["loss_1_halted"]):
        return [verdicts.not_comparable("Appx. F.6", q, text, "–", "no D3C run halted (all ended at the Nash or "
                                       "diverged)") for q, _, _, text in quantities]
    row = d3c.iloc[0]
    budget = verdicts.shortfall(("steps", config.steps, UnfairConfig().steps))
    median = f"median of the {row['runs_halted']} halted runs; the paper shows one run without its start"
    transpose = ("f^A = Aᵀf (§2.1) puts the halting condition on column 1 of A, i.e. A_11/A_21; the paper's A_11/A_12 "
                 "is it under f^A = A f")
    notes = [median, median, transpose, median]
    return [verdicts.number("Appx. F.6", q, paper, float(row[key]), rtol=0.1, digits=3, paper_text=text, budget=budget,
                           note=note) for (q, key, paper, text), note in zip(quantities, notes)]


def _unfair_figure(per_run: pd.DataFrame, example):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    d3c = per_run[(per_run.method == "d3c") & (per_run.outcome == "halted")]
    ax.scatter(d3c.loss_1, d3c.loss_2, s=6, color=game_runs.COLOURS["d3c"], label=f"D3C, halted runs ({len(d3c)})")
    ax.plot([0], [0], "ks", label="Nash (0, 0)")
    ax.plot([PAPER_UNFAIR["loss_1"]], [PAPER_UNFAIR["loss_2"]], "*", color="gold", ms=14, mec="k",
            label="paper's D3C (1.079, -1.162)")
    top = max(2.0, float(d3c.loss_1.quantile(0.9)) if len(d3c) else 2.0)
    ax.plot([0, top], [0, -1.1 * top], "k:", lw=1, label="x2 = 0: f2 = -1.1 f1 (welfare grows this way)")
    ax.set(xlim=(-0.1, top), ylim=(-1.15 * top, 0.5), xlabel="f_1", ylabel="f_2", title="Game 2: final losses")
    ax.legend(fontsize=7)
    ax = axes[1]
    if example is not None:
        r, x1, losses, A = example
        steps = np.arange(len(x1))
        ax.plot(steps, losses[:, 0], color="tab:red", label="f_1")
        ax.plot(steps, losses[:, 1], color="tab:purple", label="f_2")
        ax2 = ax.twinx()
        ax2.plot(steps, A[:, 0, 0] / A[:, 1, 0], color="k", lw=1, label="A_11 / A_21")
        ax2.axhline(1.1, color="grey", ls=":", lw=1)
        ax2.set_ylabel("A_11 / A_21")
        ax2.set_ylim(0, 3)
        ax.set(xlabel="step", ylabel="loss", title=f"one halted D3C run (run {r})")
        ax.legend(fontsize=8, loc="upper left")
        ax2.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def _unfair_report(config: UnfairConfig, summary: pd.DataFrame) -> str:
    d3c = summary[summary.method == "d3c"].iloc[0].to_dict()
    lines = ["# D3C paper, Appendix F.6: implicit inequity aversion (Game 2)", "", "![outcomes](unfair.png)", "",
             "f_1 = x1², f_2 = x2² - 1.1 x1². Nash: (0, 0), losses (0, 0). Welfare maximisation: x1 → ±∞, f_1 → +∞, "
             f"f_2 → -∞ (total unbounded below). {markdown.plural(config.seeds, 'run')} from starts uniform in [-1, 1]², "
             f"{config.steps} steps. A run ends at the Nash if |x1| < {config.nash_tol:g}, has diverged if "
             f"|x1| > {config.diverged_above:g}, and has otherwise (effectively) halted.", "",
             "| method | loss_1 (median) | loss_2 (median) | runs at Nash | halted | diverged | halted runs: loss_1, "
             "loss_2 (median) | halted runs: A_11/A_12 | halted runs: A_11/A_21 |", "|---|---|---|---|---|---|---|---|---|"]
    for row in summary.to_dict("records"):
        halted = (f"{row['loss_1_halted']:.3f}, {row['loss_2_halted']:.3f}" if not pd.isna(row["loss_1_halted"])
                  else "–")
        ratio12 = f"{row['A11_over_A12_halted']:.3f}" if not pd.isna(row["A11_over_A12_halted"]) else "–"
        ratio21 = f"{row['A11_over_A21_halted']:.3f}" if not pd.isna(row["A11_over_A21_halted"]) else "–"
        lines.append(f"| {DISPLAY[row['method']]} | {row['loss_1']:.3f} | {row['loss_2']:.3f} | {row['runs_nash']} | "
                     f"{row['runs_halted']} | {row['runs_diverged']} | {halted} | {ratio12} | {ratio21} |")
    lines += [f"| paper's D3C (one run) | {PAPER_UNFAIR['loss_1']} | {PAPER_UNFAIR['loss_2']} | | | | | ≈ 11/10 | |",
              "", "## Reading the result", "",
              "Under f^A = Aᵀf player 1's mixed loss is A_11 f_1 + A_21 f_2 = (A_11 - 1.1 A_21) x1² + A_21 x2², so x1 "
              "stops moving exactly when A_11/A_21 = 11/10: a condition on column 1 of A, i.e. on player 2's "
              "weight A_21. Player 2 raises A_21 while its loss rises (x1 shrinking lifts -1.1 x1² towards 0); "
              "player 1, descending a mixed loss that keeps falling, never shifts its own row (improve-stay), so "
              "A_11/A_12 stays at 99. The paper's \"A_11/A_12 ≈ 11/10\" is the halting condition with the "
              "transpose, i.e. under f^A = A f — the library follows §2.1's f^A = Aᵀf (DESIGN.md), and there the "
              "halting ratio shows up as A_11/A_21.", "",
              f"Which way a run goes depends on a race: if x1 reaches 0 before player 2 has shifted enough weight, "
              f"the run ends at the Nash ({d3c['runs_nash']} runs); if player 2's weight crosses 1/1.1 of A_11, x1 "
              "grows, and it grows until player 2's loss falls fast enough that player 2 stops shifting — A_11/A_21 "
              "then sits just under 11/10 and x1 creeps outward (\"effectively halting\"; the halted runs' losses "
              f"keep growing slowly with more steps); when the crossing overshoots, x1 runs off ({d3c['runs_diverged']} "
              "runs). The paper shows a single run and does not give its start or hyperparameters.", "",
              "## Choices the paper leaves open", "",
              f"- {game_runs.hyperparameter_line(config)}", "- Starts uniform in [-1, 1]².",
              "- loss_1 and loss_2 in the summary are medians over all runs, non-finite (diverged) losses counted as "
              "+∞ and -∞ (the diverging runs swamp any mean); the halted runs' medians are reported beside them.", "", *game_runs.config_lines(config)]
    return "\n".join(lines) + "\n"
