"""Batchify / stack / minibatch round trips, stacked networks, reward shaping, checkpoints and NaN detection."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mixmo import rl
from mixmo.rl._driver import first_nonfinite

AGENTS = ["agent_0", "agent_1", "agent_2"]


def test_batchify_round_trip_keeps_agent_order():
    per_agent = {a: jnp.full((4, 2), i, jnp.float32) for i, a in enumerate(AGENTS)}
    stacked = rl.batchify(per_agent, AGENTS)
    assert stacked.shape == (3, 4, 2)
    assert [float(stacked[i, 0, 0]) for i in range(3)] == [0.0, 1.0, 2.0]
    back = rl.unbatchify(stacked, AGENTS)
    assert list(back) == AGENTS
    for a in AGENTS:
        np.testing.assert_array_equal(back[a], per_agent[a])
    with pytest.raises(KeyError, match="agent_2"):
        rl.batchify({a: per_agent[a] for a in AGENTS[:2]}, AGENTS)
    with pytest.raises(ValueError, match="3 agents"):
        rl.unbatchify(stacked[:2], AGENTS)


def test_stack_unstack_round_trip():
    tree = {"w": jnp.arange(12.0).reshape(3, 4), "b": jnp.arange(3.0)}
    parts = rl.unstack(tree, 3)
    assert isinstance(parts, tuple) and len(parts) == 3
    np.testing.assert_array_equal(parts[1]["w"], [4.0, 5.0, 6.0, 7.0])
    assert float(parts[2]["b"]) == 2.0
    back = rl.stack(parts)
    jax.tree.map(np.testing.assert_array_equal, back, tree)


def test_shuffled_minibatches_cover_every_sample_once_and_stay_aligned():
    n, samples = 2, 12
    batch = {"x": jnp.arange(n * samples).reshape(n, samples), "y": 10 * jnp.arange(n * samples).reshape(n, samples)}
    mbs = rl.shuffled_minibatches(jax.random.key(3), batch, 4, axis=1)
    assert mbs["x"].shape == (4, n, 3)
    # every sample exactly once per agent, same permutation for every leaf and agent
    np.testing.assert_array_equal(np.sort(np.asarray(mbs["x"][:, 0]).ravel()), np.arange(samples))
    np.testing.assert_array_equal(mbs["y"], 10 * mbs["x"])
    np.testing.assert_array_equal(mbs["x"][:, 1], mbs["x"][:, 0] + samples)
    assert not np.array_equal(np.asarray(mbs["x"][:, 0]).ravel(), np.arange(samples))  # actually shuffled
    with pytest.raises(ValueError, match="do not split"):
        rl.shuffled_minibatches(jax.random.key(0), batch, 5, axis=1)


def test_stacked_mlps_are_independent_and_match_per_agent_calls():
    nets = rl.stacked_mlps(jax.random.key(0), 3, (6, 5, 4), head_scale=1.0)
    assert nets.weights[0].shape == (3, 6, 5) and nets.biases[1].shape == (3, 4)
    assert not np.allclose(nets.weights[0][0], nets.weights[0][1])
    x = jax.random.uniform(jax.random.key(1), (3, 7, 2, 3))  # (agents, batch, obs...) flattened to 6
    out = rl.apply_stacked(nets, x)
    assert out.shape == (3, 7, 4)
    for i in range(3):
        net_i = jax.tree.map(lambda leaf, i=i: leaf[i], nets)
        h = np.maximum(np.asarray(x[i]).reshape(7, 6) @ np.asarray(net_i.weights[0]) + np.asarray(net_i.biases[0]), 0)
        np.testing.assert_allclose(out[i], h @ np.asarray(net_i.weights[1]) + np.asarray(net_i.biases[1]), rtol=1e-5)
    assert jax.tree.leaves(nets) == list(nets.weights) + list(nets.biases)  # arrays only: methods can differentiate


def test_policy_head_starts_near_uniform():
    net = rl.mlp(jax.random.key(0), (50, 16, 9), head_scale=0.01)
    logits = net(jax.random.bernoulli(jax.random.key(1), 0.3, (32, 50)).astype(jnp.uint8))
    probs = jax.nn.softmax(logits)
    assert float(jnp.max(jnp.abs(probs - 1 / 9))) < 0.01


def test_sl_shaping_by_hand():
    rewards = jnp.array([[1.0, 0.0], [0.0, -1.0], [2.0, 0.0]])  # (agents, envs)
    shaped = rl.sl(0.5).apply((), rewards, jnp.zeros_like(rewards))
    np.testing.assert_allclose(shaped, [[2.5, -0.5], [1.5, -1.5], [3.5, -0.5]])


def test_svo_shaping_by_hand():
    rewards = jnp.array([[1.0], [0.0], [0.0]])
    returns = jnp.array([[2.0], [1.0], [0.0]])
    shaped = rl.svo(0.3, 45.0).apply((), rewards, returns)
    theta = [math.atan2(0.5, 2.0), math.atan2(1.0, 1.0), math.atan2(1.5, 0.0)]
    want = [r - 0.3 * abs(math.pi / 4 - t) for r, t in zip([1.0, 0.0, 0.0], theta)]
    np.testing.assert_allclose(np.asarray(shaped)[:, 0], want, rtol=1e-6)
    # all-zero returns: the angle is taken as 45 degrees, no penalty
    np.testing.assert_allclose(rl.svo(0.3).apply((), rewards, jnp.zeros_like(returns)), rewards)
    with pytest.raises(ValueError, match="weight"):
        rl.svo(-1.0)


def test_checkpoint_round_trip(tmp_path):
    state = {"w": jnp.arange(6.0).reshape(2, 3), "flag": jnp.array([True, False]), "n": jnp.int32(7)}
    metrics = {"policy_loss": np.arange(4.0).reshape(2, 2)}
    rl.save_checkpoint(tmp_path / "ck", state, {"updates": 3}, metrics)
    newer = {**state, "w": state["w"] + 1, "n": state["n"] + 1}
    rl.save_checkpoint(tmp_path / "ck", newer, {"updates": 4}, metrics)  # replaces the first
    like = jax.tree.map(jnp.zeros_like, state)
    loaded, meta, back = rl.load_checkpoint(tmp_path / "ck", like)
    assert meta == {"updates": 4}
    np.testing.assert_array_equal(loaded["w"], state["w"] + 1)
    assert int(loaded["n"]) == 8 and loaded["flag"].tolist() == [True, False]
    np.testing.assert_array_equal(back["policy_loss"], metrics["policy_loss"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no staging leftovers
    with pytest.raises(FileNotFoundError):
        rl.load_checkpoint(tmp_path / "missing", like)


def test_first_nonfinite_names_the_earliest_update_and_the_cause():
    ok = np.ones((2, 3))
    metrics = {k: ok.copy() for k in ("policy_loss", "collective_loss", "value_loss", "direction_norm")}
    metrics["finite"] = np.ones((2, 3), bool)
    assert first_nonfinite(metrics) is None
    metrics["finite"][1, 1] = False
    metrics["value_loss"][1, 2] = np.inf
    assert first_nonfinite(metrics) == (1, 1, "network parameters")
    metrics["policy_loss"][0, 1] = np.nan
    assert first_nonfinite(metrics) == (1, 0, "policy loss")


def test_sigterm_during_training_is_deferred_to_the_segment_end():
    import os
    import signal

    from mixmo.rl._driver import _InterruptGuard

    before = signal.getsignal(signal.SIGTERM)
    with _InterruptGuard() as guard:
        os.kill(os.getpid(), signal.SIGTERM)  # would end the process without the guard
        assert guard.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_wandb_logger_namespaces_metrics(tmp_path, monkeypatch):
    import types

    from mixmo.experiments.rl_common import log_segment
    from mixmo.experiments.aga.ssd import ENV_STATS

    calls = []

    class Run:
        def log(self, scalars, step):
            calls.append(("log", step, scalars))

        def finish(self):
            calls.append(("finish",))

    fake = types.SimpleNamespace(init=lambda **kwargs: calls.append(("init", kwargs)) or Run())
    monkeypatch.setitem(__import__("sys").modules, "wandb", fake)
    rl.check_loggers(["wandb"])
    (logger,) = rl.make_loggers(["wandb"], tmp_path, "cleanup")
    logger.start("aga", {"lam": 100.0})
    seeds, updates, n = 2, 2, 2
    segment = {k: np.ones((seeds, updates)) for k in ("policy_loss", "collective_loss", "value_loss", "entropy",
                                                       "approx_kl", "direction_norm")}
    segment["episodes"] = np.array([[0.0, 2.0], [0.0, 2.0]])
    segment["stat/episode_return"] = np.zeros((seeds, updates, n))
    segment["stat/episode_return"][:, 1] = [[4.0, 2.0], [2.0, 0.0]]  # per seed, summed over 2 episodes each
    for name in ENV_STATS["cleanup"]:
        segment[f"stat/{name}"] = np.ones((seeds, updates, n))
    log_segment([logger], rl.PPOConfig(num_envs=2, num_steps=8, total_steps=16).batch_steps,
                ENV_STATS["cleanup"])(segment, 10)
    logger.finish()
    init = calls[0][1]
    assert init["group"] == "cleanup" and init["name"] == "cleanup/aga" and init["config"] == {"lam": 100.0}
    (_, step_a, first), (_, step_b, second) = calls[1], calls[2]
    assert (step_a, step_b) == (11 * 16, 12 * 16)  # env steps per seed
    assert "train/return_0" not in first and first["loss/policy"] == 1.0  # no episode ended in that update
    assert second["train/return_0"] == pytest.approx(1.5) and second["train/return_1"] == pytest.approx(0.5)
    assert second["train/social_welfare"] == pytest.approx(2.0)
    assert second["train/cleaning_actions"] == pytest.approx(1.0)  # (2 agents x 2 seeds x 1) / 4 episodes
    assert calls[-1] == ("finish",)
