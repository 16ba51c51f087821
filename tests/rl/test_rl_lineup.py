"""The RL experiments' line-ups: every run id builds the trainer its experiment describes (method, reward transform,
sharing, collective reward, diagnostics), checked without compiling a trainer.

The command-line runs in test_cli_rl.py and test_cli_d3c_rl.py use the smoke line-ups (their programs come from the
compilation cache); this is where the other run ids are checked. A trainer's method is identified by its direction
on a small non-separable game, compared with the method built directly."""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixmo import envs, methods, rl
from mixmo.experiments import get, rl_common
from mixmo.experiments.aga import ssd
from mixmo.experiments.d3c import rl as d3c_rl
from mixmo.game import StructuredLosses

PARAMS = (jnp.array([0.3, -0.2]), jnp.array([0.1, 0.5]))


def _individual(p):
    cross = p[0] @ p[1]
    return jnp.stack([cross + p[0] @ p[0] + jnp.sin(p[0][0] * p[1][1]), -cross + 0.5 * p[1] @ p[1]])


LOSSES = StructuredLosses(individual=_individual, collective=lambda p: jnp.sum(_individual(p)) + p[0] @ p[1])


def direction(method):
    out, _ = method.update(LOSSES, PARAMS, method.init(PARAMS))
    return np.concatenate([np.asarray(x) for x in out])


def same_method(a, b) -> bool:
    return np.array_equal(direction(a), direction(b))


@pytest.fixture(scope="module")
def cleanup():
    config = get("aga-cleanup").make_config(overrides={"methods": "simul-ind,simul-co,svo,sl,cga,aga",
                                                       "aga.extra_lams": "1", "fairness_alpha": "0.5"})
    return config, envs.make("cleanup", num_agents=2, max_steps=16)


@pytest.mark.parametrize("run_id, method, reward, fair, diagnose", [
    ("simul-ind", methods.simul_ind(), None, False, False),
    ("simul-co", methods.simul_co(), None, False, False),
    ("svo", methods.simul_ind(), "svo", False, False),
    ("sl", methods.simul_ind(), "sl", False, False),
    ("cga", methods.cga(1.0), None, True, True),
    ("aga", methods.aga(100.0), None, True, True),
    ("aga@1", methods.aga(1.0), None, True, True),
])
def test_ssd_run_ids_build_their_trainers(cleanup, run_id, method, reward, fair, diagnose):
    config, env = cleanup
    trainer = ssd.make_trainer(run_id, config, env)
    assert same_method(trainer.method, method), run_id
    assert not same_method(trainer.method, methods.aga(3.0))  # the check tells methods apart
    assert (trainer.reward.name if trainer.reward.name != "none" else None) == reward
    assert trainer.shared == (config.sharing and run_id != "simul-ind")
    assert (trainer.collective_reward is not None) == fair
    assert trainer.diagnose == diagnose


def test_ssd_paper_preset_shares_and_uses_the_e1_svo():
    config = get("aga-cleanup").make_config(presets=["paper"])
    env = envs.make("cleanup", num_agents=2, max_steps=16)
    assert ssd.make_trainer("simul-co", config, env).shared and not ssd.make_trainer("simul-ind", config, env).shared
    svo = ssd.make_trainer("svo", config, env).reward
    rewards, returns = jnp.array([[1.0], [0.0]]), jnp.array([[3.0], [1.0]])
    expected = rl.svo_e1(config.svo.weight).apply((), rewards, returns)
    assert np.array_equal(svo.apply(svo.init(None, 2), rewards, returns), expected)


class _Mixing(NamedTuple):
    state: Any


class _A2CStates(NamedTuple):  # where the D3C-RL experiments' A2C trainer keeps the mixer's state
    mixing: _Mixing


class _ReinforceStates(NamedTuple):  # and Trust-Your-Brother's REINFORCE trainer
    mix_state: Any


@pytest.mark.parametrize("name", ["d3c-coins", "d3c-cleanup", "d3c-trust-your-brother"])
def test_d3c_runs_share_one_trainer_and_the_baselines_mix_as_their_fixed_matrices(name):
    """The three methods train one trainer, D3C's; a baseline's `start` sets its matrix with learning off, so its
    rewards are mixed exactly as `rl.selfish()` / `rl.cooperative()` mix them, before and after an update."""
    from mixmo.experiments.d3c import tyb

    config = get(name).make_config()
    if name == "d3c-trust-your-brother":
        module, env = tyb, rl_common.environment("trust_your_brother")
        wrap, unwrap = _ReinforceStates, lambda states: states.mix_state
        assert tyb.make_trainer("d3c@iteration=episode", config, env) is not tyb.make_trainer("d3c", config, env)
    else:
        module, env = d3c_rl, envs.make(name.removeprefix("d3c-"), max_steps=16)
        wrap, unwrap = (lambda state: _A2CStates(_Mixing(state))), (lambda states: states.mixing.state)
        assert same_method(d3c_rl.make_trainer("d3c", config, env).method, methods.simul_ind())
    trainer = module.make_trainer("d3c", config, env)
    assert all(module.make_trainer(m, config, env) is trainer for m in ("selfish", "cooperative"))
    assert trainer.reward.name == "d3c" and module.start("d3c") is None
    n, mixer = env.num_agents, trainer.reward
    seeds = jax.vmap(lambda k: mixer.init(k, n))(jax.random.split(jax.random.key(0), 2))
    rewards = jnp.arange(n * 3, dtype=jnp.float32).reshape(n, 3) - 2.0
    for run_id, baseline in (("selfish", rl.selfish()), ("cooperative", rl.cooperative())):
        fixed = unwrap(module.start(run_id)(wrap(seeds)))
        want = baseline.apply(baseline.init(None, n), rewards, rewards)
        for seed in range(2):
            state = jax.tree.map(lambda x, s=seed: x[s], fixed)
            assert not bool(state.learning)
            for _ in range(config.d3c.tau_max + 2):  # past the longest trial: trials end and start, the matrix stays
                np.testing.assert_array_equal(mixer.apply(state, rewards, rewards), want)
                np.testing.assert_array_equal(mixer.rows(state), baseline.rows(baseline.init(None, n)))
                state = mixer.update(state, jnp.arange(n, dtype=jnp.float32) * 5.0 - 7.0)
    learning = jax.tree.map(lambda x: x[0], seeds)
    assert bool(learning.learning) and not np.array_equal(mixer.apply(learning, rewards, rewards), rewards)


def test_diagnostics_can_be_switched_off(cleanup):
    config, env = cleanup
    off = get("aga-cleanup").make_config(overrides={"diagnostics": "false"})
    assert ssd.make_trainer("aga", config, env).diagnose and not ssd.make_trainer("aga", off, env).diagnose
    assert same_method(ssd.make_trainer("aga", off, env).method, methods.aga(100.0))


def test_runs_that_differ_only_in_how_they_are_driven_share_their_trainers(monkeypatch):
    """`rl_common.reused`: seeds, the `run.*` settings and the GIF do not change a trainer, so such runs get the same
    trainer object (and its compiled programs) back; a trainer setting builds a new one, and a builder never sees
    the driving settings (it gets their defaults), so it cannot depend on them."""
    from dataclasses import replace

    monkeypatch.setattr(rl_common, "TRAINERS", type(rl_common.TRAINERS)())
    experiment = get("aga-cleanup")
    config = experiment.make_config(presets=["smoke"])
    env = rl_common.environment("cleanup", num_agents=config.num_agents, max_steps=config.max_steps)
    first = ssd.make_trainer("aga", config, env)
    driven = experiment.make_config(presets=["smoke"], overrides={"seeds": "5", "gif_steps": "7", "run.seed": "3",
                                                                  "run.checkpoint_every": "2", "run.window": "0.5"})
    assert ssd.make_trainer("aga", driven, env) is first
    assert ssd.make_trainer("aga", replace(config, ppo=replace(config.ppo, lr=1e-3)), env) is not first
    assert ssd.make_trainer("simul-ind", config, env) is not first
    # Trust-Your-Brother's seed, segments and window are the same `run.*` settings
    from mixmo.experiments.d3c import tyb

    prey = rl_common.environment("trust_your_brother")
    base = tyb.make_trainer("d3c", get("d3c-trust-your-brother").make_config(), prey)
    again = get("d3c-trust-your-brother").make_config(overrides={"seeds": "5", "run.seed": "3",
                                                                 "run.checkpoint_every": "7", "run.window": "0.5"})
    assert tyb.make_trainer("d3c", again, prey) is base
    seen = []
    monkeypatch.setattr(rl_common, "TRAINERS", type(rl_common.TRAINERS)())
    spy = rl_common.reused(lambda run_id, config, env: seen.append(config))
    spy("aga", driven, env)
    assert (seen[0].seeds, seen[0].gif_steps, seen[0].run) == (3, 200, rl_common.RunSettings())
