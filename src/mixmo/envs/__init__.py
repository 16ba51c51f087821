"""JAX multi-agent social-dilemma environments with the JaxMARL interface.

``make(name, **options)`` builds one; ``registered_envs()`` lists the names:
``cleanup``, ``harvest``, ``coins``, ``trust_your_brother``, ``mini_cleanup``,
``cleanup_10x10``, ``harvest_patch`` and ``coin_game`` (JaxMARL's, needs jaxmarl).
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

from mixmo.envs._base import MultiAgentEnv as MultiAgentEnv
from mixmo.envs._pettingzoo import to_pettingzoo as to_pettingzoo
from mixmo.envs._spaces import Box as Box
from mixmo.envs._spaces import Discrete as Discrete
from mixmo.envs.cleanup import CleanupEnv as CleanupEnv
from mixmo.envs.cleanup import CleanupParams as CleanupParams
from mixmo.envs.coins import CoinsEnv as CoinsEnv
from mixmo.envs.coins import CoinsParams as CoinsParams
from mixmo.envs.harvest import HarvestEnv as HarvestEnv
from mixmo.envs.harvest import HarvestParams as HarvestParams
from mixmo.envs.registry import make as make
from mixmo.envs.registry import registered_envs as registered_envs
from mixmo.envs.trust_your_brother import TrustYourBrotherEnv as TrustYourBrotherEnv
from mixmo.envs.trust_your_brother import TrustYourBrotherParams as TrustYourBrotherParams
