"""Parameter sharing in the recurrent trainer (one network, one player with the agents' mean losses), greedy
evaluation (argmax over the available actions, fresh episodes, each counted once), and the `paper` preset of
`aga-selfish-mmm2` (AgA App. E.2). The small masked Coins of test_recurrent.py keeps compilation short."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from smax_helpers import MaskedCoins

import mixmo
from mixmo import rl
from mixmo.rl._batching import unstack
from mixmo.rl._gru import step_stacked, unroll_stacked
from mixmo.rl._recurrent import recurrent_policy_losses

CONFIG = rl.RecurrentConfig(total_steps=32, num_envs=4, num_steps=8, num_minibatches=2, update_epochs=2,
                            hidden=(8,), critic_hidden=(8,), gru_hidden=8, critic="central")


def _copies(tree, n):
    return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + x.shape[1:]), tree)


def test_shared_policy_trains_as_one_player_with_the_agents_mean_losses():
    env = MaskedCoins()
    trainer = rl.make_recurrent_train(CONFIG, env, mixmo.methods.simul_co(), shared=True)
    assert trainer.players == 1 and trainer.n_agents == 2

    @jax.jit
    def run(key):
        fresh = trainer.init(key)
        h0 = trainer.policy.reset(fresh.carry, fresh.first)
        after, traj, _ = trainer.rollout(fresh, key)
        seq = trainer.advantages(after, traj, h0)
        seq = seq._replace(advantage=seq.advantage + 1.0)  # non-zero advantages: the surrogates matter
        shared_losses = rl.shared_terms(lambda p: recurrent_policy_losses(p, seq, 0.2, 0.01), 2)(unstack(fresh.policy, 1))
        # the same network as two per-agent copies: separate players, per-agent losses, the collective summed
        copies = _copies(fresh.policy, 2)
        separate_losses = recurrent_policy_losses(unstack(copies, 2), seq, 0.2, 0.01)
        x, h = after.obs, jnp.ones_like(after.carry.hidden) * 0.3
        steps = step_stacked(fresh.policy, x, h), step_stacked(copies, x, h)
        first = jnp.swapaxes(seq.first, 0, 1)
        xs, hs = jnp.swapaxes(seq.obs, 0, 2), jnp.swapaxes(seq.h0.hidden, 0, 1)
        unrolls = unroll_stacked(fresh.policy, xs, first, hs), unroll_stacked(copies, xs, first, hs)
        final, metrics = trainer(key)
        return fresh, final, metrics, shared_losses, separate_losses, steps, unrolls

    fresh, final, metrics, (ind, col, aux), (ind2, col2, aux2), steps, unrolls = run(jax.random.key(1))
    # one network, one optimiser state, one critic: leading axis 1 everywhere
    for tree in (final.policy, final.critic, final.policy_opt, final.critic_opt):
        assert all(leaf.shape[0] == 1 for leaf in jax.tree.leaves(tree) if getattr(leaf, "ndim", 0) > 0), tree
    assert final.carry.hidden.shape == (2, CONFIG.num_envs, CONFIG.gru_hidden)  # each agent keeps its own GRU state
    # the one player's losses: the mean over agents (individual, shape (1,)) and the mean of the collective terms
    assert ind.shape == (1,) and ind2.shape == (2,)
    np.testing.assert_allclose(float(ind[0]), float(jnp.mean(ind2)), rtol=1e-6)
    np.testing.assert_allclose(float(col), float(col2) / 2, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(aux[0]), np.asarray(aux2[0]), rtol=1e-6)  # per-agent entropies
    # the shared network broadcast over the agents computes what per-agent copies of it compute
    for shared_out, copies_out in zip(jax.tree.leaves(steps[0]), jax.tree.leaves(steps[1]), strict=True):
        np.testing.assert_allclose(np.asarray(shared_out), np.asarray(copies_out), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(unrolls[0]), np.asarray(unrolls[1]), rtol=1e-6, atol=1e-6)
    # training ran and moved the one network
    assert np.isfinite(np.asarray(metrics.policy_loss)).all() and bool(np.asarray(metrics.finite).all())
    assert not np.allclose(np.asarray(fresh.policy.w_out), np.asarray(final.policy.w_out))


def _dominant(policy, best: int, second: int):
    """`policy` with its head replaced: logits independent of the input, `best` far above `second` above the rest."""
    bias = jnp.zeros_like(policy.b_out).at[..., best].set(50.0).at[..., second].set(20.0)
    return eqx.tree_at(lambda p: (p.w_out, p.b_out), policy, (jnp.zeros_like(policy.w_out), bias))


def test_greedy_evaluation_takes_the_masked_argmax_in_fresh_episodes_counted_once():
    env = MaskedCoins()  # time limit 12 steps; agent_1 may never take action 0
    trainer = rl.make_recurrent_train(CONFIG, env, shared=False)
    policy = jax.jit(trainer.init)(jax.random.key(0)).policy
    evaluate = jax.jit(lambda p, k: rl.greedy_evaluation(env, p, k, 6, 30))

    # a dominant action 0 (second choice 2): agent_0 always takes 0; for agent_1 action 0 is masked, so always 2
    result = evaluate(_dominant(policy, 0, 2), jax.random.key(3))
    actions, counted = np.asarray(result.actions), np.asarray(result.counted)
    assert actions.shape == (30, 2, 6)
    assert (actions[:, 0] == 0).all() and (actions[:, 1] == 2).all()
    # 30 steps hold two 12-step episodes and a part of a third per environment: only the first one counts
    assert float(result.episodes) == 6
    assert counted[:12].all() and not counted[12:].any()
    assert set(result.episode_stats) >= {"episode_return"}

    # a random policy: greedy actions never unavailable, and the same key gives the same episodes (no sampling);
    # another key resets other episodes (fresh starts) and so plays differently
    a = evaluate(policy, jax.random.key(4))
    b = evaluate(policy, jax.random.key(4))
    c = evaluate(policy, jax.random.key(5))
    assert (np.asarray(a.actions)[:, 1] != 0).all()
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    assert not np.array_equal(np.asarray(a.actions), np.asarray(c.actions))
    # the argmax of the masked logits, replayed step by step outside the scan for the first step
    obs, state = jax.vmap(env.reset)(jax.random.split(jax.random.split(jax.random.key(4))[0], 6))
    x = rl.batchify(obs, env.agents)
    logits, _ = step_stacked(policy, x, jnp.zeros((2, 6, CONFIG.gru_hidden)))
    mask = np.asarray(jnp.swapaxes(jax.vmap(env.avail_actions)(state), 0, 1))
    expected = np.argmax(np.where(mask, np.asarray(logits), -np.inf), axis=-1)
    np.testing.assert_array_equal(np.asarray(a.actions)[0], expected)


def test_paper_preset_resolves_to_appendix_e2():
    pytest.importorskip("jaxmarl")
    from mixmo.experiments import get
    from mixmo.experiments.aga import selfish_mmm2

    config, sources = get("aga-selfish-mmm2").resolve(["paper"])
    ppo = config.ppo
    assert config.sharing is True and sources["sharing"].startswith("preset paper (AgA App. E.2")
    assert (ppo.lr, ppo.critic_lr, ppo.ent_coef, ppo.total_steps, ppo.critic) == (5e-4, 5e-4, 0.01, 10_000_000,
                                                                                  "central")
    assert sources["ppo.lr"] == sources["ppo.ent_coef"] == "preset paper (AgA App. E.2)"
    assert config.seeds == 3 and config.aga.lam == 100.0 and config.eval_episodes == 32
    # Simul-Ind stays IPPO (separate policies, local critics); every other method shares one network (MAPPO)
    ids = ("simul-ind", "simul-co", "svo", "sl", "cga", "aga")
    assert [selfish_mmm2.shared(config, m) for m in ids] == [False] + [True] * 5
    assert [selfish_mmm2.recurrent_config(config, m).critic for m in ids] == ["local"] + ["central"] * 5
    default = get("aga-selfish-mmm2").make_config()
    assert not any(selfish_mmm2.shared(default, m) for m in ids) and default.eval_episodes == 32
    # the evaluation's keys are not the training's (split(key(seed), seeds)): fresh episodes
    train_keys = np.asarray(jax.random.key_data(jax.random.split(jax.random.key(config.run.seed), config.seeds)))
    eval_keys = np.asarray(jax.random.key_data(selfish_mmm2.eval_keys(config)))
    assert eval_keys.shape == train_keys.shape == (3, 2)
    assert len({tuple(k) for k in eval_keys}) == 3
    assert not {tuple(k) for k in eval_keys} & {tuple(k) for k in train_keys}
