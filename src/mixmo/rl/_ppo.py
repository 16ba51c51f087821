"""Multi-agent PPO whose policy update direction comes from any `mixmo.methods` `GameMethod`.

One update (`Trainer.update`):

1. roll out `num_steps` steps in `num_envs` environments (all agents act; separate per-agent policies
   stacked on a leading agent axis and evaluated with `vmap`);
2. optionally shape the rewards (SVO, SL: `mixmo.rl.svo`, `mixmo.rl.sl`);
3. advantages by GAE: agent i's from its (shaped) rewards and its own critic V_i; the collective advantage
   from the collective return sum_i r_i (raw rewards) and the collective critic V_c;
4. `update_epochs` epochs over `num_minibatches` shuffled minibatches. In each minibatch agent i's loss is
   l_i = PPO-clip surrogate with its own normalised advantages - ent_coef * entropy_i, and the collective
   loss is l_c = sum_i (surrogate with the collective advantage - ent_coef * entropy_i). The policy
   direction is `method.update(StructuredLosses(individual=l, collective=l_c, separable=True), params)`
   with the stacked policy parameters unstacked into a tuple of per-agent pytrees, so Simul-Ind is IPPO,
   Simul-Co every agent on the collective advantage, and CGA, SGA, AgA adjust exactly as on the
   differentiable games (Hessian-vector products through the policy loss). The direction goes through a
   per-agent optax optimiser (gradient clipping by each agent's global norm, then Adam).
   The critics descend their value losses with plain optax.

Critics: each agent has one critic network with two outputs, V_i(o_i) (its own return) and u_i(o_i); the
collective critic is V_c(s) = sum_i u_i(o_i), an additive (VDN-style) decomposition over the agents'
egocentric views, trained on the collective return. This gives one collective value and advantage per
environment step, seen by all agents, for the price of one extra output unit.

The whole run is `Trainer.__call__(key)`: one `jit`-able function (a `lax.scan` over updates), vmappable
over seeds. `Trainer.run(state, n)` runs `n` updates from a `TrainState`, for chunked runs with progress,
checkpoints and resume; chaining chunks gives bit-identical results to one call of the same chunk length.

References: Schulman et al. 2017 (PPO); de Witt et al. 2020 (IPPO); Yu et al. 2022 (MAPPO); purejaxrl
`ppo.py` (make_train, one jit); AgA paper (Li et al. 2024, arXiv 2402.12416) §5.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from mixmo.game import StructuredLosses
from mixmo.methods import GameMethod, simul_ind
from mixmo.rl._batching import batchify, shuffled_minibatches, stack, unbatchify, unstack
from mixmo.rl._gae import gae
from mixmo.rl._networks import MLP, apply_stacked, stacked_mlps
from mixmo.rl._ppo_loss import clipped_surrogate, clipped_value_loss, normalise
from mixmo.rl._shaping import RewardShaping


@dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters of the multi-agent PPO trainer (defaults: the fast CPU setting of docs/rl.md)."""

    total_steps: int = 262_144
    """Environment steps per seed (one step moves every agent); rounded down to whole updates."""
    num_envs: int = 16
    """Parallel environments."""
    num_steps: int = 128
    """Rollout length per environment per update; one update sees num_envs * num_steps env steps."""
    update_epochs: int = 2
    """Passes over each rollout."""
    num_minibatches: int = 4
    """Minibatches per epoch (num_envs * num_steps must be divisible by it)."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip: float = 0.2
    """PPO ratio clip epsilon."""
    value_clip: float = 0.2
    """Value-function clip (around the rollout's values), for every critic output."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient in every agent's loss (and in each agent's term of the collective loss)."""
    lr: float = 5e-4
    """Adam learning rate of the policies (the AgA paper's, given for its SMAC runs)."""
    critic_lr: float = 5e-4
    """Adam learning rate of the critics."""
    max_grad_norm: float = 0.5
    """Clip each agent's policy direction and critic gradient to this global norm before Adam."""
    hidden: tuple[int, ...] = (64,)
    """Hidden layer widths of each policy MLP (input: the flattened egocentric view)."""
    critic_hidden: tuple[int, ...] = (64,)
    """Hidden layer widths of each critic MLP."""
    activation: str = "relu"
    """Hidden activation: relu or tanh."""
    policy_head_scale: float = 1.0
    """Initial weight scale (gain) of each policy's output layer. Not PPO's usual 0.01: that makes the hidden
    layers' gradients tiny at the start, so the second-order terms of CGA and AgA dominate their Adam updates
    and drive the hidden units dead (docs/rl.md, "Policy head initialisation")."""
    scan_minibatches: bool = True
    """Loop over epochs and minibatches with lax.scan (True) or unrolled in the trace (False)."""
    nan_at_update: int = 0
    """Testing aid: make the policy loss NaN at this update (1-based); 0 is off."""

    @property
    def batch_steps(self) -> int:
        """Environment steps per update."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Updates in the whole run."""
        return self.total_steps // self.batch_steps

    def validate(self) -> None:
        """Raise `ValueError` naming the first bad value and a fix."""
        positive = ("num_envs", "num_steps", "update_epochs", "num_minibatches")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.total_steps < self.batch_steps:
            raise ValueError(f"total_steps={self.total_steps} is less than one update of num_envs * num_steps = "
                             f"{self.batch_steps} env steps; raise total_steps or lower num_envs/num_steps.")
        if self.batch_steps % self.num_minibatches:
            raise ValueError(f"num_envs * num_steps = {self.batch_steps} is not divisible by "
                             f"num_minibatches={self.num_minibatches}.")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}.")
        for name in ("clip", "value_clip", "lr", "critic_lr", "max_grad_norm", "policy_head_scale"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number, got {value}.")
        if not (self.ent_coef >= 0 and math.isfinite(self.ent_coef)):
            raise ValueError(f"ent_coef must be >= 0, got {self.ent_coef}.")
        if not self.hidden or not self.critic_hidden or min(self.hidden + self.critic_hidden) < 1:
            raise ValueError(f"hidden and critic_hidden need at least one positive width, got {self.hidden} "
                             f"and {self.critic_hidden}.")
        if self.activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be relu or tanh, got {self.activation!r}.")
        if self.nan_at_update < 0:
            raise ValueError(f"nan_at_update must be >= 0, got {self.nan_at_update}.")


class TrainState(NamedTuple):
    """Everything one training run carries from update to update (for one seed).

    Attributes:
        policy: stacked policy `MLP`s, leading agent axis.
        critic: stacked critic `MLP`s (outputs: own value, share of the collective value).
        policy_opt, critic_opt: per-agent optax states (vmapped over the agent axis).
        method_state: the `GameMethod`'s state.
        env_state: the environments' states, leading axis `num_envs`.
        obs: uint8 observations `(n_agents, num_envs, *obs_shape)`.
        episode_returns: float32 `(n_agents, num_envs)` running unshaped returns of the current episodes.
        key: raw PRNG key data (uint32), so checkpoints hold plain arrays.
        update: int32 number of updates done.
    """

    policy: MLP
    critic: MLP
    policy_opt: Any
    critic_opt: Any
    method_state: Any
    env_state: Any
    obs: jax.Array
    episode_returns: jax.Array
    key: jax.Array
    update: jax.Array


class Rollout(NamedTuple):
    """One rollout, time-major: leading axis `num_steps`; agent axis before the env axis."""

    obs: jax.Array  # (T, N, E, *obs_shape) uint8
    action: jax.Array  # (T, N, E) int32
    log_prob: jax.Array  # (T, N, E)
    value: jax.Array  # (T, N, E) own-return critic
    share: jax.Array  # (T, N, E) shares of the collective value
    reward: jax.Array  # (T, N, E) raw rewards
    shaped: jax.Array  # (T, N, E) rewards after shaping (= reward without shaping)
    done: jax.Array  # (T, E)


class RolloutCarry(NamedTuple):
    """What the rollout's scan carries from step to step."""

    env_state: Any
    obs: jax.Array  # (N, E, *obs_shape) uint8
    episode_returns: jax.Array  # (N, E) running unshaped returns
    episodes: jax.Array  # () episodes ended so far in this rollout
    stats: dict[str, jax.Array]  # name -> (N,) sums of end-of-episode infos


class Minibatch(NamedTuple):
    """Policy and critic training data, agent-major `(N, B, ...)`; collective entries repeated per agent."""

    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    advantage: jax.Array
    collective_advantage: jax.Array
    value: jax.Array
    target: jax.Array
    collective_value: jax.Array
    collective_target: jax.Array


class UpdateMetrics(NamedTuple):
    """What one update reports (per seed).

    Attributes:
        episodes: episodes that ended during the rollout (over all environments).
        episode_stats: name -> `(n_agents,)` sums over those episodes of the environment's end-of-episode
            `infos` (e.g. `apples_eaten`), plus `episode_return` (unshaped).
        policy_loss: mean over agents, epochs and minibatches of l_i (before each step).
        collective_loss: mean over epochs and minibatches of l_c.
        value_loss: mean critic loss (individual and collective summed).
        entropy: mean policy entropy (nats).
        approx_kl: mean KL(old || new) estimate, (ratio - 1) - log ratio.
        direction_norm: mean global norm of the policy direction before clipping.
        finite: all policy and critic parameters finite after the update.
    """

    episodes: jax.Array
    episode_stats: dict[str, jax.Array]
    policy_loss: jax.Array
    collective_loss: jax.Array
    value_loss: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    direction_norm: jax.Array
    finite: jax.Array


def policy_losses(policy_params: tuple, mb: Minibatch, clip: float, ent_coef: float):
    """Per-agent PPO losses and the collective loss on one minibatch.

    Args:
        policy_params: tuple of per-agent policy `MLP`s (the `GameMethod`'s `Params`).
        mb: the minibatch; advantages already normalised.

    Returns:
        `(individual, collective, aux)`: individual losses `(n,)`, the collective loss (scalar), and
        `aux = (entropy (n,), approx_kl (n,))`.
    """
    logits = apply_stacked(stack(policy_params), mb.obs)  # (N, B, A)
    log_probs = jax.nn.log_softmax(logits)
    log_prob = jnp.take_along_axis(log_probs, mb.action[..., None], axis=-1)[..., 0]
    entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1), axis=-1)
    surrogate = jax.vmap(clipped_surrogate, (0, 0, 0, None))
    individual = surrogate(log_prob, mb.log_prob, mb.advantage, clip) - ent_coef * entropy
    collective = jnp.sum(surrogate(log_prob, mb.log_prob, mb.collective_advantage, clip) - ent_coef * entropy)
    log_ratio = log_prob - mb.log_prob
    approx_kl = jnp.mean(jnp.expm1(log_ratio) - log_ratio, axis=-1)
    return individual, collective, (entropy, approx_kl)


def critic_loss(critic: MLP, mb: Minibatch, value_clip: float):
    """Sum of the agents' clipped value losses and the collective critic's; returns `(loss, loss)`."""
    out = apply_stacked(critic, mb.obs)  # (N, B, 2)
    own = jax.vmap(clipped_value_loss, (0, 0, 0, None))(out[..., 0], mb.value, mb.target, value_clip)
    collective = clipped_value_loss(jnp.sum(out[..., 1], axis=0), mb.collective_value[0],
                                    mb.collective_target[0], value_clip)
    loss = jnp.sum(own) + collective
    return loss, loss


def _finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _optimizer(config: PPOConfig, lr: float) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr))


@dataclass(frozen=True)
class Trainer:
    """A compiled-once multi-agent PPO trainer; build it with `make_train`.

    `trainer(key)` runs the whole training from `key` and returns `(final TrainState, UpdateMetrics
    stacked over updates)`; `jax.jit(jax.vmap(trainer))(keys)` runs seeds in parallel.
    """

    config: PPOConfig
    env: Any
    method: GameMethod
    shaping: RewardShaping | None = None
    env_params: Any = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_agents(self) -> int:
        return self.env.num_agents

    @property
    def n_actions(self) -> int:
        return self.env.action_space(self.env.agents[0]).n

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.env.observation_space(self.env.agents[0]).shape)

    def __call__(self, key: jax.Array):
        return self.run(self.init(key), self.config.num_updates)

    # --- pieces ------------------------------------------------------------------------------
    def init(self, key: jax.Array) -> TrainState:
        """A fresh `TrainState` (networks, optimisers, method state, reset environments)."""
        c, n = self.config, self.n_agents
        k_policy, k_critic, k_env, k_run = jax.random.split(key, 4)
        obs_size = math.prod(self.obs_shape)
        policy = stacked_mlps(k_policy, n, (obs_size, *c.hidden, self.n_actions), c.policy_head_scale, c.activation)
        critic = stacked_mlps(k_critic, n, (obs_size, *c.critic_hidden, 2), 1.0, c.activation)
        obs, env_state = jax.vmap(lambda k: self.env.reset(k, self.env_params))(jax.random.split(k_env, c.num_envs))
        return TrainState(
            policy=policy,
            critic=critic,
            policy_opt=jax.vmap(_optimizer(c, c.lr).init)(policy),
            critic_opt=jax.vmap(_optimizer(c, c.critic_lr).init)(critic),
            method_state=self.method.init(unstack(policy, n)),
            env_state=env_state,
            obs=batchify(obs, self.env.agents),
            episode_returns=jnp.zeros((n, c.num_envs), jnp.float32),
            key=jax.random.key_data(k_run),
            update=jnp.zeros((), jnp.int32),
        )

    def rollout(self, state: TrainState, key: jax.Array):
        """`num_steps` steps in every environment. Returns `(state, Rollout, (episodes, episode_stats))`."""
        c, agents = self.config, self.env.agents

        def one(carry: RolloutCarry, k):
            obs, returns, stats = carry.obs, carry.episode_returns, carry.stats
            k_act, k_env = jax.random.split(k)
            logits = apply_stacked(state.policy, obs)
            out = apply_stacked(state.critic, obs)
            action = jax.random.categorical(k_act, logits)  # (N, E)
            log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[..., None], axis=-1)[..., 0]
            next_obs, env_state, rewards, dones, infos = jax.vmap(
                lambda kk, s, a: self.env.step(kk, s, a, self.env_params)
            )(jax.random.split(k_env, c.num_envs), carry.env_state, unbatchify(action, agents))
            reward = batchify(rewards, agents).astype(jnp.float32)  # (N, E)
            done = dones["__all__"]  # (E,)
            returns = returns + reward
            shaped = reward if self.shaping is None else self.shaping.shape(reward, returns)
            ended = done.astype(jnp.float32)[None, :]  # (1, E)
            infos = {k: jnp.swapaxes(v, 0, 1) for k, v in infos.items() if v.shape[1:] == (self.n_agents,)}
            infos["episode_return"] = returns
            stats = {k: stats[k] + jnp.sum(infos[k].astype(jnp.float32) * ended, axis=-1) for k in stats}
            returns = returns * (1.0 - ended)
            step = Rollout(obs, action, log_prob, out[..., 0], out[..., 1], reward, shaped, done)
            carry = RolloutCarry(env_state, batchify(next_obs, agents), returns, carry.episodes + jnp.sum(ended),
                                 stats)
            return carry, step

        stats0 = {k: jnp.zeros((self.n_agents,), jnp.float32) for k in self._stat_names()}
        carry0 = RolloutCarry(state.env_state, state.obs, state.episode_returns, jnp.zeros((), jnp.float32), stats0)
        carry, traj = jax.lax.scan(one, carry0, jax.random.split(key, c.num_steps))
        state = state._replace(env_state=carry.env_state, obs=carry.obs, episode_returns=carry.episode_returns)
        return state, traj, (carry.episodes, carry.stats)

    def _stat_names(self) -> tuple[str, ...]:
        if "stat_names" not in self._cache:
            def step_infos(key):
                _, env_state = self.env.reset(key, self.env_params)
                actions = {a: jnp.zeros((), jnp.int32) for a in self.env.agents}
                return self.env.step(key, env_state, actions, self.env_params)[4]

            infos = jax.eval_shape(step_infos, jax.random.key(0))  # shapes only: nothing is compiled
            names = {k for k, v in infos.items() if v.shape == (self.n_agents,)} | {"episode_return"}
            self._cache["stat_names"] = tuple(sorted(names))
        return self._cache["stat_names"]

    def advantages(self, state: TrainState, traj: Rollout) -> Minibatch:
        """GAE for every agent and for the collective; the whole rollout as one agent-major batch."""
        c = self.config
        last = apply_stacked(state.critic, state.obs)  # (N, E, 2)
        advantage, target = gae(traj.shaped, traj.value, traj.done[:, None, :], last[..., 0], c.gamma, c.gae_lambda)
        collective_value = jnp.sum(traj.share, axis=1)  # (T, E)
        collective_advantage, collective_target = gae(
            jnp.sum(traj.reward, axis=1), collective_value, traj.done, jnp.sum(last[..., 1], axis=0),
            c.gamma, c.gae_lambda)
        n, samples = self.n_agents, c.batch_steps

        def agent_major(x):  # (T, N, E, ...) -> (N, T * E, ...)
            return jnp.swapaxes(x, 0, 1).reshape((n, samples) + x.shape[3:])

        def repeated(x):  # (T, E) -> (N, T * E)
            return jnp.broadcast_to(x.reshape(1, samples), (n, samples))

        return Minibatch(
            obs=agent_major(traj.obs), action=agent_major(traj.action), log_prob=agent_major(traj.log_prob),
            advantage=agent_major(advantage), collective_advantage=repeated(collective_advantage),
            value=agent_major(traj.value), target=agent_major(target),
            collective_value=repeated(collective_value), collective_target=repeated(collective_target))

    def learn_minibatch(self, state: TrainState, mb: Minibatch):
        """One policy step (through the `GameMethod`) and one critic step on a minibatch."""
        c, n = self.config, self.n_agents
        mb = mb._replace(advantage=normalise(mb.advantage, axis=-1),
                         collective_advantage=normalise(mb.collective_advantage))
        nan_scale = 1.0
        if c.nan_at_update:
            nan_scale = jnp.where(state.update + 1 == c.nan_at_update, jnp.nan, 1.0)

        def terms(params):
            individual, collective, aux = policy_losses(params, mb, c.clip, c.ent_coef)
            return individual * nan_scale, collective * nan_scale, aux

        losses = StructuredLosses(individual=lambda p: terms(p)[0], collective=lambda p: terms(p)[1],
                                  separable=True)
        params = unstack(state.policy, n)
        individual, collective, (entropy, approx_kl) = terms(params)
        direction, method_state = self.method.update(losses, params, state.method_state)
        direction = stack(direction)
        updates, policy_opt = jax.vmap(_optimizer(c, c.lr).update)(direction, state.policy_opt, state.policy)
        policy = optax.apply_updates(state.policy, updates)

        grads, value_loss = jax.grad(critic_loss, has_aux=True)(state.critic, mb, c.value_clip)
        updates, critic_opt = jax.vmap(_optimizer(c, c.critic_lr).update)(grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, updates)

        state = state._replace(policy=policy, critic=critic, policy_opt=policy_opt, critic_opt=critic_opt,
                               method_state=method_state)
        info = jnp.stack([jnp.mean(individual), collective, value_loss, jnp.mean(entropy), jnp.mean(approx_kl),
                          optax.tree.norm(direction)])
        return state, info

    def update(self, state: TrainState) -> tuple[TrainState, UpdateMetrics]:
        """One PPO update: rollout, advantages, epochs of minibatch steps."""
        c = self.config
        key = jax.random.wrap_key_data(state.key)
        key, k_roll, k_epochs = jax.random.split(key, 3)
        state, traj, (episodes, stats) = self.rollout(state, k_roll)
        batch = self.advantages(state, traj)

        def epoch(state, k):
            minibatches = shuffled_minibatches(k, batch, c.num_minibatches, axis=1)
            if c.scan_minibatches:
                return jax.lax.scan(self.learn_minibatch, state, minibatches)
            infos = []
            for i in range(c.num_minibatches):
                state, info = self.learn_minibatch(state, jax.tree.map(lambda x, i=i: x[i], minibatches))
                infos.append(info)
            return state, jnp.stack(infos)

        epoch_keys = jax.random.split(k_epochs, c.update_epochs)
        if c.scan_minibatches:
            state, infos = jax.lax.scan(epoch, state, epoch_keys)
        else:
            infos = []
            for i in range(c.update_epochs):
                state, info = epoch(state, epoch_keys[i])
                infos.append(info)
            infos = jnp.stack(infos)
        info = jnp.mean(infos.reshape(-1, infos.shape[-1]), axis=0)
        state = state._replace(key=jax.random.key_data(key), update=state.update + 1)
        metrics = UpdateMetrics(
            episodes=episodes, episode_stats=stats, policy_loss=info[0], collective_loss=info[1],
            value_loss=info[2], entropy=info[3], approx_kl=info[4], direction_norm=info[5],
            finite=_finite((state.policy, state.critic)))
        return state, metrics

    def run(self, state: TrainState, num_updates: int):
        """`num_updates` updates from `state` in one `lax.scan`: `(state, UpdateMetrics with leading axis)`."""
        return jax.lax.scan(lambda s, _: self.update(s), state, None, length=num_updates)


def make_train(config: PPOConfig, env, method: GameMethod | None = None, shaping: RewardShaping | None = None,
               env_params=None) -> Trainer:
    """Build a multi-agent PPO trainer.

    Args:
        config: hyperparameters (validated here).
        env: a mixmo (JaxMARL-API) environment with a discrete action space; observations of any shape.
        method: the `GameMethod` giving the policy direction (default Simul-Ind, i.e. IPPO).
        shaping: optional reward shaping applied before advantages (SVO, SL).
        env_params: environment parameters (default: the environment's).

    Returns:
        A `Trainer`: `trainer(key) -> (TrainState, UpdateMetrics)`, jit-able and vmappable over keys.

    Example:
        >>> import jax, mixmo
        >>> from mixmo import envs, rl
        >>> env = envs.make("cleanup", max_steps=16, num_agents=2)
        >>> config = rl.PPOConfig(total_steps=64, num_envs=2, num_steps=16, num_minibatches=2, hidden=(8,),
        ...                       critic_hidden=(8,))
        >>> train = rl.make_train(config, env, mixmo.methods.aga(100.0))
        >>> state, metrics = jax.jit(train)(jax.random.key(0))
        >>> metrics.policy_loss.shape
        (2,)
    """
    config.validate()
    space = env.action_space(env.agents[0])
    if not hasattr(space, "n"):
        raise ValueError(f"make_train needs a discrete action space, got {space!r}.")
    return Trainer(config, env, simul_ind() if method is None else method, shaping, env_params)
