"""Reward mixing: budget balance, rows on the simplex, and D3C Algorithm 1 against a plain-Python loop."""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixmo import rl
from mixmo.rl import _mixing as mixing

CONFIG = mixing.D3CRLConfig(lr=0.5, delta=0.7, kl=0.05, tau_min=2, tau_max=4, eps=0.3)


def run(config, returns, key=0, episodes=1):
    """The initial mixer state and the states after each of the given iterations (the returns array is (T, n))."""
    return _run(config, jnp.asarray(returns, jnp.float32), key, episodes)


@functools.partial(jax.jit, static_argnums=(0, 3))  # one program per config, shape and episode count
def _run(config, returns, key, episodes):
    state = mixing.d3c_init(jax.random.key(key), returns.shape[1], config)

    def step(s, g):
        s = mixing.d3c_update(s, g, config, episodes)
        return s, s

    return state, jax.lax.scan(step, state, returns)[1]


@jax.jit  # one program per agent count, not one per operation run eagerly
def _softmax_and_mix(logits, rewards):
    matrix = jax.nn.softmax(logits, axis=-1)
    return matrix, rl.mix_rewards(matrix, rewards)


# Algorithm 1's steps jitted: one program each, not one per operation run eagerly
d3c_init = jax.jit(mixing.d3c_init, static_argnums=(1, 2))
d3c_update = jax.jit(mixing.d3c_update, static_argnums=2)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_mixing_is_budget_balanced(n, seed):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=(n, 7, 3)).astype(np.float32)
    matrix, mixed = map(np.asarray, _softmax_and_mix(jnp.asarray(rng.normal(size=(n, n)) * 3, jnp.float32),
                                                     jnp.asarray(rewards)))
    np.testing.assert_allclose(mixed.sum(0), rewards.sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mixed[1], np.einsum("j,jab->ab", matrix[:, 1], rewards), rtol=1e-5, atol=1e-5)


@jax.jit
def _mixed_totals(matrices):
    """Total mixed reward of 3 environments with reward 1 for everyone, under each of `matrices` `(T, n, n)`."""
    rewards = jnp.ones((matrices.shape[-1], 3))
    return jax.vmap(lambda m: rl.mix_rewards(m, rewards).sum())(matrices)


@settings(max_examples=6, deadline=None)
@given(st.integers(2, 5), st.integers(0, 2**31 - 1))
def test_rows_and_trials_stay_on_the_simplex_and_inside_the_logit_bounds(n, seed):
    returns = np.random.default_rng(seed).normal(scale=50.0, size=(40, n))
    _, states = jax.tree.map(np.asarray, run(mixing.D3CRLConfig(lr=5.0, delta=2.0, tau_min=1, tau_max=3, eps=1.0),
                                             returns, seed))
    for rows in (states.rows, states.trial):
        assert np.all(np.asarray(rows) > 0)
        np.testing.assert_allclose(np.asarray(rows).sum(-1), 1.0, atol=1e-5)
    updated = states.rows[-1]
    spread = np.log(updated.max(-1)) - np.log(updated.min(-1))
    assert np.all(spread <= 10.0 + 1e-4)  # logits clipped to [-5, 5]
    # balance holds with every trial matrix the learner saw
    np.testing.assert_allclose(_mixed_totals(states.trial), 3.0 * n, rtol=1e-5)


READINGS = [("update", "mean", 1), ("update", "mean", 3), ("update", "total", 3), ("episode", "mean", 1),
            ("episodes-slope-per-update", "mean", 3), ("episodes-slope-per-update", "total", 3),
            ("episodes-slope-per-update", "mean", 1)]


@pytest.mark.parametrize("iteration, g_scale, episodes", READINGS)
def test_algorithm_1_matches_a_plain_loop(iteration, g_scale, episodes):
    """Replay Algorithm 1 in float64 with the module's own random draws (ã, τ at each trial start), under each
    reading: g = the iteration's mean return or `episodes` times it; a trial lasts τ iterations, or ⌈τ/episodes⌉
    under "episodes-slope-per-update", and ρ̃ divides by that length."""
    config = dataclasses.replace(CONFIG, iteration=iteration, g_scale=g_scale, tau_min=2, tau_max=7)
    n, steps = 3, 40
    returns = np.random.default_rng(1).normal(size=(steps, n)) * 5
    first, states = jax.tree.map(np.asarray, run(config, returns, episodes=episodes))
    directions = np.concatenate([np.asarray(first.direction)[None], np.asarray(states.direction)], 0).astype(float)
    taus = np.concatenate([np.asarray(first.tau)[None], np.asarray(states.tau)], 0)
    rows = np.asarray(mixing.initial_rows(n, config.init_self), float)
    scale = episodes if g_scale == "total" else 1
    for i in range(n):
        a = rows[i].copy()
        g_mean, t_b, g_b, tau, direction, completed = 0.0, 0, 0.0, taus[0, i], directions[0, i], 0
        for t in range(1, steps + 1):
            dt = t - t_b
            g_mean = (g_mean * (dt - 1) + scale * returns[t - 1, i]) / dt
            length = math.ceil(tau / episodes) if iteration == "episodes-slope-per-update" else tau
            if dt == length:
                rho = max((g_b - g_mean) / length + config.eps, 0.0)
                grad = rho * direction - config.kl * np.eye(n)[i] / a
                logits = np.clip(np.log(a) - config.lr * grad, config.low, config.high)
                a = np.exp(logits) / np.exp(logits).sum()
                t_b, g_b, tau, direction = t, g_mean, taus[t, i], directions[t, i]
                completed += 1
                expected_trial = np.exp(np.log(a) + config.delta * direction)
                np.testing.assert_allclose(states.trial[t - 1, i], expected_trial / expected_trial.sum(), rtol=1e-4)
            np.testing.assert_allclose(states.rows[t - 1, i], a, rtol=1e-4, atol=1e-6)
            np.testing.assert_allclose(states.mean_return[t - 1, i], g_mean, rtol=1e-4, atol=1e-4)
        assert completed >= steps // config.tau_max  # the test exercised several trials
    assert np.all((taus >= config.tau_min) & (taus <= config.tau_max))
    np.testing.assert_allclose(np.linalg.norm(directions, axis=-1), 1.0, rtol=1e-5)


def test_the_default_reading_ignores_the_episode_count_bit_for_bit():
    """iteration "update", g_scale "mean": `episodes` changes nothing, so the default is today's Algorithm 1."""
    state = d3c_init(jax.random.key(2), 3, CONFIG)
    for g in (jnp.array([1.0, -2.0, 0.5]), jnp.array([-3.0, 4.0, 2.0]), jnp.array([0.0, 1.0, -1.0])):
        one, many = d3c_update(state, g, CONFIG), d3c_update(state, g, CONFIG, 10)
        for x, y in zip(jax.tree.leaves(one), jax.tree.leaves(many)):
            np.testing.assert_array_equal(x, y)
        state = one


def test_trial_draws_are_the_mixers_key_chain():
    """`trial_draws` is Algorithm 2's sampler: replaying it from the state's key gives the next trial's ã and τ."""
    config = dataclasses.replace(CONFIG, tau_min=1, tau_max=1)  # every trial completes at every iteration
    state = mixing.d3c_init(jax.random.key(4), 3, config)  # eager, as `trial_draws` below: bit-for-bit comparable
    key, direction, tau = mixing.trial_draws(state.key, 3, config)
    state = mixing.d3c_update(state, jnp.ones(3), config)
    np.testing.assert_array_equal(state.direction, direction)
    np.testing.assert_array_equal(state.tau, tau)
    np.testing.assert_array_equal(state.key, key)


def test_a_falling_return_pushes_the_row_away_from_the_trial_direction():
    """ρ̃ > 0 makes the step −η ρ̃ ã: the row moves against the perturbation that preceded the drop."""
    config = mixing.D3CRLConfig(lr=0.1, delta=0.5, kl=0.0, tau_min=1, tau_max=1, eps=0.0)
    state = d3c_init(jax.random.key(3), 2, config)
    state = d3c_update(state, jnp.array([10.0, 10.0]), config)  # first trial: G rises from 0, ρ̃ = 0
    np.testing.assert_allclose(state.rows, mixing.initial_rows(2, 0.99), rtol=1e-6)
    before, direction = state.rows, state.direction
    state = d3c_update(state, jnp.array([4.0, 4.0]), config)  # G falls by 6 over τ = 1: ρ̃ = 6
    moved = np.log(np.asarray(state.rows)) - np.log(np.asarray(before))
    centred = moved - moved.mean(-1, keepdims=True)
    expected = -0.1 * 6.0 * np.asarray(direction)
    np.testing.assert_allclose(centred, expected - expected.mean(-1, keepdims=True), rtol=1e-4, atol=1e-6)


def test_d3c_mixer_is_deterministic_vmappable_and_fixed_mixers_do_not_move():
    mixer = mixing.d3c(CONFIG)
    keys = jax.random.split(jax.random.key(0), 4)
    states = jax.vmap(lambda k: mixer.init(k, 3))(keys)
    step = jax.jit(jax.vmap(mixer.update))
    g = jnp.arange(12.0).reshape(4, 3)
    a, b = step(states, g), step(states, g)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(a.trial[0], a.trial[1])  # seeds draw different trials
    for mixer, expected in ((rl.selfish(), np.eye(3)), (rl.cooperative(), np.full((3, 3), 1 / 3))):
        state = mixer.update(mixer.init(jax.random.key(0), 3), jnp.ones(3))
        np.testing.assert_allclose(mixer.matrix(state), expected, rtol=1e-6)
        np.testing.assert_allclose(mixer.rows(state), expected, rtol=1e-6)


def test_relative_attention():
    rows = mixing.initial_rows(5, 0.99)
    np.testing.assert_allclose(mixing.relative_attention(rows), np.log(0.99 / 0.0025), rtol=1e-5)
    np.testing.assert_allclose(mixing.relative_attention(jnp.full((4, 4), 0.25)), 0.0, atol=1e-6)


@pytest.mark.parametrize("bad, match", [
    (dict(lr=0.0), "lr"), (dict(delta=-1.0), "delta"), (dict(kl=-1.0), "kl"), (dict(tau_min=3, tau_max=2), "tau"),
    (dict(init_self=1.0), "init_self"), (dict(low=1.0, high=1.0), "low < high"), (dict(eps=float("nan")), "eps"),
    (dict(iteration="epoch"), "iteration must be one of 'update', 'episode', 'episodes-slope-per-update'"),
    (dict(g_scale="sum"), "g_scale must be one of 'mean', 'total'")])
def test_bad_d3c_settings_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        mixing.d3c(mixing.D3CRLConfig(**bad))
    with pytest.raises(ValueError, match="2 agents"):
        mixing.d3c_init(jax.random.key(0), 1, CONFIG)
