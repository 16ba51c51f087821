"""The environment registry: ``make(name, **options)`` and the list of known names.

A dict maps each name to a factory and its parameter type, so ``make`` can take both
constructor options (``num_agents=3``) and parameter overrides (``max_steps=100``) as
keywords: keywords naming a field of the environment's params NamedTuple replace that
field of its default params, the rest go to the constructor.

References:
    gymnax ``registration.py`` (a dict-backed ``make`` raising on unknown ids).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple

from mixmo.envs._base import MultiAgentEnv
from mixmo.envs.catalog import ENV_CATALOG
from mixmo.envs.catalog import registered_envs as registered_envs
from mixmo.envs.cleanup import CleanupEnv, CleanupParams, cleanup_10x10, mini_cleanup
from mixmo.envs.coins import CoinsEnv, CoinsParams
from mixmo.envs.harvest import HarvestEnv, HarvestParams, harvest_patch
from mixmo.envs.smax_mmm2 import SMAXParams, mmm2, selfish_mmm2  # jaxmarl is imported when one is built
from mixmo.envs.trust_your_brother import TrustYourBrotherEnv, TrustYourBrotherParams


def _coin_game(**kwargs) -> MultiAgentEnv:
    from mixmo.envs.coin_game import CoinGameEnv  # imports jaxmarl, so only on demand

    return CoinGameEnv(**kwargs)


class _Entry(NamedTuple):
    factory: Callable[..., MultiAgentEnv]
    params: type | None  # the params NamedTuple, for keyword overrides
    options: Callable[..., Any]  # the callable whose signature lists the constructor options


_REGISTRY: dict[str, _Entry] = {
    "cleanup": _Entry(CleanupEnv, CleanupParams, CleanupEnv),
    "harvest": _Entry(HarvestEnv, HarvestParams, HarvestEnv),
    "coins": _Entry(CoinsEnv, CoinsParams, CoinsEnv),
    "trust_your_brother": _Entry(TrustYourBrotherEnv, TrustYourBrotherParams, TrustYourBrotherEnv),
    "mini_cleanup": _Entry(mini_cleanup, CleanupParams, CleanupEnv),
    "cleanup_10x10": _Entry(cleanup_10x10, CleanupParams, CleanupEnv),
    "harvest_patch": _Entry(harvest_patch, HarvestParams, HarvestEnv),
    "coin_game": _Entry(_coin_game, None, None),
    "selfish_mmm2": _Entry(selfish_mmm2, SMAXParams, selfish_mmm2),
    "mmm2": _Entry(mmm2, SMAXParams, mmm2),
}
assert set(_REGISTRY) == set(ENV_CATALOG), "mixmo.envs.catalog lists every registered environment"


def make(name: str, **options: Any) -> MultiAgentEnv:
    """Build a registered environment.

    Args:
        name: one of ``registered_envs()``.
        **options: constructor options (e.g. ``num_agents``) and parameter overrides
            (fields of the environment's params, e.g. ``max_steps``).

    Raises:
        ValueError: unknown name or option, naming the known ones.
        ImportError: the environment needs an optional extra that is not installed (the message says which).

    Example:
        >>> env = make("cleanup", max_steps=100)
        >>> env.default_params.max_steps, env.num_agents
        (100, 5)
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown environment {name!r}; known: {', '.join(sorted(_REGISTRY))}.")
    entry = _REGISTRY[name]
    fields = set(entry.params._fields) if entry.params is not None else set()
    overrides = {k: v for k, v in options.items() if k in fields}
    ctor = {k: v for k, v in options.items() if k not in fields}
    if entry.options is not None:
        accepted = set(inspect.signature(entry.options).parameters) - {"map_name", "params"}
        unknown = sorted(set(ctor) - accepted)
        if unknown:
            raise ValueError(
                f"environment {name!r} has no option {', '.join(unknown)}; options: "
                f"{', '.join(sorted(accepted | fields))}."
            )
    env = entry.factory(**ctor)
    if overrides:
        # rebuild so the constructor validates the final parameters
        env = entry.factory(**ctor, params=env.default_params._replace(**overrides))
    return env
