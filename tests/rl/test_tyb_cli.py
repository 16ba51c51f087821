"""`mixmo run d3c-trust-your-brother` from the command line: results folder, claims, errors."""

import json

import numpy as np
import pandas as pd
import pytest

from mixmo.app.cli import main
from mixmo.experiments.d3c import tyb as d3c_tyb


def run(capsys, *argv):
    code = main(["run", "d3c-trust-your-brother", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_end_to_end(capsys, tmp_path):
    out_dir = tmp_path / "tyb"
    code, out, err = run(capsys, "--seeds", "2", "--steps", "3", "--set", "methods=selfish,d3c", "--set", "points=2",
                         "--quiet", "--out", str(out_dir))
    assert code == 0, err
    assert "D3C" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert [row["method"] for row in summary] == ["selfish", "d3c"]
    for row in summary:
        for key in ["social_welfare", "equality", "return_0", "return_1", "escape_rate", "close_return", "far_return"]:
            assert isinstance(row[key], float) and f"{key}_ci95" in row
        assert row["social_welfare"] == pytest.approx(row["return_0"] + row["return_1"], abs=1e-9)
        assert -5.5 - 1e-6 <= row["social_welfare"] <= 0.0  # 2 prey, 5 steps, at most 1.1 lost per step each
    selfish, d3c = summary
    assert selfish["relative_attention_0"] is None  # no mixing: not defined (null in JSON)
    assert abs(d3c["relative_attention_0"]) <= 10.0 + 1e-3  # logits clipped to [-5, 5]
    curves = pd.read_csv(out_dir / "metrics.csv")
    assert {"method", "seed", "update", "episodes", "return_0", "return_1", "social_welfare", "escape_rate",
            "relative_attention_0", "weight_to_other_1"} <= set(curves.columns)
    assert len(curves) == 2 * 2 * 2  # methods x seeds x points
    weights = curves[curves.method == "d3c"][["weight_to_other_0", "weight_to_other_1"]].to_numpy()
    assert np.all((weights > 0) & (weights < 1))
    for name in ("tyb_training.png", "tyb_mixing_path.png"):
        assert (out_dir / name).stat().st_size > 10_000
    report = (out_dir / "report.md").read_text()
    assert "Figure 7" in report and "Choices the paper leaves open" in report and "maximal total return" in report


def summary_with(d3c_total, attention, weight):
    row = {"social_welfare_ci95": 0.01, "relative_attention_0": attention, "relative_attention_1": attention,
           "weight_to_other_0": weight, "weight_to_other_1": weight}
    return pd.DataFrame([{**row, "method": "selfish", "social_welfare": -5.0, "social_welfare_median": -5.0},
                         {**row, "method": "d3c", "social_welfare": d3c_total, "social_welfare_median": d3c_total}])


def test_claims_verdicts_follow_the_measurements():
    config = d3c_tyb.TYBConfig()
    good = {c.quantity: c.verdict for c in d3c_tyb.claims(config, summary_with(-1.1, -0.5, 0.6))}
    assert set(good.values()) == {"reproduced"} and len(good) == 4
    bad = {c.quantity: c.verdict for c in d3c_tyb.claims(config, summary_with(-5.2, 4.5, 0.012))}
    assert set(bad.values()) == {"differs"}
    few = d3c_tyb.claims(d3c_tyb.TYBConfig(seeds=20), summary_with(-1.1, -0.5, 0.6))
    assert {c.verdict for c in few} == {"not comparable"}


@pytest.mark.parametrize("setting,message", [
    ("reinforce.episodes=3", "reinforce.episodes must be even"),
    ("methods=selfish,altruist", "unknown method 'altruist'"),
    ("d3c.lr=0", "d3c: D3C lr must be a positive number"),
    ("d3c.low=5", "d3c: D3C logit bounds need low < high"),
    ("d3c.tau_min=30", "tau_min <= tau_max"),
])
def test_bad_settings_give_one_line_and_exit_2(capsys, tmp_path, setting, message):
    code, _, err = run(capsys, "--set", setting, "--quiet", "--out", str(tmp_path / "x"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "x").exists()
