"""`benchmarks/gpu_run.py --tiny`: the prepared device run, on the CPU with tiny sizes, through the same code path."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_run.py"


@pytest.fixture(scope="module")
def gpu_run():
    spec = importlib.util.spec_from_file_location("gpu_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_writes_every_piece_within_its_budget(gpu_run, tmp_path, capsys):
    assert gpu_run.main(["--tiny", "--out", str(tmp_path), "--budget-s", "600"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["tiny"] and data["wall_s"] <= 600
    envs = {(r["env"], r["num_envs"]) for r in data["env_throughput"]}
    assert envs == {("cleanup", 2), ("harvest", 2), ("coins", 2), ("coin_game", 2)}
    assert all(r["env_steps_per_s"] > 0 and r["compile_s"] >= 0 for r in data["env_throughput"])
    names = [r["what"] for r in data["train_throughput"]]
    assert any("IPPO" in n for n in names) and any("AgA" in n for n in names)
    runs = {r["experiment"]: r for r in data["paper_runs"]}
    assert set(runs) == {"aga-cleanup", "aga-harvest", "d3c-coins", "aga-selfish-mmm2"}
    for run in runs.values():
        assert run["status"] == "done", run
        assert run["summary"] and run["claims"]
        assert {c["verdict"] for c in run["claims"]} == {"not comparable"}  # tiny budgets
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) <= 8 and "results.md" in files and not any(p.is_dir() for p in tmp_path.iterdir())
    assert "## Paper-budget runs" in (tmp_path / "results.md").read_text()


def test_an_exhausted_budget_stops_at_once_and_keeps_what_was_written(gpu_run, tmp_path):
    assert gpu_run.main(["--tiny", "--out", str(tmp_path), "--budget-s", "1"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["env_throughput"] == [] and data["paper_runs"] == []
    assert any("budget of 1 s spent" in s for s in data["skipped"])
