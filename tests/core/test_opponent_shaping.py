"""The opponent-shaping games against closed forms, SOS's switch on hand cases, and `methods-ipd` end to end."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

import mixmo
from mixmo.app.cli import main

BIG = 30.0  # sigmoid(30) = 1 to float32 precision: a deterministic policy


def policy(first, cc, cd, dc, dd):
    return jnp.array([first, cc, cd, dc, dd]) * BIG


@pytest.mark.parametrize("p1, p2, expected", [
    (policy(1, 1, 1, 1, 1), policy(1, 1, 1, 1, 1), (-1.0, -1.0)),       # always cooperate
    (policy(-1, -1, -1, -1, -1), policy(-1, -1, -1, -1, -1), (-2.0, -2.0)),  # always defect
    (policy(-1, -1, -1, -1, -1), policy(1, 1, 1, 1, 1), (0.0, -3.0)),    # defector exploits a cooperator
    (policy(1, 1, -1, 1, -1), policy(1, 1, -1, 1, -1), (-1.0, -1.0)),    # tit-for-tat pair
])
def test_ipd_values_by_closed_form(p1, p2, expected):
    game = mixmo.games.ipd()
    np.testing.assert_allclose(np.asarray(game.payoffs_of((p1, p2))), expected, atol=1e-4)
    np.testing.assert_allclose(np.asarray(game.losses((p1, p2))), -np.array(expected) / 0.04, atol=1e-2)


def test_ipd_tft_against_defector_loses_only_the_first_round():
    # TFT cooperates once, then defects forever: (1 - g) * (-3 + sum_{t>=1} g^t * -2) for TFT.
    g = 0.96
    game = mixmo.games.ipd(g)
    values = np.asarray(game.payoffs_of((policy(1, 1, -1, 1, -1), policy(-1, -1, -1, -1, -1))))
    np.testing.assert_allclose(values, [(1 - g) * -3 + g * -2, (1 - g) * 0 + g * -2], atol=1e-4)


def test_tandem_fixed_points_and_optimum():
    game = mixmo.games.tandem()
    d, _ = mixmo.methods.simul_ind().update(game.losses, (jnp.array(0.3), jnp.array(0.7)), ())
    assert [float(v) for v in d] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert float(jnp.sum(game.losses((jnp.array(0.25), jnp.array(0.25))))) == pytest.approx(game.optimum_total_loss)
    assert float(jnp.sum(game.losses((jnp.array(0.3), jnp.array(0.7))))) == pytest.approx(game.nash_total_loss, abs=1e-6)


def test_lola_leaves_tandem_fixed_points_and_sos_stays():
    # Letcher et al. 2019 §5: on the tandem game LOLA's shaping moves players off x + y = 1, SOS does not.
    game = mixmo.games.tandem()
    point = (jnp.array(0.5), jnp.array(0.5))
    lola, _ = mixmo.methods.lola(1.0).update(game.losses, point, ())
    sos, _ = mixmo.methods.sos(1.0).update(game.losses, point, ())
    assert max(abs(float(v)) for v in lola) > 0.5
    assert max(abs(float(v)) for v in sos) < 1e-6


def test_sos_argument_checks():
    with pytest.raises(ValueError, match="a must be in"):
        mixmo.methods.sos(1.0, a=1.5)
    with pytest.raises(ValueError, match="ipd: gamma"):
        mixmo.games.ipd(1.0)


def test_methods_ipd_cli(capsys, tmp_path):
    out = tmp_path / "ipd"
    # the two methods the claim compares (each method is a program of its own to compile; the others' directions
    # on games are checked in test_methods_reference.py and above)
    code = main(["run", "methods-ipd", "--seeds", "4", "--steps", "60", "--set", "methods=simul-ind,lola", "--quiet",
                 "--out", str(out)])
    assert code == 0
    rows = {row["method"]: row for row in json.loads((out / "summary.json").read_text())}
    assert set(rows) == {"simul-ind", "lola"}
    assert rows["simul-ind"]["average_reward"] < -1.9  # naive learners defect ...
    assert rows["lola"]["average_reward"] > -1.3  # ... LOLA already cooperates after 60 updates
    assert (out / "average_reward.png").exists()
