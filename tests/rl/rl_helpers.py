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
