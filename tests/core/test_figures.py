"""Figures that must be readable: aga-toy's trajectories and `mixmo reproduce`'s verdicts.png."""

import matplotlib.pyplot as plt
import numpy as np

from mixmo.app.papers import Outcome
from mixmo.app.reproduce_report import verdict_figure
from mixmo.experiments.aga import toy
from mixmo.experiments.registry import Claim


def test_toy_paths_that_overlap_stay_distinguishable():
    line = np.stack([np.linspace(-1.0, -0.8, 21), np.linspace(-1.0, -0.7, 21)], axis=1)
    paths = {m: line for m in ("simul-co", "aga", "cga")}  # three identical paths, as in Fig. 2's overlap
    figure = toy._figure(toy.ToyConfig(), paths)
    try:
        ax = figure.axes[0]
        drawn = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
        assert {"Simul-Co", "AgA", "CGA", "start"} <= set(drawn)
        styles = {(drawn[m].get_linestyle(), drawn[m].get_marker()) for m in ("Simul-Co", "AgA", "CGA")}
        assert len(styles) == 3  # each its own line style and marker
        widths = [drawn[m].get_linewidth() for m in ("Simul-Co", "AgA", "CGA")]
        assert widths == sorted(widths, reverse=True)  # wider underneath, so all stay visible
        ends = [line for line in ax.get_lines() if line.get_markersize() >= 12 and len(line.get_xdata()) == 1]
        assert len(ends) >= 3 + 1  # an end marker per method, and the start
        x_lo, x_hi = ax.get_xlim()
        assert x_lo > -3 and x_hi < 3 and x_lo <= -1.0 and x_hi >= -0.8  # zoomed to where the paths are
    finally:
        plt.close(figure)


def _claims(verdict, n):
    return [Claim("s", "q", "p", "o", verdict, "r") for _ in range(n)]


def test_verdicts_png_shows_fractions_with_counts_so_no_experiment_squashes_the_others():
    outcomes = [Outcome("big", "aga", "done", {}, claims=_claims("reproduced", 30) + _claims("differs", 4)),
                Outcome("small", "aga", "done", {}, claims=_claims("close", 1) + _claims("differs", 1)),
                Outcome("broken", "d3c", "failed", {})]
    figure = verdict_figure(outcomes)
    try:
        ax = figure.axes[0]
        totals = {}
        for patch in ax.patches:
            y = round(patch.get_y() + patch.get_height() / 2)
            totals[y] = totals.get(y, 0.0) + patch.get_width()
        assert np.allclose([totals[0], totals[1]], 1.0) and totals.get(2, 0.0) == 0.0  # every bar is whole
        texts = [t.get_text() for t in ax.texts]
        assert {"30", "4", "1", "34 claims", "2 claims", "failed"} <= set(texts)
    finally:
        plt.close(figure)
