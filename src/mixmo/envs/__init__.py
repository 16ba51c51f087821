"""JAX multi-agent social-dilemma environments with the JaxMARL interface.

``make(name, **options)`` builds one; ``registered_envs()`` lists the names:
``cleanup``, ``harvest``, ``coins``, ``trust_your_brother``, ``mini_cleanup``,
``cleanup_10x10``, ``harvest_patch`` and ``coin_game`` (JaxMARL's, needs jaxmarl).
``frame_stack(env, k)`` stacks each agent's last ``k`` frames (supersuit's ``frame_stack_v1``);
``to_pettingzoo(env)`` adapts one to a PettingZoo ``ParallelEnv`` (needs pettingzoo);
``mixmo.envs.render`` draws states and writes GIFs.

Example:
    >>> import jax
    >>> from mixmo import envs
    >>> env = envs.make("harvest")
    >>> obs, state = env.reset(jax.random.key(0))
    >>> actions = {a: 4 for a in env.agents}  # everybody stays
    >>> obs, state, rewards, dones, infos = env.step(jax.random.key(1), state, actions)
    >>> sorted(rewards) == env.agents, bool(dones["__all__"])
    (True, False)
"""

import importlib

# Names are imported on first use (PEP 562), so `mixmo envs` and `mixmo.envs.catalog` do not pay for JAX.
_NAMES = {
    "MultiAgentEnv": "mixmo.envs._base", "to_pettingzoo": "mixmo.envs._pettingzoo", "Box": "mixmo.envs._spaces",
    "Discrete": "mixmo.envs._spaces", "CleanupEnv": "mixmo.envs.cleanup", "CleanupParams": "mixmo.envs.cleanup",
    "CoinsEnv": "mixmo.envs.coins", "CoinsParams": "mixmo.envs.coins", "HarvestEnv": "mixmo.envs.harvest",
    "HarvestParams": "mixmo.envs.harvest", "make": "mixmo.envs.registry", "registered_envs": "mixmo.envs.catalog",
    "TrustYourBrotherEnv": "mixmo.envs.trust_your_brother",
    "TrustYourBrotherParams": "mixmo.envs.trust_your_brother",
    "frame_stack": "mixmo.envs._frame_stack", "FrameStack": "mixmo.envs._frame_stack",
}
_SUBMODULES = ("render", "catalog")  # `mixmo.envs.render` reachable as an attribute too
__all__ = list(_NAMES)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"mixmo.envs.{name}")
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'mixmo.envs' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
