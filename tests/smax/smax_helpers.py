"""Helpers for the Selfish-MMM2 tests: hand-arranged battles, fixed actions, and a small masked environment."""

import jax
import jax.numpy as jnp

from mixmo.envs import make


def arrange(env, units: dict, key=0, energy: float | None = None):
    """A state where only `units` are alive: {unit index: ((x, y), health)}; allies are 0-9, enemies 10-21.

    The optional `energy` replaces the allied Medivac's (unit 0) energy.
    """
    _, state = env.reset(jax.random.key(key))
    battle = state.smax
    n = battle.unit_alive.shape[0]
    alive = jnp.zeros((n,), bool)
    health = jnp.zeros((n,), jnp.float32)
    positions = battle.unit_positions
    for i, (pos, hp) in units.items():
        alive = alive.at[i].set(True)
        health = health.at[i].set(hp)
        positions = positions.at[i].set(jnp.asarray(pos, jnp.float32))
    energy_arr = battle.unit_energy if energy is None else battle.unit_energy.at[0].set(energy)
    battle = battle.replace(unit_alive=alive, unit_health=health, unit_positions=positions, unit_energy=energy_arr)
    return state._replace(smax=battle)


def actions(env, codes: dict | None = None):
    """All agents stop (action 4) except `codes` {agent index: action}."""
    codes = codes or {}
    return {a: jnp.asarray(codes.get(i, 4), jnp.int32) for i, a in enumerate(env.agents)}


class MaskedCoins:
    """Coins with SMAX-style extras: agent_1 may never take action 0; the global state is both observations."""

    def __init__(self):
        self.inner = make("coins", max_steps=12)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def avail_actions(self, state):
        mask = jnp.ones((2, 5), bool)
        return mask.at[1, 0].set(False)

    def world_state(self, state):
        obs = self.inner.get_obs(state)
        return jnp.concatenate([obs[a].reshape(-1).astype(jnp.float32) for a in self.inner.agents])
