"""Helpers shared by the RL tests: tiny command-line settings and a real whole-rollout batch."""

import jax

from mixmo import rl

TINY = ["--set", "num_agents=2", "--set", "max_steps=16", "--set", "ppo.num_envs=2", "--set", "ppo.num_steps=8",
        "--set", "ppo.num_minibatches=2", "--set", "ppo.update_epochs=1", "--set", "ppo.hidden=8", "--set", "ppo.critic_hidden=8",
        "--set", "seeds=2", "--set", "gif_steps=0", "--quiet"]


def tiny_batch(config, env):
    """A real state, rollout (key 1) and whole-rollout batch of a fresh trainer (key 0) for `config` on `env`."""
    trainer = rl.make_train(config, env)
    state = jax.jit(trainer.init)(jax.random.key(0))
    state, traj, _ = jax.jit(trainer.rollout)(state, jax.random.key(1))
    return state, traj, jax.jit(trainer.advantages)(state, traj)


def fresh_trainers(monkeypatch) -> None:
    """For tests that patch a trainer builder: the experiments' trainer reuse (`rl_common.TRAINERS`) starts empty
    for the test and forgets what it built when the test ends, so no patched trainer outlives the test and no
    trainer built before it escapes the patch."""
    from mixmo.experiments import rl_common

    monkeypatch.setattr(rl_common, "TRAINERS", type(rl_common.TRAINERS)())


def poison_update(monkeypatch, update: int) -> None:
    """Fault injection for NaN-stop tests: every trainer `mixmo.rl.make_train` builds while the test runs steps a
    NaN policy direction from update `update` (1-based) on. A `GameMethod` wrapper that counts its calls (one per
    minibatch step), so nothing of it lives in the library's configs."""
    import jax.numpy as jnp

    from mixmo.methods import GameMethod

    real = rl.make_train

    def poisoned(method, steps_per_update):
        def init(params):
            return method.init(params), jnp.zeros((), jnp.int32)

        def step(losses, params, state):
            inner, calls = state
            direction, inner = method.update(losses, params, inner)
            scale = jnp.where(calls // steps_per_update + 1 >= update, jnp.nan, 1.0)
            return jax.tree.map(lambda d: d * scale, direction), (inner, calls + 1)

        return GameMethod(init, step)

    def make_train(config, env, method=None, *args, **kwargs):
        from mixmo.methods import simul_ind

        steps = config.update_epochs * config.num_minibatches
        return real(config, env, poisoned(method or simul_ind(), steps), *args, **kwargs)

    fresh_trainers(monkeypatch)
    monkeypatch.setattr(rl, "make_train", make_train)
