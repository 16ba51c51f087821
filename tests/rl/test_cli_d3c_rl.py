"""`mixmo run d3c-coins / d3c-mini-cleanup`: results, resume, NaN stop (d3c-cleanup and d3c-harvest-patch run
in `mixmo reproduce all --budget smoke`, tests/core/test_reproduce.py)."""

import json
import os
import signal

import pandas as pd
import pytest

from mixmo.app.cli import main
from rl_helpers import poison_update
from mixmo.rl import _driver

TINY = ["--set", "max_steps=16", "--set", "a2c.num_envs=2", "--set", "a2c.num_steps=8", "--set", "a2c.hidden=8",
        "--set", "a2c.critic_hidden=8", "--set", "seeds=2", "--set", "run.checkpoint_every=1", "--quiet"]


def run(capsys, *argv):
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# The smoke preset's programs (its sizes, segments of one update), which tests/core/test_reproduce.py compiles first on
# the same pytest-xdist worker (conftest.py's SHARED_PROGRAMS): these runs come from the compilation cache.
SMOKE = ["--preset", "smoke", "--quiet"]


def test_mini_cleanup_end_to_end_with_all_three_mixers(capsys, tmp_path):
    code, out, err = run(capsys, "d3c-mini-cleanup", *SMOKE, "--out", str(tmp_path))
    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [row["method"] for row in summary] == ["selfish", "d3c", "cooperative"]
    for row in summary:
        for key in ["social_welfare", "equality", "return_0", "return_1", "apples_eaten", "cleaning_actions"]:
            assert key in row and f"{key}_ci95" in row
        assert row["social_welfare"] == pytest.approx(row["return_0"] + row["return_1"])
    assert [row.get("relative_attention") is not None for row in summary] == [False, True, False]
    curves = pd.read_csv(tmp_path / "metrics.csv")
    assert len(curves) == 3 * 2 * 2 and {"attention_0", "attention_1", "cleaning_actions"} <= set(curves.columns)
    assert curves[curves.method == "d3c"].attention_0.notna().all()
    assert curves[curves.method == "selfish"].attention_0.isna().all()
    assert (tmp_path / "training_curves.png").stat().st_size > 10_000
    assert "Choices the paper leaves open" in (tmp_path / "report.md").read_text()
    claims = json.loads((tmp_path / "claims.json").read_text())
    assert any("Cooperation" in c["quantity"] for c in claims)
    assert all(c["verdict"] == "not comparable" for c in claims)  # 2 seeds of the paper's 10


def test_coins_interrupt_then_resume_is_bit_identical(capsys, tmp_path, monkeypatch):
    settings = [*SMOKE, "--set", "a2c.total_steps=800", "--set", "methods=d3c"]  # 4 updates, an episode in each
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    code, _, err = run(capsys, "d3c-coins", *settings, "--out", str(whole))
    assert code == 0, err
    (row,) = json.loads((whole / "summary.json").read_text())
    assert "own_coin_pct" in row and 0 < row["relative_attention"] < 4.7  # 4.6 at the start; trials moved it

    saves = []
    real_save = _driver.save_checkpoint

    def save_then_interrupt(*args, **kwargs):
        result = real_save(*args, **kwargs)
        saves.append(args[0])
        if len(saves) == 3:  # the checkpoints of updates 0, 1, 2 -> SIGTERM; the run stops at update 2
            os.kill(os.getpid(), signal.SIGTERM)
        return result

    monkeypatch.setattr(_driver, "save_checkpoint", save_then_interrupt)
    code, _, err = run(capsys, "d3c-coins", *settings, "--out", str(parted))
    assert code == 143 and f"--resume {parted}" in err
    assert json.loads((parted / "checkpoints" / "d3c" / "meta.json").read_text())["updates"] == 2
    monkeypatch.setattr(_driver, "save_checkpoint", real_save)
    code, _, err = run(capsys, "d3c-coins", "--resume", str(parted), "--quiet")
    assert code == 0, err
    for name in ("metrics.csv", "summary.json"):
        assert (parted / name).read_bytes() == (whole / name).read_bytes(), name


def test_nan_stops_with_one_line(capsys, tmp_path, monkeypatch):
    poison_update(monkeypatch, 2)
    code, _, err = run(capsys, "d3c-coins", *TINY, "--set", "a2c.total_steps=48", "--set", "methods=d3c",
                       "--out", str(tmp_path))
    monkeypatch.undo()
    assert code == 1
    (line,) = err.strip().splitlines()
    assert "d3c" in line and "policy update direction" in line and "update 2" in line
    assert json.loads((tmp_path / "checkpoints" / "d3c" / "meta.json").read_text())["updates"] == 1


def test_a_configuration_run_again_in_the_same_process_compiles_nothing(capsys, tmp_path, caplog):
    """`rl_common.reused` and `rl.segment_program`: the second run gets the first run's trainers back with their
    programs, so JAX compiles nothing (not even from its persistent cache) and the results are the same bytes. (After
    the smoke run of tests/core/test_reproduce.py on this worker, the first run here compiles nothing either.)"""
    import logging

    import jax

    for name in ("first", "again"):
        caplog.clear()
        with jax.log_compiles(True), caplog.at_level(logging.WARNING, logger="jax"):
            code, _, err = run(capsys, "d3c-coins", *SMOKE, "--out", str(tmp_path / name))
        assert code == 0, err
    compiled = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Compiling ")]
    assert compiled == []
    for name in ("metrics.csv", "summary.json"):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
