"""Harvest's and HarvestPatch's rules (ENVIRONMENTS.md, "Harvest" and "HarvestPatch")."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from mixmo.envs._grid import FIRE, STAY, UP

P = (0.0, 0.005, 0.02, 0.05)


@pytest.fixture(scope="module")
def harvest(registered):
    return registered("harvest")


@pytest.fixture(scope="module")
def patch(registered):
    return registered("harvest_patch")


@pytest.fixture(scope="module")
def stay_many(act, step_many):
    """Next states of ``env`` from ``state`` under 1000 keys, everybody staying."""
    return lambda env, state: step_many(env, state, act(env, *[STAY] * env.num_agents))[1]


def test_regrowth_probability_is_p_of_min_k_3_over_the_3x3_block(harvest, stay_many):
    rng = np.random.default_rng(3)
    apples = harvest.layout.apple_spawn & (rng.random(harvest.layout.shape) < 0.35)
    _, state = harvest.reset(jax.random.key(0))
    state = state._replace(apples=jnp.asarray(apples))
    grown = np.asarray(stay_many(harvest, state).apples) & ~apples
    padded = np.pad(apples, 1).astype(int)
    k = sum(padded[r : r + 16, c : c + 38] for r in range(3) for c in range(3))
    under = np.zeros_like(apples)
    under[tuple(np.asarray(state.pos).T)] = True
    empty = harvest.layout.apple_spawn & ~apples & ~under
    for kk in range(4):
        where = empty & (np.minimum(k, 3) == kk)
        n = where.sum() * 1000
        assert n >= 5000  # every class is well represented
        rate = grown[:, where].sum() / n
        assert abs(rate - P[kk]) <= 5 * np.sqrt(P[kk] * (1 - P[kk]) / n) + 1e-12, (kk, rate)
    assert grown[:, empty & (k == 0)].sum() == 0  # no apples nearby: never regrows
    assert grown[:, ~harvest.layout.apple_spawn].sum() == 0


def test_a_region_harvested_bare_never_regrows(harvest, stay_many):
    _, state = harvest.reset(jax.random.key(0))
    bare = state._replace(apples=jnp.zeros_like(state.apples))
    assert not np.asarray(stay_many(harvest, bare).apples).any()


def test_harvest_rules_fire_and_eat(harvest, act):
    _, state = harvest.reset(jax.random.key(0))
    apples = np.zeros(harvest.layout.shape, bool)
    apples[5, 4] = True
    # agent 0 at (6, 4) facing up steps onto the apple; agent 1 fires at agent 2 two cells ahead
    state = state._replace(
        pos=jnp.asarray([[6, 4], [10, 20], [8, 20], [1, 30], [14, 30]], jnp.int32),
        direction=jnp.zeros((5,), jnp.int32),
        apples=jnp.asarray(apples),
    )
    params = harvest.default_params._replace(regrowth_probs=(0.0, 0.0, 0.0, 0.0))
    actions = act(harvest, UP, FIRE, STAY, STAY, STAY)
    _, nxt, rewards, _, infos = harvest.step_env(jax.random.key(1), state, actions, params)
    assert [float(rewards[a]) for a in harvest.agents] == [1.0, -1.0, -50.0, 0.0, 0.0]
    assert not bool(nxt.apples[5, 4]) and infos["apples_eaten"].tolist() == [1, 0, 0, 0, 0]
    assert not nxt.waste.any() and not nxt.clean_beam.any()


def test_harvest_spec(harvest):
    assert harvest.num_agents == 5 and harvest.action_space("agent_0").n == 8
    assert "clean" not in harvest.action_names
    assert harvest.observation_space("agent_0").shape == (15, 15, 4)
    assert harvest.channels == ("wall", "apple", "agent", "fire_beam")
    assert harvest.default_params.max_steps == 1000 and tuple(harvest.default_params.regrowth_probs) == P
    _, state = harvest.reset(jax.random.key(0))
    assert np.array_equal(np.asarray(state.apples), harvest.layout.apple_init)  # A cells start full


def test_harvest_patch_map_has_six_separate_patches(patch):
    labels, n = ndimage.label(patch.layout.apple_spawn, structure=np.ones((3, 3)))
    assert n == 6 and all((labels == i).sum() == 13 for i in range(1, 7))
    for i in range(1, 7):
        # the 3 x 3 neighbourhood of patch i (grown twice: any cell's block) never meets another patch
        reach = ndimage.binary_dilation(labels == i, structure=np.ones((3, 3)), iterations=2)
        assert set(np.unique(labels[reach])) <= {0, i}
    assert patch.num_agents == 5 and patch.observation_space("agent_0").shape == (15, 15, 4)


def test_a_patch_harvested_to_zero_is_dead_while_the_others_regrow(patch, stay_many):
    labels, _ = ndimage.label(patch.layout.apple_spawn, structure=np.ones((3, 3)))
    apples = patch.layout.apple_init & (labels != 1)
    # bite one edge cell out of every other patch, so they have something to regrow
    for i in range(2, 7):
        r, c = np.argwhere(labels == i)[0]
        apples[r, c] = False
    _, state = patch.reset(jax.random.key(0))
    state = state._replace(apples=jnp.asarray(apples))
    after = np.asarray(stay_many(patch, state).apples)
    assert not after[:, labels == 1].any()
    regrown = after[:, (labels >= 2) & ~apples].mean()
    assert abs(regrown - 0.05) < 0.015  # each bitten tip has 3 apples below it: p[3] = 0.05
