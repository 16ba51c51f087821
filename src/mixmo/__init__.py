"""mixmo: learning in mixed-motive multi-agent games (AgA, D3C and their baselines) in JAX."""

from mixmo import games as games
from mixmo import methods as methods
from mixmo import metrics as metrics
from mixmo.game import Game as Game
from mixmo.game import StructuredLosses as StructuredLosses
from mixmo.learn import StepInfo as StepInfo
from mixmo.learn import Trajectory as Trajectory
from mixmo.learn import learn as learn
from mixmo.learn import loss_change_below as loss_change_below
from mixmo.learn import param_change_below as param_change_below
from mixmo.methods import GameMethod as GameMethod

__version__ = "0.1.0"
