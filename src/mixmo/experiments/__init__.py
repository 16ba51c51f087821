"""Registered reproductions of the papers' tables and figures (`mixmo list`, `mixmo run NAME`)."""

from mixmo.experiments import public_goods as public_goods  # noqa: F401  (registers)
from mixmo.experiments import methods_ipd as methods_ipd  # noqa: F401  (registers)
from mixmo.experiments import toy as toy  # noqa: F401  (registers)
from mixmo.experiments._registry import EXPERIMENTS as EXPERIMENTS
from mixmo.experiments._registry import VERDICTS as VERDICTS
from mixmo.experiments._registry import Claim as Claim
from mixmo.experiments._registry import ConfigError as ConfigError
from mixmo.experiments._registry import Experiment as Experiment
from mixmo.experiments._registry import Results as Results
from mixmo.experiments._registry import field_docs as field_docs
from mixmo.experiments._registry import get as get
from mixmo.experiments._registry import make_config as make_config
from mixmo.experiments._registry import register as register
from mixmo.experiments import d3c_braess as d3c_braess  # noqa: F401  (registers)
from mixmo.experiments import d3c_prisoners as d3c_prisoners  # noqa: F401  (registers)
from mixmo.experiments import d3c_paradoxes as d3c_paradoxes  # noqa: F401  (registers)
from mixmo.experiments import d3c_teams as d3c_teams  # noqa: F401  (registers)
from mixmo.experiments import aga_ssd as aga_ssd  # noqa: F401  (registers)
from mixmo.experiments import aga_smax as aga_smax  # noqa: F401  (registers)
from mixmo.experiments import d3c_tyb as d3c_tyb  # noqa: F401  (registers)
from mixmo.experiments import d3c_rl as d3c_rl  # noqa: F401  (registers)
