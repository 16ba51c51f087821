"""Multi-agent REINFORCE: linear softmax policies, a linear TD(0) baseline, an optional reward transform.

The learner of D3C's Trust-Your-Brother experiment (D3C Appx. G.1): REINFORCE (Williams 1992) on batches of
whole episodes with full Monte Carlo returns, a baseline from a linear value function trained by temporal
difference learning, both with plain SGD. One update (`ReinforceTrainer.update`):

1. **Rollout** a batch of `episodes` episodes of at most `max_episode_steps` steps (`env.step_env`, no
   auto-reset; steps after an episode's end are masked out). Where each episode starts is the `starts`
   function's choice (default: `env.reset`), so an experiment can fix the batch's composition (D3C G.1:
   5 episodes with each prey the closer one).
2. **Mix** the rewards with the reward transform (`mixmo.rl.RewardTransform.apply`): with a mixer, its current
   matrix Ã: r̃_i = Σ_j Ã_ji r_j (D3C Algorithm 3); with shaping (SVO, SL), per step on the running episode
   returns. Without a transform the raw rewards are used unchanged.
3. **Returns** G̃_t = Σ_{k ≥ t} γ^{k−t} r̃_k (return-to-go, `mixmo.rl.gae` with λ = 1 and zero values),
   **advantages** Â_i = G̃_i − V_i(o_i) with the value before this update's TD step.
4. **Policy direction** from a `GameMethod` (default Simul-Ind, i.e. each agent's own REINFORCE gradient) on
   `StructuredLosses(individual, collective, separable=True)`:
   ℓ_i(W) = −(1/B) Σ_b Σ_t log π_{W_i}(a_i | o_i) Â_i (sum over an episode's steps, mean over the batch) and
   ℓ_c(W) = −(1/B) Σ_i Σ_b Σ_t log π_{W_i}(a_i | o_i) Σ_j Â_j. The collective advantage Σ_j Â_j is the
   collective return-to-go minus the baseline Σ_j V_j: mixing is budget-balanced, so Σ_j G̃_j is the
   raw collective return. Plain SGD: W ← W − lr · direction.
5. **TD(0)** on each agent's linear value (semi-gradient): δ_t = r̃_t + γ (1 − done_t) V(o_{t+1}) − V(o_t),
   w ← w + value_lr · mean over the batch's steps of δ_t φ(o_t), φ(o) = (o, 1) (or o without the bias).
6. **Transform update** `reward.update(state, g, B)` with g_i = agent i's mean MIXED episode return over the batch,
   (1/B) Σ_b Σ_t r̃_i: the return agent i's learner optimised, which is what D3C Algorithm 3 outputs and
   Algorithm 1 averages over a trial (the quantity whose rate of change ρ_i bounds, f_i^A in D3C eq. 9); the
   mixer's `D3CRLConfig.g_scale` may use B g_i instead, and its "episodes-slope-per-update" reading counts τ in
   episodes. Under the reading `iteration="episode"` (`reward.iteration`) steps 2 and 6 run once per episode
   instead, in the batch's order: episode b is mixed with the Ã current after episodes 0..b−1, and
   `reward.update(state, Σ_t r̃_{b}, 1)` follows it (Algorithm 3 read literally: one call plays one episode).

Policies: agent i's logits are W_iᵀ o_i, W_i of shape `(obs_size, n_actions)`, no bias (D3C §3.3: "linear
softmax policies (no bias term)"), stacked on a leading agent axis. They start at zero (uniform policies;
the paper does not say).

`trainer(key)` is the whole run as one `jit`-able function (a `lax.scan` over updates), vmappable over seeds;
`trainer.run(state, n)` continues for `n` updates (chained chunks give the same bits as one call).

References: Williams 1992 (REINFORCE); Sutton & Barto 2018 §9.3 (semi-gradient TD(0)); D3C (Gemp et al.
2022) §3.3, Algorithm 3, Appx. G.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from mixmo.game import StructuredLosses
from mixmo.methods import GameMethod, simul_ind
from mixmo.rl import _random
from mixmo.rl._batching import batchify, stack, unbatchify, unstack
from mixmo.rl._gae import gae
from mixmo.rl._train_state import finite
from mixmo.rl._mixing import ITERATIONS, check_iteration
from mixmo.rl._reward import RewardTransform, identity


@dataclass(frozen=True)
class ReinforceConfig:
    """Hyperparameters of the REINFORCE trainer (defaults: D3C Appx. G.1, Trust-Your-Brother)."""

    num_updates: int = 2000
    """Updates per run, one batch of episodes each (D3C does not say how long Trust-Your-Brother trains)."""
    episodes: int = 10
    """Episodes per batch (D3C Appx. G.1: 10)."""
    max_episode_steps: int = 5
    """Steps rolled out per episode (Trust-Your-Brother's episodes last 5, D3C Appx. F.2). An episode that ends
    sooner is masked from then on; one still running after this many steps is cut (its returns stop there)."""
    lr: float = 0.1
    """REINFORCE learning rate, plain SGD (D3C Appx. G.1)."""
    value_lr: float = 0.1
    """TD learning rate of the linear value baseline, plain SGD (D3C Appx. G.1)."""
    gamma: float = 1.0
    """Discount (D3C Appx. G.1: full Monte Carlo returns, γ = 1)."""
    value_bias: bool = True
    """Give the value function a constant feature besides the observation (the paper says only "linear")."""

    def validate(self) -> None:
        """Raise `ValueError` naming the first bad value and a fix."""
        for name in ("num_updates", "episodes", "max_episode_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        for name in ("lr", "value_lr"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number, got {value}.")
        if not 0.0 <= self.gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}.")


class ReinforceState(NamedTuple):
    """What one run carries from update to update (one seed).

    Attributes:
        policy: `(n_agents, obs_size, n_actions)` linear policy weights.
        value: `(n_agents, features)` linear value weights (features: obs_size, plus 1 with the bias).
        method_state: the `GameMethod`'s state.
        mix_state: the reward transform's state (`()` without one, or for shaping).
        key: raw PRNG key data (uint32).
        update: int32 updates done.
    """

    policy: jax.Array
    value: jax.Array
    method_state: Any
    mix_state: Any
    key: jax.Array
    update: jax.Array


class EpisodeBatch(NamedTuple):
    """One batch of episodes, time-major: `T = max_episode_steps`, `n` agents, `B` episodes.

    Attributes:
        obs: `(T, n, B, obs_size)` float32, what each agent saw before acting.
        next_obs: `(T, n, B, obs_size)` after the step (meaningless after the episode ended).
        action: `(T, n, B)` int32.
        reward: `(T, n, B)` raw rewards, zero after the episode ended.
        alive: `(T, B)` float32, 1 where the step belongs to the episode.
        done: `(T, B)` float32, 1 where the episode ended at this step.
        final_infos: name -> `(B, n)`, the environment's infos at each episode's last step.
    """

    obs: jax.Array
    next_obs: jax.Array
    action: jax.Array
    reward: jax.Array
    alive: jax.Array
    done: jax.Array
    final_infos: dict[str, jax.Array]


class ReinforceMetrics(NamedTuple):
    """What one update reports (one seed).

    Attributes:
        episode_return: `(n,)` mean raw return per episode.
        mixed_return: `(n,)` mean mixed return per episode (the mixer's g, or its B-fold under g_scale "total").
        episode_stats: name -> `(n,)` mean over the batch of the environment's end-of-episode infos.
        outcomes: what the trainer's `outcomes` function computed from the batch's final infos.
        policy_loss: mean over agents of ℓ_i.
        value_loss: mean squared TD error (before the TD step) over agents and steps.
        entropy: mean policy entropy (nats) over agents and steps.
        mixing: `(n, n)` the mixer's rows A after the update (the identity without a mixer).
        trial: `(n, n)` the matrix Ã this update's rewards were mixed with.
        finite: all parameters finite after the update.
    """

    episode_return: jax.Array
    mixed_return: jax.Array
    episode_stats: dict[str, jax.Array]
    outcomes: dict[str, jax.Array]
    policy_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    mixing: jax.Array
    trial: jax.Array
    finite: jax.Array


def log_policy(policy: jax.Array, obs: jax.Array) -> jax.Array:
    """Log-probabilities of linear softmax policies (no bias): `policy` `(n, O, A)`, `obs` `(..., n, B, O)`
    -> `(..., n, B, A)`."""
    return jax.nn.log_softmax(jnp.einsum("...nbo,noa->...nba", obs, policy), axis=-1)


def value_features(obs: jax.Array, bias: bool) -> jax.Array:
    """φ(o): the observation, with a trailing constant 1 when `bias`."""
    if not bias:
        return obs
    return jnp.concatenate([obs, jnp.ones(obs.shape[:-1] + (1,), obs.dtype)], axis=-1)


def returns_to_go(rewards: jax.Array, done: jax.Array, gamma: float) -> jax.Array:
    """G_t = r_t + γ (1 − done_t) G_{t+1}, no bootstrap: `rewards` `(T, n, B)`, `done` `(T, B)`."""
    zeros = jnp.zeros_like(rewards)
    return gae(rewards, zeros, done[:, None, :], zeros[0], gamma, 1.0)[0]


def policy_losses(params: tuple, batch: EpisodeBatch, advantage: jax.Array) -> tuple[jax.Array, jax.Array]:
    """REINFORCE losses: individual `(n,)` and collective (scalar); `advantage` `(T, n, B)`, held constant."""
    log_probs = log_policy(stack(params), batch.obs)
    taken = jnp.take_along_axis(log_probs, batch.action[..., None], axis=-1)[..., 0] * batch.alive[:, None, :]
    episodes = batch.alive.shape[1]
    individual = -jnp.sum(taken * advantage, axis=(0, 2)) / episodes
    collective = -jnp.sum(taken * jnp.sum(advantage, axis=1, keepdims=True)) / episodes
    return individual, collective


def td_step(value: jax.Array, batch: EpisodeBatch, mixed: jax.Array, gamma: float, lr: float, bias: bool):
    """One semi-gradient TD(0) step per agent on the batch. Returns `(new value weights, mean δ²)`."""
    phi = value_features(batch.obs, bias)  # (T, n, B, F)
    v = jnp.einsum("tnbf,nf->tnb", phi, value)
    v_next = jnp.einsum("tnbf,nf->tnb", value_features(batch.next_obs, bias), value)
    delta = (mixed + gamma * (1.0 - batch.done[:, None, :]) * v_next - v) * batch.alive[:, None, :]
    steps = jnp.sum(batch.alive)
    new_value = value + lr * jnp.einsum("tnb,tnbf->nf", delta, phi) / steps
    n = value.shape[0]
    return new_value, jnp.sum(delta**2) / (steps * n)


@dataclass(frozen=True)
class ReinforceTrainer:
    """A multi-agent REINFORCE trainer; build it with `make_reinforce`.

    `trainer(key) -> (ReinforceState, ReinforceMetrics stacked over updates)`;
    `jax.jit(jax.vmap(trainer))(keys)` runs seeds in parallel.
    """

    config: ReinforceConfig
    env: Any
    reward: RewardTransform
    method: GameMethod
    starts: Callable[[jax.Array, int], Any]
    outcomes: Callable[[dict[str, jax.Array]], dict[str, jax.Array]] | None = None
    env_params: Any = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)  # compiled programs (`train_segments`)

    @property
    def n_agents(self) -> int:
        return self.env.num_agents

    @property
    def obs_size(self) -> int:
        return math.prod(self.env.observation_space(self.env.agents[0]).shape)

    def __call__(self, key: jax.Array):
        return self.run(self.init(key), self.config.num_updates)

    def init(self, key: jax.Array) -> ReinforceState:
        """Zero policy and value weights, the method's and the mixer's states."""
        n, n_actions = self.n_agents, self.env.action_space(self.env.agents[0]).n
        features = self.obs_size + int(self.config.value_bias)
        k_mix, k_run = jax.random.split(key)
        policy = jnp.zeros((n, self.obs_size, n_actions), jnp.float32)
        return ReinforceState(
            policy=policy, value=jnp.zeros((n, features), jnp.float32),
            method_state=self.method.init(unstack(policy, n)),
            mix_state=self.reward.init(k_mix, n),
            key=jax.random.key_data(k_run), update=jnp.zeros((), jnp.int32))

    def _obs(self, obs: dict) -> jax.Array:
        """Dict of `(B, *shape)` observations -> float32 `(n, B, obs_size)`."""
        stacked = batchify(obs, self.env.agents)
        return stacked.reshape(stacked.shape[:2] + (-1,)).astype(jnp.float32)

    def rollout(self, policy: jax.Array, key: jax.Array) -> EpisodeBatch:
        """A batch of `episodes` episodes of at most `max_episode_steps` steps with the given policies."""
        c, agents = self.config, self.env.agents
        k_start, k_steps = jax.random.split(key)
        env_state = self.starts(k_start, c.episodes)
        obs = self._obs(jax.vmap(lambda s: self.env.get_obs(s))(env_state))
        step_env = jax.vmap(lambda k, s, a: self.env.step_env(k, s, a, self.env_params))

        def one(carry, k):
            env_state, obs, alive, last_infos = carry
            k_act, k_env = jax.random.split(k)
            action = _random.categorical(k_act, log_policy(policy, obs))  # (n, B); drawn flat
            next_obs, env_state, rewards, dones, infos = step_env(
                jax.random.split(k_env, c.episodes), env_state, unbatchify(action, agents))
            next_obs = self._obs(next_obs)
            reward = batchify(rewards, agents).astype(jnp.float32) * alive[None, :]
            done = dones["__all__"].astype(jnp.float32) * alive
            infos = {name: v for name, v in infos.items() if v.shape[1:] == (self.n_agents,)}
            last_infos = {name: jnp.where(alive[:, None] > 0, infos[name], last_infos[name]) for name in infos}
            out = (obs, next_obs, action, reward, alive, done)
            return (env_state, next_obs, alive * (1.0 - done), last_infos), out

        stay = unbatchify(jnp.zeros((self.n_agents, c.episodes), jnp.int32), agents)
        shapes = jax.eval_shape(lambda: step_env(jax.random.split(k_steps, c.episodes), env_state, stay)[4])
        infos0 = {name: jnp.zeros(v.shape, v.dtype) for name, v in shapes.items() if v.shape[1:] == (self.n_agents,)}
        carry0 = (env_state, obs, jnp.ones((c.episodes,), jnp.float32), infos0)
        carry, (obs, next_obs, action, reward, alive, done) = jax.lax.scan(
            one, carry0, jax.random.split(k_steps, c.max_episode_steps))
        return EpisodeBatch(obs, next_obs, action, reward, alive, done, carry[3])

    def learn(self, state: ReinforceState, batch: EpisodeBatch) -> tuple[ReinforceState, ReinforceMetrics]:
        """Mix, REINFORCE step through the method, TD step, mixer update (steps 2–6 of the module docstring)."""
        c, n = self.config, self.n_agents
        mix_state, trial, mixed, mixed_return = self._mix(state.mix_state, batch.reward)
        features = value_features(batch.obs, c.value_bias)
        baseline = jnp.einsum("tnbf,nf->tnb", features, state.value)
        advantage = (returns_to_go(mixed, batch.done, c.gamma) - baseline) * batch.alive[:, None, :]

        def terms(params):
            return policy_losses(params, batch, advantage)

        losses = StructuredLosses(individual=lambda p: terms(p)[0], collective=lambda p: terms(p)[1],
                                  separable=True)
        params = unstack(state.policy, n)
        individual, _ = terms(params)
        direction, method_state = self.method.update(losses, params, state.method_state)
        policy = state.policy - c.lr * stack(direction)
        value, value_loss = td_step(state.value, batch, mixed, c.gamma, c.value_lr, c.value_bias)

        raw_return = jnp.mean(jnp.sum(batch.reward, axis=0), axis=-1)
        rows = trial if self.reward.rows is None else self.reward.rows(mix_state)

        log_probs = log_policy(state.policy, batch.obs)
        entropy = -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1) * batch.alive[:, None, :]
        stats = {name: jnp.mean(v.astype(jnp.float32), axis=0) for name, v in batch.final_infos.items()}
        metrics = ReinforceMetrics(
            episode_return=raw_return, mixed_return=mixed_return, episode_stats=stats,
            outcomes={} if self.outcomes is None else self.outcomes(batch.final_infos),
            policy_loss=jnp.mean(individual), value_loss=value_loss,
            entropy=jnp.sum(entropy) / (jnp.sum(batch.alive) * n), mixing=rows, trial=trial,
            finite=finite((policy, value)))
        state = state._replace(policy=policy, value=value, method_state=method_state, mix_state=mix_state)
        return state, metrics

    def _mix(self, mix_state, reward: jax.Array):
        """Transformed rewards `(T, n, B)` and the transform's next state. Returns `(mix_state, Ã (mean over the
        batch if it changed; the identity for a transform that does not mix), transformed rewards, mean
        transformed episode return (n,))`."""
        transform, eye = self.reward, jnp.eye(self.n_agents, dtype=jnp.float32)

        def matrix(mix_state):
            return eye if transform.matrix is None else transform.matrix(mix_state)

        def apply(mix_state, r):  # r: (n, T, ...) agent-first; the running returns run along T
            return transform.apply(mix_state, r, jnp.cumsum(r, axis=1))

        if transform.iteration != "episode":
            trial = matrix(mix_state)
            mixed = jnp.moveaxis(apply(mix_state, jnp.moveaxis(reward, 1, 0)), 0, 1)
            g = jnp.mean(jnp.sum(mixed, axis=0), axis=-1)
            return transform.update(mix_state, g, self.config.episodes), trial, mixed, g

        def episode(mix_state, r):  # r: (T, n), one episode
            trial = matrix(mix_state)
            mixed = apply(mix_state, r.T).T
            return transform.update(mix_state, jnp.sum(mixed, axis=0), 1), (trial, mixed)

        mix_state, (trials, mixed) = jax.lax.scan(episode, mix_state, jnp.moveaxis(reward, 2, 0))
        mixed = jnp.moveaxis(mixed, 0, 2)
        return mix_state, jnp.mean(trials, axis=0), mixed, jnp.mean(jnp.sum(mixed, axis=0), axis=-1)

    def update(self, state: ReinforceState) -> tuple[ReinforceState, ReinforceMetrics]:
        """One update: a rollout with the current policies, then `learn`."""
        key, k_roll = jax.random.split(jax.random.wrap_key_data(state.key))
        batch = self.rollout(state.policy, k_roll)
        state, metrics = self.learn(state, batch)
        return state._replace(key=jax.random.key_data(key), update=state.update + 1), metrics

    def run(self, state: ReinforceState, num_updates: int):
        """`num_updates` updates from `state` in one `lax.scan`: `(state, metrics with a leading update axis)`."""
        return jax.lax.scan(lambda s, _: self.update(s), state, None, length=num_updates)


def make_reinforce(config: ReinforceConfig, env, reward: RewardTransform | None = None, *,
                   method: GameMethod | None = None, starts: Callable[[jax.Array, int], Any] | None = None,
                   outcomes: Callable[[dict[str, jax.Array]], dict[str, jax.Array]] | None = None,
                   env_params=None) -> ReinforceTrainer:
    """Build a multi-agent REINFORCE trainer (see the module docstring).

    Args:
        config: hyperparameters (validated here).
        env: a mixmo (JaxMARL-API) environment with a discrete action space.
        reward: the reward transform: mixing (`rl.selfish()`, `rl.cooperative()`, `rl.d3c(...)`) or shaping
            (`rl.svo`, `rl.sl`: on each step with the running episode returns); None: raw rewards.
        method: the `GameMethod` giving the policy direction (default Simul-Ind: each agent's own gradient).
        starts: `(key, episodes) -> environment states` stacked on a leading episode axis, where each batch's
            episodes start (default: `env.reset` with independent keys).
        outcomes: optional `final_infos -> dict of arrays` (final infos: name -> `(episodes, n)`), reported in
            `ReinforceMetrics.outcomes` every update (e.g. how often every agent escaped).
        env_params: environment parameters (default: the environment's).

    Returns:
        A `ReinforceTrainer`: `trainer(key) -> (ReinforceState, ReinforceMetrics)`, jit-able, vmappable.

    Example:
        >>> import jax
        >>> from mixmo import envs, rl
        >>> env = envs.make("trust_your_brother")
        >>> train = rl.make_reinforce(rl.ReinforceConfig(num_updates=3), env, rl.d3c(rl.D3C_TRUST_YOUR_BROTHER))
        >>> state, metrics = jax.jit(train)(jax.random.key(0))
        >>> metrics.episode_return.shape, metrics.mixing.shape
        ((3, 2), (3, 2, 2))
    """
    config.validate()
    reward = identity() if reward is None else reward
    check_iteration(reward.iteration, ITERATIONS, "make_reinforce")
    if not hasattr(env.action_space(env.agents[0]), "n"):
        raise ValueError(f"make_reinforce needs a discrete action space, got {env.action_space(env.agents[0])!r}.")
    if starts is None:
        def starts(key, episodes):
            return jax.vmap(lambda k: env.reset(k, env_params)[1])(jax.random.split(key, episodes))
    return ReinforceTrainer(config, env, reward, simul_ind() if method is None else method, starts, outcomes,
                            env_params)
