"""The AgA paper's RL line-up (§5.2, §5.3): each method's settings, and the `GameMethod` / reward shaping of a
run id. Shared by `aga-cleanup`, `aga-harvest` and `aga-selfish-mmm2`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mixmo import methods, rl
from mixmo.experiments import common

METHOD_IDS = ("simul-ind", "simul-co", "svo", "sl", "cga", "sga", "aga", "aga-sign")
# methods whose direction is adjusted or sign-aligned: their runs record `mixmo.methods.diagnostics`
ADJUSTED = ("cga", "sga", "aga", "aga-sign", "aga-head")


@dataclass(frozen=True)
class AgASettings:
    """AgA (Li et al. 2024, Def. 4.2, Alg. 1) in the RL experiments."""

    lam: float = 100.0
    """|lambda| (the paper's headline runs: 100)."""
    extra_lams: tuple[float, ...] = ()
    """Extra AgA runs at these |lambda|, for the paper's sensitivity study (e.g. 0.1,1,1000)."""
    decay: float = 1.0
    """Geometric lambda schedule |lambda_t| = lam * decay ** floor(t / decay_every), t counting minibatch steps.
    Not in the paper: what code that looks like the authors' unreleased SB3 modification does (mixmo's choice
    to offer it; 1 keeps lambda constant)."""
    decay_every: int = 0
    """Minibatch steps between two decays of lambda (0: constant lambda, the paper)."""

    def validate(self):
        for lam in (self.lam, *self.extra_lams):
            if not math.isfinite(lam):
                raise ValueError(f"lambda must be finite, got {lam}.")
        if not (math.isfinite(self.decay) and self.decay > 0):
            raise ValueError(f"aga.decay must be a positive number, got {self.decay}.")
        if self.decay_every < 0:
            raise ValueError(f"aga.decay_every must be >= 0 (0: constant lambda), got {self.decay_every}.")


@dataclass(frozen=True)
class CGASettings:
    """CGA (consensus optimisation, Mescheder et al. 2017)."""

    lam: float = 1.0
    """lambda (not given in the AgA paper)."""


@dataclass(frozen=True)
class SGASettings:
    """SGA (Balduzzi et al. 2018), when `sga` is among the methods."""

    lam: float = 1.0
    """|lambda|."""


SVO_FORMS = ("mckee", "aga-e1")


@dataclass(frozen=True)
class SVOSettings:
    """SVO reward shaping: McKee et al. 2020's form, or the AgA paper's (App. E.1)."""

    weight: float = 0.1
    """Penalty per radian per step (not given in the AgA paper): w in mckee's w|theta* - theta_i|, alpha in
    aga-e1's alpha (1 - theta_i)."""
    angle: float = 45.0
    """Target angle theta* in degrees (mckee only)."""
    form: str = "mckee"
    """mckee: r_i - w|theta* - theta_i|, theta_i = atan2(mean of the others' running returns, own running return)
    (McKee et al. 2020, eq. 1-2); aga-e1: r_i - alpha (1 - atan2(sum_{j!=i} r_j, r_i)) per step, the AgA paper's
    SVO in Cleanup and Harvest (App. E.1; `mixmo.rl.svo_e1`)."""

    def validate(self):
        if self.form not in SVO_FORMS:
            raise ValueError(f"svo.form must be one of {', '.join(SVO_FORMS)}, got {self.form!r}.")


@dataclass(frozen=True)
class SLSettings:
    """SL reward shaping (Apt & Schäfer 2014)."""

    alpha: float = 1.0
    """Agent i's reward is r_i + alpha * sum_j r_j (not given in the AgA paper)."""


@dataclass(frozen=True)
class LineUp:
    """The methods an AgA RL experiment compares, and each one's settings (a base of its configuration)."""

    methods: tuple[str, ...] = ("simul-ind", "simul-co", "svo", "sl", "cga", "aga")
    """Methods to compare (command-line ids; sga and aga-sign are also accepted)."""
    aga: AgASettings = AgASettings()
    cga: CGASettings = CGASettings()
    sga: SGASettings = SGASettings()
    svo: SVOSettings = SVOSettings()
    sl: SLSettings = SLSettings()
    diagnostics: bool = True
    """Record the adjusted methods' diagnostics at every minibatch step (negative-sign fraction, cos(ξ̃, ξ),
    cos(ξ̃, ξ_c), ‖ξ‖, ‖ξ_c‖, ‖H_c ξ_c‖; `mixmo.methods.diagnostics`). AgA's ξ, ξ_c and H_c ξ_c are reused
    (`mixmo.methods.reuse_derivatives`): its segment grows 3,031 -> 3,243 jaxpr equations on Cleanup,
    6,935 -> 7,291 on Selfish-MMM2; CGA's and SGA's diagnostics compute their own. false: leave them out."""
    known_methods = METHOD_IDS  # a class attribute, not a setting: an experiment may accept more

    def validate(self):
        check_method_ids(self.methods, self.known_methods)


def diagnosed(config, run_id: str) -> bool:
    """Whether a run records diagnostics: an adjusted method (`ADJUSTED`), with `config.diagnostics` on."""
    return config.diagnostics and run_id.partition("@")[0] in ADJUSTED


def check_method_ids(ids: tuple[str, ...], known: tuple[str, ...]) -> None:
    """At least one method, each known, none twice; `ConfigError` otherwise."""
    common.require(bool(ids), "methods: give at least one, e.g. --set methods=simul-ind,aga.")
    unknown = [m for m in ids if m not in known]
    common.require(not unknown, f"unknown method {unknown[0] if unknown else ''!r}; known: {', '.join(known)}.")
    common.require(len(set(ids)) == len(ids), f"methods: {ids} lists a method twice.")


def runs(config) -> list[tuple[str, float | None]]:
    """`(run id, AgA lambda or None)` for each training run of a config with `methods` and `aga`: the methods,
    then one `aga@LAMBDA` run per extra lambda."""
    out = [(m, config.aga.lam if m.startswith("aga") else None) for m in config.methods]
    out += [(f"aga@{lam:g}", lam) for lam in config.aga.extra_lams]
    return out


def build(run_id: str, config):
    """`(GameMethod, RewardTransform or None)` of a run id, with the method settings of `config`."""
    method_id, _, lam = run_id.partition("@")
    lam = float(lam) if lam else config.aga.lam
    schedule = dict(decay=config.aga.decay, every=config.aga.decay_every)
    table = {
        "simul-ind": lambda: (methods.simul_ind(), None),
        "simul-co": lambda: (methods.simul_co(), None),
        "svo": lambda: (methods.simul_ind(), rl.svo(config.svo.weight, config.svo.angle) if config.svo.form == "mckee"
                        else rl.svo_e1(config.svo.weight)),
        "sl": lambda: (methods.simul_ind(), rl.sl(config.sl.alpha)),
        "cga": lambda: (methods.cga(config.cga.lam), None),
        "sga": lambda: (methods.sga(config.sga.lam), None),
        "aga": lambda: (methods.aga(lam, **schedule), None),
        "aga-sign": lambda: (methods.aga(lam, align=False, **schedule), None),
        "aga-head": lambda: (rl.head_only(methods.aga(lam, **schedule)), None),
    }
    return table[method_id]()
