"""Long RL runs: compiled segments with progress, checkpoints, resume, a NaN stop and clean interrupts.

`train_segments` runs a `Trainer` over seeds (vmapped) in segments of `segment` updates, each one compiled
call of `jit(vmap(trainer.run))`. After every segment it checks the metrics for NaN/inf, writes a checkpoint
(`mixmo.rl.save_checkpoint`), reports progress and hands the segment's metrics to a callback (loggers).

- Resume: the state, the update count and the metrics so far come back from the checkpoint, and the same
  compiled segments continue, so the final state and metrics are bit-identical to an uninterrupted run on
  the same machine (XLA on CPU is deterministic for a fixed program).
- NaN stop: the first update whose losses or parameters are not finite stops the run with `NonFiniteError`,
  one line naming the update, the run and the quantity; the checkpoint on disk is the last good one.
- Ctrl-C / SIGTERM: the current segment finishes, its checkpoint and metrics are written, then
  `TrainingInterrupted` is raised (a second Ctrl-C stops at once, losing only the running segment).
"""

from __future__ import annotations

import signal
import time
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax
import numpy as np

from mixmo.rl._checkpoint import CheckpointError, has_checkpoint, load_checkpoint, save_checkpoint
from mixmo.rl._train_state import UpdateMetrics
from mixmo.rl._trainer import Trainer


@dataclass(frozen=True)
class RunContext:
    """Where and how a long run keeps its files (built by the command line; experiments may ignore it).

    Attributes:
        run_dir: the results folder, written during the run (checkpoints, logs); None: nothing on disk.
        resume: continue from the checkpoints in `run_dir`.
        loggers: opt-in loggers, names from `mixmo.rl.LOGGERS`.
    """

    run_dir: Path | None = None
    resume: bool = False
    loggers: tuple[str, ...] = ()


class NonFiniteError(RuntimeError):
    """Training produced NaN or inf; the message is one line naming the update, the run and the quantity."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped training after the checkpoint of the last finished segment was written."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


# checked in this order, so the first named is the cause rather than a consequence
_QUANTITIES = (("policy_loss", "policy loss"), ("collective_loss", "collective policy loss"),
               ("value_loss", "critic loss"), ("direction_norm", "policy update direction"),
               ("finite", "network parameters"))


def metrics_to_numpy(metrics: UpdateMetrics) -> dict[str, np.ndarray]:
    """Flatten a trainer's metrics (`UpdateMetrics`, `ReinforceMetrics`: NamedTuples of arrays) into a dict of
    numpy arrays. Dict fields become `<prefix>/<name>` (`episode_stats`: `stat/<name>`, `outcomes`:
    `outcome/<name>`), the diagnostics' fields (`mixmo.methods.Diagnostics`) keys of their own; None fields (no
    mixer, no minibatches, no diagnostics) are left out."""
    out = {}
    for name, value in metrics._asdict().items():
        if value is None:
            continue
        if isinstance(value, dict):
            prefix = {"episode_stats": "stat", "outcomes": "outcome"}.get(name, name)
            out.update({f"{prefix}/{k}": np.asarray(v) for k, v in value.items()})
        elif hasattr(value, "_asdict"):
            out.update({k: np.asarray(v) for k, v in value._asdict().items()})
        else:
            out[name] = np.asarray(value)
    return out


def first_nonfinite(metrics: dict[str, np.ndarray]) -> tuple[int, int, str] | None:
    """`(update index, seed, quantity)` of the first non-finite entry in metrics `(seeds, updates)`, or None."""
    updates = metrics["finite"].shape[1]
    checked = [(key, name) for key, name in _QUANTITIES if key in metrics]  # what this trainer reports
    for j in range(updates):
        for key, name in checked:
            values = metrics[key][:, j]
            bad = ~values if values.dtype == bool else ~np.isfinite(values)
            if bad.any():
                return j, int(np.flatnonzero(bad)[0]), name
    return None


class _InterruptGuard:
    """SIGINT and SIGTERM set a flag (checked between segments); a second SIGINT raises at once."""

    def __init__(self):
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        print("mixmo: stopping after the current segment and its checkpoint (Ctrl-C again to stop now)",
              file=sys.stderr, flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def segment_program(trainer, updates: int) -> Callable:
    """`jit(vmap(trainer.init))` (`updates` 0) or `jit(vmap(trainer.run(·, updates)))`: the programs
    `train_segments` calls, made once per trainer object and kept on it (`trainer._cache`, where it has one), so
    training the same trainer again (a resumed or repeated run in the same process) traces and compiles nothing
    new."""
    programs = getattr(trainer, "_cache", {}).setdefault("segment_programs", {})
    if updates not in programs:
        programs[updates] = jax.jit(jax.vmap(trainer.init if updates == 0 else
                                             lambda state: trainer.run(state, updates)))
    return programs[updates]


def train_segments(
    trainer: Trainer,
    keys: jax.Array,
    *,
    label: str,
    segment: int,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    advance: Callable[[int], object] | None = None,
    on_segment: Callable[[dict[str, np.ndarray], int], object] | None = None,
    start: Callable | None = None,
):
    """Train `trainer` from each of `keys` (vmapped), `segment` updates per compiled call.

    Args:
        trainer: from `mixmo.rl.make_train`, `make_recurrent_train` or `make_reinforce`: anything with
            `init(key)`, `run(state, n)` and `config.num_updates` whose metrics have a `finite` field.
        keys: PRNG keys, one per seed, stacked.
        label: names the run in messages (e.g. the method).
        segment: updates per compiled call and per checkpoint.
        checkpoint_dir: where to keep this run's checkpoint; None: no checkpoints.
        resume: start from the checkpoint in `checkpoint_dir` when there is one.
        advance: progress callback, called with the number of updates just done (also for resumed ones).
        on_segment: called with each new segment's metrics `(seeds, updates, ...)` and its first update index.
        start: applied to the initial states (leading seed axis) before training or loading a checkpoint, e.g. to
            set a run's mixing rows (`mixmo.rl.fixed_rows`), so runs that differ only there share one trainer
            and its programs.

    Returns:
        `(states, metrics)`: the final `TrainState` (leading seed axis) and all metrics as numpy arrays
        `(seeds, num_updates, ...)`, including `seconds`, the wall time of each update (its segment's time
        shared equally, compilation included).

    Raises:
        NonFiniteError: a loss or parameter went NaN/inf (the checkpoint on disk is the last good one).
        TrainingInterrupted: SIGINT/SIGTERM; the checkpoint of the last finished segment is on disk.
    """
    if segment < 1:
        raise ValueError(f"segment must be >= 1, got {segment}.")
    total = trainer.config.num_updates
    batch = getattr(trainer.config, "batch_steps", None)  # environment steps per update, where fixed
    states = segment_program(trainer, 0)(keys)
    if start is not None:
        states = start(states)
    runners = {}  # this call's programs by segment length, also for a trainer without `_cache` to keep them on
    done, history = 0, {}
    meta = {"label": label, "num_updates": total, "segment": segment, "seeds": int(keys.shape[0])}
    if resume and checkpoint_dir is not None and has_checkpoint(checkpoint_dir):
        states, saved, history = load_checkpoint(checkpoint_dir, states)
        for key in ("num_updates", "segment", "seeds"):
            if saved.get(key) != meta[key]:
                raise CheckpointError(f"checkpoint {checkpoint_dir} was made with {key}={saved.get(key)}, this run "
                                      f"has {meta[key]}; resume with the run's own config.json", checkpoint_dir)
        done = int(saved["updates"])
        if advance is not None and done:
            advance(done)
    elif checkpoint_dir is not None:
        save_checkpoint(checkpoint_dir, states, {**meta, "updates": 0}, {})
    history = {k: [v] for k, v in history.items()}
    with _InterruptGuard() as guard:
        while done < total:
            n = min(segment, total - done)
            began = time.perf_counter()
            if n not in runners:
                runners[n] = segment_program(trainer, n)
            new_states, metrics = runners[n](states)
            metrics = metrics_to_numpy(jax.device_get(metrics))
            # wall time per update (compilation included), kept with the metrics so a resumed run reports the
            # whole run's time
            metrics["seconds"] = np.full(metrics["finite"].shape, (time.perf_counter() - began) / n)
            bad = first_nonfinite(metrics)
            if bad is not None:
                j, seed, quantity = bad
                update = done + j + 1
                kept = f"; last good checkpoint: {checkpoint_dir} (update {done})" if checkpoint_dir else ""
                where = f"env step {update * batch} per seed, seed {seed}" if batch else f"seed {seed}"
                raise NonFiniteError(f"{label}: {quantity} is NaN or inf at update {update} ({where}); training "
                                     f"stopped{kept}.")
            states = new_states
            for k, v in metrics.items():
                history.setdefault(k, []).append(v)
            done += n
            if checkpoint_dir is not None:
                joined = {k: np.concatenate(v, axis=1) for k, v in history.items()}
                save_checkpoint(checkpoint_dir, states, {**meta, "updates": done}, joined)
            if on_segment is not None:
                on_segment(metrics, done - n)
            if advance is not None:
                advance(n)
            if guard.signum is not None:
                where = f"; checkpoint at update {done}: {checkpoint_dir}" if checkpoint_dir else ""
                raise TrainingInterrupted(f"{label}: stopped by signal {guard.signum}{where}", guard.signum)
    return states, {k: np.concatenate(v, axis=1) for k, v in history.items()}
