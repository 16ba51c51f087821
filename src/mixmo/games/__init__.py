"""Differentiable games, each a function returning a `mixmo.Game`."""

from mixmo.games._classic import balduzzi as balduzzi
from mixmo.games._classic import matching_pennies as matching_pennies
from mixmo.games._public_goods import public_goods as public_goods
from mixmo.games._toy import toy as toy
from mixmo.games._braess import braess as braess
from mixmo.games._braess import braess_networks as braess_networks
from mixmo.games._braess import braess_random as braess_random
from mixmo.games._d3c_games import bilinear as bilinear
from mixmo.games._d3c_games import election as election
from mixmo.games._d3c_games import nash_paradox as nash_paradox
from mixmo.games._d3c_games import unfair as unfair
from mixmo.games._prisoners import prisoners_dilemma as prisoners_dilemma
from mixmo.games._opponent_shaping_games import ipd as ipd
from mixmo.games._opponent_shaping_games import tandem as tandem
from mixmo.games._braess import optimum_total as braess_optimum_total
from mixmo.games._d3c_games import GOLDEN_RATIO_CONJUGATE as GOLDEN_RATIO_CONJUGATE
from mixmo.games._d3c_games import bilinear_strategies as bilinear_strategies
from mixmo.games._toy import toy_losses as toy_losses
