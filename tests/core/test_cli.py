"""The `mixmo` command: tiny real runs, the output contract, and every error path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mixmo.app.cli import main

TINY = ["--seeds", "3", "--steps", "12", "--quiet"]


def run_main(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_each_experiment(capsys):
    code, out, _ = run_main(capsys, "list")
    assert code == 0
    assert "aga-public-goods" in out and "aga-toy" in out


# The tiny end-to-end runs of aga-public-goods and aga-toy are checked on `mixmo reproduce all --budget smoke`
# (tests/core/test_reproduce.py), which runs them with the same settings.


@pytest.mark.parametrize("argv, fragment", [
    (["run", "no-such-experiment"], "unknown experiment 'no-such-experiment'"),
    (["run", "aga-public-goods", "--set", "methods=aga,telepathy"], "unknown method 'telepathy'"),
    (["run", "aga-public-goods", "--seeds", "0"], "--seeds: must be at least 1"),
    (["run", "aga-public-goods", "--seeds", "many"], "--seeds: expected a positive integer"),
    (["run", "aga-public-goods", "--set", "lr=fast"], "--set lr=fast: expected a number"),
    (["run", "aga-public-goods", "--set", "lr"], "expected KEY=VALUE"),
    (["run", "aga-public-goods", "--set", "colour=red"], "unknown setting 'colour'"),
    (["run", "aga-public-goods", "--set", "lr=-1"], "lr must be > 0"),
    (["run", "aga-public-goods", "--set", "lam=nan"], "NaN is not allowed"),
    (["run", "aga-public-goods", "--set", "sl_alpha=-2"], "sl: alpha must be >= 0"),
    (["run", "aga-public-goods", "--out", "/proc/forbidden/x"], "--out /proc/forbidden/x"),
    (["frobnicate"], "invalid choice"),
])
def test_error_paths_one_line_no_traceback(capsys, argv, fragment):
    with pytest.raises(SystemExit) if argv[0] == "frobnicate" or "--seeds" in argv else _no_exit():
        code = main(argv)
        assert code == 2
    out, err = capsys.readouterr()
    assert fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_existing_results_folder_is_refused(capsys, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("keep me")
    code, _, err = run_main(capsys, "run", "aga-public-goods", *TINY, "--out", str(tmp_path / "taken"))
    assert code == 2 and "already exists" in err
    assert (tmp_path / "taken" / "file.txt").read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_unwritable_out_is_refused(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run_main(capsys, "run", "aga-public-goods", *TINY, "--out", str(locked / "r"))
    assert code == 2 and "not writable" in err


def test_failed_write_leaves_nothing_behind(capsys, tmp_path, monkeypatch):
    import mixmo.app.output

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    code, _, err = run_main(capsys, "run", "aga-public-goods", *TINY, "--set", "sensitivity=false",
                            "--out", str(tmp_path / "r"))
    assert code == 1 and "No space left" in err
    assert list(tmp_path.iterdir()) == []
    assert mixmo.app.output  # imported module under test


def test_show_config_lists_settings(capsys):
    code, out, _ = run_main(capsys, "run", "aga-public-goods", "--show-config", "--set", "lam=3")
    assert code == 0 and "lam = 3.0" in out and "sl_alpha" in out
    assert "AgA's alignment parameter" in out  # each setting's docstring is shown under it


def test_console_script_smoke(tmp_path):
    out_dir = tmp_path / "smoke"
    result = subprocess.run([sys.executable, "-m", "mixmo.app.cli", "run", "aga-public-goods", *TINY,
                             "--set", "sensitivity=false", "--out", str(out_dir)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "AgA" in result.stdout  # the terminal table
    assert (out_dir / "report.md").exists() and not list(tmp_path.glob(".*partial*"))
    bad = subprocess.run([sys.executable, "-m", "mixmo.app.cli", "run", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("mixmo: error: unknown experiment")
    assert Path(out_dir).exists()


def test_summary_json_is_strict(tmp_path):
    import math

    import pandas as pd

    from mixmo.experiments import Results
    from mixmo.experiments.aga.toy import ToyConfig
    from mixmo.app.output import write_results

    results = Results(summary=pd.DataFrame([{"method": "aga", "x": float("nan"), "n": 3}]),
                      metrics=pd.DataFrame([{"a": 1}]))
    out = write_results(results, ToyConfig(), tmp_path / "r", "aga-toy")
    text = (out / "summary.json").read_text()
    assert "NaN" not in text
    row = json.loads(text)[0]
    assert row["x"] is None and row["n"] == 3 and not math.isnan(row["n"])
