"""Games of the opponent-shaping literature: the iterated prisoner's dilemma (exact) and the tandem game."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mixmo.game import Game

# Rewards of player 1 in states CC, CD, DC, DD (player 1's action first), as in Foerster et al. 2018.
IPD_REWARDS = jnp.array([-1.0, -3.0, 0.0, -2.0])
# Player 2 sees CD as DC: its own action first.
_SWAP = jnp.array([0, 2, 1, 3])


def _joint(p1, p2):
    """Distribution over (CC, CD, DC, DD) from the two cooperation probabilities (broadcasting)."""
    return jnp.stack([p1 * p2, p1 * (1 - p2), (1 - p1) * p2, (1 - p1) * (1 - p2)], axis=-1)


def ipd(gamma: float = 0.96) -> Game:
    """Iterated prisoner's dilemma with exact discounted returns (Foerster et al. 2018, §4.1; Letcher et al. 2019).

    Each player has 5 logits: the probability of cooperating at the first step and after CC, CD, DC, DD (its
    own action first), p = sigmoid(theta). With P the 4x4 transition matrix of the induced Markov chain and
    q0 the first-step distribution, the value is V_i = q0^T (I - gamma P)^{-1} r_i. The loss is l_i = -V_i,
    unnormalised as in Foerster et al. and Letcher et al. (so their learning rates and SOS's a, b carry over).
    Payoffs are the normalised values (1 - gamma) V_i, the average reward per step: -1 for mutual
    cooperation, -2 for mutual defection. Starting logits ~ N(0, 1).

    References: Foerster et al. 2018, "Learning with Opponent-Learning Awareness", §4.1 (payoffs, gamma 0.96);
    Letcher et al. 2019, §5.
    """
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"ipd: gamma must be in (0, 1), got {gamma}.")

    def values(params):
        p1, p2 = jax.nn.sigmoid(params[0]), jax.nn.sigmoid(params[1])
        q0 = _joint(p1[0], p2[0])
        transition = _joint(p1[1:], p2[1:][_SWAP])  # row s: next-state distribution after state s
        visits = jnp.linalg.solve((jnp.eye(4) - gamma * transition).T, q0)  # (I - gamma P)^-T q0
        return jnp.stack([visits @ IPD_REWARDS, visits @ IPD_REWARDS[_SWAP]])

    def init(key):
        k1, k2 = jax.random.split(key)
        return (jax.random.normal(k1, (5,)), jax.random.normal(k2, (5,)))

    return Game(name="ipd", n_players=2, losses=lambda p: -values(p), init=init,
                payoffs=lambda p: (1 - gamma) * values(p),
                optimum_total_loss=2.0 / (1 - gamma), nash_total_loss=4.0 / (1 - gamma),
                description=f"iterated prisoner's dilemma, exact discounted returns, gamma={gamma}")


def tandem() -> Game:
    """The tandem game (Letcher et al. 2019, §5): l_1 = (x + y)^2 - 2x, l_2 = (x + y)^2 - 2y.

    Every point with x + y = 1 is a Nash equilibrium (total loss 0) and a stable fixed point; the total loss is
    smallest, -1/2, at x + y = 1/2. LOLA's shaping pushes away from them (to "arrogant"
    outcomes with both players worse off), LookAhead and SOS converge. Starting points ~ N(0, 1).
    """

    def losses(params):
        x, y = params
        return jnp.stack([(x + y) ** 2 - 2 * x, (x + y) ** 2 - 2 * y])

    def init(key):
        z = jax.random.normal(key, (2,))
        return (z[0], z[1])

    return Game(name="tandem", n_players=2, losses=losses, init=init, optimum_total_loss=-0.5,
                nash_total_loss=0.0, description="tandem game: l1=(x+y)^2-2x, l2=(x+y)^2-2y")
