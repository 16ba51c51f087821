"""The table of contents of mixmo's experiments: name, paper, module, one line, duration and optional extra.

Reading it imports nothing heavy (no JAX), so `mixmo list` answers at once; `mixmo.experiments.get(name)`
imports the experiment's module, which registers its configuration and run function.
"""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    """One experiment as `mixmo list` shows it."""

    name: str
    paper: str
    """"aga" or "d3c" when it reproduces part of that paper (`mixmo reproduce PAPER`); "" beyond the papers."""
    module: str
    """The module that registers it."""
    description: str
    budget: str = ""
    """How long its default configuration takes on the project's 2-core CPU."""
    needs: str = ""
    """The optional extra it needs (`pip install "mixmo[NEEDS]"`), if any; also the module that must import."""


_AGA, _D3C, _BEYOND = "mixmo.experiments.aga.", "mixmo.experiments.d3c.", "mixmo.experiments.beyond."
_D3C_RL = "D3C {}: A2C with D3C reward mixing vs no mixing vs full cooperation"

ENTRIES = (
    Entry("aga-public-goods", "aga", _AGA + "public_goods",
          "AgA Table 1 & 3: public goods game, 7 methods x 50 runs (SW, equality, steps, cost)", "about 15 s"),
    Entry("aga-toy", "aga", _AGA + "toy",
          "AgA Figure 2: toy-game trajectories on the collective landscape; AgA vs AgA-Sign steps", "about 10 s"),
    Entry("aga-cleanup", "aga", _AGA + "ssd",
          "AgA §5.2: Cleanup, 5 agents, PPO with Simul-Ind/Co, SVO, SL, CGA, AgA x 3 seeds", "about 25 min"),
    Entry("aga-harvest", "aga", _AGA + "ssd",
          "AgA §5.2: Harvest, 5 agents, PPO with Simul-Ind/Co, SVO, SL, CGA, AgA x 3 seeds", "about 15 min"),
    Entry("aga-selfish-mmm2", "aga", _AGA + "selfish_mmm2",
          "AgA §5.3: Selfish-MMM2 (SMAX + Medivac), recurrent PPO, win rate of Simul-Ind/Co, SVO, SL, CGA, AgA",
          "about 30 min", needs="jaxmarl"),
    Entry("d3c-braess", "d3c", _D3C + "braess",
          "D3C Fig. 3: Braess network with/without the shortcut, GD vs D3C, 1000 random starts", "about 30 s"),
    Entry("d3c-braess-random", "d3c", _D3C + "braess",
          "D3C Fig. 2b: 1000 random Braess networks (Algorithm 4), mean ratio to optimal", "about 25 s"),
    Entry("d3c-nash-paradox", "d3c", _D3C + "paradoxes",
          "D3C Appx. B: the Nash paradox; GD ends at the worst outcome (kappa < 0.618), D3C not", "about 20 s"),
    Entry("d3c-unfair", "d3c", _D3C + "paradoxes",
          "D3C Appx. F.6: efficient but unfair Game 2; D3C's final losses and A_11/A_12", "about 10 s"),
    Entry("d3c-prisoners-dilemma", "d3c", _D3C + "prisoners",
          "D3C Figs. 5, 6, 13, 14: n-player prisoner's dilemma, n in {2, 10}, c in {1, 1/9}", "about 45 s"),
    Entry("d3c-mavericks", "d3c", _D3C + "prisoners",
          "D3C Appx. E.2.1: m fixed defectors among n players, the rest D3C (m = 0..n-1)", "about 60 s"),
    Entry("d3c-election", "d3c", _D3C + "teams",
          "D3C Appx. F.5: zero-sum election, 2 parties x 2 candidates; final A and Jacobian eigenvalues",
          "about 10 s"),
    Entry("d3c-bilinear", "d3c", _D3C + "teams",
          "D3C Appx. F.7: bilinear game on the simplex; how often local rho-minimisation ends in each local minimum",
          "about 15 s"),
    Entry("d3c-trust-your-brother", "d3c", _D3C + "tyb",
          "D3C Fig. 7/16: Trust-Your-Brother, REINFORCE prey: no mixing vs D3C under each reading of Algorithm 1 "
          "vs cooperative, 1000 runs", "about 40 min"),
    Entry("d3c-coins", "d3c", _D3C + "rl", _D3C_RL.format("§3.4 Coins (Fig. 8), 2 agents x 5 seeds"), "about 14 min"),
    Entry("d3c-cleanup", "d3c", _D3C + "rl", _D3C_RL.format("§3.5 Cleanup (Fig. 9), 5 agents x 3 seeds"),
          "about 12 min"),
    Entry("d3c-mini-cleanup", "d3c", _D3C + "rl",
          _D3C_RL.format("Appx. F.3 Mini-Cleanup (Fig. 17), 2 agents x 5 seeds"), "about 13 min"),
    Entry("d3c-harvest-patch", "d3c", _D3C + "rl",
          _D3C_RL.format("Appx. F.4 HarvestPatch (Fig. 18), 5 agents x 3 seeds"), "about 5 min"),
    Entry("methods-ipd", "", _BEYOND + "methods_ipd",
          "Opponent shaping on the exact IPD: LOLA/SOS cooperate, NL/LA/CO/SGA defect (50 runs)", "about 20 s"),
)

CATALOG: dict[str, Entry] = {entry.name: entry for entry in ENTRIES}
