"""`mixmo reproduce`: one real `all --budget smoke` run checked end to end (the combined report, and every
experiment's results folder, including the per-experiment checks that used to run each experiment on its own),
plus the error paths, failures and --resume with tiny in-memory experiments."""

import json
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from mixmo.app.cli import main
from mixmo.app import output
from mixmo.experiments import EXPERIMENTS, VERDICTS, Experiment, Results, load_all, verdicts

PAPER_EXPERIMENTS = sorted(name for name, e in load_all().items() if e.paper in ("aga", "d3c"))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """`mixmo reproduce all --budget smoke`, once for the module."""
    out = tmp_path_factory.mktemp("reproduce") / "smoke"
    return main(["reproduce", "all", "--budget", "smoke", "--out", str(out), "--quiet"]), out


def _sections(report: str) -> dict[str, str]:
    parts = re.split(r"^### ", report, flags=re.M)
    return {part.split("\n", 1)[0].strip(): part for part in parts[1:]}


def test_smoke_run_writes_the_combined_report(smoke):
    code, out = smoke
    assert code == 0
    report = (out / "report.md").read_text()
    record = json.loads((out / "reproduce.json").read_text())
    assert record["budget"] == "smoke" and record["paper"] == "all"
    assert "budget: **smoke**" in report and "jax " in report and "total wall time" in report
    sections = _sections(report)
    assert set(PAPER_EXPERIMENTS) <= set(sections)
    total = {verdict: 0 for verdict in VERDICTS}
    for item in record["experiments"]:
        name = item["name"]
        assert item["status"] == "done", (name, item["error"])
        claims = json.loads((out / name / "claims.json").read_text())
        assert [c["quantity"] for c in claims] == [c["quantity"] for c in item["claims"]]
        table_rows = [line for line in sections[name].splitlines() if re.match(r"\| .* \| \*\*", line)]
        assert len(table_rows) == len(claims)
        for claim in claims:
            assert claim["verdict"] in VERDICTS
            assert claim["verdict"] == "reproduced" or claim["reason"], claim  # every other verdict says why
            total[claim["verdict"]] += 1
        if EXPERIMENTS[name].paper:
            assert claims, f"{name} states no claim of its paper"
            assert f"[{name}/report.md]({name}/report.md)" in sections[name]
    for verdict, count in total.items():
        assert f"| {verdict} | {count} |" in report
    assert f"| **all claims** | **{sum(total.values())}** |" in report
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert "verdicts.png" in images and len(images) > len(PAPER_EXPERIMENTS)
    for image in images:
        assert (out / image).stat().st_size > 5_000, image
    html = (out / "report.html").read_text()
    assert html.count("<img ") == len(images) and html.count("<table>") == report.count("\n|---|")
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") or "traceback" in p.name]


@pytest.mark.parametrize("name", PAPER_EXPERIMENTS)
def test_smoke_results_folder_follows_the_contract(smoke, name):
    _, out = smoke
    folder = out / name
    files = {p.name for p in folder.iterdir()}
    assert {"config.json", "metrics.csv", "summary.json", "claims.json", "report.md"} <= files
    assert any(p.suffix == ".png" and p.stat().st_size > 5_000 for p in folder.iterdir())
    config = json.loads((folder / "config.json").read_text())
    wanted = EXPERIMENTS[name].make_config(presets=["smoke"])
    assert config == json.loads(output.config_json(name, wanted))
    summary = json.loads((folder / "summary.json").read_text())
    assert summary and all("method" in row for row in summary)
    assert len(pd.read_csv(folder / "metrics.csv")) >= 1
    CHECKS.get(name, lambda *_: None)(summary, (folder / "report.md").read_text(), folder)


# What the removed one-experiment CLI runs checked, now on the smoke run (same tiny settings).
def check_public_goods(summary, report, folder):
    assert [row["method"] for row in summary] == ["simul-ind", "cga", "sga", "svo", "simul-co", "sl", "aga"]
    for row in summary:
        for key in ["r_1", "r_2", "social_welfare", "equality"]:
            assert isinstance(row[key], float) and isinstance(row[f"{key}_ci95"], float)
        assert 0 < row["total_steps"] <= 3 * 12
    assert len(pd.read_csv(folder / "metrics.csv")) == 7 * 3
    assert "2.903" in report  # the paper's AgA number beside ours


def check_toy(summary, report, folder):
    assert (folder / "trajectories.png").stat().st_size > 10_000
    assert {row["method"] for row in summary} == {"simul-ind", "simul-co", "cga", "sga", "aga", "aga-sign"}
    assert all("mean_steps" in row for row in summary)


def d3c_check(settings, metrics, rows, extra=None):
    def check(summary, report, folder):
        assert len(summary) == rows and {row["method"] for row in summary} == {"gd", "d3c"}
        for row in summary:
            assert set(settings + metrics) <= set(row), sorted(row)
        assert "Choices the paper leaves open" in report and "D3C" in report
        assert len(pd.read_csv(folder / "metrics.csv")) >= 3
        if extra is not None:
            extra(summary, report)

    return check


def braess(summary, report):
    assert [row["shortcut"] for row in summary] == [True, True]
    assert "1.2308" in report  # the paper's 80/65 beside ours


def prisoners(summary, report):
    gd = {row["c"]: row for row in summary if row["method"] == "gd"}
    assert gd[1.0]["price_of_anarchy"] == pytest.approx(2.0) and gd[1.0]["paper_caption_rho"] == pytest.approx(2.0)
    assert gd[1 / 9]["price_of_anarchy"] == pytest.approx(2.0)  # n/(n-1) for every c, not n/(c(n-1)) = 18
    assert "Fig. 14" in report


def mavericks(summary, report):
    rows = [r for r in summary if r["method"] == "d3c"]
    assert [r["m"] for r in rows] == [0, 1]
    assert [r["cooperator_loss_closed_form"] for r in rows] == pytest.approx([1 / 2, 1.0])
    assert rows[0]["defector_loss"] is None and math.isfinite(rows[1]["defector_loss"])  # no defector at m = 0: null


def d3c_rl_check(stat):
    def check(summary, report, folder):
        assert [row["method"] for row in summary] == ["selfish", "d3c", "cooperative"]
        for row in summary:
            assert stat in row and f"{stat}_ci95" in row
        assert [row.get("relative_attention") is not None for row in summary] == [False, True, False]
        assert "Choices the paper leaves open" in report

    return check


def check_selfish_mmm2(summary, report, folder):
    assert [row["method"] for row in summary] == ["sl"]
    row = summary[0]
    for key in ["win_rate", "social_welfare"] + [f"return_{i}" for i in range(10)]:
        assert key in row and f"{key}_ci95" in row
    assert 0.0 <= row["win_rate"] <= 1.0 and "win_rate_sd" in row
    assert row["return_0"] <= 0.0  # the Medivac cannot earn: its selfish return is 0 or a death penalty
    curves = pd.read_csv(folder / "metrics.csv")
    assert {"win_rate", "social_welfare", "damage_dealt", "dead", "env_steps"} <= set(curves.columns)
    assert len(curves) == 2 * 2 and curves.env_steps.max() == 32  # seeds x updates
    assert curves.episodes.sum() >= 4  # 6-step episodes: every environment ended at least one per update
    assert (folder / "win_rate.png").stat().st_size > 10_000
    assert (folder / "selfish_mmm2_sl.gif").read_bytes()[:6] == b"GIF89a"
    assert "92.64%" in report and "Choices the paper leaves open" in report and "last episode" in report


def check_trust_your_brother(summary, report, folder):
    variant = "d3c@iteration=episodes-slope-per-update"
    assert [row["method"] for row in summary] == ["selfish", "d3c", variant]
    for row in summary:
        for key in ["social_welfare", "equality", "return_0", "return_1", "escape_rate", "close_return", "far_return"]:
            assert isinstance(row[key], float) and f"{key}_ci95" in row
        assert row["social_welfare"] == pytest.approx(row["return_0"] + row["return_1"], abs=1e-9)
        assert -5.5 - 1e-6 <= row["social_welfare"] <= 0.0  # 2 prey, 5 steps, at most 1.1 lost per step each
        assert row["social_welfare_median_low"] <= row["social_welfare_median"] <= row["social_welfare_median_high"]
    selfish, _, slope = summary
    assert selfish["relative_attention_0"] is None and selfish["d3c_iteration"] is None  # no mixing (null in JSON)
    assert (slope["d3c_lr"], slope["d3c_iteration"], slope["d3c_g_scale"]) == (1.0, "episodes-slope-per-update", "mean")
    assert abs(slope["relative_attention_0"]) <= 10.0 + 1e-3  # logits clipped to [-5, 5]
    curves = pd.read_csv(folder / "metrics.csv")
    assert {"method", "seed", "update", "episodes", "return_0", "return_1", "social_welfare", "escape_rate",
            "relative_attention_0", "weight_to_other_1"} <= set(curves.columns)
    assert len(curves) == 3 * 20 * 10  # methods x seeds x points
    weights = curves[curves.method == variant][["weight_to_other_0", "weight_to_other_1"]].to_numpy()
    assert np.all((weights > 0) & (weights < 1))
    for name in ("tyb_training.png", "tyb_mixing_path.png"):
        assert (folder / name).stat().st_size > 10_000
    assert "Figure 7" in report and "Choices the paper leaves open" in report and "maximal total return" in report
    assert "| D3C η_A 1, τ in episodes, slope per update, g = batch mean | approaches −1.0 |" in report
    assert "median (95% CI) | mean ± 95% CI" in report and "Which reading reproduces what" in report


CHECKS = {
    "aga-selfish-mmm2": check_selfish_mmm2,
    "d3c-trust-your-brother": check_trust_your_brother,
    "d3c-cleanup": d3c_rl_check("cleaning_actions"),
    "d3c-harvest-patch": d3c_rl_check("apples_eaten"),
    "aga-public-goods": check_public_goods,
    "aga-toy": check_toy,
    "d3c-braess": d3c_check(["shortcut"], ["ratio_to_optimal", "longest_commute"], 2, braess),
    "d3c-braess-random": d3c_check([], ["ratio_to_optimal", "price_of_anarchy"], 2),
    "d3c-prisoners-dilemma": d3c_check(["n", "c"], ["ratio_to_optimal", "strategy_mean"], 4, prisoners),
    "d3c-mavericks": d3c_check(["m"], ["cooperator_loss", "cooperator_loss_closed_form", "defector_loss"], 4,
                               mavericks),
    "d3c-unfair": d3c_check([], ["loss_1", "loss_2"], 2),
    "d3c-election": d3c_check([], ["self_weight", "teammate_weight", "other_party_weight", "eig_real", "eig_imag"],
                              2),
    "d3c-bilinear": d3c_check(["parametrization"], ["frac_b", "frac_c"], 2),
    "d3c-nash-paradox": d3c_check(["kappa"], ["ratio_to_optimal", "total_loss"], 2),
}


# ---- error paths, failures and --resume, with tiny in-memory experiments (no JAX) ----

@dataclass(frozen=True)
class TinyConfig:
    """A configuration for the in-memory test experiments."""

    seeds: int = 2
    """Runs."""
    fail: str = ""
    """Raise this: "error" (a RuntimeError) or "interrupt" (Ctrl-C)."""


def _tiny_run(config: TinyConfig, progress) -> Results:
    import matplotlib.pyplot as plt

    advance = progress("steps", 1)
    if config.fail == "error":
        raise RuntimeError("the tiny experiment broke\nsecond line")
    if config.fail == "interrupt":
        raise KeyboardInterrupt
    advance()
    fig, ax = plt.subplots()
    ax.plot(range(100), [i * i for i in range(100)])
    claim = verdicts.number("Table 0", "runs", 2.0, float(config.seeds), rtol=0.0)
    return Results(summary=pd.DataFrame([{"method": "aga", "runs": config.seeds}]),
                   metrics=pd.DataFrame([{"run": r} for r in range(config.seeds)]), figures={"tiny": fig},
                   report="# tiny\n", claims=[claim])


def _tiny(name: str, smoke: dict | None) -> Experiment:
    return Experiment(name, "a tiny test experiment", TinyConfig, _tiny_run, paper="d3c",
                      presets={} if smoke is None else {"smoke": smoke})


@pytest.fixture
def tiny_registry(monkeypatch):
    """Only tiny experiments registered (restored afterwards): `put(name, smoke_settings)` adds one."""
    for name in list(load_all()):
        monkeypatch.delitem(EXPERIMENTS, name)
    return lambda name, smoke: monkeypatch.setitem(EXPERIMENTS, name, _tiny(name, smoke))


def reproduce(capsys, *argv):
    code = main(["reproduce", *argv, "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_failing_experiment_is_recorded_and_the_others_still_run(tiny_registry, capsys, tmp_path):
    tiny_registry("tiny-a-ok", {})
    tiny_registry("tiny-b-broken", {"fail": "error"})
    tiny_registry("tiny-c-no-smoke", None)
    tiny_registry("tiny-d-ok", {"seeds": "3"})
    code, out, err = reproduce(capsys, "d3c", "--budget", "smoke", "--out", str(tmp_path / "r"))
    assert code == 1
    assert "tiny-b-broken" in err and "Traceback" not in err and "4 experiments, 2 failed" in out
    report = (tmp_path / "r" / "report.md").read_text()
    sections = _sections(report)
    assert "**failed**: RuntimeError: the tiny experiment broke (traceback" in sections["tiny-b-broken"]
    assert "declares no smoke preset" in sections["tiny-c-no-smoke"]
    assert "| reproduced | 1 |" in report and "| differs | 1 |" in report  # tiny-a: 2 runs = 2; tiny-d: 3 runs
    assert "4 experiments: 2 ran, 2 failed" in report
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "report.html", "report.md", "reproduce.json", "timings.json", "tiny-a-ok", "tiny-b-broken.traceback.txt",
        "tiny-d-ok", "verdicts.png"]
    assert "second line" in (tmp_path / "r" / "tiny-b-broken.traceback.txt").read_text()


def test_same_settings_give_byte_identical_records(tiny_registry, capsys, tmp_path):
    """reproduce.json and every experiment's summary, claims and metrics are the same bytes for the same
    settings; the wall times, which are not, go to timings.json."""
    tiny_registry("tiny-a-ok", {})
    tiny_registry("tiny-b-broken", {"fail": "error"})
    for run in ("first", "second"):
        assert reproduce(capsys, "d3c", "--budget", "smoke", "--out", str(tmp_path / run))[0] == 1
    first, second = tmp_path / "first", tmp_path / "second"
    for name in ("reproduce.json", "tiny-a-ok/summary.json", "tiny-a-ok/claims.json", "tiny-a-ok/metrics.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert "wall_s" not in (first / "reproduce.json").read_text()
    timings = json.loads((first / "timings.json").read_text())
    assert set(timings["experiments"]) == {"tiny-a-ok", "tiny-b-broken"} and timings["wall_s"] > 0


def test_resume_keeps_what_is_done_and_runs_the_rest(tiny_registry, capsys, tmp_path, monkeypatch):
    out = tmp_path / "r"
    tiny_registry("tiny-a-ok", {})
    tiny_registry("tiny-b-broken", {"fail": "error"})
    assert reproduce(capsys, "d3c", "--budget", "smoke", "--out", str(out))[0] == 1
    stamp = (out / "tiny-a-ok" / "report.md").stat().st_mtime_ns
    tiny_registry("tiny-b-broken", {})  # fixed
    code, printed, err = reproduce(capsys, "d3c", "--budget", "smoke", "--out", str(out), "--resume")
    assert code == 0, err
    assert (out / "tiny-a-ok" / "report.md").stat().st_mtime_ns == stamp  # kept, not rerun
    record = json.loads((out / "reproduce.json").read_text())
    statuses = [(e["name"], e["status"]) for e in record["experiments"]]
    assert statuses == [("tiny-a-ok", "kept"), ("tiny-b-broken", "done")]
    assert not (out / "tiny-b-broken.traceback.txt").exists()
    assert "| reproduced | 2 |" in (out / "report.md").read_text()
    code, _, err = reproduce(capsys, "d3c", "--budget", "default", "--out", str(out), "--resume")
    assert code == 2 and "budget='smoke'" in err and len(err.strip().splitlines()) == 1


INTERRUPT_ONCE = []


def _tiny_rl_run(config: TinyConfig, progress, context=None) -> Results:
    """Like an RL experiment: keeps files in `context.run_dir` while it runs; Ctrl-C the first time."""
    done = context.run_dir / "segments.txt"
    if context.resume:
        assert done.read_text() == "first segment\n"
    else:
        done.write_text("first segment\n")
    if INTERRUPT_ONCE:
        INTERRUPT_ONCE.clear()
        raise KeyboardInterrupt
    return _tiny_run(config, progress)


def test_resume_continues_an_interrupted_run_from_its_folder(tiny_registry, capsys, tmp_path, monkeypatch):
    out = tmp_path / "r"
    monkeypatch.setitem(EXPERIMENTS, "tiny-rl", Experiment("tiny-rl", "a tiny RL-like experiment", TinyConfig,
                                                           _tiny_rl_run, paper="aga", presets={"smoke": {}},
                                                           run_folder=True))
    INTERRUPT_ONCE.append(True)
    code, _, err = reproduce(capsys, "aga", "--budget", "smoke", "--out", str(out))
    assert code == 130 and f"--out {out} --resume" in err
    assert sorted(p.name for p in out.iterdir()) == [".tiny-rl.running", "reproduce.json", "timings.json"]
    assert (out / ".tiny-rl.running" / "config.json").exists()  # written before the run, for resuming
    code, _, err = reproduce(capsys, "aga", "--budget", "smoke", "--out", str(out), "--resume")
    assert code == 0, err
    assert {"segments.txt", "report.md", "claims.json"} <= {p.name for p in (out / "tiny-rl").iterdir()}
    assert not (out / ".tiny-rl.running").exists()


def _tiny_damaged_rl_run(config: TinyConfig, progress, context=None) -> Results:
    """Like an RL experiment whose checkpoint turns out damaged when it is resumed."""
    from mixmo import rl

    if context.resume:
        checkpoint = context.run_dir / "state.eqx"
        raise rl.CheckpointError(f"checkpoint {checkpoint} is damaged (truncated?)", checkpoint)
    return _tiny_rl_run(config, progress, context)


def test_resume_restarts_an_experiment_whose_checkpoint_is_damaged(tiny_registry, capsys, tmp_path, monkeypatch):
    out = tmp_path / "r"
    monkeypatch.setitem(EXPERIMENTS, "tiny-rl", Experiment("tiny-rl", "a tiny RL-like experiment", TinyConfig,
                                                           _tiny_damaged_rl_run, paper="aga",
                                                           presets={"smoke": {}}, run_folder=True))
    INTERRUPT_ONCE.append(True)
    assert reproduce(capsys, "aga", "--budget", "smoke", "--out", str(out))[0] == 130
    code, _, err = reproduce(capsys, "aga", "--budget", "smoke", "--out", str(out), "--resume")
    assert code == 0, err
    (item,) = json.loads((out / "reproduce.json").read_text())["experiments"]
    assert item["status"] == "done" and item["note"].startswith("restarted from scratch: checkpoint ")
    assert "state.eqx is damaged" in item["note"]
    assert "Note: restarted from scratch" in _sections((out / "report.md").read_text())["tiny-rl"]
    assert not (out / ".tiny-rl.running").exists() and (out / "tiny-rl" / "claims.json").exists()


def test_every_budget_of_every_experiment_is_a_valid_configuration():
    for name, experiment in load_all().items():
        assert experiment.paper in ("aga", "d3c", ""), name
        assert "smoke" in experiment.presets, f"{name} has no smoke preset"
        for preset in experiment.presets:
            assert preset in ("smoke", "paper"), (name, preset)
            experiment.make_config(presets=[preset])  # raises ConfigError for a bad key or value


def test_ctrl_c_stops_and_leaves_only_complete_folders(tiny_registry, capsys, tmp_path):
    tiny_registry("tiny-a-ok", {})
    tiny_registry("tiny-b-interrupted", {"fail": "interrupt"})
    tiny_registry("tiny-c-never-run", {})
    code, _, err = reproduce(capsys, "d3c", "--budget", "smoke", "--out", str(tmp_path / "r"))
    assert code == 130 and "--resume" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["reproduce.json", "timings.json", "tiny-a-ok"]


@pytest.mark.parametrize("argv, fragment", [
    (["reproduce", "agaa"], "unknown paper 'agaa'; choose one of: aga, d3c, all"),
    (["reproduce", "aga", "--budget", "huge"], "unknown budget 'huge'; choose one of: smoke, default, paper"),
    (["reproduce", "aga", "--resume"], "--resume needs --out DIR"),
    (["reproduce", "aga", "--seeds", "0"], "--seeds: must be at least 1"),
])
def test_usage_errors_are_one_line(argv, fragment, capsys):
    if "--seeds" in argv:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        code = exit_info.value.code
    else:
        code = main(argv)
    assert code == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_out_must_be_new_and_resume_needs_an_earlier_run(tiny_registry, capsys, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("keep me")
    code, _, err = reproduce(capsys, "d3c", "--out", str(tmp_path / "taken"))
    assert code == 2 and "already exists" in err
    code, _, err = reproduce(capsys, "d3c", "--out", str(tmp_path / "taken"), "--resume")
    assert code == 2 and "no reproduce.json" in err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "keep me"


def test_help_explains_budgets_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fragment in ("smoke", "default", "paper", "example: mixmo reproduce", "not comparable", "--resume"):
        assert fragment in text


def test_an_experiment_whose_extra_is_missing_is_skipped_not_failed(tiny_registry, capsys, tmp_path, monkeypatch):
    import importlib.util

    from mixmo.experiments import CATALOG, catalog

    tiny_registry("tiny-a-ok", {})
    monkeypatch.setitem(CATALOG, "tiny-needs", catalog.Entry("tiny-needs", "d3c", "mixmo.nowhere", "needs an extra",
                                                             needs="no_such_extra_package"))
    assert importlib.util.find_spec("no_such_extra_package") is None
    code, out, err = reproduce(capsys, "d3c", "--budget", "smoke", "--out", str(tmp_path / "r"))
    assert code == 0, err
    assert "1 skipped" in out and 'skipped tiny-needs — tiny-needs needs the no_such_extra_package extra: pip ' \
        'install "mixmo[no_such_extra_package]"' in err
    record = json.loads((tmp_path / "r" / "reproduce.json").read_text())
    assert [(e["name"], e["status"]) for e in record["experiments"]] == [("tiny-a-ok", "done"), ("tiny-needs",
                                                                                               "skipped")]
    report = (tmp_path / "r" / "report.md").read_text()
    assert "**skipped**: tiny-needs needs the no_such_extra_package extra" in report and "1 skipped" in report
