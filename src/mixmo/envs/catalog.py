"""The names of mixmo's environments, each with a one-line description and the optional extra it needs.

Reading it imports nothing heavy (no JAX), so `mixmo envs` answers at once; `mixmo.envs.make(name)` builds one.
"""

from __future__ import annotations

from typing import NamedTuple


class EnvEntry(NamedTuple):
    """One environment as `mixmo envs` shows it."""

    name: str
    description: str
    needs: str = ""
    """The optional extra it needs (`pip install "mixmo[NEEDS]"`), if any; also the module that must import."""


ENTRIES = (
    EnvEntry("cleanup", "Cleanup, 5 agents, 25 x 18 (public goods)"),
    EnvEntry("harvest", "Harvest, 5 agents, 16 x 38 (common pool)"),
    EnvEntry("coins", "Coins, D3C's 5 x 5 variant, 2 agents"),
    EnvEntry("trust_your_brother", "predator and 2 prey on a ring of 6"),
    EnvEntry("mini_cleanup", "LIO's 7 x 7 Cleanup, 2 agents"),
    EnvEntry("cleanup_10x10", "LIO's 10 x 10 Cleanup, 2 agents"),
    EnvEntry("harvest_patch", "Harvest with six apple patches"),
    EnvEntry("coin_game", "JaxMARL's 3 x 3 torus coin game", needs="jaxmarl"),
    EnvEntry("selfish_mmm2", "Selfish-MMM2: SMAX MMM2 with Medivacs, 10 agents, selfish rewards", needs="jaxmarl"),
    EnvEntry("mmm2", "SMAX MMM2 with Medivacs, 10 agents, shared team reward", needs="jaxmarl"),
)

ENV_CATALOG: dict[str, EnvEntry] = {entry.name: entry for entry in ENTRIES}


def registered_envs() -> dict[str, str]:
    """Known environment names, each with a one-line description (saying which need an extra)."""
    return {e.name: e.description + (f" (needs {e.needs})" if e.needs else "") for e in ENTRIES}
