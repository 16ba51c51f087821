"""`aga-cleanup` and `aga-harvest`: the AgA paper's sequential social dilemmas (§5.2, Cleanup and Harvest).

Reproduces: Li et al. 2024 (arXiv 2402.12416), §5.2: Simul-Ind, Simul-Co, SVO, SL, CGA and AgA (lambda = 100)
trained with PPO on Cleanup and Harvest with 5 agents and 3 seeds, compared by social welfare (mean total
return per episode at the end of training), equality and per-agent returns; plus the paper's lambda study
(AgA at lambda in {0.1, 1, 1000}: `--set aga.extra_lams=0.1,1,1000`).

Every method trains the same multi-agent PPO (`mixmo.rl.make_train`); only the policy update direction
(`mixmo.methods`) or, for SVO and SL, the rewards differ. Seeds are vmapped; methods run one after another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

from mixmo import envs, rl
from mixmo.config import Cited
from mixmo.experiments import common, rl_common, verdicts
from mixmo.experiments.aga.rl_methods import METHOD_IDS, LineUp, build, diagnosed, runs
from mixmo.experiments import markdown
from mixmo.experiments.method_ids import DISPLAY
from mixmo.experiments.registry import Claim, Results, register
from mixmo.experiments.rl_common import RunSettings

# What the paper's text gives for §5.2 (the seeds hold no full table): AgA's mean social welfare and margins.
PAPER = {
    "cleanup": {"aga_social_welfare": 105.15, "margin": "about 56% above the next best method",
                "env_steps": 2e7},
    "harvest": {"aga_social_welfare": None, "margin": "33.55 above the next best method (social welfare)",
                "env_steps": 1e7},
}
# per-episode statistics reported per method (summed over agents), by environment
EPISODE_STATS = ("apples_eaten", "cleaning_actions", "beams_fired", "times_hit")
ENV_STATS = {"cleanup": EPISODE_STATS, "harvest": ("apples_eaten", "beams_fired", "times_hit")}
# diagnostics summarised over the last `run.window` of updates (runs of adjusted methods only)
DIAGNOSED_SUMMARY = ("negative_sign_fraction", "cos_direction_xi", "cos_direction_xi_c", "xi_norm", "xi_c_norm",
                     "hc_xi_c_norm")


@dataclass(frozen=True)
class SSDConfig(LineUp):
    """Configuration of `aga-cleanup` / `aga-harvest` (defaults: 15–25 minutes on the project's 2-core CPU)."""

    seeds: int = 3
    """Independent runs per method (the paper: 3), vmapped together."""
    num_agents: int = 5
    """Agents (the paper: 5)."""
    max_steps: int = 1000
    """Episode length in steps (the paper's environments: 1000)."""
    sharing: bool = False
    """One policy (and critic) shared by all agents for every method but Simul-Ind, which keeps one per agent
    (App. E.1: "separated policy parameters for Simul-Ind and sharing same policy parameters for other
    experiments"). False: one policy per agent for every method (mixmo's default)."""
    fairness_alpha: float = 0.0
    """alpha of §5.2's collective reward for CGA and AgA, sum_i (r_i - alpha (1 - atan2(sum_{j!=i} r_j, r_i)))
    (`mixmo.rl.fairness_collective`); the paper does not give alpha. 0: the plain sum of rewards (default)."""
    ppo: rl.PPOConfig = rl.PPOConfig(total_steps=196_608, value_clip=10.0)
    """The trainer. value_clip 10, not PPO's usual 0.2: returns here are in the tens to hundreds (a hit costs 50),
    and a 0.2 clip would let each critic move only 0.2 per update."""
    run: RunSettings = RunSettings(checkpoint_every=16, window=0.1)
    gif_steps: int = 200
    """Steps of the GIF of trained agents (0: no GIF)."""

    known_methods = (*METHOD_IDS, "aga-head")  # aga-head: AgA on the MLP policy's action head only

    def validate(self):
        common.require(self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}.")
        common.require(math.isfinite(self.fairness_alpha) and self.fairness_alpha >= 0,
                       f"fairness_alpha must be a number >= 0, got {self.fairness_alpha}.")
        common.require(self.num_agents >= 2, f"num_agents must be >= 2, got {self.num_agents}.")
        common.require(self.max_steps >= 1, f"max_steps must be >= 1, got {self.max_steps}.")
        common.require(self.gif_steps >= 0, f"gif_steps must be >= 0, got {self.gif_steps}.")
        super().validate()


def _run_experiment(env_name: str, config: SSDConfig, progress, context: rl.RunContext | None) -> Results:
    context = context or rl.RunContext()
    env = rl_common.environment(env_name, num_agents=config.num_agents, max_steps=config.max_steps)
    ppo = config.ppo
    all_runs = runs(config)
    run_dir = context.run_dir

    states, histories, timings = rl_common.train_runs(
        [run_id for run_id, _ in all_runs], lambda run_id: make_trainer(run_id, config, env), config, context, progress, label=env_name,
        stats=ENV_STATS[env_name])
    final_policies = {run_id: s.policy for run_id, s in states.items()}
    per_update = [tidy_run(run_id, lam, histories[run_id], ppo, ENV_STATS[env_name]) for run_id, lam in all_runs]
    curves = pd.concat(per_update, ignore_index=True)
    summary = _summary(curves, all_runs, config, ppo)
    notes = rl_common.episode_notes(histories, config.run.window, max_steps=config.max_steps, num_envs=ppo.num_envs,
                                    steps_per_env=ppo.num_updates * ppo.num_steps, steps_key="ppo.total_steps")
    gif = None
    if run_dir is not None and config.gif_steps:
        shown = "aga" if "aga" in final_policies else all_runs[-1][0]
        policy = jax.tree.map(lambda x: x[0], final_policies[shown])
        frames = rl.policy_rollout_frames(envs.frame_stack(env, ppo.frame_stack), policy,
                                          jax.random.key(config.run.seed + 1), config.gif_steps)
        gif = rl.write_gif(frames, run_dir / f"{env_name}_{shown}.gif", upscale=2, key=envs.render.legend(env)).name
    return Results(
        summary=summary,
        metrics=curves,
        figures={"training_curves": _figure(curves, all_runs, env_name)},
        report=_report(env_name, config, ppo, summary, timings, gif, notes),
        table_columns=["social_welfare", "equality"] + [f"return_{i}" for i in range(config.num_agents)],
        claims=claims(env_name, config, summary),
        timings={"training_seconds": timings},
        notes=notes,
    )


@rl_common.reused
def make_trainer(run_id: str, config: SSDConfig, env) -> rl.Trainer:
    """The trainer of one run (e.g. "aga", "aga@1"), as the experiment trains it (the benchmarks build it here too):
    its method or shaping, sharing for every method but Simul-Ind, §5.2's collective reward for CGA and AgA,
    diagnostics for the adjusted methods."""
    method, reward = build(run_id, config)
    method_id = run_id.partition("@")[0]
    fair = method_id == "cga" or method_id.startswith("aga")
    return rl.make_train(config.ppo, env, method, reward, shared=config.sharing and method_id != "simul-ind",
                         collective_reward=rl.fairness_collective(config.fairness_alpha)
                         if fair and config.fairness_alpha else None,
                         diagnose=diagnosed(config, run_id))


def claims(env_name: str, config: SSDConfig, summary: pd.DataFrame) -> list[Claim]:
    """Li et al. 2024, §5.2 (as `PAPER` quotes it): AgA has the highest social welfare on Cleanup and Harvest,
    AgA's social welfare on Cleanup (105.15) and its margin over the next best method (Cleanup: about 56%;
    Harvest: 33.55)."""
    paper = PAPER[env_name]
    source = f"§5.2 ({env_name.capitalize()})"
    steps = int(summary["env_steps_per_seed"].iloc[0]) if len(summary) else 0
    budget = verdicts.shortfall(("environment steps per seed", steps, paper["env_steps"]), ("seeds", config.seeds, 3))
    if config.num_agents != 5:
        budget = verdicts.join(budget, f"{config.num_agents} agents, the paper's 5")
    main = summary[summary.setting_lam.isin(["-", f"{config.aga.lam:g}"])]
    values = {DISPLAY.get(r["method"], r["method"]): (r["social_welfare"], r["social_welfare_ci95"])
              for r in main.to_dict("records")}
    out = [verdicts.best(source, "highest social welfare", "AgA", values, "AgA", digits=2, budget=budget)]
    main = main[np.isfinite(main.social_welfare)]  # runs without a finished episode have no value
    aga = main[main.method == "aga"]
    others = main[main.method != "aga"].sort_values("social_welfare", ascending=False)
    if aga.empty or others.empty:
        return out
    aga, nxt = aga.iloc[0], others.iloc[0]
    spread = math.hypot(aga.social_welfare_ci95, nxt.social_welfare_ci95)
    if paper["aga_social_welfare"] is not None:
        out.append(verdicts.number(source, "AgA social welfare", paper["aga_social_welfare"], aga.social_welfare,
                                  ours_ci=aga.social_welfare_ci95, rtol=0.1, digits=2, budget=budget))
    quantity = f"AgA's social welfare above the next best ({DISPLAY.get(nxt.method, nxt.method)})"
    if env_name == "cleanup" and nxt.social_welfare <= 0:
        out.append(verdicts.not_comparable(source, quantity, "about 56%", f"{nxt.social_welfare:.2f} (next best)",
                                          verdicts.join(budget, "the next best social welfare is not positive: "
                                                       "no relative margin")))
    elif env_name == "cleanup":
        out.append(verdicts.number(source, quantity, 0.56, aga.social_welfare / nxt.social_welfare - 1, rtol=0.0,
                                  atol=0.1, digits=2, paper_text="about 56%", budget=budget))
    else:
        out.append(verdicts.number(source, quantity, 33.55, aga.social_welfare - nxt.social_welfare, ours_ci=spread,
                                  rtol=0.1,
                                  digits=2, budget=budget))
    return out


def tidy_run(run_id: str, lam, history: dict[str, np.ndarray], ppo: rl.PPOConfig, stats) -> pd.DataFrame:
    """One row per seed x update of one run (also used by `aga_smax`): per-episode means of the episodes that
    ended in that update, and the update's losses."""
    common = rl_common.episode_frame(run_id.partition("@")[0], history, ppo.batch_steps, stats)
    frame = {"method": common.pop("method"), "lam": lam if lam is not None else np.nan, **common}
    for name in ("policy_loss", "collective_loss", "value_loss", "entropy", "approx_kl", "direction_norm"):
        frame[name] = history[name].ravel()
    if "steps_taken" in history:
        frame["steps_taken"] = history["steps_taken"].ravel()
    for name, column in rl_common.DIAGNOSTIC_COLUMNS.items():
        if name in history:
            frame[column] = history[name].ravel()
    df = pd.DataFrame(frame)
    df.insert(1, "run", run_id)
    return df


def _summary(curves: pd.DataFrame, all_runs, config: SSDConfig, ppo: rl.PPOConfig) -> pd.DataFrame:
    rows = []
    for run_id, lam in all_runs:
        data = curves[curves.run == run_id]
        row = {"method": run_id.partition("@")[0], "setting_lam": f"{lam:g}" if lam is not None else "-"}
        returns = np.stack([rl_common.window_means(data, f"return_{i}", config.run.window, ppo.num_updates)
                            for i in range(config.num_agents)], axis=-1)  # (seeds, N)
        common.mean_and_ci(row, "social_welfare", returns.sum(axis=-1))
        common.mean_and_ci(row, "equality", rl_common.equality_or_nan(returns))
        for i in range(config.num_agents):
            common.mean_and_ci(row, f"return_{i}", returns[:, i])
        for name in EPISODE_STATS:
            if name in data:
                common.mean_and_ci(row, name, rl_common.window_means(data, name, config.run.window, ppo.num_updates))
        first = ppo.num_updates - max(1, int(round(config.run.window * ppo.num_updates))) + 1
        late_updates = data[data["update"] >= first].groupby("seed")
        common.mean_and_ci(row, "policy_entropy", late_updates["entropy"].mean().to_numpy())
        for column in DIAGNOSED_SUMMARY:
            if column in data and data[column].notna().any():
                common.mean_and_ci(row, column, late_updates[column].mean().to_numpy())
        row["env_steps_per_seed"] = ppo.num_updates * ppo.batch_steps
        rows.append(row)
    return pd.DataFrame(rows)


def _figure(curves: pd.DataFrame, all_runs, env_name: str):
    import matplotlib.pyplot as plt

    panels = ["social_welfare", "apples_eaten", "cleaning_actions" if env_name == "cleanup" else "beams_fired"]
    diagnosed = "negative_sign_fraction" in curves and curves["negative_sign_fraction"].notna().any()
    fig, axes = plt.subplots(2 if diagnosed else 1, 3, figsize=(13, 7.2 if diagnosed else 3.6), squeeze=False)
    for index, (run_id, _) in enumerate(all_runs):
        data = curves[(curves.run == run_id) & (curves.episodes > 0)]
        method = run_id.partition("@")[0]
        label = DISPLAY.get(method, method) + (f" (λ={run_id.partition('@')[2]})" if "@" in run_id else "")
        color = f"C{index % 10}"
        for ax, column in zip(axes[0], panels):
            if column not in data:
                continue
            by_step = data.groupby("env_steps")[column]
            mean = by_step.mean()
            ax.plot(mean.index, mean.to_numpy(), label=label, color=color)
            ax.fill_between(mean.index, by_step.min().to_numpy(), by_step.max().to_numpy(), alpha=0.15, color=color)
        if diagnosed:
            _diagnostic_panels(axes[1], curves[curves.run == run_id], label, color)
    for ax, column in zip(axes[0], panels):
        ax.set_xlabel("environment steps per seed")
        ax.set_title(column.replace("_", " ") + " per episode")
    axes[0][0].legend(fontsize=7)
    if diagnosed:
        titles = ("fraction of minibatch steps with AgA's sign < 0", "cos(ξ̃, ξ) solid, cos(ξ̃, ξ_c) dashed",
                  "‖ξ‖ solid, ‖ξ_c‖ dashed, ‖H_c ξ_c‖ dotted")
        for ax, title in zip(axes[1], titles):
            ax.set_xlabel("environment steps per seed")
            ax.set_title(title, fontsize=9)
        axes[1][2].set_yscale("log")
        axes[1][0].legend(fontsize=7)
    fig.suptitle(f"{env_name.capitalize()}: mean over seeds (band: min–max)"
                 + ("; bottom: diagnostics of the adjusted methods (rolling mean over 2% of the updates)"
                    if diagnosed else ""))
    fig.tight_layout()
    return fig


def _diagnostic_panels(axes, data: pd.DataFrame, label: str, color) -> None:
    """The diagnostics of one run (mean over seeds per update, then a centred rolling mean over 2% of the updates
    so that long runs stay readable), if it has them."""
    if "negative_sign_fraction" not in data or data["negative_sign_fraction"].isna().all():
        return
    by_step = data.groupby("env_steps")
    window = max(1, len(by_step) // 50)

    def smooth(column):
        return by_step[column].mean().rolling(window, min_periods=1, center=True).mean()

    axes[0].plot(smooth("negative_sign_fraction"), color=color, label=label)
    axes[1].plot(smooth("cos_direction_xi"), color=color)
    axes[1].plot(smooth("cos_direction_xi_c"), color=color, linestyle="--")
    for column, style in (("xi_norm", "-"), ("xi_c_norm", "--"), ("hc_xi_c_norm", ":")):
        axes[2].plot(smooth(column), color=color, linestyle=style)


def _report(env_name: str, config: SSDConfig, ppo: rl.PPOConfig, summary: pd.DataFrame, timings, gif,
            notes: list[str]) -> str:
    paper = PAPER[env_name]
    steps = ppo.num_updates * ppo.batch_steps
    cols = ["social_welfare", "equality"] + [f"return_{i}" for i in range(config.num_agents)]
    extra = [c for c in EPISODE_STATS if c in summary] + ["policy_entropy"]
    lines = [f"# AgA paper §5.2: {env_name.capitalize()}", "",
             f"{markdown.plural(config.seeds, 'seed')} per method, {steps:,} environment steps per seed (all {config.num_agents} agents "
             f"act every step), episodes of {config.max_steps} steps. Per seed: the mean over the episodes that "
             f"ended in the last {config.run.window:.0%} of training; then mean ± 95% CI (1.96 sd/√seeds) over seeds. "
             "policy_entropy: the agents' mean policy entropy (nats) over the same updates (uniform: "
             f"{math.log(9 if env_name == 'cleanup' else 8):.2f}).", "",
             "| method | λ | " + " | ".join(cols + extra) + " |", "|---|---|" + "---|" * len(cols + extra)]
    for row in summary.to_dict("records"):
        cells = [_cell(row[c], row[f"{c}_ci95"] if config.seeds > 1 else None) for c in cols + extra]
        lines.append(f"| {DISPLAY.get(row['method'], row['method'])} | {row['setting_lam']} | " + " | ".join(cells) + " |")
    main = summary[summary.setting_lam.isin(["-", f"{config.aga.lam:g}"])]
    missing = main[~np.isfinite(main.social_welfare)]
    main = main[np.isfinite(main.social_welfare)]  # rankings skip methods without a value
    ranked = main.sort_values("social_welfare", ascending=False)
    lines += [*(["", *[f"**Note:** {note}" for note in notes]] if notes else []), *_diagnostics_section(summary, config),
              "", "## Beside the paper", ""]
    if paper["aga_social_welfare"] is not None:
        lines.append(f"- Paper: AgA's mean social welfare {paper['aga_social_welfare']}, {paper['margin']}, "
                     f"after {paper['env_steps']:.0e} environment steps.")
    else:
        lines.append(f"- Paper: AgA's social welfare {paper['margin']}, after {paper['env_steps']:.0e} environment steps.")
    if len(ranked):
        best = ranked.iloc[0]
        text = f"- Ours: highest social welfare **{DISPLAY.get(best.method, best.method)}** ({best.social_welfare:.2f})"
        if "aga" in set(main.method):
            aga = main[main.method == "aga"].iloc[0]
            others = main[main.method != "aga"]
            if len(others):
                nxt = others.sort_values("social_welfare", ascending=False).iloc[0]
                diff = aga.social_welfare - nxt.social_welfare
                rel = f" ({diff / nxt.social_welfare:+.0%})" if min(aga.social_welfare, nxt.social_welfare) > 0 else ""
                text += (f"; AgA {aga.social_welfare:.2f}, {diff:+.2f}{rel} against the best other method "
                         f"({DISPLAY.get(nxt.method, nxt.method)}, {nxt.social_welfare:.2f})")
        lines.append(text + ".")
    else:
        lines.append("- Ours: no method has a social welfare value (no episode ended; see the note above), so none is "
                     "ranked.")
    if len(missing) and len(ranked):
        lines.append(f"- Without a value (no episode ended): {', '.join(DISPLAY.get(m, m) for m in missing.method)}; "
                     "left out of the ranking.")
    agas = summary[summary.method == "aga"]
    if len(agas) > 1:
        cells = ", ".join(f"λ = {r.setting_lam}: {r.social_welfare:.2f} (equality {_num(r.equality)})"
                          for r in agas.itertuples())
        lines.append(f"- AgA over λ (the paper's sensitivity study): {cells}.")
    fraction = steps / paper["env_steps"]
    lines += [f"- Budget: {steps:,} steps per seed is {fraction:.2%} of the paper's {paper['env_steps']:.0e}. "
              "Sequential social dilemmas change character over training: agents first learn to stop firing "
              "(each beam costs 1, each hit 50) and to eat the apples near them; cooperation (cleaning the river in "
              "Cleanup, restraint in Harvest) comes later, if at all, so differences between methods at this budget "
              "are about the early phase and need not match the paper's ranking. `--steps 20000000` "
              "(Cleanup) or `10000000` (Harvest) gives the paper's budget (about "
              f"{_hours(timings, steps, paper['env_steps'])} on this machine at the measured speed).",
              "- Reading the table: CGA's adjustment Jᵀξ is ∇½‖ξ‖² and AgA's H_c ξ_c is ∇½‖ξ_c‖²; on PPO losses both "
              "are small where the policy gradients vanish, which near-deterministic policies achieve, so watch "
              "`policy_entropy`: a method whose entropy collapses early stops exploring (docs/rl.md).",
              "", "## Wall time", "", "| run | seconds | env steps/s (all seeds) |", "|---|---|---|"]
    for run_id, seconds in timings.items():
        lines.append(f"| {run_id} | {seconds:.0f} | {config.seeds * steps / seconds:,.0f} |")
    lines += ["", "Includes compilation; a resumed run adds the time recorded in its checkpoint.", ""]
    if gif:
        lines += [f"Trained agents (first seed): ![{gif}]({gif})", ""]
    ppo = config.ppo
    lines += ["## Set-up, beside the paper's", "",
              f"- PPO: {ppo.num_envs} environments × {ppo.num_steps} steps per update, {ppo.update_epochs} epochs × "
              f"{ppo.num_minibatches} minibatches, Adam lr {ppo.lr} "
              + ("(one optimiser per actor-critic module)" if ppo.network == "cnn" else f"(critics {ppo.critic_lr})")
              + f", clip {ppo.clip}, value "
              f"clip {ppo.value_clip}, entropy {ppo.ent_coef}, γ {ppo.gamma}, GAE λ {ppo.gae_lambda}, per-agent "
              f"gradient-norm clip {ppo.max_grad_norm}, KL early stop {ppo.target_kl or 'off'}. The paper (App. E.1) "
              "gives lr 1e-4, clip 0.2, value coefficient 1, entropy 0.001, γ 0.99, gradient clip 40 and 1000-step "
              "episodes; the SSD repository's `run_scripts/sb3_train.py`, which has exactly these values and which "
              "we infer the paper ran, adds 12 environments × 1000-step rollouts, minibatches of 6000 agent-steps, "
              "30 epochs, GAE λ 1.0 and target_kl 0.01. `--preset paper` sets every one of these; mixmo's defaults "
              "are a faster CPU set-up (docs/rl.md, \"paper preset vs mixmo default\").",
              ("- Parameter sharing (App. E.1): one policy and one critic for all agents for every method but "
               "Simul-Ind, which keeps one per agent. The method sees one player: individual loss the mean of the "
               "agents' PPO-clip losses, collective loss the mean of their collective terms."
               if config.sharing else
               "- One policy and one critic per agent for every method (mixmo's default; the paper shares one "
               "policy for every method but Simul-Ind: `--set sharing=true`, part of `--preset paper`)."),
              "- Networks: " + _networks(ppo),
              "- Agent i's loss: PPO-clip surrogate with its own GAE advantages (normalised per minibatch) minus the "
              "entropy bonus. Collective loss: the surrogate with the collective advantage, minus the same entropy "
              "bonuses. The GameMethod sees both (`StructuredLosses(individual, collective, separable=True)`), so "
              "Simul-Ind is IPPO and Simul-Co every agent on the collective advantage. Only the policy's direction "
              "is adjusted; " + ("the value loss's gradient (times value_coef) is then added to it before the one "
                                 "optimiser, as in plain PPO (SB3)." if ppo.network == "cnn" else
                                 "critics train as in plain PPO."),
              (f"- Collective reward of CGA and AgA: §5.2's fairness-shaped Σ_i (r_i − α(1 − atan2(Σ_(j≠i) r_j, r_i))) "
               f"with α = {config.fairness_alpha:g} (the paper does not give α)." if config.fairness_alpha else
               "- Collective reward: Σ_i r_i for every method (§5.2's fairness-shaped form for CGA and AgA: "
               "`--set fairness_alpha=…`; the paper does not give α)."),
              "- Collective critic: V_c(s) = Σ_i u_i(o_i), a second output of each agent's critic (an additive "
              "decomposition over the egocentric views), trained on the collective return Σ_i r_i.",
              f"- AgA |λ| = {config.aga.lam} with the sign rule of Corollary 4.3; CGA λ = {config.cga.lam}. Both adjust the "
              "direction that then goes through per-agent gradient clipping and Adam.",
              (f"- SVO (McKee et al.'s form): r̃_i = r_i − w|θ* − θ_i| every step, θ_i from the running episode returns, "
               f"w = {config.svo.weight} per radian, θ* = {config.svo.angle}° (the paper's App. E.1 form: "
               "`--set svo.form=aga-e1`)." if config.svo.form == "mckee" else
               f"- SVO (App. E.1's form): r̃_i = r_i − α(1 − atan2(Σ_(j≠i) r_j, r_i)) every step, α = {config.svo.weight} "
               "(the paper does not give α)."),
              f"- SL: r̃_i = r_i + α Σ_j r_j, α = {config.sl.alpha}. SVO and SL then train as IPPO; the collective critic "
              "still uses raw rewards.",
              ("- Initialisation: SB3's orthogonal matrices, gain √2 for the CNN and net_arch layers, 0.01 for the "
               "action head, 1 for the value head (with the MLPs mixmo uses gain 1 on the policy head, because 0.01 "
               "made CGA and AgA fail there, docs/rl.md; not measured with the CNN)." if ppo.network == "cnn" else
               f"- Networks: ReLU MLPs, policy output layer initialised with gain {ppo.policy_head_scale} (PPO's "
               "usual 0.01 makes the hidden layers' gradients tiny at the start; CGA's and AgA's second-order terms "
               "then dominate those layers' Adam updates, kill the ReLUs and the policies never leave uniform: with "
               "0.01 we measured CGA −3661 and AgA −4021 social welfare against Simul-Ind's 19 at this budget; "
               "docs/rl.md)."),
              "- The 1000-step time limit is treated as the end of the episode (no bootstrapping past it).",
              "- Equality is 1 − Gini of the per-agent mean returns; it is undefined (left blank) when the mean "
              "return is not positive.", "",
              *markdown.config_block(config)]
    return "\n".join(lines) + "\n"


def _networks(ppo: rl.PPOConfig) -> str:
    """Which network ran, and why the MLP is the CPU default."""
    if ppo.network == "cnn":
        conv, *features = ppo.cnn
        arch = ("shared by actor and critic" if ppo.shared_net_arch else "one copy for the actor, one for the critic")
        return (f"`ppo.network=cnn`, the SSD script's CNN in SB3's CnnPolicy layout: 3×3 convolution to {conv} "
                f"channels, Linear {features} (ReLU), net_arch {list(ppo.net_arch)} (Tanh, {arch}), an action head "
                f"and a two-output value head (V_i, u_i) on one trunk per player; {ppo.frame_stack} stacked "
                f"frame(s) (the script: 4); value_coef {ppo.value_coef}. mixmo's CPU default is the MLP: the CNN's "
                "4056×1024 layer makes each update many times slower on CPU (docs/rl.md).")
    return (f"MLPs on the flattened egocentric view (policy hidden {list(ppo.hidden)}, critic hidden "
            f"{list(ppo.critic_hidden)}), mixmo's CPU default for speed; the SSD script's CNN (SB3's CnnPolicy) "
            "is `--set ppo.network=cnn` (with `ppo.frame_stack=4` as the script).")


def _diagnostics_section(summary: pd.DataFrame, config: SSDConfig) -> list[str]:
    """The adjusted methods' diagnostics over the averaging window, with how to read them."""
    if "negative_sign_fraction" not in summary:
        return []
    rows = summary[summary["negative_sign_fraction"].notna()]
    if rows.empty:
        return []
    lines = ["", "## Diagnostics of the adjusted methods", "",
             f"Means over the last {config.run.window:.0%} of updates (each update: the mean over its minibatch "
             "steps); per update in metrics.csv and in the lower panels of training_curves.png.", "",
             "| method | λ | negative sign | cos(ξ̃, ξ) | cos(ξ̃, ξ_c) | ‖ξ‖ | ‖ξ_c‖ | ‖H_c ξ_c‖ |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows.to_dict("records"):
        cells = [f"{row[c]:.2f}" for c in ("negative_sign_fraction", "cos_direction_xi", "cos_direction_xi_c")]
        cells += [f"{row[c]:.3g}" for c in ("xi_norm", "xi_c_norm", "hc_xi_c_norm")]
        lines.append(f"| {DISPLAY.get(row['method'], row['method'])} | {row['setting_lam']} | " + " | ".join(cells)
                     + " |")
    lines += ["", "Reading: AgA's direction is ξ_c + λ(ξ + H_c ξ_c) with λ's sign from Corollary 4.3. With a large λ "
              "it is ±(ξ + H_c ξ_c): along ξ (IPPO's step) while ‖H_c ξ_c‖ is small beside ‖ξ‖, and against it on the "
              "steps where the sign is negative, so the mean cos(ξ̃, ξ) is about (1 − 2 × negative sign) times the "
              "cosine of a positive step. Once ‖H_c ξ_c‖ outgrows ‖ξ‖, the sign follows the curvature of the "
              "collective loss along ξ_c; a large negative-sign fraction means λ flips often, and a falling "
              "policy_entropy beside it means the adjustment sharpens the policies rather than moving them toward "
              "the collective optimum."]
    return lines


def _num(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "–"


def _cell(mean: float, half: float | None) -> str:
    """'mean ± half', 'mean ± n/a' for a single seed (`half` None), '–' without a value."""
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.2f} ± n/a" if half is None else common.fmt(mean, half, 2)


def _hours(timings, steps, paper_steps) -> str:
    if not timings:
        return "?"
    hours = sum(timings.values()) * paper_steps / steps / 3600
    return f"{hours:.0f} hours" if hours >= 1.5 else f"{hours * 60:.0f} minutes"



# two agents, two updates of a tiny PPO, Simul-Ind and AgA, a checkpoint after each (the segment program the test
# suite's command-line runs share with its `mixmo reproduce all --budget smoke` through the compilation cache)
SMOKE = {"num_agents": 2, "max_steps": 16, "seeds": 2, "methods": ("simul-ind", "aga"), "gif_steps": 0,
         "run.checkpoint_every": 1,
         "ppo.num_envs": 2, "ppo.num_steps": 8, "ppo.num_minibatches": 2, "ppo.update_epochs": 1, "ppo.hidden": (8,),
         "ppo.critic_hidden": (8,), "ppo.total_steps": 32}
# App. E.1 of the AgA paper, and where it is silent the SSD repository's run_scripts/sb3_train.py (an inference:
# its values are exactly E.1's). Not here: SB3's CNN (MLPs on CPU; `--set ppo.network=cnn --set ppo.frame_stack=4`
# runs it, with E.1's value coefficient 1 as ppo.value_coef's default) and the unknown alpha of §5.2's fairness-shaped
# collective reward (fairness_alpha stays 0). With the MLPs the critics have their own optimiser, so a value
# coefficient would only rescale their gradient before Adam.
E1, SB3_SCRIPT, SB3 = "AgA App. E.1", "SSD run_scripts/sb3_train.py, inferred", "stable-baselines3 default"
PAPER_E1 = {
    "seeds": Cited(3, "AgA §5.2"),
    "ppo.lr": Cited(1e-4, E1),
    "ppo.critic_lr": Cited(1e-4, E1 + "; one optimiser in SB3, so the critic's too"),
    "ppo.clip": Cited(0.2, E1),
    "ppo.ent_coef": Cited(0.001, E1),
    "ppo.gamma": Cited(0.99, E1),
    "ppo.max_grad_norm": Cited(40.0, E1 + ": grad clip 40"),
    "ppo.num_envs": Cited(12, SB3_SCRIPT),
    "ppo.num_steps": Cited(1000, SB3_SCRIPT),
    "ppo.update_epochs": Cited(30, SB3_SCRIPT),
    "ppo.num_minibatches": Cited(10, SB3_SCRIPT + ": batches of 6000 agent-steps of 12 x 1000 x 5"),
    "ppo.gae_lambda": Cited(1.0, SB3_SCRIPT),
    "ppo.target_kl": Cited(0.01, SB3_SCRIPT + "; SB3's early stop"),
    "ppo.value_clip": Cited(0.0, SB3 + ": clip_range_vf=None"),
    "ppo.adam_eps": Cited(1e-5, SB3 + " for PPO policies"),
    "sharing": Cited(True, E1 + ": shared for every method but Simul-Ind"),
    "svo.form": Cited("aga-e1", E1 + ": SVO's reward r_i - alpha (1 - arctan(sum_{j!=i} r_j / r_i))"),
    "aga.lam": Cited(100.0, "AgA §5.2 headline"),
    "aga.extra_lams": Cited((0.1, 1.0, 1000.0), "AgA §5.2's lambda study"),
}
REGISTRATION = dict(config_type=SSDConfig, steps_key="ppo.total_steps", run_folder=True)


@register("aga-cleanup", presets={"smoke": SMOKE, "paper": {**PAPER_E1, "ppo.total_steps": Cited(20_000_000, E1)}},
          **REGISTRATION)
def run_cleanup(config: SSDConfig, progress, context: rl.RunContext | None = None) -> Results:
    return _run_experiment("cleanup", config, progress, context)


@register("aga-harvest", presets={"smoke": SMOKE, "paper": {**PAPER_E1, "ppo.total_steps": Cited(10_000_000, E1)}},
          **REGISTRATION)
def run_harvest(config: SSDConfig, progress, context: rl.RunContext | None = None) -> Results:
    return _run_experiment("harvest", config, progress, context)
