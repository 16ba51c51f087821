"""Multi-agent A2C with V-trace targets: the config that makes the shared trainer (`mixmo.rl._trainer`) A2C.

D3C trains its RL agents with "A2C with V-trace" (D3C Appx. G.1, Table 2). Each update here rolls out
`num_steps` (the unroll, 100) steps in `num_envs` environments with the current policies and takes ONE
gradient step on the whole rollout, so the behaviour policy μ is the target policy π: every V-trace
importance weight ρ_t = min(ρ̄, π/μ) and trace coefficient c_t = min(c̄, π/μ) is exactly 1 (IMPALA,
Espeholt et al. 2018, eq. 1). V-trace then reduces to

- value targets v_s = V(x_s) + Σ_{t=s}^{s+n-1} γ^{t-s} δ_t = Σ_{t=s}^{s+n-1} γ^{t-s} r_t + γ^n V(x_{s+n}), with
  δ_t = r_t + γ V(x_{t+1}) − V(x_t) and n the steps left in the unroll: the n-step bootstrapped return to the
  end of the unroll (cut at episode ends), i.e. GAE with λ = 1;
- policy-gradient advantages ρ_s (r_s + γ v_{s+1} − V(x_s)) = v_s − V(x_s), the same λ = 1 advantage.

so `targets` is `gae(..., gamma, 1.0)` (tested against a plain V-trace loop with ρ = c = 1). The losses
(IMPALA §4): policy −mean(log π(a_s|x_s) A_s) − 0.003 · entropy, baseline 0.5 · ½ mean((v_s − V(x_s))²);
RMSProp (lr 4e-4, decay 0.99, ε 1e-5, momentum 0) for policies and critics. Advantages are not normalised.

Choices the paper leaves open (documented, tested): the optimiser follows TF1's RMSProp as IMPALA used it (ε
inside the square root, `optax.rmsprop(eps_in_sqrt=True)`) with the running mean square starting at 0; no
gradient clipping unless `max_grad_norm > 0` (Table 2 lists none); per-agent policy and critic MLPs as in
PPO (separate networks, so the 0.5 baseline scaling acts on the critic's step only through RMSProp's ε); the
collective critic of the shared trainer is trained the same way, for the `GameMethod`s' collective loss.

References: Mnih et al. 2016 (A3C/A2C); Espeholt et al. 2018 (IMPALA, V-trace eq. 1, §4 losses);
D3C paper (Gemp et al. 2022) Appx. G.1, Table 2.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import optax

from mixmo.rl._gae import gae
from mixmo.rl._trainer_config import RunLength, check_config


def a2c_surrogate(log_prob, old_log_prob, advantage):
    """A2C's policy loss to MINIMISE for one agent's samples: −mean(log π(a|x) · A) (A2C; V-trace with ρ = 1).

    `old_log_prob` is unused: on-policy the importance weight is 1 (its gradient is the policy gradient).
    """
    del old_log_prob
    return -jnp.mean(log_prob * advantage)


def vtrace_on_policy(rewards, values, dones, last_value, gamma: float):
    """V-trace advantages and value targets with every ρ_t = c_t = 1 (on-policy): GAE(γ, λ = 1).

    Args, returns: as `mixmo.rl.gae` (`(advantages, targets)`, shape `(T, ...)`).
    """
    return gae(rewards, values, dones, last_value, gamma, 1.0)


@dataclass(frozen=True)
class A2CConfig(RunLength):
    """Hyperparameters of multi-agent A2C (defaults: D3C Appx. G.1 Table 2, "A2C with V-trace")."""

    total_steps: int = 1_000_000
    """Environment steps per seed (one step moves every agent); rounded down to whole updates."""
    num_envs: int = 16
    """Parallel environments (the paper does not say; each update learns from num_envs unrolls)."""
    num_steps: int = 100
    """Unroll length (Table 2: 100)."""
    gamma: float = 0.98
    """Discount (Table 2: 0.98)."""
    ent_coef: float = 0.003
    """Entropy regularisation (Table 2: 0.003), in every agent's loss and in each term of the collective loss."""
    baseline_coef: float = 0.5
    """Baseline loss scaling (Table 2: 0.5): critic loss = baseline_coef * ½ mean((v_s − V)²)."""
    lr: float = 4e-4
    """RMSProp learning rate of the policies (Table 2: 0.0004)."""
    critic_lr: float = 4e-4
    """RMSProp learning rate of the critics (Table 2's one learning rate)."""
    rms_decay: float = 0.99
    """RMSProp decay (Table 2: 0.99)."""
    rms_eps: float = 1e-5
    """RMSProp ε (Table 2: 1e-5), inside the square root as in TF1's RMSProp."""
    rms_momentum: float = 0.0
    """RMSProp momentum (Table 2: 0)."""
    max_grad_norm: float = 0.0
    """Clip each agent's policy direction and critic gradient to this global norm first; 0: no clipping
    (Table 2 lists none)."""
    hidden: tuple[int, ...] = (64,)
    """Hidden layer widths of each policy MLP (input: the flattened observation)."""
    critic_hidden: tuple[int, ...] = (64,)
    """Hidden layer widths of each critic MLP."""
    activation: str = "relu"
    """Hidden activation: relu or tanh."""
    policy_head_scale: float = 1.0
    """Initial weight scale of each policy's output layer (as PPOConfig's: see docs/rl.md)."""

    # --- what the shared Trainer asks of its config -----------------------------------------------
    update_epochs = 1
    """One gradient step per rollout (what makes it on-policy)."""
    num_minibatches = 1
    """The whole rollout is the batch."""
    normalise_advantages = False
    """A2C/IMPALA use the raw advantages."""
    shuffle = False
    """Nothing to shuffle: one minibatch, one epoch."""
    scan_minibatches = True
    """The single step goes through the same scan as PPO's minibatches."""
    target_kl = 0.0
    """No KL early stop: one step per rollout."""

    def targets(self, rewards, values, dones, last_value):
        """V-trace targets and advantages on-policy (ρ = c = 1): n-step bootstrapped returns, GAE(γ, 1)."""
        return vtrace_on_policy(rewards, values, dones, last_value, self.gamma)

    def surrogate(self, log_prob, old_log_prob, advantage):
        """The policy-gradient loss −mean(log π A) (`a2c_surrogate`)."""
        return a2c_surrogate(log_prob, old_log_prob, advantage)

    def value_loss(self, value, old_value, target):
        """baseline_coef · ½ mean((target − V)²) (IMPALA's baseline loss; Table 2's scaling 0.5)."""
        del old_value
        return self.baseline_coef * 0.5 * jnp.mean((target - value) ** 2)

    def optimizer(self, lr: float) -> optax.GradientTransformation:
        """RMSProp (Table 2) after an optional clip by the agent's global norm."""
        rms = optax.rmsprop(lr, decay=self.rms_decay, eps=self.rms_eps, eps_in_sqrt=True,
                            momentum=self.rms_momentum or None)
        if self.max_grad_norm > 0:
            return optax.chain(optax.clip_by_global_norm(self.max_grad_norm), rms)
        return rms

    def validate(self) -> None:
        """Raise `ValueError` naming the first bad value and a fix."""
        check_config(self, counts=("num_envs", "num_steps"), unit=("gamma", "rms_decay"),
                     positive=("lr", "critic_lr", "rms_eps", "policy_head_scale", "baseline_coef"))
        if not 0.0 <= self.rms_momentum < 1.0:
            raise ValueError(f"rms_momentum must be in [0, 1), got {self.rms_momentum}.")
        if not self.max_grad_norm >= 0:
            raise ValueError(f"max_grad_norm must be >= 0 (0: no clipping), got {self.max_grad_norm}.")
