"""The Medivac: heals the most damaged friendly unit in range while energy lasts, never above maximum health,
never out of range, never deals damage (SMAClite's figures: 9 HP/s, 3 HP per energy, range 4)."""

import jax
import numpy as np
import pytest

from smax_helpers import actions, arrange
from mixmo.envs import _medivac

FAR_ENEMY = {21: ((28.0, 28.0), 45.0)}  # one enemy Marine far away keeps the battle going
DT = 1.0 / 16  # SMAX's world step; 8 per environment step
WORLD_STEPS = 8


def step(env, state, codes=None, key=0):
    return env.step_env(jax.random.key(key), state, actions(env, codes))


def test_heals_an_injured_ally_in_range_by_9_hp_per_second_for_3_hp_per_energy(selfish_env):
    state = arrange(selfish_env, {0: ((10.0, 16.0), 150.0), 1: ((12.0, 16.0), 50.0), **FAR_ENEMY})
    _, after, _, _, infos = step(selfish_env, state)
    healed = _medivac.HEAL_RATE * DT * WORLD_STEPS  # 4.5 HP in half a second
    assert float(after.smax.unit_health[1]) == pytest.approx(50.0 + healed)
    regen = _medivac.ENERGY_REGEN * DT * WORLD_STEPS
    assert float(after.smax.unit_energy[0]) == pytest.approx(_medivac.START_ENERGY - healed / 3.0 + regen)
    assert float(infos["healing"][0]) == pytest.approx(healed)
    assert float(infos["healing"][1]) == 0.0


def test_heals_the_most_damaged_and_never_above_maximum(selfish_env):
    # unit 1 (Marauder, 125) at 124: 1 HP short; unit 3 (Marine, 45) at 40 has the lower health fraction
    state = arrange(selfish_env, {0: ((10.0, 16.0), 150.0), 1: ((12.0, 16.0), 124.0), 3: ((10.0, 18.0), 40.0),
                                  **FAR_ENEMY})
    _, after, _, _, _ = step(selfish_env, state)
    health = np.asarray(after.smax.unit_health)
    assert health[3] == pytest.approx(44.5)  # 8 world steps x 0.5625 on the most damaged (by fraction)
    assert health[1] == 124.0
    _, after, _, _, _ = step(selfish_env, after, key=1)
    health = np.asarray(after.smax.unit_health)
    assert health[3] == 45.0 and health[1] == 125.0  # topped up, never above the maximum


def test_no_healing_out_of_range_or_of_the_dead(selfish_env):
    state = arrange(selfish_env, {0: ((10.0, 16.0), 150.0), 1: ((14.5, 16.0), 50.0), **FAR_ENEMY})
    _, after, _, _, _ = step(selfish_env, state)
    assert float(after.smax.unit_health[1]) == 50.0
    assert float(after.smax.unit_energy[0]) > _medivac.START_ENERGY  # only regeneration
    # a dead unit next to the Medivac stays dead at 0 health
    state = arrange(selfish_env, {0: ((10.0, 16.0), 150.0), 3: ((11.0, 16.0), 45.0), **FAR_ENEMY})
    dead = state.smax.replace(unit_alive=state.smax.unit_alive.at[3].set(False),
                              unit_health=state.smax.unit_health.at[3].set(0.0))
    _, after, _, _, _ = step(selfish_env, state._replace(smax=dead))
    assert float(after.smax.unit_health[3]) == 0.0 and not bool(after.smax.unit_alive[3])


def test_no_healing_without_energy_beyond_what_regenerates(selfish_env):
    state = arrange(selfish_env, {0: ((10.0, 16.0), 150.0), 1: ((12.0, 16.0), 50.0), **FAR_ENEMY}, energy=0.0)
    _, after, _, _, _ = step(selfish_env, state)
    # world step 1 has no energy; each later one spends exactly the energy regenerated in the one before
    expected = 3.0 * _medivac.ENERGY_REGEN * DT * (WORLD_STEPS - 1)
    assert float(after.smax.unit_health[1]) == pytest.approx(50.0 + expected)
    assert expected < 1.0


def test_never_deals_damage_and_its_attacks_are_never_available(selfish_env):
    # an enemy Marine right next to the allied Medivac; the Medivac tries every attack action in turn
    state = arrange(selfish_env, {0: ((10.0, 16.0), 150.0), 14: ((11.0, 16.0), 45.0), 21: ((28.0, 28.0), 45.0)})
    masks = np.asarray(selfish_env.avail_actions(state))
    assert masks[0, :5].all() and not masks[0, 5:].any()
    n_actions = selfish_env.action_space("agent_0").n
    for code in range(5, n_actions):
        _, after, rewards, _, infos = step(selfish_env, state, {0: code})
        assert float(after.smax.damage_dealt[0]) == 0.0 and float(infos["damage_dealt"][0]) == 0.0
        assert float(rewards["agent_0"]) <= 0.0
    # ... and over a random battle
    _, state = selfish_env.reset(jax.random.key(7))
    dealt = 0.0
    for k in jax.random.split(jax.random.key(8), 15):
        codes = {0: int(jax.random.randint(k, (), 0, n_actions))}
        _, state, _, _, infos = selfish_env.step(k, state, actions(selfish_env, codes))
        dealt += float(infos["damage_dealt"][0])
    assert dealt == 0.0


def test_enemy_medivac_heals_its_team_and_does_not_attack(selfish_env):
    # enemy Medivac (10) beside a wounded enemy Marauder (11); the allied Marine (3) is out of everyone's range
    state = arrange(selfish_env, {3: ((4.0, 4.0), 45.0), 10: ((24.0, 16.0), 150.0), 11: ((25.0, 16.0), 60.0)})
    _, after, _, _, _ = step(selfish_env, state)
    assert float(after.smax.unit_health[11]) > 60.0
    assert float(after.smax.damage_dealt[10]) == 0.0
