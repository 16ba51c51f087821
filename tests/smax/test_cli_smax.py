"""`mixmo run aga-selfish-mmm2` end to end with a tiny budget: results folder, win-rate metrics, report, GIF."""

import json

import pandas as pd

from mixmo.cli import main

TINY = ["--set", "methods=sl", "--set", "aga_lams=", "--set", "seeds=2", "--set", "total_steps=32",
        "--set", "num_envs=2", "--set", "num_steps=8", "--set", "num_minibatches=2", "--set", "update_epochs=1",
        "--set", "hidden=8", "--set", "gru_hidden=8", "--set", "critic_hidden=8", "--set", "checkpoint_every=1",
        "--set", "max_steps=6", "--set", "gif_steps=8", "--quiet"]


def test_selfish_mmm2_end_to_end(capsys, tmp_path):
    out_dir = tmp_path / "smax"
    code = main(["run", "aga-selfish-mmm2", *TINY, "--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads((out_dir / "summary.json").read_text())
    assert [row["method"] for row in summary] == ["sl"]
    row = summary[0]
    for key in ["win_rate", "social_welfare"] + [f"return_{i}" for i in range(10)]:
        assert key in row and f"{key}_ci95" in row
    assert 0.0 <= row["win_rate"] <= 1.0 and "win_rate_sd" in row
    assert row["return_0"] <= 0.0  # the Medivac cannot earn: its selfish return is 0 or a death penalty
    curves = pd.read_csv(out_dir / "metrics.csv")
    assert {"win_rate", "social_welfare", "damage_dealt", "dead", "env_steps"} <= set(curves.columns)
    assert len(curves) == 2 * 2 and curves.env_steps.max() == 32  # seeds x updates
    assert curves.episodes.sum() >= 4  # 6-step episodes: every environment ended at least one per update
    assert (out_dir / "win_rate.png").stat().st_size > 10_000
    assert (out_dir / "selfish_mmm2_sl.gif").read_bytes()[:6] == b"GIF89a"
    report = (out_dir / "report.md").read_text()
    assert "92.64%" in report and "Choices the paper leaves open" in report and "last episode" in report
    assert json.loads((out_dir / "checkpoints" / "sl" / "meta.json").read_text())["updates"] == 2


def test_unknown_method_is_one_clear_line(capsys):
    code = main(["run", "aga-selfish-mmm2", "--set", "methods=lola", "--quiet"])
    _, err = capsys.readouterr()
    assert code != 0 and "unknown method 'lola'" in err and "Traceback" not in err
