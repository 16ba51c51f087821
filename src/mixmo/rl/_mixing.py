"""Reward mixing for RL: fixed mixing matrices and D3C's zeroth-order learning of them (D3C Algorithms 1–3).

Agents learn from mixed rewards r̃_i = Σ_j Ã_ji r_j (D3C Algorithm 3), where row Ã_j, on the simplex, is how
agent j spreads its reward (its loss, in the paper's words) over everyone. Because every row sums to one the
mixing is budget-balanced: Σ_i r̃_i = Σ_i r_i.

A mixer is a `mixmo.rl.RewardTransform` (`mixmo.rl._reward.mixing`): `init(key, n)`, `apply` (r̃ with
`matrix(state)`, the Ã to mix the rewards with), `update(state, returns, episodes)` (after each Algorithm-1
iteration: each agent's mean mixed episode return over the `episodes` episodes of that iteration), `rows(state)`
and `iteration`, what one such iteration is (`D3CRLConfig.iteration`: a learner update, or one episode). `fixed(matrix)` gives the baselines (`selfish()`: Ã = I, `cooperative(n)`:
Ã_ij = 1/n); `d3c(config)` learns the rows as D3C Algorithm 1 does. All functions are pure JAX and vmappable over
seeds.

Readings of Algorithm 1 for batched learners (`D3CRLConfig.iteration`, `D3CRLConfig.g_scale`). Algorithm 1's loop
body runs once per call of the learner 𝕃_i, and Algorithm 3's 𝕃_i plays ONE episode and outputs its return g; the
paper's learners update their policies on batches of episodes (Trust-Your-Brother: 10 per REINFORCE update), so
"one iteration", what τ counts, what the finite-difference slope (G_b − G)/τ divides by and what g sums are
choices the paper leaves open:

- "update" (default): one iteration per learner update; τ counts updates; g = the update's mean (`g_scale`
  "mean") or total ("total") mixed episode return over its batch.
- "episode": one iteration per episode, in the batch's order; τ counts episodes; g = that episode's mixed return
  (Algorithm 3 read literally; `g_scale` has no effect: a batch of one).
- "episodes-slope-per-update": τ ~ Uniform{τ_min..τ_max} counts episodes, so a trial lasts ⌈τ / B⌉ updates of
  B episodes each, while G, g and the slope are per update: ρ̃ = ReLU((G_b − G)/⌈τ / B⌉ + ε).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from mixmo.rl._reward import RewardTransform, mixing


ITERATIONS = ("update", "episode", "episodes-slope-per-update")
"""The readings of what one iteration of D3C Algorithm 1 is (`D3CRLConfig.iteration`)."""
G_SCALES = ("mean", "total")
"""The readings of g over a batch of episodes (`D3CRLConfig.g_scale`)."""


@dataclass(frozen=True)
class D3CRLConfig:
    """Hyperparameters of D3C Algorithm 1 (names as in the paper; defaults: D3C Appx. G.1 Table 1, Coins row).

    Attributes:
        lr: η_A, the learning rate of each mixing row (mirror descent in logit space).
        delta: δ, the perturbation scale of a trial: Ã_i = softmax(log A_i + δ ã_i), ã_i uniform on the sphere.
        kl: ν, the weight of KL(e_i ‖ A_i), which pulls A_i back toward attending to itself.
        tau_min, tau_max: a trial lasts τ ~ Uniform{τ_min, ..., τ_max} learner updates.
        init_self: A_ii at the start; the rest (1 − A_ii)/(n − 1) each (the paper: 0.99).
        eps: ε in ρ̃_i = ReLU((G_b − G)/τ + ε).
        low, high: l and h, the clipping bounds of the updated logits.
        iteration, g_scale: how Algorithm 1 meets a batched learner (see below and the module docstring).
    """

    lr: float = 1e-3
    delta: float = 0.1
    kl: float = 1e-6
    tau_min: int = 5
    tau_max: int = 10
    init_self: float = 0.99
    eps: float = 100.0
    low: float = -5.0
    high: float = 5.0
    iteration: str = "update"
    """What one iteration of D3C Algorithm 1's loop (one call of Algorithm 3's learner) is: "update" (one learner
    update: τ counts updates, g = the update's batch of episodes summarised by g_scale), "episode" (one episode,
    in the batch's order: τ counts episodes, g = that episode's mixed return; Algorithm 3 read literally) or
    "episodes-slope-per-update" (τ counts episodes, so a trial lasts ⌈τ / episodes per update⌉ updates, while g,
    G and the finite-difference slope (G_b − G)/τ of Algorithm 1's ρ̃ are per update, dividing by the trial's
    length in updates). The A2C/PPO and recurrent trainers support "update" only."""
    g_scale: str = "mean"
    """g, Algorithm 3's output "return over episode", for an iteration that spans a batch of episodes: "mean" (the
    mean mixed episode return over the batch) or "total" (their sum, B times the mean). With ε = 0 "total" scales
    ρ̃ by B, as η_A × B would; no effect under iteration "episode" (a batch of one)."""

    def validate(self) -> None:
        """Raise `ValueError` naming the first bad value and a fix."""
        if self.iteration not in ITERATIONS:
            raise ValueError(f"D3C iteration must be one of {', '.join(map(repr, ITERATIONS))}, "
                             f"got {self.iteration!r}.")
        if self.g_scale not in G_SCALES:
            raise ValueError(f"D3C g_scale must be one of {', '.join(map(repr, G_SCALES))}, got {self.g_scale!r}.")
        for name in ("lr", "delta"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"D3C {name} must be a positive number, got {value}.")
        if not (self.kl >= 0 and math.isfinite(self.kl)):
            raise ValueError(f"D3C kl must be >= 0, got {self.kl}.")
        if not 1 <= self.tau_min <= self.tau_max:
            raise ValueError(f"D3C trial lengths need 1 <= tau_min <= tau_max, got {self.tau_min} and {self.tau_max}.")
        if not 0 < self.init_self < 1:
            raise ValueError(f"D3C init_self must be in (0, 1) (mirror descent needs an interior start), "
                             f"got {self.init_self}.")
        if not math.isfinite(self.eps):
            raise ValueError(f"D3C eps must be finite, got {self.eps}.")
        if not self.low < self.high:
            raise ValueError(f"D3C logit bounds need low < high, got {self.low} and {self.high}.")


TRUST_YOUR_BROTHER = D3CRLConfig(lr=1.0, delta=1.0, kl=0.0, tau_min=10, tau_max=20, eps=0.0)
"""D3C Appx. G.1 Table 1, Trust-Your-Brother row."""

COINS = D3CRLConfig()
"""D3C Appx. G.1 Table 1, Coins/Cleanup/HarvestPatch row (the §3.3 text gives ν = 1e-5 for Coins; the table 1e-6)."""


class D3CState(NamedTuple):
    """Algorithm 1's variables for all agents at once (row i belongs to agent i).

    Attributes:
        rows: A, `(n, n)`, each row on the simplex.
        trial: Ã, `(n, n)`, the rows being tried (what rewards are mixed with).
        direction: ã, `(n, n)`, each trial's perturbation direction (unit rows).
        tau: `(n,)` int32, each agent's trial length τ (in iterations; in episodes under
            "episodes-slope-per-update").
        start: `(n,)` int32, t_b, the iteration at which each agent's trial began.
        baseline: `(n,)`, G_b, the mean return of each agent's previous trial.
        mean_return: `(n,)`, G, the running mean return of each agent's current trial.
        t: int32, Algorithm-1 iterations so far.
        key: raw PRNG key data (uint32), so the state is plain arrays for checkpoints.
        learning: bool, whether the rows learn. `fixed_rows` switches it off: the rows stay as they are and the
            rewards are mixed with them (the trials are the rows), a fixed mixing matrix in D3C's state, so a
            baseline (selfish, cooperative) runs the very program of a D3C run.
    """

    rows: jax.Array
    trial: jax.Array
    direction: jax.Array
    tau: jax.Array
    start: jax.Array
    baseline: jax.Array
    mean_return: jax.Array
    t: jax.Array
    key: jax.Array
    learning: jax.Array


def check_iteration(iteration: str, supported: tuple[str, ...], where: str) -> None:
    """Raise `ValueError` if a trainer (`where`) cannot run D3C under the reading `iteration`."""
    if iteration not in supported:
        raise ValueError(
            f"{where}: D3C iteration {iteration!r} is not supported here; use {' or '.join(map(repr, supported))}. "
            "One D3C iteration per episode, or trials counted in episodes, are defined for learners that update on "
            "batches of whole episodes (make_reinforce, d3c-trust-your-brother).")


def relative_attention(rows: jax.Array) -> jax.Array:
    """ln(A_ii / mean_{j≠i} A_ij) per agent (D3C Figs. 6–8, "relative reward attention"), shape `(n,)`."""
    n = rows.shape[-1]
    own = jnp.diagonal(rows, axis1=-2, axis2=-1)
    others = (jnp.sum(rows, axis=-1) - own) / (n - 1)
    return jnp.log(own) - jnp.log(others)


def initial_rows(n: int, init_self: float) -> jax.Array:
    """A_ii = init_self, A_ij = (1 − init_self)/(n − 1) (D3C §3: 0.99 and 0.01/(n − 1))."""
    off = (1.0 - init_self) / (n - 1)
    return jnp.full((n, n), off, jnp.float32) + (init_self - off) * jnp.eye(n, dtype=jnp.float32)


def _sphere(key: jax.Array, shape: tuple[int, int]) -> jax.Array:
    # not drawn flat (as `mixmo.rl._random` does): the normals would be the same, but XLA then computes the row
    # norms differently and the directions differ in the last bit
    x = jax.random.normal(key, shape)
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


def trial_draws(key: jax.Array, n: int, config: D3CRLConfig) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Algorithm 2's random draws for all n agents from raw key data: `(next key data, ã (n, n) unit rows,
    τ (n,) int32)`. Every iteration draws (agents whose trial goes on ignore theirs), so the draws are a fixed
    sequence of the mixer's key."""
    key, k_dir, k_tau = jax.random.split(jax.random.wrap_key_data(key), 3)
    direction = _sphere(k_dir, (n, n))
    tau = jax.random.randint(k_tau, (n,), config.tau_min, config.tau_max + 1)
    return jax.random.key_data(key), direction, tau


def _draw_trials(state: D3CState, due: jax.Array, config: D3CRLConfig) -> D3CState:
    """Algorithm 2 for the agents in `due`: new direction, perturbed rows, trial length; t_b = t, G_b = G."""
    key, direction, tau = trial_draws(state.key, state.rows.shape[0], config)
    trial = jax.nn.softmax(jnp.log(state.rows) + config.delta * direction, axis=-1)
    trial = jnp.where(state.learning, trial, state.rows)
    pick = due[:, None]
    return state._replace(
        trial=jnp.where(pick, trial, state.trial), direction=jnp.where(pick, direction, state.direction),
        tau=jnp.where(due, tau, state.tau), start=jnp.where(due, state.t, state.start),
        baseline=jnp.where(due, state.mean_return, state.baseline), key=key)


def d3c_init(key: jax.Array, n: int, config: D3CRLConfig) -> D3CState:
    """Algorithm 1's initialisation: A = A⁰, G = 0, and a first trial for every agent."""
    if n < 2:
        raise ValueError("D3C reward mixing needs at least 2 agents.")
    rows = initial_rows(n, config.init_self)
    zeros = jnp.zeros((n,), jnp.float32)
    state = D3CState(rows=rows, trial=rows, direction=jnp.zeros((n, n), jnp.float32), tau=jnp.ones((n,), jnp.int32),
                     start=jnp.zeros((n,), jnp.int32), baseline=zeros, mean_return=zeros,
                     t=jnp.zeros((), jnp.int32), key=jax.random.key_data(key), learning=jnp.ones((), bool))
    return _draw_trials(state, jnp.ones((n,), bool), config)


def trial_length(tau: jax.Array, episodes, config: D3CRLConfig) -> jax.Array:
    """A trial's length in iterations: τ, or ⌈τ / episodes⌉ under "episodes-slope-per-update" (τ in episodes)."""
    if config.iteration != "episodes-slope-per-update":
        return tau
    episodes = jnp.asarray(episodes, jnp.int32)
    return (tau + episodes - 1) // episodes


def d3c_update(state: D3CState, returns: jax.Array, config: D3CRLConfig, episodes=1) -> D3CState:
    """One pass of Algorithm 1's loop body for every agent, after one iteration (`config.iteration`) that
    returned `returns`.

    g = `returns` (g_scale "mean") or `episodes` × `returns` ("total"); G ← (G(Δt_b − 1) + g)/Δt_b with
    Δt_b = t − t_b. When agent i's trial is complete (Δt_b = L_i, its length in iterations: τ_i, or ⌈τ_i /
    episodes⌉ under "episodes-slope-per-update"): ρ̃_i = ReLU((G_b − G)/L_i + ε), ∇_{A_i} = ρ̃_i ã_i − ν e_i ⊘ A_i,
    A_i ← softmax(clip(log A_i − η_A ∇, l, h)), and a new trial starts (Algorithm 2). The update uses ρ̃_i ã_i as
    Algorithm 1 writes it (the text's unbiased one-shot estimate carries an extra n/δ, which only rescales η_A).

    Args:
        returns: `(n,)`: each agent's mean return over this iteration's episodes. mixmo's trainers pass each
            agent's mean MIXED episode return (Σ_j Ã_ji R_j), the quantity whose rate of change ρ_i bounds
            (f_i^A in D3C eq. 9; Algorithm 3's learner returns the return it optimised).
        episodes: how many episodes `returns` averages (B, or 1 for one episode); used by g_scale "total" and
            by "episodes-slope-per-update".
    """
    n = state.rows.shape[0]
    t = state.t + 1
    elapsed = t - state.start
    g = returns if config.g_scale == "mean" else returns * jnp.asarray(episodes, returns.dtype)
    mean = (state.mean_return * (elapsed - 1) + g) / elapsed
    length = trial_length(state.tau, episodes, config)
    done = elapsed == length
    rho = jax.nn.relu((state.baseline - mean) / length + config.eps)
    grad = rho[:, None] * state.direction - config.kl * jnp.eye(n) / state.rows
    logits = jnp.clip(jnp.log(state.rows) - config.lr * grad, config.low, config.high)
    # fixed rows (not learning) may hold zeros, whose logits are not finite: they are never taken
    rows = jnp.where(done[:, None] & state.learning, jax.nn.softmax(logits, axis=-1), state.rows)
    state = state._replace(rows=rows, mean_return=mean, t=t)
    return _draw_trials(state, done, config)


def d3c(config: D3CRLConfig = COINS) -> RewardTransform:
    """D3C's learnt mixing (Algorithm 1) as a mixing `RewardTransform`; rewards are mixed with the trial rows Ã."""
    config.validate()
    return mixing("d3c", lambda key, n: d3c_init(key, n, config), lambda s: s.trial,
                  lambda s, g, episodes=1: d3c_update(s, g, config, episodes), lambda s: s.rows, config.iteration)


def fixed_rows(state: D3CState, matrix: jax.Array) -> D3CState:
    """`state` (of `d3c_init`; any leading axes, e.g. seeds) with its rows and trials set to `matrix` `(n, n)` and
    learning off: from then on rewards are mixed with `matrix` exactly, as `fixed(matrix)` mixes them, and the
    rest of Algorithm 1 runs on without effect. A run of a fixed baseline then has the state, and so the compiled
    programs, of a D3C run (the D3C-RL experiments train selfish, D3C and cooperative as one trainer)."""
    rows = jnp.broadcast_to(jnp.asarray(matrix, state.rows.dtype), state.rows.shape)
    return state._replace(rows=rows, trial=rows, learning=jnp.zeros_like(state.learning))


def fixed(name: str, matrix_for: Callable[[int], jax.Array]) -> RewardTransform:
    """A mixing matrix that never changes; `matrix_for(n)` builds it (rows on the simplex)."""

    def init(key, n):
        del key
        return matrix_for(n)

    return mixing(name, init, lambda m: m, lambda m, g, episodes=1: m, lambda m: m)


def selfish_matrix(n: int) -> jax.Array:
    """Ã = I `(n, n)`: no mixing."""
    return jnp.eye(n, dtype=jnp.float32)


def cooperative_matrix(n: int) -> jax.Array:
    """Ã_ij = 1/n `(n, n)`: full cooperation."""
    return jnp.full((n, n), 1.0 / n, jnp.float32)


BASELINE_MATRICES = {"selfish": selfish_matrix, "cooperative": cooperative_matrix}
"""The fixed-matrix baselines by method id: n -> their mixing matrix `(n, n)`."""


def selfish() -> RewardTransform:
    """No mixing, Ã = I: every agent learns from its own reward (the paper's baseline)."""
    return fixed("selfish", selfish_matrix)


def cooperative() -> RewardTransform:
    """Full cooperation, Ã_ij = 1/n: every agent learns from the mean reward (D3C §3)."""
    return fixed("cooperative", cooperative_matrix)
