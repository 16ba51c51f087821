"""Recurrent multi-agent PPO (IPPO / MAPPO-style) with the same `GameMethod` hook as `mixmo.rl.make_train`.

For partially observed, heterogeneous agents (Selfish-MMM2, AgA paper §5.3): each agent has its own GRU policy
(`mixmo.rl.GRUPolicy`; parameters stacked on the agent axis, the unit type is in the observation) that sees
only its own observation and samples among its available actions (the environment's `avail_actions(state)`
mask; all actions when it has none). Each agent has a feed-forward critic with two outputs, V_i and u_i, the
collective value being V_c = sum_i u_i, as in `mixmo.rl.make_train`; its input is

- `critic="local"`: the agent's own observation (IPPO; the paper's Simul-Ind), or
- `critic="central"`: the environment's global state `world_state(state)` and the agent's own observation
  (MAPPO's agent-specific global state; the paper's other methods).

One update: a rollout of `num_steps` steps in `num_envs` environments (carrying every agent's GRU state, reset at
episode starts), optional reward shaping (SVO, SL) or reward mixing (`mixer=`, below), GAE for every agent and
for the collective, then
`update_epochs` epochs over `num_minibatches` minibatches of whole environment sequences (the GRUs replay each
sequence from its stored initial state). In each minibatch agent i's loss is its PPO-clip surrogate with its
own normalised advantages minus the entropy bonus, the collective loss is the sum over agents of the surrogate
with the collective advantage minus the entropy bonuses, and the policy direction is
`method.update(StructuredLosses(individual, collective, separable=True), params, state)`, exactly as in
`mixmo.rl.make_train`, so Simul-Ind is IPPO, Simul-Co puts every agent on the collective advantage and CGA
and AgA adjust with Hessian-vector products through the GRU unrolls. Directions and critic gradients go
through per-agent gradient clipping and Adam.

**Parameter sharing** (`make_recurrent_train(..., shared=True)`; MAPPO's usual setting and the AgA paper's
"consolidated policy networks" for Simul-Co, CGA and AgA, App. E.2): one GRU policy and one critic for all
agents, stored with a leading axis of 1 where separate networks have one of `n_agents` (`step_stacked`,
`unroll_stacked` and `mixmo.rl.apply_stacked` broadcast them over the agents). The `GameMethod` then sees ONE
player: its individual loss is the MEAN over agents of the agents' losses l_i (each with its own advantages,
shape `(1,)`), its collective loss the mean over agents of the collective-advantage terms (without sharing it
is their sum, each agent's parameters seeing only their own term); this is how the AgA authors' code treats a
shared policy. The optimiser states have the same leading axis of 1. The shared critic descends the sum of the
agents' value losses and the collective one, the same total loss as separate critics (its scale barely matters
under Adam). The shared policy gets no agent-id one-hot: a Selfish-MMM2 (SMAX) observation holds the unit's
own type bits, health and position, so one network can act by unit type and situation; what it cannot do is
tell apart two Marines in the same situation (MAPPO's SMAC scripts also leave the agent id out by default,
`add_agent_id` off). Without sharing everything is as before, bit for bit.

**Reward mixing** (`make_recurrent_train(..., mixer=mixmo.rl.d3c(...))`, or `selfish()`, `cooperative()`): as in
`mixmo.rl.make_train`, agent i learns from r̃_i = Σ_j Ã_ji r_j with the update's Ã (its individual GAE), the
collective advantage stays on Σ_i r_i, the `mixed_return` episode statistic sums r̃_i over each episode, and
after the epochs the mixer steps with g = each agent's mean mixed episode return over the episodes that ended in
the rollout (not at all when none ended); `UpdateMetrics.mixing_rows` reports its rows. D3C runs one iteration of
its Algorithm 1 per learner update (`D3CRLConfig.iteration="update"`, the only reading supported here), on
Selfish-MMM2 as on any environment. Without a mixer everything is as before, bit for bit.

Everything a `Trainer` offers holds here too: `trainer(key)` is one jit-able function (a `lax.scan` over
updates), vmappable over seeds, and `trainer.run(state, n)` continues a `TrainState` for
`mixmo.rl.train_segments` (checkpoints, resume, NaN stop).

References: Schulman et al. 2017 (PPO); de Witt et al. 2020 (IPPO); Yu et al. 2022 (MAPPO: recurrent
policies, agent-specific global state); AgA paper (Li et al. 2024, arXiv 2402.12416) §5.3 and appendix E.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mixmo.methods import GameMethod, simul_ind
from mixmo.rl import _random
from mixmo.rl._batching import batchify, shuffled_minibatches, stack, unbatchify, unstack
from mixmo.rl._gae import gae
from mixmo.rl._gru import GRUPolicy, masked_logits, stacked_gru_policies, step_stacked, unroll_stacked
from mixmo.rl._mixing import RewardMixer, mix_step
from mixmo.rl._networks import MLP, apply_stacked, stacked_mlps
from mixmo.rl._ppo import Minibatch, PPOConfig, Trainer, UpdateMetrics, critic_loss
from mixmo.rl._train_state import Mixing
from mixmo.rl._trainer import check_trainer_args, method_step, shared_terms
from mixmo.rl._ppo_loss import clipped_surrogate, normalise
from mixmo.rl._shaping import RewardShaping

CRITICS = ("local", "central")


@dataclass(frozen=True)
class RecurrentConfig(PPOConfig):
    """`PPOConfig` plus the recurrent policy and critic input. Minibatches are whole environment sequences,
    so `num_envs` must be divisible by `num_minibatches`; `hidden` is the policy's input layer (one width)."""

    gru_hidden: int = 64
    """Width of each policy's GRU state."""
    critic: str = "central"
    """Critic input: "local" (own observation; IPPO) or "central" (global state + own observation; MAPPO)."""

    def validate(self) -> None:
        super().validate()
        if self.num_envs % self.num_minibatches:
            raise ValueError(f"num_envs={self.num_envs} is not divisible by num_minibatches="
                             f"{self.num_minibatches}; recurrent minibatches are whole environment sequences.")
        if len(self.hidden) != 1:
            raise ValueError(f"hidden must be one width (the layer before the GRU), got {self.hidden}.")
        if self.gru_hidden < 1:
            raise ValueError(f"gru_hidden must be >= 1, got {self.gru_hidden}.")
        if self.critic not in CRITICS:
            raise ValueError(f"critic must be one of {CRITICS}, got {self.critic!r}.")


class RecurrentTrainState(NamedTuple):
    """What a recurrent run carries from update to update (for one seed); see `mixmo.rl.TrainState`.

    `policy`, `critic` and their optimiser states have a leading axis of `n_agents`, or of 1 with parameter
    sharing. Extra attributes: `world` `(num_envs, W)` global states (zeros `(num_envs, 1)` with a local critic),
    `mask` `(n_agents, num_envs, n_actions)` available actions, `hidden` `(n_agents, num_envs, gru_hidden)`
    GRU states, `first` `(num_envs,)` whether `obs` starts an episode, `mixing` the reward mixer's carry (None
    without a mixer, so states of runs without one keep their structure).
    """

    policy: GRUPolicy
    critic: MLP
    policy_opt: Any
    critic_opt: Any
    method_state: Any
    env_state: Any
    obs: jax.Array
    world: jax.Array
    mask: jax.Array
    hidden: jax.Array
    first: jax.Array
    episode_returns: jax.Array
    key: jax.Array
    update: jax.Array
    mixing: Mixing | None = None


class Sequences(NamedTuple):
    """A rollout or a minibatch of whole sequences, environment-major `(E, T, ...)` so minibatches cut axis 0."""

    obs: jax.Array  # (E, T, N, *obs_shape)
    world: jax.Array  # (E, T, W)
    mask: jax.Array  # (E, T, N, A)
    first: jax.Array  # (E, T)
    h0: jax.Array  # (E, N, G) GRU states before the first step
    action: jax.Array  # (E, T, N)
    log_prob: jax.Array  # (E, T, N)
    advantage: jax.Array  # (E, T, N)
    collective_advantage: jax.Array  # (E, T)
    value: jax.Array  # (E, T, N)
    target: jax.Array  # (E, T, N)
    collective_value: jax.Array  # (E, T)
    collective_target: jax.Array  # (E, T)


def _agent_time_batch(x):  # (B, T, N, ...) -> (N, T, B, ...)
    return jnp.swapaxes(x, 0, 2)


def recurrent_policy_losses(policy_params: tuple, seq: Sequences, clip: float, ent_coef: float):
    """Per-player PPO losses, the collective loss and `(entropy (n,), approx_kl (n,))` on sequences.

    Same losses as `mixmo.rl.policy_losses`, with the log-probabilities from replaying every agent's GRU
    over the stored sequences (masked to the available actions): the agents' individual losses `(n,)` and the
    sum over agents of their collective-advantage terms. `policy_params` holds one policy per agent or one
    shared by all (parameter sharing; `mixmo.rl.shared_terms` then makes them the one player's losses).
    """
    policy = stack(policy_params)
    obs = _agent_time_batch(seq.obs)  # (N, T, B, ...)
    first = jnp.swapaxes(seq.first, 0, 1)  # (T, B)
    h0 = jnp.swapaxes(seq.h0, 0, 1)  # (N, B, G)
    logits = unroll_stacked(policy, obs, first, h0)  # (N, T, B, A)
    log_probs = jax.nn.log_softmax(masked_logits(logits, _agent_time_batch(seq.mask)))
    n = logits.shape[0]
    flat = lambda x: x.reshape(n, -1)  # noqa: E731  (N, T, B) -> (N, T * B)
    action = _agent_time_batch(seq.action)
    log_prob = flat(jnp.take_along_axis(log_probs, action[..., None], axis=-1)[..., 0])
    old = flat(_agent_time_batch(seq.log_prob))
    probs = jnp.exp(log_probs)
    entropy = -jnp.mean(flat(jnp.sum(probs * jnp.where(probs > 0, log_probs, 0.0), axis=-1)), axis=-1)
    collective_adv = jnp.broadcast_to(jnp.swapaxes(seq.collective_advantage, 0, 1).reshape(1, -1), old.shape)
    surrogate = jax.vmap(clipped_surrogate, (0, 0, 0, None))
    individual = surrogate(log_prob, old, flat(_agent_time_batch(seq.advantage)), clip) - ent_coef * entropy
    collective = jnp.sum(surrogate(log_prob, old, collective_adv, clip) - ent_coef * entropy)
    log_ratio = log_prob - old
    approx_kl = jnp.mean(jnp.expm1(log_ratio) - log_ratio, axis=-1)
    return individual, collective, (entropy, approx_kl)


@dataclass(frozen=True)
class RecurrentTrainer(Trainer):
    """A compiled-once recurrent multi-agent PPO trainer; build it with `make_recurrent_train`.

    `trainer(key) -> (RecurrentTrainState, UpdateMetrics stacked over updates)`, as `mixmo.rl.Trainer`.
    """

    config: RecurrentConfig

    # --- environment views ---------------------------------------------------------------------
    def _mask(self, env_state) -> jax.Array:  # (N, A) for one environment
        if hasattr(self.env, "avail_actions"):
            return self.env.avail_actions(env_state)
        return jnp.ones((self.n_agents, self.n_actions), bool)

    def _world(self, env_state) -> jax.Array:  # (W,) for one environment
        if self.config.critic == "central":
            return self.env.world_state(env_state)
        return jnp.zeros((1,), jnp.float32)

    def _critic_input(self, obs, world):
        """`obs` `(N, B, *obs_shape)`, `world` `(B, W)` -> the critics' input `(N, B, D)`."""
        flat = obs.reshape(obs.shape[:2] + (-1,)).astype(jnp.float32)
        if self.config.critic == "local":
            return flat
        return jnp.concatenate([jnp.broadcast_to(world[None], (flat.shape[0],) + world.shape), flat], axis=-1)

    def _observe_all(self, obs_dict, env_states):
        return (batchify(obs_dict, self.env.agents), jax.vmap(self._world)(env_states),
                jnp.swapaxes(jax.vmap(self._mask)(env_states), 0, 1))

    # --- pieces ------------------------------------------------------------------------------
    def init(self, key: jax.Array) -> RecurrentTrainState:
        c, n, players = self.config, self.n_agents, self.players
        k_policy, k_critic, k_env, k_run = jax.random.split(key, 4)
        obs_size = math.prod(self.obs_shape)
        policy = stacked_gru_policies(k_policy, players, obs_size, c.hidden[0], c.gru_hidden, self.n_actions,
                                      c.policy_head_scale)
        obs_dict, env_state = jax.vmap(lambda k: self.env.reset(k, self.env_params))(
            jax.random.split(k_env, c.num_envs))
        obs, world, mask = self._observe_all(obs_dict, env_state)
        critic_in = self._critic_input(obs, world).shape[-1]
        critic = stacked_mlps(k_critic, players, (critic_in, *c.critic_hidden, 2), 1.0, c.activation)
        mixing = None
        if self.mixer is not None:  # the key `Trainer.init` gives the mixer, so the other keys do not change
            mixing = Mixing(self.mixer.init(jax.random.fold_in(key, 1), n), jnp.zeros((n, c.num_envs), jnp.float32))
        return RecurrentTrainState(
            policy=policy, critic=critic,
            policy_opt=jax.vmap(c.optimizer(c.lr).init)(policy),
            critic_opt=jax.vmap(c.optimizer(c.critic_lr).init)(critic),
            method_state=self.method.init(unstack(policy, players)),
            env_state=env_state, obs=obs, world=world, mask=mask,
            hidden=jnp.zeros((n, c.num_envs, c.gru_hidden), jnp.float32),
            first=jnp.ones((c.num_envs,), bool),
            episode_returns=jnp.zeros((n, c.num_envs), jnp.float32),
            key=jax.random.key_data(k_run), update=jnp.zeros((), jnp.int32), mixing=mixing)

    def rollout(self, state: RecurrentTrainState, key: jax.Array):
        """`num_steps` steps in every environment: `(state, time-major arrays, (episodes, episode_stats))`."""
        c, agents = self.config, self.env.agents
        stat_names = self._stat_names()
        matrix = None if self.mixer is None else self.mixer.matrix(state.mixing.state)

        def one(carry, k):
            st, episodes, stats = carry
            k_act, k_env = jax.random.split(k)
            hidden = jnp.where(st.first[None, :, None], 0.0, st.hidden)
            logits, hidden = step_stacked(st.policy, st.obs, hidden)
            logits = masked_logits(logits, st.mask)
            action = _random.categorical(k_act, logits)  # (N, E); jax.random.categorical's draw, made flat
            log_prob = jnp.take_along_axis(jax.nn.log_softmax(logits), action[..., None], axis=-1)[..., 0]
            out = apply_stacked(st.critic, self._critic_input(st.obs, st.world))  # (N, E, 2)
            obs_dict, env_state, rewards, dones, infos = jax.vmap(
                lambda kk, s, a: self.env.step(kk, s, a, self.env_params)
            )(jax.random.split(k_env, c.num_envs), st.env_state, unbatchify(action, agents))
            reward = batchify(rewards, agents).astype(jnp.float32)
            done = dones["__all__"]
            returns = st.episode_returns + reward
            shaped = reward if self.shaping is None else self.shaping.shape(reward, returns)
            ended = done.astype(jnp.float32)[None, :]
            infos = {k: jnp.swapaxes(v, 0, 1) for k, v in infos.items() if v.shape[1:] == (self.n_agents,)}
            infos["episode_return"] = returns
            mixing = st.mixing
            if matrix is not None:
                shaped, infos["mixed_return"], mixed_returns = mix_step(matrix, reward, mixing.episode_returns,
                                                                        ended)
                mixing = mixing._replace(episode_returns=mixed_returns)
            stats = {k: stats[k] + jnp.sum(infos[k].astype(jnp.float32) * ended, axis=-1) for k in stats}
            record = (st.obs, st.world, st.mask, st.first, action, log_prob, out[..., 0], out[..., 1], reward,
                      shaped, done)
            obs, world, mask = self._observe_all(obs_dict, env_state)
            st = st._replace(env_state=env_state, obs=obs, world=world, mask=mask, hidden=hidden, first=done,
                             episode_returns=returns * (1.0 - ended), mixing=mixing)
            return (st, episodes + jnp.sum(ended), stats), record

        stats0 = {k: jnp.zeros((self.n_agents,), jnp.float32) for k in stat_names}
        (state, episodes, stats), traj = jax.lax.scan(
            one, (state, jnp.zeros((), jnp.float32), stats0), jax.random.split(key, c.num_steps))
        return state, traj, (episodes, stats)

    def sequences(self, state: RecurrentTrainState, h0, traj) -> Sequences:
        """GAE for every agent and the collective; the rollout as environment-major `Sequences`."""
        c = self.config
        obs, world, mask, first, action, log_prob, value, share, reward, shaped, done = traj
        last = apply_stacked(state.critic, self._critic_input(state.obs, state.world))  # (N, E, 2)
        advantage, target = gae(shaped, value, done[:, None, :], last[..., 0], c.gamma, c.gae_lambda)
        collective_value = jnp.sum(share, axis=1)  # (T, E)
        collective_advantage, collective_target = gae(
            jnp.sum(reward, axis=1), collective_value, done, jnp.sum(last[..., 1], axis=0), c.gamma, c.gae_lambda)

        def env_major(x):  # (T, N, E, ...) -> (E, T, N, ...)
            return jnp.moveaxis(jnp.swapaxes(x, 1, 2), 1, 0)

        def env_first(x):  # (T, E, ...) -> (E, T, ...)
            return jnp.swapaxes(x, 0, 1)

        return Sequences(
            obs=env_major(obs), world=env_first(world), mask=env_major(mask), first=env_first(first),
            h0=jnp.swapaxes(h0, 0, 1), action=env_major(action), log_prob=env_major(log_prob),
            advantage=env_major(advantage), collective_advantage=env_first(collective_advantage),
            value=env_major(value), target=env_major(target), collective_value=env_first(collective_value),
            collective_target=env_first(collective_target))

    def learn_minibatch(self, state: RecurrentTrainState, seq: Sequences):
        """One policy step (through the `GameMethod`) and one critic step on a minibatch of sequences."""
        c = self.config
        seq = seq._replace(advantage=_normalise_per_agent(seq.advantage),
                           collective_advantage=normalise(seq.collective_advantage))

        def terms(params):
            return recurrent_policy_losses(params, seq, c.clip, c.ent_coef)

        def critic_grads(critic):
            return jax.grad(critic_loss, has_aux=True)(critic, self._critic_batch(seq), c.value_loss)

        if self.shared:
            terms = shared_terms(terms, self.n_agents)
        return method_step(self.method, state, self.players, terms, critic_grads, c.optimizer(c.lr),
                           c.optimizer(c.critic_lr), self.diagnose)

    def _critic_batch(self, seq: Sequences) -> Minibatch:
        """The critic's view of a minibatch as `mixmo.rl.Minibatch` (agent-major, samples flattened)."""
        b, t, n = seq.action.shape
        samples = b * t

        def agent_major(x):  # (B, T, N, ...) -> (N, B * T, ...)
            return jnp.moveaxis(x, 2, 0).reshape((n, samples) + x.shape[3:])

        def repeated(x):  # (B, T) -> (N, B * T)
            return jnp.broadcast_to(x.reshape(1, samples), (n, samples))

        obs = agent_major(seq.obs)
        world = seq.world.reshape((samples,) + seq.world.shape[2:])
        return Minibatch(obs=self._critic_input(obs, world), action=None, log_prob=None, advantage=None,
                         collective_advantage=None, value=agent_major(seq.value), target=agent_major(seq.target),
                         collective_value=repeated(seq.collective_value),
                         collective_target=repeated(seq.collective_target))

    def update(self, state: RecurrentTrainState) -> tuple[RecurrentTrainState, UpdateMetrics]:
        """One recurrent PPO update: rollout, advantages, epochs of minibatch steps over whole sequences, then the
        mixer's step (`Trainer._mixer_step`)."""
        c = self.config
        key = jax.random.wrap_key_data(state.key)
        key, k_roll, k_epochs = jax.random.split(key, 3)
        h0 = jnp.where(state.first[None, :, None], 0.0, state.hidden)
        state, traj, (episodes, stats) = self.rollout(state, k_roll)
        batch = self.sequences(state, h0, traj)

        def epoch(state, k):
            return jax.lax.scan(self.learn_minibatch, state, shuffled_minibatches(k, batch, c.num_minibatches))

        state, infos = jax.lax.scan(epoch, state, jax.random.split(k_epochs, c.update_epochs))
        return self.finish_update(state, key, episodes, stats, infos)


def _normalise_per_agent(advantage):  # (B, T, N): each agent over its samples
    return normalise(advantage, axis=(0, 1))


def make_recurrent_train(config: RecurrentConfig, env, method: GameMethod | None = None,
                         shaping: RewardShaping | None = None, env_params=None, mixer: RewardMixer | None = None, *,
                         shared: bool = False, diagnose: bool = False) -> RecurrentTrainer:
    """Build a recurrent multi-agent PPO trainer (GRU policies; local or centralised critics).

    Args:
        config: hyperparameters (validated here).
        env: a mixmo (JaxMARL-API) environment with a discrete action space; optional `avail_actions(state)`
            (bool `(n_agents, n_actions)`) masks the policies; `critic="central"` needs `world_state(state)`.
        method: the `GameMethod` giving the policy direction (default Simul-Ind, i.e. IPPO).
        shaping: optional reward shaping applied before advantages (SVO, SL).
        env_params: environment parameters (default: the environment's).
        mixer: optional reward mixing (`mixmo.rl.d3c`, `selfish`, `cooperative`), as in `mixmo.rl.make_train`:
            exclusive with `shaping`, at least 2 agents, D3C with `iteration="update"` only.
        shared: parameter sharing (MAPPO's consolidated networks): one GRU policy and one critic for all agents,
            stored with a leading axis of 1; the method sees one player (see the module docstring). Default:
            one policy and one critic per agent.
        diagnose: compute `mixmo.methods.diagnostics` at every minibatch step (as `mixmo.rl.make_train`).

    Returns:
        A `RecurrentTrainer`: `trainer(key) -> (RecurrentTrainState, UpdateMetrics)`, jit-able, vmappable.

    Example:
        >>> import jax, mixmo
        >>> from mixmo import envs, rl
        >>> env = envs.make("cleanup", max_steps=16, num_agents=2)
        >>> config = rl.RecurrentConfig(total_steps=32, num_envs=2, num_steps=16, num_minibatches=2,
        ...                             hidden=(8,), critic_hidden=(8,), gru_hidden=8, critic="local")
        >>> train = rl.make_recurrent_train(config, env, mixmo.methods.aga(100.0))
        >>> state, metrics = jax.jit(train)(jax.random.key(0))
        >>> metrics.policy_loss.shape
        (1,)
    """
    check_trainer_args("make_recurrent_train", config, env, shaping, mixer)
    if config.critic == "central" and not hasattr(env, "world_state"):
        raise ValueError(f"critic='central' needs an environment with world_state(state); {type(env).__name__} "
                         "has none: use critic='local'.")
    return RecurrentTrainer(config, env, simul_ind() if method is None else method, shaping, env_params, mixer,
                            shared=bool(shared), diagnose=bool(diagnose))
