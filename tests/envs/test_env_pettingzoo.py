"""The PettingZoo adapter passes PettingZoo's own parallel API test."""

import numpy as np
import pytest

pettingzoo_test = pytest.importorskip("pettingzoo.test")

from mixmo.envs import make, to_pettingzoo  # noqa: E402


@pytest.mark.parametrize("name", ["coins", "trust_your_brother", "mini_cleanup"])
def test_parallel_api_test_passes(name, registered):
    env = registered(name)
    par = to_pettingzoo(env, seed=0, render_mode="rgb_array")
    pettingzoo_test.parallel_api_test(par, num_cycles=60)
    obs, _ = par.reset(seed=3)
    assert set(obs) == set(env.agents) and par.render().dtype == np.uint8


def test_episode_end_empties_agents_and_reports_truncation_or_termination(registered):
    tyb = to_pettingzoo(registered("trust_your_brother"))
    tyb.reset(seed=0)
    for _ in range(5):
        _, rewards, terminations, truncations, infos = tyb.step({a: 0 for a in tyb.agents})
    assert tyb.agents == [] and all(terminations.values()) and not any(truncations.values())
    assert set(infos["agent_0"]) == {"episode_return", "moves_tried", "times_caught"}
    with pytest.raises(RuntimeError, match="call reset"):
        tyb.step({})
    short = to_pettingzoo(make("coins", max_steps=2))
    short.reset(seed=1)
    short.step({a: 4 for a in short.agents})
    *_, terminations, truncations, _ = short.step({a: 4 for a in short.agents})
    assert all(truncations.values()) and not any(terminations.values())


def test_same_seed_same_observations(registered):
    a = to_pettingzoo(registered("coins"))
    b = to_pettingzoo(registered("coins"))
    for env in (a, b):
        env.reset(seed=11)
    rng = np.random.default_rng(0)
    for _ in range(5):
        acts = {ag: int(rng.integers(5)) for ag in a.agents}
        oa, *_ = a.step(acts)
        ob, *_ = b.step(acts)
        assert all(np.array_equal(oa[k], ob[k]) for k in oa)
