"""mixmo: learning in mixed-motive multi-agent games (AgA, D3C and their baselines) in JAX."""

from mixmo.game import Game as Game
from mixmo.methods._base import GameMethod as GameMethod

__version__ = "0.1.0"
from mixmo import games as games
from mixmo import methods as methods
from mixmo import metrics as metrics
from mixmo.learn import Trajectory as Trajectory
from mixmo.learn import learn as learn
