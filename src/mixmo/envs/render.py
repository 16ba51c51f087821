"""Pictures and animations of environment states.

Every environment has ``render(state) -> uint8 (H, W, 3)``; this module holds the shared
drawing code (pure ``jnp``, so whole rollouts render under ``vmap``) and the helpers the
``mixmo render`` command uses:

- ``rollout_frames(env, key, steps, policy="random")``: the frames of one rollout;
- ``legend(env)``: what the colours of its pictures mean; ``annotate(frames, legend)``: each frame with a
  step counter and that legend beneath it (pure: arrays in, arrays out);
- ``rollout_gif(env, key, steps, path, policy="random", fps=8)``: write annotated frames as a GIF;
- ``save_png(env, key, path)``: the first frame as a PNG.

Colours follow the original SSD renderer in spirit (green apples, brown waste, blue river,
yellow penalty beam, cyan cleaning beam); each agent has its own colour and a white mark
on the side it faces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

CELL = 8  # pixels per grid cell

FLOOR = (24, 24, 24)
ORCHARD = (34, 44, 34)  # an apple spawn cell without an apple
WALL = (120, 120, 130)
APPLE = (40, 200, 60)
WASTE = (130, 85, 40)
RIVER = (40, 100, 210)
STREAM = (30, 60, 150)
FIRE_BEAM = (250, 230, 60)
CLEAN_BEAM = (120, 250, 250)
TABLE = (110, 70, 40)
PREDATOR = (220, 50, 50)  # Trust-Your-Brother
PREY = np.array([(30, 60, 200), (120, 190, 255)], np.uint8)
MARK = (255, 255, 255)
AGENT_COLOURS = np.array(
    [
        (230, 60, 60), (60, 120, 255), (250, 160, 30), (200, 80, 220), (240, 240, 90),
        (60, 220, 220), (255, 130, 180), (160, 110, 60), (150, 230, 120), (180, 180, 255),
    ],
    dtype=np.uint8,
)


def _colour(rgb) -> jax.Array:
    return jnp.asarray(rgb, jnp.uint8)


def _fill(img: jax.Array, mask: jax.Array, rgb) -> jax.Array:
    return jnp.where(mask[..., None], _colour(rgb), img)


def _upscale(cells: jax.Array, scale: int) -> jax.Array:
    return jnp.repeat(jnp.repeat(cells, scale, axis=0), scale, axis=1)


def _sprite_masks(scale: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cell pixel masks: agent body, coin disc, and facing marks ``(4, s, s)``."""
    py, px = np.indices((scale, scale))
    m = max(scale // 8, 1)
    body = (py >= m) & (py < scale - m) & (px >= m) & (px < scale - m)
    centre = (scale - 1) / 2
    disc = (py - centre) ** 2 + (px - centre) ** 2 <= (scale / 3.2) ** 2
    thick, lo, hi = max(scale // 4, 1), scale // 4, scale - scale // 4
    mid_x, mid_y = (px >= lo) & (px < hi), (py >= lo) & (py < hi)
    marks = np.stack(
        [
            (py >= m) & (py < m + thick) & mid_x,  # up
            (px < scale - m) & (px >= scale - m - thick) & mid_y,  # right
            (py < scale - m) & (py >= scale - m - thick) & mid_x,  # down
            (px >= m) & (px < m + thick) & mid_y,  # left
        ]
    )
    return body, disc, marks


def draw_tokens(
    img: jax.Array,
    shape: tuple[int, int],
    pos: jax.Array,
    colours: jax.Array,
    scale: int,
    *,
    direction: jax.Array | None = None,
    disc: bool = False,
) -> jax.Array:
    """Draw one square (or disc) per row of ``pos`` ``(N, 2)`` in ``colours`` ``(N, 3)``.

    With ``direction`` ``(N,)``, each square gets a white mark on the side it faces.
    Later tokens are drawn over earlier ones.
    """
    body, circle, marks = _sprite_masks(scale)
    sprite = jnp.asarray(circle if disc else body)
    n = pos.shape[0]
    # which token covers each cell (the last one wins), -1 for none
    idx = jnp.full(shape, -1, jnp.int32).at[pos[:, 0], pos[:, 1]].max(jnp.arange(n, dtype=jnp.int32))
    pix_idx = _upscale(idx, scale)
    tiled = lambda m: jnp.tile(jnp.asarray(m), shape)  # noqa: E731
    safe = jnp.maximum(pix_idx, 0)
    img = jnp.where((tiled(sprite) & (pix_idx >= 0))[..., None], colours[safe], img)
    if direction is not None:
        d = direction[safe]
        py, px = np.indices((shape[0] * scale, shape[1] * scale))
        mark = jnp.asarray(marks)[d, py % scale, px % scale] & (pix_idx >= 0)
        img = _fill(img, mark, MARK)
    return img


def grid_image(layout, state, scale: int = CELL) -> jax.Array:
    """Picture of a Cleanup / Harvest state (``_dilemma.GridState``)."""
    h, w = layout.shape
    img = jnp.broadcast_to(_colour(FLOOR), (h, w, 3))
    img = _fill(img, jnp.asarray(layout.apple_spawn), ORCHARD)
    img = _fill(img, jnp.asarray(layout.stream), STREAM)
    img = _fill(img, jnp.asarray(layout.waste_spawn), RIVER)
    img = _fill(img, state.waste, WASTE)
    img = _fill(img, state.apples, APPLE)
    img = _fill(img, jnp.asarray(layout.walls), WALL)
    img = _fill(img, state.clean_beam, CLEAN_BEAM)
    img = _fill(img, state.fire_beam, FIRE_BEAM)
    colours = jnp.asarray(AGENT_COLOURS)[jnp.arange(state.pos.shape[0]) % len(AGENT_COLOURS)]
    return draw_tokens(_upscale(img, scale), (h, w), state.pos, colours, scale, direction=state.direction)


_POLICIES = ("random",)


def _policy_actions(env: Any, key: jax.Array, policy: str) -> dict[str, jax.Array]:
    keys = jax.random.split(key, env.num_agents)
    return {a: env.action_space(a).sample(k) for a, k in zip(env.agents, keys)}


def rollout_frames(env: Any, key: jax.Array, steps: int, policy: str = "random") -> np.ndarray:
    """Frames of a rollout from a reset: uint8 ``(steps + 1, H, W, 3)``.

    Args:
        env: a mixmo environment (anything from ``mixmo.envs.make``).
        key: PRNG key for the reset, the policy and the dynamics.
        steps: number of steps after the reset (episodes auto-reset on the way).
        policy: ``"random"`` (uniform actions) — the only policy for now.
    """
    if policy not in _POLICIES:
        raise ValueError(f"unknown policy {policy!r}; available: {list(_POLICIES)}.")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}.")
    key_reset, key_run = jax.random.split(key)
    _, state = env.reset(key_reset)

    def one(state, k):
        k_act, k_step = jax.random.split(k)
        _, state, _, _, _ = env.step(k_step, state, _policy_actions(env, k_act, policy))
        return state, state

    _, states = jax.lax.scan(one, state, jax.random.split(key_run, steps))
    states = jax.tree.map(lambda first, rest: jnp.concatenate([first[None], rest]), state, states)
    return np.stack([env.render(jax.tree.map(lambda x: x[i], states)) for i in range(steps + 1)])


LegendEntry = tuple[str, tuple[int, int, int]]


def legend(env: Any) -> list[LegendEntry]:
    """What the colours of ``env``'s pictures mean: ``[(label, rgb), ...]``, agents first."""
    kind = type(env).__name__
    if kind == "TrustYourBrotherEnv":
        return [(f"prey {i}", tuple(int(c) for c in rgb)) for i, rgb in enumerate(PREY)] + [("predator", PREDATOR)]
    if kind == "SMAXCombatEnv":
        from mixmo.envs._medivac import MARAUDER, MEDIVAC
        from mixmo.envs._smax_render import ALLY, ENEMY

        return [(f"{side} {unit}", tuple(table[k])) for side, table in (("ally", ALLY), ("enemy", ENEMY))
                for unit, k in (("Marine", "other"), ("Marauder", MARAUDER), ("Medivac", MEDIVAC))]
    agents = [(f"agent {i}", tuple(int(c) for c in AGENT_COLOURS[i % len(AGENT_COLOURS)]))
              for i in range(int(getattr(env, "num_agents", 0)))]
    if kind == "CleanupEnv":
        return agents + [("apple", APPLE), ("waste", WASTE), ("river", RIVER), ("penalty beam", FIRE_BEAM),
                         ("cleaning beam", CLEAN_BEAM), ("wall", WALL)]
    if kind == "HarvestEnv":
        return agents + [("apple", APPLE), ("penalty beam", FIRE_BEAM), ("wall", WALL)]
    if kind in ("CoinsEnv", "CoinGameEnv"):
        return agents + [("disc: a coin of that colour", MARK)]
    return agents


def annotate(frames: np.ndarray, entries: list[LegendEntry], first_step: int = 0) -> np.ndarray:
    """Each frame with a panel beneath it: "step k / N" and a colour key of `entries` (pure; frames
    ``(T, H, W, 3)`` uint8 in, ``(T, H', W', 3)`` out, the picture unchanged at the top left)."""
    from PIL import Image, ImageDraw, ImageFont

    frames = np.asarray(frames)
    count, height, width = frames.shape[:3]
    font = ImageFont.load_default()
    line = 12
    panel_width = max(width, 180)
    # lay the key out in rows that fit the width
    rows, x = [[]], 0
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    for label, rgb in entries:
        item = 12 + int(probe.textlength(label, font=font)) + 10
        if rows[-1] and x + item > panel_width - 4:
            rows.append([])
            x = 0
        rows[-1].append((x, label, rgb))
        x += item
    panel = line * (1 + len(rows)) + 6
    base = Image.new("RGB", (panel_width, height + panel), FLOOR)
    draw = ImageDraw.Draw(base)
    for r, row in enumerate(rows):
        y = height + 3 + line * (1 + r)
        for x, label, rgb in row:
            draw.rectangle([x + 4, y + 2, x + 12, y + 10], fill=tuple(int(c) for c in rgb), outline=MARK)
            draw.text((x + 16, y), label, fill=MARK, font=font)
    key = np.asarray(base)
    out = np.repeat(key[None], count, axis=0)
    out[:, :height, :width] = frames
    last = first_step + count - 1
    for t in range(count):
        image = Image.fromarray(out[t])
        ImageDraw.Draw(image).text((4, height + 3), f"step {first_step + t} / {last}", fill=MARK, font=font)
        out[t] = np.asarray(image)
    return out


def _enlarge(frame: np.ndarray, upscale: int) -> np.ndarray:
    if upscale < 1:
        raise ValueError(f"upscale must be a positive integer, got {upscale}.")
    return np.repeat(np.repeat(frame, upscale, axis=-3), upscale, axis=-2)


def rollout_gif(
    env: Any,
    key: jax.Array,
    steps: int,
    path: str | Path,
    policy: str = "random",
    fps: int = 8,
    upscale: int = 1,
    annotated: bool = True,
) -> Path:
    """Write an animated GIF of a rollout (see ``rollout_frames``); returns the path.

    ``upscale`` enlarges every pixel to an ``upscale x upscale`` block; ``annotated`` adds the step counter and
    the colour key beneath each frame (``annotate``).
    """
    frames = rollout_frames(env, key, steps, policy)
    return write_gif(frames, path, fps=fps, upscale=upscale, key=legend(env) if annotated else None)


def write_gif(frames: np.ndarray, path: str | Path, fps: int = 8, upscale: int = 1,
              key: list[LegendEntry] | None = None, first_step: int = 0) -> Path:
    """Write uint8 frames ``(T, H, W, 3)`` as a looping animated GIF; returns the path.

    ``upscale`` enlarges every pixel to an ``upscale x upscale`` block; with a colour ``key`` (``legend(env)``)
    each frame gets the step counter (from ``first_step``) and the key beneath it (``annotate``).
    """
    from PIL import Image

    frames = _enlarge(np.asarray(frames), upscale)
    if key is not None:
        frames = annotate(frames, key, first_step)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=max(1000 // fps, 20), loop=0, optimize=True
    )
    return path


def save_png(env: Any, key: jax.Array, path: str | Path, upscale: int = 1) -> Path:
    """Write the picture of the state right after ``env.reset(key)`` as a PNG."""
    from PIL import Image

    _, state = env.reset(key)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_enlarge(env.render(state), upscale)).save(path, optimize=True)
    return path
