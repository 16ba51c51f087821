"""Selfish-MMM2's rewards and episode ends: r_i = health agent i's attacks removed from enemies, minus
beta * (own max health) once at death (AgA paper appendix E.2; the penalty size is mixmo's choice); the
team's win only in infos; episodes end on a win, a loss or the time limit. MMM2 keeps SMAX's team reward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from smax_helpers import actions, arrange
from mixmo.envs import make

# ally Marine agent_3 at (10, 16); enemy Marine (unit 14 = enemy index 4, attack action 5 + 4) 3 units away
MARINE, ENEMY_MARINE, ATTACK_ENEMY_MARINE = 3, 14, 9


def test_selfish_reward_is_the_damage_the_agent_dealt(selfish_env):
    state = arrange(selfish_env, {MARINE: ((10.0, 16.0), 45.0), 8: ((10.0, 12.0), 45.0),
                                  ENEMY_MARINE: ((13.0, 16.0), 45.0), 21: ((28.0, 28.0), 45.0)})
    _, after, rewards, dones, infos = selfish_env.step_env(
        jax.random.key(0), state, actions(selfish_env, {MARINE: ATTACK_ENEMY_MARINE}))
    lost = float(state.smax.unit_health[ENEMY_MARINE] - after.smax.unit_health[ENEMY_MARINE])
    assert lost > 0 and lost % 9.0 == 0.0  # whole Marine shots of 9
    assert float(rewards["agent_3"]) == lost
    assert float(infos["damage_dealt"][MARINE]) == lost
    # the other Marine (agent_8) stood still and was not attacked: nothing; nobody else either
    assert all(float(rewards[a]) == 0.0 for a in selfish_env.agents if a != "agent_3")
    assert not bool(dones["__all__"]) and float(infos["won"][0]) == 0.0


def test_death_penalty_is_paid_once(selfish_env):
    # agent_3 at 1 HP beside two enemy Marines that shoot it
    state = arrange(selfish_env, {MARINE: ((10.0, 16.0), 1.0), 8: ((4.0, 4.0), 45.0),
                                  14: ((11.0, 16.0), 45.0), 15: ((11.0, 17.0), 45.0)})
    _, state, rewards, dones, infos = selfish_env.step_env(jax.random.key(0), state, actions(selfish_env))
    assert float(rewards["agent_3"]) == -45.0  # beta = 1 times a Marine's maximum health
    assert float(infos["dead"][MARINE]) == 1.0 and not bool(dones["__all__"])
    _, state, rewards, _, _ = selfish_env.step_env(jax.random.key(1), state, actions(selfish_env))
    assert float(rewards["agent_3"]) == 0.0


def test_win_ends_the_episode_and_is_reported_not_rewarded(selfish_env):
    # the last enemy, a Marine at 5 HP, beside agent_3 who shoots it
    state = arrange(selfish_env, {MARINE: ((10.0, 16.0), 45.0), ENEMY_MARINE: ((12.0, 16.0), 5.0)})
    _, _, rewards, dones, infos = selfish_env.step_env(
        jax.random.key(0), state, actions(selfish_env, {MARINE: ATTACK_ENEMY_MARINE}))
    assert bool(dones["__all__"]) and np.all(np.asarray(infos["won"]) == 1.0)
    assert float(rewards["agent_3"]) == 5.0  # the health it removed (overkill not counted), no win bonus


def test_loss_and_time_limit_end_the_episode_without_a_win(selfish_env):
    state = arrange(selfish_env, {MARINE: ((10.0, 16.0), 1.0), 14: ((11.0, 16.0), 45.0)})
    _, _, _, dones, infos = selfish_env.step_env(jax.random.key(0), state, actions(selfish_env))
    assert bool(dones["__all__"]) and float(infos["won"][0]) == 0.0
    _, state = selfish_env.reset(jax.random.key(0))
    limit = selfish_env.default_params.max_steps
    assert limit == 180  # SMAC's MMM2
    state = state._replace(t=state.t + limit - 4)  # everybody stands still, out of range: only time passes
    ends = []
    for k in jax.random.split(jax.random.key(1), 4):
        _, state, _, dones, infos = selfish_env.step_env(k, state, actions(selfish_env))
        ends.append(bool(dones["__all__"]))
    assert ends == [False] * 3 + [True] and float(infos["won"][0]) == 0.0


def test_mmm2_gives_every_agent_smax_team_reward():
    env = make("mmm2")
    state = arrange(env, {MARINE: ((10.0, 16.0), 45.0), ENEMY_MARINE: ((12.0, 16.0), 5.0)})
    _, _, rewards, dones, infos = env.step_env(jax.random.key(0), state, actions(env, {MARINE: ATTACK_ENEMY_MARINE}))
    expected = 5.0 / 45.0 / 12 + 1.0  # normalised damage over the 12 enemies, plus the win bonus
    assert all(float(rewards[a]) == pytest.approx(expected) for a in env.agents)
    assert all(rewards[a].shape == () and rewards[a].dtype == jnp.float32 for a in env.agents)
    assert bool(dones["__all__"]) and float(infos["won"][0]) == 1.0


def test_bad_options_are_refused_naming_the_fix():
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        make("selfish_mmm2", max_steps=0)
    with pytest.raises(ValueError, match="has no option colour"):
        make("mmm2", colour="red")
