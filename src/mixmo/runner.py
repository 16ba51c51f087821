"""Running one registered experiment: the progress bar, and the RL experiments' run folder (checkpoints, logs,
resume) — shared by `mixmo run` and `mixmo reproduce`."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import shutil
from pathlib import Path

from rich.console import Console

from mixmo import report
from mixmo.experiments._registry import Experiment, Results


def progress_bar(quiet: bool):
    """A rich progress display on stderr (disabled when `quiet`); experiments add their tasks to it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True, disable=quiet)


def progress_callback(bar, prefix: str):
    """The `progress(label, total) -> advance` an experiment's run function takes, drawing on `bar`.

    Returns `(progress, tasks)`: `tasks` lists the ids of the tasks the experiment added (to remove them later).
    """
    tasks = []

    def progress(label: str, total: int):
        task = bar.add_task(f"{prefix}: {label}", total=total)
        tasks.append(task)
        return lambda amount=1: bar.advance(task, amount)

    return progress, tasks


def takes_context(experiment: Experiment) -> bool:
    """Whether the experiment keeps files in its results folder while it runs (the RL experiments: checkpoints,
    logs, resume), i.e. its run function takes `context: mixmo.rl.RunContext`."""
    return "context" in inspect.signature(experiment.run).parameters


def run_in_folder(experiment: Experiment, config, progress, run_dir: Path, *, resume: bool = False,
                  loggers: tuple[str, ...] = ()) -> Results:
    """Run an experiment that `takes_context`, with `run_dir` as its folder for checkpoints and logs.

    A fresh run (not `resume`) first writes `config.json` there, so an interrupted run can be resumed.
    Raises whatever the run raises (`mixmo.rl.NonFiniteError`, `TrainingInterrupted`, `KeyboardInterrupt`).
    """
    from mixmo import rl

    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        (run_dir / "config.json").write_text(json.dumps(
            {"experiment": experiment.name, **dataclasses.asdict(config)}, indent=2) + "\n")
    context = rl.RunContext(run_dir=run_dir, resume=resume, loggers=tuple(loggers))
    return experiment.run(config, progress, context=context)


def write_into(results: Results, config, out_dir: Path, name: str) -> Path:
    """`report.write_results` into a folder that already holds the run's checkpoints and logs."""
    staging = out_dir.parent / f".{out_dir.name}.results-{os.getpid()}"
    report.write_results(results, config, staging, name)
    try:
        for item in staging.iterdir():
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
