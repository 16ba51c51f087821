"""`mixmo run d3c-trust-your-brother` from the command line: claims, errors, resume and the NaN stop (its results
folder end to end: tests/core/test_reproduce.py, on the smoke run)."""

import json

import pandas as pd
import pytest

from rl_helpers import fresh_trainers
from mixmo.app.cli import main
from mixmo.experiments.d3c import tyb as d3c_tyb


def run(capsys, *argv):
    code = main(["run", "d3c-trust-your-brother", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def summary_with(d3c_total, attention, weight, selfish_total=-5.0, variant_median=-3.0):
    row = {"social_welfare_ci95": 0.01, "relative_attention_0": attention, "relative_attention_1": attention,
           "weight_to_other_0": weight, "weight_to_other_1": weight}
    return pd.DataFrame([
        {**row, "method": "selfish", "social_welfare": selfish_total, "social_welfare_median": selfish_total},
        {**row, "method": "d3c", "social_welfare": d3c_total, "social_welfare_median": d3c_total},
        {**row, "method": "d3c@iteration=episode", "social_welfare": -4.0, "social_welfare_median": variant_median}])


def test_claims_verdicts_follow_the_measurements():
    config = d3c_tyb.TYBConfig()
    good = {c.quantity: c.verdict for c in d3c_tyb.claims(config, summary_with(-1.1, -0.5, 0.6, variant_median=-1.2))}
    assert set(good.values()) == {"reproduced"} and len(good) == 6  # 2 medians, policy gradient, 3 for "d3c"
    bad = {c.quantity: c.verdict for c in d3c_tyb.claims(config, summary_with(-5.2, 4.5, 0.012, -1.5, -4.5))}
    assert set(bad.values()) == {"differs"}
    mixed = {c.quantity: c.verdict for c in d3c_tyb.claims(config, summary_with(-1.1, -0.5, 0.6))}
    episode = "D3C η_A 1, one iteration per episode (τ in episodes), g = one episode's return: total return per " \
              "episode, median over runs (last 10%)"
    assert mixed[episode] == "differs" and list(mixed.values()).count("reproduced") == 5
    few = d3c_tyb.claims(d3c_tyb.TYBConfig(seeds=20), summary_with(-1.1, -0.5, 0.6))
    assert {c.verdict for c in few} == {"not comparable"}


def test_method_ids_give_the_d3c_settings_of_each_reading():
    base = d3c_tyb.TYBConfig().d3c
    assert d3c_tyb.d3c_config("selfish", base) is None and d3c_tyb.d3c_config("d3c", base) == base
    slope = d3c_tyb.d3c_config("d3c@iteration=episodes-slope-per-update@g_scale=total@lr=20", base)
    assert (slope.iteration, slope.g_scale, slope.lr, slope.tau_min) == ("episodes-slope-per-update", "total", 20.0, 10)
    assert d3c_tyb.report.label("d3c@g_scale=total", base) == "D3C η_A 1, τ in updates, g = batch total"
    assert set(d3c_tyb.TYBConfig().methods) >= {"selfish", "d3c", "d3c@iteration=episode", "cooperative",
                                                "d3c@iteration=episodes-slope-per-update", "d3c@g_scale=total"}
    assert d3c_tyb.median_ci95([3.0, 1.0, 2.0]) == (1.0, 3.0)


@pytest.mark.parametrize("setting,message", [
    ("reinforce.episodes=3", "episodes must be even"),
    ("methods=selfish,altruist", "unknown method 'altruist'"),
    ("d3c.lr=0", "D3C lr must be a positive number"),
    ("d3c.low=5", "d3c: D3C logit bounds need low < high"),
    ("d3c.tau_min=30", "tau_min <= tau_max"),
    ("d3c.iteration=epoch", "D3C iteration must be one of 'update', 'episode', 'episodes-slope-per-update'"),
    ("methods=d3c@g_scale=sum", "method 'd3c@g_scale=sum': D3C g_scale must be one of 'mean', 'total'"),
    ("methods=d3c@lr", "'lr' is not KEY=VALUE"),
    ("methods=d3c@clip=1", "'clip' is not a d3c setting"),
    ("methods=d3c@lr=fast", "expected a number"),
    ("reinforce.mix_per_episode=true", "unknown setting 'reinforce.mix_per_episode'"),
])
def test_bad_settings_give_one_line_and_exit_2(capsys, tmp_path, setting, message):
    code, _, err = run(capsys, "--set", setting, "--quiet", "--out", str(tmp_path / "x"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "x").exists()


def test_interrupt_then_resume_is_bit_identical_and_nan_stops(capsys, tmp_path, monkeypatch):
    """REINFORCE runs through `rl.train_segments`: checkpoints per segment, --resume, the NaN stop."""
    import os
    import signal

    from mixmo.rl import _driver

    settings = ["--seeds", "2", "--steps", "4", "--set", "run.checkpoint_every=1", "--set", "methods=selfish,d3c",
                "--set", "points=2", "--quiet"]
    whole, parted = tmp_path / "whole", tmp_path / "parted"
    code, _, err = run(capsys, *settings, "--out", str(whole))
    assert code == 0, err
    saves, real_save = [], _driver.save_checkpoint

    def save_then_interrupt(*args, **kwargs):
        result = real_save(*args, **kwargs)
        saves.append(args[0])
        if len(saves) == 7:  # selfish: updates 0..4; d3c: 0, 1 -> Ctrl-C during its second update
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(_driver, "save_checkpoint", save_then_interrupt)
    code, _, err = run(capsys, *settings, "--out", str(parted))
    assert code == 130 and f"--resume {parted}" in err
    assert json.loads((parted / "checkpoints" / "d3c" / "meta.json").read_text())["updates"] == 1
    monkeypatch.setattr(_driver, "save_checkpoint", real_save)
    code, _, err = run(capsys, "--resume", str(parted), "--quiet")
    assert code == 0, err
    for name in ("metrics.csv", "summary.json", "claims.json"):
        assert (parted / name).read_bytes() == (whole / name).read_bytes(), name

    real_make = d3c_tyb.rl.make_reinforce

    class Poisoned:  # the trainer with NaN initial policy weights: the first update's losses are NaN
        def __init__(self, trainer):
            self.trainer, self.config = trainer, trainer.config

        def init(self, key):
            state = self.trainer.init(key)
            return state._replace(policy=state.policy * float("nan"))

        def run(self, state, n):
            return self.trainer.run(state, n)

    def poisoned(*args, **kwargs):
        return Poisoned(real_make(*args, **kwargs))

    fresh_trainers(monkeypatch)
    monkeypatch.setattr(d3c_tyb.rl, "make_reinforce", poisoned)
    code, _, err = run(capsys, *settings, "--out", str(tmp_path / "nan"))
    assert code == 1
    (line,) = err.strip().splitlines()
    assert "selfish" in line and "NaN or inf at update 1" in line
