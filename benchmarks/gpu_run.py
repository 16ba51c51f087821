"""One prepared device run: environment and training throughput, then as many paper-budget RL runs as fit.

GPU time is short (15 minutes all told, start-up included, at most 10 minutes a command) and only the files
written under `--out` come back (at most 8, flat), so this script

- never runs past its wall-clock budget (`--budget-s`, default 540): it checks the clock before every piece and,
  inside the long runs, after every compiled segment, and sizes each paper-budget run from the training speed it
  measured itself;
- writes `results.json` and `results.md` (and a training-curve PNG per finished run, at most 6) after every piece,
  each atomically, so a run cut short still returns everything finished so far.

Pieces, in priority order:
  a. environment throughput: Cleanup, Harvest, Coins at 1, 1024 and 4096 environments (random actions,
     observations included; `bench_envs.make_rollout`) and JaxMARL's coin_game, each with its compile time;
  b. training throughput: IPPO and AgA on Cleanup, mixmo's default and `--preset paper` trainers, at the number of
     environments that is fastest there (capped so a rollout fits in memory), plus the exact set-up of each
     paper-budget run below;
  c. paper-budget runs, each writing its summary and claims: aga-cleanup --preset paper (AgA lambda = 100,
     Simul-Co, SL, Simul-Ind; 3 seeds vmapped), aga-harvest --preset paper, d3c-coins, aga-selfish-mmm2 (IPPO,
     MAPPO-style Simul-Co, AgA). A run gets `min(paper budget, what the measured speed affords in its share of
     the time left)` environment steps; its claims then say "not comparable" below half the paper's budget.

`--tiny` runs exactly the same code path with tiny sizes on the CPU in under 3 minutes (a slow test; the default
suite runs it with `--envs coins --runs d3c-coins`). `--envs` and `--runs` pick some of piece a's environments and
piece c's runs (say, to spend a second device session on the runs the first did not reach).

On the device (jax 0.11.2 + CUDA 13 there, no jaxmarl), from the repository root, with the wheels folder carried
(`carry: ["gpu_wheels"]`; build it here with `bash benchmarks/build_gpu_wheels.sh`):

    python3 -m pip install -q --no-index --no-deps --target /tmp/deps gpu_wheels/*.whl && \
    PYTHONPATH=src:benchmarks:/tmp/deps python3 benchmarks/gpu_run.py --out "$OUT" --budget-s 540
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_envs
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import jax  # noqa: E402
from _util import train_speed  # noqa: E402

from mixmo.app import files  # noqa: E402

MAX_ROLLOUT_SAMPLES = 262_144
"""Cap on num_envs x num_steps of one update when choosing the number of environments (Cleanup's float32
observations: about 8 GB of rollout at 5 agents)."""


class Deadline(Exception):
    """The run's wall-clock budget is spent."""


class Clock:
    """The wall-clock budget: `left()` seconds remain; `check()` raises `Deadline` when none do."""

    def __init__(self, budget_s: float):
        self.start, self.budget = time.perf_counter(), budget_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget - self.elapsed()

    def check(self, reserve: float = 0.0) -> None:
        if self.left() < reserve:
            raise Deadline(f"budget of {self.budget:.0f} s spent after {self.elapsed():.0f} s")


class Record:
    """`results.json` + `results.md` in `out`, rewritten (atomically) after every piece."""

    def __init__(self, out: Path, args):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.data = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M %Z"), "tiny": args.tiny,
                     "budget_s": args.budget_s, "envs": list(args.envs), "runs": list(args.runs),
                     "env_throughput": [], "train_throughput": [], "paper_runs": [], "skipped": [], "wall_s": 0.0}
        self.figures = 0

    def add(self, section: str, row: dict, clock: Clock) -> None:
        self.data[section].append(row)
        self.data["wall_s"] = round(clock.elapsed(), 1)
        self.write()

    def write(self) -> None:
        files.write_text(self.out / "results.json", json.dumps(self.data, indent=2, default=_plain) + "\n")
        files.write_text(self.out / "results.md", markdown(self.data))

    def figure(self, name: str, figure) -> str | None:
        """Save one PNG (at most 6, so that with the JSON and the Markdown at most 8 files come back)."""
        import matplotlib.pyplot as plt

        try:
            if self.figures >= 6:
                return None
            self.figures += 1
            path = self.out / f"{name}.png"
            figure.savefig(path, dpi=90)
            return path.name
        finally:
            plt.close(figure)


def machine() -> dict:
    device = jax.devices()[0]
    return {"platform": device.platform, "device": device.device_kind, "jax": jax.__version__,
            "python": platform.python_version(), "host": platform.machine(), "cpus": os.cpu_count()}


def _plain(value):
    return value.item() if hasattr(value, "item") else str(value)


# --- a. environment throughput --------------------------------------------------------------------------------

ENVS = ("cleanup", "harvest", "coins", "coin_game")
"""Piece a's environments (`--envs` picks some)."""


def env_throughput(record: Record, clock: Clock, sizes: tuple[int, ...], steps: int,
                   names: tuple[str, ...] = ENVS) -> None:
    from bench_envs import make_rollout

    from mixmo import envs

    if "coin_game" in names and not importlib.util.find_spec("jaxmarl"):
        record.data["skipped"].append("coin_game throughput: jaxmarl is not installed")
        names = tuple(n for n in names if n != "coin_game")
    for name in names:
        env = envs.make(name)
        for size in sizes:
            clock.check(reserve=20)
            run = jax.jit(jax.vmap(make_rollout(env, steps)))
            keys = jax.random.split(jax.random.key(0), size)
            start = time.perf_counter()
            compiled = run.lower(keys).compile()
            compile_s = time.perf_counter() - start
            jax.block_until_ready(compiled(keys))
            seconds = _median(lambda: compiled(jax.random.split(jax.random.key(1), size)), 2)
            record.add("env_throughput", {"env": name, "num_envs": size, "steps": steps,
                                          "env_steps_per_s": round(size * steps / seconds),
                                          "agent_steps_per_s": round(size * steps * env.num_agents / seconds),
                                          "compile_s": round(compile_s, 2)}, clock)


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


# --- b. training throughput -----------------------------------------------------------------------------------

def fastest_num_envs(record: Record, env: str, num_steps: int) -> int:
    """The environment count with the most env steps/s in piece a, capped so one rollout fits in memory."""
    rows = [r for r in record.data["env_throughput"] if r["env"] == env]
    best = max(rows, key=lambda r: r["env_steps_per_s"])["num_envs"] if rows else 16
    cap = max(1, MAX_ROLLOUT_SAMPLES // num_steps)
    return 2 ** int(math.log2(min(best, cap)))


def train_throughput(record: Record, clock: Clock, plans: list[dict], tiny: bool) -> dict[str, float]:
    """Piece b: IPPO and AgA on Cleanup (the default and paper trainers, built as aga-cleanup builds them: sharing,
    diagnostics; at the fastest env count), then each planned paper run's own set-up (first method, its seeds).
    Returns env steps/s by plan name."""
    from dataclasses import replace

    from mixmo import experiments

    cleanup = experiments.get("aga-cleanup")
    for preset in ([["smoke"]] if tiny else [[], ["paper"]]):
        config = cleanup.make_config(presets=preset)
        env = _env_for("aga-cleanup", config)
        if not tiny:  # tiny: the smoke run's own trainers and programs (its seeds, one update per call)
            num_envs = fastest_num_envs(record, "cleanup", config.ppo.num_steps)
            config = replace(config, ppo=replace(config.ppo, num_envs=num_envs,
                                                 total_steps=num_envs * config.ppo.num_steps * 1000))
        num_envs = config.ppo.num_envs
        seeds, segment = (config.seeds, 1) if tiny else (1, 2)
        for label, method_id in (("IPPO", "simul-ind"), ("AgA", "aga")):
            clock.check(reserve=60)
            trainer = experiment_module("aga-cleanup").make_trainer(method_id, config, env)  # as the run builds it
            _, sps, compile_s = train_speed(trainer, seeds=seeds, segment=segment, repeats=2)
            record.add("train_throughput", {"what": f"cleanup {label}, {preset[0] if preset else 'default'} trainer",
                                            "num_envs": num_envs, "num_steps": config.ppo.num_steps, "seeds": seeds,
                                            "env_steps_per_s": round(sps), "compile_s": round(compile_s, 1)}, clock)
    speeds = {}
    for plan in plans:
        clock.check(reserve=60)
        experiment = experiments.get(plan["experiment"])
        config = experiment.resolve(plan["presets"], plan["overrides"]).config
        trainer_config = _trainer_config(config)
        env = _env_for(plan["experiment"], config)
        method_id = config.methods[0]
        trainer = experiment_module(plan["experiment"]).make_trainer(method_id, config, env)  # as the run builds it
        _, sps, compile_s = train_speed(trainer, seeds=config.seeds, segment=1, repeats=2)
        speeds[plan["name"]] = sps
        record.add("train_throughput", {"what": f"{plan['name']} ({method_id}, its own set-up)",
                                        "num_envs": trainer_config.num_envs, "num_steps": trainer_config.num_steps,
                                        "seeds": config.seeds, "env_steps_per_s": round(sps),
                                        "compile_s": round(compile_s, 1)}, clock)
    return speeds


def experiment_module(name: str):
    """The module of an RL experiment, whose `make_trainer(run id, config, env)` builds a run's trainer as the
    experiment does (sharing, collective reward, mixer ...)."""
    import importlib

    from mixmo.experiments.catalog import CATALOG

    return importlib.import_module(CATALOG[name].module)


def _trainer_config(config):
    return getattr(config, "ppo", None) or config.a2c


def _env_for(name: str, config):
    """The environment instance the experiment's own run uses (`rl_common.environment`), so the run reuses the
    trainers measured here."""
    from mixmo.experiments.rl_common import environment

    if name in ("aga-cleanup", "aga-harvest"):
        return environment(name.removeprefix("aga-"), num_agents=config.num_agents, max_steps=config.max_steps)
    if name == "aga-selfish-mmm2":
        return environment("selfish_mmm2", max_steps=config.max_steps, death_penalty=config.death_penalty)
    options = {k: v for k, v in (("num_agents", config.num_agents), ("max_steps", config.max_steps)) if v}
    return environment(name.removeprefix("d3c-").replace("-", "_"), **options)


# --- c. paper-budget runs -------------------------------------------------------------------------------------

PAPER_RUNS = {  # experiment: (overrides of its paper preset, the paper's environment steps per seed)
    "aga-cleanup": ({"methods": "aga,simul-co,sl,simul-ind", "aga.extra_lams": ""}, 20_000_000),
    "aga-harvest": ({"methods": "aga,simul-co,sl,simul-ind", "aga.extra_lams": ""}, 10_000_000),
    "d3c-coins": ({}, 100_000_000),
    "aga-selfish-mmm2": ({"methods": "simul-ind,simul-co,aga", "aga.extra_lams": ""}, 10_000_000),
}
RUNS = tuple(PAPER_RUNS)
"""Piece c's paper-budget runs, in priority order (`--runs` picks some; aga-selfish-mmm2 needs jaxmarl)."""


def plans_for(tiny: bool) -> list[dict]:
    """The paper-budget runs in priority order: experiment, presets, overrides and the paper's steps per seed
    (tiny: the smoke preset with its own methods; aga-selfish-mmm2 only with jaxmarl installed)."""
    plans = []
    for name, (overrides, paper_steps) in PAPER_RUNS.items():
        if name == "aga-selfish-mmm2" and not importlib.util.find_spec("jaxmarl"):
            continue
        if tiny:
            overrides = {k: v for k, v in overrides.items() if k != "methods"}
        plans.append({"name": name, "experiment": name, "presets": ["smoke"] if tiny else ["paper"],
                      "overrides": overrides, "paper_steps": paper_steps})
    # The AgA runs keep their diagnostics: they reuse AgA's own derivatives (+7% of its program, RESULTS.md).
    return plans


def paper_runs(record: Record, clock: Clock, plans: list[dict], speeds: dict[str, float], tiny: bool) -> None:
    """Piece c: each planned run with the steps its share of the time left affords at the measured speed."""
    from mixmo import config as config_tree
    from mixmo import experiments, rl

    for index, plan in enumerate(plans):
        if plan["name"] not in speeds:
            record.data["skipped"].append(f"{plan['name']}: no measured speed (piece b did not reach it)")
            continue
        clock.check(reserve=60)
        experiment = experiments.get(plan["experiment"])
        config = experiment.resolve(plan["presets"], plan["overrides"]).config
        trainer_config = _trainer_config(config)
        share = clock.left() / (len(plans) - index) - (5 if tiny else 90)  # compile + report headroom
        per_method = max(share, 0) / len(config.methods)
        affordable = int(0.7 * per_method * speeds[plan["name"]] / config.seeds)
        steps = trainer_config.total_steps if tiny else min(plan["paper_steps"], affordable)
        if steps < trainer_config.batch_steps:
            record.data["skipped"].append(f"{plan['name']}: the time left affords less than one update")
            continue
        overrides = {**plan["overrides"], experiment.steps_key: str(steps)}
        config = experiment.resolve(plan["presets"], overrides).config
        deadline = clock.start + clock.budget - 10
        start = time.perf_counter()
        row = {"experiment": plan["name"], "presets": plan["presets"], "overrides": overrides,
               "paper_steps_per_seed": plan["paper_steps"], "steps_per_seed": steps, "seeds": config.seeds,
               "methods": list(config.methods)}
        try:
            results = experiment.run(config, _deadline_progress(deadline), context=rl.RunContext())
        except Deadline as error:
            row.update(status="cut short", error=str(error), wall_s=round(time.perf_counter() - start, 1))
            record.add("paper_runs", row, clock)
            return
        except Exception as error:  # noqa: BLE001 -- one failing run must not lose the others
            row.update(status="failed", error=f"{type(error).__name__}: {error}",
                       traceback=traceback.format_exc(limit=3), wall_s=round(time.perf_counter() - start, 1))
            record.add("paper_runs", row, clock)
            continue
        figures = [record.figure(f"{plan['name']}_{stem}", fig) for stem, fig in results.figures.items()]
        row.update(status="done", wall_s=round(time.perf_counter() - start, 1),
                   summary=json.loads(results.summary.to_json(orient="records")),
                   claims=[c.__dict__ for c in results.claims], figures=[f for f in figures if f],
                   config=config_tree.to_dict(config))
        record.add("paper_runs", row, clock)


def _deadline_progress(deadline: float):
    """A progress callback whose ticks (one per compiled segment) raise `Deadline` once `deadline` is past."""

    def progress(label, total):
        def advance(amount=1):
            if time.perf_counter() > deadline:
                raise Deadline(f"stopped at the budget during {label}")

        return advance

    return progress


# --- the report -----------------------------------------------------------------------------------------------

def markdown(data: dict) -> str:
    m = data["machine"]
    lines = [f"# mixmo device run{' (tiny)' if data['tiny'] else ''}", "",
             f"{data['date']}; {m['device']} ({m['platform']}), jax {m['jax']}, Python {m['python']}, "
             f"{m['cpus']} CPU cores; {data['wall_s']:.0f} s of a {data['budget_s']:.0f} s budget.", "",
             "## Environment throughput (random actions, observations included)", "",
             "| env | envs | env steps/s | agent steps/s | compile (s) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['env']} | {r['num_envs']} | {r['env_steps_per_s']:,} | {r['agent_steps_per_s']:,} | "
              f"{r['compile_s']} |" for r in data["env_throughput"]]
    lines += ["", "## Training throughput (learning included)", "",
              "| set-up | envs × steps | seeds | env steps/s | compile (s) |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['what']} | {r['num_envs']} × {r['num_steps']} | {r['seeds']} | {r['env_steps_per_s']:,} | "
              f"{r['compile_s']} |" for r in data["train_throughput"]]
    lines += ["", "## Paper-budget runs", ""]
    for r in data["paper_runs"]:
        lines.append(f"### {r['experiment']} — {r['status']} ({r['wall_s']:.0f} s)")
        lines.append(f"{r['steps_per_seed']:,} environment steps per seed of the paper's {r['paper_steps_per_seed']:,}"
                     f" ({r['steps_per_seed'] / r['paper_steps_per_seed']:.1%}), {r['seeds']} seeds, methods "
                     f"{', '.join(r['methods'])}.")
        if r["status"] != "done":
            lines += [f"{r.get('error', '')}", ""]
            continue
        lines += ["", "| source | quantity | paper | ours | verdict |", "|---|---|---|---|---|"]
        lines += [f"| {c['source']} | {c['quantity']} | {c['paper']} | {c['ours']} | {c['verdict']} |"
                  for c in r["claims"]]
        lines += [f"![{f}]({f})" for f in r["figures"]] + [""]
    if data["skipped"]:
        lines += ["## Skipped", ""] + [f"- {s}" for s in data["skipped"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for results.json, results.md and PNGs")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget in seconds (default 540)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: the same code path on a CPU in minutes")
    parser.add_argument("--envs", type=_names(ENVS), default=ENVS, metavar="A,B",
                        help=f"piece a's environments (default all: {','.join(ENVS)})")
    parser.add_argument("--runs", type=_names(RUNS), default=RUNS, metavar="A,B",
                        help=f"piece c's paper-budget runs, each with its piece-b set-up (default all: "
                             f"{','.join(RUNS)})")
    args = parser.parse_args(argv)
    clock = Clock(args.budget_s)
    record = Record(args.out, args)
    record.write()
    plans = [plan for plan in plans_for(args.tiny) if plan["name"] in args.runs]
    sizes, steps = ((2,), 20) if args.tiny else ((1, 1024, 4096), 1000)
    if args.tiny:  # compile time dominates tiny runs; XLA's optimisations off halve it (same results)
        jax.config.update("jax_disable_most_optimizations", True)
    try:
        env_throughput(record, clock, sizes, steps, args.envs)
        speeds = train_throughput(record, clock, plans, args.tiny)
        paper_runs(record, clock, plans, speeds, args.tiny)
    except Deadline as error:
        record.data["skipped"].append(f"the rest: {error}")
    record.data["wall_s"] = round(clock.elapsed(), 1)
    record.write()
    print(markdown(record.data))
    return 0


def _names(known: tuple[str, ...]):
    """An argparse type: a comma-separated subset of `known`, in `known`'s order; an unknown name is refused."""

    def parse(text: str) -> tuple[str, ...]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in known]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown) or 'empty list'}; known: {','.join(known)}")
        return tuple(n for n in known if n in names)

    return parse


if __name__ == "__main__":
    sys.exit(main())
