"""mixmo: learning in mixed-motive multi-agent games (AgA, D3C and their baselines) in JAX.

The names below are imported on first use, so `import mixmo.config` or the command line's `mixmo list` do
not pay for JAX.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("games", "methods", "metrics", "envs", "rl", "experiments", "config")
_NAMES = {
    "Game": "mixmo.game", "StructuredLosses": "mixmo.game", "StepInfo": "mixmo.learning", "Trajectory": "mixmo.learning",
    "learn": "mixmo.learning", "loss_change_below": "mixmo.learning", "param_change_below": "mixmo.learning",
    "GameMethod": "mixmo.methods",
}
__all__ = [*_SUBMODULES, *_NAMES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"mixmo.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'mixmo' has no attribute {name!r}")


def __dir__():
    return sorted(__all__ + ["__version__"])
