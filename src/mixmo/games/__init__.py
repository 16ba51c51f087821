"""Differentiable games, each a function returning a `mixmo.Game`."""

from mixmo.games._classic import balduzzi as balduzzi
from mixmo.games._classic import matching_pennies as matching_pennies
from mixmo.games._public_goods import public_goods as public_goods
from mixmo.games._toy import toy as toy
from mixmo.games._opponent_shaping_games import ipd as ipd
from mixmo.games._opponent_shaping_games import tandem as tandem
