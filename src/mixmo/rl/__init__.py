"""Multi-agent RL that reuses `mixmo.methods` on policy losses.

- `make_train(config, env, method, reward)`: multi-agent PPO (`PPOConfig`) or A2C with V-trace
  (`A2CConfig`, D3C Appx. G.1) whose policy direction comes from any `GameMethod` (Simul-Ind = IPPO, Simul-Co,
  CGA, SGA, AgA ...); one `RewardTransform` shapes the rewards (SVO, SL: `svo`, `sl`) or mixes them (D3C);
- `make_recurrent_train(config, env, method, reward)`: the same trainer with GRU policies and action masks;
- building blocks: `gae`, `clipped_surrogate`, `clipped_value_loss`, `normalise`, `batchify` /
  `unbatchify`, `stack` / `unstack`, `shuffled_minibatches`, equinox `MLP`s stacked per agent;
- `make_reinforce(config, env, reward)`: REINFORCE with linear softmax policies and a linear TD baseline
  (D3C's Trust-Your-Brother learner, Appx. G.1);
- reward mixing (`selfish`, `cooperative`, `d3c`: D3C Algorithms 1–3; `fixed_rows` freezes a D3C state at a
  matrix such as `selfish_matrix` or `cooperative_matrix`, the `BASELINE_MATRICES`), `mix_rewards`,
  `relative_attention`;
- runs: checkpoints (`save_checkpoint` / `load_checkpoint`), loggers, policy rollouts as GIFs.
"""

from mixmo.rl._batching import batchify as batchify
from mixmo.rl._batching import shuffled_minibatches as shuffled_minibatches
from mixmo.rl._batching import stack as stack
from mixmo.rl._batching import unbatchify as unbatchify
from mixmo.rl._batching import unstack as unstack
from mixmo.rl._gae import gae as gae
from mixmo.rl._networks import MLP as MLP
from mixmo.rl._networks import apply_stacked as apply_stacked
from mixmo.rl._networks import mlp as mlp
from mixmo.rl._networks import stacked_mlps as stacked_mlps
from mixmo.rl._train_state import Minibatch as Minibatch
from mixmo.rl._train_state import Mixing as Mixing
from mixmo.rl._train_state import TrainState as TrainState
from mixmo.rl._train_state import UpdateMetrics as UpdateMetrics
from mixmo.rl._trainer import Trainer as Trainer
from mixmo.rl._ac_step import critic_loss as critic_loss
from mixmo.rl._trainer import make_train as make_train
from mixmo.rl._ac_step import policy_losses as policy_losses
from mixmo.rl._ac_step import policy_terms as policy_terms
from mixmo.rl._ac_step import method_step as method_step
from mixmo.rl._ac_step import shared_terms as shared_terms
from mixmo.rl._train_state import MinibatchInfo as MinibatchInfo
from mixmo.rl._policy_parts import fairness_collective as fairness_collective
from mixmo.rl._policy_parts import head_only as head_only
from mixmo.rl._policy_parts import svo_e1 as svo_e1
from mixmo.rl._ppo import PPOConfig as PPOConfig
from mixmo.rl._a2c import A2CConfig as A2CConfig
from mixmo.rl._a2c import a2c_surrogate as a2c_surrogate
from mixmo.rl._a2c import vtrace_on_policy as vtrace_on_policy
from mixmo.rl._ppo_loss import clipped_surrogate as clipped_surrogate
from mixmo.rl._ppo_loss import clipped_value_loss as clipped_value_loss
from mixmo.rl._ppo_loss import normalise as normalise
from mixmo.rl._reward import RewardTransform as RewardTransform
from mixmo.rl._reward import RewardShaping as RewardShaping
from mixmo.rl._reward import RewardMixer as RewardMixer
from mixmo.rl._reward import mix_rewards as mix_rewards
from mixmo.rl._shaping import sl as sl
from mixmo.rl._shaping import svo as svo
from mixmo.rl._checkpoint import CheckpointError as CheckpointError
from mixmo.rl._checkpoint import has_checkpoint as has_checkpoint
from mixmo.rl._checkpoint import load_checkpoint as load_checkpoint
from mixmo.rl._checkpoint import save_checkpoint as save_checkpoint
from mixmo.rl._driver import NonFiniteError as NonFiniteError
from mixmo.rl._driver import RunContext as RunContext
from mixmo.rl._driver import TrainingInterrupted as TrainingInterrupted
from mixmo.rl._driver import metrics_to_numpy as metrics_to_numpy
from mixmo.rl._driver import segment_program as segment_program
from mixmo.rl._driver import train_segments as train_segments
from mixmo.rl._loggers import LOGGERS as LOGGERS
from mixmo.rl._loggers import LoggerUnavailable as LoggerUnavailable
from mixmo.rl._loggers import check_loggers as check_loggers
from mixmo.rl._loggers import make_loggers as make_loggers
from mixmo.rl._render import policy_rollout_frames as policy_rollout_frames
from mixmo.rl._render import write_gif as write_gif
from mixmo.rl._mixing import COINS as D3C_COINS
from mixmo.rl._mixing import TRUST_YOUR_BROTHER as D3C_TRUST_YOUR_BROTHER
from mixmo.rl._mixing import D3CRLConfig as D3CRLConfig
from mixmo.rl._mixing import D3CState as D3CState
from mixmo.rl._mixing import ITERATIONS as D3C_ITERATIONS
from mixmo.rl._mixing import G_SCALES as D3C_G_SCALES
from mixmo.rl._mixing import check_iteration as check_d3c_iteration
from mixmo.rl._mixing import BASELINE_MATRICES as BASELINE_MATRICES
from mixmo.rl._mixing import cooperative as cooperative
from mixmo.rl._mixing import cooperative_matrix as cooperative_matrix
from mixmo.rl._mixing import d3c as d3c
from mixmo.rl._mixing import fixed as fixed
from mixmo.rl._mixing import fixed_rows as fixed_rows
from mixmo.rl._mixing import relative_attention as relative_attention
from mixmo.rl._mixing import selfish as selfish
from mixmo.rl._mixing import selfish_matrix as selfish_matrix
from mixmo.rl._reinforce import EpisodeBatch as EpisodeBatch
from mixmo.rl._reinforce import ReinforceConfig as ReinforceConfig
from mixmo.rl._reinforce import ReinforceMetrics as ReinforceMetrics
from mixmo.rl._reinforce import ReinforceState as ReinforceState
from mixmo.rl._reinforce import ReinforceTrainer as ReinforceTrainer
from mixmo.rl._reinforce import make_reinforce as make_reinforce
from mixmo.rl._gru import GRUPolicy as GRUPolicy
from mixmo.rl._recurrent import RecurrentConfig as RecurrentConfig
from mixmo.rl._recurrent import RecurrentTrainer as RecurrentTrainer
from mixmo.rl._recurrent import RecurrentTrainState as RecurrentTrainState
from mixmo.rl._recurrent import make_recurrent_train as make_recurrent_train
from mixmo.rl._recurrent import recurrent_policy_losses as recurrent_policy_losses
from mixmo.rl._gru import masked_logits as masked_logits
from mixmo.rl._evaluate import greedy_evaluation as greedy_evaluation
