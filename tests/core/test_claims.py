"""The verdict rules every experiment's claims go through (`mixmo.experiments.verdicts`)."""

import math

import pandas as pd
import pytest

from mixmo.experiments import VERDICTS, verdicts
from mixmo.experiments.aga.public_goods import PAPER_TABLE1, PublicGoodsConfig, claims


@pytest.mark.parametrize("ours, ours_ci, rtol, verdict", [
    (2.903, 0.0, 0.05, "reproduced"),      # the paper's value
    (2.925, 0.0, 0.005, "reproduced"),     # 0.022 away: outside 0.5%, inside the paper's 95% half-width 0.023
    (2.96, 0.0, 0.01, "close"),            # 0.057 away: outside 1% and 0.023, inside 3 x 1%
    (2.96, 0.06, 0.01, "reproduced"),      # our interval widens the difference's: √(0.023² + 0.06²) > 0.057
    (3.2, 0.0, 0.01, "differs"),
    (2.0, 0.0, 0.05, "differs"),
    (math.nan, 0.0, 0.05, "differs"),
])
def test_number_verdicts(ours, ours_ci, rtol, verdict):
    claim = verdicts.number("Table 1", "AgA SW", 2.903, ours, paper_ci=0.023, ours_ci=ours_ci, rtol=rtol)
    assert claim.verdict == verdict
    assert (claim.reason == "") == (verdict == "reproduced")
    assert claim.paper == "2.903 ± 0.023"


def test_number_absolute_tolerance_and_explicit_close():
    assert verdicts.number("s", "q", 0.0, 0.04, rtol=0.0, atol=0.05).verdict == "reproduced"
    assert verdicts.number("s", "q", 0.0, 0.12, rtol=0.0, atol=0.05).verdict == "close"
    assert verdicts.number("s", "q", 0.0, 0.12, rtol=0.0, atol=0.05, close_atol=0.1).verdict == "differs"
    assert "ours is 0.120 above" in verdicts.number("s", "q", 0.0, 0.12, rtol=0.0, atol=0.05).reason
    assert "25% below" in verdicts.number("s", "q", 4.0, 3.0).reason


def test_a_short_budget_is_not_comparable_but_still_shows_ours():
    budget = verdicts.shortfall(("runs", 3, 50), ("steps", 100, 100))
    assert budget == "budget: 3 runs of the 50 the claim needs"
    claim = verdicts.number("Table 1", "AgA SW", 2.903, 2.903, budget=budget)
    assert claim.verdict == "not comparable" and claim.ours == "2.903" and "3 runs" in claim.reason
    assert verdicts.shortfall(("runs", 25, 50), ("steps", 1e7, 2e7)) == ""  # half is enough
    assert (verdicts.shortfall(("environment steps", 196_608, 2e7))
            == "budget: 196,608 environment steps of the 20,000,000 the claim needs")


def test_best_is_computed_from_the_ranking():
    values = {"AgA": (2.9, 0.02), "Simul-Co": (2.8, 0.03), "SL": (2.6, 0.05)}
    assert verdicts.best("Table 1", "highest SW", "AgA", values, "AgA").verdict == "reproduced"
    tie = verdicts.best("Table 1", "highest SW", "AgA", {**values, "AgA": (2.79, 0.02)}, "AgA")
    assert tie.verdict == "close" and "Simul-Co is best" in tie.reason
    assert verdicts.best("Table 1", "highest SW", "AgA", {**values, "AgA": (2.5, 0.02)}, "AgA").verdict == "differs"
    lower = verdicts.best("Fig. 3", "lower ratio", "D3C", {"GD": (1.2, 0.0), "D3C": (1.0, 0.0)}, "D3C", higher=False)
    assert lower.verdict == "reproduced" and lower.ours.startswith("D3C")
    assert verdicts.best("s", "q", "AgA", {"SL": (1.0, 0.0)}, "AgA").verdict == "not comparable"
    nan = verdicts.best("s", "q", "AgA", {"AgA": (math.nan, 0.0), "SL": (1.0, 0.0)}, "AgA")
    assert nan.verdict == "differs"


def test_finding_and_not_comparable():
    assert verdicts.finding("s", "q", "yes", "yes", True).verdict == "reproduced"
    assert verdicts.finding("s", "q", "yes", "almost", False, nearly=True).verdict == "close"
    assert verdicts.finding("s", "q", "yes", "no", False, reason="why").reason == "why"
    assert verdicts.finding("s", "q", "yes", "yes", True, budget="budget: tiny").verdict == "not comparable"
    with pytest.raises(ValueError):
        verdicts.not_comparable("s", "q", "p", "o", "")
    counts = verdicts.count([verdicts.finding("s", "q", "p", "o", True), verdicts.finding("s", "q", "p", "o", False)])
    assert list(counts) == list(VERDICTS) and counts["reproduced"] == 1 and counts["differs"] == 1


def _summary(shift: float) -> pd.DataFrame:
    rows = []
    for method, paper in PAPER_TABLE1.items():
        row = {"method": method, "total_steps": 1389 if method == "aga" else 4000}
        for key, (mean, half) in paper.items():
            row[key], row[f"{key}_ci95"] = mean + shift, half
        rows.append(row)
    return pd.DataFrame(rows)


TIMING = {"ratio": 2.5, "ratio_q25": 2.4, "ratio_q75": 2.6, "rounds": 15, "runs": 4096, "steps": 100}


def test_an_experiment_judges_the_papers_own_table_reproduced_and_a_shifted_one_not():
    own = claims(PublicGoodsConfig(), _summary(0.0), TIMING)
    assert len(own) == 7 * 4 + 2 + 3 + 1
    assert {c.verdict for c in own} == {"reproduced"}
    shifted = claims(PublicGoodsConfig(), _summary(-0.5), TIMING)
    assert sum(c.verdict == "differs" for c in shifted) >= 7 * 4 - 2
    small = claims(PublicGoodsConfig(seeds=3, steps=12), _summary(0.0))
    assert {c.verdict for c in small} == {"not comparable"}


def test_a_ratio_of_times_is_judged_with_a_tolerance_from_its_spread():
    band = dict(band=(2.0, 3.0), close_band=(1.5, 4.0), paper_text="2–3×")
    judge = lambda median, q25, q75: verdicts.ratio_band("T3", "ratio", median, q25, q75, **band)  # noqa: E731
    assert judge(2.5, 2.4, 2.6).verdict == "reproduced"
    assert judge(1.65, 1.6, 1.7).verdict == "reproduced"  # within the 25% minimum tolerance: 2 / 1.25 = 1.6
    # the identical runs that used to flip (median 1.75 and 2.2) now agree
    assert judge(1.75, 1.7, 1.8).verdict == judge(2.2, 2.1, 2.3).verdict == "reproduced"
    assert judge(1.5, 1.45, 1.55).verdict == "close" and judge(1.5, 1.45, 1.55).ours == "1.5–4×, below 2–3×"
    assert judge(1.4, 1.0, 1.8).verdict == "reproduced"  # a noisy measurement widens the band: 2 / (1 + 0.57)
    low = judge(1.1, 1.05, 1.15)
    assert low.verdict == "differs" and low.ours == "below 1.5×"
    # the claim names the band, not the varying number: two measurements with one verdict write one claim
    assert judge(2.2, 2.0, 2.4) == judge(2.7, 2.5, 2.9)
    assert judge(math.nan, 1.0, 2.0).verdict == "differs"


def test_a_ranking_skips_methods_without_a_value_and_names_no_winner_among_them():
    values = {"SL": (math.nan, 0.0), "AgA": (1.0, 0.1), "CGA": (0.5, 0.1)}
    claim = verdicts.best("s", "q", "AgA", values, "AgA")
    assert claim.verdict == "reproduced" and "SL" not in claim.ours
    nothing = verdicts.best("s", "q", "AgA", {"SL": (math.nan, 0.0), "AgA": (math.nan, 0.0)}, "AgA")
    assert nothing.verdict == "differs" and "SL" not in nothing.ours and "AgA has no value" in nothing.reason
