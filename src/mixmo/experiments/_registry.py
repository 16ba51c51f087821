"""Named experiments: a default configuration and a function that reproduces one table or figure."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd


class ConfigError(ValueError):
    """A user's configuration is invalid; the message names the problem and the fix."""


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
    """What an experiment returns; `mixmo.report.write_results` turns it into a results folder.

    Attributes:
        summary: one row per method (and setting): `method` plus the table's metrics -> `summary.json`.
        metrics: tidy per-run (or per-run x step) data -> `metrics.csv`.
        figures: file stem -> matplotlib Figure, saved as PNG.
        report: the Markdown report body (measured numbers beside the paper's).
        table_columns: the summary columns shown in the terminal table, in order.
        claims: the paper's numbers beside ours with a verdict each (for `mixmo reproduce`).
    """

    summary: pd.DataFrame
    metrics: pd.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)
    report: str = ""
    table_columns: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    """A registered reproduction: `run(config, progress) -> Results`."""

    name: str
    description: str
    config_type: type
    run: Callable[[Any, Callable[[str, int], Any]], Results]
    budget: str = ""  # how long the default configuration takes on a 2-core CPU, for `mixmo list`
    paper: str = ""  # "aga", "d3c" or "" (beyond the papers): which `mixmo reproduce PAPER` runs it
    budgets: dict[str, dict[str, str]] = field(default_factory=dict)  # "smoke" / "paper" -> --set overrides


EXPERIMENTS: dict[str, Experiment] = {}


def register(name: str, description: str, config_type: type, budget: str = "", paper: str = "",
             budgets: dict[str, dict[str, str]] | None = None):
    """Decorator: register `run(config, progress) -> Results` under `name`.

    Args:
        budget: how long the default configuration takes on a 2-core CPU (shown by `mixmo list`).
        paper: "aga" or "d3c" when the experiment reproduces part of that paper (`mixmo reproduce PAPER`).
        budgets: `--set`-style overrides (name -> text value) for the non-default budgets of
            `mixmo reproduce --budget`: "smoke" (minutes on a 2-core CPU, all of a paper together) and
            "paper" (the paper's own budget). The default budget is the config's defaults.
    """

    def wrap(run):
        EXPERIMENTS[name] = Experiment(name, description, config_type, run, budget, paper, dict(budgets or {}))
        return run

    return wrap


def get(name: str) -> Experiment:
    """The experiment called `name`, or a `ConfigError` listing the known ones."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS))} (see `mixmo list`).")
    return EXPERIMENTS[name]


def _parse_value(name: str, text: str, kind):
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"--set {name}={text}: expected true or false.")
    if kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            raise ConfigError(f"--set {name}={text}: expected {'an integer' if kind is int else 'a number'}.") from None
        if kind is float and value != value:
            raise ConfigError(f"--set {name}={text}: NaN is not allowed.")
        return value
    if kind is str:
        return text
    if typing.get_origin(kind) is tuple:
        parts = [p for p in text.split(",") if p.strip()]
        item = typing.get_args(kind)[0]
        return tuple(_parse_value(name, p, item) for p in parts)
    raise ConfigError(f"--set {name}: cannot be set from the command line.")


def make_config(config_type: type, overrides: dict[str, str]):
    """Build `config_type` from its defaults and `key=value` text overrides, checking names and types."""
    hints = typing.get_type_hints(config_type)
    fields = {f.name for f in dataclasses.fields(config_type)}
    values = {}
    for key, text in overrides.items():
        if key not in fields:
            raise ConfigError(f"unknown setting {key!r}; settings: {', '.join(sorted(fields))}.")
        values[key] = _parse_value(key, text, hints[key])
    config = config_type(**values)
    check = getattr(config, "validate", None)
    if check is not None:
        check()
    return config


def field_docs(config_type: type) -> dict[str, str]:
    """The docstring written under each field of a config dataclass and of its dataclass bases (for
    `mixmo run NAME --show-config`); a subclass's own docstring wins."""
    docs = {}
    for cls in reversed([c for c in config_type.__mro__ if dataclasses.is_dataclass(c)]):
        docs.update(_own_field_docs(cls))
    return docs


def _own_field_docs(config_type: type) -> dict[str, str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(config_type)))
    body = tree.body[0].body
    docs = {}
    for statement, following in zip(body, body[1:]):
        if (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)):
            docs[statement.target.id] = " ".join(following.value.value.split())
    return docs
