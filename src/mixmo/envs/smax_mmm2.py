"""Selfish-MMM2 (AgA paper §5.3, appendix E.2) and MMM2 on JaxMARL's SMAX with a Medivac (needs ``jaxmarl``).

Ten heterogeneous agents fight twelve units run by SMAX's heuristic AI on SMAX's 32 x 32 map:

- allies (the agents, in this order): ``agent_0`` Medivac, ``agent_1``-``agent_2`` Marauders,
  ``agent_3``-``agent_9`` Marines (SMAC's MMM2 without StarCraft II);
- enemies: 1 Medivac, 3 Marauders, 8 Marines. Marauders and Marines follow JaxMARL's heuristic
  (attack the closest unit in range, keep attacking it, else walk towards a visible enemy or across the
  map); the enemy Medivac never attacks: it flies to its most damaged alive teammate (lowest health
  fraction, the same rule its automatic heal uses) or, when nobody is hurt, to its team's centre, and
  stops within 2 units of it. It reads the state directly (SMAX's heuristic reads observations).

The Medivac (healer, cannot attack) is ``mixmo.envs._medivac``; its figures follow SMAClite.

**Rewards.** ``selfish_mmm2`` gives agent i the selfish reward of the paper (appendix E.2)

    r_i = (health + shield the enemies agent i attacked lost this step to agent i's attacks)
          - beta * penalty_i * [agent i died this step],

with beta = 1 (the paper's) and ``penalty_i`` = agent i's own maximum health (45 Marine, 125 Marauder,
150 Medivac; the paper leaves the penalty open: dying costs what killing a unit of one's own type earns).
SMAX units have no shield. Damage is in raw health points and is attributed to the attacker that dealt it
(overkill shared in proportion); healing by the enemy Medivac does not reduce anyone's reward. The
penalty is paid once, at the step of death. The Medivac agent never earns a positive reward: its selfish
optimum is to survive, not to heal. No team reward is given: the team's win (all enemies dead before the
time limit, at least one ally alive) is reported in ``infos["won"]``.

``mmm2`` is the same battle with SMAX's usual shared team reward, for contrast: every agent gets
sum_j (health enemy j lost to attacks / its maximum health) / #enemies, plus 1 when the team wins.

**Episodes** end when all enemies are dead (a win), all allies are dead (a loss; both at once is a draw,
as in SMAX) or after ``max_steps`` = 180 steps (SMAC's MMM2 time limit). One step is 8 world steps of
1/16 s (SMAX's defaults). Walls kill units that touch them (SMAX's default).

**Observations** (``(306,)`` float32 per agent): SMAX's unit list (other units' health, relative
position, last move and target, weapon cooldown and unit type bits; own health, position, cooldown and
unit type bits), then the agent's own energy / 200 (non-zero only for the Medivac). The unit type is in
the observation, so heterogeneous agents can share code but each learns its own parameters.
``avail_actions(state)`` (``(10, 17)`` bool) and JaxMARL's ``get_avail_actions(state)`` give SMAX's
available-action masks: 4 moves and stop, then one attack per enemy in range; a Medivac's attacks are
never available (attack range 0), and a dead agent may only stop. ``world_state(state)`` is SMAX's global
state (every unit's health, position, cooldown, type and team), for centralised critics.

References:
    AgA paper (Li et al. 2024, arXiv 2402.12416) §5.3 and appendix E.2; Samvelyan et al. 2019, SMAC
    (MMM2: 1 Medivac, 2 Marauders, 7 Marines vs 1, 3, 8; time limit 180); Rutherford et al. 2024,
    JaxMARL (``smax_env.py``, ``heuristic_enemy.py``); Michalski et al. 2023, SMAClite (the Medivac).
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.envs._quiet import quiet_stdout
from mixmo.envs._base import MultiAgentEnv, Transition
from mixmo.envs._spaces import Box, Discrete
from mixmo.envs.coin_game import _jaxmarl_numpy

ALLY_TYPES = (6, 1, 1) + (0,) * 7  # Medivac, 2 Marauders, 7 Marines
ENEMY_TYPES = (6, 1, 1, 1) + (0,) * 8  # Medivac, 3 Marauders, 8 Marines
REWARDS = ("selfish", "team")


class SMAXParams(NamedTuple):
    """Selfish-MMM2's numbers.

    Attributes:
        max_steps: time limit in environment steps (SMAC's MMM2: 180).
        death_penalty: beta, the weight of the death penalty (the paper: 1); the penalty itself is the
            dying agent's maximum health. Ignored by the team reward.
        won_bonus: the team reward's bonus for a win (SMAX's: 1). Ignored by the selfish reward.
    """

    max_steps: int = 180
    death_penalty: float = 1.0
    won_bonus: float = 1.0


class SMAXState(NamedTuple):
    """The battle (SMAX's state with Medivac energy), the heuristic enemies' memory, and episode totals."""

    smax: Any
    enemy_policy: Any
    t: jax.Array
    episode_damage: jax.Array  # (num_agents,) health removed from enemies this episode
    episode_healing: jax.Array  # (num_agents,) health restored this episode (the Medivac)


class SMAXCombatEnv(MultiAgentEnv):
    """MMM2 on SMAX against the heuristic AI; ``reward="selfish"`` is Selfish-MMM2 (module docstring).

    Args:
        reward: "selfish" (per-agent damage dealt minus death penalty) or "team" (SMAX's shared reward).
        params: ``SMAXParams`` (default: the paper's).

    Raises:
        ImportError: jaxmarl is not installed (with the command that installs it).
        ValueError: an unknown reward or an invalid parameter, naming the fix.
    """

    name = "selfish_mmm2"

    def __init__(self, reward: str = "selfish", params: SMAXParams | None = None):
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}.")
        try:
            with quiet_stdout():  # JaxMARL prints on import
                from jaxmarl.environments.smax.heuristic_enemy import (
                    create_heuristic_policy,
                    get_heuristic_policy_initial_state,
                )

                from mixmo.envs._medivac import MedivacSMAX
        except ImportError as err:
            raise ImportError(f"the '{self.name}' environment builds on JaxMARL's SMAX; install it with "
                              "`pip install jaxmarl` (or the `jaxmarl` extra of mixmo).") from err
        params = SMAXParams() if params is None else params
        if params.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {params.max_steps}.")
        if not params.death_penalty >= 0:
            raise ValueError(f"death_penalty must be >= 0, got {params.death_penalty}.")
        super().__init__(len(ALLY_TYPES))
        self.name = "selfish_mmm2" if reward == "selfish" else "mmm2"
        self.reward = reward
        self._params = params
        self.smax = MedivacSMAX(ALLY_TYPES + ENEMY_TYPES, len(ALLY_TYPES), len(ENEMY_TYPES),
                                max_steps=params.max_steps)
        self.num_enemies = len(ENEMY_TYPES)
        self._heuristic = create_heuristic_policy(self.smax, 1, shoot=True, attack_mode="closest")
        self._heuristic_init = get_heuristic_policy_initial_state
        self.obs_size = self.smax.obs_size + 1
        self.world_state_size = self.smax.state_size + self.smax.num_agents
        self.unit_max_health = np.asarray(self.smax.unit_type_health)[np.asarray(ALLY_TYPES + ENEMY_TYPES)]

    @property
    def default_params(self) -> SMAXParams:
        return self._params

    # equal environments share jit caches (``reset``/``step`` are jitted with ``self`` static): SMAX programs
    # take tens of seconds to compile, so two instances built with the same options compile them once
    def _key(self):
        return (type(self), self.reward, tuple(self._params))

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other) -> bool:
        return isinstance(other, SMAXCombatEnv) and self._key() == other._key()

    def observation_space(self, agent: str) -> Box:
        return Box(-1.0, 1.0, (self.obs_size,), jnp.float32)

    def action_space(self, agent: str) -> Discrete:
        return Discrete(self.smax.num_ally_actions)

    # --- dynamics ------------------------------------------------------------------------------
    def _reset_state(self, key, params) -> SMAXState:
        with _jaxmarl_numpy():
            battle = self.smax.reset_state(key)
            memory = jax.tree.map(lambda *x: jnp.stack(x), *[self._heuristic_init()] * self.num_enemies)
        zeros = jnp.zeros((self.num_agents,), jnp.float32)
        state = SMAXState(battle, memory, jnp.zeros((), jnp.int32), zeros, zeros)
        # JaxMARL leaves some integers weakly typed; a stepped state has them strong, so strip the weak type
        # (otherwise a jitted function taking the state compiles twice)
        return jax.tree.map(lambda x: jnp.asarray(x).astype(jnp.asarray(x).dtype), state)

    def _enemy_actions(self, key, state: SMAXState):
        """The heuristic enemies' actions (12,) and memory; the enemy Medivac follows the wounded."""
        smax, battle = self.smax, state.smax
        obs = smax.get_obs_unit_list(battle)
        enemy_obs = jnp.stack([obs[f"enemy_{i}"] for i in range(self.num_enemies)])
        actions, memory = jax.vmap(self._heuristic)(jax.random.split(key, self.num_enemies), state.enemy_policy,
                                                    enemy_obs)
        return jnp.where(self._enemy_medivacs(), self._medivac_moves(battle), actions), memory

    def _enemy_medivacs(self) -> jax.Array:
        from mixmo.envs._medivac import MEDIVAC

        return jnp.asarray(ENEMY_TYPES) == MEDIVAC

    def _medivac_moves(self, battle) -> jax.Array:
        """For every enemy unit: the move towards its most damaged teammate (or the team centre)."""
        from mixmo.envs._medivac import HEAL_RANGE, MEDIVAC

        n_allies = self.num_agents
        pos = battle.unit_positions[n_allies:]
        fraction = battle.unit_health[n_allies:] / jnp.asarray(self.unit_max_health[n_allies:])
        mates = battle.unit_alive[n_allies:] & (battle.unit_types[n_allies:] != MEDIVAC)
        hurt = mates & (fraction < 1.0)
        wounded = pos[jnp.argmin(jnp.where(hurt, fraction, jnp.inf))]
        weights = mates.astype(jnp.float32)
        centre = jnp.sum(pos * weights[:, None], axis=0) / jnp.maximum(jnp.sum(weights), 1.0)
        goal = jnp.where(jnp.any(hurt), wounded, centre)
        to_goal = goal[None, :] - pos  # (12, 2)
        directions = jnp.array([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])
        move = jnp.argmax(to_goal @ directions.T, axis=-1)
        near = jnp.linalg.norm(to_goal, axis=-1) <= HEAL_RANGE / 2
        return jnp.where(near | ~jnp.any(mates), self.smax.num_movement_actions - 1, move).astype(jnp.int32)

    def _transition(self, key, state: SMAXState, actions, params) -> Transition:
        k_enemy, k_step = jax.random.split(key)
        smax, n = self.smax, self.num_agents
        with _jaxmarl_numpy():
            enemy_actions, memory = self._enemy_actions(k_enemy, state)
            move, attack = smax._decode_discrete_actions(jnp.concatenate([actions, enemy_actions]))
            zeros = jnp.zeros((smax.num_agents,), jnp.float32)
            before = state.smax.replace(damage_dealt=zeros, damage_taken=zeros, healing_done=zeros)
            _, battle, _, _, _ = smax.step_env_no_decode(k_step, before, (move, attack))
        t = state.t + 1
        alive = battle.unit_alive
        allies_dead = ~jnp.any(alive[:n])
        enemies_dead = ~jnp.any(alive[n:])
        won = enemies_dead & ~allies_dead
        done = allies_dead | enemies_dead | (t >= params.max_steps)
        died = state.smax.unit_alive[:n] & ~alive[:n]
        dealt = battle.damage_dealt[:n]
        if self.reward == "selfish":
            penalty = jnp.asarray(self.unit_max_health[:n], jnp.float32)
            rewards = dealt - params.death_penalty * penalty * died.astype(jnp.float32)
        else:
            lost = battle.damage_taken[n:] / jnp.asarray(self.unit_max_health[n:], jnp.float32)
            team = jnp.sum(lost) / self.num_enemies + jnp.where(won, params.won_bonus, 0.0)
            rewards = jnp.broadcast_to(team, (n,))
        episode_damage = state.episode_damage + dealt
        episode_healing = state.episode_healing + battle.healing_done[:n]
        battle = battle.replace(done=done, step=t)
        infos = {
            "won": jnp.broadcast_to(won, (n,)).astype(jnp.float32),
            "dead": (~alive[:n]).astype(jnp.float32),
            "damage_dealt": episode_damage,
            "healing": episode_healing,
        }
        next_state = SMAXState(battle, memory, t, episode_damage, episode_healing)
        return Transition(next_state, rewards.astype(jnp.float32), done, infos)

    def _observe(self, state: SMAXState) -> jax.Array:
        with _jaxmarl_numpy():
            obs = self.smax.get_obs_unit_list(state.smax)
            units = jnp.stack([obs[f"ally_{i}"] for i in range(self.num_agents)])
        from mixmo.envs._medivac import MAX_ENERGY

        energy = state.smax.unit_energy[: self.num_agents, None] / MAX_ENERGY
        return jnp.concatenate([units, energy], axis=-1).astype(jnp.float32)

    # --- extras: masks, global state, pictures ------------------------------------------------------
    @partial(jax.jit, static_argnums=0)
    def avail_actions(self, state: SMAXState) -> jax.Array:
        """SMAX's available-action masks of the agents: bool ``(num_agents, n_actions)``."""
        with _jaxmarl_numpy():
            masks = self.smax.get_avail_actions(state.smax)
        return jnp.stack([masks[f"ally_{i}"] for i in range(self.num_agents)]).astype(bool)

    def get_avail_actions(self, state: SMAXState) -> dict[str, jax.Array]:
        """JaxMARL's form of ``avail_actions``: a dict keyed by agent name."""
        return self._to_dict(self.avail_actions(state))

    @partial(jax.jit, static_argnums=0)
    def world_state(self, state: SMAXState) -> jax.Array:
        """SMAX's global state plus every unit's energy / 200: float32 ``(world_state_size,)``."""
        from mixmo.envs._medivac import MAX_ENERGY

        with _jaxmarl_numpy():
            world = self.smax.get_world_state(state.smax)
        return jnp.concatenate([world, state.smax.unit_energy / MAX_ENERGY]).astype(jnp.float32)

    @partial(jax.jit, static_argnums=0)
    def _render(self, state: SMAXState) -> jax.Array:
        from mixmo.envs import _smax_render

        return _smax_render.draw(self.smax, state.smax)

    def render(self, state: SMAXState) -> np.ndarray:
        """uint8 RGB picture ``(256, 256, 3)`` of the battle (see ``mixmo.envs._smax_render``)."""
        return np.asarray(self._render(state))


def selfish_mmm2(params: SMAXParams | None = None) -> SMAXCombatEnv:
    """Selfish-MMM2: per-agent selfish rewards, the team's win only in ``infos``."""
    return SMAXCombatEnv("selfish", params)


def mmm2(params: SMAXParams | None = None) -> SMAXCombatEnv:
    """MMM2 with SMAX's shared team reward (for contrast with Selfish-MMM2)."""
    return SMAXCombatEnv("team", params)
