"""SMAX with a Medivac: a healer unit type, energy, and per-unit damage bookkeeping (needs ``jaxmarl``).

JaxMARL's SMAX (a JAX re-implementation of SMAC combat) has six unit types, none of which heals. This
module subclasses it (the installed package is not edited) and adds a seventh type, the **Medivac**, with
SMAClite's figures as the reference:

===================  ===================  =====================================================
quantity             SMAClite Medivac     here
===================  ===================  =====================================================
health               150                  150 (no shield; SMAX has none)
speed                3.5                  3.5 map units / s
heal range           4                    4 (centre to centre; SMAX has no unit radii in range)
heal rate            9 HP / s             9 HP / s, i.e. 0.5625 HP per world step of 1/16 s
energy cost          3 HP per energy      3 HP per energy
energy               200, starts at 50    200, starts at 50
energy regeneration  0.5625 / s           0.5625 / s (only while alive)
sight range          11                   11
attack               none                 none: damage 0 and attack range 0, so SMAX's available-
                                          action mask never offers it a target
air unit             yes                  simplified: SMAX has no air layer, so the Medivac
                                          collides like a ground unit and every unit (Marauders
                                          included, which cannot hit air in StarCraft II) can
                                          shoot it
heal target          chosen by the game   automatic: each world step, the alive, non-Medivac,
                                          damaged friendly unit in range with the lowest health
                                          fraction (ties: lowest index); the Medivac's own
                                          actions are moves and stop only
===================  ===================  =====================================================

A heal never lifts a unit above its maximum health, uses energy only for the health actually restored
(``min(rate * dt, missing health, 3 * energy)``), and dead units are never healed. Damage is applied
before healing within a world step, so a unit killed in that step stays dead.

The world step also records, per unit, the health its attacks actually removed (``damage_dealt``; when
several attackers overkill a target, the health it had left is shared in proportion to their damage) and
the health each unit lost to attacks (``damage_taken``) and restored by healing (``healing_done``, credited
to the Medivac). These accumulate over the world steps of one environment step; the environment resets
them before each step. They are what the selfish reward of ``selfish_mmm2`` is made of.

References:
    Rutherford et al. 2024, JaxMARL (``jaxmarl/environments/smax/smax_env.py``); Michalski et al. 2023,
    SMAClite (``smaclite/env/units/unit_type.py``, ``MEDIVAC``); AgA paper (Li et al. 2024,
    arXiv 2402.12416) §5.3 and appendix E.2 (Selfish-MMM2).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax.struct import dataclass
from jaxmarl.environments.smax.smax_env import SMAX, State

MARINE, MARAUDER, MEDIVAC = 0, 1, 6
HEAL_RANGE = 4.0
HEAL_RATE = 9.0  # HP per second
HP_PER_ENERGY = 3.0
MAX_ENERGY = 200.0
START_ENERGY = 50.0
ENERGY_REGEN = 0.5625  # energy per second

# SMAX's six unit types, then the Medivac (index 6)
UNIT_NAMES = ["marine", "marauder", "stalker", "zealot", "zergling", "hydralisk", "medivac"]
UNIT_SHORTHANDS = ["m", "M", "s", "Z", "z", "h", "V"]
VELOCITIES = [3.15, 2.25, 4.13, 3.15, 4.13, 3.15, 3.5]
ATTACKS = [9.0, 10.0, 13.0, 8.0, 5.0, 12.0, 0.0]
ATTACK_RANGES = [5.0, 6.0, 6.0, 2.0, 2.0, 5.0, 0.0]
SIGHT_RANGES = [9.0, 10.0, 10.0, 9.0, 8.0, 9.0, 11.0]
RADII = [0.375, 0.5625, 0.625, 0.5, 0.375, 0.625, 0.75]
HEALTH = [45.0, 125.0, 160.0, 150.0, 35.0, 80.0, 150.0]
# the Medivac never fires; 1 keeps SMAX's cooldown features (cooldown / this) finite
COOLDOWNS = [0.61, 1.07, 1.87, 0.86, 0.5, 0.59, 1.0]


@dataclass
class MedivacState(State):
    """SMAX's state plus the Medivac's energy and this environment step's damage bookkeeping.

    Attributes (all float32 ``(num_units,)``):
        unit_energy: energy (Medivacs only; 0 for the other types).
        damage_dealt: health removed from enemies by each unit's attacks during this env step.
        damage_taken: health each unit lost to attacks during this env step.
        healing_done: health each Medivac restored during this env step.
    """

    unit_energy: jax.Array
    damage_dealt: jax.Array
    damage_taken: jax.Array
    healing_done: jax.Array


class MedivacSMAX(SMAX):
    """SMAX whose unit types include the Medivac (type 6); see the module docstring.

    Args:
        unit_types: the unit type of every unit, allies first (length ``num_allies + num_enemies``).
        num_allies, num_enemies: team sizes.
        **kwargs: other SMAX options (``map_width``, ``world_steps_per_env_step``, ...).
    """

    def __init__(self, unit_types, num_allies: int, num_enemies: int, **kwargs):
        from jaxmarl.environments.smax.smax_env import Scenario

        scenario = Scenario(jnp.asarray(unit_types, jnp.uint8), num_allies, num_enemies, False, False)
        super().__init__(
            scenario=scenario,
            unit_type_names=UNIT_NAMES,
            unit_type_shorthands=UNIT_SHORTHANDS,
            unit_type_velocities=jnp.asarray(VELOCITIES),
            unit_type_attacks=jnp.asarray(ATTACKS),
            unit_type_attack_ranges=jnp.asarray(ATTACK_RANGES),
            unit_type_sight_ranges=jnp.asarray(SIGHT_RANGES),
            unit_type_radiuses=jnp.asarray(RADII),
            unit_type_health=jnp.asarray(HEALTH),
            unit_type_weapon_cooldowns=jnp.asarray(COOLDOWNS),
            **kwargs,
        )

    def reset_state(self, key: jax.Array) -> MedivacState:
        """A fresh battle (SMAX's placement: each team around its side of the map) with Medivac energy."""
        _, state = SMAX.reset(self, key)
        zeros = jnp.zeros((self.num_agents,), jnp.float32)
        energy = jnp.where(state.unit_types == MEDIVAC, START_ENERGY, 0.0).astype(jnp.float32)
        return MedivacState(**{f: getattr(state, f) for f in state.__dataclass_fields__}, unit_energy=energy,
                            damage_dealt=zeros, damage_taken=zeros, healing_done=zeros)

    def _world_step(self, key: jax.Array, state: MedivacState, actions) -> MedivacState:
        """One 1/16 s world step: moves, attacks (with damage attribution), then Medivac heals."""
        movement, attack = actions
        n, dt = self.num_agents, self.time_per_step
        types, alive, positions = state.unit_types, state.unit_alive, state.unit_positions
        idx = jnp.arange(n)

        moved = positions + movement * self.unit_type_velocities[types][:, None] * dt
        moved = jnp.clip(moved, 0.0, jnp.array([self.map_width, self.map_height]))
        moved = jnp.where(alive[:, None], moved, positions)

        # attacks, as SMAX: allies' attack action k targets enemy k, enemies' targets allies in reverse order
        is_attack = attack >= self.num_movement_actions
        shift = attack - self.num_movement_actions
        target = jnp.where(idx < self.num_allies, shift + self.num_allies, self.num_allies - 1 - shift)
        target = jnp.where(is_attack, jnp.clip(target, 0, n - 1), idx)
        distance = jnp.linalg.norm(positions - positions[target], axis=-1)
        valid = (is_attack & (target != idx) & alive & alive[target]
                 & (distance < self.unit_type_attack_ranges[types]) & (state.unit_weapon_cooldowns <= 0.0)
                 & (self.unit_type_attacks[types] > 0))
        damage = jnp.where(valid, self.unit_type_attacks[types], 0.0)
        incoming = jnp.zeros((n,), jnp.float32).at[target].add(damage)
        taken = jnp.minimum(incoming, state.unit_health)
        share = jnp.where(incoming > 0, taken / jnp.where(incoming > 0, incoming, 1.0), 0.0)
        dealt = damage * share[target]
        health = state.unit_health - taken
        deviation = jax.random.uniform(key, (n,), minval=-dt, maxval=2 * dt)
        cooldowns = jnp.where(valid, self.unit_type_weapon_cooldowns[types] + deviation,
                              state.unit_weapon_cooldowns - dt)

        health, energy, healed = self._heal(state, health, types, positions)
        return state.replace(
            unit_positions=moved, unit_health=health, unit_weapon_cooldowns=cooldowns, unit_energy=energy,
            damage_dealt=state.damage_dealt + dealt, damage_taken=state.damage_taken + taken,
            healing_done=state.healing_done + healed)

    def _heal(self, state: MedivacState, health, types, positions):
        """Every alive Medivac heals its most damaged friendly unit in range; returns (health, energy, healed)."""
        dt = self.time_per_step
        max_health = self.unit_type_health[types]
        medivac = (types == MEDIVAC) & state.unit_alive & (health > 0)
        distance = jnp.linalg.norm(positions[:, None] - positions[None, :], axis=-1)
        same_team = state.unit_teams[:, None] == state.unit_teams[None, :]
        patient = (health > 0) & (types != MEDIVAC) & (health < max_health)
        eligible = medivac[:, None] & same_team & patient[None, :] & (distance <= HEAL_RANGE)
        fraction = jnp.where(eligible, health[None, :] / max_health[None, :], jnp.inf)
        target = jnp.argmin(fraction, axis=1)  # first index among ties
        has_target = jnp.any(eligible, axis=1)
        amount = jnp.minimum(HEAL_RATE * dt, HP_PER_ENERGY * state.unit_energy)
        amount = jnp.minimum(amount, max_health[target] - health[target])
        amount = jnp.where(has_target, jnp.maximum(amount, 0.0), 0.0)
        # two Medivacs on one patient: never above its maximum
        new_health = jnp.minimum(health.at[target].add(amount), max_health)
        regen = jnp.where(medivac, ENERGY_REGEN * dt, 0.0)
        energy = jnp.clip(state.unit_energy - amount / HP_PER_ENERGY + regen, 0.0, MAX_ENERGY)
        return new_health, energy.astype(jnp.float32), amount
