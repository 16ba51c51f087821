"""Metrics: hand values and the laws that must hold (hypothesis)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixmo import metrics

payoff_lists = st.lists(st.floats(0.01, 100.0, allow_nan=False), min_size=2, max_size=8)


def test_hand_values():
    r = np.array([1.0, 3.0])
    # sum_i sum_j |r_i - r_j| = 4, 2 n^2 mean = 16
    assert float(metrics.gini(r)) == pytest.approx(0.25)
    assert float(metrics.equality(r)) == pytest.approx(0.75)
    assert float(metrics.social_welfare(r)) == 4.0
    assert float(metrics.ratio_to_optimal(130.0, 65.0)) == 2.0
    assert metrics.price_of_anarchy(80.0, 65.0) == pytest.approx(80 / 65)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 100.0), st.integers(2, 8))
def test_equality_is_one_for_equal_payoffs(value, n):
    assert float(metrics.equality(np.full(n, value))) == pytest.approx(1.0, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(payoff_lists)
def test_equality_is_in_unit_interval_for_positive_payoffs(r):
    e = float(metrics.equality(np.array(r)))
    assert -1e-6 <= e <= 1.0 + 1e-6


@settings(max_examples=60, deadline=None)
@given(payoff_lists, st.randoms(use_true_random=False))
def test_equality_is_permutation_invariant(r, rng):
    shuffled = list(r)
    rng.shuffle(shuffled)
    assert float(metrics.equality(np.array(r))) == pytest.approx(float(metrics.equality(np.array(shuffled))), abs=1e-5)


def test_metrics_broadcast_over_leading_axes():
    r = np.array([[[1.0, 1.0], [1.0, 3.0]]])
    np.testing.assert_allclose(np.asarray(metrics.equality(r)), [[1.0, 0.75]])


def test_mean_ci95():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    mean, half = metrics.mean_ci95(x)
    assert mean == 2.5 and half == pytest.approx(1.96 * np.std(x, ddof=1) / 2)
    assert metrics.mean_ci95(np.array([5.0]))[1] == 0.0


def test_relative_reward_attention_and_win_rate():
    a = np.array([[0.9, 0.05, 0.05], [0.2, 0.6, 0.2], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(np.asarray(metrics.relative_reward_attention(a)),
                               [np.log(18.0), np.log(3.0), 0.0], rtol=1e-5, atol=1e-6)
    assert float(metrics.win_rate([True, False, True, True])) == 0.75
