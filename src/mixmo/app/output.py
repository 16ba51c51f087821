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
import shutil
from pathlib import Path

from rich.table import Table

from mixmo import config as config_tree
from mixmo.app import files
from mixmo.config import ConfigError
from mixmo.experiments.registry import Claim, Results


@dataclasses.dataclass(frozen=True)
class OutDir:
    """A results folder made by `prepare_out_dir` before any work; `discard()` takes it back after a failure."""

    path: Path
    created: tuple[Path, ...]
    """The folders `prepare_out_dir` created, innermost (`path`) first; empty when `path` was an empty folder."""

    def discard(self) -> None:
        """Remove what a failed run left: the folders made for it, or the contents of the empty folder it was
        given."""
        if self.created:
            shutil.rmtree(self.created[0], ignore_errors=True)
            for folder in self.created[1:]:
                try:
                    folder.rmdir()
                except OSError:
                    break
        elif self.path.is_dir():
            for item in self.path.iterdir():
                shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()


def prepare_out_dir(out_dir: Path) -> OutDir:
    """Create `out_dir` as a new, empty results folder before any work, so an unwritable place is found at once
    (also as root, for whom permission bits say little); an existing empty folder is accepted. Raises
    `ConfigError` naming the path."""
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(f"--out {out_dir}: already exists and is not an empty folder; choose a new path.")
    missing, folder = [], out_dir.absolute()
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    claimed = OutDir(out_dir, tuple(missing))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # what writing the results will do: a hidden sibling folder renamed into place, files inside
        probe = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
        with files.atomic_file(out_dir / ".probe") as partial:
            partial.touch()
        (out_dir / ".probe").unlink()
    except OSError as error:
        claimed.discard()
        reason = error.strerror or str(error)
        raise ConfigError(f"--out {out_dir}: cannot create a folder there ({reason}); choose a writable "
                          "path.") from None
    return claimed


def resumable(run_dir: Path) -> bool:
    """Whether an RL run folder holds a checkpoint with training done (`--resume` has something to continue)."""
    for meta in Path(run_dir).glob("checkpoints/*/meta.json"):
        try:
            if int(json.loads(meta.read_text()).get("updates", 0)) > 0:
                return True
        except (OSError, ValueError, AttributeError, TypeError):
            continue
    return False


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
        if results.timings:  # what differs between identical runs stays out of the files above
            timings = json.dumps(_plain(results.timings), indent=2, allow_nan=False)
            (staging / "timings.json").write_text(timings + "\n")
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


def _plain(value):
    """Nested dicts / lists of numpy or Python numbers as plain JSON values (non-finite as null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return _json_value(value)


def _json_value(value):
    """Plain Python for JSON: numpy scalars unwrapped, NaN / inf (a metric that does not apply) as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_table(results: Results, title: str, display_names: dict[str, str], runs: int | None = None) -> Table:
    """A rich table of the summary: one row per method, `mean ± ci` where a half-width exists ("± n/a" when
    `runs` is 1: one run has no interval; "–" where a method has no value). Cells fold rather than being cut."""
    table = Table(title=title)
    table.add_column("method", overflow="fold")
    setting_cols = [c for c in results.summary.columns
                    if c not in results.table_columns and c != "method" and c.startswith("setting_")]
    for column in setting_cols + results.table_columns:
        table.add_column(column.removeprefix("setting_"), justify="right", overflow="fold")
    for row in results.summary.to_dict("records"):
        cells = [display_names.get(row["method"], row["method"])]
        for column in setting_cols + results.table_columns:
            value = row[column]
            if isinstance(value, (float, int)) and not isinstance(value, bool) and not math.isfinite(value):
                cells.append("–")
            elif f"{column}_ci95" in row:
                half = row[f"{column}_ci95"]
                cells.append(f"{value:.3f} ± " + ("n/a" if runs == 1 or not math.isfinite(half) else f"{half:.3f}"))
            elif isinstance(value, float):
                cells.append(f"{value:.3f}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    return table


def print_table(console, table: Table) -> None:
    """Print `table` whole: at the terminal's width when it is one (rich wraps or folds cells to fit), otherwise
    at the table's full natural width, so piped output is never cut at 80 columns."""
    if not console.is_terminal:
        needed = console.measure(table, options=console.options.update_width(100_000)).maximum
        console.width = max(console.width, needed)
    console.print(table)


def drop_checkpoints(run_dir: Path) -> None:
    """Remove a finished RL run's `checkpoints/` (its final policies stay in `policies/`)."""
    shutil.rmtree(Path(run_dir) / "checkpoints", ignore_errors=True)
