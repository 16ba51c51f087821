"""`mixmo run aga-cleanup / aga-harvest` from the command line: results, resume, NaN stop, loggers, errors."""

import importlib.util
import json
import os
import signal
import sys

import pandas as pd
import pytest

from rl_helpers import TINY, poison_update
from mixmo.app.cli import main
from mixmo.rl import _driver


def run(capsys, *argv):
    code = main(["run", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# tensorboardX is an optional dependency (the `dev` extra installs it); without it the run goes without the logger
HAVE_TENSORBOARD = importlib.util.find_spec("tensorboardX") is not None


# The runs below use the smoke preset (Simul-Ind and AgA, segments of one update), which tests/core/test_reproduce.py
# runs first on the same pytest-xdist worker (conftest.py's SHARED_PROGRAMS): its trainers come back compiled
# (rl_common.reused) or its programs from the compilation cache; the other methods' trainers are checked in
# test_rl_lineup.py.
SMOKE = ["--preset", "smoke", "--quiet"]


def test_cleanup_end_to_end_with_tensorboard(capsys, tmp_path):
    out_dir = tmp_path / "cleanup"
    logger = ["--logger", "tensorboard"] if HAVE_TENSORBOARD else []
    # exactly the smoke preset: after the reproduce run on this worker, its trainers come back compiled
    # (rl_common.reused); the trained agents' GIF is checked on the Harvest run below
    code, out, err = run(capsys, "aga-cleanup", *SMOKE, *logger, "--keep-checkpoints", "--out", str(out_dir))
    assert code == 0, err
    assert "AgA" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert [row["method"] for row in summary] == ["simul-ind", "aga"]
    for row in summary:
        for key in ["social_welfare", "equality", "return_0", "return_1", "cleaning_actions", "apples_eaten"]:
            assert key in row and f"{key}_ci95" in row
        assert isinstance(row["social_welfare"], float)
        assert row["social_welfare"] == pytest.approx(row["return_0"] + row["return_1"])
    curves = pd.read_csv(out_dir / "metrics.csv")
    assert {"method", "seed", "update", "env_steps", "return_0", "return_1", "social_welfare", "equality",
            "apples_eaten", "cleaning_actions", "beams_fired"} <= set(curves.columns)
    assert len(curves) == 2 * 2 * 2  # methods x seeds x updates
    assert curves.env_steps.max() == 32
    assert (out_dir / "training_curves.png").stat().st_size > 10_000
    report = (out_dir / "report.md").read_text()
    assert "105.15" in report and "Set-up, beside the paper" in report and "App. E.1" in report
    meta = json.loads((out_dir / "checkpoints" / "aga" / "meta.json").read_text())  # --keep-checkpoints
    assert meta["updates"] == 2 and meta["num_updates"] == 2
    assert sorted(p.name for p in (out_dir / "policies").iterdir()) == ["aga.eqx", "simul-ind.eqx"]
    assert json.loads((out_dir / "timings.json").read_text())["training_seconds"].keys() == {"simul-ind", "aga"}
    if HAVE_TENSORBOARD:
        events = list((out_dir / "tensorboard").rglob("events.out.tfevents.*"))
        assert {p.parent.name for p in events} == {"simul-ind", "aga"}


def test_interrupt_then_resume_is_bit_identical(capsys, tmp_path, monkeypatch):
    settings = [*SMOKE, "--set", "gif_steps=3"]  # the smoke run's trainers (rl_common.DRIVING_FIELDS: the GIF)
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    code, _, err = run(capsys, "aga-harvest", *settings, "--out", str(whole))
    assert code == 0, err
    # the uninterrupted run is also the Harvest end-to-end check
    summary = json.loads((whole / "summary.json").read_text())
    assert [row["method"] for row in summary] == ["simul-ind", "aga"]
    for row in summary:
        assert {"social_welfare", "social_welfare_ci95", "equality", "equality_ci95", "return_0", "return_1",
                "beams_fired", "apples_eaten"} <= set(row)
        assert "cleaning_actions" not in row  # Harvest has no cleaning
    assert "33.55" in (whole / "report.md").read_text()
    assert (whole / "harvest_aga.gif").read_bytes()[:6] == b"GIF89a"  # the trained agents, after training

    saves = []
    real_save = _driver.save_checkpoint

    def save_then_interrupt(*args, **kwargs):
        result = real_save(*args, **kwargs)
        saves.append(args[0])
        if len(saves) == 5:  # simul-ind: updates 0..2; aga: updates 0, 1 -> Ctrl-C during its second update
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(_driver, "save_checkpoint", save_then_interrupt)
    code, _, err = run(capsys, "aga-harvest", *settings, "--out", str(parted))
    assert code == 130
    assert f"--resume {parted}" in err and not (parted / "summary.json").exists()
    assert json.loads((parted / "checkpoints" / "aga" / "meta.json").read_text())["updates"] == 1
    monkeypatch.setattr(_driver, "save_checkpoint", real_save)

    code, _, err = run(capsys, "aga-harvest", "--resume", str(parted), "--quiet")
    assert code == 0, err
    # the same key gives the same bytes, resumed or not (an RL experiment's determinism); times go elsewhere
    for name in ("metrics.csv", "summary.json", "claims.json", "policies/simul-ind.eqx", "policies/aga.eqx"):
        assert (parted / name).read_bytes() == (whole / name).read_bytes(), name
    assert not (parted / "checkpoints").exists() and (parted / "timings.json").exists()  # finished: dropped
    code, _, err = run(capsys, "aga-harvest", "--resume", str(parted), "--quiet")
    assert code == 2 and "finished" in err


def test_nan_stops_with_one_line_and_keeps_the_last_good_checkpoint(capsys, tmp_path, monkeypatch):
    out_dir = tmp_path / "nan"
    poison_update(monkeypatch, 2)
    code, _, err = run(capsys, "aga-cleanup", *TINY, "--set", "ppo.total_steps=48", "--set", "run.checkpoint_every=1",
                       "--set", "methods=simul-ind", "--out", str(out_dir))
    # the poisoning wrapper stays: its counter is part of the checkpointed method state the resumes below load
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    # the poisoned first step leaves NaN parameters, so the next minibatch's loss is the first NaN named
    assert "simul-ind" in lines[0] and "policy loss" in lines[0] and "update 2" in lines[0]
    meta = json.loads((out_dir / "checkpoints" / "simul-ind" / "meta.json").read_text())
    assert meta["updates"] == 1
    assert not (out_dir / "report.md").exists()

    # the stopped run's folder, damaged in the ways a disk or an editor damages files: one line naming the file
    # and what to do, exit status 2, and the folder left as it was
    checkpoint = out_dir / "checkpoints" / "simul-ind"
    state = (checkpoint / "state.eqx").read_bytes()
    (checkpoint / "state.eqx").write_bytes(state[:1000])
    code, _, err = run(capsys, "aga-cleanup", "--resume", str(out_dir), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"checkpoint {checkpoint / 'state.eqx'} is damaged (truncated?" in err
    assert f"delete {checkpoint} to restart that run from scratch, or the whole {out_dir}" in err
    (checkpoint / "state.eqx").write_bytes(state)
    meta_text = (checkpoint / "meta.json").read_text()
    (checkpoint / "meta.json").write_text(meta_text[:20])
    code, _, err = run(capsys, "aga-cleanup", "--resume", str(out_dir), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{checkpoint / 'meta.json'} is damaged" in err
    (checkpoint / "meta.json").write_text(meta_text)
    config_text = (out_dir / "config.json").read_text()
    (out_dir / "config.json").write_text(config_text.replace('"total_steps": 48', '"total_steps": "abc"'))
    code, _, err = run(capsys, "aga-cleanup", "--resume", str(out_dir), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "total_steps" in err and "config.json" in err, err
    (out_dir / "config.json").write_text(config_text.replace('"total_steps": 48', '"total_steps": 64'))
    code, _, err = run(capsys, "aga-cleanup", "--resume", str(out_dir), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "num_updates=3, this run has 4" in err, err
    (out_dir / "config.json").write_text(config_text[:50])
    code, _, err = run(capsys, "aga-cleanup", "--resume", str(out_dir), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "config.json is damaged (not JSON" in err
    assert sorted(p.name for p in out_dir.iterdir()) == ["checkpoints", "config.json"]


def test_logger_and_resume_errors_are_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if wandb were not installed
    code, _, err = run(capsys, "aga-cleanup", *TINY, "--logger", "wandb", "--out", str(tmp_path / "w"))
    assert code == 2 and "pip install wandb" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()
    code, _, err = run(capsys, "aga-public-goods", "--logger", "tensorboard", "--quiet", "--out", str(tmp_path / "p"))
    assert code == 2 and "RL experiments" in err and "aga-cleanup" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "aga-cleanup", "--logger", "mlflow"])
    assert exit_info.value.code == 2
    capsys.readouterr()
    code, _, err = run(capsys, "aga-cleanup", "--resume", str(tmp_path / "nowhere"))
    assert code == 2 and "no config.json" in err
    code, _, err = run(capsys, "aga-cleanup", "--resume", str(tmp_path), "--set", "lam=1")
    assert code == 2 and "drop --preset, --set" in err
    code, _, err = run(capsys, "aga-cleanup", "--set", "methods=simul-ind,nope", "--out", str(tmp_path / "m"))
    assert code == 2 and "nope" in err


def test_list_shows_the_rl_experiments_with_budgets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("aga-cleanup", "aga-harvest"):
        line = next(line for line in out.splitlines() if line.startswith(name))
        assert "min" in line and "2-core CPU" in line


def test_a_budget_too_small_for_an_episode_says_so_and_names_no_winner():
    """Issue: `--set ppo.total_steps=8192` on 1000-step episodes: 'nan ± nan' and 'highest social welfare
    **Simul-Ind** (nan)'. Now a note with the budget needed, '–' for the values and no ranking among them."""
    import numpy as np

    from mixmo.experiments import rl_common
    from mixmo.experiments.aga import ssd

    config = ssd.SSDConfig(num_agents=2, seeds=1, methods=("simul-ind", "sl"))
    empty = {"episodes": np.zeros((1, 4), np.int64)}
    late = {"episodes": np.array([[0, 5, 0, 0]])}
    notes = rl_common.episode_notes({"simul-ind": empty, "sl": late}, 0.25, max_steps=1000, num_envs=4,
                                    steps_per_env=512, steps_key="ppo.total_steps")
    assert len(notes) == 2
    assert notes[0].startswith("no episode ended during training in simul-ind (1 of 1 seed)") and ">= 4,000 ends" in notes[0]
    assert ">= 16,000 puts episode ends in the averaging window" in notes[0]
    assert notes[1].startswith("no episode ended in the averaging window in sl (1 of 1 seed)")
    nan = float("nan")
    row = {"setting_lam": "-", "env_steps_per_seed": 2048, **{f"{k}{s}": nan for k in
           ["social_welfare", "equality", "return_0", "return_1", "policy_entropy", *ssd.EPISODE_STATS]
           for s in ("", "_ci95")}}
    summary = pd.DataFrame([{"method": "simul-ind", **row}, {"method": "sl", **row}])
    report = ssd._report("cleanup", config, config.ppo, summary, {"simul-ind": 1.0, "sl": 1.0}, None, notes[:1])
    body = report.split("## Configuration")[0]
    assert " nan" not in body.lower() and "(nan)" not in body.lower() and "**Note:** no episode ended" in report
    assert "no method has a social welfare value" in report and "1 seed per method" in report
    assert "highest social welfare **" not in report
    [best] = ssd.claims("cleanup", config, summary)
    assert "nan" not in best.ours.lower()
