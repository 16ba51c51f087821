"""Sweeps: one experiment over a grid of settings; seeds are vmapped inside each job.

`mixmo sweep NAME --grid key=v1,v2 [--grid ...]` runs every point of the grid (the Cartesian product) and
gathers the experiments' summary rows into one tidy table, with the grid keys as columns. The `local`
executor runs the points one after another in this process; the `ray` executor submits one Ray task per
point to a cluster (`pip install "mixmo[ray]"`), retries a task once if it fails or its worker dies, and
reports a point that fails twice instead of dropping it.

Pointing it at a cluster: start Ray on the machines (`ray start --head` on one, `ray start --address HEAD:6379`
on the others, each with mixmo installed), then `mixmo sweep NAME ... --executor ray --address HEAD:6379`
(or `--address auto` on a cluster node). Without `--address` a local Ray instance is started.
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mixmo.app import files
from mixmo.config import ConfigError
from mixmo.experiments import get

# Fault injection for testing the Ray executor's recovery: JSON {"crash_once": [i, ...], "fail": [i, ...],
# "marker_dir": "..."} makes point i kill its worker process on the first attempt, or always raise.
FAULTS_ENV = "MIXMO_SWEEP_FAULTS"


@dataclass(frozen=True)
class PointOutcome:
    """What one grid point produced: its summary rows, or the error that stopped it."""

    index: int
    settings: dict
    summary: list | None = None
    report: str = ""
    error: str | None = None


def parse_grid(specs: list[str]) -> list[dict[str, str]]:
    """`["lam=1,10", "lr=0.1"]` -> the Cartesian product as a list of {key: value text}.

    Values are separated by commas, or by semicolons when one value itself holds commas
    (`methods=aga,sga;aga`).
    """
    axes = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--grid {spec!r}: expected KEY=V1,V2,..., e.g. --grid lam=1,10,100.")
        if key in axes:
            raise ConfigError(f"--grid {key}: given twice; list all its values in one --grid.")
        parts = [v.strip() for v in values.split(";" if ";" in values else ",")]
        if not parts or any(not p for p in parts):
            raise ConfigError(f"--grid {spec!r}: empty value; expected KEY=V1,V2,...")
        axes[key] = parts
    if not axes:
        raise ConfigError("give at least one --grid KEY=V1,V2,...")
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def expand(name: str, base: dict[str, str], grid: list[dict[str, str]]) -> list[dict[str, str]]:
    """Every grid point's full overrides, each checked by building its config (errors before anything runs)."""
    experiment = get(name)
    points = []
    for point in grid:
        overrides = {**base, **point}
        try:
            experiment.make_config(overrides)
        except ConfigError as error:
            bad = next((k for k in point if f"--set {k}=" in str(error) or f"{k!r}" in str(error)), None)
            if bad is None:
                raise
            raise ConfigError(str(error).replace("--set", "--grid", 1)) from None
        points.append(overrides)
    return points


def run_point(name: str, index: int, overrides: dict[str, str]) -> dict:
    """Run one grid point (in this process or a Ray worker). Returns plain data: summary rows and report."""
    _inject_faults(index)
    import matplotlib.pyplot as plt

    experiment = get(name)
    config = experiment.make_config(overrides)
    results = experiment.run(config, lambda label, total: (lambda amount=1: None))
    for figure in results.figures.values():
        plt.close(figure)
    return {"summary": json.loads(results.summary.to_json(orient="records")), "report": results.report}


def _inject_faults(index: int) -> None:
    spec = os.environ.get(FAULTS_ENV)
    if not spec:
        return
    faults = json.loads(spec)
    if index in faults.get("fail", []):
        raise RuntimeError(f"injected failure at grid point {index}")
    if index in faults.get("crash_once", []):
        marker = Path(faults["marker_dir"]) / f"crashed-{index}"
        if not marker.exists():
            marker.touch()
            os._exit(1)  # the worker process dies without cleaning up, as on a lost machine


def run_local(name: str, points: list[dict], grid: list[dict], advance) -> list[PointOutcome]:
    """Run the points one after another in this process; a failing point is reported, the rest go on."""
    outcomes = []
    for index, (overrides, settings) in enumerate(zip(points, grid)):
        try:
            data = run_point(name, index, overrides)
            outcomes.append(PointOutcome(index, settings, data["summary"], data["report"]))
        except Exception as error:  # noqa: BLE001 - one bad point must not lose the others
            outcomes.append(PointOutcome(index, settings, error=f"{type(error).__name__}: {error}"))
        advance()
    return outcomes


def run_ray(name: str, points: list[dict], grid: list[dict], advance, address: str | None) -> list[PointOutcome]:
    """One Ray task per point, each retried once (worker death or exception); failures are reported."""
    try:
        import ray
    except ImportError:
        raise ConfigError('--executor ray needs Ray: pip install "mixmo[ray]".') from None
    with warnings.catch_warnings():
        # Ray starts its helper processes by fork + exec from this process, where JAX is loaded; they exec at
        # once, so JAX's "os.fork() was called ..." warning (about forked children that go on running JAX) does
        # not apply, and it is not shown
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        return _run_ray(ray, name, points, grid, advance, address)


def _run_ray(ray, name: str, points: list[dict], grid: list[dict], advance, address: str | None):
    started_here = not ray.is_initialized()
    if started_here:
        env = {FAULTS_ENV: os.environ[FAULTS_ENV]} if FAULTS_ENV in os.environ else {}
        ray.init(address=address, runtime_env={"env_vars": env} if env else None,
                 include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        task = ray.remote(max_retries=1, retry_exceptions=True)(run_point)
        futures = [task.remote(name, index, overrides) for index, overrides in enumerate(points)]
        outcomes = []
        for index, (future, settings) in enumerate(zip(futures, grid)):
            try:
                data = ray.get(future)
                outcomes.append(PointOutcome(index, settings, data["summary"], data["report"]))
            except Exception as error:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, ...
                message = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
                outcomes.append(PointOutcome(index, settings, error=f"failed twice: {message}"))
            advance()
        return outcomes
    finally:
        if started_here:
            ray.shutdown()


def combine(outcomes: list[PointOutcome]) -> pd.DataFrame:
    """One tidy table: a row per (grid point, summary row), grid keys as columns, `status` per point."""
    rows = []
    for outcome in outcomes:
        base = {"point": outcome.index, **outcome.settings}
        if outcome.error is not None:
            rows.append({**base, "status": "failed", "error": outcome.error})
            continue
        rows += [{**base, "status": "ok", **row} for row in outcome.summary]
    return pd.DataFrame(rows)


def write_sweep(table: pd.DataFrame, outcomes: list[PointOutcome], meta: dict, out_dir: Path) -> Path:
    """Write `sweep.csv`, `summary.json`, `config.json` and `report.md` atomically into `out_dir`."""
    with files.staged_folder(out_dir) as staging:
        table.to_csv(staging / "sweep.csv", index=False)
        (staging / "summary.json").write_text(table.to_json(orient="records", indent=2) + "\n")
        (staging / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        (staging / "report.md").write_text(_report(table, outcomes, meta))
    return Path(out_dir)


def _report(table: pd.DataFrame, outcomes: list[PointOutcome], meta: dict) -> str:
    failed = [o for o in outcomes if o.error is not None]
    lines = [f"# Sweep of `{meta['experiment']}`", "",
             f"{len(outcomes)} grid points over {', '.join(meta['grid_keys'])} on the `{meta['executor']}` "
             f"executor; {len(failed)} failed.", "", markdown_table(table), ""]
    if failed:
        lines += ["## Failed points", ""] + [f"- point {o.index} {o.settings}: {o.error}" for o in failed] + [""]
    return "\n".join(lines)


def markdown_table(table: pd.DataFrame) -> str:
    columns = [c for c in table.columns if not c.endswith("_ci95") and c != "error"]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in table.to_dict("records"):
        cells = []
        for c in columns:
            value = row.get(c)
            if isinstance(value, float):
                half = row.get(f"{c}_ci95")
                cells.append(f"{value:.3f}" + (f" ± {half:.3f}" if isinstance(half, float) and half == half else ""))
            else:
                cells.append("" if value is None or value != value else str(value))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
