"""Running one registered experiment: the progress display, and the RL experiments' run folder (checkpoints, logs,
resume) — shared by `mixmo run` and `mixmo reproduce`."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console

from mixmo.app import files, output
from mixmo.experiments.registry import Experiment, Results

COMPILING = " (compiling…)"
"""Shown after a task's label until its first step is done (JAX compiles the first call)."""


def progress_bar(quiet: bool):
    """The progress display on stderr: a rich bar on a terminal, plain-text lines otherwise (a log file, CI),
    nothing when `quiet`. Experiments add their tasks to it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not quiet and not console.is_terminal:
        return PlainProgress(console)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=quiet)


class PlainProgress:
    """Progress as plain lines, for output that is not a terminal: one when a task starts, then at most one
    every `every` seconds or 10% of the task, and one when it completes. Has the few methods of rich's
    `Progress` that mixmo uses."""

    def __init__(self, console: Console, every: float = 30.0):
        self.console, self.every = console, every
        self._tasks: dict[int, dict] = {}
        self._next = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, description: str, total: float | None = None, **_) -> int:
        task, self._next = self._next, self._next + 1
        self._tasks[task] = {"description": description, "total": total, "done": 0, "start": time.monotonic(),
                             "shown": time.monotonic(), "shown_done": 0}
        self._line(f"{description}: started")
        return task

    def update(self, task: int, *, description: str | None = None, **_) -> None:
        if description is not None:
            self._tasks[task]["description"] = description

    def advance(self, task: int, advance: float = 1) -> None:
        state = self._tasks[task]
        state["done"] += advance
        now, total = time.monotonic(), state["total"]
        finished = total is not None and state["done"] >= total
        step = (total or 0) / 10
        if finished or now - state["shown"] >= self.every or (step and state["done"] - state["shown_done"] >= step):
            state["shown"], state["shown_done"] = now, state["done"]
            of = f"/{total:g}" if total is not None else ""
            elapsed = now - state["start"]
            self._line(f"{state['description']}: {state['done']:g}{of}"
                       + (" done" if finished else "") + f" ({elapsed:.0f} s)")

    def remove_task(self, task: int) -> None:
        self._tasks.pop(task, None)

    def _line(self, text: str) -> None:
        print(text, file=self.console.file, flush=True)


def progress_callback(bar, prefix: str):
    """The `progress(label, total) -> advance` an experiment's run function takes, drawing on `bar`.

    A task reads "… (compiling…)" until its first advance. Returns `(progress, tasks)`: `tasks` lists the ids of
    the tasks the experiment added (to remove them later).
    """
    tasks = []

    def progress(label: str, total: int):
        description = f"{prefix}: {label}"
        task = bar.add_task(description + COMPILING, total=total)
        tasks.append(task)
        started = []

        def advance(amount=1):
            if not started:
                started.append(True)
                bar.update(task, description=description)
            bar.advance(task, amount)

        return advance

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


