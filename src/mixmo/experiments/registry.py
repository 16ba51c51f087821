"""Named experiments: a default configuration and a function that reproduces one table or figure."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from mixmo import config as config_tree
from mixmo.config import ConfigError
from mixmo.experiments.catalog import CATALOG

if TYPE_CHECKING:
    import pandas as pd


VERDICTS = ("reproduced", "close", "differs", "not comparable")
"""How a measured number stands against the paper's, in `mixmo reproduce`'s combined report."""


@dataclass(frozen=True)
class Claim:
    """One number or finding of a paper beside ours (a row of `mixmo reproduce`'s combined report).

    Attributes:
        source: where the paper states it, e.g. "Table 1", "Fig. 9", "§5.2".
        quantity: what is compared, e.g. "AgA social welfare".
        paper: the paper's value as text, e.g. "2.903 ± 0.023".
        ours: our measured value as text.
        verdict: one of `VERDICTS`.
        reason: why it differs or is not comparable (budget, an inconsistency in the paper, ...); may be empty
            when reproduced.
    """

    source: str
    quantity: str
    paper: str
    ours: str
    verdict: str
    reason: str = ""

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"Claim verdict must be one of {VERDICTS}, got {self.verdict!r}.")


@dataclass
class Results:
    """What an experiment returns; `mixmo.app.output.write_results` turns it into a results folder.

    Attributes:
        summary: one row per method (and setting): `method` plus the table's metrics -> `summary.json`.
        metrics: tidy per-run (or per-run x step) data -> `metrics.csv`.
        figures: file stem -> matplotlib Figure, saved as PNG.
        report: the Markdown report body (measured numbers beside the paper's).
        table_columns: the summary columns shown in the terminal table, in order.
        claims: the paper's numbers beside ours with a verdict each (for `mixmo reproduce`).
        timings: wall times and other measurements that differ between identical runs -> `timings.json` (kept
            out of `summary.json`, `claims.json` and `metrics.csv`, which the same settings reproduce byte for
            byte).
        notes: one-line remarks the command line prints under the table (e.g. why a value is missing).
    """

    summary: pd.DataFrame
    metrics: pd.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)
    report: str = ""
    table_columns: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    timings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """A registered reproduction: its catalog facts, its configuration tree and its run function.

    `run(config, progress)` returns `Results`; with `run_folder`, `run(config, progress, context)` also keeps
    checkpoints and logs in `context.run_dir` (`mixmo.rl.RunContext`) and can resume from them.
    """

    name: str
    description: str
    config_type: type
    run: Callable[..., Results]
    budget: str = ""
    """How long the default configuration takes on a 2-core CPU, for `mixmo list`."""
    paper: str = ""
    """"aga", "d3c" or "" (beyond the papers): which `mixmo reproduce PAPER` runs it."""
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Named overrides `{dotted key: value}`: "smoke" (seconds to minutes on a 2-core CPU, every claim exercised)
    and, where the defaults differ from the paper's set-up, "paper". `mixmo reproduce --budget` uses them."""
    seeds_key: str | None = "seeds"
    """The setting `--seeds N` sets (None: the experiment has no seeds)."""
    steps_key: str | None = "steps"
    """The setting `--steps N` sets (updates per run, or environment steps per run for RL)."""
    run_folder: bool = False
    """Whether `run` takes a `context` (checkpoints, logs, `--resume`): the RL experiments."""
    needs: str = ""
    """The optional extra it needs, e.g. "jaxmarl" (`pip install "mixmo[jaxmarl]"`)."""

    def resolve(self, presets: Sequence[str] = (), overrides: Mapping[str, str] | None = None, *,
                seeds: int | None = None, steps: int | None = None) -> config_tree.Resolved:
        """The configuration: defaults, then `presets` in order, then `--seeds`, `--steps` and `--set` (which win)."""
        texts = {}
        for flag, key, value in (("--seeds", self.seeds_key, seeds), ("--steps", self.steps_key, steps)):
            if value is not None:
                if key is None:
                    raise ConfigError(f"{flag}: {self.name} has no such setting; see `mixmo run {self.name} "
                                      "--show-config`.")
                texts[key] = str(value)
        texts.update(overrides or {})
        return config_tree.resolve(self.config_type, presets=self.presets, chosen=presets, overrides=texts)

    def make_config(self, overrides: Mapping[str, str] | None = None, presets: Sequence[str] = ()):
        """Just the configuration of `resolve`."""
        return self.resolve(presets, overrides).config


EXPERIMENTS: dict[str, Experiment] = {}
"""The experiments registered so far (`load_all()` registers every one in the catalog)."""


def register(name: str, config_type: type, *, presets: Mapping[str, Mapping[str, Any]] | None = None,
             seeds_key: str | None = "seeds", steps_key: str | None = "steps", run_folder: bool = False):
    """Decorator: register `run` under `name`, whose description, paper, budget and extra the catalog gives
    (`mixmo.experiments.catalog`).

    Args:
        presets: named `{dotted key: value}` overrides; every experiment declares "smoke".
        seeds_key, steps_key: the settings `--seeds` and `--steps` set.
        run_folder: `run(config, progress, context)` keeps checkpoints and logs (RL experiments).
    """
    entry = CATALOG[name]

    def wrap(run):
        EXPERIMENTS[name] = Experiment(name, entry.description, config_type, run, entry.budget, entry.paper,
                                       dict(presets or {}), seeds_key, steps_key, run_folder, entry.needs)
        return run

    return wrap


def get(name: str) -> Experiment:
    """The experiment called `name` (importing its module), or a `ConfigError` naming the close ones."""
    if name not in EXPERIMENTS:
        if name not in CATALOG:
            close = difflib.get_close_matches(name, list(CATALOG), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else "see `mixmo list`."
            raise ConfigError(f"unknown experiment {name!r}; {hint}")
        entry = CATALOG[name]
        if entry.needs and importlib.util.find_spec(entry.needs) is None:
            raise MissingExtra(f"{name} needs the {entry.needs} extra: pip install \"mixmo[{entry.needs}]\".")
        importlib.import_module(entry.module)
    return EXPERIMENTS[name]


def load_all() -> dict[str, Experiment]:
    """Import every catalogued experiment whose extra is installed; returns `EXPERIMENTS`."""
    for entry in CATALOG.values():
        if not entry.needs or importlib.util.find_spec(entry.needs) is not None:
            importlib.import_module(entry.module)
    return EXPERIMENTS


class MissingExtra(ConfigError):
    """An experiment needs an optional extra that is not installed."""
