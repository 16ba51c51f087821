"""Running one registered experiment: the progress bar, and the RL experiments' run folder (checkpoints, logs,
resume) — shared by `mixmo run` and `mixmo reproduce`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from mixmo.app import files, output
from mixmo.experiments.registry import Experiment, Results


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


def run_in_folder(experiment: Experiment, config, progress, run_dir: Path, *, resume: bool = False,
                  loggers: tuple[str, ...] = ()) -> Results:
    """Run an experiment with a `run_folder` (the RL experiments), keeping checkpoints and logs in `run_dir`.

    A fresh run (not `resume`) first writes `config.json` there, so an interrupted run can be resumed.
    Raises whatever the run raises (`mixmo.rl.NonFiniteError`, `TrainingInterrupted`, `KeyboardInterrupt`).
    """
    from mixmo import rl

    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        files.write_text(run_dir / "config.json", output.config_json(experiment.name, config))
    context = rl.RunContext(run_dir=run_dir, resume=resume, loggers=tuple(loggers))
    return experiment.run(config, progress, context=context)
