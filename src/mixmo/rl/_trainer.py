"""The multi-agent actor-critic trainer shared by PPO and A2C and by feed-forward and recurrent policies, with a
`GameMethod` hook and one reward transform.

One update (`Trainer.update`):

1. roll out `num_steps` steps in `num_envs` environments (all agents act; separate per-agent policies
   stacked on a leading agent axis and evaluated with `vmap`). The policy object (`mixmo.rl._policies`:
   `FeedForwardPolicy`, MLP or CNN; `RecurrentPolicy`, GRU) acts and carries its state (nothing, or the GRU
   states, reset at episode starts); the environment view (`mixmo.rl._env_view`) gives the action masks
   (recurrent runs) and the critics' input (own observation, or global state and own observation);
2. optionally transform the rewards with the `RewardTransform` (`mixmo.rl._reward`): shape them (SVO, SL:
   `mixmo.rl.svo`, `mixmo.rl.sl`) OR mix them (r̃_i = Σ_j Ã_ji r_j with this update's Ã, D3C Algorithm 3;
   `mixmo.rl.d3c`, `selfish`, `cooperative`);
3. advantages and value targets by the config's `targets` (PPO: GAE; A2C: V-trace, which on-policy is
   GAE with λ = 1): agent i's from its (shaped or mixed) rewards and its own critic V_i; the collective
   advantage from the collective return Σ_i r_i (raw rewards; mixing leaves the sum unchanged; or
   `collective_reward`) and V_c. The rollout becomes one batch in the policy's layout (`mixmo.rl._layouts`):
   agent-major samples (feed-forward) or environment-major whole sequences with the GRU states before them;
4. `update_epochs` epochs over `num_minibatches` minibatches (shuffled samples, or shuffled sequences that the
   GRUs replay from their stored initial states). In each minibatch agent i's loss is
   l_i = the config's policy surrogate with its own advantages - ent_coef * entropy_i, and the collective
   loss is l_c = Σ_i (surrogate with the collective advantage - ent_coef * entropy_i). The policy direction
   is `method.update(StructuredLosses(individual=l, collective=l_c, separable=True), params)` with the
   stacked policy parameters unstacked into a tuple of per-agent pytrees (or, for a `joint` method, passed
   stacked as one player: the same direction, smaller programs; `GameMethod.joint`), so Simul-Ind is IPPO (or
   independent A2C), Simul-Co every agent on the collective advantage, and CGA, SGA, AgA adjust exactly as
   on the differentiable games (through the GRU unrolls for recurrent policies). The direction goes through
   the config's per-agent optax optimiser; the critics descend the config's value loss with the same kind of
   optimiser;
5. with a mixing transform: `reward.update(state, g)`, g = each agent's mean MIXED episode return over the
   episodes that ended during this update's rollout. In an update in which no episode ended the mixer
   state is left as it is (its clock does not advance): D3C's learner call ("Output: return over episode g",
   Algorithm 3) is a round of finished episodes, not a fixed number of gradient steps. With the fixed-length,
   simultaneously started episodes of mixmo's environments every environment ends its episode in the same
   update, so every episode is played under one Ã. Shaping has no state to update.

Parameter sharing (`shared=True`): one policy and one critic for all agents; the method sees one player whose
individual loss is the mean of the agents' l_i and whose collective loss is the mean of their collective terms.
A KL early stop (`PPOConfig.target_kl`) ends an update's epochs as stable-baselines3 does.

The config supplies what differs between algorithms (`PPOConfig`, `A2CConfig`): `targets`, `surrogate`,
`value_loss`, `optimizer`, `normalise_advantages`, `shuffle`, `update_epochs`, `num_minibatches`.

Critics: each agent has one critic network with two outputs, V_i(o_i) (its own return) and u_i(o_i); the
collective critic is V_c(s) = Σ_i u_i(o_i), an additive (VDN-style) decomposition over the agents'
egocentric views, trained on the collective return. With a central critic (recurrent runs, `critic="central"`)
the input is the global state and the agent's own observation instead of o_i.

The whole run is `Trainer.__call__(key)`: one `jit`-able function (a `lax.scan` over updates), vmappable
over seeds. `Trainer.run(state, n)` runs `n` updates from a `TrainState`, for chunked runs with progress,
checkpoints and resume; chaining chunks gives bit-identical results to one call of the same chunk length.

References: Schulman et al. 2017 (PPO); Mnih et al. 2016 (A2C/A3C); Espeholt et al. 2018 (IMPALA, V-trace);
de Witt et al. 2020 (IPPO); purejaxrl `ppo.py` (make_train, one jit); AgA paper (Li et al. 2024) §5.2;
D3C paper (Gemp et al. 2022) §2.6 Algorithms 1 and 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import jax
import jax.numpy as jnp

from mixmo.envs import frame_stack
from mixmo.methods import GameMethod, simul_ind
from mixmo.rl import _random
from mixmo.rl._ac_step import critic_loss, mean_infos, method_step, player_view, replayed_terms, shared_terms
from mixmo.rl._batching import batchify, unbatchify
from mixmo.rl._cnn import critic_outputs
from mixmo.rl._env_view import EnvView
from mixmo.rl._gru import masked_logits
from mixmo.rl._layouts import Targets, layout_minibatches, normalised
from mixmo.rl._mixing import check_iteration
from mixmo.rl._networks import stacked_mlps
from mixmo.rl._policies import FeedForwardPolicy
from mixmo.rl._reward import RewardTransform, identity, running_mixed
from mixmo.rl._train_state import (EpisodeInfo, MinibatchInfo, Mixing, Rollout, RolloutCarry, TrainState,
                                   UpdateMetrics, finite)


def _expand(mask: jax.Array, like: jax.Array) -> jax.Array:
    """`mask` `(k,)` with trailing unit axes to broadcast against `like` `(k, ...)`."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


@dataclass(frozen=True)
class Trainer:
    """A compiled-once multi-agent actor-critic trainer (PPO or A2C by its config; feed-forward or recurrent by
    its `policy`); build it with `make_train` or `mixmo.rl.make_recurrent_train`.

    `trainer(key)` runs the whole training from `key` and returns `(final TrainState, UpdateMetrics
    stacked over updates)`; `jax.jit(jax.vmap(trainer))(keys)` runs seeds in parallel.
    """

    config: Any
    env: Any
    method: GameMethod
    reward: RewardTransform = field(default_factory=identity)
    env_params: Any = None
    policy: Any = field(default_factory=FeedForwardPolicy)
    view: EnvView | None = None
    shared: bool = False
    collective_reward: Callable | None = None
    diagnose: bool = False
    # stat names, and the compiled programs of `train_segments` (`segment_program`)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if self.view is None:
            object.__setattr__(self, "view", EnvView(self.env))

    @property
    def n_agents(self) -> int:
        return self.env.num_agents

    @property
    def players(self) -> int:
        """The method's players: one policy per agent, or one shared by all (`shared`)."""
        return 1 if self.shared else self.n_agents

    @property
    def one_module(self) -> bool:
        """One actor-critic module per player (`PPOConfig.network` "cnn"): `policy` holds it, `critic` is None."""
        return self.policy.one_module

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
        """A fresh `TrainState` (networks, optimisers, method and transform states, reset environments)."""
        c, n, players = self.config, self.n_agents, self.players
        k_policy, k_critic, k_env, k_run = jax.random.split(key, 4)
        policy = self.policy.init(k_policy, players, self.obs_shape, self.n_actions, c)
        obs, env_state = jax.vmap(lambda k: self.env.reset(k, self.env_params))(jax.random.split(k_env, c.num_envs))
        seen = self.view.observe(obs, env_state)
        critic = None
        if not self.one_module:
            size = self.view.critic_size(self.obs_shape, seen.world)
            critic = stacked_mlps(k_critic, players, (size, *c.critic_hidden, 2), 1.0, c.activation)
        mixing = None
        if self.reward.mixes:
            # a key of its own, folded from the run key, so the networks' and environments' keys do not change
            k_mix = jax.random.fold_in(key, 1)
            mixing = Mixing(self.reward.init(k_mix, n), jnp.zeros((n, c.num_envs), jnp.float32))
        return TrainState(
            policy=policy,
            critic=critic,
            policy_opt=jax.vmap(c.optimizer(c.lr).init)(policy),
            critic_opt=None if critic is None else jax.vmap(c.optimizer(c.critic_lr).init)(critic),
            method_state=self.method.init(player_view(self.method, players)[0](policy)),
            env_state=env_state,
            obs=seen.obs,
            episode_returns=jnp.zeros((n, c.num_envs), jnp.float32),
            key=jax.random.key_data(k_run),
            update=jnp.zeros((), jnp.int32),
            mixing=mixing, world=seen.world, mask=seen.mask,
            carry=self.policy.initial_carry(n, c.num_envs),
            first=jnp.ones((c.num_envs,), bool),
        )

    def rollout(self, state: TrainState, key: jax.Array):
        """`num_steps` steps in every environment. Returns `(state, Rollout, EpisodeInfo)`."""
        c, agents, transform = self.config, self.env.agents, self.reward
        reward_state = () if state.mixing is None else state.mixing.state
        value_net = self.value_net(state)

        def one(carry: RolloutCarry, k):
            obs, returns, stats = carry.obs, carry.episode_returns, carry.stats
            k_act, k_env = jax.random.split(k)
            logits, out, policy_carry = self.policy.act(state.policy, value_net, obs,
                                                        self.view.critic_input(obs, carry.world), carry.carry,
                                                        carry.first)
            logits = masked_logits(logits, carry.mask)
            action = _random.categorical(k_act, logits)  # (N, E); jax.random.categorical's draw, made flat
            log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[..., None], axis=-1)[..., 0]
            next_obs, env_state, rewards, dones, infos = jax.vmap(
                lambda kk, s, a: self.env.step(kk, s, a, self.env_params)
            )(jax.random.split(k_env, c.num_envs), carry.env_state, unbatchify(action, agents))
            reward = batchify(rewards, agents).astype(jnp.float32)  # (N, E)
            done = dones["__all__"]  # (E,)
            returns = returns + reward
            shaped = transform.apply(reward_state, reward, returns)
            ended = done.astype(jnp.float32)[None, :]  # (1, E)
            infos = {k: jnp.swapaxes(v, 0, 1) for k, v in infos.items() if v.shape[1:] == (self.n_agents,)}
            infos["episode_return"] = returns
            mixed_returns = carry.mixed_returns
            if transform.mixes:
                infos["mixed_return"], mixed_returns = running_mixed(shaped, mixed_returns, ended)
            stats = {k: stats[k] + jnp.sum(infos[k].astype(jnp.float32) * ended, axis=-1) for k in stats}
            returns = returns * (1.0 - ended)
            step = Rollout(obs, action, log_prob, out[..., 0], out[..., 1], reward, shaped, done, carry.world,
                           carry.mask, carry.first)
            seen = self.view.observe(next_obs, env_state)
            carry = RolloutCarry(env_state, seen.obs, seen.world, seen.mask, policy_carry, done, returns,
                                 carry.episodes + jnp.sum(ended), stats, mixed_returns)
            return carry, step

        stats0 = {k: jnp.zeros((self.n_agents,), jnp.float32) for k in self._stat_names()}
        mixed0 = None if state.mixing is None else state.mixing.episode_returns
        carry0 = RolloutCarry(state.env_state, state.obs, state.world, state.mask, state.carry, state.first,
                              state.episode_returns, jnp.zeros((), jnp.float32), stats0, mixed0)
        carry, traj = jax.lax.scan(one, carry0, jax.random.split(key, c.num_steps))
        state = state._replace(env_state=carry.env_state, obs=carry.obs, world=carry.world, mask=carry.mask,
                               carry=carry.carry, first=carry.first, episode_returns=carry.episode_returns)
        if state.mixing is not None:
            state = state._replace(mixing=state.mixing._replace(episode_returns=carry.mixed_returns))
        return state, traj, EpisodeInfo(carry.episodes, carry.stats)

    def _stat_names(self) -> tuple[str, ...]:
        if "stat_names" not in self._cache:
            def step_infos(key):
                _, env_state = self.env.reset(key, self.env_params)
                actions = {a: jnp.zeros((), jnp.int32) for a in self.env.agents}
                return self.env.step(key, env_state, actions, self.env_params)[4]

            infos = jax.eval_shape(step_infos, jax.random.key(0))  # shapes only: nothing is compiled
            names = {k for k, v in infos.items() if v.shape == (self.n_agents,)} | {"episode_return"}
            if self.reward.mixes:
                names.add("mixed_return")
            self._cache["stat_names"] = tuple(sorted(names))
        return self._cache["stat_names"]

    def advantages(self, state: TrainState, traj: Rollout, carry0=()):
        """Advantages and targets (the config's `targets`) for every agent and for the collective; the rollout as
        one batch in the policy's layout (`carry0`: the policy's carries before the rollout, for sequences)."""
        c = self.config
        last = critic_outputs(self.value_net(state), self.view.critic_input(state.obs, state.world))  # (N, E, 2)
        advantage, target = c.targets(traj.shaped, traj.value, traj.done[:, None, :], last[..., 0])
        collective_value = jnp.sum(traj.share, axis=1)  # (T, E)
        collective_reward = (jnp.sum(traj.reward, axis=1) if self.collective_reward is None
                             else self.collective_reward(traj.reward))
        collective_advantage, collective_target = c.targets(
            collective_reward, collective_value, traj.done, jnp.sum(last[..., 1], axis=0))
        return self.policy.layout.batch(traj, carry0, Targets(advantage, target, collective_advantage,
                                                              collective_value, collective_target))

    def value_net(self, state: TrainState):
        """The network with the critic's outputs: `state.critic`, or the actor-critic module `state.policy`."""
        return state.policy if self.one_module else state.critic

    def learn_minibatch(self, state: TrainState, mb):
        """One policy step (through the `GameMethod`) and one critic step on a minibatch (with one actor-critic
        module, one step along the method's direction plus value_coef times the value loss's gradient; with
        parameter sharing the value loss is divided by the number of agents, like the policy loss)."""
        c, n, layout = self.config, self.n_agents, self.policy.layout
        if c.normalise_advantages:
            mb = normalised(layout, mb)
        inputs = layout.policy_inputs(mb)
        critic_mb = layout.critic_batch(mb, self.view.critic_input)

        def terms(params):
            return replayed_terms(self.policy, params, inputs, c.surrogate, c.ent_coef)

        scale = c.value_coef / (n if self.shared else 1) if self.one_module else 1.0

        def scaled_loss(net):
            loss = critic_loss(net, critic_mb, c.value_loss)[0]
            return scale * loss, loss

        def critic_grads(net):
            if not self.one_module:
                return jax.grad(critic_loss, has_aux=True)(net, critic_mb, c.value_loss)
            return jax.grad(scaled_loss, has_aux=True)(net)

        if self.shared:
            terms = shared_terms(terms, n)
        return method_step(self.method, state, self.players, terms, critic_grads, c.optimizer(c.lr),
                           None if self.one_module else c.optimizer(c.critic_lr), self.diagnose)

    def _guarded_minibatch(self, carry, mb):
        """`learn_minibatch` under a KL early stop (stable-baselines3's semantics, `PPOConfig.target_kl`): the
        KL estimate is that of the step's own forward pass, before the step; once it exceeds 1.5 * target_kl
        this step and every later one of the update are skipped."""
        state, going = carry
        stepped, info = self.learn_minibatch(state, mb)
        going = going & (info.approx_kl <= 1.5 * self.config.target_kl)
        state = jax.tree.map(lambda new, old: jnp.where(going, new, old), stepped, state)
        return (state, going), info._replace(stepped=going.astype(jnp.float32))

    def _minibatches(self, key: jax.Array, batch):
        c = self.config
        return layout_minibatches(self.policy.layout, key, batch, c.num_minibatches, c.shuffle)

    def update(self, state: TrainState) -> tuple[TrainState, UpdateMetrics]:
        """One update: rollout, advantages, epochs of minibatch steps, then the reward transform's step."""
        key = jax.random.wrap_key_data(state.key)
        key, k_roll, k_epochs = jax.random.split(key, 3)
        carry0 = self.policy.reset(state.carry, state.first)
        state, traj, (episodes, stats) = self.rollout(state, k_roll)
        batch = self.advantages(state, traj, carry0)

        state, infos, ran = self._epochs(state, batch, k_epochs)
        return self.finish_update(state, key, episodes, stats, infos, ran)

    def finish_update(self, state, key: jax.Array, episodes, stats, infos: MinibatchInfo, ran=None):
        """After the epochs: the key and update count, the transform's step, the NaN check and the update's
        `UpdateMetrics`."""
        state = state._replace(key=jax.random.key_data(key), update=state.update + 1)
        rows, checked = None, (state.policy, state.critic)
        if self.reward.mixes:
            state = state._replace(mixing=self._transform_step(state.mixing, episodes, stats["mixed_return"]))
            rows = self.reward.rows(state.mixing.state)
            checked = (*checked, rows)
        metrics = UpdateMetrics(episodes=episodes, episode_stats=stats, finite=finite(checked), mixing_rows=rows,
                                **mean_infos(infos, ran))
        return state, metrics

    def _epochs(self, state: TrainState, batch, key: jax.Array):
        """`update_epochs` epochs of minibatch steps: `(state, MinibatchInfo with leading (epochs, minibatches),
        ran)`, `ran` None or a boolean `(epochs,)` mask of the epochs that ran.

        With `target_kl` the epochs run in a `lax.while_loop` that ends when the KL stop fires (vmapped over
        seeds: when it has fired in every seed), so the epochs after the stop cost nothing; their infos are
        zeros, left out of the means by `ran`.
        """
        c = self.config
        epoch_keys = jax.random.split(key, c.update_epochs)
        if c.target_kl:
            rows = jnp.arange(c.update_epochs)

            def epoch(carry):
                state, going, i, infos = carry
                minibatches = self._minibatches(epoch_keys[i], batch)
                (state, going), info = jax.lax.scan(self._guarded_minibatch, (state, going), minibatches)
                infos = jax.tree.map(lambda buf, x: jnp.where(_expand(rows == i, buf), x[None], buf), infos, info)
                return state, going, i + 1, infos

            first = jax.tree.map(lambda x: x[0], self._minibatches(epoch_keys[0], batch))
            shapes = jax.eval_shape(self._guarded_minibatch, (state, jnp.ones((), bool)), first)[1]
            infos = jax.tree.map(lambda x: jnp.zeros((c.update_epochs, c.num_minibatches) + x.shape, x.dtype),
                                 shapes)
            state, _, done, infos = jax.lax.while_loop(
                lambda carry: carry[1] & (carry[2] < c.update_epochs), epoch,
                (state, jnp.ones((), bool), jnp.zeros((), jnp.int32), infos))
            return state, infos, rows < done

        def epoch(state, k):
            minibatches = self._minibatches(k, batch)
            if c.scan_minibatches:
                return jax.lax.scan(self.learn_minibatch, state, minibatches)
            infos = []
            for i in range(c.num_minibatches):
                state, info = self.learn_minibatch(state, jax.tree.map(lambda x, i=i: x[i], minibatches))
                infos.append(info)
            return state, jax.tree.map(lambda *xs: jnp.stack(xs), *infos)

        if c.scan_minibatches:
            return (*jax.lax.scan(epoch, state, epoch_keys), None)
        infos = []
        for i in range(c.update_epochs):
            state, info = epoch(state, epoch_keys[i])
            infos.append(info)
        return state, jax.tree.map(lambda *xs: jnp.stack(xs), *infos), None

    def _transform_step(self, mixing: Mixing, episodes: jax.Array, mixed_sums: jax.Array) -> Mixing:
        """`reward.update` with g = mean mixed episode return per agent, only if an episode ended (see above)."""
        g = mixed_sums / jnp.maximum(episodes, 1.0)
        stepped = self.reward.update(mixing.state, g, episodes)
        kept = jax.tree.map(lambda new, old: jnp.where(episodes > 0, new, old), stepped, mixing.state)
        return mixing._replace(state=kept)

    def run(self, state: TrainState, num_updates: int):
        """`num_updates` updates from `state` in one `lax.scan`: `(state, UpdateMetrics with leading axis)`."""
        return jax.lax.scan(lambda s, _: self.update(s), state, None, length=num_updates)


def check_trainer_args(name: str, config, env, reward: RewardTransform | None) -> None:
    """What every actor-critic trainer refuses, as one `ValueError` naming `name`: an invalid config, a
    non-discrete action space, reward mixing with fewer than 2 agents, a D3C reading other than one iteration
    per update."""
    config.validate()
    space = env.action_space(env.agents[0])
    if not hasattr(space, "n"):
        raise ValueError(f"{name} needs a discrete action space, got {space!r}.")
    if reward is not None and reward.mixes:
        if env.num_agents < 2:
            raise ValueError(f"{name}: reward mixing needs at least 2 agents.")
        check_iteration(reward.iteration, ("update",), name)


def make_train(config, env, method: GameMethod | None = None, reward: RewardTransform | None = None,
               env_params=None, *, shared: bool = False, collective_reward: Callable | None = None,
               diagnose: bool = False) -> Trainer:
    """Build a multi-agent PPO or A2C trainer with feed-forward policies (by the type of `config`).

    Args:
        config: `PPOConfig` or `A2CConfig` (validated here).
        env: a mixmo (JaxMARL-API) environment with a discrete action space; observations of any shape.
        method: the `GameMethod` giving the policy direction (default Simul-Ind, i.e. IPPO / independent A2C).
        reward: optional `RewardTransform` applied before advantages: shaping (`mixmo.rl.svo`, `sl`, `svo_e1`)
            or mixing (`mixmo.rl.d3c`, `selfish`, `cooperative`; D3C's g and its budget balance are defined on
            mixed raw rewards, so one transform, never a composition).
        env_params: environment parameters (default: the environment's).
        shared: one policy and one critic for all agents (parameter sharing, as stable-baselines3 with the
            agents as slots of one policy; the AgA paper App. E.1 for every method but Simul-Ind). The method
            then sees one player (`shared_terms`). Default: one policy and one critic per agent.
        collective_reward: `rewards (T, N, E) -> (T, E)`, the reward of the collective loss and of the
            collective critic (default: Σ_i r_i; `mixmo.rl.fairness_collective(alpha)`: the AgA paper's §5.2).
        diagnose: compute `mixmo.methods.diagnostics` at every minibatch step (reported in `UpdateMetrics`).

    With `config.frame_stack` k > 1 the trainer's `env` is `mixmo.envs.frame_stack(env, k)`; with
    `config.network` "cnn" its `policy` holds one actor-critic module per player and `critic` is None.

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
    check_trainer_args("make_train (A2C/PPO)", config, env, reward)
    env = frame_stack(env, getattr(config, "frame_stack", 1))
    network = getattr(config, "network", "mlp")
    if network == "cnn" and len(env.observation_space(env.agents[0]).shape) != 3:
        raise ValueError(f"make_train: network='cnn' needs (H, W, C) observations, got shape "
                         f"{env.observation_space(env.agents[0]).shape}.")
    return Trainer(config, env, simul_ind() if method is None else method, identity() if reward is None else reward,
                   env_params, FeedForwardPolicy(network), EnvView(env), shared=shared,
                   collective_reward=collective_reward, diagnose=diagnose)
