"""Braess's paradox: four drivers choose routes through a traffic network (D3C paper §3.1, Appx. E.1).

The network (D3C Fig. 11): edges S->A (F * cars on it), A->E (C), S->B (D), B->E (G * cars on it) and,
optionally, the shortcut A->B (E). Routes: top S-A-E, bottom S-B-E, shortcut S-A-B-E. Each driver plays a
distribution x_i over the routes, parametrised by logits: x_i = softmax(w_i), w_i unconstrained. A driver's loss
is its expected commute time when all drivers sample their routes independently, eq. 126:

    E[l_i] = Tr(M Cov(x_i)) + x_i^T M sum_j x_j + b^T x_i,     M = [[F, 0, F], [0, G, G], [F, G, F + G]],
    b = (C, D, E),

which equals sum_r x_ir (b_r + M_rr) + x_i^T M sum_{j != i} x_j: the variance term makes a driver count itself
once on its own route. Without the shortcut, M and b lose their last row/column.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.game import Game

DRIVERS = 4


@dataclass(frozen=True)
class BraessNetwork:
    """The constants of Fig. 11: congestion slopes F (S->A) and G (B->E), fixed times C (A->E), D (S->B), E (A->B)."""

    F: float = 10.0
    G: float = 10.0
    C: float = 45.0
    D: float = 45.0
    E: float = 0.0


def expected_commutes(x, network_constants, with_shortcut: bool = True):
    """Expected commute time of each driver, eq. 126.

    Args:
        x: route distributions, shape `(drivers, routes)` (routes = 3 with the shortcut, 2 without).
        network_constants: `(F, G, C, D, E)` (arrays allowed, so networks can be traced).
    Returns:
        shape `(drivers,)`.
    """
    F, G, C, D, E = (network_constants[k] for k in range(5))
    zero = jnp.zeros_like(F)
    rows = [[F, zero, F], [zero, G, G], [F, G, F + G]] if with_shortcut else [[F, zero], [zero, G]]
    M = jnp.stack([jnp.stack(row) for row in rows])
    b = jnp.stack([C, D, E] if with_shortcut else [C, D])
    others = jnp.sum(x, axis=0)[None, :] - x
    return x @ (b + jnp.diagonal(M)) + jnp.einsum("ir,rs,is->i", x, M, others)


def _count_vectors(routes: int):
    return np.array([c for c in itertools.product(range(DRIVERS + 1), repeat=routes) if sum(c) == DRIVERS])


def pure_totals(network_constants, with_shortcut: bool = True):
    """Total commute time of every pure profile (counts of drivers per route); returns `(counts, totals)`."""
    routes = 3 if with_shortcut else 2
    counts = _count_vectors(routes)
    # a pure profile is the mean of one-hot rows; the variance term vanishes, so eq. 126 gives its exact times
    x = jnp.asarray(np.stack([np.repeat(np.eye(routes), c, axis=0) for c in counts]), jnp.float32)
    totals = jax.vmap(lambda xx: jnp.sum(expected_commutes(xx, network_constants, with_shortcut)))(x)
    return counts, totals


@partial(jax.jit, static_argnums=1)  # one program per network kind, not one per operation at each game's construction
def optimum_total(network_constants, with_shortcut: bool = True):
    """min over joint strategies of the total expected commute: the best pure profile (randomising only adds
    variance, and the expected total is an average of pure totals)."""
    return jnp.min(pure_totals(network_constants, with_shortcut)[1])


def _two_route_times(x: np.ndarray, F, G, C, D) -> np.ndarray:
    """Eq. 126 without the shortcut, in numpy float64: expected commute of each driver, x of shape `(4, 2)`."""
    M = np.array([[F, 0.0], [0.0, G]])
    others = x.sum(axis=0)[None, :] - x
    return x @ (np.array([C, D]) + np.diag(M)) + np.einsum("ir,rs,is->i", x, M, others)


def _worst_nash_two_routes(F, G, C, D) -> float:
    """Worst total commute over the Nash equilibria of the network without the shortcut.

    In every Nash equilibrium the drivers who randomise share one probability p of the top route (their
    indifference conditions differ only by their own p), so it suffices to enumerate k pure-top, l pure-bottom
    and m = 4 - k - l randomising drivers, solve the indifference condition for p, and keep the profiles where
    no driver gains by switching to a pure route.
    """
    worst = -np.inf
    for k in range(DRIVERS + 1):
        for l in range(DRIVERS + 1 - k):
            m = DRIVERS - k - l
            if m == 0:
                candidates = [0.0]
            else:
                # a randomiser is indifferent: C + F(1 + k + (m-1)p) = D + G(1 + l + (m-1)(1-p))
                slope = (F + G) * (m - 1)
                rhs = D + G * (1 + l + (m - 1)) - C - F * (1 + k)
                if slope == 0:
                    candidates = [0.5] if abs(rhs) < 1e-9 else []
                else:
                    candidates = [rhs / slope] if 0 < rhs / slope < 1 else []
            for p in candidates:
                x = np.array([[1.0, 0.0]] * k + [[0.0, 1.0]] * l + [[p, 1 - p]] * m)
                t = _two_route_times(x, F, G, C, D)
                stable = True
                for i in range(DRIVERS):
                    for route in range(2):
                        deviation = x.copy()
                        deviation[i] = np.eye(2)[route]
                        stable &= _two_route_times(deviation, F, G, C, D)[i] >= t[i] - 1e-9
                if stable:
                    worst = max(worst, float(t.sum()))
    return worst


def braess(with_shortcut: bool = True, F: float = 10.0, G: float = 10.0, C: float = 45.0, D: float = 45.0,
           E: float = 0.0) -> Game:
    """Four drivers on the Braess network of D3C Fig. 2a / Fig. 11, route distributions by logits.

    Player i's parameters are route logits w_i (3 with the shortcut, 2 without), x_i = softmax(w_i); its loss is
    its expected commute time in minutes, eq. 126 (with the variance term). Starting logits are i.i.d. N(0, 1).
    With the defaults: the optimum is two drivers on each of top and bottom, 65 min each (total 260), with or
    without the shortcut. With the shortcut the shortcut is strictly dominant and the unique Nash equilibrium
    sends everyone on it: 80 min each (total 320, price of anarchy 80/65). Without it the pure Nash equilibria
    are the 2–2 splits (65 min each), but the game also has mixed equilibria, the worst being everyone
    randomising 50/50: 70 min each (total 280), which `nash_total_loss` reports (the worst equilibrium).

    References: Gemp et al. 2022 (AAMAS), §3.1, Fig. 2a, Appx. E.1 eqs. 114–126.
    """
    network = BraessNetwork(float(F), float(G), float(C), float(D), float(E))
    consts = jnp.array([network.F, network.G, network.C, network.D, network.E])
    routes = 3 if with_shortcut else 2

    def losses(params):
        x = jax.nn.softmax(jnp.stack(params), axis=-1)
        return expected_commutes(x, consts.astype(x.dtype), with_shortcut)

    def init(key):
        w = jax.random.normal(key, (DRIVERS, routes))
        return tuple(w[i] for i in range(DRIVERS))

    optimum = float(optimum_total(consts, with_shortcut))
    if with_shortcut:
        dominant = network.E < min(network.C - DRIVERS * network.G, network.D - DRIVERS * network.F)
        nash = DRIVERS * (DRIVERS * (network.F + network.G) + network.E) if dominant else None
    else:
        nash = _worst_nash_two_routes(network.F, network.G, network.C, network.D)
    name = "braess" if with_shortcut else "braess-no-shortcut"
    return Game(name=name, n_players=DRIVERS, losses=losses, init=init, optimum_total_loss=optimum,
                nash_total_loss=nash,
                description=f"Braess network (F={F}, G={G}, C={C}, D={D}, E={E}), "
                            f"{'with' if with_shortcut else 'without'} the shortcut; 4 drivers, route logits")


def sample_network(key, delta: float):
    """Algorithm 4 (gen_braess): network constants `(F, G, C, D, E)`, shape `(5,)`, that exhibit Braess's paradox.

    F, G ~ U{1..20}, C ~ U{4G+10..4G+20}, D ~ U{4F+10..4F+20}; tau_Opt = min over n_sa in {1, 2, 3} of the
    two-route total; E is a uniformly drawn integer with E >= 0, E > (tau_Opt + delta)/4 - 4(F+G) and
    E < min(C - 4G, D - 4F) — the paper's bounds with their strict inequalities kept, so the shortcut is strictly
    dominant (eqs. 108–110) and the all-shortcut Nash total exceeds tau_Opt by more than delta (eq. 113). Draws
    without such an E are rejected and redrawn. Pure JAX (a `while_loop`), so it can run inside `jit`/`vmap`.
    """

    def draw(k):
        kf, kg, kc, kd, ke = jax.random.split(k, 5)
        F = jax.random.randint(kf, (), 1, 21).astype(jnp.float32)
        G = jax.random.randint(kg, (), 1, 21).astype(jnp.float32)
        C = 4 * G + jax.random.randint(kc, (), 10, 21).astype(jnp.float32)
        D = 4 * F + jax.random.randint(kd, (), 10, 21).astype(jnp.float32)
        n_sa = jnp.array([1.0, 2.0, 3.0])
        n_be = DRIVERS - n_sa
        tau_opt = jnp.min(n_sa * (F * n_sa + C) + n_be * (G * n_be + D))
        low = jnp.maximum(jnp.floor((tau_opt + delta) / 4 - 4 * (F + G)) + 1, 0.0)
        high = jnp.minimum(C - 4 * G, D - 4 * F) - 1
        E = low + jnp.floor(jax.random.uniform(ke, dtype=jnp.float32) * (high - low + 1))
        return jnp.stack([F, G, C, D, jnp.minimum(E, high)]).astype(jnp.float32), low <= high

    def cond(carry):
        return ~carry[2]

    def body(carry):
        k, _, _ = carry
        k, sub = jax.random.split(k)
        net, ok = draw(sub)
        return k, net, ok

    _, network, _ = jax.lax.while_loop(cond, body, (key, jnp.zeros(5, jnp.float32), jnp.array(False)))
    return network


def braess_random(key, delta: float = 10.0) -> Game:
    """A random Braess network drawn by D3C's Algorithm 4, as a 4-driver game with the shortcut.

    Args:
        key: PRNG key that picks the network.
        delta: the margin Delta (minutes, on the total) by which the all-shortcut Nash must exceed the best
            two-route split. The paper does not give it; 10 is used by default.

    `optimum_total_loss` is the best pure profile over all three routes (Algorithm 4's tau_Opt only looks at
    two-route splits with 1–3 drivers on top, so the true optimum can be lower), and `nash_total_loss` the
    all-shortcut total 4(4(F+G)+E), the unique Nash equilibrium since the shortcut is strictly dominant.

    References: Gemp et al. 2022 (AAMAS), Appx. E.1, Algorithm 4; Fig. 2b.
    """
    F, G, C, D, E = (float(v) for v in np.asarray(sample_network(key, float(delta))))
    return braess(True, F, G, C, D, E)


def braess_networks(delta: float = 10.0) -> Game:
    """Braess games whose every run draws its own network by Algorithm 4 (for Fig. 2b in one `jit(vmap(scan))`).

    Each driver's parameters are `{"logits": w_i, "network": (F, G, C, D, E)}`: the network rides along with the
    strategies so that `learn` can vmap over networks, and the losses read it through `stop_gradient`, so its
    gradient is exactly zero for every method and a plain (or any gradient-only) optimizer never moves it.
    Runs differ in their network; read it back from `Trajectory.params[0]["network"]` and get each run's optimum
    with `optimum_total`. `optimum_total_loss` is therefore None.
    """
    delta = float(delta)

    def losses(params):
        network = jax.lax.stop_gradient(params[0]["network"])
        x = jax.nn.softmax(jnp.stack([p["logits"] for p in params]), axis=-1)
        return expected_commutes(x, network.astype(x.dtype), True)

    def init(key):
        k_net, k_w = jax.random.split(key)
        network = sample_network(k_net, delta)
        w = jax.random.normal(k_w, (DRIVERS, 3))
        return tuple({"logits": w[i], "network": network} for i in range(DRIVERS))

    return Game(name="braess-random", n_players=DRIVERS, losses=losses, init=init,
                description=f"random Braess networks (Algorithm 4, delta={delta}), one per run; route logits")
