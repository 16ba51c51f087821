"""The multi-agent actor-critic trainer shared by PPO and A2C, with a `GameMethod` hook and reward mixing.

One update (`Trainer.update`):

1. roll out `num_steps` steps in `num_envs` environments (all agents act; separate per-agent policies
   stacked on a leading agent axis and evaluated with `vmap`);
2. optionally shape the rewards (SVO, SL: `mixmo.rl.svo`, `mixmo.rl.sl`) OR mix them with a `RewardMixer`
   (r̃_i = Σ_j Ã_ji r_j with this update's Ã, D3C Algorithm 3; `mixmo.rl.d3c`, `selfish`, `cooperative`);
3. advantages and value targets by the config's `targets` (PPO: GAE; A2C: V-trace, which on-policy is
   GAE with λ = 1): agent i's from its (shaped or mixed) rewards and its own critic V_i; the collective
   advantage from the collective return Σ_i r_i (raw rewards; mixing leaves the sum unchanged) and V_c;
4. `update_epochs` epochs over `num_minibatches` minibatches. In each minibatch agent i's loss is
   l_i = the config's policy surrogate with its own advantages - ent_coef * entropy_i, and the collective
   loss is l_c = Σ_i (surrogate with the collective advantage - ent_coef * entropy_i). The policy direction
   is `method.update(StructuredLosses(individual=l, collective=l_c, separable=True), params)` with the
   stacked policy parameters unstacked into a tuple of per-agent pytrees, so Simul-Ind is IPPO (or
   independent A2C), Simul-Co every agent on the collective advantage, and CGA, SGA, AgA adjust exactly as
   on the differentiable games. The direction goes through the config's per-agent optax optimiser; the
   critics descend the config's value loss with the same kind of optimiser;
5. with a mixer: `mixer.update(mixer_state, g)`, g = each agent's mean MIXED episode return over the
   episodes that ended during this update's rollout. In an update in which no episode ended the mixer
   state is left as it is (its clock does not advance): D3C's learner call ("Output: return over episode g",
   Algorithm 3) is a round of finished episodes, not a fixed number of gradient steps. With the fixed-length,
   simultaneously started episodes of mixmo's environments every environment ends its episode in the same
   update, so every episode is played under one Ã.

Parameter sharing (`shared=True`): one policy and one critic for all agents; the method sees one player whose
individual loss is the mean of the agents' l_i and whose collective loss is the mean of their collective terms.
A KL early stop (`PPOConfig.target_kl`) ends an update's epochs as stable-baselines3 does.

The config supplies what differs between algorithms (`PPOConfig`, `A2CConfig`): `targets`, `surrogate`,
`value_loss`, `optimizer`, `normalise_advantages`, `shuffle`, `update_epochs`, `num_minibatches`.

Critics: each agent has one critic network with two outputs, V_i(o_i) (its own return) and u_i(o_i); the
collective critic is V_c(s) = Σ_i u_i(o_i), an additive (VDN-style) decomposition over the agents'
egocentric views, trained on the collective return.

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
import optax

from mixmo.envs import frame_stack
from mixmo.game import StructuredLosses
from mixmo.methods import GameMethod, diagnostics, simul_ind
from mixmo.rl import _random
from mixmo.rl._batching import batchify, stack, unbatchify, unstack
from mixmo.rl._cnn import critic_outputs
from mixmo.rl._env_view import EnvView
from mixmo.rl._gru import masked_logits
from mixmo.rl._layouts import Targets, minibatches, normalised
from mixmo.rl._mixing import check_iteration
from mixmo.rl._networks import MLP, apply_stacked, stacked_mlps
from mixmo.rl._policies import FeedForwardPolicy
from mixmo.rl._ppo_loss import clipped_surrogate, clipped_value_loss
from mixmo.rl._reward import RewardTransform, identity, running_mixed
from mixmo.rl._train_state import (Minibatch, MinibatchInfo, Mixing, Rollout, RolloutCarry, TrainState,
                                   UpdateMetrics, finite)


def policy_terms(logits: jax.Array, mask: jax.Array | None, action: jax.Array, old_log_prob: jax.Array,
                 advantage: jax.Array, collective_advantage: jax.Array, surrogate: Callable, ent_coef: float):
    """Per-agent policy losses and the collective loss from a minibatch's logits, agent-major.

    Args:
        logits: `(N, S, A)` for the `N` agents' `S` samples; mask: `(N, S, A)` available actions or None
            (unavailable actions get probability 0: `mixmo.rl.masked_logits`).
        action, old_log_prob, advantage, collective_advantage: `(N, S)` (the collective advantage repeated
            per agent); advantages already normalised where the algorithm does.
        surrogate: `(log_prob, old_log_prob, advantage) -> loss` for one agent's samples (a config's `surrogate`).

    Returns:
        `(individual, collective, aux)`: individual losses l_i = surrogate - ent_coef * entropy_i `(n,)`, the
        collective loss Σ_i (surrogate with the collective advantage - ent_coef * entropy_i) (scalar), and
        `aux = (entropy (n,), approx_kl (n,))`.
    """
    vmapped = jax.vmap(surrogate)
    log_probs = jax.nn.log_softmax(masked_logits(logits, mask))
    log_prob = jnp.take_along_axis(log_probs, action[..., None], axis=-1)[..., 0]
    probs = jnp.exp(log_probs)
    if mask is not None:  # masked actions: probability 0, term 0
        log_probs = jnp.where(probs > 0, log_probs, 0.0)
    entropy = -jnp.mean(jnp.sum(probs * log_probs, axis=-1), axis=-1)
    individual = vmapped(log_prob, old_log_prob, advantage) - ent_coef * entropy
    collective = jnp.sum(vmapped(log_prob, old_log_prob, collective_advantage) - ent_coef * entropy)
    log_ratio = log_prob - old_log_prob
    approx_kl = jnp.mean(jnp.expm1(log_ratio) - log_ratio, axis=-1)
    return individual, collective, (entropy, approx_kl)


def _surrogate(surrogate: Callable | float) -> Callable:
    if callable(surrogate):
        return surrogate
    return lambda lp, old, adv: clipped_surrogate(lp, old, adv, surrogate)


def policy_losses(policy_params: tuple, mb: Minibatch, surrogate: Callable | float, ent_coef: float):
    """`policy_terms` of feed-forward policies on a `Minibatch` of samples.

    Args:
        policy_params: tuple of per-agent policy `MLP`s (the `GameMethod`'s `Params`).
        mb: the minibatch; advantages already normalised where the algorithm does.
        surrogate: a config's `surrogate`, or a number: PPO's clip epsilon (`clipped_surrogate`).
    """
    logits = apply_stacked(stack(policy_params), mb.obs)  # (N, B, A)
    return policy_terms(logits, None, mb.action, mb.log_prob, mb.advantage, mb.collective_advantage,
                        _surrogate(surrogate), ent_coef)


def critic_loss(critic: MLP, mb: Minibatch, value_loss: Callable | float):
    """Sum of the agents' value losses and the collective critic's; returns `(loss, loss)`.

    `value_loss`: `(value, old_value, target) -> loss` (a config's `value_loss`), or a number: PPO's value
    clip (`clipped_value_loss`).
    """
    if not callable(value_loss):
        clip = value_loss
        value_loss = lambda v, old, target: clipped_value_loss(v, old, target, clip)  # noqa: E731
    out = critic_outputs(critic, mb.obs)  # (N, B, 2)
    own = jax.vmap(value_loss)(out[..., 0], mb.value, mb.target)
    collective = value_loss(jnp.sum(out[..., 1], axis=0), mb.collective_value[0], mb.collective_target[0])
    loss = jnp.sum(own) + collective
    return loss, loss


def _expand(mask: jax.Array, like: jax.Array) -> jax.Array:
    """`mask` `(k,)` with trailing unit axes to broadcast against `like` `(k, ...)`."""
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


def method_step(method: GameMethod, state, n: int, terms, critic_grads, policy_optimizer, critic_optimizer,
                diagnose: bool = False):
    """One policy step through `method` and one critic step; shared by the feed-forward and recurrent trainers.

    Args:
        state: a train state with `policy`, `critic`, `policy_opt`, `critic_opt`, `method_state` (stacked on a
            leading axis of `n` players: the agents, or 1 for a policy shared by all).
        terms: `params -> (individual (n,), collective, (entropy (agents,), approx_kl (agents,)))` for the `n`
            players' params.
        critic_grads: `critic -> (gradients, value loss)`.
        policy_optimizer, critic_optimizer: per-player optax transformations (vmapped over the leading axis).
            `critic_optimizer` None: `state.policy` is one actor-critic module per player (`PPOConfig.network`
            "cnn"): `critic_grads` is taken at `state.policy`, added to the method's direction (which the value
            head does not enter) and the sum goes through `policy_optimizer`, stable-baselines3's one optimiser
            over policy loss + vf_coef * value loss; `state.critic` is left as it is.
        diagnose: also compare the direction with ξ, ξ_c and H_c ξ_c (`mixmo.methods.diagnostics`).

    Returns:
        `(state, MinibatchInfo)`.
    """
    losses = StructuredLosses(individual=lambda p: terms(p)[0], collective=lambda p: terms(p)[1], separable=True)
    params = unstack(state.policy, n)
    individual, collective, (entropy, approx_kl) = terms(params)
    direction, method_state = method.update(losses, params, state.method_state)
    checks = diagnostics(losses, params, direction) if diagnose else None
    direction = stack(direction)
    if critic_optimizer is None:  # one actor-critic module: the value gradient joins the direction
        grads, value_loss = critic_grads(state.policy)
        total = jax.tree.map(jnp.add, direction, grads)
        updates, policy_opt = jax.vmap(policy_optimizer.update)(total, state.policy_opt, state.policy)
        policy = optax.apply_updates(state.policy, updates)
        critic, critic_opt = state.critic, state.critic_opt
    else:
        updates, policy_opt = jax.vmap(policy_optimizer.update)(direction, state.policy_opt, state.policy)
        policy = optax.apply_updates(state.policy, updates)
        grads, value_loss = critic_grads(state.critic)
        updates, critic_opt = jax.vmap(critic_optimizer.update)(grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, updates)
    state = state._replace(policy=policy, critic=critic, policy_opt=policy_opt, critic_opt=critic_opt,
                           method_state=method_state)
    info = MinibatchInfo(policy_loss=jnp.mean(individual), collective_loss=collective, value_loss=value_loss,
                         entropy=jnp.mean(entropy), approx_kl=jnp.mean(approx_kl),
                         direction_norm=optax.tree.norm(direction), diagnostics=checks)
    return state, info


def shared_terms(terms, n_agents: int):
    """`terms` of one policy shared by all agents: the method sees ONE player whose individual loss is the mean
    of the agents' losses and whose collective loss is the mean of the agents' collective terms (how the AgA
    authors' shared-policy code averages over the agents' samples; App. E.1 shares one policy)."""

    def shared(params):
        individual, collective, aux = terms(params)
        return jnp.mean(individual)[None], collective / n_agents, aux

    return shared


def mean_infos(infos: MinibatchInfo, ran: jax.Array | None = None) -> dict:
    """Means over an update's minibatch steps of `MinibatchInfo`s with leading `(epochs, minibatches)` axes, as
    `UpdateMetrics` keyword arguments; `ran` (`(epochs,)` bool) leaves epochs that did not run out of the
    means. `steps_taken` is the fraction of all scheduled steps that were taken."""
    if ran is None:
        mean = lambda x: jnp.mean(jnp.reshape(x, (-1,)))  # noqa: E731
    else:
        weights = jnp.broadcast_to(ran[:, None], infos.policy_loss.shape[:2]).astype(jnp.float32)
        mean = lambda x: jnp.sum(x * weights) / jnp.sum(weights)  # noqa: E731
    out = {name: mean(getattr(infos, name)) for name in
           ("policy_loss", "collective_loss", "value_loss", "entropy", "approx_kl", "direction_norm")}
    stepped = jnp.broadcast_to(jnp.asarray(infos.stepped, jnp.float32), infos.policy_loss.shape)
    out["steps_taken"] = jnp.mean(stepped)
    out["diagnostics"] = None if infos.diagnostics is None else jax.tree.map(mean, infos.diagnostics)
    return out


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
            method_state=self.method.init(unstack(policy, players)),
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
        """`num_steps` steps in every environment. Returns `(state, Rollout, (episodes, episode_stats))`."""
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
        return state, traj, (carry.episodes, carry.stats)

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
            logits = self.policy.replay(stack(params), inputs.obs, inputs.first, inputs.carry)
            return policy_terms(logits, inputs.mask, inputs.action, inputs.log_prob, inputs.advantage,
                                inputs.collective_advantage, c.surrogate, c.ent_coef)

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
        return minibatches(self.policy.layout, key, batch, c.num_minibatches, c.shuffle)

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

    def _epochs(self, state: TrainState, batch: Minibatch, key: jax.Array):
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
