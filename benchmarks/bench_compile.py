"""Where an RL experiment's compilation goes, per method: programs compiled, trace, lowering and XLA time.

For each case the trainer is built exactly as the experiment builds it (its default network sizes and
settings, or `--smoke` for its `--budget smoke` settings; its seeds vmapped), then

- traced: the segment function that `mixmo.rl.train_segments` compiles, `jit(vmap(trainer.run(., n)))`, is
  traced (not compiled) to count its jaxpr equations (sub-jaxprs of scans, conds and calls included) and how
  many times the trainer's `update`, `learn_minibatch` and the environment's `step` ran in Python;
- run: `mixmo.rl.train_segments` trains `--updates` updates in segments of `--segment` (default 2 and 1: the
  second segment shows whether anything is compiled again), as an experiment does, with JAX's monitoring
  events recording each program's trace, lowering (jaxpr -> StableHLO) and XLA compile time, and the process
  CPU time of the whole run (compilation dominates it; on a shared machine CPU seconds move less with the
  load than wall seconds).

The persistent compilation cache is off (`MIXMO_COMPILE_CACHE=0`, nothing enables it here) and JAX's
in-memory caches are cleared before each case, so every program is compiled.

Cases: Cleanup PPO (aga-cleanup: simul-ind, aga, cga), Cleanup A2C with the D3C mixer (d3c-cleanup) and
Selfish-MMM2 recurrent PPO (aga-selfish-mmm2: simul-ind, aga).

Run: python benchmarks/bench_compile.py [--cases cleanup-ppo-simul-ind,...] [--smoke] [--skip-run]
[--no-diagnostics] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import replace

os.environ.setdefault("MIXMO_COMPILE_CACHE", "0")

import jax

from mixmo import envs, rl

CASES = ("cleanup-ppo-simul-ind", "cleanup-ppo-aga", "cleanup-ppo-cga", "cleanup-a2c-d3c",
         "mmm2-rppo-simul-ind", "mmm2-rppo-aga")


# case prefix -> (experiment, the environment its config builds)
EXPERIMENTS = {
    "cleanup-ppo": ("aga-cleanup", lambda c: envs.make("cleanup", num_agents=c.num_agents, max_steps=c.max_steps)),
    "cleanup-a2c": ("d3c-cleanup", None),
    "mmm2-rppo": ("aga-selfish-mmm2",
                  lambda c: envs.make("selfish_mmm2", max_steps=c.max_steps, death_penalty=c.death_penalty)),
}


def build_case(name: str, smoke: bool, diagnostics: bool = True):
    """`(trainer, seeds, segment)` of a case, built by the experiment's own `make_trainer` (default settings, or
    its `smoke` preset; `diagnostics` False: the AgA experiments' `--set diagnostics=false`)."""
    import importlib

    from mixmo import experiments
    from mixmo.experiments.catalog import CATALOG

    for prefix, (experiment, make_env) in EXPERIMENTS.items():
        if name.startswith(prefix + "-"):
            run_id = name.removeprefix(prefix + "-")
            overrides = {} if diagnostics or not experiment.startswith("aga-") else {"diagnostics": "false"}
            config = experiments.get(experiment).make_config(overrides, presets=["smoke"] if smoke else [])
            module = importlib.import_module(CATALOG[experiment].module)
            env = make_env(config) if make_env else module.make_env(module.SPECS["cleanup"], config)
            return module.make_trainer(run_id, config, env), config.seeds, config.run.checkpoint_every
    raise ValueError(f"unknown case {name!r}; known: {', '.join(CASES)}")


def count_eqns(jaxpr) -> int:
    """Equations of a (closed) jaxpr and of every sub-jaxpr in its equations' parameters, recursively."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    total = 0
    for eqn in jaxpr.eqns:
        total += 1
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None), "eqns"):
                    total += count_eqns(sub)
    return total


class Events:
    """JAX monitoring events (trace, lowering, XLA compile durations) recorded while `active`."""

    def __init__(self):
        self.durations = defaultdict(list)
        self.counts = Counter()
        self.active = False
        jax.monitoring.register_event_duration_secs_listener(self._duration)
        jax.monitoring.register_event_listener(self._event)

    def _duration(self, event, seconds, **kwargs):
        if self.active:
            self.durations[event].append(seconds)

    def _event(self, event, **kwargs):
        if self.active:
            self.counts[event] += 1

    def reset(self):
        self.durations.clear()
        self.counts.clear()


TRACE, LOWER, COMPILE = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                         "/jax/core/compile/backend_compile_duration")


def python_calls(trainer):
    """Counters of how often `update`, `learn_minibatch` and `env.step` run in Python (i.e. get traced)."""
    calls = Counter()
    originals = {}
    cls = type(trainer)
    for name in ("update", "learn_minibatch"):
        original = getattr(cls, name)
        originals[(cls, name)] = original

        def wrapped(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        setattr(cls, name, wrapped)
    env_cls = type(trainer.env)
    original_step = env_cls.step
    originals[(env_cls, "step")] = original_step

    def step(self, *args, **kwargs):
        calls["env.step"] += 1
        return original_step(self, *args, **kwargs)

    env_cls.step = step

    def restore():
        for (owner, name), original in originals.items():
            setattr(owner, name, original)

    return calls, restore


def traced(trainer, seeds: int, segment: int):
    """Trace the segment function (no compilation): jaxpr size and what ran in Python while tracing."""
    states = jax.eval_shape(jax.vmap(trainer.init), jax.random.split(jax.random.key(0), seeds))
    calls, restore = python_calls(trainer)
    try:
        start = time.perf_counter()
        traced = jax.jit(jax.vmap(lambda s: trainer.run(s, segment))).trace(states)
        trace_s = time.perf_counter() - start
    finally:
        restore()
    return {"trace_s": trace_s, "eqns": count_eqns(traced.jaxpr),
            **{f"calls_{k}": v for k, v in calls.items()}}


def real_run(trainer, seeds: int, segment: int, updates: int, events: Events):
    """A `train_segments` run of `updates` updates in segments of `segment`, as an experiment runs it: every
    program traced, lowered and compiled (JAX's monitoring events), and the process CPU time of the run."""
    config = replace(trainer.config, total_steps=updates * trainer.config.batch_steps)
    trainer = replace(trainer, config=config, _cache={})
    keys = jax.random.split(jax.random.key(1), seeds)
    jax.clear_caches()
    events.reset()
    events.active = True
    cpu, start = time.process_time(), time.perf_counter()
    rl.train_segments(trainer, keys, label="bench", segment=segment)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    events.active = False
    d = events.durations
    return {"programs": len(d[COMPILE]), "run_trace_s": sum(d[TRACE]), "run_lower_s": sum(d[LOWER]),
            "run_compile_s": sum(d[COMPILE]), "compile_each_s": [round(x, 1) for x in d[COMPILE]],
            "run_wall_s": wall, "run_cpu_s": cpu}


def experiment(cases: list[str], smoke: bool, segment: int, updates: int, events: Events):
    """The cases one after another in one process, as `mixmo run` trains an experiment's methods, with the
    persistent compilation cache on in a fresh folder (`mixmo.compile_cache`, as the command line enables it);
    then all of it again with JAX's in-memory caches cleared: a second run of the same configuration."""
    import tempfile

    from mixmo import compile_cache

    os.environ.pop(compile_cache.ENV_SWITCH, None)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        compile_cache.enable(folder)
        for attempt in ("first run", "second run"):
            jax.clear_caches()
            for name in cases:
                trainer, seeds, _ = build_case(name, smoke)
                config = replace(trainer.config, total_steps=updates * trainer.config.batch_steps)
                trainer = replace(trainer, config=config, _cache={})
                events.reset()
                events.active = True
                cpu, start = time.process_time(), time.perf_counter()
                rl.train_segments(trainer, jax.random.split(jax.random.key(1), seeds), label="bench",
                                  segment=segment)
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                events.active = False
                hits = events.counts["/jax/compilation_cache/cache_hits"]
                row = {"run": attempt, "case": name, "programs": len(events.durations[COMPILE]),
                       "from_cache": hits, "compile_or_load_s": sum(events.durations[COMPILE]),
                       "run_wall_s": wall, "run_cpu_s": cpu, "load": os.getloadavg()[0]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--smoke", action="store_true", help="the experiments' --budget smoke settings")
    parser.add_argument("--updates", type=int, default=2, help="updates of the train_segments run")
    parser.add_argument("--segment", type=int, default=1, help="updates per segment of the train_segments run")
    parser.add_argument("--skip-run", action="store_true", help="only trace (jaxpr size), compile nothing")
    parser.add_argument("--no-diagnostics", action="store_true",
                        help="the AgA experiments' --set diagnostics=false (no per-step diagnostics in the program)")
    parser.add_argument("--experiment", action="store_true",
                        help="the cases in one process with the persistent cache on, then again (second run)")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    events = Events()
    if args.experiment:
        rows = experiment(args.cases.split(","), args.smoke, args.segment, args.updates, events)
        columns = list(rows[0])
        print("\n| " + " | ".join(columns) + " |")
        print("|" + "---|" * len(columns))
        for row in rows:
            print("| " + " | ".join(f"{row[c]:.1f}" if isinstance(row[c], float) else str(row[c]) for c in columns) + " |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return
    print(f"jax {jax.__version__}, {jax.devices()[0].device_kind}, load {os.getloadavg()[0]:.2f}, "
          f"{'smoke' if args.smoke else 'default'} settings", flush=True)
    rows = []
    for name in args.cases.split(","):
        trainer, seeds, segment = build_case(name, args.smoke, not args.no_diagnostics)
        row = {"case": name, "seeds": seeds, "load": os.getloadavg()[0]}
        jax.clear_caches()
        row.update(traced(trainer, seeds, segment))
        if not args.skip_run:
            row.update(real_run(trainer, seeds, args.segment, args.updates, events))
        rows.append(row)
        print(json.dumps(row), flush=True)
    columns = [c for c in ("case", "seeds", "eqns", "calls_update", "calls_learn_minibatch", "calls_env.step",
                           "programs", "run_trace_s", "run_lower_s", "run_compile_s", "compile_each_s", "run_wall_s",
                           "run_cpu_s", "load") if c in rows[0]]
    print("\n| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        cells = [f"{row[c]:.1f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
