"""What `mixmo reproduce` runs: the papers, the budgets, and the record of one experiment's outcome. Light (no
JAX), so the command line can describe `reproduce` without importing it."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixmo.experiments.registry import Claim

PAPERS = {
    "aga": "AgA — Li et al., \"Aligning Individual and Collective Objectives in Multi-Agent Cooperation\", "
           "NeurIPS 2024 (arXiv 2402.12416)",
    "d3c": "D3C — Gemp et al., \"D3C: Reducing the Price of Anarchy in Multi-Agent Learning\", AAMAS 2022",
    "": "Beyond the papers (appendix)",
}
CHOICES = {"aga": ("aga",), "d3c": ("d3c",), "all": ("aga", "d3c", "")}
"""What each `mixmo reproduce PAPER` runs: `all` adds the beyond-paper experiments as an appendix."""

BUDGETS = {
    "smoke": "tiny settings that exercise every experiment and claim in minutes on a 2-core CPU;\n"
             "           their numbers are not comparable with the papers' (most claims say so)",
    "default": "each experiment's defaults (default; `mixmo list` gives each one's time)",
    "paper": "the papers' own budgets and seed counts where they differ from the defaults\n"
             "           (the RL experiments then take days on a CPU)",
}


@dataclass
class Outcome:
    """How one experiment went: status "done", "failed", "skipped" (an optional extra is missing; `error` says
    which) or "kept" (complete in OUT already, with `--resume`)."""

    name: str
    paper: str
    status: str
    overrides: dict[str, str]
    presets: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    claims: list[Claim] = field(default_factory=list)
    error: str = ""
    traceback: str = ""  # the file in OUT holding a failure's traceback
    figures: list[str] = field(default_factory=list)
    note: str = ""  # e.g. why a resumed experiment restarted
