"""Gradient methods for differentiable games, each a factory returning a `GameMethod`."""

from mixmo.methods._aga import aga as aga
from mixmo.methods._base import EmptyState as EmptyState
from mixmo.methods._base import GameMethod as GameMethod
from mixmo.methods._cga import cga as cga
from mixmo.methods._sga import sga as sga
from mixmo.methods._shaping import sl as sl
from mixmo.methods._shaping import svo as svo
from mixmo.methods._simul import simul_co as simul_co
from mixmo.methods._simul import simul_ind as simul_ind
from mixmo.methods._d3c import D3CState as D3CState
from mixmo.methods._d3c import d3c as d3c
from mixmo.methods._extragradient import extragradient as extragradient
from mixmo.methods._extragradient import optimistic as optimistic
from mixmo.methods._opponent_shaping import lola as lola
from mixmo.methods._opponent_shaping import lookahead as lookahead
from mixmo.methods._opponent_shaping import sos as sos
from mixmo.methods._d3c import mixed_dynamics as mixed_dynamics
from mixmo.methods._diagnostics import Diagnostics as Diagnostics
from mixmo.methods._diagnostics import diagnostics as diagnostics
from mixmo.methods._derivatives import reuse_derivatives as reuse_derivatives
