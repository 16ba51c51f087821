"""Sweeps: grid parsing, the local executor, and a real local Ray instance (identical results, retries)."""

import json

import pandas as pd
import pytest

from mixmo.app import sweep
from mixmo.app.cli import main
from mixmo.experiments import ConfigError

FIXED = ["--seeds", "6", "--steps", "15", "--set", "sensitivity=false", "--set", "timing_repeats=0",
         "--set", "methods=simul-ind,aga", "--quiet"]


def test_parse_grid_is_the_cartesian_product():
    grid = sweep.parse_grid(["lam=1,10", "lr=0.1,0.2,0.3"])
    assert len(grid) == 6 and grid[0] == {"lam": "1", "lr": "0.1"} and grid[-1] == {"lam": "10", "lr": "0.3"}
    assert sweep.parse_grid(["methods=aga,sga;aga"]) == [{"methods": "aga,sga"}, {"methods": "aga"}]


@pytest.mark.parametrize("specs, fragment", [(["lam"], "expected KEY=V1,V2"), (["lam=1,,2"], "empty value"),
                                             (["lam=1", "lam=2"], "given twice"), ([], "at least one --grid")])
def test_parse_grid_errors(specs, fragment):
    with pytest.raises(ConfigError, match=fragment):
        sweep.parse_grid(specs)


def test_bad_grid_value_is_refused_before_running(capsys, tmp_path):
    code = main(["sweep", "aga-public-goods", "--grid", "lam=1,big", *FIXED, "--out", str(tmp_path / "s")])
    assert code == 2 and "--grid lam=big: expected a number" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def _sweep(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(["sweep", "aga-public-goods", "--grid", "lam=1,10", *FIXED, *extra, "--out", str(out)])
    return code, pd.read_csv(out / "sweep.csv"), out


# JAX's os.fork warning (Ray's helper processes fork and exec at once) is not shown: warnings are errors here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_local_and_ray_give_identical_results_and_ray_recovers(tmp_path, monkeypatch):
    code, local, out = _sweep(tmp_path, "local")
    assert code == 0 and list(local["lam"]) == [1, 1, 10, 10] and set(local["status"]) == {"ok"}
    assert json.loads((out / "config.json").read_text())["grid_keys"] == ["lam"]
    assert "# Sweep of `aga-public-goods`" in (out / "report.md").read_text()

    pytest.importorskip("ray")
    markers = tmp_path / "markers"
    markers.mkdir()
    # point 0's worker dies on its first attempt (Ray retries it), point 1 raises on every attempt
    monkeypatch.setenv(sweep.FAULTS_ENV, json.dumps({"crash_once": [0], "fail": [1], "marker_dir": str(markers)}))
    code, ray_table, _ = _sweep(tmp_path, "ray", "--executor", "ray")
    assert code == 1  # a point failed twice: reported, and the exit status says so
    assert (markers / "crashed-0").exists()  # the crash really happened
    ok = ray_table[ray_table.status == "ok"].drop(columns=["error"], errors="ignore").reset_index(drop=True)
    expected = local[local.point == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(ok, expected, check_dtype=False)
    failed = ray_table[ray_table.point == 1]
    assert list(failed.status) == ["failed"] and "injected failure" in failed.error.iloc[0]
    # (one Ray sweep only: a second, clean one took minutes of Ray start-up to show again what point 0 shows, that
    # a point computed by a Ray worker equals the local one, bit for bit: no timings in summaries)


def test_address_without_ray_executor_is_refused(capsys, tmp_path):
    code = main(["sweep", "aga-public-goods", "--grid", "lam=1", "--address", "auto", "--out", str(tmp_path / "x")])
    assert code == 2 and "--address is for --executor ray" in capsys.readouterr().err
