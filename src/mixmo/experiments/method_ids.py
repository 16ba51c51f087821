"""Command-line method ids -> `GameMethod`s, with hyperparameters from an experiment's configuration."""

from __future__ import annotations

from mixmo import methods
from mixmo.experiments.registry import ConfigError

# Display names used in tables, keyed by the command-line ids that `summary.json` uses.
DISPLAY = {
    "simul-ind": "Simul-Ind",
    "simul-co": "Simul-Co",
    "cga": "CGA",
    "sga": "SGA",
    "svo": "SVO",
    "sl": "SL",
    "aga": "AgA",
    "aga-sign": "AgA-Sign",
    "aga-head": "AgA (head only)",
    "lookahead": "LookAhead",
    "lola": "LOLA",
    "sos": "SOS",
    "extragradient": "Extragradient",
    "optimistic": "Optimistic",
    "gd": "GD",  # the D3C experiments' name for plain simultaneous gradient descent (= simul-ind)
    "d3c": "D3C",
}


def build(method_id: str, config) -> methods.GameMethod:
    """The `GameMethod` for `method_id`, using the config's `lam`, `cga_lam`, `sga_lam`, `svo_*`, `sl_alpha`,
    `alpha` (opponent-shaping look-ahead) and `lr` (extragradient's extrapolation step) as each needs them."""
    factories = {
        "simul-ind": lambda: methods.simul_ind(),
        "simul-co": lambda: methods.simul_co(),
        "cga": lambda: methods.cga(config.cga_lam),
        "sga": lambda: methods.sga(config.sga_lam),
        "svo": lambda: methods.svo(config.svo_weight, config.svo_angle),
        "sl": lambda: methods.sl(config.sl_alpha),
        "aga": lambda: methods.aga(config.lam),
        "aga-sign": lambda: methods.aga(config.lam, align=False),
        "lookahead": lambda: methods.lookahead(config.alpha),
        "lola": lambda: methods.lola(config.alpha),
        "sos": lambda: methods.sos(config.alpha),
        "extragradient": lambda: methods.extragradient(config.lr),
        "optimistic": lambda: methods.optimistic(),
    }
    if method_id not in factories:
        raise ConfigError(f"unknown method {method_id!r}; known: {', '.join(factories)}.")
    try:
        return factories[method_id]()
    except ValueError as error:
        raise ConfigError(str(error)) from None


def parse_methods(text: tuple[str, ...] | str, config) -> dict[str, methods.GameMethod]:
    """Method ids (a tuple, or comma-separated text) -> ordered {id: GameMethod}; unknown ids refused."""
    ids = text.split(",") if isinstance(text, str) else text
    ids = [i.strip() for i in ids if i.strip()]
    if not ids:
        raise ConfigError("methods: give at least one method id, e.g. --set methods=simul-ind,aga.")
    return {i: build(i, config) for i in ids}
