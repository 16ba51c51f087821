"""Configuration trees (`mixmo.config`): dotted keys, presets, sources, strict JSON, and the command line's view."""

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mixmo import config as config_tree
from mixmo.app.cli import main
from mixmo.config import ConfigError


@dataclass(frozen=True)
class Inner:
    """A subtree."""

    lr: float = 0.1
    """Learning rate."""
    hidden: tuple[int, ...] = (64,)
    """Widths."""

    def validate(self):
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}.")


@dataclass(frozen=True)
class Outer:
    seeds: int = 3
    """Runs."""
    name: str = "x"
    """A name."""
    flag: bool = False
    """A switch."""
    opt: Inner = Inner(lr=0.5)
    """The optimiser."""


PRESETS = {"small": {"seeds": 1, "opt.hidden": (8,)}, "fast": {"opt.lr": "2.0"}}


def test_leaves_are_dotted_with_defaults_and_docs():
    leaves = config_tree.leaves(Outer)
    assert list(leaves) == ["seeds", "name", "flag", "opt.lr", "opt.hidden"]
    assert leaves["opt.lr"].default == 0.5  # the parent's default for its subtree wins over Inner's own
    assert leaves["opt.lr"].doc == "Learning rate." and leaves["opt.hidden"].kind == tuple[int, ...]


def test_presets_apply_in_order_and_set_wins_with_sources():
    config, sources = config_tree.resolve(Outer, presets=PRESETS, chosen=["small", "fast"],
                                          overrides={"opt.lr": "3", "flag": "yes"})
    assert config == Outer(seeds=1, flag=True, opt=Inner(lr=3.0, hidden=(8,)))
    assert sources == {"seeds": "preset small", "name": "default", "flag": "--set", "opt.lr": "--set",
                       "opt.hidden": "preset small"}


@pytest.mark.parametrize("kwargs,message", [
    ({"overrides": {"opt.lrr": "1"}}, "unknown setting 'opt.lrr'; did you mean opt.lr"),
    ({"overrides": {"lr": "1"}}, "did you mean opt.lr"),  # the last component names the leaf
    ({"overrides": {"opt.lr": "-1"}}, "opt: lr must be > 0, got -1.0."),
    ({"overrides": {"seeds": "1.5"}}, "--set seeds=1.5: expected an integer"),
    ({"chosen": ["huge"]}, "--preset huge: unknown preset; this experiment has: fast, small."),
])
def test_errors_name_the_key_and_the_fix(kwargs, message):
    with pytest.raises(ConfigError) as error:
        config_tree.resolve(Outer, presets=PRESETS, **kwargs)
    assert message in str(error.value)


values = st.builds(Outer, seeds=st.integers(0, 10**6), name=st.text(max_size=5), flag=st.booleans(),
                   opt=st.builds(Inner, lr=st.floats(1e-6, 1e3), hidden=st.lists(st.integers(1, 512), max_size=3)
                                 .map(tuple)))


@given(values)
def test_to_dict_from_dict_round_trips_through_json(config):
    data = json.loads(json.dumps(config_tree.to_dict(config)))
    assert config_tree.from_dict(Outer, data, "config.json") == config


@pytest.mark.parametrize("data,message", [
    ({"seeds": "abc"}, "config.json: seeds = 'abc' is not a valid int"),
    ({"opt": {"lr": True}}, "opt.lr = True is not a valid float"),
    ({"opt": {"momentum": 0.9}}, "unknown setting 'opt.momentum'"),
    ([1, 2], "expected a JSON object"),
])
def test_from_dict_is_strict(data, message):
    with pytest.raises(ConfigError) as error:
        config_tree.from_dict(Outer, data, "config.json")
    assert message in str(error.value)


def test_describe_shows_value_source_and_doc():
    lines = config_tree.describe(config_tree.resolve(Outer, presets=PRESETS, chosen=["fast"]))
    assert "[opt]" in lines and "  opt.lr = 2.0  (preset fast)" in lines and "      Learning rate." in lines


def test_show_config_json_is_the_nested_tree_alone(capsys):
    code = main(["run", "aga-cleanup", "--steps", "4096", "--seeds", "1", "--set", "ppo.lr=1e-4", "--show-config",
                 "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and not err
    tree = json.loads(out)
    assert tree["ppo"]["lr"] == 1e-4 and tree["ppo"]["total_steps"] == 4096 and tree["seeds"] == 1
    assert tree["aga"]["lam"] == 100.0 and tree["run"]["checkpoint_every"] >= 1


def test_show_config_names_sources_and_every_experiment_takes_the_budget_flags(capsys):
    assert main(["run", "aga-harvest", "--preset", "smoke", "--set", "ppo.lr=1e-4", "--show-config"]) == 0
    out = capsys.readouterr().out
    assert "ppo.lr = 0.0001  (--set)" in out and "ppo.num_envs = 2  (preset smoke)" in out
    assert "ppo.gamma = 0.99  (default)" in out and "Discount." in out
    from mixmo.experiments import load_all

    for name, experiment in load_all().items():
        resolved = experiment.resolve(["smoke"], seeds=2, steps=400)
        assert resolved.sources[experiment.seeds_key] == "--set", name
        assert config_tree.get(resolved.config, experiment.steps_key) == 400, name


def test_unknown_key_on_the_command_line_is_one_line(capsys):
    assert main(["run", "aga-cleanup", "--set", "ppo.lrr=1", "--show-config"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean ppo.lr" in err


def test_listing_and_help_do_not_import_jax():
    code = ("import sys; from mixmo.app.cli import main; main(['list']); main(['envs']); "
            "assert 'jax' not in sys.modules, 'jax imported'; "
            "import mixmo.experiments.catalog, mixmo.config, mixmo.envs.catalog; assert 'jax' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "aga-selfish-mmm2" in done.stdout and 'mixmo[jaxmarl]' in done.stdout
    assert "selfish_mmm2" in done.stdout and "trust_your_brother" in done.stdout


@pytest.mark.parametrize("name,steps", [("aga-cleanup", 20_000_000), ("aga-harvest", 10_000_000)])
def test_paper_preset_resolves_to_appendix_e1(name, steps):
    """AgA App. E.1 (lr 1e-4, clip 0.2, entropy 0.001, gamma 0.99, grad clip 40, 2e7 / 1e7 steps) and the SSD
    script's 12 x 1000-step rollouts, 30 epochs, minibatches of 6000 agent-steps, GAE lambda 1."""
    from mixmo.experiments import get

    config, sources = get(name).resolve(["paper"])
    ppo = config.ppo
    assert (ppo.lr, ppo.clip, ppo.ent_coef, ppo.gamma, ppo.max_grad_norm) == (1e-4, 0.2, 0.001, 0.99, 40.0)
    assert (ppo.total_steps, ppo.num_envs, ppo.num_steps, ppo.update_epochs, ppo.gae_lambda) == (steps, 12, 1000, 30,
                                                                                                   1.0)
    assert ppo.batch_steps * config.num_agents // ppo.num_minibatches == 6000 and config.seeds == 3
    assert config.aga.lam == 100.0 and config.aga.extra_lams == (0.1, 1.0, 1000.0)
    assert (ppo.target_kl, ppo.value_clip, ppo.adam_eps, config.sharing) == (0.01, 0.0, 1e-5, True)
    assert config.fairness_alpha == 0.0  # the paper does not give alpha: the plain sum stays
    assert config.svo.form == "aga-e1"  # App. E.1's SVO reward
    assert sources["ppo.lr"] == "preset paper (AgA App. E.1)" and sources["ppo.critic_hidden"] == "default"
    assert sources["ppo.update_epochs"] == "preset paper (SSD run_scripts/sb3_train.py, inferred)"
