"""Multi-agent RL that reuses `mixmo.methods` on policy losses (building blocks; trainers follow)."""

from mixmo.rl._gae import gae as gae
from mixmo.rl._ppo_loss import clipped_surrogate as clipped_surrogate
from mixmo.rl._ppo_loss import clipped_value_loss as clipped_value_loss
from mixmo.rl._ppo_loss import normalise as normalise
