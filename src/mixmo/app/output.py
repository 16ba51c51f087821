"""Results folders and terminal tables: `config.json`, `metrics.csv`, `summary.json`, `claims.json`, PNGs and
`report.md`.

A folder is written under a temporary name and renamed at the end, so an interrupted or failed run never
leaves a half-written folder that looks complete.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

from rich.table import Table

from mixmo import config as config_tree
from mixmo.app import files
from mixmo.config import ConfigError
from mixmo.experiments.registry import Claim, Results


def prepare_out_dir(out_dir: Path) -> Path:
    """Check that `out_dir` can be created as a fresh folder; create its parent. Raises `ConfigError`."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(f"--out {out_dir}: already exists and is not an empty folder; choose a new path.")
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"--out {out_dir}: cannot create its parent folder ({error.strerror}); "
                          "choose a writable path.") from None
    if not os.access(out_dir.parent, os.W_OK):
        raise ConfigError(f"--out {out_dir}: {out_dir.parent} is not writable; choose a writable path.")
    return out_dir


def write_results(results: Results, config, out_dir: Path, experiment: str) -> Path:
    """Write `results` into `out_dir` atomically (`files.staged_folder`): a new folder, or the folder of an RL run
    holding its checkpoints. Returns `out_dir`."""
    import matplotlib.pyplot as plt

    with files.staged_folder(out_dir) as staging:
        (staging / "config.json").write_text(config_json(experiment, config))
        results.metrics.to_csv(staging / "metrics.csv", index=False)
        rows = [{k: _json_value(v) for k, v in row.items()} for row in results.summary.to_dict("records")]
        (staging / "summary.json").write_text(json.dumps(rows, indent=2, allow_nan=False) + "\n")
        claims = [dataclasses.asdict(claim) for claim in results.claims]
        (staging / "claims.json").write_text(json.dumps(claims, indent=2, ensure_ascii=False) + "\n")
        for stem, figure in results.figures.items():
            figure.savefig(staging / f"{stem}.png", dpi=120)
            plt.close(figure)
        (staging / "report.md").write_text(results.report)
    return Path(out_dir)


def config_json(experiment: str, config) -> str:
    """`config.json`: the experiment's name and its resolved configuration tree."""
    return json.dumps({"experiment": experiment, "config": config_tree.to_dict(config)}, indent=2) + "\n"


def read_config(experiment, path: Path):
    """The configuration a `config.json` holds for `experiment`, strictly checked; `ConfigError` names the file
    and what to do."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it ({error}); give the folder of a run.") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is damaged (not JSON: {error.msg} at line {error.lineno}); "
                          "restore it or start a new run.") from None
    if not isinstance(data, dict) or "config" not in data:
        raise ConfigError(f"{path}: not a mixmo config.json (no \"config\"); give the folder of a run.")
    if data.get("experiment") != experiment.name:
        raise ConfigError(f"{path} holds a run of {data.get('experiment')!r}, not {experiment.name!r}.")
    config = config_tree.from_dict(experiment.config_type, data["config"], str(path))
    config_tree.validate(config)
    return config


def read_claims(out_dir: Path) -> list[Claim]:
    """The claims a results folder holds (`claims.json`; none if the folder predates it)."""
    path = Path(out_dir) / "claims.json"
    return [Claim(**item) for item in json.loads(path.read_text())] if path.exists() else []


def _json_value(value):
    """Plain Python for JSON: numpy scalars unwrapped, NaN / inf (a metric that does not apply) as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_table(results: Results, title: str, display_names: dict[str, str]) -> Table:
    """A rich table of the summary: one row per method, `mean ± ci` where a half-width exists."""
    table = Table(title=title)
    table.add_column("method")
    setting_cols = [c for c in results.summary.columns
                    if c not in results.table_columns and c != "method" and c.startswith("setting_")]
    for column in setting_cols + results.table_columns:
        table.add_column(column.removeprefix("setting_"), justify="right")
    for row in results.summary.to_dict("records"):
        cells = [display_names.get(row["method"], row["method"])]
        for column in setting_cols + results.table_columns:
            value = row[column]
            if f"{column}_ci95" in row:
                cells.append(f"{value:.3f} ± {row[f'{column}_ci95']:.3f}")
            elif isinstance(value, float):
                cells.append(f"{value:.3f}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    return table
