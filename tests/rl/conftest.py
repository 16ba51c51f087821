"""Shared settings for the RL tests: the root `conftest.py` makes ranks strict, compiles with XLA's optimisations
off and keeps one persistent compilation cache, so runs that compile the same program (a run, its interrupted
twin and the resumed twin) compile it once."""
