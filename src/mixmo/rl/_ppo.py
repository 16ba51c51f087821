"""Multi-agent PPO: the hyperparameters and losses that make the shared trainer (`mixmo.rl._trainer`) PPO.

`PPOConfig` supplies the PPO-specific pieces the `Trainer` asks its config for: GAE(γ, λ) advantages and
targets, the PPO-clip surrogate, the clipped value loss, per-minibatch advantage normalisation, shuffled
minibatches over several epochs, and a per-agent optimiser (clip by global norm, then Adam). Everything else
(rollout, the collective critic, the `GameMethod` hook, reward shaping or mixing, `Trainer.run`) is shared
with A2C (`mixmo.rl._a2c`); see `mixmo.rl._trainer` for what one update does.

References: Schulman et al. 2017 (PPO, eq. 7); Schulman et al. 2016 (GAE, eq. 16); de Witt et al. 2020
(IPPO); Yu et al. 2022 (MAPPO); AgA paper (Li et al. 2024, arXiv 2402.12416) §5.2.
"""


from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import optax

from mixmo.rl._gae import gae
from mixmo.rl._ppo_loss import clipped_surrogate, clipped_value_loss
from mixmo.rl._trainer_config import RunLength, check_config
# the shared trainer's names, importable from here as before the A2C refactor
from mixmo.rl._train_state import Minibatch as Minibatch
from mixmo.rl._train_state import Rollout as Rollout
from mixmo.rl._train_state import RolloutCarry as RolloutCarry
from mixmo.rl._train_state import TrainState as TrainState
from mixmo.rl._train_state import UpdateMetrics as UpdateMetrics
from mixmo.rl._trainer import Trainer as Trainer
from mixmo.rl._ac_step import critic_loss as critic_loss
from mixmo.rl._trainer import make_train as make_train
from mixmo.rl._ac_step import policy_losses as policy_losses


NETWORKS = ("mlp", "cnn")


@dataclass(frozen=True)
class PPOConfig(RunLength):
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
    """Value-function clip (around the rollout's values), for every critic output; 0 is off (plain squared error,
    stable-baselines3's default clip_range_vf=None)."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient in every agent's loss (and in each agent's term of the collective loss)."""
    lr: float = 5e-4
    """Adam learning rate of the policies (mixmo's CPU default; the AgA paper: 1e-4 on Cleanup and Harvest, App. E.1,
    and 5e-4 on Selfish-MMM2, App. E.2)."""
    critic_lr: float = 5e-4
    """Adam learning rate of the critics."""
    adam_eps: float = 1e-8
    """Adam's epsilon (optax's default; stable-baselines3's PPO policies use 1e-5)."""
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
    network: str = "mlp"
    """"mlp": a policy MLP and a critic MLP per player, each with its own optimiser (mixmo's default, fast on CPU).
    "cnn": ONE actor-critic module per player, the CNN of the SSD repository's run_scripts/sb3_train.py (its
    `CustomCNN` features extractor: Conv2d 3x3 valid with 24 channels, ReLU, Linear 1024, ReLU, Linear 32, ReLU)
    inside stable-baselines3's CnnPolicy (extractor shared by actor and critic, net_arch layers with Tanh, an
    action head and a value head, orthogonal init with gains sqrt(2) / 0.01 / 1; `mixmo.rl._cnn`). The value head
    has mixmo's two outputs (V_i and the share u_i of V_c). As SB3, one optimiser (`lr`) steps the whole module
    along the GameMethod's direction (from the policy losses alone, as the AgA paper's App. E.1 leaves the critic
    loss alone) plus value_coef times the value loss's gradient; critic_lr, critic_hidden, hidden, activation
    and policy_head_scale are the MLP's and unused."""
    cnn: tuple[int, ...] = (24, 1024, 32)
    """network="cnn": the convolution's output channels, then the features extractor's Linear widths (the last is
    SB3's features_dim); sb3_train.py's `CustomCNN`: (24, 1024, 32)."""
    net_arch: tuple[int, ...] = (128,)
    """network="cnn": SB3's net_arch widths after the extractor (Tanh); sb3_train.py: [128]."""
    shared_net_arch: bool = True
    """network="cnn": the net_arch layers are shared by actor and critic (SB3 before 1.8 reads net_arch=[128] so,
    the script's era) or there is one copy for each (SB3 2.x's reading of the same list)."""
    value_coef: float = 1.0
    """network="cnn": weight of the value loss's gradient added to the policy direction before the one optimiser
    (SB3's vf_coef; the AgA paper, App. E.1: value coefficient 1). With parameter sharing the value loss is
    divided by the number of agents, as the policy loss is (the mean over the agents' samples, as SB3's). The
    MLP path has a critic optimiser of its own and does not use it."""
    frame_stack: int = 1
    """Observations are the last `frame_stack` frames stacked on the channel axis, oldest first, zeros before an
    episode's first frame (supersuit's frame_stack_v1; sb3_train.py stacks 4). 1: no stacking."""
    target_kl: float = 0.0
    """Early stop of an update's epochs, with stable-baselines3's semantics (the SSD repository's
    run_scripts/sb3_train.py uses 0.01): before each minibatch step the approximate KL(old || new) on that
    minibatch (mean of (ratio - 1) - log ratio, over agents and samples) is compared with 1.5 * target_kl; once
    it is above, that step and every later step of the update are skipped. 0 is off (all epochs run)."""
    scan_minibatches: bool = True
    """Loop over epochs and minibatches with lax.scan (True) or unrolled in the trace (False)."""

    # --- what the shared Trainer asks of its config -----------------------------------------------
    normalise_advantages = True
    """Advantages are normalised per minibatch (per agent for l_i), as in most PPO implementations."""
    shuffle = True
    """Each epoch shuffles the rollout before cutting it into minibatches."""

    def targets(self, rewards, values, dones, last_value):
        """GAE(γ, λ) advantages and value targets (Schulman et al. 2016, eq. 16)."""
        return gae(rewards, values, dones, last_value, self.gamma, self.gae_lambda)

    def surrogate(self, log_prob, old_log_prob, advantage):
        """PPO-clip policy loss of one agent's samples (Schulman et al. 2017, eq. 7)."""
        return clipped_surrogate(log_prob, old_log_prob, advantage, self.clip)

    def value_loss(self, value, old_value, target):
        """Clipped value loss around the rollout's values (plain ½ mean squared error with value_clip 0)."""
        if not self.value_clip:
            return 0.5 * jnp.mean((value - target) ** 2)
        return clipped_value_loss(value, old_value, target, self.value_clip)

    def optimizer(self, lr: float) -> optax.GradientTransformation:
        """Clip by the agent's global norm, then Adam."""
        return optax.chain(optax.clip_by_global_norm(self.max_grad_norm), optax.adam(lr, eps=self.adam_eps))

    def validate(self) -> None:
        """Raise `ValueError` naming the first bad value and a fix."""
        check_config(self, counts=("num_envs", "num_steps", "update_epochs", "num_minibatches"),
                     unit=("gamma", "gae_lambda"),
                     positive=("clip", "lr", "critic_lr", "max_grad_norm", "policy_head_scale", "adam_eps"))
        if not (self.value_clip >= 0 and math.isfinite(self.value_clip)):
            raise ValueError(f"value_clip must be >= 0 (0: off), got {self.value_clip}.")
        if not (self.target_kl >= 0 and math.isfinite(self.target_kl)):
            raise ValueError(f"target_kl must be >= 0 (0: off), got {self.target_kl}.")
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {self.network!r}.")
        if not self.cnn or min(self.cnn) < 1 or (self.net_arch and min(self.net_arch) < 1):
            raise ValueError(f"cnn needs positive widths (conv channels first), net_arch positive widths or none; "
                             f"got cnn={self.cnn}, net_arch={self.net_arch}.")
        if not (self.value_coef >= 0 and math.isfinite(self.value_coef)):
            raise ValueError(f"value_coef must be >= 0, got {self.value_coef}.")
        if not (isinstance(self.frame_stack, int) and self.frame_stack >= 1):
            raise ValueError(f"frame_stack must be an integer >= 1 (1: no stacking), got {self.frame_stack!r}.")
