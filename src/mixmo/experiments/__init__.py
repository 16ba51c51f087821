"""The papers' tables and figures as named experiments (`mixmo list`, `mixmo run NAME`).

`experiments/aga/`, `experiments/d3c/` and `experiments/beyond/` hold one module per experiment (its
configuration tree, run function, claims and report text); `catalog` lists them without importing them;
`get(name)` imports one; `load_all()` every one.
"""

from mixmo.config import ConfigError as ConfigError
from mixmo.experiments.catalog import CATALOG as CATALOG
from mixmo.experiments.registry import EXPERIMENTS as EXPERIMENTS
from mixmo.experiments.registry import VERDICTS as VERDICTS
from mixmo.experiments.registry import Claim as Claim
from mixmo.experiments.registry import Experiment as Experiment
from mixmo.experiments.registry import MissingExtra as MissingExtra
from mixmo.experiments.registry import Results as Results
from mixmo.experiments.registry import get as get
from mixmo.experiments.registry import load_all as load_all
from mixmo.experiments.registry import register as register
