"""A picture of a SMAX battle in pure ``jnp`` (so GIFs of rollouts are cheap): units as discs.

Allies are blue (Marines), dark blue (Marauders) and cyan (the Medivac); enemies red, dark red and orange.
A disc's brightness falls with its unit's health (full health: full colour; near death: 40%); dead units
are not drawn; a Medivac with a patient in heal range is outlined in white. The map (32 x 32 units) is
drawn at 8 pixels per unit, y upwards.
"""

from __future__ import annotations

import jax.numpy as jnp

from mixmo.envs._medivac import HEAL_RANGE, MARAUDER, MEDIVAC

PIXELS_PER_UNIT = 8
BACKGROUND = (28, 32, 28)
ALLY = {"other": (70, 130, 255), MARAUDER: (30, 70, 200), MEDIVAC: (60, 220, 220)}
ENEMY = {"other": (235, 70, 60), MARAUDER: (160, 30, 30), MEDIVAC: (250, 160, 30)}


def _palette(types, teams):
    def pick(table):
        shape = (types.shape[0], 3)
        colour = jnp.broadcast_to(jnp.asarray(table["other"], jnp.float32), shape)
        for kind in (MARAUDER, MEDIVAC):
            colour = jnp.where((types == kind)[:, None], jnp.broadcast_to(jnp.asarray(table[kind], jnp.float32), shape),
                               colour)
        return colour

    return jnp.where((teams == 0)[:, None], pick(ALLY), pick(ENEMY))


def draw(smax, battle):
    """uint8 ``(H, W, 3)`` picture of a `MedivacState` of the `MedivacSMAX` `smax`."""
    scale = PIXELS_PER_UNIT
    height, width = int(smax.map_height * scale), int(smax.map_width * scale)
    ys = (height - 0.5 - jnp.arange(height, dtype=jnp.float32)) / scale
    xs = (jnp.arange(width, dtype=jnp.float32) + 0.5) / scale
    types = battle.unit_types.astype(jnp.int32)
    radius = jnp.maximum(smax.unit_type_radiuses[types] * 1.6, 0.45)
    px, py = battle.unit_positions[None, None, :, 0], battle.unit_positions[None, None, :, 1]
    d2 = (xs[None, :, None] - px) ** 2 + (ys[:, None, None] - py) ** 2  # (H, W, units)
    inside = (d2 <= radius[None, None, :] ** 2) & battle.unit_alive[None, None, :]
    fraction = battle.unit_health / smax.unit_type_health[types]
    colour = _palette(types, battle.unit_teams) * (0.4 + 0.6 * jnp.clip(fraction, 0.0, 1.0))[:, None]
    # a Medivac with a damaged teammate in range: white ring
    distance = jnp.linalg.norm(battle.unit_positions[:, None] - battle.unit_positions[None, :], axis=-1)
    patients = ((battle.unit_teams[:, None] == battle.unit_teams[None, :]) & (distance <= HEAL_RANGE)
                & battle.unit_alive[None, :] & (fraction < 1.0)[None, :] & (types != MEDIVAC)[None, :])
    healing = (types == MEDIVAC) & battle.unit_alive & jnp.any(patients, axis=1)
    ring = (d2 > (radius[None, None, :] * 0.7) ** 2) & inside & healing[None, None, :]
    order = jnp.broadcast_to(jnp.arange(types.shape[0]) + 1, inside.shape)
    top = jnp.argmax(jnp.where(inside, order, 0), axis=-1)  # the last unit drawn wins
    background = jnp.broadcast_to(jnp.asarray(BACKGROUND, jnp.float32), (height, width, 3))
    image = jnp.where(jnp.any(inside, axis=-1)[..., None], colour[top], background)
    image = jnp.where(jnp.any(ring, axis=-1)[..., None], 255.0, image)
    return image.astype(jnp.uint8)
