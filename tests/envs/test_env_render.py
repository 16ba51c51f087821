"""Rendering helpers: GIF rollouts and stills (``mixmo.envs.render``)."""

import jax
import numpy as np
import pytest
from PIL import Image

from mixmo import envs
from mixmo.envs import render


def test_rollout_gif_writes_one_frame_per_state(tmp_path, registered):
    env = registered("coins")
    path = render.rollout_gif(env, jax.random.key(0), 12, tmp_path / "sub" / "coins.gif", upscale=2,
                              annotated=False)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames >= 2 and gif.size == (160, 160)
        frames = []
        for i in range(gif.n_frames):
            gif.seek(i)
            frames.append(np.asarray(gif.convert("RGB")))
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])


def test_rollout_frames_match_render_of_the_states(registered):
    env = registered("trust_your_brother")
    frames = render.rollout_frames(env, jax.random.key(1), 7)
    assert frames.shape == (8, 72, 96, 3) and frames.dtype == np.uint8
    _, first = env.reset(jax.random.split(jax.random.key(1))[0])
    assert np.array_equal(frames[0], env.render(first))


def test_save_png_and_argument_errors(tmp_path, registered):
    env = registered("mini_cleanup")
    path = render.save_png(env, jax.random.key(0), tmp_path / "mini.png", upscale=3)
    with Image.open(path) as png:
        assert png.size == (7 * render.CELL * 3, 7 * render.CELL * 3)
    with pytest.raises(ValueError, match="unknown policy 'greedy'; available: \\['random'\\]"):
        render.rollout_frames(env, jax.random.key(0), 3, policy="greedy")
    with pytest.raises(ValueError, match="upscale must be a positive integer"):
        render.save_png(env, jax.random.key(0), tmp_path / "x.png", upscale=0)


def test_grid_picture_shows_agents_in_their_colours_facing_marks_and_beams(registered, act):
    env = registered("harvest")
    _, state = env.reset(jax.random.key(0))
    frame = env.render(state)
    s = render.CELL
    for i, (r, c) in enumerate(np.asarray(state.pos)):
        cell = frame[r * s : (r + 1) * s, c * s : (c + 1) * s].reshape(-1, 3)
        assert (cell == render.AGENT_COLOURS[i]).all(axis=1).sum() > s  # the agent's body
        assert (cell == render.MARK).all(axis=1).any()  # its facing mark
    fired = env.step_env(jax.random.key(1), state, act(env, *[7] * 5))[1]
    assert (env.render(fired).reshape(-1, 3) == render.FIRE_BEAM).all(axis=1).any()


def test_annotated_frames_keep_the_picture_and_add_a_step_counter_and_a_colour_key(registered):
    env = registered("mini_cleanup")
    frames = render.rollout_frames(env, jax.random.key(0), 3)
    entries = render.legend(env)
    labels = [label for label, _ in entries]
    assert labels[:2] == ["agent 0", "agent 1"] and {"apple", "waste", "river", "cleaning beam"} <= set(labels)
    out = render.annotate(frames, entries)
    height, width = frames.shape[1:3]
    assert out.dtype == np.uint8 and out.shape[0] == 4 and out.shape[1] > height + 20 and out.shape[2] >= width
    assert np.array_equal(out[:, :height, :width], frames)  # the picture itself is untouched
    assert np.array_equal(render.annotate(frames, entries), out)  # pure: the same frames give the same pixels
    panels = out[:, height:]
    assert not np.array_equal(panels[0], panels[1])  # the step counter moves
    counter = 3 + 12  # the first text line of the panel holds the counter; below it, the key is the same
    assert all(np.array_equal(panels[0, counter:], p[counter:]) for p in panels[1:])
    for _, rgb in entries:  # every colour of the key is drawn
        assert (panels[0] == np.asarray(rgb, np.uint8)).all(axis=-1).any(), rgb
    assert [label for label, _ in render.legend(registered("trust_your_brother"))] == ["prey 0", "prey 1",
                                                                                       "predator"]


def test_trained_agents_gifs_carry_the_step_counter_and_the_colour_key(tmp_path):
    """`mixmo.rl.write_gif` (the trained-agent GIFs of aga-cleanup, aga-harvest and aga-selfish-mmm2) is the one
    GIF writer: with a key, each frame is the upscaled picture with the annotation panel beneath it."""
    from PIL import Image

    from mixmo import rl

    env = envs.make("harvest", num_agents=2, max_steps=5)
    frames = np.stack([env.render(env.reset(jax.random.key(i))[1]) for i in range(3)])
    path = rl.write_gif(frames, tmp_path / "a.gif", upscale=2, key=render.legend(env), first_step=4)
    with Image.open(path) as gif:
        assert gif.n_frames == 3
        first = np.asarray(gif.convert("RGB"))
    height, width = 2 * frames.shape[1], 2 * frames.shape[2]
    assert first.shape[0] > height  # the panel beneath the picture
    want = render.annotate(np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2), render.legend(env), 4)[0]
    assert first.shape == want.shape
    plain = rl.write_gif(frames, tmp_path / "b.gif", upscale=2)
    with Image.open(plain) as gif:
        assert np.asarray(gif.convert("RGB")).shape[:2] == (height, width)


def test_trained_agent_rollouts_take_the_policy_as_an_argument():
    """`mixmo.rl.policy_rollout_frames` compiles one program per environment, policy shapes and length: the policy
    is an argument, not constants baked into the program, so another policy of the same shapes reuses it."""
    from mixmo import rl
    from mixmo.rl import _render

    env = envs.make("harvest", num_agents=2, max_steps=5)
    sizes = (int(np.prod(env.observation_space(env.agents[0]).shape)), 4, env.action_space(env.agents[0]).n)
    policies = [rl.stacked_mlps(jax.random.key(i), 2, sizes, 1.0) for i in (0, 1)]
    first = rl.policy_rollout_frames(env, policies[0], jax.random.key(2), 3, greedy=True)
    programs = _render._roll._cache_size()
    second = rl.policy_rollout_frames(env, policies[1], jax.random.key(2), 3, greedy=True)
    assert _render._roll._cache_size() == programs
    assert first.shape == second.shape == (4, *env.render(env.reset(jax.random.key(0))[1]).shape)
    np.testing.assert_array_equal(first[0], second[0])  # the same reset
    np.testing.assert_array_equal(rl.policy_rollout_frames(env, policies[1], jax.random.key(2), 3, greedy=True),
                                  second)  # greedy: the same key gives the same frames
