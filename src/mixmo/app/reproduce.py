"""`mixmo reproduce`: run every registered experiment of a paper at one budget into `OUT/<experiment>/` and
gather their claims (the paper's numbers beside ours, with verdicts) for the combined report.

Each experiment's folder appears only when it is complete (written under a temporary name and renamed, like
`mixmo run`); an experiment that raises is recorded as failed (its traceback in `OUT/<experiment>.traceback.txt`)
and the others still run. `OUT/reproduce.json` records the outcomes so far after every experiment, so
`--resume` can skip the experiments already done; an interrupted RL experiment keeps its checkpoints in a hidden
`OUT/.<experiment>.running/` folder and `--resume` continues it from there.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import time
import traceback
from pathlib import Path

from mixmo.app import files, output, runner
from mixmo.app.papers import BUDGETS, CHOICES, Outcome
from mixmo.config import ConfigError
from mixmo.experiments import verdicts
from mixmo.experiments.catalog import CATALOG
from mixmo.experiments.registry import Experiment, MissingExtra, get, load_all

def select(paper: str) -> list[str]:
    """The experiments `mixmo reproduce PAPER` runs, grouped by paper in `CHOICES` order: every registered one
    and every catalogued one whose optional extra is missing (reported as skipped)."""
    if paper not in CHOICES:
        raise ConfigError(f"unknown paper {paper!r}; choose one of: {', '.join(CHOICES)}.")
    registered = load_all()
    missing = {name: entry.paper for name, entry in CATALOG.items()
               if entry.needs and importlib.util.find_spec(entry.needs) is None}
    papers = {**missing, **{name: experiment.paper for name, experiment in registered.items()}}
    return [name for part in CHOICES[paper] for name in sorted(papers) if papers[name] == part]


def plan_for(experiment: Experiment, budget: str, seeds: int | None = None) -> tuple[list[str], dict[str, str]]:
    """`(presets, overrides)` of `budget` for `experiment`: "smoke" and "paper" are presets of the same name
    (the defaults are the paper's set-up where an experiment declares no "paper" preset); `seeds` sets the
    experiment's seeds where it has them.

    Raises `ConfigError` when the experiment declares no smoke preset (running its default instead could take
    hours).
    """
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; choose one of: {', '.join(BUDGETS)}.")
    if budget == "smoke" and "smoke" not in experiment.presets:
        raise ConfigError(f"{experiment.name} declares no smoke preset (register(..., presets={{'smoke': ...}})).")
    presets = [budget] if budget in experiment.presets else []
    overrides = {experiment.seeds_key: str(seeds)} if seeds is not None and experiment.seeds_key else {}
    return presets, overrides


def prepare(out_dir: Path, meta: dict, resume: bool) -> dict[str, dict]:
    """Check `out_dir` for a new run, or for `--resume` a run with the same `meta`. Returns the earlier outcomes
    recorded there (name -> record), empty for a new run."""
    out_dir = Path(out_dir)
    record = out_dir / "reproduce.json"
    if not resume:
        output.prepare_out_dir(out_dir)
        return {}
    if not record.is_file():
        raise ConfigError(f"--resume {out_dir}: no reproduce.json there; give the --out folder of an earlier "
                          "`mixmo reproduce` run, or drop --resume.")
    try:
        earlier = json.loads(record.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{record} is damaged (not JSON: {error.msg} at line {error.lineno}); start a new run "
                          "with another --out.") from None
    try:
        timings = json.loads((out_dir / "timings.json").read_text()).get("experiments", {})
    except (OSError, ValueError, AttributeError):
        timings = {}  # wall times are only for the report
    mismatched = [k for k in meta if earlier.get(k) != meta[k]]
    if mismatched:
        used = ", ".join(f"{k}={earlier.get(k)!r}" for k in mismatched)
        raise ConfigError(f"--resume {out_dir}: that run used {used}; resume it with the same paper, --budget "
                          "and --seeds.")
    return {item["name"]: {**item, "wall_s": float(timings.get(item["name"], 0.0))}
            for item in earlier.get("experiments", [])}


def run_one(experiment: Experiment, presets: list[str], overrides: dict[str, str], out_dir: Path, bar, *,
            resume: bool = False, earlier: dict | None = None) -> Outcome:
    """Run one experiment into `out_dir/<name>/` and collect its claims. Any exception but an interrupt is caught
    and recorded as a failed outcome.

    With `resume`, a complete folder of the same configuration is kept (its claims read back; `earlier`, its
    record in reproduce.json, gives its wall time) and an RL run's checkpoints are continued.
    """
    name = experiment.name
    target, work = out_dir / name, out_dir / f".{name}.running"
    outcome = Outcome(name, experiment.paper, "done", overrides, list(presets))
    progress, tasks = runner.progress_callback(bar, name)
    start = time.perf_counter()
    try:
        config = experiment.resolve(presets, overrides).config
        if resume and (target / "report.md").is_file() and _same_config(target, experiment, config):
            outcome.status, outcome.wall_s = "kept", float((earlier or {}).get("wall_s", 0.0))
            outcome.claims, outcome.figures = output.read_claims(target), _figures(target)
            return outcome
        shutil.rmtree(target, ignore_errors=True)  # from an earlier attempt with other settings
        if experiment.run_folder:
            again = resume and _same_config(work, experiment, config)
            if not again:
                shutil.rmtree(work, ignore_errors=True)
            try:
                results = runner.run_in_folder(experiment, config, progress, work, resume=again)
            except ValueError as error:
                from mixmo.rl import CheckpointError  # loaded already: the experiment has imported JAX

                if not (again and isinstance(error, CheckpointError)):
                    raise
                # an interrupted run whose checkpoint is damaged: reproduce's job is the results, so this one
                # experiment starts again from scratch (the report says so) instead of failing
                outcome.note = f"restarted from scratch: {error}"
                shutil.rmtree(work, ignore_errors=True)
                results = runner.run_in_folder(experiment, config, progress, work, resume=False)
            output.write_results(results, config, work, name)
            output.drop_checkpoints(work)  # finished: the final policies stay in policies/
            work.rename(target)
        else:
            results = experiment.run(config, progress)
            output.write_results(results, config, target, name)
        outcome.claims, outcome.figures = list(results.claims), _figures(target)
        (out_dir / f"{name}.traceback.txt").unlink(missing_ok=True)
    except Exception as error:  # noqa: BLE001 -- one failing experiment must not stop the others (an interrupt,
        # a BaseException, does stop them; an RL run's checkpoints then stay in .<name>.running for --resume)
        shutil.rmtree(work, ignore_errors=True)
        outcome.status, outcome.error, outcome.traceback = "failed", _one_line(error), f"{name}.traceback.txt"
        (out_dir / outcome.traceback).write_text(traceback.format_exc())
    finally:
        for task in tasks:
            bar.remove_task(task)
    outcome.wall_s = time.perf_counter() - start
    return outcome


def record(out_dir: Path, meta: dict, outcomes: list[Outcome], wall_s: float = 0.0) -> None:
    """Write `OUT/reproduce.json` (atomically): the run's settings and every outcome so far — the same bytes for
    the same settings on the same machine — and `OUT/timings.json`: the wall times, which vary."""
    items = [{**{k: v for k, v in dataclasses.asdict(o).items() if k != "wall_s"}, "verdicts": verdicts.count(o.claims)}
             for o in outcomes]
    files.write_text(out_dir / "reproduce.json", json.dumps({**meta, "experiments": items}, indent=2,
                                                             ensure_ascii=False) + "\n")
    timings = {"wall_s": wall_s, "experiments": {o.name: o.wall_s for o in outcomes}}
    files.write_text(out_dir / "timings.json", json.dumps(timings, indent=2) + "\n")


def _same_config(work: Path, experiment: Experiment, config) -> bool:
    saved = work / "config.json"
    if not saved.is_file():
        return False
    wanted = json.loads(output.config_json(experiment.name, config))
    try:
        return json.loads(saved.read_text()) == wanted
    except json.JSONDecodeError:
        return False


def _figures(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.png"))


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def reproduce(paper: str, budget: str, out_dir: Path, *, seeds: int | None = None, resume: bool = False,
              quiet: bool = False, command: str = "") -> tuple[Path, list[Outcome]]:
    """Run every experiment of `paper` ("aga", "d3c" or "all") at `budget` into `out_dir` and write the combined
    report. Returns the report's path and the outcomes (some may have failed).

    Raises:
        ConfigError: an unknown paper or budget, or an `out_dir` that is not new (or, with `resume`, not a
            reproduce run of the same paper, budget and seeds).
    """
    from mixmo.app import reproduce_report

    selected = select(paper)
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; choose one of: {', '.join(BUDGETS)}.")
    meta = {"paper": paper, "budget": budget, "seeds": seeds}
    earlier = prepare(out_dir, meta, resume)
    outcomes, start = [], time.perf_counter()
    if not resume:
        record(out_dir, meta, outcomes)  # from the start, so that --resume finds the run
    with runner.progress_bar(quiet) as bar:
        overall = bar.add_task(f"reproduce {paper} ({budget}): experiments", total=len(selected))
        for name in selected:
            try:
                experiment = get(name)
                presets, overrides = plan_for(experiment, budget, seeds)
            except MissingExtra as error:
                outcome = Outcome(name, CATALOG[name].paper, "skipped", {}, error=str(error))
            except ConfigError as error:
                outcome = Outcome(name, CATALOG[name].paper if name in CATALOG else experiment.paper, "failed", {},
                                  error=str(error))
            else:
                outcome = run_one(experiment, presets, overrides, out_dir, bar, resume=resume,
                                  earlier=earlier.get(name))
            outcomes.append(outcome)
            record(out_dir, meta, outcomes, time.perf_counter() - start)
            bar.advance(overall)
            if not quiet:
                counts = ", ".join(f"{n} {v}" for v, n in verdicts.count(outcome.claims).items() if n)
                bar.console.print(f"{name}: {outcome.status} in {outcome.wall_s:.0f} s"
                                  + (f" — {outcome.error}" if outcome.error else f" ({counts or 'no claims'})"),
                                  highlight=False, markup=False)
    header = {**meta, **reproduce_report.machine(), "command": command, "wall_s": time.perf_counter() - start}
    return reproduce_report.write(out_dir, outcomes, header), outcomes
