"""Opt-in training loggers: TensorBoard event files (tensorboardX) and Weights & Biases.

`metrics.csv` is always written by the experiment; these loggers stream the same curves while a run goes.
Each is imported only when chosen, and a missing package is one clear line (`LoggerUnavailable`).

Metric names are namespaced (`train/return_0`, `train/social_welfare`, `loss/policy`, ...): the glossary is
in docs/rl.md. Logging happens per run "stream" (one per method): TensorBoard writes one folder per stream,
W&B one run per stream (grouped by experiment); the step is the number of environment steps per seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

LOGGERS = ("tensorboard", "wandb")


class LoggerUnavailable(ValueError):
    """A chosen logger cannot be used (unknown name or package not installed); the message says the fix."""


class Logger(Protocol):
    def start(self, stream: str, config: dict) -> None: ...
    def log(self, step: int, scalars: dict[str, float]) -> None: ...
    def finish(self) -> None: ...


class TensorBoardLogger:
    """TensorBoard event files under `log_dir/<stream>/` via tensorboardX."""

    def __init__(self, log_dir: str | Path):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise LoggerUnavailable("--logger tensorboard needs the tensorboardX package: "
                                    "pip install tensorboardX (or pip install 'mixmo[loggers]').") from None
        self._writer_type = SummaryWriter
        self.log_dir = Path(log_dir)
        self._writer = None

    def start(self, stream: str, config: dict) -> None:
        self.finish()
        self._writer = self._writer_type(logdir=str(self.log_dir / stream))
        self._writer.add_text("config", "\n".join(f"    {k} = {v!r}" for k, v in config.items()), 0)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        for name, value in scalars.items():
            self._writer.add_scalar(name, value, step)

    def finish(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class WandbLogger:
    """One Weights & Biases run per stream, grouped under the experiment's name.

    W&B's own settings apply (e.g. `WANDB_MODE=offline`, `WANDB_PROJECT`); the project defaults to "mixmo".
    """

    def __init__(self, log_dir: str | Path, group: str):
        try:
            import wandb
        except ImportError:
            raise LoggerUnavailable("--logger wandb needs the wandb package: pip install wandb "
                                    "(or pip install 'mixmo[loggers]').") from None
        self._wandb = wandb
        self.log_dir = Path(log_dir)
        self.group = group
        self._run = None

    def start(self, stream: str, config: dict) -> None:
        import os

        self.finish()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._run = self._wandb.init(project=os.environ.get("WANDB_PROJECT", "mixmo"), group=self.group,
                                     name=f"{self.group}/{stream}", dir=str(self.log_dir), config=config)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        self._run.log(scalars, step=step)

    def finish(self) -> None:
        if self._run is not None:
            self._run.finish()
            self._run = None


def check_loggers(names) -> None:
    """Raise `LoggerUnavailable` unless every logger in `names` is known and its package importable."""
    import importlib

    packages = {"tensorboard": ("tensorboardX", "tensorboardX"), "wandb": ("wandb", "wandb")}
    for name in names:
        if name not in packages:
            raise LoggerUnavailable(f"unknown logger {name!r}; choose from {', '.join(LOGGERS)}.")
        module, pip_name = packages[name]
        try:
            importlib.import_module(module)
        except ImportError:
            raise LoggerUnavailable(f"--logger {name} needs the {pip_name} package: pip install {pip_name} "
                                    "(or pip install 'mixmo[loggers]').") from None


def make_loggers(names, log_dir: str | Path, group: str) -> list:
    """Loggers for `names` (each in `LOGGERS`), writing under `log_dir`. Raises `LoggerUnavailable`."""
    loggers = []
    for name in names:
        if name == "tensorboard":
            loggers.append(TensorBoardLogger(Path(log_dir) / "tensorboard"))
        elif name == "wandb":
            loggers.append(WandbLogger(Path(log_dir) / "wandb", group))
        else:
            raise LoggerUnavailable(f"unknown logger {name!r}; choose from {', '.join(LOGGERS)}.")
    return loggers
