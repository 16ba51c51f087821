"""The verdict rules of `mixmo reproduce`: every experiment turns its measurements into `Claim`s through these
functions, so a paper's number is judged the same way everywhere.

Rules (a verdict is always computed from the measurement, except "not comparable", which always says why):

- A number (`number`): the gap |ours − paper| is compared with a tolerance. **reproduced** when the gap is at
  most max(rtol·|paper|, atol, √(ci_paper² + ci_ours²)) — within the stated relative (or absolute) tolerance, or
  within the 95% interval of the difference of two means whose 95% half-widths are given; **close** when it is at most
  max(close_rtol·|paper|, close_atol) (by default three times the first tolerances); **differs** otherwise, and
  when ours is not finite.
- A ranking (`best`): **reproduced** when the paper's winner has the best measured value; **close** when it does
  not but its 95% interval overlaps the winner's (a statistical tie); **differs** otherwise.
- A qualitative finding (`finding`): the caller measures whether it `holds` (and, optionally, whether it `nearly`
  holds, which gives **close**); otherwise **differs**.
- A ratio of measured times (`ratio_band`): the median over interleaved repeats against the paper's band, with a
  tolerance from the measured spread, so that the verdict does not flip between identical runs.
- **not comparable**: any claim measured with a budget far below the one the paper's number needs (`shortfall`:
  less than half of it in runs, steps, ...) — the measured value is still shown — and claims the caller marks so,
  with the reason (e.g. the paper's number rests on an inconsistency).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

from mixmo.experiments.registry import VERDICTS, Claim

MIN_BUDGET_FRACTION = 0.5
"""A claim measured with less than this fraction of the budget its number needs is "not comparable"."""


def shortfall(*budgets: tuple[str, float, float], min_fraction: float = MIN_BUDGET_FRACTION) -> str:
    """Why a measurement's budget is too small to judge a claim, or "" when it is not.

    Args:
        budgets: `(what, ours, needed)` triples, e.g. `("runs", config.seeds, 50)`.
        min_fraction: the smallest fraction of `needed` that still allows a verdict.

    >>> shortfall(("runs", 3, 50), ("steps", 100, 100))
    'budget: 3 runs of the 50 the claim needs'
    """
    short = [(what, ours, needed) for what, ours, needed in budgets if ours < min_fraction * needed]
    if not short:
        return ""
    return "budget: " + "; ".join(f"{_count(ours)} {_singular(what) if ours == 1 else what} of the {_count(needed)} "
                                  "the claim needs" for what, ours, needed in short)


def _singular(what: str) -> str:
    """"seeds" -> "seed" for a count of one (one-word plurals only: "environment steps per seed" stays)."""
    return what[:-1] if what.endswith("s") and " " not in what else what


def number(source: str, quantity: str, paper: float, ours: float, *, paper_ci: float = 0.0, ours_ci: float = 0.0,
           rtol: float = 0.05, atol: float = 0.0, close_rtol: float | None = None, close_atol: float | None = None,
           digits: int = 3, budget: str = "", note: str = "", paper_text: str | None = None) -> Claim:
    """A number of the paper beside ours (rules in the module docstring).

    Args:
        paper, paper_ci: the paper's value and its 95% half-width (0 when it gives none).
        ours, ours_ci: ours and its 95% half-width over runs (0 for a single value).
        rtol, atol: relative / absolute tolerance for "reproduced".
        close_rtol, close_atol: the looser tolerances for "close" (default 3 × rtol, 3 × atol).
        budget: `shortfall(...)`'s text; non-empty makes the claim "not comparable".
        note: added to the reason (e.g. why the paper's setting differs).
        paper_text: how to print the paper's value, when not as a number (e.g. "80/65").
    """
    close_rtol = 3 * rtol if close_rtol is None else close_rtol
    close_atol = 3 * atol if close_atol is None else close_atol
    paper_str = paper_text or _value(paper, paper_ci, digits)
    ours_str = _value(ours, ours_ci, digits)
    if not math.isfinite(ours):
        return Claim(source, quantity, paper_str, ours_str, "differs", join("ours is not finite", note))
    if budget:
        return Claim(source, quantity, paper_str, ours_str, "not comparable", join(budget, note))
    gap = abs(ours - paper)
    tolerance = max(rtol * abs(paper), atol, math.hypot(paper_ci, ours_ci))
    if gap <= tolerance:
        verdict = "reproduced"
    elif gap <= max(close_rtol * abs(paper), close_atol):
        verdict = "close"
    else:
        verdict = "differs"
    reason = "" if verdict == "reproduced" else _gap_text(ours, paper, digits)
    return Claim(source, quantity, paper_str, ours_str, verdict, join(reason, note))


def best(source: str, quantity: str, paper: str, values: dict[str, tuple[float, float]], expected: str, *,
         higher: bool = True, digits: int = 3, budget: str = "", note: str = "") -> Claim:
    """"`expected` has the highest (or, with `higher=False`, the lowest) value", measured.

    Args:
        values: label -> (mean, 95% half-width); a label without a (finite) value is left out of the ranking,
            and when it is `expected` the claim "differs" (as `number` does for a value that is not finite).
        expected: the label the paper finds best.
    """
    finite = {label: v for label, v in values.items() if math.isfinite(v[0])}  # no value: left out of the ranking
    ranked = sorted(finite, key=lambda label: finite[label][0] if higher else -finite[label][0], reverse=True)
    shown = [f"{label} {_value(*finite[label], digits)}" for label in ranked[:3]]
    shown += [f"{label} no value" for label in values if label not in finite and label == expected]
    ours = ", ".join(shown)
    if expected not in values:
        return Claim(source, quantity, paper, ours or "–", "not comparable", join(f"{expected} was not run", note))
    if budget:
        return Claim(source, quantity, paper, ours or "–", "not comparable", join(budget, note))
    if expected not in finite:
        return Claim(source, quantity, paper, ours or "–", "differs", join(f"{expected} has no value", note))
    winner = ranked[0]
    if winner == expected:
        return Claim(source, quantity, paper, ours, "reproduced", note)
    (w_mean, w_ci), (e_mean, e_ci) = finite[winner], finite[expected]
    tie = abs(w_mean - e_mean) <= _finite(w_ci) + _finite(e_ci)
    reason = (f"{winner} is best, {expected} within the 95% intervals" if tie else f"{winner} is best")
    return Claim(source, quantity, paper, ours, "close" if tie else "differs", join(reason, note))


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def finding(source: str, quantity: str, paper: str, ours: str, holds: bool, *, nearly: bool = False,
            budget: str = "", note: str = "", reason: str = "") -> Claim:
    """A qualitative finding: reproduced if it `holds`, close if it `nearly` holds, else differs (both measured).

    Args:
        reason: why it does not hold (used unless reproduced).
    """
    if budget:
        return Claim(source, quantity, paper, ours, "not comparable", join(budget, note))
    verdict = "reproduced" if holds else ("close" if nearly else "differs")
    return Claim(source, quantity, paper, ours, verdict, join("" if holds else reason, note))


MIN_RATIO_TOLERANCE = 0.25
"""The smallest relative tolerance `ratio_band` allows, however tight one run's measured spread: the median ratio
also moves BETWEEN identical runs (Table 3's AgA / Simul-Ind on the project's 2-core machine: 1.75–2.2 over
identical runs by wall time, ±12% around 1.96, more than each run's own interquartile range; 1.72–1.96 by CPU time,
which `aga-public-goods` now measures), and a verdict must not flip with it, so the floor covers twice that
between-run spread. 0.1 (before) let the verdict flip at the band's edge."""


def ratio_band(source: str, quantity: str, median: float, q25: float, q75: float, *, band: tuple[float, float],
               close_band: tuple[float, float], paper_text: str, note: str = "") -> Claim:
    """A ratio of measured times against the paper's band, judged so that repeated runs on one machine agree.

    The tolerance is relative: t = max(`MIN_RATIO_TOLERANCE`, (q75 − q25) / median), the measured spread.
    **reproduced** when the median is within `band` widened by t (lo / (1 + t) … hi · (1 + t)); **close** when
    within `close_band` so widened; **differs** otherwise. A noisy measurement thus widens the bands instead of
    flipping the verdict. The claim's `ours` names the band reached, not the number (which varies between runs
    and belongs in `timings.json`), so identical runs write identical claims.
    """
    if not all(math.isfinite(v) and v > 0 for v in (median, q25, q75)):
        return Claim(source, quantity, paper_text, "not measured", "differs", join("the timing is not finite", note))
    tolerance = max(MIN_RATIO_TOLERANCE, (q75 - q25) / median)

    def within(lo_hi):
        lo, hi = lo_hi
        return lo / (1 + tolerance) <= median <= hi * (1 + tolerance)

    lo, hi = band
    if within(band):
        return Claim(source, quantity, paper_text, f"{lo:g}–{hi:g}× within the measured spread", "reproduced", note)
    side = "below" if median < lo else "above"
    if within(close_band):
        ours = f"{close_band[0]:g}–{close_band[1]:g}×, {side} {lo:g}–{hi:g}×"
        return Claim(source, quantity, paper_text, ours, "close", note)
    edge = close_band[0] if side == "below" else close_band[1]
    return Claim(source, quantity, paper_text, f"{side} {edge:g}×", "differs", note)


def not_comparable(source: str, quantity: str, paper: str, ours: str, reason: str) -> Claim:
    """A claim that cannot be judged; `reason` says why (it must not be empty)."""
    if not reason:
        raise ValueError("a 'not comparable' claim needs its reason.")
    return Claim(source, quantity, paper, ours, "not comparable", reason)


def count(claims: Iterable[Claim]) -> dict[str, int]:
    """Verdict -> number of claims, every verdict present (in `VERDICTS` order)."""
    counts = Counter(claim.verdict for claim in claims)
    return {verdict: counts.get(verdict, 0) for verdict in VERDICTS}


def _value(mean: float, half: float = 0.0, digits: int = 3) -> str:
    if not math.isfinite(mean):
        return str(mean)
    return f"{mean:.{digits}f} ± {half:.{digits}f}" if half else f"{mean:.{digits}f}"


def _gap_text(ours: float, paper: float, digits: int) -> str:
    direction = "above" if ours > paper else "below"
    if paper:
        return f"ours is {abs(ours - paper) / abs(paper):.0%} {direction} the paper's"
    return f"ours is {abs(ours - paper):.{digits}f} {direction} the paper's"


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def join(*parts: str) -> str:
    """Reasons joined by "; ", empty ones left out."""
    return "; ".join(part for part in parts if part)
