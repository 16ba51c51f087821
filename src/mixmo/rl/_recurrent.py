"""Recurrent multi-agent PPO (IPPO / MAPPO-style): the actor-critic trainer with GRU policies.

For partially observed, heterogeneous agents (Selfish-MMM2, AgA paper §5.3): `make_recurrent_train` builds the
same `mixmo.rl.Trainer` as `mixmo.rl.make_train` (one rollout, one update, one minibatch step; see
`mixmo.rl._trainer`), with a `RecurrentPolicy` and an environment view that masks actions:

- each agent has its own GRU policy (`mixmo.rl.GRUPolicy`; parameters stacked on the agent axis, the unit type is
  in the observation) that sees only its own observation and samples among its available actions (the
  environment's `avail_actions(state)` mask; all actions when it has none); the GRU states are carried through
  the rollout and reset at episode starts;
- each agent has a feed-forward critic with two outputs, V_i and u_i, the collective value being V_c = sum_i u_i,
  as in `mixmo.rl.make_train`; its input is `critic="local"`: the agent's own observation (IPPO; the paper's
  Simul-Ind), or `critic="central"`: the environment's global state `world_state(state)` and the agent's own
  observation (MAPPO's agent-specific global state; the paper's other methods);
- the minibatches are whole environment sequences (`mixmo.rl._layouts.SequenceLayout`): the GRUs replay each
  sequence from its stored initial state, so `num_envs` must be divisible by `num_minibatches`.

Everything else is the feed-forward trainer's: the optional reward transform (shaping: SVO, SL; or mixing:
`selfish`, `cooperative`, `d3c`, with the `mixed_return` statistic and `mixing_rows`; D3C with
`iteration="update"` only), GAE for every agent and for the collective (on Σ_i r_i, or `collective_reward`),
`update_epochs` epochs over `num_minibatches` minibatches with the PPO-clip surrogate and the clipped value loss,
the `GameMethod` hook on `StructuredLosses(individual, collective, separable=True)` (Simul-Ind is IPPO, Simul-Co
puts every agent on the collective advantage, CGA and AgA adjust with Hessian-vector products through the GRU
unrolls), per-agent gradient clipping and Adam, the KL early stop (`target_kl`) and `scan_minibatches`.

**Parameter sharing** (`shared=True`; MAPPO's usual setting and the AgA paper's "consolidated policy networks"
for Simul-Co, CGA and AgA, App. E.2): one GRU policy and one critic for all agents, stored with a leading axis of
1 (`step_stacked`, `unroll_stacked` and `mixmo.rl.apply_stacked` broadcast them over the agents). The
`GameMethod` then sees ONE player: its individual loss is the MEAN over agents of the agents' losses l_i (shape
`(1,)`), its collective loss the mean over agents of the collective-advantage terms (`mixmo.rl.shared_terms`);
this is how the AgA authors' code treats a shared policy. The shared policy gets no agent-id one-hot: a
Selfish-MMM2 (SMAX) observation holds the unit's own type bits, health and position (MAPPO's SMAC scripts also
leave the agent id out by default, `add_agent_id` off).

`RecurrentConfig` is `PPOConfig` with the GRU's width and the critic's input; the feed-forward network options
(`network="cnn"`, `frame_stack`) are refused.

References: Schulman et al. 2017 (PPO); de Witt et al. 2020 (IPPO); Yu et al. 2022 (MAPPO: recurrent
policies, agent-specific global state); AgA paper (Li et al. 2024, arXiv 2402.12416) §5.3 and appendix E.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


from mixmo.methods import GameMethod, simul_ind
from mixmo.rl._env_view import CRITICS, EnvView
from mixmo.rl._layouts import SequenceLayout, Sequences
from mixmo.rl._policies import RecurrentPolicy
from mixmo.rl._ppo import PPOConfig
from mixmo.rl._reward import RewardTransform, identity
from mixmo.rl._train_state import TrainState
from mixmo.rl._ac_step import replayed_terms
from mixmo.rl._batching import stack
from mixmo.rl._trainer import Trainer, check_trainer_args

RecurrentTrainState = TrainState
"""A recurrent run's state is a `mixmo.rl.TrainState` (GRU states in `carry`, masks in `mask`, global states in
`world`)."""
RecurrentTrainer = Trainer
"""The recurrent trainer is the one `mixmo.rl.Trainer` with a `RecurrentPolicy`."""


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
        if self.network != "mlp" or self.frame_stack != 1:
            raise ValueError(f"network={self.network!r} and frame_stack={self.frame_stack} are feed-forward "
                             "options (make_train); a recurrent run has GRU policies on single frames: use "
                             "network='mlp' and frame_stack=1.")


def recurrent_policy_losses(policy_params: tuple, seq: Sequences, clip: float, ent_coef: float):
    """`replayed_terms` of GRU policies on `Sequences`, with PPO-clip at `clip`, as the trainer computes them.

    The log-probabilities come from replaying every agent's GRU over the stored sequences (masked to the
    available actions). `policy_params` holds one policy per agent or one shared by all (parameter sharing;
    `mixmo.rl.shared_terms` then makes them the one player's losses).
    """
    return replayed_terms(RecurrentPolicy(seq.h0.hidden.shape[-1]), stack(policy_params),
                          SequenceLayout.policy_inputs(seq), clip, ent_coef)


def make_recurrent_train(config: RecurrentConfig, env, method: GameMethod | None = None,
                         reward: RewardTransform | None = None, env_params=None, *, shared: bool = False,
                         collective_reward: Callable | None = None, diagnose: bool = False) -> Trainer:
    """Build a recurrent multi-agent PPO trainer (GRU policies; local or centralised critics).

    Args:
        config: hyperparameters (validated here).
        env: a mixmo (JaxMARL-API) environment with a discrete action space; optional `avail_actions(state)`
            (bool `(n_agents, n_actions)`) masks the policies; `critic="central"` needs `world_state(state)`.
        method: the `GameMethod` giving the policy direction (default Simul-Ind, i.e. IPPO).
        reward: optional `RewardTransform` applied before advantages, as in `mixmo.rl.make_train`: shaping (SVO,
            SL) or mixing (`mixmo.rl.d3c`, `selfish`, `cooperative`: at least 2 agents, D3C with
            `iteration="update"` only).
        env_params: environment parameters (default: the environment's).
        shared: parameter sharing (MAPPO's consolidated networks): one GRU policy and one critic for all agents,
            stored with a leading axis of 1; the method sees one player (see the module docstring). Default:
            one policy and one critic per agent.
        collective_reward: `rewards (T, N, E) -> (T, E)`, the collective loss's and critic's reward (default
            Σ_i r_i), as in `mixmo.rl.make_train`.
        diagnose: compute `mixmo.methods.diagnostics` at every minibatch step (as `mixmo.rl.make_train`).

    Returns:
        A `Trainer`: `trainer(key) -> (TrainState, UpdateMetrics)`, jit-able, vmappable.

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
    check_trainer_args("make_recurrent_train", config, env, reward)
    if config.critic == "central" and not hasattr(env, "world_state"):
        raise ValueError(f"critic='central' needs an environment with world_state(state); {type(env).__name__} "
                         "has none: use critic='local'.")
    return Trainer(config, env, simul_ind() if method is None else method, identity() if reward is None else reward,
                   env_params, RecurrentPolicy(config.gru_hidden), EnvView(env, config.critic, masks=True),
                   shared=bool(shared), collective_reward=collective_reward, diagnose=bool(diagnose))
