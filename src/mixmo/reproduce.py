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
import json
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from mixmo import report, runner
from mixmo.experiments import _claims
from mixmo.experiments._registry import EXPERIMENTS, Claim, ConfigError, Experiment, make_config

PAPERS = {
    "aga": "AgA — Li et al., \"Aligning Individual and Collective Objectives in Multi-Agent Cooperation\", "
           "NeurIPS 2024 (arXiv 2402.12416)",
    "d3c": "D3C — Gemp et al., \"D3C: Reducing the Price of Anarchy in Multi-Agent Learning\", AAMAS 2022",
    "": "Beyond the papers (appendix)",
}
CHOICES = {"aga": ("aga",), "d3c": ("d3c",), "all": ("aga", "d3c", "")}
"""What each `mixmo reproduce PAPER` runs: `all` adds the beyond-paper experiments as an appendix."""

BUDGETS = {
    "smoke": "tiny settings that exercise every experiment and claim in minutes on a 2-core CPU;\n"
             "           their numbers are not comparable with the papers' (most claims say so)",
    "default": "each experiment's defaults (default; `mixmo list` gives each one's time)",
    "paper": "the papers' own budgets and seed counts where they differ from the defaults\n"
             "           (the RL experiments then take days on a CPU)",
}


@dataclass
class Outcome:
    """How one experiment went: status "done", "failed" or "kept" (complete in OUT already, with `--resume`)."""

    name: str
    paper: str
    status: str
    overrides: dict[str, str]
    wall_s: float = 0.0
    claims: list[Claim] = field(default_factory=list)
    error: str = ""
    traceback: str = ""  # the file in OUT holding a failure's traceback
    figures: list[str] = field(default_factory=list)


def select(paper: str) -> list[Experiment]:
    """The registered experiments `mixmo reproduce PAPER` runs, grouped by paper in `CHOICES` order."""
    if paper not in CHOICES:
        raise ConfigError(f"unknown paper {paper!r}; choose one of: {', '.join(CHOICES)}.")
    return [EXPERIMENTS[name] for part in CHOICES[paper] for name in sorted(EXPERIMENTS)
            if EXPERIMENTS[name].paper == part]


def overrides_for(experiment: Experiment, budget: str, seeds: int | None = None) -> dict[str, str]:
    """The `--set` overrides of `budget` for `experiment` (plus `seeds` where its config has that setting).

    Raises `ConfigError` when the experiment registers no smoke budget (running its default instead could take
    hours).
    """
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; choose one of: {', '.join(BUDGETS)}.")
    if budget == "smoke" and "smoke" not in experiment.budgets:
        raise ConfigError(f"{experiment.name} registers no smoke budget (register(..., budgets={{'smoke': {{...}}}})).")
    overrides = dict(experiment.budgets.get(budget, {})) if budget != "default" else {}
    if seeds is not None and "seeds" in {f.name for f in dataclasses.fields(experiment.config_type)}:
        overrides["seeds"] = str(seeds)
    return overrides


def prepare(out_dir: Path, meta: dict, resume: bool) -> dict[str, dict]:
    """Check `out_dir` for a new run, or for `--resume` a run with the same `meta`. Returns the earlier outcomes
    recorded there (name -> record), empty for a new run."""
    out_dir = Path(out_dir)
    record = out_dir / "reproduce.json"
    if not resume:
        report.prepare_out_dir(out_dir)
        out_dir.mkdir(exist_ok=True)
        return {}
    if not record.is_file():
        raise ConfigError(f"--resume {out_dir}: no reproduce.json there; give the --out folder of an earlier "
                          "`mixmo reproduce` run, or drop --resume.")
    earlier = json.loads(record.read_text())
    mismatched = [k for k in meta if earlier.get(k) != meta[k]]
    if mismatched:
        used = ", ".join(f"{k}={earlier.get(k)!r}" for k in mismatched)
        raise ConfigError(f"--resume {out_dir}: that run used {used}; resume it with the same paper, --budget "
                          "and --seeds.")
    return {item["name"]: item for item in earlier.get("experiments", [])}


def run_one(experiment: Experiment, overrides: dict[str, str], out_dir: Path, bar, *, resume: bool = False,
            earlier: dict | None = None) -> Outcome:
    """Run one experiment into `out_dir/<name>/` and collect its claims. Any exception but an interrupt is caught
    and recorded as a failed outcome.

    With `resume`, a complete folder of the same configuration is kept (its claims read back; `earlier`, its
    record in reproduce.json, gives its wall time) and an RL run's checkpoints are continued.
    """
    name = experiment.name
    target, work = out_dir / name, out_dir / f".{name}.running"
    outcome = Outcome(name, experiment.paper, "done", overrides)
    progress, tasks = runner.progress_callback(bar, name)
    start = time.perf_counter()
    try:
        config = make_config(experiment.config_type, overrides)
        if resume and (target / "report.md").is_file() and _same_config(target, experiment, config):
            outcome.status, outcome.wall_s = "kept", float((earlier or {}).get("wall_s", 0.0))
            outcome.claims, outcome.figures = report.read_claims(target), _figures(target)
            return outcome
        shutil.rmtree(target, ignore_errors=True)  # from an earlier attempt with other settings
        if runner.takes_context(experiment):
            again = resume and _same_config(work, experiment, config)
            if not again:
                shutil.rmtree(work, ignore_errors=True)
            results = runner.run_in_folder(experiment, config, progress, work, resume=again)
            runner.write_into(results, config, work, name)
            work.rename(target)
        else:
            results = experiment.run(config, progress)
            report.write_results(results, config, target, name)
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


def record(out_dir: Path, meta: dict, outcomes: list[Outcome]) -> None:
    """Write `OUT/reproduce.json` (atomically): the run's settings and every outcome so far."""
    items = [{**dataclasses.asdict(o), "verdicts": _claims.count(o.claims)} for o in outcomes]
    write_atomic(out_dir / "reproduce.json", json.dumps({**meta, "experiments": items}, indent=2,
                                                         ensure_ascii=False) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so `path` is never half-written."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        partial.write_text(text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _same_config(work: Path, experiment: Experiment, config) -> bool:
    saved = work / "config.json"
    if not saved.is_file():
        return False
    wanted = json.loads(json.dumps({"experiment": experiment.name, **dataclasses.asdict(config)}))
    return json.loads(saved.read_text()) == wanted


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
    from mixmo import reproduce_report

    selected = select(paper)
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; choose one of: {', '.join(BUDGETS)}.")
    meta = {"paper": paper, "budget": budget, "seeds": seeds}
    earlier = prepare(out_dir, meta, resume)
    outcomes, start = [], time.perf_counter()
    if not resume:
        record(out_dir, {**meta, "wall_s": 0.0}, outcomes)  # from the start, so that --resume finds the run
    with runner.progress_bar(quiet) as bar:
        overall = bar.add_task(f"reproduce {paper} ({budget}): experiments", total=len(selected))
        for experiment in selected:
            try:
                overrides = overrides_for(experiment, budget, seeds)
            except ConfigError as error:
                outcome = Outcome(experiment.name, experiment.paper, "failed", {}, error=str(error))
            else:
                outcome = run_one(experiment, overrides, out_dir, bar, resume=resume,
                                  earlier=earlier.get(experiment.name))
            outcomes.append(outcome)
            record(out_dir, {**meta, "wall_s": time.perf_counter() - start}, outcomes)
            bar.advance(overall)
            if not quiet:
                counts = ", ".join(f"{n} {v}" for v, n in _claims.count(outcome.claims).items() if n)
                bar.console.print(f"{experiment.name}: {outcome.status} in {outcome.wall_s:.0f} s"
                                  + (f" — {outcome.error}" if outcome.error else f" ({counts or 'no claims'})"),
                                  highlight=False, markup=False)
    header = {**meta, **reproduce_report.machine(), "command": command, "wall_s": time.perf_counter() - start}
    return reproduce_report.write(out_dir, outcomes, header), outcomes
