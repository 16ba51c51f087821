"""Reward mixing for RL: fixed mixing matrices and D3C's zeroth-order learning of them (D3C Algorithms 1–3).

Agents learn from mixed rewards r̃_i = Σ_j Ã_ji r_j (D3C Algorithm 3), where row Ã_j, on the simplex, is how
agent j spreads its reward (its loss, in the paper's words) over everyone. Because every row sums to one the
mixing is budget-balanced: Σ_i r̃_i = Σ_i r_i.

A `RewardMixer` is what a trainer needs: `init(key, n)`, `matrix(state)` (the Ã to mix this update's rewards
with) and `update(state, returns)` (after each learner update, with each agent's mean return of that update).
`fixed(matrix)` gives the baselines (`selfish()`: Ã = I, `cooperative(n)`: Ã_ij = 1/n); `d3c(config)` learns the
rows as D3C Algorithm 1 does. All functions are pure JAX and vmappable over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp


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

    def validate(self) -> None:
        """Raise `ValueError` naming the first bad value and a fix."""
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
        tau: `(n,)` int32, each agent's trial length.
        start: `(n,)` int32, t_b, the update at which each agent's trial began.
        baseline: `(n,)`, G_b, the mean return of each agent's previous trial.
        mean_return: `(n,)`, G, the running mean return of each agent's current trial.
        t: int32, learner updates so far.
        key: raw PRNG key data (uint32), so the state is plain arrays for checkpoints.
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


class RewardMixer(NamedTuple):
    """How a trainer mixes rewards: `init(key, n) -> state`, `matrix(state) -> Ã (n, n)`,
    `update(state, returns (n,)) -> state`. `rows(state)` is the learnt A (for relative reward attention)."""

    name: str
    init: Callable[[jax.Array, int], Any]
    matrix: Callable[[Any], jax.Array]
    update: Callable[[Any, jax.Array], Any]
    rows: Callable[[Any], jax.Array]


def mix_rewards(matrix: jax.Array, rewards: jax.Array) -> jax.Array:
    """r̃_i = Σ_j Ã_ji r_j (D3C Algorithm 3) for rewards with the agent axis first, `(n, ...)`."""
    return jnp.tensordot(matrix.T, rewards, axes=1)


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


def _draw_trials(state: D3CState, due: jax.Array, config: D3CRLConfig) -> D3CState:
    """Algorithm 2 for the agents in `due`: new direction, perturbed rows, trial length; t_b = t, G_b = G."""
    key, k_dir, k_tau = jax.random.split(jax.random.wrap_key_data(state.key), 3)
    n = state.rows.shape[0]
    direction = _sphere(k_dir, (n, n))
    trial = jax.nn.softmax(jnp.log(state.rows) + config.delta * direction, axis=-1)
    tau = jax.random.randint(k_tau, (n,), config.tau_min, config.tau_max + 1)
    pick = due[:, None]
    return state._replace(
        trial=jnp.where(pick, trial, state.trial), direction=jnp.where(pick, direction, state.direction),
        tau=jnp.where(due, tau, state.tau), start=jnp.where(due, state.t, state.start),
        baseline=jnp.where(due, state.mean_return, state.baseline), key=jax.random.key_data(key))


def d3c_init(key: jax.Array, n: int, config: D3CRLConfig) -> D3CState:
    """Algorithm 1's initialisation: A = A⁰, G = 0, and a first trial for every agent."""
    if n < 2:
        raise ValueError("D3C reward mixing needs at least 2 agents.")
    rows = initial_rows(n, config.init_self)
    zeros = jnp.zeros((n,), jnp.float32)
    state = D3CState(rows=rows, trial=rows, direction=jnp.zeros((n, n), jnp.float32), tau=jnp.ones((n,), jnp.int32),
                     start=jnp.zeros((n,), jnp.int32), baseline=zeros, mean_return=zeros,
                     t=jnp.zeros((), jnp.int32), key=jax.random.key_data(key))
    return _draw_trials(state, jnp.ones((n,), bool), config)


def d3c_update(state: D3CState, returns: jax.Array, config: D3CRLConfig) -> D3CState:
    """One pass of Algorithm 1's loop body for every agent, after one learner update that returned `returns`.

    G ← (G(Δt_b − 1) + g)/Δt_b with Δt_b = t − t_b. When agent i's trial is complete (Δt_b = τ_i):
    ρ̃_i = ReLU((G_b − G)/τ + ε), ∇_{A_i} = ρ̃_i ã_i − ν e_i ⊘ A_i, A_i ← softmax(clip(log A_i − η_A ∇, l, h)),
    and a new trial starts (Algorithm 2). The update uses ρ̃_i ã_i as Algorithm 1 writes it (the text's
    unbiased one-shot estimate carries an extra n/δ, which only rescales η_A).

    Args:
        returns: g, `(n,)`: each agent's return from this learner update. mixmo's experiments pass each
            agent's mean MIXED episode return (Σ_j Ã_ji R_j), the quantity whose rate of change ρ_i bounds
            (f_i^A in D3C eq. 9; Algorithm 3's learner returns the return it optimised).
    """
    n = state.rows.shape[0]
    t = state.t + 1
    elapsed = t - state.start
    mean = (state.mean_return * (elapsed - 1) + returns) / elapsed
    done = elapsed == state.tau
    rho = jax.nn.relu((state.baseline - mean) / state.tau + config.eps)
    grad = rho[:, None] * state.direction - config.kl * jnp.eye(n) / state.rows
    logits = jnp.clip(jnp.log(state.rows) - config.lr * grad, config.low, config.high)
    rows = jnp.where(done[:, None], jax.nn.softmax(logits, axis=-1), state.rows)
    state = state._replace(rows=rows, mean_return=mean, t=t)
    return _draw_trials(state, done, config)


def d3c(config: D3CRLConfig = COINS) -> RewardMixer:
    """D3C's learnt mixing (Algorithm 1) as a `RewardMixer`; rewards are mixed with the trial rows Ã."""
    config.validate()
    return RewardMixer("d3c", lambda key, n: d3c_init(key, n, config), lambda s: s.trial,
                       lambda s, g: d3c_update(s, g, config), lambda s: s.rows)


def fixed(name: str, matrix_for: Callable[[int], jax.Array]) -> RewardMixer:
    """A mixing matrix that never changes; `matrix_for(n)` builds it (rows on the simplex)."""

    def init(key, n):
        del key
        return matrix_for(n)

    return RewardMixer(name, init, lambda m: m, lambda m, g: m, lambda m: m)


def selfish() -> RewardMixer:
    """No mixing, Ã = I: every agent learns from its own reward (the paper's baseline)."""
    return fixed("selfish", lambda n: jnp.eye(n, dtype=jnp.float32))


def cooperative() -> RewardMixer:
    """Full cooperation, Ã_ij = 1/n: every agent learns from the mean reward (D3C §3)."""
    return fixed("cooperative", lambda n: jnp.full((n, n), 1.0 / n, jnp.float32))
