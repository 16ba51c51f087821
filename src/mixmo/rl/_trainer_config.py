"""What every trainer config (`PPOConfig`, `A2CConfig`) shares: the run length and the common checks."""

from __future__ import annotations

import math


class RunLength:
    """`batch_steps` and `num_updates` of a trainer config with `num_envs`, `num_steps` and `total_steps`."""

    @property
    def batch_steps(self) -> int:
        """Environment steps per update."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Updates in the whole run."""
        return self.total_steps // self.batch_steps


def check_config(config, counts: tuple[str, ...], unit: tuple[str, ...], positive: tuple[str, ...]) -> None:
    """The checks every trainer config shares; raise `ValueError` naming the first bad value and a fix.

    Args:
        counts: fields that must be integers >= 1; unit: fields in [0, 1]; positive: fields > 0 and finite.
    """
    for name in counts:
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}.")
    if config.total_steps < config.batch_steps:
        raise ValueError(f"total_steps={config.total_steps} is less than one update of num_envs * num_steps = "
                         f"{config.batch_steps} env steps; raise total_steps or lower num_envs/num_steps.")
    if config.batch_steps % config.num_minibatches:
        raise ValueError(f"num_envs * num_steps = {config.batch_steps} is not divisible by "
                         f"num_minibatches={config.num_minibatches}.")
    for name in unit:
        if not 0.0 <= getattr(config, name) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {getattr(config, name)}.")
    for name in positive:
        value = getattr(config, name)
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive number, got {value}.")
    if not (config.ent_coef >= 0 and math.isfinite(config.ent_coef)):
        raise ValueError(f"ent_coef must be >= 0, got {config.ent_coef}.")
    if not config.hidden or not config.critic_hidden or min(config.hidden + config.critic_hidden) < 1:
        raise ValueError(f"hidden and critic_hidden need at least one positive width, got {config.hidden} "
                         f"and {config.critic_hidden}.")
    if config.activation not in ("relu", "tanh"):
        raise ValueError(f"activation must be relu or tanh, got {config.activation!r}.")
