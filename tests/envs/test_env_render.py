"""Rendering helpers: GIF rollouts and stills (``mixmo.envs.render``)."""

import jax
import numpy as np
import pytest
from PIL import Image

from mixmo.envs import render


def test_rollout_gif_writes_one_frame_per_state(tmp_path, registered):
    env = registered("coins")
    path = render.rollout_gif(env, jax.random.key(0), 12, tmp_path / "sub" / "coins.gif", upscale=2)
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
