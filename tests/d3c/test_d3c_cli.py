"""Tiny real runs of every D3C experiment through the command line: the output contract and summary keys."""

import json
import math

import pandas as pd
import pytest

from mixmo.cli import main

TINY = ["--seeds", "3", "--steps", "10", "--quiet"]


def check_braess(summary, report):
    assert [row["shortcut"] for row in summary] == [True, True]
    assert "1.2308" in report  # the paper's 80/65 beside ours


def check_prisoners(summary, report):
    gd = {row["c"]: row for row in summary if row["method"] == "gd"}
    assert gd[1.0]["price_of_anarchy"] == pytest.approx(2.0) and gd[1.0]["paper_caption_rho"] == pytest.approx(2.0)
    assert gd[1 / 9]["price_of_anarchy"] == pytest.approx(2.0)  # n/(n-1) for every c, not n/(c(n-1)) = 18
    assert "Fig. 14" in report


def check_mavericks(summary, report):
    rows = [r for r in summary if r["method"] == "d3c"]
    assert [r["m"] for r in rows] == [0, 1]
    assert [r["cooperator_loss_closed_form"] for r in rows] == pytest.approx([1 / 2, 1.0])
    assert rows[0]["defector_loss"] is None and math.isfinite(rows[1]["defector_loss"])  # no defector at m = 0: null


# experiment -> (extra arguments that keep the tiny run cheap, settings keys, metric keys, rows, extra check)
CASES = {
    "d3c-braess": (["--set", "shortcut=true"], ["shortcut"], ["ratio_to_optimal", "longest_commute"], 2,
                   check_braess),
    "d3c-braess-random": ([], [], ["ratio_to_optimal", "price_of_anarchy"], 2, None),
    "d3c-prisoners-dilemma": (["--set", "ns=2", "--set", "cs=1,0.1111111111111111"], ["n", "c"],
                              ["ratio_to_optimal", "strategy_mean"], 4, check_prisoners),
    "d3c-mavericks": (["--set", "n=2"], ["m"], ["cooperator_loss", "cooperator_loss_closed_form", "defector_loss"],
                      4, check_mavericks),
    "d3c-unfair": ([], [], ["loss_1", "loss_2"], 2, None),
    "d3c-election": ([], [], ["self_weight", "teammate_weight", "other_party_weight", "eig_real", "eig_imag"], 2,
                     None),
    "d3c-bilinear": (["--set", "parametrizations=project"], ["parametrization"], ["frac_b", "frac_c"], 2, None),
    "d3c-nash-paradox": (["--set", "kappas=0.3"], ["kappa"], ["ratio_to_optimal", "total_loss"], 2, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_experiment_writes_the_contract(name, tmp_path, capsys):
    extra, settings, metrics, rows, check = CASES[name]
    out = tmp_path / name
    assert main(["run", name, *TINY, *extra, "--out", str(out)]) == 0
    capsys.readouterr()
    assert {"config.json", "metrics.csv", "summary.json", "report.md"} <= {p.name for p in out.iterdir()}
    assert any(p.suffix == ".png" and p.stat().st_size > 5_000 for p in out.iterdir())
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary) == rows
    assert {row["method"] for row in summary} == {"gd", "d3c"}
    for row in summary:
        assert set(settings + metrics) <= set(row), sorted(row)
    report = (out / "report.md").read_text()
    assert "Choices the paper leaves open" in report and "D3C" in report
    assert json.loads((out / "config.json").read_text())["seeds"] == 3
    assert len(pd.read_csv(out / "metrics.csv")) >= 3
    if check is not None:
        check(summary, report)


@pytest.mark.parametrize("argv, fragment", [
    (["run", "d3c-braess", "--set", "lr_mix=-1"], "lr_mix must be >= 0"),
    (["run", "d3c-braess", "--set", "clip=1,2,3"], "clip must be empty"),
    (["run", "d3c-prisoners-dilemma", "--set", "ns=1"], "ns must be integers >= 2"),
    (["run", "d3c-bilinear", "--set", "parametrizations=linear"], "parametrizations"),
    (["run", "d3c-nash-paradox", "--set", "kappas=1.5"], "kappas"),
])
def test_bad_settings_are_one_line_errors(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
