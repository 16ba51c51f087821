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


def _check_tiny_run(out, envs, runs):
    data = json.loads((out / "results.json").read_text())
    assert data["tiny"] and data["wall_s"] <= 600 and (data["envs"], data["runs"]) == (envs, runs)
    assert {(r["env"], r["num_envs"]) for r in data["env_throughput"]} == {(env, 2) for env in envs}
    assert all(r["env_steps_per_s"] > 0 and r["compile_s"] >= 0 for r in data["env_throughput"])
    names = [r["what"] for r in data["train_throughput"]]
    assert any("IPPO" in n for n in names) and any("AgA" in n for n in names)
    assert sum("its own set-up" in n for n in names) == len(runs)
    runs_done = {r["experiment"]: r for r in data["paper_runs"]}
    assert list(runs_done) == runs
    for run in runs_done.values():
        assert run["status"] == "done", run
        assert run["summary"] and run["claims"]
        assert {c["verdict"] for c in run["claims"]} == {"not comparable"}  # tiny budgets
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and "results.md" in files and not any(p.is_dir() for p in out.iterdir())
    assert "## Paper-budget runs" in (out / "results.md").read_text()


def test_tiny_run_of_one_environment_and_one_paper_run_writes_every_piece(gpu_run, tmp_path):
    """Every piece's code on one environment and one run: the aga-cleanup and d3c-coins trainers it compiles are
    the smoke run's (test_reproduce.py, on the same worker, gets them back); the full `--tiny` run is slow."""
    assert gpu_run.main(["--tiny", "--out", str(tmp_path), "--budget-s", "600", "--envs", "coins",
                         "--runs", "d3c-coins"]) == 0
    _check_tiny_run(tmp_path, ["coins"], ["d3c-coins"])


@pytest.mark.slow
def test_tiny_run_writes_every_piece_within_its_budget(gpu_run, tmp_path):
    assert gpu_run.main(["--tiny", "--out", str(tmp_path), "--budget-s", "600"]) == 0
    _check_tiny_run(tmp_path, list(gpu_run.ENVS), list(gpu_run.RUNS))


def test_the_default_plans_are_every_run_and_a_subset_keeps_their_order(gpu_run):
    pytest.importorskip("jaxmarl")
    assert [plan["name"] for plan in gpu_run.plans_for(True)] == list(gpu_run.RUNS)
    assert [plan["name"] for plan in gpu_run.plans_for(False)] == list(gpu_run.RUNS)
    names = gpu_run._names(gpu_run.RUNS)
    assert names("d3c-coins,aga-cleanup") == ("aga-cleanup", "d3c-coins")


@pytest.mark.parametrize("option, value", [("--envs", "cleanup,pong"), ("--runs", "aga-hanabi"), ("--runs", ",")])
def test_unknown_names_are_refused_with_the_known_ones(gpu_run, tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as exit_info:
        gpu_run.main(["--tiny", "--out", str(tmp_path / "out"), option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: unknown" in err and "known: " in err
    assert not (tmp_path / "out").exists()


def test_an_exhausted_budget_stops_at_once_and_keeps_what_was_written(gpu_run, tmp_path):
    assert gpu_run.main(["--tiny", "--out", str(tmp_path), "--budget-s", "1"]) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["env_throughput"] == [] and data["paper_runs"] == []
    assert any("budget of 1 s spent" in s for s in data["skipped"])
