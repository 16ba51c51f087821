"""The D3C paper's small two- and four-player games (Appx. B.1, F.5, F.6, F.7)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mixmo.game import Game

GOLDEN_RATIO_CONJUGATE = (5**0.5 - 1) / 2  # 0.618...: below it the Nash of Game 1 is the worst outcome


def _scalars(key, n, low, high):
    x = jax.random.uniform(key, (n,), minval=low, maxval=high)
    return tuple(x[i] for i in range(n))


def nash_paradox(kappa: float = 0.5) -> Game:
    """Game 1, the Nash paradox: f_1 = x1^2 + 1/(x2^2 + kappa), f_2 = x2^2 + 1/(x1^2 + kappa), x_i in [0, 1].

    The constraint is handled by projection (`Game.project` clips each x_i to [0, 1]); starts are uniform in
    [0, 1]. The unique Nash equilibrium is (0, 0), loss 1/kappa each; the minimal total is at
    x_i = sqrt(1 - kappa), loss 2 - kappa each (kappa < 1). For kappa < 0.618 (golden ratio - 1) the Nash
    equilibrium has the largest total loss of all strategy profiles. Each f_i is even in x_i, so the clipping at
    0 only matters if a step overshoots.

    Args:
        kappa: in (0, 1].

    References: Gemp et al. 2022 (AAMAS), Appx. B.1, Game 1.
    """
    kappa = float(kappa)
    if not 0.0 < kappa <= 1.0:
        raise ValueError(f"nash_paradox: kappa must be in (0, 1], got {kappa}.")

    def losses(params):
        x1, x2 = params
        return jnp.stack([x1**2 + 1.0 / (x2**2 + kappa), x2**2 + 1.0 / (x1**2 + kappa)])

    def project(params):
        return tuple(jnp.clip(p, 0.0, 1.0) for p in params)

    optimum = 2 * (2 - kappa) if kappa < 1 else 2 / kappa
    return Game(name="nash-paradox", n_players=2, losses=losses, init=lambda key: _scalars(key, 2, 0.0, 1.0),
                project=project, optimum_total_loss=optimum, nash_total_loss=2 / kappa,
                description=f"D3C Game 1 (Nash paradox), kappa={kappa:g}, x_i in [0, 1] by clipping")


def unfair(weight: float = 1.1) -> Game:
    """Game 2, efficient but unfair: f_1 = x1^2, f_2 = x2^2 - (11/10) x1^2, x_i in R.

    The Nash equilibrium is (0, 0) with losses (0, 0). The total loss x2^2 - x1^2/10 is unbounded below as
    |x1| grows, at player 1's expense, so `optimum_total_loss` is None (minus infinity). Starts are uniform in
    [-1, 1] (the paper does not say).

    Args:
        weight: the 11/10 of the paper; > 1 makes the cooperative solution unbounded.

    References: Gemp et al. 2022 (AAMAS), Appx. F.6, Game 2.
    """
    weight = float(weight)

    def losses(params):
        x1, x2 = params
        return jnp.stack([x1**2, x2**2 - weight * x1**2])

    return Game(name="unfair", n_players=2, losses=losses, init=lambda key: _scalars(key, 2, -1.0, 1.0),
                nash_total_loss=0.0, optimum_total_loss=None if weight > 1 else 0.0,
                description=f"D3C Game 2 (efficient but unfair): f1=x1^2, f2=x2^2-{weight:g} x1^2")


ELECTION_TEAMMATE = (1, 0, 3, 2)
ELECTION_SIDE = (1.0, 1.0, -1.0, -1.0)


def election(c: float = 1.0, contest: float = 0.25, init_high: float = 0.05) -> Game:
    """A zero-sum election between two parties of two candidates each (D3C Appx. F.5), built for this library.

    The paper tells the story but gives no losses; these have exactly its structure. Candidates 1, 2 form
    party 1 and 3, 4 party 2; x_i in R is candidate i's civility towards its primary rival (0 = negative
    advertising). Candidate i with teammate t and side s_i (+1 for party 1, -1 for party 2) has loss

        f_i = x_i^2 + (x_t - c)^2 + s_i * contest * (x_1 x_3 + x_2 x_4).

    The first two terms are the convex prisoner's dilemma of Fig. 12 inside each party: each candidate gains by
    attacking its rival (x_i -> 0) and wants the rival to be civil to it (x_t -> c). The last term is the general
    election, zero-sum between the parties (it enters party 1's candidates with + and party 2's with -, so it
    cancels in every total): a bilinear contest between matched opponents (1 vs 3, 2 vs 4), a continuous
    matching pennies. Its game Jacobian has eigenvalues 2 +- contest*i, each twice, both in the original game
    and under perfect team formation (A = 1/2 on the 2 x 2 diagonal blocks) — the paper's "(2 +- 0.25i) x 2"
    with contest = 0.25. Nash equilibrium: x = 0 (total 4c^2); minimal total: x = c/2 (total 2c^2).
    Starts: every candidate near negative advertising, x_i uniform in [0, init_high].

    References: Gemp et al. 2022 (AAMAS), Appx. F.5.
    """
    c, contest, init_high = float(c), float(contest), float(init_high)
    teammate = np.array(ELECTION_TEAMMATE)
    side = np.array(ELECTION_SIDE)

    def losses(params):
        x = jnp.stack(params)
        general = contest * (x[0] * x[2] + x[1] * x[3])
        return x**2 + (x[teammate] - c) ** 2 + jnp.asarray(side, x.dtype) * general

    return Game(name="election", n_players=4, losses=losses, init=lambda key: _scalars(key, 4, 0.0, init_high),
                optimum_total_loss=2 * c**2, nash_total_loss=4 * c**2,
                description=f"two parties x two candidates: in-party prisoner's dilemma (c={c:g}), zero-sum "
                            f"bilinear general election ({contest:g})")


def bilinear_nash_values(a, b, c, d) -> list[float]:
    """Total loss x1^T C x2 at every Nash equilibrium of the common-interest bilinear game on the simplices."""
    C = np.array([[a, b], [c, d]], float)
    values = [C[i, j] for i in range(2) for j in range(2) if C[i, j] <= C[1 - i, j] and C[i, j] <= C[i, 1 - j]]
    denom = a - b - c + d
    if denom != 0:
        p, q = (d - c) / denom, (d - b) / denom
        if 0 < p < 1 and 0 < q < 1:
            values.append(float(np.array([p, 1 - p]) @ C @ np.array([q, 1 - q])))
    return values


def bilinear(a: float = 0.0, b: float = -0.75, c: float = -1.0, d: float = 0.0,
             parametrization: str = "softmax") -> Game:
    """A two-player bilinear game on the simplex with cooperative matrix C = [[a, b], [c, d]] (D3C Appx. F.7).

    x1 = (p, 1 - p) and x2 = (q, 1 - q) are mixed strategies over two actions, and both players get half the
    cooperative loss, f_1 = f_2 = x1^T (C/2) x2 (the paper gives only B_1 + B_2 = C; the even split makes the
    game purely cooperative, which is the point of F.7). Parametrisations: "softmax" (x_i = softmax(w_i),
    w_i in R^2, starts N(0, 1)), or "project" (the scalar p (resp. q) itself, clipped to [0, 1], starts
    uniform in [0, 1]). With the defaults, f_C = -0.75 p(1 - q) - (1 - p) q has two local minima,
    (p, q) = (1, 0) with value b = -0.75 and (0, 1) with value c = -1 (the optimum), and a saddle at
    (4/7, 3/7). `nash_total_loss` is the worst equilibrium value (the saddle, -3/7).

    References: Gemp et al. 2022 (AAMAS), Appx. F.7, eq. 136.
    """
    if parametrization not in ("softmax", "project"):
        raise ValueError(f"bilinear: parametrization must be softmax or project, got {parametrization!r}.")
    C = np.array([[a, b], [c, d]], float)

    if parametrization == "softmax":
        def strategies(params):
            return jax.nn.softmax(params[0]), jax.nn.softmax(params[1])

        def init(key):
            w = jax.random.normal(key, (2, 2))
            return (w[0], w[1])

        project = None
    else:
        def strategies(params):
            p, q = params
            return jnp.stack([p, 1 - p]), jnp.stack([q, 1 - q])

        def init(key):
            return _scalars(key, 2, 0.0, 1.0)

        def project(params):
            return tuple(jnp.clip(v, 0.0, 1.0) for v in params)

    def losses(params):
        x1, x2 = strategies(params)
        value = x1 @ jnp.asarray(C, x1.dtype) @ x2
        return jnp.stack([value / 2, value / 2])

    values = bilinear_nash_values(a, b, c, d)
    return Game(name="bilinear", n_players=2, losses=losses, init=init, project=project,
                optimum_total_loss=float(C.min()), nash_total_loss=max(values) if values else None,
                description=f"bilinear game on the simplex, C=[[{a:g}, {b:g}], [{c:g}, {d:g}]], {parametrization}")


def bilinear_strategies(game_params, parametrization: str = "softmax"):
    """(p, q): the probabilities of the first action, from bilinear-game parameters (leading axes allowed)."""
    if parametrization == "softmax":
        return jax.nn.softmax(game_params[0], axis=-1)[..., 0], jax.nn.softmax(game_params[1], axis=-1)[..., 0]
    return game_params[0], game_params[1]
